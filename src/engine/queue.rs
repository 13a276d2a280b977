//! The bounded per-channel queue between the engine (one producer, async) and the consumer
//! (a caller's thread, blocking). When it is full the engine stops reading the socket, so memory
//! stays flat and nothing is dropped. After the channel ended, the queue still hands out what it
//! holds, then the terminal outcome, on every later call.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::{Error, ErrorKind};
use crate::message::Message;

pub struct Queue {
    inner: Mutex<Inner>,
    readable: Condvar,
    space: Notify,
    capacity: usize,
    polling: AtomicBool,
}

struct Inner {
    items: VecDeque<Message>,
    end: Option<Error>,
}

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            inner: Mutex::new(Inner { items: VecDeque::new(), end: None }),
            readable: Condvar::new(),
            space: Notify::new(),
            capacity: capacity.max(1),
            polling: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn has_space(&self) -> bool {
        self.lock().items.len() < self.capacity
    }

    /// Resolves once the consumer took something out of a full queue (may wake spuriously:
    /// callers check `has_space` again).
    pub async fn space_freed(&self) {
        self.space.notified().await
    }

    /// Engine side: append a message. The engine only reads a frame when `has_space` was true,
    /// and it is the only producer, so the bound holds.
    pub fn push(&self, msg: Message) {
        let mut inner = self.lock();
        inner.items.push_back(msg);
        drop(inner);
        self.readable.notify_one();
    }

    /// Engine side: record how the channel ended. The first outcome wins.
    pub fn finish(&self, end: Error) {
        let mut inner = self.lock();
        if inner.end.is_none() {
            inner.end = Some(end);
        }
        drop(inner);
        self.readable.notify_all();
    }

    pub fn end(&self) -> Option<Error> {
        self.lock().end.clone()
    }

    /// Wait until the channel has ended (not necessarily drained). False on timeout.
    pub fn wait_end(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.end.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self.readable.wait_timeout(inner, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// Consumer side: the next message, else the terminal outcome once the channel ended, else
    /// wait up to `timeout` (`None` = forever) and report `Timeout`. One consumer at a time: a
    /// second concurrent caller gets `Busy`.
    pub fn pop(&self, timeout: Option<Duration>) -> Result<Message, Error> {
        if self.polling.swap(true, Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Busy, "another thread is already polling this channel"));
        }
        let _release = PollGuard(&self.polling);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut inner = self.lock();
        loop {
            if let Some(msg) = inner.items.pop_front() {
                let was_full = inner.items.len() + 1 >= self.capacity;
                drop(inner);
                if was_full {
                    self.space.notify_one();
                }
                return Ok(msg);
            }
            if let Some(end) = &inner.end {
                return Err(end.clone());
            }
            inner = match deadline {
                None => self.readable.wait(inner).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::new(ErrorKind::Timeout, "no message within the timeout"));
                    }
                    self.readable.wait_timeout(inner, deadline - now).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }
}

struct PollGuard<'a>(&'a AtomicBool);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn msg(i: usize) -> Message {
        Message::new(&format!("{{\"i\":{i}}}"), Arc::from("ws://x"))
    }

    #[test]
    fn drains_in_order_then_reports_the_end_every_time() {
        let q = Queue::new(4);
        q.push(msg(1));
        q.push(msg(2));
        q.finish(Error::new(ErrorKind::Closed, "closed"));
        q.finish(Error::new(ErrorKind::ClosedError, "ignored: first outcome wins"));
        assert_eq!(q.pop(Some(Duration::ZERO)).unwrap().json(), "{\"i\":1}");
        assert_eq!(q.pop(Some(Duration::ZERO)).unwrap().json(), "{\"i\":2}");
        for _ in 0..3 {
            assert_eq!(q.pop(Some(Duration::ZERO)).unwrap_err().kind(), ErrorKind::Closed);
        }
    }

    #[test]
    fn times_out_when_empty_and_reports_space() {
        let q = Queue::new(1);
        assert_eq!(q.pop(Some(Duration::from_millis(10))).unwrap_err().kind(), ErrorKind::Timeout);
        assert!(q.has_space());
        q.push(msg(1));
        assert!(!q.has_space());
        q.pop(None).unwrap();
        assert!(q.has_space());
    }

    #[test]
    fn a_second_concurrent_poller_is_busy() {
        let q = Arc::new(Queue::new(1));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop(Some(Duration::from_secs(30))));
        // Wait until the first poller is inside pop.
        while !q.polling.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        assert_eq!(q.pop(Some(Duration::ZERO)).unwrap_err().kind(), ErrorKind::Busy);
        q.push(msg(7));
        assert_eq!(t.join().unwrap().unwrap().json(), "{\"i\":7}");
    }
}
