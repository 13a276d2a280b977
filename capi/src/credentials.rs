//! Replacing the credentials of a live channel.

use std::ffi::c_char;

use super::boundary::guard;
use super::channel::{lookup, pwa_channel_t};
use super::status::*;
use super::strings::str_arg;

/// Replace the bearer token of channel `h` (opened with `auth=bearer`), e.g. before it
/// expires. The connection that is up keeps streaming; the next one — a reconnect or an
/// update — sends the new token. The channel keeps its own copy: the string may be freed or
/// wiped right after the call; the old token is wiped from memory.
///
/// Returns `PWA_OK`; `PWA_ERR_INVALID_ARGUMENT` (NULL, not UTF-8, empty, control characters,
/// or the channel does not use `auth=bearer`); `PWA_ERR_INVALID_HANDLE`. The token never
/// appears in a message. Thread-safe, non-blocking, callable from a callback.
///
/// # Safety
/// `token` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_set_bearer_token(
    h: pwa_channel_t,
    token: *const c_char,
) -> pwa_status {
    guard(|| {
        // SAFETY: `token` is NULL or NUL-terminated (this function's contract) and outlives the
        // call, during which the borrow is used.
        let token = unsafe { str_arg(token, "token") }?;
        lookup(h)?.channel.set_bearer_token(token)?;
        Ok(PWA_OK)
    })
}

/// Replace the Basic password of channel `h` (opened with `auth=basic`), e.g. after a
/// password rotation. The connection that is up keeps streaming; the next one — a reconnect
/// or an update — sends the new password. The channel keeps its own copy; the old password is
/// wiped from memory.
///
/// Returns `PWA_OK`; `PWA_ERR_INVALID_ARGUMENT` (NULL, not UTF-8, control characters, or the
/// channel does not use `auth=basic`); `PWA_ERR_INVALID_HANDLE`. The password never appears
/// in a message. Thread-safe, non-blocking, callable from a callback.
///
/// # Safety
/// `password` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_set_password(
    h: pwa_channel_t,
    password: *const c_char,
) -> pwa_status {
    guard(|| {
        // SAFETY: `password` is NULL or NUL-terminated (this function's contract) and outlives
        // the call, during which the borrow is used.
        let password = unsafe { str_arg(password, "password") }?;
        lookup(h)?.channel.set_password(password)?;
        Ok(PWA_OK)
    })
}
