//! The library's runtime: configuration before the first open, and shutdown.

use std::time::Duration;

use super::boundary::guard;
use super::status::*;

/// Set the number of worker threads of the library's runtime (default 2, or 1 on a single
/// core; two carry thousands of channels). Only before the first `pwa_channel_open`:
/// `PWA_ERR_INVALID_ARGUMENT` afterwards, or for 0 or more than 256.
#[no_mangle]
pub extern "C" fn pwa_runtime_configure(worker_threads: u32) -> pwa_status {
    guard(|| {
        piwebasync_rust::configure_runtime(worker_threads as usize)?;
        Ok(PWA_OK)
    })
}

/// Close every channel, wait up to `timeout_ms` (negative: 10 s) for them to end and for their
/// `PWA_EVENT_CLOSED` callbacks to run, and stop the library's runtime (channels still running
/// then end with `PWA_ERR_SHUTDOWN`). Handles stay valid for draining (`pwa_channel_poll_next`
/// returns what was buffered, then the channel's terminal status) and should still be freed.
/// Later `pwa_channel_open` calls return `PWA_ERR_SHUTDOWN`; the library cannot be restarted
/// in this process. Call it from an ordinary thread, e.g. before unloading the library:
/// `PWA_ERR_RECURSIVE_CALL` from inside a callback. A process may also exit without it.
/// On Windows the DLL pins itself once a channel was opened or a log callback set (its threads
/// run from it): `FreeLibrary` then leaves it loaded, with or without `pwa_shutdown`, and a
/// later `LoadLibrary` gets the same library in the same state.
#[no_mangle]
pub extern "C" fn pwa_shutdown(timeout_ms: i32) -> pwa_status {
    guard(|| {
        piwebasync_rust::check_process()?;
        if piwebasync_rust::in_callback() {
            return Err(super::boundary::fail(
                PWA_ERR_RECURSIVE_CALL,
                "pwa_shutdown cannot be called from inside a callback",
            ));
        }
        let timeout = u64::try_from(timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(10));
        piwebasync_rust::shutdown(timeout)?;
        Ok(PWA_OK)
    })
}
