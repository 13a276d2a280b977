//! Strings and pointers coming in from C.

use std::ffi::{c_char, CStr};

use super::boundary::{fail, Failure};
use super::status::PWA_ERR_INVALID_ARGUMENT;

/// A borrowed UTF-8 string argument; NULL and invalid UTF-8 are clear errors naming `what`.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that outlives the returned borrow.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(fail(PWA_ERR_INVALID_ARGUMENT, format!("{what} is NULL")));
    }
    // SAFETY: `p` is not NULL, and the caller guarantees a NUL-terminated string that outlives
    // the borrow (this function's contract).
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|e| {
        fail(
            PWA_ERR_INVALID_ARGUMENT,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// A required output pointer.
pub(crate) fn out_arg<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller passes NULL or a valid, writable, aligned pointer (header contract).
    unsafe { p.as_mut() }.ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, format!("{what} is NULL")))
}
