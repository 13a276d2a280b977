//! The backfill of one seam: `recorded` requests page by page, values into the queue as the
//! consumer makes room, state events with what was delivered and what was not.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::command::Command;
use super::gapfill::{self, GapFill, KeyCounts, Plan, PlannedRequest, Seam, ValueKey};
use super::options::ChannelOptions;
use super::session::close_requested;
use super::Shared;
use crate::error::{Error, ErrorKind};
use crate::events::{MissingRange, StateEvent};
use crate::message::Message;
use crate::model::{RecordedPage, Stream, TimedValue};
use crate::wire::{self, Target};

/// The cause of a backfill cut short by an update.
const INTERRUPTED: &str =
    "interrupted by an update (the update's own backfill follows for the streams both endpoints share)";

/// Values per backfilled message, at most (a page is cut into messages of one stream each).
const VALUES_PER_MESSAGE: usize = 500;

/// Largest `recorded` response body accepted.
const MAX_PAGE_BYTES: usize = 64 << 20;

/// Pages of one backfill, at most: a server whose `Next` links never end is not followed forever.
const MAX_PAGES: usize = 1_000_000;

pub struct Backfill<'a> {
    pub shared: &'a Shared,
    pub cfg: &'a Arc<ChannelOptions>,
    pub target: &'a Target,
    pub url: &'a Arc<str>,
    pub close_rx: &'a mut watch::Receiver<bool>,
    /// An update asked for meanwhile interrupts the backfill (it is kept in `stashed` for the
    /// session; the update's own backfill follows for the streams both endpoints share).
    pub commands: &'a mut mpsc::UnboundedReceiver<Command>,
    pub stashed: &'a mut Option<Command>,
    pub gap: &'a Mutex<GapFill>,
}

/// How a backfill ended, besides its events.
pub enum Outcome {
    Done,
    /// A close was asked for: the channel ends.
    Closed,
    /// An update was asked for (stashed).
    Interrupted,
}

/// Where a request is in the plan.
struct Pending {
    request: PlannedRequest,
    /// Its `maxCount`.
    max_count: usize,
    /// Its start: the earliest of its streams'.
    start: i64,
}

struct Run {
    values: u64,
    messages: u64,
    /// Keys delivered, per stream (live values may repeat them).
    keys: HashMap<String, KeyCounts>,
    /// Streams whose values up to the end were all delivered.
    complete: HashSet<String>,
    /// Streams named by an answer or the plan, with where their backfill started.
    starts: HashMap<String, i64>,
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn lock(gap: &Mutex<GapFill>) -> std::sync::MutexGuard<'_, GapFill> {
    gap.lock().unwrap_or_else(|p| p.into_inner())
}

impl Backfill<'_> {
    /// Fill the seam; live data waits in the socket meanwhile. Never fails the channel.
    pub async fn run(&mut self, seam: Seam) -> Outcome {
        let end = now_ns();
        let plan = match Plan::for_channel(self.target.request_target()) {
            Ok(p) => p,
            Err(why) => {
                let missing = self.everything_missing(seam, end);
                self.fail(Error::new(ErrorKind::InvalidArgument, why), 0, missing);
                return Outcome::Done;
            }
        };
        let kept = gapfill::kept_params(self.target.request_target());
        let (opts, endpoint_since, retained, marks) = {
            let mut g = lock(self.gap);
            g.clear_skip();
            let retained = g.take_retained();
            // The streams this backfill is for: after an update, those of the old endpoint
            // (the new one's answer tells which it shares); after a reconnect, those of the
            // endpoint. Marks of streams the channel had before are left out.
            let old = g.take_old_endpoint();
            let marks: HashMap<String, gapfill::Mark> = g
                .marks()
                .filter(|(w, _)| match (&old, seam) {
                    (Some(old), Seam::Update) => old.contains(*w),
                    _ => g.on_endpoint(w),
                })
                .map(|(w, m)| (w.clone(), m.clone()))
                .collect();
            (g.opts, g.endpoint_since, retained, marks)
        };
        // Where each planned stream starts: its newest delivered value, else (a reconnect) when
        // the endpoint started streaming. After an update only the streams with a mark count.
        // A single stream's answer names no stream: it is the stream of the channel's messages
        // (whose WebId may be of another form than the URL's, see webIdType). After an update
        // only when it is the same stream as before.
        let single_key = match plan.requests.as_slice() {
            [r] if r.single && marks.len() == 1 => marks
                .keys()
                .next()
                .filter(|k| seam == Seam::Reconnect || **k == r.web_ids[0])
                .cloned(),
            _ => None,
        };
        let start_of = |web_id: &str| -> Option<i64> {
            match marks.get(web_id) {
                Some(m) => Some(m.newest),
                None if seam == Seam::Reconnect => Some(endpoint_since),
                None => None,
            }
        };
        let mut missing: Vec<MissingRange> = Vec::new();
        let mut cut_cause: Option<String> = None;
        let floor = opts
            .max_span
            .map(|s| end.saturating_sub(s.as_nanos().min(i64::MAX as u128) as i64));
        let mut pending = Vec::new();
        let mut streams_known = 0usize;
        for r in &plan.requests {
            let ids: Vec<String> = if r.single {
                vec![single_key.clone().unwrap_or_else(|| r.web_ids[0].clone())]
            } else {
                r.web_ids.clone()
            };
            let starts: Vec<i64> = if ids.is_empty() {
                // A stream set of an element: its streams are known by their marks only.
                let mut s: Vec<i64> = marks.values().map(|m| m.newest).collect();
                if seam == Seam::Reconnect {
                    s.push(endpoint_since);
                }
                s
            } else {
                ids.iter().filter_map(|w| start_of(w)).collect()
            };
            streams_known += if ids.is_empty() {
                marks.len()
            } else {
                starts.len()
            };
            let Some(mut start) = starts.iter().copied().min() else {
                continue;
            };
            if let Some(floor) = floor {
                if start < floor {
                    // Longer than gap_fill_max_span: the older part is not fetched.
                    let cut: Vec<(String, i64)> = if ids.is_empty() {
                        let mut v: Vec<(String, i64)> =
                            marks.iter().map(|(w, m)| (w.clone(), m.newest)).collect();
                        if seam == Seam::Reconnect && endpoint_since < floor {
                            v.push((String::new(), endpoint_since));
                        }
                        v
                    } else {
                        ids.iter()
                            .filter_map(|w| start_of(w).map(|s| (w.clone(), s)))
                            .collect()
                    };
                    for (w, s) in cut {
                        if s < floor {
                            missing.push(gapfill::missing_from(&w, marks.get(&w), s, floor));
                        }
                    }
                    cut_cause = Some(format!(
                        "the gap is longer than gap_fill_max_span ({} s): only its last part was fetched",
                        opts.max_span.unwrap_or_default().as_secs_f64()
                    ));
                    start = floor;
                }
            }
            let max_count = gapfill::page_size(if ids.is_empty() {
                marks.len()
            } else {
                ids.len()
            });
            pending.push(Pending {
                request: PlannedRequest {
                    path_and_query: gapfill::with_range(&r.path_and_query, start, max_count),
                    web_ids: ids,
                    single: r.single,
                },
                max_count,
                start,
            });
        }
        if pending.is_empty() {
            return Outcome::Done;
        }
        let first_url = self
            .target
            .with_request_target(&pending[0].request.path_and_query)
            .display()
            .to_string();
        self.shared.emit(StateEvent::BackfillStarted {
            url: first_url,
            streams: streams_known,
        });
        let mut run = Run {
            values: 0,
            messages: 0,
            keys: HashMap::new(),
            complete: HashSet::new(),
            starts: HashMap::new(),
        };
        // What live values may repeat: what the old endpoint delivered during the update.
        for (w, k) in retained {
            run.keys.insert(w, k);
        }
        let floor_of = |w: &str| -> i64 {
            let s = start_of(w).unwrap_or(i64::MIN);
            floor.map_or(s, |f| s.max(f))
        };
        let mut queue: std::collections::VecDeque<Pending> = pending.into();
        let mut pages = 0usize;
        while let Some(p) = queue.pop_front() {
            let mut next = Some(p.request.path_and_query.clone());
            let mut continuations: Vec<String> = Vec::new();
            let mut starts: HashMap<String, (i64, KeyCounts)> = HashMap::new();
            let mut stuck: Vec<String> = Vec::new();
            while let Some(pq) = next.take() {
                pages += 1;
                if pages > MAX_PAGES {
                    let cause = Error::new(ErrorKind::Protocol, format!("more than {MAX_PAGES} pages of recorded values: the server's Next links do not end"));
                    let m = self.missing_after(&run, &p, &queue, &marks, end, floor_of);
                    self.finish_failed(cause, &run, m, missing);
                    self.arm(run.keys);
                    return Outcome::Done;
                }
                let request = self.target.with_request_target(&pq);
                let cfg = self.cfg;
                let page = tokio::select! {
                    r = get(cfg, &request) => r,
                    _ = close_requested(self.close_rx) => return Outcome::Closed,
                    Some(cmd) = self.commands.recv() => {
                        *self.stashed = Some(cmd);
                        let m = self.missing_after(&run, &p, &queue, &marks, end, floor_of);
                        missing.extend(m);
                        self.finish_done(&run, missing, Some(INTERRUPTED.to_string()));
                        self.arm(run.keys);
                        return Outcome::Interrupted;
                    }
                };
                let page = match page {
                    Ok(p) => p,
                    Err(cause) => {
                        let m = self.missing_after(&run, &p, &queue, &marks, end, floor_of);
                        self.finish_failed(cause, &run, m, missing);
                        self.arm(run.keys);
                        return Outcome::Done;
                    }
                };
                next = page.next_page().map(path_and_query);
                if next.as_deref() == Some(pq.as_str()) {
                    // A server whose Next link repeats the request would deliver its page again.
                    let cause = Error::new(
                        ErrorKind::Protocol,
                        format!("{}: Links.Next repeats the request", request.display()),
                    );
                    let m = self.missing_after(&run, &p, &queue, &marks, end, floor_of);
                    self.finish_failed(cause, &run, m, missing);
                    self.arm(run.keys);
                    return Outcome::Done;
                }
                let page_exception = page.web_exception().cloned();
                let mut streams: Vec<Stream> = page.streams().to_vec();
                if p.request.single {
                    if let Some(s) = streams.first_mut() {
                        s.web_id = p.request.web_ids[0].clone();
                    }
                }
                for s in &mut streams {
                    if seam == Seam::Update && !marks.contains_key(&s.web_id) {
                        // Not a stream the old endpoint had: the channel starts it fresh.
                        s.values.clear();
                        continue;
                    }
                    let cut_at_max_count =
                        next.is_none() && s.values.len() >= p.max_count && !s.web_id.is_empty();
                    let last_ts = s.values.iter().filter_map(|v| v.timestamp.unix_ns()).max();
                    // Where this stream starts in this request, fixed for all its pages: its
                    // newest delivered value now (earlier requests may have moved it), with the
                    // values delivered at exactly that time.
                    let (start, at_start) = starts.entry(s.web_id.clone()).or_insert_with(|| {
                        let floor = floor_of(&s.web_id);
                        match lock(self.gap).mark(&s.web_id) {
                            Some(m) if m.newest >= floor => (m.newest, m.at_newest.clone()),
                            _ => (floor, KeyCounts::default()),
                        }
                    });
                    run.starts.entry(s.web_id.clone()).or_insert(*start);
                    let start = *start;
                    if cut_at_max_count {
                        // Cut at maxCount without a Next link: ask again from its last value,
                        // unless the page did not get past its start (more than maxCount
                        // values at one timestamp: asking again gives the same page).
                        if last_ts.is_some_and(|t| t > start) || p.max_count < gapfill::PAGE_SIZE {
                            continuations.push(s.web_id.clone());
                        } else {
                            stuck.push(s.web_id.clone());
                        }
                    }
                    s.values.retain(|v| match ValueKey::of(v) {
                        // Kept: a value without a valid timestamp is never matched.
                        None => true,
                        Some(k) if k.ts < start => false,
                        Some(k) if k.ts == start && at_start.take(&k) => false,
                        Some(_) => true,
                    });
                }
                let budget = opts.max_values.map(|m| m.saturating_sub(run.values));
                let (delivered_all, out) = self
                    .deliver(streams, page_exception, budget, &mut run)
                    .await;
                match out {
                    Outcome::Closed => return Outcome::Closed,
                    Outcome::Interrupted => {
                        // What this page still held, and everything after, was not delivered.
                        let m = self.missing_after(&run, &p, &queue, &marks, end, floor_of);
                        missing.extend(m);
                        self.finish_done(&run, missing, Some(INTERRUPTED.to_string()));
                        self.arm(run.keys);
                        return Outcome::Interrupted;
                    }
                    Outcome::Done => {}
                }
                if !delivered_all {
                    // gap_fill_max_values reached.
                    let m = self.missing_after(&run, &p, &queue, &marks, end, floor_of);
                    missing.extend(m);
                    cut_cause = Some(format!(
                        "gap_fill_max_values ({}) values were delivered: the rest was not fetched",
                        opts.max_values.unwrap_or_default()
                    ));
                    self.finish_done(&run, missing, cut_cause);
                    self.arm(run.keys);
                    return Outcome::Done;
                }
            }
            for w in &p.request.web_ids {
                run.complete.insert(w.clone());
            }
            if !stuck.is_empty() {
                let g = lock(self.gap);
                for w in &stuck {
                    run.complete.remove(w);
                    missing.push(gapfill::missing_from(w, g.mark(w), floor_of(w), end));
                }
                cut_cause = Some(format!(
                    "the server cut a page at maxCount without a Links.Next link, with more than {} values at one timestamp: the rest of {} could not be asked for",
                    p.max_count,
                    stuck.join(", ")
                ));
            }
            if !continuations.is_empty() {
                let from: Vec<i64> = {
                    let g = lock(self.gap);
                    continuations
                        .iter()
                        .map(|w| g.mark(w).map_or(p.start, |m| m.newest))
                        .collect()
                };
                for (w, s) in continuations.iter().zip(from) {
                    run.complete.remove(w);
                    for r in plan.ad_hoc(std::slice::from_ref(w), &kept) {
                        queue.push_back(Pending {
                            request: PlannedRequest {
                                path_and_query: gapfill::with_range(
                                    &r.path_and_query,
                                    s,
                                    gapfill::PAGE_SIZE,
                                ),
                                ..r
                            },
                            max_count: gapfill::PAGE_SIZE,
                            start: s,
                        });
                    }
                }
            }
        }
        self.finish_done(&run, missing, cut_cause);
        self.arm(run.keys);
        Outcome::Done
    }

    /// Live values from now on are checked against what was delivered.
    fn arm(&self, keys: HashMap<String, KeyCounts>) {
        lock(self.gap).arm(keys);
    }
}

/// One page, within `open_timeout`.
async fn get(cfg: &ChannelOptions, request: &Target) -> Result<RecordedPage, Error> {
    let limit = cfg.open_timeout;
    let text =
        match tokio::time::timeout(limit, wire::get(request, &cfg.connect, MAX_PAGE_BYTES)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::OpenTimeout,
                    format!(
                        "{}: no answer within open_timeout ({} s)",
                        request.display(),
                        limit.as_secs_f64()
                    ),
                ))
            }
        };
    RecordedPage::parse(&text)
        .map_err(|e| Error::new(ErrorKind::Protocol, format!("{}: {e}", request.display())))
}

impl Backfill<'_> {
    /// Queue the values of one page as messages of one stream each (at most
    /// `VALUES_PER_MESSAGE` values), each only when the queue has room. With a `budget`, at
    /// most that many values; false when it cut something. A `WebException` the page carried
    /// beside its items (its values may be incomplete) goes with its first message, as a live
    /// message would carry it.
    async fn deliver(
        &mut self,
        streams: Vec<Stream>,
        mut web_exception: Option<crate::model::WebException>,
        budget: Option<u64>,
        run: &mut Run,
    ) -> (bool, Outcome) {
        let mut left = budget;
        for s in streams {
            let mut values: Vec<TimedValue> = s.values;
            let header = Stream {
                values: Vec::new(),
                ..s
            };
            let mut all = true;
            if let Some(l) = left {
                if (values.len() as u64) > l {
                    values.truncate(l as usize);
                    all = false;
                }
            }
            while !values.is_empty() {
                let rest = values.split_off(values.len().min(VALUES_PER_MESSAGE));
                let chunk = std::mem::replace(&mut values, rest);
                match self.wait_for_room().await {
                    Outcome::Done => {}
                    other => return (true, other),
                }
                let n = chunk.len() as u64;
                let keys = run.keys.entry(header.web_id.clone()).or_default();
                for v in &chunk {
                    if let Some(k) = ValueKey::of(v) {
                        keys.add(k);
                    }
                }
                let msg = Message::made(
                    vec![Stream {
                        values: chunk,
                        ..header.clone()
                    }],
                    web_exception.take(),
                    self.url.clone(),
                    true,
                );
                lock(self.gap).observe(msg.content());
                self.shared.counters.message_received(msg.json().len());
                self.shared.queue.push(msg);
                run.values += n;
                run.messages += 1;
                if let Some(l) = left.as_mut() {
                    *l -= n;
                }
            }
            if !all {
                return (false, Outcome::Done);
            }
        }
        (true, Outcome::Done)
    }

    /// Until the queue has room (the consumer drains it), or a close is asked for.
    async fn wait_for_room(&mut self) -> Outcome {
        loop {
            if self.shared.queue.is_abandoned() || self.shared.queue.has_space() {
                return Outcome::Done;
            }
            tokio::select! {
                _ = self.shared.queue.space_freed() => {}
                _ = close_requested(self.close_rx) => return Outcome::Closed,
                Some(cmd) = self.commands.recv() => {
                    *self.stashed = Some(cmd);
                    return Outcome::Interrupted;
                }
                // space_freed may be missed between the check and the wait: look again.
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// The ranges not delivered when the backfill stopped in request `current`: its streams
    /// (those not complete) and every stream of the requests not yet made.
    fn missing_after(
        &self,
        run: &Run,
        current: &Pending,
        queue: &std::collections::VecDeque<Pending>,
        marks: &HashMap<String, gapfill::Mark>,
        end: i64,
        floor_of: impl Fn(&str) -> i64,
    ) -> Vec<MissingRange> {
        let g = lock(self.gap);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for p in std::iter::once(current).chain(queue.iter()) {
            let ids: Vec<String> = if p.request.web_ids.is_empty() {
                // A stream set of an element: the streams seen, and the others as "every
                // stream" from the request's start.
                let mut v: Vec<String> = marks.keys().cloned().collect();
                v.extend(run.starts.keys().cloned());
                v.push(String::new());
                v
            } else {
                p.request.web_ids.clone()
            };
            for w in ids {
                if run.complete.contains(&w) || !seen.insert(w.clone()) {
                    continue;
                }
                let start = if w.is_empty() { p.start } else { floor_of(&w) };
                out.push(gapfill::missing_from(&w, g.mark(&w), start, end));
            }
        }
        out
    }

    /// Every stream of the channel, when nothing could be asked.
    fn everything_missing(&self, seam: Seam, end: i64) -> Vec<MissingRange> {
        let g = lock(self.gap);
        let mut out: Vec<MissingRange> = g
            .marks()
            .map(|(w, m)| gapfill::missing_from(w, Some(m), m.newest, end))
            .collect();
        if seam == Seam::Reconnect {
            out.push(gapfill::missing_from("", None, g.endpoint_since, end));
        }
        out
    }

    fn fail(&self, cause: Error, values: u64, missing: Vec<MissingRange>) {
        self.shared.emit(StateEvent::BackfillFailed {
            cause,
            values,
            missing,
        });
    }

    fn finish_failed(
        &self,
        cause: Error,
        run: &Run,
        mut after: Vec<MissingRange>,
        cut: Vec<MissingRange>,
    ) {
        after.extend(cut);
        let text = format!(
            "backfill failed: {}; not recovered: {}",
            cause.message(),
            crate::events::describe_missing(&after)
        );
        self.shared.set_last_error(&text);
        self.fail(cause, run.values, after);
    }

    fn finish_done(&self, run: &Run, missing: Vec<MissingRange>, cause: Option<String>) {
        if !missing.is_empty() {
            let text = format!(
                "backfill incomplete: {}; not recovered: {}",
                cause.as_deref().unwrap_or("cut"),
                crate::events::describe_missing(&missing)
            );
            self.shared.set_last_error(&text);
        }
        self.shared.emit(StateEvent::BackfillDone {
            values: run.values,
            messages: run.messages,
            missing,
            cause,
        });
    }
}

/// The path and query of a `Links.Next` URL (absolute or not): it is asked of the channel's
/// own server, with its credentials, never of another host.
fn path_and_query(link: &str) -> String {
    match url::Url::parse(link) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => link.to_string(),
    }
}
