//! `pwa_message`: one message handed to C.

use std::ffi::{c_char, CString};
use std::sync::{Arc, OnceLock};

use super::boundary::{fail, guard, guard_value};
use super::status::*;
use super::strings::out_arg;
use super::values::CView;
use piwebasync_rust::model::Content;
use piwebasync_rust::Message;

/// Opaque message. Owned by the caller once returned by a poll: free it with
/// `pwa_message_free`. Strings obtained from it stay valid until then. A message may be read
/// from any thread, by one thread at a time.
pub struct pwa_message {
    /// The JSON text followed by a NUL.
    json: Vec<u8>,
    url: Arc<CString>,
    /// Parsed on the first typed access (or already parsed by the Rust side).
    content: OnceLock<Content>,
    /// The C strings of the typed access, made once on the first typed access.
    view: OnceLock<CView>,
    /// Recorded values of a backfill (`gap_fill`).
    backfilled: bool,
    /// The text is the library's rendering (a backfill, or values taken out at a seam).
    rewritten: bool,
}

impl pwa_message {
    pub(crate) fn new(msg: Message, url: Arc<CString>) -> pwa_message {
        let (backfilled, rewritten) = (msg.is_backfilled(), msg.is_rewritten());
        let (json, content) = msg.into_parts();
        let mut json = json.into_bytes();
        json.push(0);
        let content = content.map(OnceLock::from).unwrap_or_default();
        pwa_message {
            json,
            url,
            content,
            view: OnceLock::new(),
            backfilled,
            rewritten,
        }
    }

    /// Recorded values fetched by a backfill (`gap_fill`), not a live message.
    pub(crate) fn is_backfilled(&self) -> bool {
        self.backfilled
    }

    /// The JSON text was written by the library, not received as it is.
    pub(crate) fn is_rewritten(&self) -> bool {
        self.rewritten
    }

    /// The message text without the NUL.
    fn text(&self) -> &str {
        // Built from a `String` plus a NUL: always valid UTF-8.
        std::str::from_utf8(&self.json[..self.json.len() - 1]).unwrap_or_default()
    }

    /// The typed content, parsed on first use.
    pub(crate) fn content(&self) -> &Content {
        self.content.get_or_init(|| Content::parse(self.text()))
    }

    /// The C strings of the typed content, made on first use.
    pub(crate) fn view(&self) -> &CView {
        self.view.get_or_init(|| CView::new(self.content()))
    }
}

/// Make a message from JSON text, as if it had been received (its URL is ""): to test code
/// that reads messages without a server, or to read recorded messages with the typed
/// accessors. `json` need not be NUL-terminated: `len` is its length in bytes, or
/// `(size_t)-1` (SIZE_MAX) when it is NUL-terminated. Anything is accepted — text that is not
/// a channel message gives a message flagged unparsable (see `pwa_message_get_info`).
/// Free the message with `pwa_message_free`.
///
/// Returns `PWA_OK` with `*out` set; `PWA_ERR_INVALID_ARGUMENT` (json or out NULL, text not
/// valid UTF-8), with `*out` set to NULL.
///
/// # Safety
/// `json` must be NULL or point to `len` readable bytes (or a NUL-terminated string when `len`
/// is SIZE_MAX); `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_from_json(
    json: *const c_char,
    len: usize,
    out: *mut *mut pwa_message,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = std::ptr::null_mut();
        if json.is_null() {
            return Err(fail(PWA_ERR_INVALID_ARGUMENT, "json is NULL"));
        }
        let bytes = if len == usize::MAX {
            // SAFETY: `json` is not NULL and, with len SIZE_MAX, NUL-terminated (contract);
            // the borrow ends before the call returns.
            unsafe { std::ffi::CStr::from_ptr(json) }.to_bytes()
        } else {
            // SAFETY: `json` is not NULL and points to `len` readable bytes (contract); the
            // borrow ends before the call returns. A byte slice has alignment 1.
            unsafe { std::slice::from_raw_parts(json.cast::<u8>(), len) }
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            fail(
                PWA_ERR_INVALID_ARGUMENT,
                format!(
                    "json is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        let msg = Message::from_json(text);
        *out = Box::into_raw(Box::new(pwa_message::new(
            msg,
            Arc::new(CString::default()),
        )));
        Ok(PWA_OK)
    })
}

/// The message's JSON text exactly as the server sent it, NUL-terminated, UTF-8. `*len` (may be
/// NULL) receives its length in bytes without the NUL. Valid until `pwa_message_free`. Returns
/// NULL (and sets `pwa_last_error`) if `msg` is NULL.
///
/// # Safety
/// `msg` must be NULL or a live message; `len` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_json(
    msg: *const pwa_message,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: `msg` is NULL or a live message (contract).
        let msg =
            unsafe { msg.as_ref() }.ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "msg is NULL"))?;
        if !len.is_null() {
            // SAFETY: `len` is not NULL and valid for a write (contract).
            unsafe { *len = msg.json.len() - 1 };
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
        // SAFETY: `msg` is NULL or a live message (contract).
        let msg =
            unsafe { msg.as_ref() }.ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "msg is NULL"))?;
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
            // SAFETY: a non-NULL `msg` came from Box::into_raw in this library and was not
            // freed before (contract), so we own it and may drop it once.
            drop(unsafe { Box::from_raw(msg) });
        }
        Ok(())
    })
}
