//! Channel handles and the calls on them.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::boundary::{guard, Failure};
use super::callbacks::{self, pwa_callbacks, HandleGate};
use super::config::pwa_config;
use super::handles::HandleTable;
use super::last_error::copy_out;
use super::message::pwa_message;
use super::status::*;
use super::strings::{out_arg, str_arg};
use super::url_cache::UrlCache;
use piwebasync_rust::{Callbacks, Channel, ChannelConfig, ChannelState};

/// A channel handle: a generational id, never a pointer. 0 is never a valid handle. A handle
/// that was freed, or never issued, is refused with `PWA_ERR_INVALID_HANDLE`.
pub type pwa_channel_t = u64;

/// What a channel is doing (see `pwa_channel_state`).
pub type pwa_state = i32;
/// The first connection is being made.
pub const PWA_STATE_CONNECTING: pwa_state = 0;
/// A connection is up and messages flow.
pub const PWA_STATE_OPEN: pwa_state = 1;
/// The connection dropped and a new one is being made (reconnect on).
pub const PWA_STATE_RECONNECTING: pwa_state = 2;
/// A close was asked for; the close handshake runs.
pub const PWA_STATE_CLOSING: pwa_state = 3;
/// The channel ended; buffered messages can still be polled.
pub const PWA_STATE_CLOSED: pwa_state = 4;

/// Counters of a channel (see `pwa_channel_stats`).
#[repr(C)]
pub struct pwa_stats {
    /// Messages received, heartbeats included.
    pub messages: u64,
    /// Bytes of message text received.
    pub bytes: u64,
    /// Successful reconnects.
    pub reconnects: u64,
    /// Successful updates.
    pub updates: u64,
    /// Messages waiting in the queue now.
    pub queue_depth: u64,
    /// Arrival time of the last message, nanoseconds since the Unix epoch; 0 = none yet.
    pub last_message_unix_ns: i64,
    /// Bytes of message text waiting in the queue now (at most `max_queue_bytes` plus one
    /// message).
    pub queue_bytes: u64,
    /// Messages the server sent but that were discarded because it did not answer our close
    /// frame within `close_timeout` while the queue was full (the channel's last error says
    /// so). 0 unless a close or an update's switch met such a server.
    pub messages_dropped: u64,
}

pub(crate) struct ChannelEntry {
    pub(crate) channel: Channel,
    urls: UrlCache,
}

pub(crate) static CHANNELS: HandleTable<ChannelEntry> = HandleTable::new("channel");

/// A poll that returned no message: a timeout and a channel's terminal outcome are answers
/// (their status, the call succeeded), anything else is a failure of the call.
pub(crate) fn poll_outcome(e: piwebasync_rust::Error) -> Result<pwa_status, Failure> {
    if e.kind() == piwebasync_rust::ErrorKind::Timeout || e.kind().is_terminal() {
        Ok(status_of(e.kind()))
    } else {
        Err(e.into())
    }
}

pub(crate) fn lookup(h: pwa_channel_t) -> Result<Arc<ChannelEntry>, Failure> {
    CHANNELS.lookup(h)
}

/// Open a channel to `url` and block until its first connection is up, or `open_timeout`
/// passed, or it failed. `url` is a channel URL (`ws://`, `wss://`, or `http(s)://` meaning the
/// same), e.g. `wss://host/piwebapi/streams/{webId}/channel?includeInitialValues=true`.
/// `cfg` may be NULL for the defaults; it is copied, so it may be freed right after.
/// `callbacks` may be NULL (poll mode, no state events); see `pwa_callbacks` for the rules.
/// On success `*out` receives the handle; on failure `*out` is set to 0 and no callback runs.
///
/// Returns `PWA_OK`; `PWA_ERR_INVALID_ARGUMENT` (NULL or non-UTF-8 url, malformed URL);
/// `PWA_ERR_CONNECT` (refused, unreachable, name not resolved); `PWA_ERR_AUTH` (HTTP 401);
/// `PWA_ERR_HTTP_STATUS` (any other non-101 answer; the code is in the message);
/// `PWA_ERR_OPEN_TIMEOUT`; `PWA_ERR_PROTOCOL`; `PWA_ERR_TLS`; `PWA_ERR_SHUTDOWN`. The message
/// (`pwa_last_error`, on this thread) names the URL and never contains credentials.
///
/// Thread-safe; blocks the calling thread; `PWA_ERR_RECURSIVE_CALL` from inside a callback.
///
/// # Safety
/// Pointers must be NULL or valid; `url` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_open(
    url: *const c_char,
    cfg: *const pwa_config,
    callbacks: *const pwa_callbacks,
    out: *mut pwa_channel_t,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = 0;
        // SAFETY: `url` is NULL or NUL-terminated (this function's contract) and outlives the
        // call, during which the borrow is used.
        let url = unsafe { str_arg(url, "url") }?;
        super::module_pin::pin_module(); // Windows: the runtime's threads run from this DLL
        let gate = Arc::new(HandleGate::default());
        // SAFETY: `callbacks` is NULL or points to a valid pwa_callbacks (contract); it is
        // copied by from_c before this call returns.
        let callbacks = match unsafe { callbacks.as_ref() } {
            Some(c) => callbacks::from_c(c, gate.clone()),
            None => Callbacks::default(),
        };
        let default_cfg;
        // SAFETY: `cfg` is NULL or a live configuration (contract), borrowed only during the
        // call: the channel copies what it needs.
        let config = match unsafe { cfg.as_ref() } {
            Some(c) => &c.inner,
            None => {
                default_cfg = ChannelConfig::default();
                &default_cfg
            }
        };
        let channel = Channel::open_with_callbacks(url, config, callbacks)?;
        let h = CHANNELS.insert(Arc::new(ChannelEntry {
            channel,
            urls: UrlCache::default(),
        }));
        gate.open(h);
        *out = h;
        Ok(PWA_OK)
    })
}

/// Take the next message. Buffered messages come first — also after the channel closed — then
/// the channel's terminal status, again on every later call.
///
/// `timeout_ms`: 0 returns at once, a negative value waits without limit.
/// Returns `PWA_OK` with `*msg` set (free it with `pwa_message_free`); `PWA_TIMEOUT`; a terminal
/// status once the channel ended and its buffer is drained: `PWA_CLOSED` (our close, or a
/// server close 1000 with reconnect off), `PWA_CLOSED_ERROR` (connection dropped or protocol
/// error), `PWA_WATCHDOG_TIMEOUT`, `PWA_UPDATE_FAILED`, or the failure that ended it (e.g.
/// `PWA_ERR_AUTH`, `PWA_ERR_SHUTDOWN`); `pwa_channel_last_error` tells why. So a negative
/// status is either the channel's end or one of these misuses of the call:
/// `PWA_ERR_INVALID_HANDLE` (also when another thread freed the handle while this poll
/// waited), `PWA_ERR_INVALID_ARGUMENT` (msg NULL, or the channel delivers messages to
/// `on_message`), `PWA_ERR_BUSY` (another thread is polling this channel),
/// `PWA_ERR_RECURSIVE_CALL` (a timeout other than 0 inside a callback). `*msg` is NULL unless
/// `PWA_OK`.
///
/// # Safety
/// `msg` must be NULL or a valid pointer.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_poll_next(
    h: pwa_channel_t,
    timeout_ms: i32,
    msg: *mut *mut pwa_message,
) -> pwa_status {
    guard(|| {
        let msg = out_arg(msg, "msg")?;
        *msg = std::ptr::null_mut();
        let entry = lookup(h)?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match entry.channel.poll_next(timeout) {
            Ok(m) => {
                let url = entry.urls.get(m.url_arc());
                *msg = Box::into_raw(Box::new(pwa_message::new(m, url)));
                Ok(PWA_OK)
            }
            Err(e) => poll_outcome(e),
        }
    })
}

/// Change what the channel streams, make-before-break: `url` is opened while the current
/// connection still streams; once it is up, the old connection is closed (its last messages
/// are kept, in order) and the channel streams from `url`. No value sent by either endpoint
/// during the switch is lost (one may arrive twice). `pwa_message_url` tells which endpoint
/// each message came from. Blocks until done: at most `open_timeout` + `close_timeout`.
///
/// Returns `PWA_OK`; `PWA_ROLLED_BACK` (the new endpoint failed, `rollback` was nonzero, the
/// channel goes on at its previous endpoint); `PWA_UPDATE_FAILED` (it failed and `rollback`
/// was 0: the channel closes, poll drains it and then returns `PWA_UPDATE_FAILED`);
/// `PWA_ERR_INVALID_ARGUMENT` (NULL, non-UTF-8 or malformed url: the channel is unaffected);
/// `PWA_ERR_BUSY` (another update of this channel is in progress); the channel's terminal
/// status if it already ended; `PWA_ERR_INVALID_HANDLE`. While the channel is reconnecting,
/// the new endpoint is tried at once. The reason of a failure is in `pwa_channel_last_error`
/// and `pwa_last_error`.
///
/// `rollback` is an int (0 = false) rather than a bool, for bindings that marshal bool as
/// four bytes.
///
/// # Safety
/// `url` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_update(
    h: pwa_channel_t,
    url: *const c_char,
    rollback: i32,
) -> pwa_status {
    guard(|| {
        // SAFETY: `url` is NULL or NUL-terminated (contract) and outlives the call.
        let url = unsafe { str_arg(url, "url") }?;
        let entry = lookup(h)?;
        // Rolled back and terminal outcomes map to their positive codes, failures to negative
        // ones; the message goes to pwa_last_error either way.
        entry.channel.update(url, rollback != 0)?;
        Ok(PWA_OK)
    })
}

/// Ask for a graceful close and return at once: the channel sends a close frame and stops.
/// Messages already buffered can still be polled, then `PWA_CLOSED`. Idempotent; calling it on
/// an ended channel is fine. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn pwa_channel_close(h: pwa_channel_t) -> pwa_status {
    guard(|| {
        lookup(h)?.channel.close();
        Ok(PWA_OK)
    })
}

/// Hold back (`paused` non-zero) or resume (0) the channel's callbacks, for a callback whose
/// consumer is full: pausing and returning, instead of blocking in the callback, keeps the
/// callback thread free for the other channels (with `callback_thread=shared` a blocking
/// callback stalls every channel on the shared thread). While paused no callback of this
/// channel runs (one under way finishes), its queue fills, and then the channel stops reading
/// its socket: nothing is dropped. Resume when the consumer has room again. `pwa_channel_free`
/// and `pwa_shutdown` resume it for good (its `PWA_EVENT_CLOSED` is still delivered). No effect
/// on a channel without callbacks. Thread-safe, non-blocking, callable from inside a callback.
#[no_mangle]
pub extern "C" fn pwa_channel_pause_delivery(h: pwa_channel_t, paused: i32) -> pwa_status {
    guard(|| {
        lookup(h)?.channel.pause_delivery(paused != 0);
        Ok(PWA_OK)
    })
}

/// Release the channel: buffered messages are discarded, a poll blocked on it in another thread
/// returns `PWA_ERR_INVALID_HANDLE` at once, the channel is closed (the close frame is sent
/// and the server's answer awaited at most 250 ms; nothing the server sends meanwhile is
/// parsed or queued), its `PWA_EVENT_CLOSED` callback runs (if it has `on_state`), and a
/// callback running in another thread is waited for. Returns within about 0.5 s plus the time
/// a running callback takes. After this returns
/// the handle is invalid and no callback of this channel runs, ever.
/// Returns `PWA_OK`, `PWA_ERR_INVALID_HANDLE` (also for a second free), or
/// `PWA_ERR_RECURSIVE_CALL` from inside a callback (use `pwa_channel_close` there, free later).
#[no_mangle]
pub extern "C" fn pwa_channel_free(h: pwa_channel_t) -> pwa_status {
    guard(|| {
        let entry = CHANNELS.remove_for_free(h, "pwa_channel_free")?;
        entry.channel.dispose()?;
        Ok(PWA_OK)
    })
}

/// Copy the last error of channel `h` — the cause of its terminal status, or the last
/// connection error while reconnecting (cleared when a reconnect succeeds), or why an update
/// was rolled back — into `buf` (capacity `cap`), NUL-terminated, as `pwa_last_error` does.
/// An empty string if there was none. `*needed` (may be NULL) receives
/// the full size including the NUL. Returns `PWA_OK`, `PWA_ERR_BUFFER_TOO_SMALL` (truncated),
/// or `PWA_ERR_INVALID_HANDLE`. Never contains a password or token.
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes; `needed` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_last_error(
    h: pwa_channel_t,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    guard(|| {
        let text = lookup(h)?.channel.last_error().unwrap_or_default();
        // SAFETY: `buf`, `cap` and `needed` are passed on under copy_out's own contract, which
        // is this function's.
        Ok(unsafe { copy_out(&text, buf, cap, needed) })
    })
}

/// The channel's current state (`PWA_STATE_*`) into `*state`.
///
/// # Safety
/// `state` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_state(h: pwa_channel_t, state: *mut pwa_state) -> pwa_status {
    guard(|| {
        let state = out_arg(state, "state")?;
        *state = match lookup(h)?.channel.state() {
            ChannelState::Connecting => PWA_STATE_CONNECTING,
            ChannelState::Open => PWA_STATE_OPEN,
            ChannelState::Reconnecting => PWA_STATE_RECONNECTING,
            ChannelState::Closing => PWA_STATE_CLOSING,
            ChannelState::Closed => PWA_STATE_CLOSED,
        };
        Ok(PWA_OK)
    })
}

/// How channel `h` ended, into `*status`: its terminal status (`PWA_CLOSED`,
/// `PWA_CLOSED_ERROR`, `PWA_WATCHDOG_TIMEOUT`, `PWA_UPDATE_FAILED`, or the failure that ended
/// it, as a poll would return it after the buffer) as soon as it has ended — also while it
/// still holds buffered messages, and in callback mode, where polls are refused — or `PWA_OK`
/// (0) while it runs. Does not wait and takes nothing from the queue; `pwa_channel_last_error`
/// says why. Returns `PWA_OK`, `PWA_ERR_INVALID_HANDLE`, or `PWA_ERR_INVALID_ARGUMENT`
/// (`status` NULL).
///
/// # Safety
/// `status` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_outcome(
    h: pwa_channel_t,
    status: *mut pwa_status,
) -> pwa_status {
    guard(|| {
        let status = out_arg(status, "status")?;
        *status = lookup(h)?
            .channel
            .outcome()
            .map_or(PWA_OK, |e| status_of(e.kind()));
        Ok(PWA_OK)
    })
}

/// The channel's counters into `*stats`.
///
/// # Safety
/// `stats` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_channel_stats(h: pwa_channel_t, stats: *mut pwa_stats) -> pwa_status {
    guard(|| {
        let out = out_arg(stats, "stats")?;
        let s = lookup(h)?.channel.stats();
        *out = pwa_stats {
            messages: s.messages,
            bytes: s.bytes,
            reconnects: s.reconnects,
            updates: s.updates,
            queue_depth: s.queue_depth,
            last_message_unix_ns: s.last_message_unix_ns,
            queue_bytes: s.queue_bytes,
            messages_dropped: s.messages_dropped,
        };
        Ok(PWA_OK)
    })
}
