//! Generational handles: a `u64` that names a slot and the slot's generation, so that a handle
//! that was freed, is stale, or was made up is recognised and refused instead of dereferenced.
//! Layout: high 32 bits generation (never 0), low 32 bits slot index + 1. 0 is never issued.

use std::sync::{Arc, Mutex};

use super::boundary::{fail, Failure};
use super::status::{PWA_ERR_INVALID_HANDLE, PWA_ERR_RECURSIVE_CALL};

pub(crate) struct HandleTable<T> {
    /// What a handle names, for messages: "channel", "subscription set".
    kind: &'static str,
    inner: Mutex<Slots<T>>,
}

struct Slots<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

impl<T> HandleTable<T> {
    pub const fn new(kind: &'static str) -> Self {
        HandleTable {
            kind,
            inner: Mutex::new(Slots {
                slots: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, value: Arc<T>) -> u64 {
        let mut s = self.lock();
        let index = match s.free.pop() {
            Some(i) => i,
            None => {
                s.slots.push(Slot {
                    generation: 1,
                    value: None,
                });
                (s.slots.len() - 1) as u32
            }
        };
        let slot = &mut s.slots[index as usize];
        slot.value = Some(value);
        ((slot.generation as u64) << 32) | (index as u64 + 1)
    }

    fn locate(handle: u64) -> Option<(usize, u32)> {
        let low = (handle & 0xffff_ffff) as u32;
        let generation = (handle >> 32) as u32;
        if low == 0 || generation == 0 {
            return None;
        }
        Some(((low - 1) as usize, generation))
    }

    pub fn get(&self, handle: u64) -> Option<Arc<T>> {
        let (index, generation) = Self::locate(handle)?;
        let s = self.lock();
        let slot = s.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.clone()
    }

    /// Take the value out; the handle (and every copy of it) is invalid from now on.
    pub fn remove(&self, handle: u64) -> Option<Arc<T>> {
        let (index, generation) = Self::locate(handle)?;
        let mut s = self.lock();
        let slot = s.slots.get_mut(index)?;
        if slot.generation != generation || slot.value.is_none() {
            return None;
        }
        let value = slot.value.take();
        slot.generation = slot.generation.checked_add(1).unwrap_or(1);
        s.free.push(index as u32);
        value
    }

    /// The value of a handle an export was given, or `PWA_ERR_INVALID_HANDLE` saying why not
    /// (also `PWA_ERR_SHUTDOWN` and the like when the process cannot make calls any more).
    pub fn lookup(&self, handle: u64) -> Result<Arc<T>, Failure> {
        piwebasync_rust::check_process()?;
        self.get(handle).ok_or_else(|| self.invalid(handle))
    }

    /// Take the value out for the blocking free export `free_fn`: refused from inside a
    /// callback (`PWA_ERR_RECURSIVE_CALL`, the handle stays valid), `PWA_ERR_INVALID_HANDLE`
    /// for a handle that is not open (also a second free).
    pub fn remove_for_free(&self, handle: u64, free_fn: &str) -> Result<Arc<T>, Failure> {
        piwebasync_rust::check_process()?;
        if piwebasync_rust::in_callback() {
            return Err(fail(
                PWA_ERR_RECURSIVE_CALL,
                format!("{free_fn} blocks and cannot be called from inside a callback"),
            ));
        }
        self.remove(handle).ok_or_else(|| self.invalid(handle))
    }

    fn invalid(&self, handle: u64) -> Failure {
        let kind = self.kind;
        if handle == 0 {
            fail(
                PWA_ERR_INVALID_HANDLE,
                format!("{kind} handle is 0 (no {kind})"),
            )
        } else {
            fail(
                PWA_ERR_INVALID_HANDLE,
                format!("{kind} handle {handle:#x} is not open: freed, stale or never issued"),
            )
        }
    }

    /// Every live value.
    #[cfg(test)]
    pub fn all(&self) -> Vec<Arc<T>> {
        self.lock()
            .slots
            .iter()
            .filter_map(|s| s.value.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_freed_and_made_up_handles_are_refused() {
        let t = HandleTable::new("thing");
        let a = t.insert(Arc::new("a"));
        assert_ne!(a, 0);
        assert_eq!(*t.get(a).unwrap(), "a");
        assert!(t.get(0).is_none());
        assert!(t.get(a + 1).is_none());
        assert!(t.get(a ^ (1 << 40)).is_none());
        assert_eq!(*t.remove(a).unwrap(), "a");
        assert!(t.get(a).is_none());
        assert!(t.remove(a).is_none(), "double free is refused");
        let b = t.insert(Arc::new("b"));
        assert_ne!(a, b, "a reused slot gets a new generation");
        assert!(t.get(a).is_none());
        assert_eq!(*t.get(b).unwrap(), "b");
        assert_eq!(t.all().len(), 1);
    }

    #[test]
    fn the_exports_lookups_name_the_handle_and_why_it_is_refused() {
        let t = HandleTable::new("thing");
        let a = t.insert(Arc::new("a"));
        assert_eq!(*t.lookup(a).ok().unwrap(), "a");
        let zero = t.lookup(0).err().unwrap();
        assert_eq!(zero.status, PWA_ERR_INVALID_HANDLE);
        assert_eq!(zero.message, "thing handle is 0 (no thing)");
        assert_eq!(*t.remove_for_free(a, "thing_free").ok().unwrap(), "a");
        let again = t.remove_for_free(a, "thing_free").err().unwrap();
        assert_eq!(again.status, PWA_ERR_INVALID_HANDLE, "a second free");
        assert_eq!(
            again.message,
            format!("thing handle {a:#x} is not open: freed, stale or never issued")
        );
        assert_eq!(t.lookup(a).err().unwrap().status, PWA_ERR_INVALID_HANDLE);
    }
}
