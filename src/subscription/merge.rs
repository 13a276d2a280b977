//! The merge point of a subscription set: every shard's messages pass through here on their
//! way to the one queue (or the one message callback) of the set. Here the set's promises
//! are kept:
//!
//! - **membership**: a stream item whose WebId is not (or no longer) a member of that shard is
//!   cut out, so nothing of a removed stream is handed out once `remove` returned (`remove`
//!   also cuts such items out of what is queued);
//! - **exactly once across a make-before-break switch**: while a shard switches endpoints both
//!   sockets carry the streams the two have in common, and a real server sends each event on
//!   both. From the moment a switch begins until [`SETTLE`] after it ended, the shard keeps an
//!   [`Overlap`]: every value delivered is an event of (WebId, Timestamp, Value, quality
//!   flags) — issue 14's rule for a seam, since PI stores several values at one timestamp —
//!   counted per endpoint. A value is handed out when its endpoint has now sent its event
//!   more often than any other endpoint did; otherwise it is a copy and is dropped. So an
//!   event comes out as often as one endpoint sent it: values of one endpoint are never
//!   matched with each other, so repeated events, edits and
//!   out-of-order values of one connection all pass, as a channel passes them. There is no
//!   window of a fixed number of values: a burst of any size is matched value by value.
//!   Outside an overlap nothing is recorded (a shard that does not switch costs a membership
//!   look-up per stream and nothing per value). With `includeInitialValues` each member also
//!   keeps its last delivered event, which a switch puts into its overlap record, so the
//!   initial value the new endpoint sends of an unchanged stream is recognised as the copy it
//!   is;
//! - **isolation**: a stream item that carries a stream-level `WebException` (the server could
//!   not serve that WebId in this set) rejects that WebId with the server's reason.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::events::StateEvent;
use crate::message::Message;
use crate::model::ValueKey;
use rustc_hash::FxHashMap;

use super::{Rejected, ShardMessage, SubscriptionEvent};

pub type SetMessageCallback = Box<dyn FnMut(ShardMessage) + Send + 'static>;
pub type SetStateCallback = Box<dyn FnMut(&SubscriptionEvent) + Send + 'static>;

/// How long an overlap's records are kept after its switch ended, in time of receipt (a
/// consumer that is behind does not shorten it): the new endpoint's copy of an event the old
/// one sent arrives within a server polling interval (about a second on PI Web API) after the
/// old one's. The records are bounded by what the shard receives in the switch plus this
/// time.
const SETTLE: Duration = Duration::from_secs(10);

/// What the endpoints of a switching shard sent: per event, how many times each endpoint
/// sent it (copies included). The event is handed out as many times as the endpoint that sent
/// it most often sent it: a value is new when its endpoint's count passes every other
/// endpoint's. This holds for any number of endpoints (switches in a row) and copies.
struct Overlap {
    /// When the records are dropped (in time of receipt); `None` while the switch runs.
    until: Option<Instant>,
    events: FxHashMap<(String, ValueKey), Vec<(u32, u32)>>,
}

impl Overlap {
    /// Whether a value of `web_id` from endpoint `url` is new (not a copy of an event another
    /// endpoint sent as often); counts it.
    fn admit(&mut self, web_id: &str, url: u32, key: ValueKey) -> bool {
        let counts = self.events.entry((web_id.to_string(), key)).or_default();
        let mine = match counts.iter_mut().find(|(e, _)| *e == url) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counts.push((url, 1));
                1
            }
        };
        counts
            .iter()
            .filter(|(e, _)| *e != url)
            .all(|&(_, n)| mine > n)
    }

    /// An event `url` delivered before the switch began (a member's last, with
    /// `includeInitialValues`): the new endpoint's initial value of it is a copy.
    fn seed(&mut self, web_id: &str, url: u32, key: &ValueKey) {
        let counts = self.events.entry((web_id.to_string(), *key)).or_default();
        if !counts.iter().any(|(e, _)| *e == url) {
            counts.push((url, 1));
        }
    }
}

/// A member of the set: its shard, and (with `includeInitialValues`) the endpoint and event of
/// its last delivered value.
struct Member {
    shard: u32,
    last: Option<Box<(u32, ValueKey)>>,
}

/// A shard's endpoints, numbered (the last few).
#[derive(Default)]
struct ShardUrls {
    urls: Vec<(Arc<str>, u32)>,
    next_url: u32,
}

impl ShardUrls {
    fn url_id(&mut self, url: &Arc<str>) -> u32 {
        if let Some((_, id)) = self
            .urls
            .iter()
            .find(|(u, _)| Arc::ptr_eq(u, url) || **u == **url)
        {
            return *id;
        }
        self.next_url += 1;
        if self.urls.len() >= 4 {
            self.urls.remove(0);
        }
        self.urls.push((url.clone(), self.next_url));
        self.next_url
    }
}

/// Per shard, for stats.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShardTally {
    pub values: u64,
    pub messages: u64,
    pub closed: bool,
}

struct State {
    items: VecDeque<ShardMessage>,
    /// WebId -> the shard that carries it. Looked up for every stream of every message:
    /// WebIds are not chosen by an adversary of this process, so a fast hash is fine.
    members: FxHashMap<String, Member>,
    /// Shards that are switching endpoints, or did lately.
    overlaps: HashMap<u32, Overlap>,
    urls: HashMap<u32, ShardUrls>,
    tallies: HashMap<u32, ShardTally>,
    /// Shards whose channel has not delivered `Closed` yet.
    live_shards: HashSet<u32>,
    closing: bool,
    /// Bumped by every `leave`: a message filtered before it is filtered again when queued.
    removals: u64,
    /// The set's end is being delivered (its `Closed` event, once).
    ending: bool,
    end: Option<Error>,
    polling: bool,
    rejected: Vec<Rejected>,
    /// Rejected by a per-stream error: still on their shard's URL until the shard changes.
    rejected_on_shard: Vec<(u32, String)>,
    values: u64,
    opened: Instant,
    /// Values per second over the last full second.
    rate: (Instant, u64, f64),
}

pub(crate) struct Merge {
    state: Mutex<State>,
    readable: Condvar,
    space: Condvar,
    capacity: usize,
    /// Members keep their last event (see the module's note on `includeInitialValues`).
    initial_values: bool,
    on_message: Option<Mutex<SetMessageCallback>>,
    on_state: Option<Mutex<SetStateCallback>>,
    /// Told when a per-stream error rejected a WebId (its shard's URL should lose it).
    rejected_signal: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What to cut out of one message.
#[derive(Default)]
struct Cuts {
    streams: HashSet<String>,
    /// WebId -> whether to keep each of its values, in the order of the message (over all
    /// its items: `Items` first, then `Value`, as the model reads them).
    values: HashMap<String, Vec<bool>>,
}

impl Cuts {
    fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.values.is_empty()
    }
}

impl Merge {
    /// `initial_values`: the shards' URLs ask for `includeInitialValues`.
    pub fn new(
        capacity: usize,
        initial_values: bool,
        on_message: Option<SetMessageCallback>,
        on_state: Option<SetStateCallback>,
    ) -> Merge {
        let now = Instant::now();
        Merge {
            state: Mutex::new(State {
                items: VecDeque::new(),
                members: FxHashMap::default(),
                overlaps: HashMap::new(),
                urls: HashMap::new(),
                tallies: HashMap::new(),
                live_shards: HashSet::new(),
                closing: false,
                removals: 0,
                ending: false,
                end: None,
                polling: false,
                rejected: Vec::new(),
                rejected_on_shard: Vec::new(),
                values: 0,
                opened: now,
                rate: (now, 0, 0.0),
            }),
            readable: Condvar::new(),
            space: Condvar::new(),
            capacity: capacity.max(1),
            initial_values,
            on_message: on_message.map(Mutex::new),
            on_state: on_state.map(Mutex::new),
            rejected_signal: Mutex::new(None),
        }
    }

    pub fn on_reject(&self, signal: std::sync::mpsc::Sender<()>) {
        *lock(&self.rejected_signal) = Some(signal);
    }

    pub fn delivers_messages(&self) -> bool {
        self.on_message.is_some()
    }

    /// With a message callback, membership changes wait for a running callback (so that
    /// none of a removed stream is delivered after `remove` returned).
    fn delivery_guard(&self) -> Option<MutexGuard<'_, SetMessageCallback>> {
        self.on_message.as_ref().map(lock)
    }

    pub fn emit(&self, event: SubscriptionEvent) {
        if let Some(cb) = &self.on_state {
            (lock(cb))(&event);
        }
    }

    pub fn is_member(&self, web_id: &str) -> bool {
        lock(&self.state).members.contains_key(web_id)
    }

    pub fn member_count(&self) -> usize {
        lock(&self.state).members.len()
    }

    /// Make these WebIds members of `shard` (before its channel may deliver them).
    pub fn join(&self, shard: u32, web_ids: &[String]) {
        let mut st = lock(&self.state);
        for w in web_ids {
            st.members.insert(w.clone(), Member { shard, last: None });
        }
    }

    /// `shard` is about to switch endpoints (a make-before-break update): from now on what
    /// its endpoints deliver is matched (see the module's note).
    pub fn switch_begins(&self, shard: u32) {
        let mut st = lock(&self.state);
        let State {
            members, overlaps, ..
        } = &mut *st;
        let o = overlaps.entry(shard).or_insert_with(|| Overlap {
            until: None,
            events: FxHashMap::default(),
        });
        o.until = None;
        if self.initial_values {
            for (w, m) in members.iter().filter(|(_, m)| m.shard == shard) {
                if let Some((url, key)) = m.last.as_deref() {
                    o.seed(w, *url, key);
                }
            }
        }
    }

    /// The switch of `shard` ended (the old endpoint is closed, or the update failed): its
    /// records are kept for [`SETTLE`] more.
    pub fn switch_ended(&self, shard: u32) {
        if let Some(o) = lock(&self.state).overlaps.get_mut(&shard) {
            o.until = Some(Instant::now() + SETTLE);
        }
    }

    /// A shard's channel exists now: it will deliver `Closed` once.
    pub fn shard_started(&self, shard: u32) {
        let mut st = lock(&self.state);
        st.live_shards.insert(shard);
        st.tallies.entry(shard).or_default();
    }

    /// Take these WebIds out of the set: from now on nothing of them is handed out, also
    /// not what is queued already. Returns those that were members, by shard.
    pub fn leave(&self, web_ids: &[String]) -> HashMap<u32, Vec<String>> {
        let _delivering = self.delivery_guard();
        let mut st = lock(&self.state);
        let mut gone: HashMap<u32, Vec<String>> = HashMap::new();
        for w in web_ids {
            if let Some(m) = st.members.remove(w) {
                gone.entry(m.shard).or_default().push(w.clone());
            }
        }
        if gone.is_empty() {
            return gone;
        }
        st.removals += 1;
        let removed: HashSet<&str> = gone.values().flatten().map(String::as_str).collect();
        let items = std::mem::take(&mut st.items);
        for item in items {
            let hit: HashSet<String> = item
                .message
                .content()
                .streams()
                .iter()
                .filter(|s| removed.contains(s.web_id.as_str()))
                .map(|s| s.web_id.clone())
                .collect();
            if hit.is_empty() {
                st.items.push_back(item);
                continue;
            }
            let cuts = Cuts {
                streams: hit,
                values: HashMap::new(),
            };
            if let Some(message) = rewrite(&item.message, &cuts) {
                st.items.push_back(ShardMessage {
                    shard: item.shard,
                    message,
                });
            }
        }
        drop(st);
        self.space.notify_all();
        gone
    }

    /// Undo `join` for WebIds whose shard could not be opened or updated.
    pub fn forget(&self, web_ids: &[String]) {
        let mut st = lock(&self.state);
        for w in web_ids {
            st.members.remove(w);
        }
    }

    pub fn reject(&self, web_id: &str, reason: String) {
        let r = Rejected {
            web_id: web_id.to_string(),
            reason,
        };
        lock(&self.state).rejected.push(r.clone());
        self.emit(SubscriptionEvent::Rejected(r));
    }

    pub fn rejected(&self) -> Vec<Rejected> {
        lock(&self.state).rejected.clone()
    }

    /// WebIds rejected by a per-stream error that are still on the URL of their shard.
    pub fn take_rejected_on_shards(&self) -> Vec<(u32, String)> {
        std::mem::take(&mut lock(&self.state).rejected_on_shard)
    }

    /// A shard's message, on the set's delivery thread.
    pub fn deliver(&self, shard: u32, message: Message) {
        // Parsed before any lock is taken: a `stats` call is not kept waiting by a parse.
        let content = message.content();
        let mut delivering = self.delivery_guard();
        let mut st = lock(&self.state);
        let url_arc = message.url_arc().clone();
        let mut cuts = Cuts::default();
        let mut newly_rejected = Vec::new();
        let mut kept_values = 0u64;
        let removals = st.removals;
        {
            let State {
                members,
                urls,
                overlaps,
                rejected_on_shard,
                ..
            } = &mut *st;
            let url = urls.entry(shard).or_default().url_id(&url_arc);
            // Received, not handed out: a consumer that is behind still gets each copy
            // matched.
            if overlaps
                .get(&shard)
                .and_then(|o| o.until)
                .is_some_and(|until| message.received() >= until)
            {
                overlaps.remove(&shard);
            }
            let mut overlap = overlaps.get_mut(&shard);
            for s in content.streams() {
                let member = match members.get_mut(&s.web_id) {
                    Some(m) if m.shard == shard => m,
                    _ => {
                        cuts.streams.insert(s.web_id.clone());
                        continue;
                    }
                };
                if let Some(e) = &s.web_exception {
                    members.remove(&s.web_id);
                    rejected_on_shard.push((shard, s.web_id.clone()));
                    newly_rejected.push((
                        s.web_id.clone(),
                        format!("HTTP {}: {}", e.status_code, e.errors.join(" ")),
                    ));
                    cuts.streams.insert(s.web_id.clone());
                    continue;
                }
                if overlap.is_none() && !self.initial_values {
                    kept_values += s.values.len() as u64;
                    continue;
                }
                // One WebId may come in several items of a message: their values in order.
                let mut keeps = overlap
                    .is_some()
                    .then(|| cuts.values.entry(s.web_id.clone()).or_default());
                for v in &s.values {
                    // A value without a valid timestamp is never matched: always handed out.
                    let key = ValueKey::of(v);
                    let fresh = match (overlap.as_deref_mut(), key) {
                        (Some(o), Some(key)) => o.admit(&s.web_id, url, key),
                        _ => true,
                    };
                    if let (true, true, Some(key)) = (fresh, self.initial_values, key) {
                        member.last = Some(Box::new((url, key)));
                    }
                    kept_values += u64::from(fresh);
                    if let Some(k) = keeps.as_deref_mut() {
                        k.push(fresh);
                    }
                }
            }
            // Only WebIds with a value to cut need rewriting.
            cuts.values.retain(|_, keeps| keeps.contains(&false));
        }
        let message = if cuts.is_empty() {
            Some(message)
        } else {
            rewrite(&message, &cuts)
        };
        st.values += kept_values;
        let tally = st.tallies.entry(shard).or_default();
        tally.values += kept_values;
        if message.is_some() {
            tally.messages += 1;
        }
        drop(st);
        if !newly_rejected.is_empty() {
            if let Some(tx) = lock(&self.rejected_signal).as_ref() {
                let _ = tx.send(());
            }
        }
        for (w, reason) in newly_rejected {
            self.reject(&w, reason);
        }
        let Some(message) = message else { return };
        if let Some(cb) = delivering.as_mut() {
            // Membership cannot have changed: `leave` waits for this guard.
            (cb)(ShardMessage { shard, message });
            return;
        }
        let mut st = lock(&self.state);
        while st.items.len() >= self.capacity && st.end.is_none() {
            st = self.space.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        if st.end.is_some() {
            // Freed (`abandon`): nobody takes it.
            return;
        }
        // A remove ran since this message was filtered (e.g. while it waited for room): what
        // it removed must not be queued now.
        let message = if st.removals == removals {
            message
        } else {
            let gone: HashSet<String> = message
                .content()
                .streams()
                .iter()
                .filter(|s| st.members.get(&s.web_id).is_none_or(|m| m.shard != shard))
                .map(|s| s.web_id.clone())
                .collect();
            if gone.is_empty() {
                message
            } else {
                let cuts = Cuts {
                    streams: gone,
                    values: HashMap::new(),
                };
                match rewrite(&message, &cuts) {
                    Some(m) => m,
                    None => return,
                }
            }
        };
        st.items.push_back(ShardMessage { shard, message });
        drop(st);
        self.readable.notify_all();
    }

    /// A shard's state event, on the set's delivery thread (after all its messages when
    /// it is `Closed`).
    pub fn shard_event(&self, shard: u32, event: &StateEvent) {
        self.emit(SubscriptionEvent::Shard {
            shard,
            event: event.clone(),
        });
        if let StateEvent::Closed { .. } = event {
            let mut st = lock(&self.state);
            st.live_shards.remove(&shard);
            st.urls.remove(&shard);
            st.overlaps.remove(&shard);
            if let Some(t) = st.tallies.get_mut(&shard) {
                t.closed = true;
            }
            let done = st.closing && st.live_shards.is_empty() && !st.ending;
            st.ending |= done;
            drop(st);
            if done {
                self.end();
            }
        }
    }

    /// Every shard is closed: the set's `Closed` event, then its end (so that a caller of
    /// `wait_closed` finds the event delivered).
    fn end(&self) {
        let outcome = Error::new(ErrorKind::Closed, "subscription set closed");
        self.emit(SubscriptionEvent::Closed {
            outcome: outcome.clone(),
        });
        let mut st = lock(&self.state);
        if st.end.is_none() {
            st.end = Some(outcome);
        }
        drop(st);
        self.readable.notify_all();
        self.space.notify_all();
    }

    /// `close` was asked for: once every shard delivered `Closed`, the set has ended.
    pub fn closing(&self) {
        let mut st = lock(&self.state);
        st.closing = true;
        let done = st.live_shards.is_empty() && !st.ending;
        st.ending |= done;
        drop(st);
        if done {
            self.end();
        }
    }

    pub fn is_closing(&self) -> bool {
        lock(&self.state).closing
    }

    /// Wait until every shard delivered `Closed`. False on timeout.
    pub fn wait_end(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.state);
        while st.end.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .readable
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// The next message; after the end, the terminal outcome on every call.
    pub fn pop(&self, timeout: Option<Duration>) -> Result<ShardMessage, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = lock(&self.state);
        if st.polling {
            return Err(Error::new(
                ErrorKind::Busy,
                "another thread is already polling this subscription set",
            ));
        }
        loop {
            if let Some(item) = st.items.pop_front() {
                drop(st);
                self.space.notify_all();
                return Ok(item);
            }
            if let Some(end) = &st.end {
                return Err(end.clone());
            }
            st.polling = true;
            st = match deadline {
                None => self.readable.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        st.polling = false;
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            "no message within the timeout",
                        ));
                    }
                    self.readable
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            st.polling = false;
        }
    }

    /// (values delivered, values/s over the last full second, queued, tallies).
    pub fn tallies(&self) -> (u64, f64, usize, HashMap<u32, ShardTally>) {
        let mut st = lock(&self.state);
        let now = Instant::now();
        let (since, at_values, mut rate) = st.rate;
        let elapsed = now.duration_since(since).as_secs_f64();
        if elapsed >= 1.0 {
            rate = (st.values - at_values) as f64 / elapsed;
            st.rate = (now, st.values, rate);
        } else if since == st.opened && elapsed > 0.0 {
            rate = st.values as f64 / elapsed;
        }
        (st.values, rate, st.items.len(), st.tallies.clone())
    }

    /// The set was let go of: wake a delivery thread waiting for room.
    pub fn abandon(&self) {
        let mut st = lock(&self.state);
        st.items.clear();
        if st.end.is_none() {
            st.end = Some(Error::new(ErrorKind::Closed, "subscription set freed"));
        }
        drop(st);
        self.space.notify_all();
        self.readable.notify_all();
    }
}

/// The message without the cut streams and values, as JSON re-written from the original
/// (fields the library does not know are kept); `None` when nothing of it is left.
fn rewrite(message: &Message, cuts: &Cuts) -> Option<Message> {
    let mut doc: serde_json::Value = serde_json::from_str(message.json()).ok()?;
    // Per WebId, how many of its values were passed so far (an index into its keep list).
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut left = 0usize;
    if let Some(items) = doc.get_mut("Items").and_then(|i| i.as_array_mut()) {
        items.retain_mut(|item| {
            let Some(web_id) = item
                .get("WebId")
                .and_then(|w| w.as_str())
                .map(str::to_string)
            else {
                left += 1;
                return true;
            };
            if cuts.streams.contains(&web_id) {
                return false;
            }
            let Some((id, keeps)) = cuts.values.get_key_value(&web_id) else {
                left += 1;
                return true;
            };
            let i = at.entry(id.as_str()).or_insert(0);
            // A value the keep list does not reach is kept: nothing is lost.
            let mut keep_next = || {
                let keep = keeps.get(*i).copied().unwrap_or(true);
                *i += 1;
                keep
            };
            let mut any = false;
            if let Some(vs) = item.get_mut("Items").and_then(|i| i.as_array_mut()) {
                vs.retain(|_| keep_next());
                any |= !vs.is_empty();
            }
            if item.get("Value").is_some_and(|v| !v.is_null()) {
                if keep_next() {
                    any = true;
                } else if let Some(o) = item.as_object_mut() {
                    o.remove("Value");
                }
            }
            if any {
                left += 1;
            }
            any
        });
    }
    if left == 0 {
        return None;
    }
    let json = serde_json::to_string(&doc).ok()?;
    Some(message.with_json(&json))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of endpoint `url` with one value per (WebId, timestamp second, value).
    fn msg(url: &str, values: &[(&str, u32, i64)]) -> Message {
        let items: Vec<String> = values
            .iter()
            .map(|(w, sec, v)| {
                format!(
                    r#"{{"WebId":"{w}","Items":[{{"Timestamp":"2026-12-01T00:00:{sec:02}Z","Value":{v},"Good":true}}]}}"#
                )
            })
            .collect();
        Message::new(
            &format!(r#"{{"Items":[{}]}}"#, items.join(",")),
            Arc::from(url),
        )
    }

    /// Every (WebId, value) handed out so far, in order.
    fn drain(m: &Merge) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        while let Ok(sm) = m.pop(Some(Duration::ZERO)) {
            for v in sm.message.content().values() {
                out.push((v.stream.web_id.clone(), v.value.value.as_i64().unwrap()));
            }
        }
        out
    }

    fn merge(initial_values: bool) -> Merge {
        let m = Merge::new(100, initial_values, None, None);
        m.join(1, &["W".to_string(), "X".to_string()]);
        m.shard_started(1);
        m
    }

    #[test]
    fn an_event_three_endpoints_send_comes_out_once() {
        // With initial values: A delivers event 20 before a switch; B's initial value is its
        // copy; both send 21; a second switch's endpoint C sends 20 late (its initial value)
        // and 21 again: each event once.
        let m = merge(true);
        m.deliver(1, msg("ws://a", &[("W", 20, 20)]));
        m.switch_begins(1);
        m.deliver(1, msg("ws://b", &[("W", 20, 20)]));
        m.deliver(1, msg("ws://b", &[("W", 21, 21)]));
        m.deliver(1, msg("ws://a", &[("W", 21, 21)]));
        m.switch_ended(1);
        m.switch_begins(1);
        m.deliver(1, msg("ws://c", &[("W", 20, 20)]));
        m.deliver(1, msg("ws://c", &[("W", 21, 21), ("W", 22, 22)]));
        m.switch_ended(1);
        let w = |v: i64| ("W".to_string(), v);
        assert_eq!(drain(&m), vec![w(20), w(21), w(22)]);
    }

    #[test]
    fn values_of_one_endpoint_all_pass_and_copies_match_value_by_value() {
        // A sends two distinct values at one timestamp and one value twice (PI may store
        // either); B sends the same: each as often as A sent it. B then sends a third value
        // at that timestamp that A never sent: it is new.
        let m = merge(false);
        m.switch_begins(1);
        let a = [("W", 5, 1), ("W", 5, 2), ("X", 5, 7), ("X", 5, 7)];
        m.deliver(1, msg("ws://a", &a));
        m.deliver(1, msg("ws://b", &a));
        m.deliver(1, msg("ws://b", &[("W", 5, 3)]));
        m.switch_ended(1);
        let v = |w: &str, n: i64| (w.to_string(), n);
        assert_eq!(
            drain(&m),
            vec![v("W", 1), v("W", 2), v("X", 7), v("X", 7), v("W", 3)]
        );
    }
}
