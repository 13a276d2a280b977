//! Poll into the caller's buffer: for callers (LabVIEW) that handle buffers better than
//! message objects.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{fail, guard};
use super::channel::{lookup, poll_outcome, pwa_channel_t};
use super::last_error::copy_out;
use super::status::*;

/// Take the next message and copy its JSON text, NUL-terminated, into `buf` (capacity `cap`
/// bytes). `*needed` (may be NULL) receives the size of the next message's text including the
/// NUL (0 when there was no message).
///
/// When the buffer is too small — or to ask for the size, with `buf` NULL and `cap` 0 —
/// returns `PWA_ERR_BUFFER_TOO_SMALL` with `*needed` set and leaves the message first in the
/// queue: call again with a buffer of `*needed` bytes to take it. Nothing is lost.
///
/// `timeout_ms`: 0 returns at once, a negative value waits without limit. Otherwise the same
/// statuses as `pwa_channel_poll_next`: `PWA_OK`; `PWA_TIMEOUT`; the channel's terminal status
/// once it ended and its buffer is drained (`PWA_CLOSED`, `PWA_CLOSED_ERROR`,
/// `PWA_WATCHDOG_TIMEOUT`, `PWA_UPDATE_FAILED`, or the failure that ended it);
/// `PWA_ERR_INVALID_HANDLE`; `PWA_ERR_BUSY`; `PWA_ERR_RECURSIVE_CALL`;
/// `PWA_ERR_INVALID_ARGUMENT` (`buf` NULL with `cap` > 0, or the channel delivers messages
/// to `on_message`). The URL of the message is not available this way; use
/// `pwa_channel_poll_next` for it.
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes; `needed` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_poll_json(
    h: pwa_channel_t,
    timeout_ms: i32,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    guard(|| {
        if !needed.is_null() {
            // SAFETY: `needed` is not NULL and valid for a write (contract).
            unsafe { *needed = 0 };
        }
        if buf.is_null() && cap != 0 {
            return Err(fail(
                PWA_ERR_INVALID_ARGUMENT,
                format!("buf is NULL but cap is {cap}"),
            ));
        }
        let entry = lookup(h)?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let mut want = 0usize;
        let taken = entry.channel.poll_next_if(timeout, |m| {
            want = m.json().len() + 1;
            want <= cap
        });
        match taken {
            // SAFETY: `buf`, `cap` and `needed` are passed on under copy_out's contract, which
            // is this function's.
            Ok(Some(m)) => Ok(unsafe { copy_out(m.json(), buf, cap, needed) }),
            Ok(None) => {
                if !needed.is_null() {
                    // SAFETY: `needed` is not NULL and valid for a write (contract).
                    unsafe { *needed = want };
                }
                Err(fail(
                    PWA_ERR_BUFFER_TOO_SMALL,
                    format!("the next message needs {want} bytes, the buffer has {cap}: it stays queued, call again with a larger buffer"),
                ))
            }
            Err(e) => poll_outcome(e),
        }
    })
}
