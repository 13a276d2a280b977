//! Message and state callbacks from C: the function pointers, the event struct handed to
//! them, and the glue that turns them into the Rust API's `Callbacks`.

use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::channel::pwa_channel_t;
use super::message::pwa_message;
use super::status::{pwa_status, status_of, PWA_OK};
use super::url_cache::UrlCache;
use piwebasync_rust::{Callbacks, StateEvent};

/// Called with each message, on the channel's callback thread, in order. The message is
/// borrowed: valid only until the callback returns (copy what you keep); do not free it.
pub type pwa_message_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        channel: pwa_channel_t,
        message: *const pwa_message,
    ),
>;

/// Called with each state event, on the channel's callback thread. With `on_message` set,
/// events and messages come in the order they happened; when messages are polled instead,
/// events are delivered as they happen, not synchronised with the polls (a `CONNECTED` event
/// may run after the first messages were polled). `CLOSED` comes exactly once and last. The
/// event and its strings are valid only until the callback returns.
pub type pwa_state_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        channel: pwa_channel_t,
        event: *const pwa_state_event,
    ),
>;

/// Callbacks of a channel, given to `pwa_channel_open`. The struct is copied (it may be freed
/// after the call); the functions and `user_data` it names must stay valid until
/// `pwa_channel_free` returns.
/// `on_message` NULL: messages are polled with `pwa_channel_poll_next`. `on_state` NULL: no
/// state events. `user_data` is passed to both, unchanged, from the callback thread.
///
/// Rules: each channel has one callback thread of its own (never a network thread, never
/// under a library lock), so callbacks of one channel run one at a time, in order, and a slow
/// callback delays only its own channel (its queue fills, then its socket is not read: nothing
/// is dropped). From inside a callback, `pwa_channel_close` and all non-blocking calls work;
/// blocking calls (`pwa_channel_free`, `pwa_channel_poll_next` with a timeout other than 0,
/// `pwa_channel_update`, `pwa_channel_open`, `pwa_shutdown`) return `PWA_ERR_RECURSIVE_CALL`.
/// `PWA_EVENT_CLOSED` is delivered exactly once and is the last callback of a channel; after
/// `pwa_channel_free` returns, no callback of that channel runs.
#[repr(C)]
pub struct pwa_callbacks {
    pub on_message: pwa_message_cb,
    pub on_state: pwa_state_cb,
    pub user_data: *mut c_void,
}

/// Kind of a state event (`pwa_state_event.kind`).
pub type pwa_event_kind = i32;
/// The first connection is up. `url` is set.
pub const PWA_EVENT_CONNECTED: pwa_event_kind = 1;
/// The connection ended; `status` and `message` say why. RECONNECTING or CLOSED follows.
pub const PWA_EVENT_DISCONNECTED: pwa_event_kind = 2;
/// Reconnect attempt `attempt` starts after `delay_ms` (attempt 1 at once, or after a random
/// delay of at most `reconnect_spread`).
pub const PWA_EVENT_RECONNECTING: pwa_event_kind = 3;
/// A connection is up again. `url` is set.
pub const PWA_EVENT_RECONNECTED: pwa_event_kind = 4;
/// An update switched the channel to `url`.
pub const PWA_EVENT_UPDATED: pwa_event_kind = 5;
/// An update failed, the channel goes on at its previous endpoint; `message` says why.
pub const PWA_EVENT_ROLLED_BACK: pwa_event_kind = 6;
/// The channel ended with terminal status `status` (`message` says why). Always the last
/// callback of the channel, exactly once.
pub const PWA_EVENT_CLOSED: pwa_event_kind = 7;

/// A state event. Strings are NUL-terminated, never NULL (empty when not applicable), valid
/// only during the callback.
#[repr(C)]
pub struct pwa_state_event {
    pub kind: pwa_event_kind,
    /// DISCONNECTED, ROLLED_BACK: the status of the cause; CLOSED: the terminal status;
    /// otherwise PWA_OK.
    pub status: pwa_status,
    /// RECONNECTING: the attempt number, from 1.
    pub attempt: u32,
    /// RECONNECTING: the delay before the attempt, in milliseconds.
    pub delay_ms: u64,
    /// CONNECTED, RECONNECTED, UPDATED: the endpoint.
    pub url: *const c_char,
    /// DISCONNECTED, ROLLED_BACK, CLOSED: why.
    pub message: *const c_char,
}

/// The caller's opaque pointer, used from a thread of the library (a callback or the log
/// thread: the header says so for each).
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);
// SAFETY: the header documents that user_data is passed to the library's threads unchanged.
unsafe impl Send for UserData {}

/// Opens once the handle of the channel is known, so no callback runs before the caller could
/// recognise the handle it is given.
#[derive(Default)]
pub(crate) struct HandleGate {
    handle: Mutex<Option<pwa_channel_t>>,
    set: Condvar,
}

impl HandleGate {
    pub fn open(&self, h: pwa_channel_t) {
        *self.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
        self.set.notify_all();
    }

    fn wait(&self) -> pwa_channel_t {
        let mut h = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        while h.is_none() {
            h = self
                .set
                .wait_timeout(h, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        h.unwrap_or_default()
    }
}

/// The Rust API's callbacks for the C ones.
pub(crate) fn from_c(c: &pwa_callbacks, gate: Arc<HandleGate>) -> Callbacks {
    let user = UserData(c.user_data);
    let mut out = Callbacks::default();
    if let Some(on_message) = c.on_message {
        let gate = gate.clone();
        let urls = UrlCache::default();
        out.on_message = Some(Box::new(move |m: piwebasync_rust::Message| {
            let h = gate.wait();
            let url = urls.get(m.url_arc());
            let msg = pwa_message::new(m, url);
            let user = user;
            // SAFETY: a function pointer the caller gave us, called as documented.
            unsafe { on_message(user.0, h, &msg) };
        }));
    }
    if let Some(on_state) = c.on_state {
        out.on_state = Some(Box::new(move |e: &StateEvent| {
            let h = gate.wait();
            let user = user;
            with_c_event(e, |event| {
                // SAFETY: a function pointer the caller gave us, called as documented.
                unsafe { on_state(user.0, h, event) };
            });
        }));
    }
    out
}

/// Run `f` with the C form of `e` (its strings live until `f` returns).
pub(crate) fn with_c_event(e: &StateEvent, f: impl FnOnce(&pwa_state_event)) {
    let (kind, status, attempt, delay_ms, url, message) = match e {
        StateEvent::Connected { url } => (PWA_EVENT_CONNECTED, PWA_OK, 0, 0, url.as_str(), ""),
        StateEvent::Disconnected { cause } => (
            PWA_EVENT_DISCONNECTED,
            status_of(cause.kind()),
            0,
            0,
            "",
            cause.message(),
        ),
        StateEvent::Reconnecting { attempt, delay } => (
            PWA_EVENT_RECONNECTING,
            PWA_OK,
            *attempt,
            delay.as_millis() as u64,
            "",
            "",
        ),
        StateEvent::Reconnected { url } => (PWA_EVENT_RECONNECTED, PWA_OK, 0, 0, url.as_str(), ""),
        StateEvent::Updated { url } => (PWA_EVENT_UPDATED, PWA_OK, 0, 0, url.as_str(), ""),
        StateEvent::RolledBack { cause } => (
            PWA_EVENT_ROLLED_BACK,
            status_of(cause.kind()),
            0,
            0,
            "",
            cause.message(),
        ),
        StateEvent::Closed { outcome } => (
            PWA_EVENT_CLOSED,
            status_of(outcome.kind()),
            0,
            0,
            "",
            outcome.message(),
        ),
    };
    let url = c_string(url);
    let message = c_string(message);
    f(&pwa_state_event {
        kind,
        status,
        attempt,
        delay_ms,
        url: url.as_ptr(),
        message: message.as_ptr(),
    });
}

pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}
