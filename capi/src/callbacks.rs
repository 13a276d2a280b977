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
/// is dropped). With `callback_thread=shared` in its configuration the channel's callbacks run
/// instead on one process-wide thread shared by every channel opened so, the channels taking
/// turns: the same order and `PWA_EVENT_CLOSED` rules hold, but a slow or blocking callback
/// delays every channel on that thread. From inside a callback, `pwa_channel_close` and all
/// non-blocking calls work; blocking calls (`pwa_channel_free`, `pwa_channel_poll_next` with a
/// timeout other than 0, `pwa_channel_update`, `pwa_channel_open`, `pwa_shutdown`) return
/// `PWA_ERR_RECURSIVE_CALL`.
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
/// `gap_fill`: a backfill of the values the channel missed starts; `url` is its first request,
/// `count` the streams known to need it (0: not known before the answer). Live data waits.
pub const PWA_EVENT_BACKFILL_STARTED: pwa_event_kind = 8;
/// The backfill ended: `count` values delivered (messages flagged `is_backfilled`), then live
/// data resumes. When `gap_fill_max_span` or `gap_fill_max_values` cut it, `missing` lists
/// what was not fetched and `message` says which bound and what.
pub const PWA_EVENT_BACKFILL_DONE: pwa_event_kind = 9;
/// The backfill failed (`status`, `message`: why, and what was not recovered); live data
/// resumes regardless. `count` values were delivered before; `missing` lists exactly which
/// streams and time ranges were not recovered.
pub const PWA_EVENT_BACKFILL_FAILED: pwa_event_kind = 10;

/// A time range of one stream that a backfill did not deliver (`pwa_state_event.missing`).
#[repr(C)]
pub struct pwa_missing_range {
    /// The stream's WebId; "" for every stream of the endpoint (a stream set of an element
    /// whose attributes were not known).
    pub web_id: *const c_char,
    /// From this time, nanoseconds since the Unix epoch: exclusive when `from_exclusive` is 1
    /// (values at exactly this time were delivered), else inclusive.
    pub from_unix_ns: i64,
    /// Up to this time, inclusive (when live data resumed).
    pub to_unix_ns: i64,
    pub from_exclusive: i32,
}

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
    /// DISCONNECTED, ROLLED_BACK, CLOSED, BACKFILL_FAILED: why; BACKFILL_DONE: what a bound
    /// cut ("" when nothing).
    pub message: *const c_char,
    /// BACKFILL_STARTED: the streams; BACKFILL_DONE, BACKFILL_FAILED: the values delivered.
    pub count: u64,
    /// BACKFILL_DONE, BACKFILL_FAILED: `missing_count` ranges not recovered (NULL when none).
    pub missing: *const pwa_missing_range,
    pub missing_count: usize,
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
    let mut count = 0u64;
    let mut ranges: &[piwebasync_rust::MissingRange] = &[];
    let detail;
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
        StateEvent::BackfillStarted { url, streams } => {
            count = *streams as u64;
            (PWA_EVENT_BACKFILL_STARTED, PWA_OK, 0, 0, url.as_str(), "")
        }
        StateEvent::BackfillDone {
            values,
            missing,
            cause,
            ..
        } => {
            count = *values;
            ranges = missing;
            detail = match cause {
                Some(c) => format!(
                    "{c}; not recovered: {}",
                    piwebasync_rust::describe_missing(missing)
                ),
                None => String::new(),
            };
            (PWA_EVENT_BACKFILL_DONE, PWA_OK, 0, 0, "", detail.as_str())
        }
        StateEvent::BackfillFailed {
            cause,
            values,
            missing,
        } => {
            count = *values;
            ranges = missing;
            detail = format!(
                "{}; not recovered: {}",
                cause.message(),
                piwebasync_rust::describe_missing(missing)
            );
            (
                PWA_EVENT_BACKFILL_FAILED,
                status_of(cause.kind()),
                0,
                0,
                "",
                detail.as_str(),
            )
        }
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
    let web_ids: Vec<CString> = ranges.iter().map(|r| c_string(&r.web_id)).collect();
    let missing: Vec<pwa_missing_range> = ranges
        .iter()
        .zip(&web_ids)
        .map(|(r, w)| pwa_missing_range {
            web_id: w.as_ptr(),
            from_unix_ns: r.from_ns,
            to_unix_ns: r.to_ns,
            from_exclusive: r.from_exclusive as i32,
        })
        .collect();
    f(&pwa_state_event {
        kind,
        status,
        attempt,
        delay_ms,
        url: url.as_ptr(),
        message: message.as_ptr(),
        count,
        missing: if missing.is_empty() {
            std::ptr::null()
        } else {
            missing.as_ptr()
        },
        missing_count: missing.len(),
    });
}

pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}
