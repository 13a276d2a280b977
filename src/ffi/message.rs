//! `pwa_message`: one message handed to C.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::boundary::{fail, guard_value};
use super::status::PWA_ERR_INVALID_ARGUMENT;
use crate::Message;

/// Opaque message. Owned by the caller once returned by a poll: free it with
/// `pwa_message_free`. Strings obtained from it stay valid until then. A message may be read
/// from any thread, by one thread at a time.
pub struct pwa_message {
    /// The JSON text followed by a NUL.
    json: Vec<u8>,
    url: Arc<CString>,
}

impl pwa_message {
    pub(crate) fn new(msg: Message, url: Arc<CString>) -> pwa_message {
        let mut json = msg.into_json().into_bytes();
        json.push(0);
        pwa_message { json, url }
    }
}

/// The message's JSON text exactly as the server sent it, NUL-terminated, UTF-8. `*len` (may be
/// NULL) receives its length in bytes without the NUL. Valid until `pwa_message_free`. Returns
/// NULL (and sets `pwa_last_error`) if `msg` is NULL.
///
/// # Safety
/// `msg` must be NULL or a live message; `len` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_json(msg: *const pwa_message, len: *mut usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let msg = msg.as_ref().ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "msg is NULL"))?;
        if !len.is_null() {
            *len = msg.json.len() - 1;
        }
        Ok(msg.json.as_ptr().cast())
    })
}

/// The channel URL this message arrived on (a password in it is shown as `***`),
/// NUL-terminated. After `pwa_channel_update`, tells which endpoint sent the message. Valid
/// until `pwa_message_free`. NULL if `msg` is NULL.
///
/// # Safety
/// `msg` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_url(msg: *const pwa_message) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let msg = msg.as_ref().ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "msg is NULL"))?;
        Ok(msg.url.as_ptr())
    })
}

/// Free a message. NULL is ignored.
///
/// # Safety
/// `msg` must be NULL or a message from this library not freed before.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_free(msg: *mut pwa_message) {
    guard_value((), || {
        if !msg.is_null() {
            drop(Box::from_raw(msg));
        }
        Ok(())
    })
}
