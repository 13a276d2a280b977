//! Subscription sets: any number of PI points through one handle.
//!
//! A [`Subscription`] is opened on a PI Web API base URL. WebIds are added and removed at any
//! time; the set packs them into ad hoc stream-set channels ("shards",
//! `streamsets/channel?webId=...`), each under `max_url_length` bytes and
//! `max_streams_per_channel` WebIds, with at most `max_channels` shards. Every shard is a
//! [`Channel`] with all of a channel's resilience (reconnect with backoff and jitter, the
//! watchdog, pings; `reconnect_spread` spreads the first reconnect attempt of the shards
//! dropped by one server restart). Their messages come out of one `poll_next` (or one message
//! callback), each tagged with its shard.
//!
//! - **add** fills the newest shard that has room (one make-before-break update of it) and
//!   opens new shards for the rest; **remove** updates only the shards that carried the removed
//!   WebIds (a shard left empty is closed). Streams of untouched shards are not disturbed;
//!   streams of a changed shard lose and repeat nothing (see `merge.rs`). Once `remove`
//!   returned, nothing of the removed streams is handed out, not even what was queued.
//! - **The bound.** An `add` that would need more than `max_channels` shards is refused whole
//!   with [`ErrorKind::LimitReached`] before anything is opened; nothing of it is subscribed.
//!   (Shards split to isolate a bad WebId count too: if the bound is reached while isolating,
//!   the WebIds not placed yet are reported as rejected with that reason.)
//! - **Isolation.** A shard refused by the server (HTTP 400, 403, 404, 414 or 431) is split
//!   in two and each half tried again, down to single WebIds: a WebId refused on its own is
//!   rejected with the server's answer as the reason, every other one streams. A stream that
//!   comes with a stream-level `WebException` (a server that accepts the set but cannot serve
//!   one of its streams) is rejected with that exception's text, and a thread of the set takes
//!   it off its shard's URL (a make-before-break update). Rejected WebIds are reported
//!   in the `add` result, by a [`SubscriptionEvent::Rejected`] event and by
//!   [`Subscription::rejected`]; they are not members, so adding (a corrected form of) them
//!   again is an ordinary add.
//! - **close** closes every shard; `poll_next` hands out what was buffered, then `Closed`.
//! - **Delivery.** One thread of the set hands every shard's messages and state events to the
//!   merge (and so to the set's callback or queue), each shard's in order, the shards taking
//!   turns; not a thread per shard, whose switch per message was most of a large set's CPU.

mod merge;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::callback_thread::refuse_if_in_callback;
use crate::channel::Channel;
use crate::config::ChannelConfig;
use crate::delivery::{Callbacks, DeliveryGroup};
use crate::error::{Error, ErrorKind};
use crate::events::StateEvent;
use crate::logging::{log_line, LogLevel};
use crate::message::Message;
use crate::urls::{validate_web_id, ChannelUrls, UrlOptions};
use crate::ChannelState;

use merge::Merge;
pub use merge::{SetMessageCallback, SetStateCallback};

/// A message of a subscription set and the shard (channel) it came from.
#[derive(Debug, Clone)]
pub struct ShardMessage {
    /// The shard's id: 1, 2, ... in the order shards were opened, never reused.
    pub shard: u32,
    pub message: Message,
}

/// A WebId the server would not stream, and why (its answer, e.g.
/// `HTTP 404 Not Found: {"Errors":["Unknown or invalid WebId ..."]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub web_id: String,
    pub reason: String,
}

/// What happened to a subscription set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// A state event of one shard's channel (its `Closed` too: a shard closes when it was
    /// emptied by `remove`, at `close`, or when its channel ended by itself, e.g. by its
    /// watchdog; the outcome says which).
    Shard { shard: u32, event: StateEvent },
    /// A WebId was rejected.
    Rejected(Rejected),
    /// The set ended (after `close`, once every shard closed and delivered its messages).
    /// Always the last event.
    Closed { outcome: Error },
}

/// What an `add` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddReport {
    /// WebIds subscribed by this call.
    pub added: usize,
    /// WebIds ignored: members already, or given twice.
    pub duplicates: usize,
    /// WebIds the server refused, with its reasons.
    pub rejected: Vec<Rejected>,
}

/// One shard in [`SubscriptionStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShardStats {
    pub shard: u32,
    pub state: ChannelState,
    /// WebIds on its URL.
    pub streams: usize,
    /// Messages and values it delivered to the set.
    pub messages: u64,
    pub values: u64,
    pub reconnects: u64,
    pub updates: u64,
    /// Messages its channel discarded because a close or a switch met a server that did not
    /// answer the close frame while the queues were full (see the channel's
    /// `Stats::messages_dropped`): a consumer that stops polling can lose data this way.
    pub messages_dropped: u64,
}

/// Counters of a subscription set.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionStats {
    /// WebIds subscribed now.
    pub streams: usize,
    /// Shards open now.
    pub shards: usize,
    /// Values delivered since open.
    pub values: u64,
    /// Values delivered per second, over the last full second (since open during the first).
    pub values_per_second: f64,
    /// Messages waiting to be polled.
    pub queue_depth: usize,
    /// WebIds rejected so far.
    pub rejected: usize,
    pub per_shard: Vec<ShardStats>,
}

/// Callbacks of a subscription set, run on library threads (one per shard; calls are never
/// concurrent): `on_message` gets every message (which then cannot be polled), `on_state`
/// every event, `Closed` last. Blocking calls of the library are refused inside them.
#[derive(Default)]
pub struct SubscriptionCallbacks {
    pub on_message: Option<merge::SetMessageCallback>,
    pub on_state: Option<merge::SetStateCallback>,
}

struct Shard {
    channel: Arc<Channel>,
    web_ids: Vec<String>,
    /// The URL its channel streams from now.
    url: String,
}

struct Ops {
    shards: BTreeMap<u32, Shard>,
    next_id: u32,
}

/// What stats, close and the credential setters need of a shard, published by add and remove
/// when they are done: read without waiting for an add or remove that runs (which may wait
/// for a callback that asks for stats).
#[derive(Clone)]
struct ShardView {
    id: u32,
    channel: Arc<Channel>,
    streams: usize,
    url: String,
}

/// What a set's handle, and its janitor thread, share.
struct Core {
    urls: ChannelUrls,
    url_options: UrlOptions,
    config: ChannelConfig,
    merge: Arc<Merge>,
    ops: Mutex<Ops>,
    view: Mutex<Vec<ShardView>>,
    /// The one thread that runs every shard's callbacks (into `merge`).
    deliveries: DeliveryGroup,
}

/// HTTP answers that refuse a set for what is in it (a WebId, or the URL's length).
const REFUSALS: &[u16] = &[400, 403, 404, 414, 431];

impl Core {
    /// A set on the API root `base` (`https://host/piwebapi`), with `config` for every shard
    /// (its channel keys, and `max_url_length`, `max_streams_per_channel`, `max_channels`) and
    /// `url_options` for every shard's URL. Opens nothing until WebIds are added.
    fn open(
        base: &str,
        config: &ChannelConfig,
        url_options: UrlOptions,
        callbacks: SubscriptionCallbacks,
    ) -> Result<Core, Error> {
        crate::check_process()?;
        let urls = ChannelUrls::new(base)?;
        // The options must make a valid ad hoc URL (e.g. no stream-set-only parameters).
        urls.ad_hoc(&["x"], &url_options)?;
        let initial_values = url_options.include_initial_values == Some(true);
        Ok(Core {
            urls,
            url_options,
            config: config.clone(),
            merge: Arc::new(Merge::new(
                config.max_queue,
                initial_values,
                callbacks.on_message,
                callbacks.on_state,
            )),
            ops: Mutex::new(Ops {
                shards: BTreeMap::new(),
                next_id: 1,
            }),
            view: Mutex::new(Vec::new()),
            deliveries: DeliveryGroup::new().map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not start the callback thread: {e}"),
                )
            })?,
        })
    }

    fn ops(&self) -> MutexGuard<'_, Ops> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn view(&self) -> Vec<ShardView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn publish(&self, ops: &Ops) {
        let view = ops
            .shards
            .iter()
            .map(|(&id, s)| ShardView {
                id,
                channel: s.channel.clone(),
                streams: s.web_ids.len(),
                url: s.url.clone(),
            })
            .collect();
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = view;
    }

    /// Subscribe `web_ids` (duplicates and members are ignored). Blocks until every new or
    /// changed shard is up. Errors: `InvalidArgument` (a malformed WebId: nothing is added),
    /// `LimitReached` (more than `max_channels` shards would be needed: nothing is added),
    /// `Closed` after `close`, or the error of a shard that could not be opened for another
    /// reason than its content (connection, credentials, ...): the WebIds of shards opened
    /// before it stay subscribed (see `stats`), the others are not.
    fn add<S: AsRef<str>>(&self, web_ids: &[S]) -> Result<AddReport, Error> {
        refuse_if_in_callback("adding to a subscription set")?;
        for (i, w) in web_ids.iter().enumerate() {
            validate_web_id(w.as_ref()).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("WebId #{i} of the list: {}", e.message()),
                )
            })?;
        }
        let mut ops = self.ops();
        if self.merge.is_closing() {
            return Err(Error::new(
                ErrorKind::Closed,
                "the subscription set is closed",
            ));
        }
        self.compact(&mut ops);
        let mut seen = HashSet::new();
        let mut fresh: Vec<String> = Vec::new();
        for w in web_ids {
            let w = w.as_ref();
            if seen.insert(w) && !self.merge.is_member(w) {
                fresh.push(w.to_string());
            }
        }
        let mut report = AddReport {
            duplicates: web_ids.len() - fresh.len(),
            ..AddReport::default()
        };
        if fresh.is_empty() {
            return Ok(report);
        }
        let limits = (
            self.config.max_url_length,
            self.config.max_streams_per_channel,
        );
        // The newest shard takes what fits.
        let mut fill: Option<(u32, usize)> = None;
        if let Some((&id, shard)) = ops.shards.iter().next_back() {
            let mut n = 0;
            while n < fresh.len()
                && shard.web_ids.len() + n < limits.1
                && ChannelUrls::ad_hoc_len_with(&shard.url, &fresh[..n + 1]) <= limits.0
            {
                n += 1;
            }
            if n > 0 {
                fill = Some((id, n));
            }
        }
        let taken = fill.map_or(0, |(_, n)| n);
        let groups = if taken == fresh.len() {
            Vec::new()
        } else {
            self.urls
                .ad_hoc_groups(&fresh[taken..], &self.url_options, limits.0, limits.1)?
        };
        if ops.shards.len() + groups.len() > self.config.max_channels {
            return Err(Error::new(
                ErrorKind::LimitReached,
                format!(
                    "adding {} WebIds needs {} more channels; {} are open and max_channels is {}: nothing was added",
                    fresh.len(),
                    groups.len(),
                    ops.shards.len(),
                    self.config.max_channels
                ),
            ));
        }
        let before = self.merge.rejected().len();
        let mut pending: Vec<Vec<String>> = Vec::new();
        if let Some((id, n)) = fill {
            let more = fresh[..n].to_vec();
            if let Err(e) = self.grow(&mut ops, id, &more) {
                log_line!(
                    LogLevel::Info,
                    "shard {id} refused {} more WebIds ({}); placing them apart",
                    more.len(),
                    e.message()
                );
                pending.push(more);
            }
        }
        for r in groups {
            pending.push(fresh[taken..][r].to_vec());
        }
        let mut result = Ok(());
        for group in pending {
            if let Err(e) = self.place(&mut ops, group) {
                result = Err(e);
                break;
            }
        }
        report.rejected = self.merge.rejected()[before..].to_vec();
        let rejected: HashSet<&str> = report.rejected.iter().map(|r| r.web_id.as_str()).collect();
        report.added = fresh
            .iter()
            .filter(|w| !rejected.contains(w.as_str()) && self.merge.is_member(w))
            .count();
        self.publish(&ops);
        if self.merge.is_closing() {
            // `close` came meanwhile: shards opened since must close too.
            Self::close_shards(&ops);
        }
        result.map(|()| report)
    }

    /// Move shard `id` to `url` by a make-before-break update (with rollback), its endpoints'
    /// values matched meanwhile so that each event comes out once.
    fn switch(&self, id: u32, channel: &Channel, url: &str) -> Result<(), Error> {
        self.merge.switch_begins(id);
        let result = channel.update(url, true);
        self.merge.switch_ended(id);
        result
    }

    /// Add `more` to shard `id` by a make-before-break update; on failure nothing changed.
    fn grow(&self, ops: &mut Ops, id: u32, more: &[String]) -> Result<(), Error> {
        let shard = ops.shards.get_mut(&id).expect("shard exists");
        let mut all = shard.web_ids.clone();
        all.extend_from_slice(more);
        let url = self.urls.ad_hoc(&all, &self.url_options)?;
        self.merge.join(id, more);
        match self.switch(id, &shard.channel, &url) {
            Ok(()) => {
                shard.web_ids = all;
                shard.url = url;
                Ok(())
            }
            Err(e) => {
                self.merge.forget(more);
                Err(e)
            }
        }
    }

    /// Open shards for `ids`: one if the server takes them all; else, when it refuses them
    /// for their content, each half apart, down to single WebIds, which are rejected.
    fn place(&self, ops: &mut Ops, ids: Vec<String>) -> Result<(), Error> {
        let mut work = vec![ids];
        while let Some(ids) = work.pop() {
            if ops.shards.len() >= self.config.max_channels {
                let reason = format!(
                    "max_channels ({}) reached while isolating refused WebIds",
                    self.config.max_channels
                );
                for w in ids.iter().chain(work.iter().flatten()) {
                    self.merge.reject(w, reason.clone());
                }
                return Ok(());
            }
            match self.open_shard(ops, &ids) {
                Ok(()) => {}
                Err(e) if e.http_status().is_some_and(|s| REFUSALS.contains(&s)) => {
                    if ids.len() == 1 {
                        self.merge.reject(&ids[0], refusal_reason(&e));
                    } else {
                        let (a, b) = ids.split_at(ids.len() / 2);
                        work.push(b.to_vec());
                        work.push(a.to_vec());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn open_shard(&self, ops: &mut Ops, ids: &[String]) -> Result<(), Error> {
        let id = ops.next_id;
        ops.next_id += 1;
        let url = self.urls.ad_hoc(ids, &self.url_options)?;
        self.merge.join(id, ids);
        self.merge.shard_started(id);
        let (m1, m2) = (self.merge.clone(), self.merge.clone());
        let callbacks = Callbacks {
            on_message: Some(Box::new(move |msg| m1.deliver(id, msg))),
            on_state: Some(Box::new(move |e| m2.shard_event(id, e))),
        };
        match Channel::open_in_group(&url, &self.config, callbacks, &self.deliveries) {
            Ok(channel) => {
                ops.shards.insert(
                    id,
                    Shard {
                        channel: Arc::new(channel),
                        web_ids: ids.to_vec(),
                        url,
                    },
                );
                Ok(())
            }
            Err(e) => {
                self.merge.forget(ids);
                // No callback of a channel that failed to open ever runs.
                self.merge
                    .shard_event(id, &StateEvent::Closed { outcome: e.clone() });
                Err(e)
            }
        }
    }

    /// Unsubscribe `web_ids` (those that are not members are ignored). Once this returns,
    /// nothing of them is handed out. Each shard that carried some is updated without them
    /// (make-before-break), or closed if none of its WebIds is left. Returns how many were
    /// members. `Closed` after `close`.
    fn remove<S: AsRef<str>>(&self, web_ids: &[S]) -> Result<usize, Error> {
        refuse_if_in_callback("removing from a subscription set")?;
        if self.merge.is_closing() {
            return Err(Error::new(
                ErrorKind::Closed,
                "the subscription set is closed",
            ));
        }
        let ids: Vec<String> = web_ids.iter().map(|w| w.as_ref().to_string()).collect();
        // Before the shards are taken: leaving waits for a message callback that runs, and
        // that callback may ask for stats.
        let gone = self.merge.leave(&ids);
        let n = gone.values().map(Vec::len).sum();
        let mut ops = self.ops();
        self.shrink(&mut ops, gone);
        self.compact(&mut ops);
        self.publish(&ops);
        if self.merge.is_closing() {
            Self::close_shards(&ops);
        }
        Ok(n)
    }

    /// Take WebIds off their shards' URLs (they already left the set).
    fn shrink(&self, ops: &mut Ops, gone: std::collections::HashMap<u32, Vec<String>>) {
        for (id, removed) in gone {
            let Some(shard) = ops.shards.get_mut(&id) else {
                continue;
            };
            let removed: HashSet<&String> = removed.iter().collect();
            let left: Vec<String> = shard
                .web_ids
                .iter()
                .filter(|w| !removed.contains(w))
                .cloned()
                .collect();
            if left.is_empty() {
                // Its Closed event comes through the merge; what it still delivers is cut.
                if let Some(shard) = ops.shards.remove(&id) {
                    shard.channel.close();
                }
                continue;
            }
            let url = match self.urls.ad_hoc(&left, &self.url_options) {
                Ok(u) => u,
                Err(_) => continue,
            };
            match self.switch(id, &shard.channel, &url) {
                Ok(()) => shard.url = url,
                // The old URL goes on; what it carries of the removed streams is cut.
                Err(e) => log_line!(
                    LogLevel::Warn,
                    "shard {id}: could not drop {} WebIds from its URL: {}",
                    removed.len(),
                    e.message()
                ),
            }
            shard.web_ids = left;
        }
    }

    /// Drop from their shards' URLs the WebIds rejected by a per-stream error.
    fn compact(&self, ops: &mut Ops) {
        let mut gone: std::collections::HashMap<u32, Vec<String>> = Default::default();
        for (shard, w) in self.merge.take_rejected_on_shards() {
            gone.entry(shard).or_default().push(w);
        }
        if !gone.is_empty() {
            self.shrink(ops, gone);
        }
    }

    /// The next message of any shard. Buffered messages come first, also after `close`; then
    /// `Closed` on this and every later call. `Timeout` when nothing arrived within `timeout`
    /// (`None` waits without limit); `Busy` when another thread polls; `InvalidArgument`
    /// when messages go to a callback.
    fn poll_next(&self, timeout: Option<Duration>) -> Result<ShardMessage, Error> {
        if timeout != Some(Duration::ZERO) {
            refuse_if_in_callback("a poll with a timeout")?;
        }
        if self.merge.delivers_messages() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "this subscription set delivers its messages to its on_message callback",
            ));
        }
        self.merge.pop(timeout)
    }

    /// Close every shard (graceful, like a channel's close) and return at once. Idempotent.
    fn close(&self) {
        self.merge.closing();
        // Never waits for an add or remove that runs (it closes what it opened when it ends).
        for v in self.view() {
            v.channel.close();
        }
    }

    fn close_shards(ops: &Ops) {
        for shard in ops.shards.values() {
            shard.channel.close();
        }
    }

    /// Wait until every shard has ended and delivered its messages (after `close`). False on
    /// timeout.
    fn wait_closed(&self, timeout: Duration) -> Result<bool, Error> {
        refuse_if_in_callback("waiting for a subscription set to close")?;
        Ok(self.merge.wait_end(timeout))
    }

    /// Let go of the set: buffered messages are discarded, every shard is freed (see
    /// [`Channel::dispose`]); afterwards no callback of the set runs.
    fn dispose(&self) -> Result<(), Error> {
        refuse_if_in_callback("freeing a subscription set")?;
        let ops = self.ops();
        self.merge.closing();
        self.merge.abandon();
        for shard in ops.shards.values() {
            shard.channel.close();
        }
        for shard in ops.shards.values() {
            shard.channel.dispose()?;
        }
        Ok(())
    }

    /// Counters. Never waits for an add or remove that runs: shards it is changing show as
    /// they were before it.
    fn stats(&self) -> SubscriptionStats {
        let view = self.view();
        let (values, rate, depth, tallies) = self.merge.tallies();
        let per_shard = view
            .iter()
            .map(|v| {
                let t = tallies.get(&v.id).cloned().unwrap_or_default();
                let cs = v.channel.stats();
                ShardStats {
                    shard: v.id,
                    state: v.channel.state(),
                    streams: v.streams,
                    messages: t.messages,
                    values: t.values,
                    reconnects: cs.reconnects,
                    updates: cs.updates,
                    messages_dropped: cs.messages_dropped,
                }
            })
            .collect();
        SubscriptionStats {
            streams: self.merge.member_count(),
            shards: view.len(),
            values,
            values_per_second: rate,
            queue_depth: depth,
            rejected: self.merge.rejected().len(),
            per_shard,
        }
    }

    /// The URL of each shard now, by shard id.
    fn shard_urls(&self) -> Vec<(u32, String)> {
        self.view().into_iter().map(|v| (v.id, v.url)).collect()
    }

    /// Replace the bearer token (`auth=bearer`) of every shard and of shards opened later.
    fn set_bearer_token(&self, token: &str) -> Result<(), Error> {
        crate::secret::check_secret("bearer_token", token)?;
        for v in self.view() {
            v.channel.set_bearer_token(token)?;
        }
        self.config
            .credentials
            .set_bearer_token(Some(crate::secret::Secret::new(token)));
        Ok(())
    }

    /// Replace the Basic password (`auth=basic`) of every shard and of shards opened later.
    fn set_password(&self, password: &str) -> Result<(), Error> {
        crate::secret::check_secret("password", password)?;
        for v in self.view() {
            v.channel.set_password(password)?;
        }
        self.config
            .credentials
            .set_password(Some(crate::secret::Secret::new(password)));
        Ok(())
    }
}

/// A subscription set. See the module documentation.
pub struct Subscription {
    core: Arc<Core>,
}

impl Subscription {
    /// A set on the API root `base` (`https://host/piwebapi`), with `config` for every shard
    /// (its channel keys, and `max_url_length`, `max_streams_per_channel`, `max_channels`) and
    /// `url_options` for every shard's URL. Opens nothing until WebIds are added. A thread of
    /// the set's own takes WebIds rejected by a per-stream error off their shard's URL.
    pub fn open(
        base: &str,
        config: &ChannelConfig,
        url_options: UrlOptions,
        callbacks: SubscriptionCallbacks,
    ) -> Result<Subscription, Error> {
        refuse_if_in_callback("opening a subscription set")?;
        let core = Arc::new(Core::open(base, config, url_options, callbacks)?);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        core.merge.on_reject(tx);
        let weak = Arc::downgrade(&core);
        std::thread::Builder::new()
            .name("piwebasync-set-janitor".into())
            .spawn(move || janitor(weak, rx))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not start the subscription set's thread: {e}"),
                )
            })?;
        Ok(Subscription { core })
    }

    /// Subscribe `web_ids` (duplicates and members are ignored). Blocks until every new or
    /// changed shard is up. Errors: `InvalidArgument` (a malformed WebId: nothing is added),
    /// `LimitReached` (more than `max_channels` shards would be needed: nothing is added),
    /// `Closed` after `close`, or the error of a shard that could not be opened for another
    /// reason than its content (connection, credentials, ...): the WebIds of shards opened
    /// before it stay subscribed (see `stats`), the others are not.
    pub fn add<S: AsRef<str>>(&self, web_ids: &[S]) -> Result<AddReport, Error> {
        self.core.add(web_ids)
    }

    /// Unsubscribe `web_ids` (those that are not members are ignored). Once this returns,
    /// nothing of them is handed out. Each shard that carried some is updated without them
    /// (make-before-break), or closed if none of its WebIds is left. Returns how many were
    /// members. `Closed` after `close`.
    pub fn remove<S: AsRef<str>>(&self, web_ids: &[S]) -> Result<usize, Error> {
        self.core.remove(web_ids)
    }

    /// The next message of any shard. Buffered messages come first, also after `close`; then
    /// `Closed` on this and every later call. `Timeout` when nothing arrived within `timeout`
    /// (`None` waits without limit); `Busy` when another thread polls; `InvalidArgument`
    /// when messages go to a callback.
    pub fn poll_next(&self, timeout: Option<Duration>) -> Result<ShardMessage, Error> {
        self.core.poll_next(timeout)
    }

    /// Close every shard (graceful, like a channel's close) and return at once. Idempotent.
    pub fn close(&self) {
        self.core.close()
    }

    /// Wait until every shard has ended and delivered its messages (after `close`). False on
    /// timeout.
    pub fn wait_closed(&self, timeout: Duration) -> Result<bool, Error> {
        self.core.wait_closed(timeout)
    }

    /// Let go of the set: buffered messages are discarded, every shard is freed (see
    /// [`Channel::dispose`]); afterwards no callback of the set runs.
    pub fn dispose(&self) -> Result<(), Error> {
        self.core.dispose()
    }

    /// Every WebId rejected so far, with the server's reasons.
    pub fn rejected(&self) -> Vec<Rejected> {
        self.core.merge.rejected()
    }

    /// Whether `web_id` is subscribed now.
    pub fn contains(&self, web_id: &str) -> bool {
        self.core.merge.is_member(web_id)
    }

    /// Counters. Never waits for an add or remove that runs: shards it is changing show as
    /// they were before it.
    pub fn stats(&self) -> SubscriptionStats {
        self.core.stats()
    }

    /// The URL of each shard now, by shard id.
    pub fn shard_urls(&self) -> Vec<(u32, String)> {
        self.core.shard_urls()
    }

    /// Replace the bearer token (`auth=bearer`) of every shard and of shards opened later.
    pub fn set_bearer_token(&self, token: &str) -> Result<(), Error> {
        self.core.set_bearer_token(token)
    }

    /// Replace the Basic password (`auth=basic`) of every shard and of shards opened later.
    pub fn set_password(&self, password: &str) -> Result<(), Error> {
        self.core.set_password(password)
    }
}

impl Drop for Subscription {
    /// Closes every shard without waiting (a message callback still gets what they deliver).
    fn drop(&mut self) {
        if !self.core.merge.delivers_messages() {
            self.core.merge.abandon();
        }
        for v in self.core.view() {
            v.channel.close();
        }
    }
}

/// Takes WebIds rejected by a per-stream error off their shards' URLs (a shard's delivery
/// thread, where they are found, cannot update its channel). Ends soon after the set's handle
/// is dropped.
fn janitor(core: std::sync::Weak<Core>, signal: std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        let work = match signal.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let Some(core) = core.upgrade() else { return };
        if work && !core.merge.is_closing() {
            let mut ops = core.ops();
            core.compact(&mut ops);
            core.publish(&ops);
        }
    }
}

/// The server's answer, from a refused open's error.
fn refusal_reason(e: &Error) -> String {
    let msg = e.message();
    match msg.find("instead of 101 Switching Protocols") {
        Some(i) => {
            let status = e.http_status().unwrap_or(0);
            let rest = msg[i + "instead of 101 Switching Protocols".len()..]
                .trim_start_matches(':')
                .trim();
            format!("HTTP {status}: {rest}")
        }
        None => msg.to_string(),
    }
}
