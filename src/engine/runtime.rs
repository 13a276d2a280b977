//! The one tokio runtime of the library: started on first use, stopped by `shutdown`.
//!
//! Nothing is torn down by a destructor: a process may exit with channels open. A forked child
//! inherits a copy of the runtime without its threads; it must not touch it, so every entry point
//! checks the process id first, before taking any lock that a parent thread may have held.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, ErrorKind};

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);
/// Set in a child forked after the runtime started (by a `pthread_atfork` handler: a plain
/// atomic store, safe there). Checked on every call: an atomic load, not a `getpid` syscall.
static FORKED: AtomicBool = AtomicBool::new(false);
/// Windows has no fork: nothing to register there.
#[cfg(unix)]
static ATFORK: std::sync::Once = std::sync::Once::new();

#[cfg(unix)]
extern "C" fn mark_forked_child() {
    FORKED.store(true, Ordering::Release);
}
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);
/// Worker threads asked for by `configure`; 0 = the default.
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// Fails at once in a forked child of a process that had started the runtime.
pub fn check_not_forked() -> Result<(), Error> {
    if FORKED.load(Ordering::Acquire) {
        return Err(Error::new(
            ErrorKind::Shutdown,
            "piwebasync cannot be used in a forked child of the process that started it; \
             open channels in the child after fork, or exec",
        ));
    }
    Ok(())
}

/// The runtime's handle, starting it if needed.
pub fn handle() -> Result<Handle, Error> {
    check_not_forked()?;
    if SHUT_DOWN.load(Ordering::Acquire) {
        return Err(shut_down_error());
    }
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if SHUT_DOWN.load(Ordering::Acquire) {
        return Err(shut_down_error());
    }
    if let Some(rt) = slot.as_ref() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("piwebasync-worker")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("could not start the runtime: {e}"),
            )
        })?;
    let handle = rt.handle().clone();
    *slot = Some(rt);
    #[cfg(unix)]
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(mark_forked_child)) };
    });
    Ok(handle)
}

/// Two workers carry thousands of channels; more only add idle threads to the host process.
fn worker_threads() -> usize {
    match WORKERS.load(Ordering::Acquire) {
        0 => std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(2),
        n => n,
    }
}

/// Choose the number of worker threads; only before the runtime started.
pub fn configure(workers: usize) -> Result<(), Error> {
    check_not_forked()?;
    if workers == 0 || workers > 256 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "worker_threads must be between 1 and 256",
        ));
    }
    let slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_some() || SHUT_DOWN.load(Ordering::Acquire) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the runtime already started: configure it before the first open",
        ));
    }
    WORKERS.store(workers, Ordering::Release);
    Ok(())
}

/// Stop the runtime, waiting at most `timeout` for its tasks. Later calls to `handle` fail.
/// Must not be called from inside the runtime.
pub fn shutdown(timeout: Duration) {
    SHUT_DOWN.store(true, Ordering::Release);
    let rt = RUNTIME.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(rt) = rt {
        rt.shutdown_timeout(timeout);
    }
}

pub fn is_shut_down() -> bool {
    SHUT_DOWN.load(Ordering::Acquire)
}

fn shut_down_error() -> Error {
    Error::new(ErrorKind::Shutdown, "piwebasync was shut down")
}
