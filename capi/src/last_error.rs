//! The thread-local last error, and copying strings out to caller buffers.

use std::cell::RefCell;
use std::ffi::c_char;

use super::status::*;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Record the message of a failed call on this thread.
pub(crate) fn set(msg: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.clear();
        e.push_str(msg);
    });
}

/// Copy `text` into `buf` (capacity `cap` bytes), NUL-terminated, truncated at a UTF-8 boundary
/// if it does not fit. `*needed` (if not NULL) receives the size needed including the NUL.
/// `buf` may be NULL when `cap` is 0 (a size query).
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes; `needed` must be NULL or valid.
pub(crate) unsafe fn copy_out(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    let want = text.len() + 1;
    if !needed.is_null() {
        // SAFETY: `needed` is not NULL and, by this function's contract, valid for a write.
        unsafe { *needed = want };
    }
    if buf.is_null() {
        return if cap == 0 {
            PWA_ERR_BUFFER_TOO_SMALL
        } else {
            PWA_ERR_INVALID_ARGUMENT
        };
    }
    if cap == 0 {
        return PWA_ERR_BUFFER_TOO_SMALL;
    }
    let mut n = text.len().min(cap - 1);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: `buf` is not NULL and points to `cap` writable bytes (contract); n < cap, so the
    // n bytes and the NUL at offset n are inside it. `text` is a Rust string, which cannot
    // overlap a buffer the caller owns and passes for writing.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    if n < text.len() {
        PWA_ERR_BUFFER_TOO_SMALL
    } else {
        PWA_OK
    }
}

/// Copy the message of the last failed call made on this thread into `buf` (capacity `cap`
/// bytes), NUL-terminated (truncated at a UTF-8 character boundary if it does not fit).
/// `*needed` (may be NULL) receives the full size including the NUL. Pass `buf` NULL and `cap` 0
/// to query the size. Returns `PWA_OK`, or `PWA_ERR_BUFFER_TOO_SMALL` when truncated.
/// Use it for failures before a handle exists (`pwa_channel_open`, `pwa_config_set`); a
/// channel's own errors are in `pwa_channel_last_error`. Thread-safe. Like `errno`, a
/// successful call leaves it as it was: read it when a call has just returned a failure.
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes; `needed` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_last_error(
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    // Not through `guard`: a failure here must not overwrite the message being read.
    std::panic::catch_unwind(|| {
        // SAFETY: `buf`, `cap` and `needed` come from our caller under the same contract as
        // copy_out's (this function's "# Safety").
        LAST_ERROR.with(|e| unsafe { copy_out(&e.borrow(), buf, cap, needed) })
    })
    .unwrap_or(PWA_ERR_PANIC)
}
