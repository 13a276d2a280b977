//! Subscription set handles: any number of PI points through one handle (the Rust API's
//! `Subscription`; the sharding, isolation and exactly-once rules are documented there and on
//! `pwa_subscription_open`).

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::boundary::{fail, guard, Failure};
use super::callbacks::{c_string, pwa_state_event, with_c_event, UserData};
use super::channel::{poll_outcome, pwa_state};
use super::channel::{
    PWA_STATE_CLOSED, PWA_STATE_CLOSING, PWA_STATE_CONNECTING, PWA_STATE_OPEN,
    PWA_STATE_RECONNECTING,
};
use super::config::pwa_config;
use super::handles::HandleTable;
use super::last_error::copy_out;
use super::message::pwa_message;
use super::status::*;
use super::strings::{out_arg, str_arg};
use super::url_cache::UrlCache;
use super::urls::{options, pwa_url_options};
use piwebasync_rust::{
    ChannelConfig, ChannelState, Subscription, SubscriptionCallbacks, SubscriptionEvent,
};

/// A subscription set handle: a generational id like `pwa_channel_t` (0 is never valid; a
/// freed, stale or made-up handle gets `PWA_ERR_INVALID_HANDLE`).
pub type pwa_subscription_t = u64;

/// Called with each message of the set, on a library thread (calls never overlap; messages of
/// one shard come in order). `shard` is the shard it came from. The message is borrowed: valid
/// only until the callback returns; do not free it.
pub type pwa_subscription_message_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        set: pwa_subscription_t,
        shard: u32,
        message: *const pwa_message,
    ),
>;

/// Kind of a subscription set event (`pwa_subscription_event.kind`).
pub type pwa_subscription_event_kind = i32;
/// A state event of one shard's channel: `shard` and `shard_event` are set.
pub const PWA_SET_EVENT_SHARD: pwa_subscription_event_kind = 1;
/// A WebId was rejected: `web_id` and `message` (the server's reason) are set.
pub const PWA_SET_EVENT_REJECTED: pwa_subscription_event_kind = 2;
/// The set ended (after `pwa_subscription_close`, once every shard closed): `status` is its
/// terminal status. Always the last event, exactly once.
pub const PWA_SET_EVENT_CLOSED: pwa_subscription_event_kind = 3;

/// An event of a subscription set. Strings are NUL-terminated, never NULL (empty when not
/// applicable); everything is valid only during the callback.
#[repr(C)]
pub struct pwa_subscription_event {
    pub kind: pwa_subscription_event_kind,
    /// SHARD: the shard.
    pub shard: u32,
    /// SHARD: the shard's channel event (as a channel's `on_state` gets it); NULL otherwise.
    pub shard_event: *const pwa_state_event,
    /// REJECTED: the WebId.
    pub web_id: *const c_char,
    /// REJECTED: the server's reason; CLOSED: why.
    pub message: *const c_char,
    /// CLOSED: the set's terminal status; otherwise PWA_OK.
    pub status: pwa_status,
}

/// Called with each event of the set, on a library thread (never two at once).
pub type pwa_subscription_state_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        set: pwa_subscription_t,
        event: *const pwa_subscription_event,
    ),
>;

/// Callbacks of a subscription set (copied by `pwa_subscription_open`; the functions and
/// `user_data` must stay valid until `pwa_subscription_free` returns). `on_message` NULL:
/// messages are polled. The rules of `pwa_callbacks` apply: blocking calls from inside them
/// return `PWA_ERR_RECURSIVE_CALL`.
#[repr(C)]
pub struct pwa_subscription_callbacks {
    pub on_message: pwa_subscription_message_cb,
    pub on_state: pwa_subscription_state_cb,
    pub user_data: *mut c_void,
}

/// What `pwa_subscription_add` did.
#[repr(C)]
pub struct pwa_subscription_add_report {
    /// WebIds subscribed by this call.
    pub added: u64,
    /// WebIds ignored: members already, or given twice.
    pub duplicates: u64,
    /// WebIds the server refused (see `pwa_subscription_rejected`).
    pub rejected: u64,
}

/// Counters of a subscription set.
#[repr(C)]
pub struct pwa_set_stats {
    /// WebIds subscribed now.
    pub streams: u64,
    /// Shards (channels) open now.
    pub shards: u64,
    /// Shards whose channel is connected now (`PWA_STATE_OPEN`).
    pub shards_open: u64,
    /// Shards reconnecting now.
    pub shards_reconnecting: u64,
    /// Values delivered since open.
    pub values: u64,
    /// Values delivered per second over the last full second.
    pub values_per_second: f64,
    /// Messages waiting to be polled.
    pub queue_depth: u64,
    /// WebIds rejected so far.
    pub rejected: u64,
}

/// One shard of a set (`pwa_subscription_shard_stats`).
#[repr(C)]
pub struct pwa_shard_stats {
    /// The shard's id, as messages and events name it.
    pub shard: u32,
    /// `PWA_STATE_*` of its channel.
    pub state: pwa_state,
    /// WebIds on its URL.
    pub streams: u64,
    pub messages: u64,
    pub values: u64,
    pub reconnects: u64,
    pub updates: u64,
    /// Messages its channel discarded at a close or switch that met a full queue and a server
    /// that did not answer the close frame in time (as `pwa_stats.messages_dropped`).
    pub messages_dropped: u64,
}

struct SetEntry {
    set: Subscription,
    urls: UrlCache,
}

static SETS: HandleTable<SetEntry> = HandleTable::new("subscription set");

fn lookup(h: pwa_subscription_t) -> Result<Arc<SetEntry>, Failure> {
    SETS.lookup(h)
}

fn c_state(s: ChannelState) -> pwa_state {
    match s {
        ChannelState::Connecting => PWA_STATE_CONNECTING,
        ChannelState::Open => PWA_STATE_OPEN,
        ChannelState::Reconnecting => PWA_STATE_RECONNECTING,
        ChannelState::Closing => PWA_STATE_CLOSING,
        ChannelState::Closed => PWA_STATE_CLOSED,
    }
}

/// Open a subscription set on the PI Web API root `base_url` (`https://host/piwebapi`; `http`,
/// `ws`, `wss` too). Nothing connects until WebIds are added. `cfg` (NULL = defaults) is
/// copied: every shard is a channel with its settings, and `max_url_length`,
/// `max_streams_per_channel`, `max_channels` and `reconnect_spread` shape the set. `opts`
/// (NULL = none) are the query parameters of every shard's URL (stream-set-only ones are
/// refused). `callbacks` may be NULL. `*out` receives the handle (0 on failure).
///
/// Sharding: WebIds are packed into ad hoc stream-set channels ("shards") under
/// `max_url_length` bytes and `max_streams_per_channel` WebIds; at most `max_channels`
/// shards. Messages of all shards come from one `pwa_subscription_poll_next` (or
/// `on_message`), each with its shard. No value is lost or repeated when a shard changes (a
/// make-before-break update); nothing of a removed WebId is handed out once
/// `pwa_subscription_remove` returned. A WebId the server refuses is isolated (its shard is
/// split until the refused WebIds are alone) and rejected with the server's reason; the others
/// stream.
///
/// Returns `PWA_OK`; `PWA_ERR_INVALID_ARGUMENT` (NULL, non-UTF-8 or malformed base URL, bad
/// options); `PWA_ERR_SHUTDOWN`; `PWA_ERR_RECURSIVE_CALL` inside a callback.
///
/// # Safety
/// Pointers must be NULL or valid; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pwa_subscription_open(
    base_url: *const c_char,
    cfg: *const pwa_config,
    opts: *const pwa_url_options,
    callbacks: *const pwa_subscription_callbacks,
    out: *mut pwa_subscription_t,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = 0;
        // SAFETY: `base_url` is NULL or NUL-terminated (contract) and outlives the call.
        let base = unsafe { str_arg(base_url, "base_url") }?;
        // SAFETY: `opts` is NULL or valid with NULL or NUL-terminated strings (contract).
        let url_options = unsafe { options(opts) }?;
        super::module_pin::pin_module();
        let default_cfg;
        // SAFETY: `cfg` is NULL or a live configuration (contract), borrowed during the call.
        let config = match unsafe { cfg.as_ref() } {
            Some(c) => &c.inner,
            None => {
                default_cfg = ChannelConfig::default();
                &default_cfg
            }
        };
        // The handle is reserved first: callbacks (which run only once WebIds are added, after
        // this returns) name it.
        let handle = Arc::new(std::sync::OnceLock::<pwa_subscription_t>::new());
        // SAFETY: `callbacks` is NULL or valid (contract); copied here.
        let callbacks = match unsafe { callbacks.as_ref() } {
            Some(c) => set_callbacks(c, handle.clone()),
            None => SubscriptionCallbacks::default(),
        };
        let set = Subscription::open(base, config, url_options, callbacks)?;
        let h = SETS.insert(Arc::new(SetEntry {
            set,
            urls: UrlCache::default(),
        }));
        let _ = handle.set(h);
        *out = h;
        Ok(PWA_OK)
    })
}

fn set_callbacks(
    c: &pwa_subscription_callbacks,
    handle: Arc<std::sync::OnceLock<pwa_subscription_t>>,
) -> SubscriptionCallbacks {
    let user = UserData(c.user_data);
    let mut out = SubscriptionCallbacks::default();
    if let Some(on_message) = c.on_message {
        let handle = handle.clone();
        let urls = UrlCache::default();
        out.on_message = Some(Box::new(move |m: piwebasync_rust::ShardMessage| {
            let h = handle.get().copied().unwrap_or(0);
            let url = urls.get(m.message.url_arc());
            let msg = pwa_message::new(m.message, url);
            let user = user;
            // SAFETY: a function pointer the caller gave us, called as documented.
            unsafe { on_message(user.0, h, m.shard, &msg) };
        }));
    }
    if let Some(on_state) = c.on_state {
        out.on_state = Some(Box::new(move |e: &SubscriptionEvent| {
            let h = handle.get().copied().unwrap_or(0);
            let user = user;
            let empty = c_string("");
            let call = |ev: &pwa_subscription_event| {
                // SAFETY: a function pointer the caller gave us, called as documented.
                unsafe { on_state(user.0, h, ev) };
            };
            match e {
                SubscriptionEvent::Shard { shard, event } => with_c_event(event, |se| {
                    call(&pwa_subscription_event {
                        kind: PWA_SET_EVENT_SHARD,
                        shard: *shard,
                        shard_event: se,
                        web_id: empty.as_ptr(),
                        message: empty.as_ptr(),
                        status: PWA_OK,
                    })
                }),
                SubscriptionEvent::Rejected(r) => {
                    let web_id = c_string(&r.web_id);
                    let reason = c_string(&r.reason);
                    call(&pwa_subscription_event {
                        kind: PWA_SET_EVENT_REJECTED,
                        shard: 0,
                        shard_event: std::ptr::null(),
                        web_id: web_id.as_ptr(),
                        message: reason.as_ptr(),
                        status: PWA_OK,
                    })
                }
                SubscriptionEvent::Closed { outcome } => {
                    let message = c_string(outcome.message());
                    call(&pwa_subscription_event {
                        kind: PWA_SET_EVENT_CLOSED,
                        shard: 0,
                        shard_event: std::ptr::null(),
                        web_id: empty.as_ptr(),
                        message: message.as_ptr(),
                        status: status_of(outcome.kind()),
                    })
                }
            }
        }));
    }
    out
}

/// `count` WebIds from a C array of strings.
///
/// # Safety
/// `web_ids` must be NULL or point to `count` pointers, each NULL or NUL-terminated.
unsafe fn web_id_list<'a>(
    web_ids: *const *const c_char,
    count: usize,
) -> Result<Vec<&'a str>, Failure> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if web_ids.is_null() {
        return Err(fail(
            PWA_ERR_INVALID_ARGUMENT,
            format!("web_ids is NULL but count is {count}"),
        ));
    }
    // SAFETY: `web_ids` points to `count` pointers (contract).
    let ptrs = unsafe { std::slice::from_raw_parts(web_ids, count) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each is NULL or NUL-terminated (contract); checked by str_arg.
        .map(|(i, &p)| unsafe { str_arg(p, &format!("web_ids[{i}]")) })
        .collect()
}

/// Subscribe `count` WebIds (`web_ids[0..count]`, UTF-8 strings; duplicates and members are
/// ignored). Blocks until every new or changed shard is up. `report` (may be NULL) receives
/// what was done.
///
/// Returns `PWA_OK` (also when some WebIds were rejected: see `report->rejected` and
/// `pwa_subscription_rejected`); `PWA_ERR_INVALID_ARGUMENT` (NULL array with count > 0, a NULL,
/// non-UTF-8 or malformed WebId: nothing is added); `PWA_ERR_LIMIT` (more than `max_channels`
/// shards would be needed: nothing is added); `PWA_CLOSED` after `pwa_subscription_close`;
/// the status of a shard that could not be opened for another reason (`PWA_ERR_CONNECT`,
/// `PWA_ERR_AUTH`, ...: WebIds of shards opened before it stay subscribed);
/// `PWA_ERR_INVALID_HANDLE`; `PWA_ERR_RECURSIVE_CALL` inside a callback.
///
/// # Safety
/// `web_ids` NULL or `count` valid pointers to NUL-terminated strings; `report` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_subscription_add(
    h: pwa_subscription_t,
    web_ids: *const *const c_char,
    count: usize,
    report: *mut pwa_subscription_add_report,
) -> pwa_status {
    guard(|| {
        // SAFETY: this function's contract.
        let ids = unsafe { web_id_list(web_ids, count) }?;
        let entry = lookup(h)?;
        let r = entry.set.add(&ids)?;
        // SAFETY: `report` is NULL or valid (contract).
        if let Some(out) = unsafe { report.as_mut() } {
            *out = pwa_subscription_add_report {
                added: r.added as u64,
                duplicates: r.duplicates as u64,
                rejected: r.rejected.len() as u64,
            };
        }
        Ok(PWA_OK)
    })
}

/// Unsubscribe `count` WebIds (non-members are ignored). Once this returns, nothing of them is
/// handed out. Only the shards that carried them change (make-before-break), or close when
/// emptied. `removed` (may be NULL) receives how many were members.
///
/// Returns `PWA_OK`, `PWA_ERR_INVALID_ARGUMENT`, `PWA_CLOSED` after close,
/// `PWA_ERR_INVALID_HANDLE`, `PWA_ERR_RECURSIVE_CALL`.
///
/// # Safety
/// As `pwa_subscription_add`; `removed` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_subscription_remove(
    h: pwa_subscription_t,
    web_ids: *const *const c_char,
    count: usize,
    removed: *mut usize,
) -> pwa_status {
    guard(|| {
        // SAFETY: this function's contract.
        let ids = unsafe { web_id_list(web_ids, count) }?;
        let entry = lookup(h)?;
        let n = entry.set.remove(&ids)?;
        // SAFETY: `removed` is NULL or valid (contract).
        if let Some(out) = unsafe { removed.as_mut() } {
            *out = n;
        }
        Ok(PWA_OK)
    })
}

/// The next message of any shard, and its shard into `*shard` (may be NULL). As
/// `pwa_channel_poll_next`: buffered messages first, also after close, then `PWA_CLOSED` on
/// every later call; `PWA_TIMEOUT`; `timeout_ms` < 0 waits without limit. Misuse:
/// `PWA_ERR_INVALID_ARGUMENT` (msg NULL, or messages go to `on_message`),
/// `PWA_ERR_INVALID_HANDLE`, `PWA_ERR_BUSY`, `PWA_ERR_RECURSIVE_CALL`.
///
/// # Safety
/// `msg` NULL or valid; `shard` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_subscription_poll_next(
    h: pwa_subscription_t,
    timeout_ms: i32,
    msg: *mut *mut pwa_message,
    shard: *mut u32,
) -> pwa_status {
    guard(|| {
        let msg = out_arg(msg, "msg")?;
        *msg = std::ptr::null_mut();
        let entry = lookup(h)?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match entry.set.poll_next(timeout) {
            Ok(m) => {
                // SAFETY: `shard` is NULL or valid (contract).
                if let Some(s) = unsafe { shard.as_mut() } {
                    *s = m.shard;
                }
                let url = entry.urls.get(m.message.url_arc());
                *msg = Box::into_raw(Box::new(pwa_message::new(m.message, url)));
                Ok(PWA_OK)
            }
            Err(e) => poll_outcome(e),
        }
    })
}

/// Close every shard gracefully and return at once; poll drains, then `PWA_CLOSED`.
/// Idempotent; callable from a callback.
#[no_mangle]
pub extern "C" fn pwa_subscription_close(h: pwa_subscription_t) -> pwa_status {
    guard(|| {
        lookup(h)?.set.close();
        Ok(PWA_OK)
    })
}

/// Release the set: buffered messages are discarded, every shard is freed (as
/// `pwa_channel_free`); afterwards the handle is invalid and no callback of the set runs.
/// Returns `PWA_OK`, `PWA_ERR_INVALID_HANDLE` (also for a second free),
/// `PWA_ERR_RECURSIVE_CALL` from inside a callback.
#[no_mangle]
pub extern "C" fn pwa_subscription_free(h: pwa_subscription_t) -> pwa_status {
    guard(|| {
        let entry = SETS.remove_for_free(h, "pwa_subscription_free")?;
        entry.set.dispose()?;
        Ok(PWA_OK)
    })
}

/// The set's counters into `*stats`.
///
/// # Safety
/// `stats` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_subscription_stats(
    h: pwa_subscription_t,
    stats: *mut pwa_set_stats,
) -> pwa_status {
    guard(|| {
        let out = out_arg(stats, "stats")?;
        let s = lookup(h)?.set.stats();
        let count = |st: ChannelState| s.per_shard.iter().filter(|p| p.state == st).count();
        *out = pwa_set_stats {
            streams: s.streams as u64,
            shards: s.shards as u64,
            shards_open: count(ChannelState::Open) as u64,
            shards_reconnecting: count(ChannelState::Reconnecting) as u64,
            values: s.values,
            values_per_second: s.values_per_second,
            queue_depth: s.queue_depth as u64,
            rejected: s.rejected as u64,
        };
        Ok(PWA_OK)
    })
}

/// Shard number `index` (0-based, in shard order; `pwa_subscription_stats` gives the count)
/// into `*stats`. `PWA_ERR_INVALID_ARGUMENT` when `index` is past the last shard.
///
/// # Safety
/// `stats` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_subscription_shard_stats(
    h: pwa_subscription_t,
    index: usize,
    stats: *mut pwa_shard_stats,
) -> pwa_status {
    guard(|| {
        let out = out_arg(stats, "stats")?;
        let s = lookup(h)?.set.stats();
        let p = s.per_shard.get(index).ok_or_else(|| {
            fail(
                PWA_ERR_INVALID_ARGUMENT,
                format!("shard index {index}: the set has {} shards", s.shards),
            )
        })?;
        *out = pwa_shard_stats {
            shard: p.shard,
            state: c_state(p.state),
            streams: p.streams as u64,
            messages: p.messages,
            values: p.values,
            reconnects: p.reconnects,
            updates: p.updates,
            messages_dropped: p.messages_dropped,
        };
        Ok(PWA_OK)
    })
}

/// Rejected WebId number `index` (0-based, in the order rejected; `pwa_subscription_stats`
/// gives the count): its WebId into `web_id` (capacity `web_id_cap`) and the server's reason
/// into `reason` (capacity `reason_cap`), each NUL-terminated, with the full sizes (NUL
/// included) into `web_id_needed` / `reason_needed` (each may be NULL). Returns `PWA_OK`,
/// `PWA_ERR_BUFFER_TOO_SMALL` (either was truncated), `PWA_ERR_INVALID_ARGUMENT` (index past
/// the last), `PWA_ERR_INVALID_HANDLE`.
///
/// # Safety
/// Each buffer NULL or `cap` writable bytes; each `needed` NULL or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // two out-strings, each with buffer, capacity and size
pub unsafe extern "C" fn pwa_subscription_rejected(
    h: pwa_subscription_t,
    index: usize,
    web_id: *mut c_char,
    web_id_cap: usize,
    web_id_needed: *mut usize,
    reason: *mut c_char,
    reason_cap: usize,
    reason_needed: *mut usize,
) -> pwa_status {
    guard(|| {
        let all = lookup(h)?.set.rejected();
        let r = all.get(index).ok_or_else(|| {
            fail(
                PWA_ERR_INVALID_ARGUMENT,
                format!("rejected index {index}: {} WebIds were rejected", all.len()),
            )
        })?;
        // SAFETY: buffers and sizes under copy_out's contract, which is this function's.
        let a = unsafe { copy_out(&r.web_id, web_id, web_id_cap, web_id_needed) };
        // SAFETY: as above.
        let b = unsafe { copy_out(&r.reason, reason, reason_cap, reason_needed) };
        Ok(if a != PWA_OK { a } else { b })
    })
}
