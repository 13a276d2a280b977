//! `gap_fill`: values archived while a channel was down (or switching endpoints) reach the
//! consumer exactly once, in time order per stream, counted against the simulator's recorded
//! history; failures and bounds are reported and never stop live data.
//!
//! The simulator runs with its archive: one writer archives values of every stream, channels
//! send what is archived after they opened, and the recorded endpoints serve the history. A
//! channel's values of a stream must therefore be one contiguous run of the history: any
//! value lost, invented, duplicated or out of order breaks the run.

mod common;
mod tls_common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use piwebasync::model::Content;
use piwebasync::{Callbacks, Channel, ErrorKind, Message, MissingRange, StateEvent};
use piwebasync_sim::{format_ticks, RecordedFault, SimConfig, Simulator};

/// A channel with gap fill and a state callback that keeps the events.
struct Watched {
    ch: Channel,
    events: Arc<Mutex<Vec<StateEvent>>>,
    /// Everything polled so far.
    got: Vec<Message>,
}

impl Watched {
    fn open(url: &str, pairs: &[(&str, &str)]) -> Watched {
        let events = Arc::new(Mutex::new(Vec::new()));
        let e = events.clone();
        let callbacks = Callbacks {
            on_message: None,
            on_state: Some(Box::new(move |ev: &StateEvent| {
                e.lock().unwrap().push(ev.clone())
            })),
        };
        let mut all = vec![
            ("gap_fill", "true"),
            ("reconnect", "true"),
            ("reconnect_initial_delay", "0.2"),
            ("reconnect_max_delay", "0.5"),
        ];
        all.extend_from_slice(pairs);
        let ch = Channel::open_with_callbacks(url, &config(&all), callbacks).expect("opens");
        Watched {
            ch,
            events,
            got: Vec::new(),
        }
    }

    /// Poll (keeping what arrives) until `pred` holds on the events, within SOON.
    fn poll_until(&mut self, what: &str, mut pred: impl FnMut(&[StateEvent]) -> bool) {
        let deadline = Instant::now() + SOON;
        loop {
            if pred(&self.events.lock().unwrap()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {SOON:?}; events: {:?}",
                self.events.lock().unwrap()
            );
            if let Ok(m) = self.ch.poll_next(Some(Duration::from_millis(50))) {
                self.got.push(m);
            }
        }
    }

    /// Poll until `n` more messages with values arrived.
    fn poll_values(&mut self, n: usize) {
        let mut k = 0;
        while k < n {
            let m = self
                .ch
                .poll_next(Some(SOON))
                .unwrap_or_else(|e| panic!("a live message: {e}; events: {:?}", self.events()));
            if m.content().value_count() > 0 {
                k += 1;
            }
            self.got.push(m);
        }
    }

    fn events(&self) -> Vec<StateEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Close and take the rest.
    fn finish(mut self) -> (Vec<Message>, Vec<StateEvent>) {
        self.ch.close();
        let (rest, kind) = drain(&self.ch);
        assert_eq!(kind, ErrorKind::Closed);
        self.got.extend(rest);
        let events = self.events();
        (self.got, events)
    }
}

fn count(events: &[StateEvent], f: impl Fn(&StateEvent) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

fn backfills_done(events: &[StateEvent]) -> usize {
    dones(events).len()
}

/// A `BackfillDone` event's fields.
struct Done<'a> {
    values: u64,
    messages: u64,
    missing: &'a [MissingRange],
    cause: Option<&'a str>,
}

/// Every `BackfillDone` of `events`, in order.
fn dones(events: &[StateEvent]) -> Vec<Done<'_>> {
    events
        .iter()
        .filter_map(|e| match e {
            StateEvent::BackfillDone {
                values,
                messages,
                missing,
                cause,
            } => Some(Done {
                values: *values,
                messages: *messages,
                missing,
                cause: cause.as_deref(),
            }),
            _ => None,
        })
        .collect()
}

/// The first `BackfillDone` of `events`; the test fails without one.
fn first_done(events: &[StateEvent]) -> Done<'_> {
    dones(events)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no backfill done: {events:?}"))
}

/// The missing range reported for stream `id`; the test fails without one.
fn range_of<'a>(missing: &'a [MissingRange], id: &str) -> &'a MissingRange {
    missing
        .iter()
        .find(|m| m.web_id == id)
        .unwrap_or_else(|| panic!("{id} not reported: {missing:?}"))
}

/// One value as compared with the history: timestamp text, value, flags.
type Key = (String, String, bool, bool, bool, bool);

fn keys_of(content: &Content, stream: usize) -> Vec<Key> {
    content.streams()[stream]
        .values
        .iter()
        .map(|v| {
            (
                v.timestamp_text.clone(),
                format!("{:?}", v.value),
                v.good(),
                v.questionable(),
                v.substituted(),
                v.annotated(),
            )
        })
        .collect()
}

/// The history of every stream, as keys.
fn history(sim: &Simulator) -> HashMap<String, Vec<Key>> {
    let mut out = HashMap::new();
    for (i, s) in sim.model().streams().iter().enumerate() {
        let h = sim.history(i);
        let text = format!(
            r#"{{"Items":[{{"WebId":"x","Items":[{}]}}]}}"#,
            h.iter()
                .map(|a| a.json.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        let c = Content::parse(&text);
        assert!(!c.is_unparsable(), "{:?}", c.parse_error());
        let keys = if h.is_empty() {
            Vec::new()
        } else {
            keys_of(&c, 0)
        };
        for (k, a) in keys.iter().zip(&h) {
            assert_eq!(k.0, format_ticks(a.ticks));
        }
        out.insert(s.web_id().to_string(), keys);
    }
    out
}

/// What the consumer got, per stream, in delivery order; and how many were backfilled.
fn received(messages: &[Message]) -> (HashMap<String, Vec<Key>>, usize) {
    let mut out: HashMap<String, Vec<Key>> = HashMap::new();
    let mut backfilled = 0;
    for m in messages {
        let c = m.content();
        assert!(!c.is_unparsable(), "{:?}: {}", c.parse_error(), m.json());
        for (i, s) in c.streams().iter().enumerate() {
            let keys = keys_of(c, i);
            if m.is_backfilled() {
                backfilled += keys.len();
            }
            out.entry(s.web_id.clone()).or_default().extend(keys);
        }
    }
    (out, backfilled)
}

/// The values of each stream form one contiguous run of its history: exactly once, in time
/// order, nothing invented. Returns the run's length per stream.
fn assert_contiguous(
    got: &HashMap<String, Vec<Key>>,
    history: &HashMap<String, Vec<Key>>,
) -> HashMap<String, usize> {
    let mut lens = HashMap::new();
    for (w, vals) in got {
        let h = history
            .get(w)
            .unwrap_or_else(|| panic!("a stream the simulator does not have: {w}"));
        let first = &vals[0];
        let start = h
            .iter()
            .position(|k| k == first)
            .unwrap_or_else(|| panic!("{w}: a value not in the history: {first:?}"));
        for (i, v) in vals.iter().enumerate() {
            let expected = h.get(start + i).unwrap_or_else(|| {
                panic!("{w}: value {i} ({v:?}) is beyond the history (a duplicate?)")
            });
            assert_eq!(
                v, expected,
                "{w}: value {i} of the channel is not the next of the history: lost, duplicated or out of order"
            );
        }
        lens.insert(w.clone(), vals.len());
    }
    lens
}

fn archive(cfg: SimConfig) -> Simulator {
    sim(cfg.archive(true))
}

/// The gap in what a stream delivered (`vals`, a run of its history `hist` that is cut once):
/// the timestamps of the history's values the consumer lacks, and of the last value it got
/// before them. None when the stream was delivered whole. The test fails unless the values
/// before and after the gap are each a contiguous run of the history, in order.
struct Gap {
    last_before_ns: i64,
    missing_ns: Vec<i64>,
}

fn gap(id: &str, vals: &[Key], hist: &[Key]) -> Option<Gap> {
    let first = hist.iter().position(|k| k == &vals[0]).unwrap();
    let at = (0..vals.len()).find(|&i| hist[first + i] != vals[i])?;
    let resumed = hist.iter().position(|k| k == &vals[at]).unwrap();
    assert!(resumed > first + at, "{id}: values were missing");
    assert_eq!(&hist[resumed..resumed + vals.len() - at], &vals[at..]);
    let ns = |k: &Key| piwebasync::model::parse_timestamp(&k.0).unwrap();
    Some(Gap {
        last_before_ns: ns(&vals[at - 1]),
        missing_ns: hist[first + at..resumed].iter().map(ns).collect(),
    })
}

/// Run an outage of `down` on `sim` while `w` streams, then check the whole run.
fn outage(sim: &Simulator, w: &mut Watched, down: Duration) {
    w.poll_values(3);
    let before = w.events().len();
    sim.restart(down);
    w.poll_until("backfill done", |e| {
        e[before..].iter().any(|e| {
            matches!(
                e,
                StateEvent::BackfillDone { .. } | StateEvent::BackfillFailed { .. }
            )
        })
    });
    // Live data after the backfill.
    w.poll_values(5);
}

#[test]
fn an_outage_of_five_seconds_is_filled_exactly_once_in_time_order() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(20)));
    let ids = sim.point_web_ids();
    let mut w = Watched::open(&sim.adhoc_url(&ids), &[]);
    outage(&sim, &mut w, Duration::from_secs(5));
    let (messages, events) = w.finish();
    let done = dones(&events);
    assert_eq!(done.len(), 1, "{events:?}");
    assert!(done[0].missing.is_empty(), "{:?}", done[0].missing);
    let (got, backfilled) = received(&messages);
    assert_eq!(done[0].values as usize, backfilled);
    assert!(done[0].messages > 0);
    // 5 s at 50 ticks a second for 7 streams: well over a hundred values were only recorded.
    assert!(
        backfilled >= 7 * 100,
        "only {backfilled} values were backfilled"
    );
    assert_eq!(got.len(), ids.len());
    let lens = assert_contiguous(&got, &history(&sim));
    for id in &ids {
        assert!(lens[id] > 250, "{id}: {}", lens[id]);
    }
    assert!(count(&events, |e| matches!(e, StateEvent::BackfillStarted { .. })) == 1);
}

#[test]
fn several_values_at_one_timestamp_are_each_delivered_once_across_pages() {
    // Three equal values per stream and timestamp, 600 a second per stream: a 5-second outage
    // is several pages of maxCount 1000, cut between equal values.
    let sim = archive(
        SimConfig::default()
            .interval(Duration::from_millis(5))
            .values_per_stream(3)
            .archive_equal_values(true),
    );
    let ids: Vec<String> = sim.point_web_ids().into_iter().take(2).collect();
    let mut w = Watched::open(&sim.adhoc_url(&ids), &[]);
    outage(&sim, &mut w, Duration::from_secs(5));
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    let (got, backfilled) = received(&messages);
    assert!(backfilled > 2 * 1000, "{backfilled}");
    assert_contiguous(&got, &history(&sim));
    assert!(
        sim.recorded_requests() > 2,
        "paged: {}",
        sim.recorded_requests()
    );
}

#[test]
fn a_server_that_only_cuts_at_max_count_is_asked_again_from_the_last_value() {
    let sim = archive(
        SimConfig::default()
            .interval(Duration::from_millis(5))
            .values_per_stream(2)
            .archive_equal_values(true)
            .recorded_next_links(false),
    );
    let id = sim.point_web_id("SINUSOID").unwrap();
    let mut w = Watched::open(&sim.stream_url(&id), &[]);
    outage(&sim, &mut w, Duration::from_secs(4));
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    let (got, backfilled) = received(&messages);
    assert!(backfilled > 1000, "{backfilled}");
    assert_contiguous(&got, &history(&sim));
}

/// The recorded endpoint fails as `fault` after an outage: the failure is reported with every
/// stream's missing range, and live data goes on, exactly once.
fn recorded_failure(fault: RecordedFault, pairs: &[(&str, &str)]) -> (StateEvent, Simulator) {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(20)));
    let ids: Vec<String> = sim.point_web_ids().into_iter().take(3).collect();
    let mut w = Watched::open(&sim.adhoc_url(&ids), pairs);
    w.poll_values(3);
    sim.recorded_fault(Some(fault));
    let before = w.events().len();
    sim.restart(Duration::from_secs(2));
    w.poll_until("backfill failed", |e| {
        e[before..]
            .iter()
            .any(|e| matches!(e, StateEvent::BackfillFailed { .. }))
    });
    // Live data goes on.
    w.poll_values(10);
    sim.recorded_fault(None);
    let (messages, events) = w.finish();
    let failed = events
        .iter()
        .find(|e| matches!(e, StateEvent::BackfillFailed { .. }))
        .unwrap()
        .clone();
    let StateEvent::BackfillFailed {
        values, missing, ..
    } = &failed
    else {
        unreachable!()
    };
    assert_eq!(*values, 0);
    let (got, backfilled) = received(&messages);
    assert_eq!(backfilled, 0);
    // Every stream is reported, from its last delivered value (exclusive) to the end.
    let h = history(&sim);
    for id in &ids {
        let r = range_of(missing, id);
        assert!(r.from_exclusive && r.from_ns < r.to_ns, "{r:?}");
        // What the consumer lacks of this stream lies in the reported range: the values it
        // got are the history before the gap and after it, each run contiguous.
        let gap = gap(id, &got[id], &h[id]).expect("a gap");
        assert_eq!(
            gap.last_before_ns, r.from_ns,
            "{id}: the range starts at the last delivered value"
        );
        for t in gap.missing_ns {
            assert!(t > r.from_ns && t <= r.to_ns, "{id}: {t} outside {r:?}");
        }
    }
    (failed, sim)
}

#[test]
fn a_recorded_endpoint_answering_500_is_reported_and_live_data_goes_on() {
    let (failed, sim) = recorded_failure(RecordedFault::Status(500), &[]);
    let StateEvent::BackfillFailed { cause, .. } = failed else {
        unreachable!()
    };
    assert_eq!(cause.http_status(), Some(500), "{cause}");
    assert!(sim.recorded_requests() >= 1);
}

#[test]
fn a_recorded_endpoint_that_never_answers_times_out_and_live_data_goes_on() {
    let (failed, _sim) = recorded_failure(RecordedFault::Hang, &[("open_timeout", "2")]);
    let StateEvent::BackfillFailed { cause, .. } = failed else {
        unreachable!()
    };
    assert_eq!(cause.kind(), ErrorKind::OpenTimeout, "{cause}");
}

#[test]
fn an_outage_longer_than_gap_fill_max_span_is_cut_and_the_cut_is_reported() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(20)));
    let ids: Vec<String> = sim.point_web_ids().into_iter().take(2).collect();
    let mut w = Watched::open(&sim.adhoc_url(&ids), &[("gap_fill_max_span", "2")]);
    outage(&sim, &mut w, Duration::from_secs(5));
    let (messages, events) = w.finish();
    let Done { missing, cause, .. } = first_done(&events);
    assert!(
        cause.is_some_and(|c| c.contains("gap_fill_max_span")),
        "{cause:?}"
    );
    let (got, backfilled) = received(&messages);
    assert!(backfilled > 0);
    let h = history(&sim);
    for id in &ids {
        let r = range_of(missing, id);
        // The cut part: from the last value before the outage to 2 s before the backfill.
        let span = r.to_ns - r.from_ns;
        assert!(span > 2_000_000_000, "{r:?}");
        let gap = gap(id, &got[id], &h[id]).expect("the cut part is missing");
        for t in gap.missing_ns {
            assert!(
                t > r.from_ns && t < r.to_ns,
                "{id}: a value outside the reported cut"
            );
        }
    }
}

#[test]
fn an_update_that_keeps_streams_delivers_them_exactly_once() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(10)));
    let ids = sim.point_web_ids();
    let (a, b) = (ids[..4].to_vec(), ids[2..].to_vec());
    let mut w = Watched::open(&sim.adhoc_url(&a), &[]);
    w.poll_values(5);
    // The new endpoint streams 300 ms before its 101 reaches us, while the old one still
    // streams: some 30 ticks of values come on both.
    sim.delay_upgrades(Duration::from_millis(300));
    w.ch.update(&sim.adhoc_url(&b), true).expect("update");
    w.poll_until("backfill done", |e| backfills_done(e) == 1);
    w.poll_values(10);
    // And back.
    w.ch.update(&sim.adhoc_url(&a), true).expect("update back");
    w.poll_until("backfill done", |e| backfills_done(e) == 2);
    w.poll_values(10);
    let (messages, events) = w.finish();
    assert_eq!(
        count(&events, |e| matches!(e, StateEvent::BackfillFailed { .. })),
        0,
        "{events:?}"
    );
    // Only the streams both endpoints share are backfilled: the others start (or stop) with
    // the endpoint, as channels do.
    for m in messages.iter().filter(|m| m.is_backfilled()) {
        for s in m.content().streams() {
            assert!(a[2..].contains(&s.web_id), "{} was backfilled", s.web_id);
        }
    }
    let (got, _) = received(&messages);
    let h = history(&sim);
    // Streams 2 and 3 are on every endpoint: one contiguous run each.
    let lens = assert_contiguous(
        &got.iter()
            .filter(|(w, _)| a[2..].contains(w))
            .map(|(w, v)| (w.clone(), v.clone()))
            .collect(),
        &h,
    );
    assert_eq!(lens.len(), 2);
    // The others: every value of the history at most once, in order.
    for (w, vals) in &got {
        let hist = &h[w];
        let mut at = 0;
        for v in vals {
            let i = hist[at..]
                .iter()
                .position(|k| k == v)
                .unwrap_or_else(|| panic!("{w}: {v:?} duplicated, out of order or invented"));
            at += i + 1;
        }
    }
}

#[test]
fn a_large_backfill_is_paged_into_the_queue_as_the_consumer_drains_it() {
    // 500 ticks a second for 7 streams: a 5-second outage is about 17,500 recorded values,
    // three pages of maxCount 1000 per stream.
    let sim = archive(SimConfig::default().interval(Duration::from_millis(2)));
    let ids = sim.point_web_ids();
    let mut w = Watched::open(
        &sim.adhoc_url(&ids),
        &[("max_queue", "4"), ("max_queue_bytes", "100000")],
    );
    w.poll_values(3);
    sim.restart(Duration::from_secs(5));
    w.poll_until("backfill started", |e| {
        e.iter()
            .any(|e| matches!(e, StateEvent::BackfillStarted { .. }))
    });
    // The consumer stops: the backfill must stop with the queue full, not fetch on.
    let (mut largest, mut most_bytes) = (0usize, 0usize);
    std::thread::sleep(Duration::from_millis(1500));
    let stats = w.ch.stats();
    assert!(stats.queue_depth <= 4, "{stats:?}");
    let while_stopped = sim.recorded_requests();
    assert_eq!(while_stopped, 1, "pages fetched while the queue was full");
    // Drain slowly, watching the bounds.
    let deadline = Instant::now() + SOON;
    while backfills_done(&w.events()) == 0 {
        assert!(Instant::now() < deadline, "{:?}", w.events());
        if let Ok(m) = w.ch.poll_next(Some(Duration::from_millis(50))) {
            largest = largest.max(m.json().len());
            w.got.push(m);
        }
        let s = w.ch.stats();
        assert!(s.queue_depth <= 4, "{s:?}");
        most_bytes = most_bytes.max(s.queue_bytes as usize);
    }
    w.poll_values(5);
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    // max_queue_bytes plus one message, at most.
    assert!(
        most_bytes <= 100_000 + largest,
        "{most_bytes} > 100000 + {largest}"
    );
    assert!(sim.recorded_requests() >= 3, "{}", sim.recorded_requests());
    let (got, backfilled) = received(&messages);
    assert!(backfilled > 7 * 2000, "{backfilled}");
    assert_contiguous(&got, &history(&sim));
}

#[test]
fn the_backfill_uses_the_channels_tls_and_credentials() {
    let pki = tls_common::Pki::new("gap-fill");
    let sim = archive(
        SimConfig::default()
            .interval(Duration::from_millis(20))
            .tls(pki.pki.server(tls_common::LOOPBACK))
            .basic_auth("piuser", "pi-secret"),
    );
    let ids: Vec<String> = sim.point_web_ids().into_iter().take(2).collect();
    let mut w = Watched::open(
        &sim.adhoc_url(&ids),
        &[
            ("tls_ca_file", &pki.ca_file),
            ("auth", "basic"),
            ("username", "piuser"),
            ("password", "pi-secret"),
        ],
    );
    outage(&sim, &mut w, Duration::from_secs(2));
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    let StateEvent::BackfillStarted { url, .. } = events
        .iter()
        .find(|e| matches!(e, StateEvent::BackfillStarted { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    assert!(url.starts_with("https://"), "{url}");
    assert_eq!(sim.auth_failures(), 0);
    let (got, backfilled) = received(&messages);
    assert!(backfilled > 2 * 40, "{backfilled}");
    assert_contiguous(&got, &history(&sim));
}

#[test]
fn an_update_during_a_long_backfill_interrupts_it_and_its_own_backfill_takes_over() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(2)));
    let ids = sim.point_web_ids();
    let (a, b) = (ids[..5].to_vec(), ids[2..].to_vec());
    let mut w = Watched::open(
        &sim.adhoc_url(&a),
        &[("max_queue", "4"), ("max_queue_bytes", "100000")],
    );
    w.poll_values(3);
    sim.restart(Duration::from_secs(4));
    w.poll_until("backfill started", |e| {
        e.iter()
            .any(|e| matches!(e, StateEvent::BackfillStarted { .. }))
    });
    // A slow consumer on another thread; the update is asked for meanwhile.
    let Watched {
        ch,
        events,
        mut got,
    } = w;
    let ch = Arc::new(ch);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (ch, stop) = (ch.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(m) = ch.poll_next(Some(Duration::from_millis(50))) {
                    got.push(m);
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            got
        })
    };
    ch.update(&sim.adhoc_url(&b), true)
        .expect("the update is not held up by the backfill");
    assert!(
        wait_until(SOON, || backfills_done(&events.lock().unwrap()) >= 2),
        "{:?}",
        events.lock().unwrap()
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    got.extend(consumer.join().unwrap());
    ch.close();
    let (rest, kind) = drain(&ch);
    assert_eq!(kind, ErrorKind::Closed);
    got.extend(rest);
    let events = events.lock().unwrap().clone();
    let done = dones(&events);
    let Done { missing, cause, .. } = &done[0];
    assert!(
        cause.is_some_and(|c| c.contains("interrupted by an update")),
        "{cause:?}"
    );
    assert!(!missing.is_empty());
    assert!(done[1].missing.is_empty(), "{:?}", done[1].missing);
    // The streams both endpoints share: one contiguous run each, across the outage and the
    // update.
    let (all, _) = received(&got);
    let shared: HashMap<String, Vec<Key>> = all
        .into_iter()
        .filter(|(w, _)| a[2..].contains(w))
        .collect();
    assert_eq!(assert_contiguous(&shared, &history(&sim)).len(), 3);
}

#[test]
fn gap_fill_max_values_cuts_the_backfill_and_reports_what_was_not_delivered() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(10)));
    let ids: Vec<String> = sim.point_web_ids().into_iter().take(3).collect();
    let mut w = Watched::open(&sim.adhoc_url(&ids), &[("gap_fill_max_values", "150")]);
    outage(&sim, &mut w, Duration::from_secs(3));
    let (messages, events) = w.finish();
    let Done {
        values,
        missing,
        cause,
        ..
    } = first_done(&events);
    assert_eq!(values, 150);
    assert!(
        cause.is_some_and(|c| c.contains("gap_fill_max_values")),
        "{cause:?}"
    );
    let (got, backfilled) = received(&messages);
    assert_eq!(backfilled, 150);
    let h = history(&sim);
    let mut cut = 0;
    for id in &ids {
        let Some(gap) = gap(id, &got[id], &h[id]) else {
            continue; // this stream was delivered whole
        };
        cut += 1;
        let r = range_of(missing, id);
        for t in gap.missing_ns {
            assert!(
                (t > r.from_ns || (!r.from_exclusive && t == r.from_ns)) && t <= r.to_ns,
                "{id}: a missing value at {t} outside {r:?}"
            );
        }
    }
    assert!(
        cut >= 1,
        "150 of some 900 values: some stream must lack values"
    );
}

#[test]
fn a_stream_set_of_an_element_is_filled_exactly_once() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(20)));
    let element = sim.element_web_id("Tank01").unwrap();
    let mut w = Watched::open(&sim.streamset_url(&element), &[]);
    outage(&sim, &mut w, Duration::from_secs(3));
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    let (got, backfilled) = received(&messages);
    assert_eq!(got.len(), 3, "the element's three attributes");
    assert!(backfilled > 3 * 100, "{backfilled}");
    assert_contiguous(&got, &history(&sim));
}

#[test]
fn a_long_webid_list_is_split_under_the_url_limit_and_paged_smaller() {
    // 200 streams: some 12 KB of webId= text, split into requests under 4 KB, each asking
    // fewer values per stream (about 10,000 values a page): a 3-second outage at 100 ticks a
    // second takes two pages per request.
    let sim = archive(
        SimConfig::default()
            .point_count(200)
            .interval(Duration::from_millis(10)),
    );
    let ids = sim.point_web_ids();
    let mut w = Watched::open(&sim.adhoc_url(&ids), &[]);
    outage(&sim, &mut w, Duration::from_secs(3));
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    let (got, backfilled) = received(&messages);
    assert_eq!(got.len(), 200);
    assert!(backfilled > 200 * 250, "{backfilled}");
    assert_contiguous(&got, &history(&sim));
    assert!(sim.recorded_requests() >= 8, "{}", sim.recorded_requests());
}

#[test]
fn an_update_to_another_single_stream_backfills_nothing_and_mislabels_nothing() {
    let sim = archive(SimConfig::default().interval(Duration::from_millis(10)));
    let (a, b) = (
        sim.point_web_id("SINUSOID").unwrap(),
        sim.point_web_id("CDT158").unwrap(),
    );
    let mut w = Watched::open(&sim.stream_url(&a), &[]);
    w.poll_values(5);
    w.ch.update(&sim.stream_url(&b), true).expect("update");
    w.poll_values(10);
    let (messages, events) = w.finish();
    assert_eq!(
        count(&events, |e| matches!(e, StateEvent::BackfillStarted { .. })),
        0,
        "{events:?}"
    );
    assert!(messages.iter().all(|m| !m.is_backfilled()));
    let (got, _) = received(&messages);
    assert_eq!(got.len(), 2);
    // Each stream's values are its own: contiguous runs of its history.
    assert_contiguous(&got, &history(&sim));
}

#[test]
fn more_values_at_one_timestamp_than_max_count_page_by_next_links_or_are_reported() {
    // 1001 equal values per timestamp: a page of maxCount 1000 cannot get past one timestamp.
    let cfg = || {
        SimConfig::default()
            .points(vec![piwebasync_sim::SimPoint::new(
                "BULK",
                piwebasync_sim::PointKind::Float,
                "",
            )])
            .elements(Vec::new())
            .interval(Duration::from_millis(250))
            .values_per_stream(1001)
            .archive_equal_values(true)
    };
    // With Links.Next (startIndex) the pages go on: exactly once.
    let sim = archive(cfg());
    let id = sim.point_web_id("BULK").unwrap();
    let mut w = Watched::open(&sim.stream_url(&id), &[]);
    outage(&sim, &mut w, Duration::from_secs(2));
    let (messages, events) = w.finish();
    assert_eq!(backfills_done(&events), 1, "{events:?}");
    let missing = first_done(&events).missing;
    assert!(missing.is_empty(), "{missing:?}");
    let (got, backfilled) = received(&messages);
    assert!(backfilled >= 3 * 1001, "{backfilled}");
    assert_contiguous(&got, &history(&sim));

    // A server that only cuts at maxCount: the stream cannot be asked past the timestamp, and
    // that is reported, not looped on.
    let sim = archive(cfg().recorded_next_links(false));
    let id = sim.point_web_id("BULK").unwrap();
    let mut w = Watched::open(&sim.stream_url(&id), &[]);
    outage(&sim, &mut w, Duration::from_secs(2));
    let (_, events) = w.finish();
    let Done { missing, cause, .. } = first_done(&events);
    assert!(
        cause.is_some_and(|c| c.contains("without a Links.Next")),
        "{cause:?}"
    );
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].web_id, id);
    assert!(sim.recorded_requests() < 10, "{}", sim.recorded_requests());
}
