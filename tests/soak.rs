//! Soak under random faults: `make soak DURATION=<seconds>` (`make test-soak` runs 120 s).
//!
//! Many channels — poll and callback, reconnect on and off, tiny `max_queue` and
//! `max_queue_bytes`, slow consumers — each against a simulator of its own (so a fault hits one
//! channel and its connections are that channel's alone), while one driver thread injects
//! random faults from a seeded RNG (`SOAK_SEED` replays a run; the seed is printed first).
//! Ignored by a plain `cargo test`: it runs only when asked for, with `SOAK_DURATION` set.
//!
//! What it checks, per channel and per life of a channel (a channel that ends by its fault is
//! checked and replaced by a new one on the same simulator):
//!
//! - **Exactly once, in order.** The simulator records every text frame once its send
//!   completed, per connection. What the consumer got must be, in order, for each connection
//!   of the life in turn, a prefix of what that connection sent — nothing twice, nothing out of
//!   order, nothing that was never sent — and the whole of it, except where the documented
//!   semantics allow a tail to be lost:
//!   - a connection that ended by a TCP reset (faults `reset`, `restart`, `auth`, `watchdog`)
//!     or was left as half-open (`stall`): the frames the simulator counted as sent but that
//!     were still in its socket's send buffer when the RST went out never reach the client
//!     (the loss window of a dropped connection; counted and printed as "lost (drops)");
//!   - a frame larger than `max_message_size` (`oversize-big`) is a protocol error: it and
//!     whatever the simulator wrote after it on that connection are not delivered; everything
//!     before it is.
//!
//!   Every other end must deliver everything: a server close with any code (`close1000`,
//!   `close-other`, `refuse`), an invalid frame (`malformed`: all frames before it), an
//!   update's switch (make-before-break: the old endpoint's frames all come, before the new
//!   one's), a failed update without rollback, and our own close at the end. Nothing may be
//!   dropped at a close deadline (`Stats::messages_dropped == 0`).
//!   Each delivered message's typed value count must equal serde's count of the frame.
//! - **Status.** Between faults a surviving channel comes back `Open`; a rolled-back update
//!   answers `RolledBack` and the channel goes on; a channel ends with the status its last fault
//!   implies (reconnect off: `Closed` for a server close 1000, else `ClosedError`; reconnect on:
//!   `Auth` for refused credentials, `WatchdogTimeout` for an outage past
//!   `dead_channel_timeout`, `UpdateFailed` for a failed update without rollback; `Closed` for
//!   our close at the end of the run), seen by the consumer and by `outcome()`.
//! - **Flat resources.** RSS and open file descriptors, sampled every 250 ms: over the second
//!   half, the least-squares line's rise across that half is at most `RSS_RISE_KIB` and
//!   `FD_RISE`, and the file descriptors stay within 6 per channel + 16 of each other.

mod common;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{rss_kib, wait_until, SOON};
use piwebasync::model::Content;
use piwebasync::{Callbacks, Channel, ChannelConfig, ChannelState, ErrorKind, Message, StateEvent};
use piwebasync_sim::{SimConfig, Simulator};

/// Largest message the channels accept; `oversize-small` frames stay below, `oversize-big` above.
const MAX_MESSAGE: usize = 256 * 1024;
/// A reconnect-on channel with a watchdog: `dead_channel_timeout` in seconds.
const WATCHDOG_S: f64 = 5.0;
/// A refused port on loopback: an update to it fails at once.
const DEAD_URL: &str = "ws://127.0.0.1:1/piwebapi/streams/nothing/channel";

/// RSS: the fitted rise over the second half may be at most this (KiB), whatever the duration.
/// The allocator warms up for about three minutes (arenas of many threads grow to their
/// high-water marks with oversized frames of up to ~550 KiB; then RSS stays near 38-40 MiB): in
/// 2-minute runs the second half rose by 2.3 to 8.0 MiB, in a 6-minute run by -0.2 MiB. The
/// limit is three times the largest of those. A leak of 1 KiB per message (~2,000 msg/s) rises
/// by ~120 MiB a minute; over the hour's second half the limit allows < 1 KiB a fault.
const RSS_RISE_KIB: f64 = 24.0 * 1024.0;
/// File descriptors: fitted rise over the second half at most this (a leak of one per fault
/// rises by hundreds); the spread bounds what can be open at once: per channel at most its
/// socket, an update's or reconnect's second socket, and the simulator's listener and its two
/// server-side sockets.
const FD_RISE: f64 = 8.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Reset,
    Refuse,
    Stall,
    Malformed,
    NotJson,
    OversizeSmall,
    OversizeBig,
    Close1000,
    CloseOther,
    Restart,
    Auth,
    Update,
    Rollback,
    UpdateFail,
    Watchdog,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::Refuse => "refuse",
            Fault::Stall => "stall",
            Fault::Malformed => "malformed",
            Fault::NotJson => "notjson",
            Fault::OversizeSmall => "oversize-small",
            Fault::OversizeBig => "oversize-big",
            Fault::Close1000 => "close1000",
            Fault::CloseOther => "close-other",
            Fault::Restart => "restart",
            Fault::Auth => "auth",
            Fault::Update => "update",
            Fault::Rollback => "rollback",
            Fault::UpdateFail => "update-fail",
            Fault::Watchdog => "watchdog",
        }
    }

    /// Relative weights of the random choice.
    const WEIGHTS: [(Fault, u32); 15] = [
        (Fault::Reset, 10),
        (Fault::Refuse, 5),
        (Fault::Stall, 3),
        (Fault::Malformed, 5),
        (Fault::NotJson, 5),
        (Fault::OversizeSmall, 6),
        (Fault::OversizeBig, 4),
        (Fault::Close1000, 5),
        (Fault::CloseOther, 5),
        (Fault::Restart, 5),
        (Fault::Auth, 2),
        (Fault::Update, 10),
        (Fault::Rollback, 6),
        (Fault::UpdateFail, 2),
        (Fault::Watchdog, 2),
    ];
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    callbacks: bool,
    reconnect: bool,
    max_queue: Option<usize>,
    max_queue_bytes: Option<usize>,
    slow: bool,
    watchdog: bool,
    interval_ms: u64,
}

const fn spec(callbacks: bool, reconnect: bool, slow: bool, interval_ms: u64) -> Spec {
    Spec {
        callbacks,
        reconnect,
        max_queue: None,
        max_queue_bytes: None,
        slow,
        watchdog: false,
        interval_ms,
    }
}

fn specs() -> Vec<Spec> {
    let q = |mut s: Spec, n: usize| {
        s.max_queue = Some(n);
        s
    };
    let b = |mut s: Spec, n: usize| {
        s.max_queue_bytes = Some(n);
        s
    };
    let w = |mut s: Spec| {
        s.watchdog = true;
        s
    };
    vec![
        spec(false, true, false, 10),
        q(spec(false, true, true, 5), 1),
        b(spec(false, true, true, 5), 2048),
        spec(true, true, false, 10),
        q(spec(true, true, true, 5), 2),
        b(spec(true, true, false, 5), 4096),
        spec(false, false, false, 10),
        q(spec(true, false, true, 5), 3),
        w(spec(false, true, false, 10)),
        w(q(spec(true, true, true, 5), 8)),
        q(b(spec(false, true, true, 4), 16 * 1024), 4),
        spec(true, true, false, 4),
    ]
}

impl Spec {
    fn config(&self) -> ChannelConfig {
        let mut c = ChannelConfig::default();
        let mut set = |k: &str, v: String| c.set(k, &v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        set("reconnect", self.reconnect.to_string());
        set("reconnect_initial_delay", "0.05".into());
        set("reconnect_max_delay", "0.3".into());
        // Stalls are found within ~2.5 s; the pong and open bounds are generous, so that a
        // loaded 2-core machine does not drop a healthy connection (which, not being a fault
        // the driver injected, would be judged as a loss).
        set("ping_interval", "0.5".into());
        set("ping_timeout", "2".into());
        set("open_timeout", "5".into());
        set("max_message_size", MAX_MESSAGE.to_string());
        if self.watchdog {
            set("dead_channel_timeout", WATCHDOG_S.to_string());
            set("open_timeout", "2".into());
        }
        if let Some(n) = self.max_queue {
            set("max_queue", n.to_string());
        }
        if let Some(n) = self.max_queue_bytes {
            set("max_queue_bytes", n.to_string());
        }
        c
    }

    fn describe(&self) -> String {
        let mut s = String::from(if self.callbacks { "callback" } else { "poll" });
        s.push_str(if self.reconnect {
            " reconn"
        } else {
            " no-reconn"
        });
        if self.watchdog {
            s.push_str(" wd");
        }
        if let Some(n) = self.max_queue {
            let _ = write!(s, " q={n}");
        }
        if let Some(n) = self.max_queue_bytes {
            let _ = write!(s, " qb={n}");
        }
        if self.slow {
            s.push_str(" slow");
        }
        s
    }

    fn applies(&self, f: Fault) -> bool {
        match f {
            Fault::Watchdog => self.watchdog,
            _ => true,
        }
    }

    /// The terminal status the fault implies, or `None` when the channel survives it.
    fn implied_end(&self, f: Fault) -> Option<ErrorKind> {
        match f {
            Fault::NotJson | Fault::OversizeSmall | Fault::Update | Fault::Rollback => None,
            Fault::UpdateFail => Some(ErrorKind::UpdateFailed),
            Fault::Close1000 if !self.reconnect => Some(ErrorKind::Closed),
            Fault::Auth if self.reconnect => Some(ErrorKind::Auth),
            Fault::Watchdog => Some(ErrorKind::WatchdogTimeout),
            _ if self.reconnect => None,
            _ => Some(ErrorKind::ClosedError),
        }
    }
}

/// What a consumer got: the text and the typed value count of each message, in order.
#[derive(Default)]
struct Inbox {
    got: VecDeque<(String, usize)>,
    /// The terminal status the consumer saw (poll's error, or the `Closed` event).
    end: Option<ErrorKind>,
}

/// One channel on its simulator, from open to its end.
struct Life {
    channel: Arc<Channel>,
    inbox: Arc<Mutex<Inbox>>,
    consumer: Option<JoinHandle<()>>,
    /// Matching state: the connection being matched (simulator connection ids from the
    /// life's first on belong to it) and its frames not yet matched.
    conn: u64,
    pending: VecDeque<String>,
    /// The simulator has ended `conn`: `pending` holds all that is left of it.
    conn_final: bool,
    /// `conn` carried a frame over `max_message_size`: the rest of it is never delivered.
    conn_cut: bool,
    /// Connections allowed to lose a tail (ended by a reset or left as half-open).
    lossy: HashSet<u64>,
    url: String,
    /// The fault that last hit this life (for messages).
    last_fault: Option<Fault>,
}

struct Slot {
    index: usize,
    spec: Spec,
    sim: Simulator,
    urls: [String; 2],
    life: Option<Life>,
    lives: u64,
    messages: u64,
    values: u64,
    lost_at_drops: u64,
    oversize_refused: u64,
    reconnects: u64,
    updates: u64,
    ends: BTreeMap<&'static str, u64>,
    last_status: String,
}

/// Splitmix-style 64-bit mixing of a seed taken from the clock (only when `SOAK_SEED` is unset).
fn seed_from_clock() -> u64 {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = ns ^ (std::process::id() as u64) << 32;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn values_of(frame: &str) -> usize {
    Content::parse_serde(frame).value_count()
}

fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::Closed => "Closed",
        ErrorKind::ClosedError => "ClosedError",
        ErrorKind::WatchdogTimeout => "WatchdogTimeout",
        ErrorKind::UpdateFailed => "UpdateFailed",
        ErrorKind::Auth => "Auth",
        _ => "other",
    }
}

impl Slot {
    fn new(index: usize, spec: Spec) -> Slot {
        let sim = Simulator::start(
            SimConfig::default()
                .interval(Duration::from_millis(spec.interval_ms))
                .record_frames(true),
        )
        .expect("simulator starts");
        let ids = sim.point_web_ids();
        let urls = if index % 3 == 0 {
            [sim.adhoc_url(&ids[..3]), sim.adhoc_url(&ids[3..])]
        } else {
            [
                format!(
                    "{}?includeInitialValues=true",
                    sim.stream_url(&ids[index % ids.len()])
                ),
                sim.stream_url(&ids[(index + 1) % ids.len()]),
            ]
        };
        Slot {
            index,
            spec,
            sim,
            urls,
            life: None,
            lives: 0,
            messages: 0,
            values: 0,
            lost_at_drops: 0,
            oversize_refused: 0,
            reconnects: 0,
            updates: 0,
            ends: BTreeMap::new(),
            last_status: String::new(),
        }
    }

    fn who(&self) -> String {
        format!("channel {} ({})", self.index, self.spec.describe())
    }

    /// Opens a new life (retrying while the simulator still refuses, bounded by SOON).
    fn open(&mut self, abort: &Arc<AtomicBool>) {
        assert!(self.life.is_none());
        assert!(
            self.sim
                .wait_until(SOON, |s| s.open_connection_count() == 0),
            "{}: the simulator still has open connections before a new channel",
            self.who()
        );
        let first_conn = self.sim.connection_count() as u64 + 1;
        let url = self.urls[0].clone();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let cfg = self.spec.config();
        let slow = self.spec.slow;
        let deadline = Instant::now() + SOON;
        let (channel, consumer) = loop {
            let r = if self.spec.callbacks {
                let (a, b) = (inbox.clone(), inbox.clone());
                let mut n = 0u64;
                let callbacks = Callbacks {
                    on_message: Some(Box::new(move |m: Message| {
                        let v = m.content().value_count();
                        a.lock().unwrap().got.push_back((m.into_json(), v));
                        n += 1;
                        if slow && n % 8 == 0 {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    })),
                    on_state: Some(Box::new(move |e: &StateEvent| {
                        if let StateEvent::Closed { outcome } = e {
                            b.lock().unwrap().end = Some(outcome.kind());
                        }
                    })),
                };
                Channel::open_with_callbacks(&url, &cfg, callbacks).map(|c| (Arc::new(c), None))
            } else {
                Channel::open(&url, &cfg).map(|c| {
                    let c = Arc::new(c);
                    let (ch, sink, abort) = (c.clone(), inbox.clone(), abort.clone());
                    let t = std::thread::spawn(move || {
                        let mut n = 0u64;
                        while !abort.load(Ordering::Relaxed) {
                            match ch.poll_next(Some(Duration::from_millis(250))) {
                                Ok(m) => {
                                    let v = m.content().value_count();
                                    sink.lock().unwrap().got.push_back((m.into_json(), v));
                                    n += 1;
                                    if slow && n % 8 == 0 {
                                        std::thread::sleep(Duration::from_millis(20));
                                    }
                                }
                                Err(e) if e.kind() == ErrorKind::Timeout => {}
                                Err(e) => {
                                    sink.lock().unwrap().end = Some(e.kind());
                                    return;
                                }
                            }
                        }
                    });
                    (c, Some(t))
                })
            };
            match r {
                Ok(x) => break x,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!(
                    "{}: could not open a channel within {SOON:?}: {e}",
                    self.who()
                ),
            }
        };
        self.lives += 1;
        self.life = Some(Life {
            channel,
            inbox,
            consumer,
            conn: first_conn,
            pending: VecDeque::new(),
            conn_final: false,
            conn_cut: false,
            lossy: HashSet::new(),
            url,
            last_fault: None,
        });
    }

    /// Matches what the consumer got against what the simulator sent, as far as both go.
    /// `at_end`: the life is over (every connection ended, the consumer finished): everything
    /// must be accounted for.
    fn check(&mut self, at_end: bool) {
        let who = self.who();
        let Some(life) = self.life.as_mut() else {
            return;
        };
        let mut got = std::mem::take(&mut life.inbox.lock().unwrap().got);
        let lf = life.last_fault.map(Fault::name).unwrap_or("none");
        // Take the simulator's newest frames again before judging a mismatch (once per mismatch).
        let mut refresh = at_end;
        let mut refreshed_mismatch = false;
        loop {
            if !life.conn_final && (life.pending.is_empty() || refresh) {
                refresh = false;
                match self.sim.take_frames(life.conn) {
                    Some((frames, ended)) => {
                        life.pending.extend(frames);
                        life.conn_final = ended;
                    }
                    None => {
                        // Not upgraded (yet): nothing from it can have arrived.
                        if let Some((json, _)) = got.front() {
                            if at_end {
                                panic!(
                                    "{who}: got a message no connection sent (connection {} never existed; last fault {lf}): {}",
                                    life.conn,
                                    short(json)
                                );
                            }
                        }
                        break;
                    }
                }
            }
            if life.conn_cut {
                // After a refused oversized frame: the client has gone (protocol error).
                self.lost_at_drops += life.pending.len() as u64;
                life.pending.clear();
            }
            let Some(frame) = life.pending.front() else {
                if life.conn_final {
                    // This connection is done: on to the next one, if it exists.
                    if (life.conn as usize) < self.sim.connection_count() {
                        life.conn += 1;
                        life.conn_final = false;
                        life.conn_cut = false;
                        continue;
                    }
                }
                if at_end {
                    if let Some((json, _)) = got.front() {
                        panic!(
                            "{who}: got a message after everything the simulator sent was matched (last fault {lf}): {}",
                            short(json)
                        );
                    }
                }
                break;
            };
            if frame.len() > MAX_MESSAGE {
                // Refused by the client (a protocol error): it and the rest of this
                // connection are never delivered.
                self.oversize_refused += 1;
                life.conn_cut = true;
                life.pending.clear();
                continue;
            }
            let Some((json, typed)) = got.front() else {
                if at_end && life.conn_final {
                    if life.lossy.contains(&life.conn) {
                        self.lost_at_drops += life.pending.len() as u64;
                        life.pending.clear();
                        continue;
                    }
                    panic!(
                        "{who}: connection {} ended without a reset, yet {} frame(s) it sent never arrived (last fault {lf}); first missing: {}",
                        life.conn,
                        life.pending.len(),
                        short(frame)
                    );
                }
                break;
            };
            if json == frame {
                let want = values_of(frame);
                assert_eq!(
                    *typed,
                    want,
                    "{who}: typed value count differs from serde's for {}",
                    short(frame)
                );
                self.messages += 1;
                self.values += want as u64;
                refreshed_mismatch = false;
                life.pending.pop_front();
                got.pop_front();
                continue;
            }
            // A mismatch: legitimate only at the end of a connection allowed to lose a tail
            // (what arrived comes from the next connection).
            if life.conn_final && life.lossy.contains(&life.conn) {
                self.lost_at_drops += life.pending.len() as u64;
                life.pending.clear();
                continue;
            }
            if life.conn_final {
                panic!(
                    "{who}: connection {} (ended without a reset; last fault {lf}): a frame it sent is missing or out of place ({} of its frames unmatched); the next one sent and the next one received {}",
                    life.conn,
                    life.pending.len(),
                    diff(frame, json)
                );
            }
            if !refreshed_mismatch {
                refreshed_mismatch = true;
                refresh = true;
                continue;
            }
            // The connection is still open: the message may come from the next connection of
            // an update, or is not recorded yet. Wait for more; at the end this cannot be.
            assert!(
                !at_end,
                "{who}: connection {} is still open at the end; the next frame sent and the next one received {}",
                life.conn,
                diff(frame, json)
            );
            break;
        }
        // Put back what could not be matched yet, before what arrived meanwhile.
        let mut inbox = life.inbox.lock().unwrap();
        while let Some(x) = got.pop_back() {
            inbox.got.push_front(x);
        }
    }

    /// The life ended (or must end) with `want`: checks how, drains, checks the data, lets go.
    fn end_life(&mut self, want: ErrorKind, why: &str) {
        let who = self.who();
        let life = self.life.as_mut().expect("a life");
        let ch = life.channel.clone();
        assert!(
            wait_until(SOON, || ch.outcome().is_some()),
            "{who}: did not end within {SOON:?} after {why}; state {:?}",
            ch.state()
        );
        let outcome = ch.outcome().unwrap();
        assert_eq!(
            outcome.kind(),
            want,
            "{who}: after {why} the channel ended with {:?} ({}), expected {want:?}",
            outcome.kind(),
            outcome.message()
        );
        let inbox = life.inbox.clone();
        assert!(
            wait_until(SOON, || inbox.lock().unwrap().end.is_some()),
            "{who}: the consumer did not see the end within {SOON:?} after {why}"
        );
        assert_eq!(
            inbox.lock().unwrap().end,
            Some(want),
            "{who}: the consumer saw another terminal status than outcome() after {why}"
        );
        if let Some(t) = life.consumer.take() {
            t.join().expect("consumer thread");
        }
        let stats = ch.stats();
        assert_eq!(
            stats.messages_dropped,
            0,
            "{who}: {} message(s) dropped at a close deadline after {why}: {:?}",
            stats.messages_dropped,
            ch.last_error()
        );
        assert!(
            self.sim
                .wait_until(SOON, |s| s.open_connection_count() == 0),
            "{who}: the simulator's connections did not end within {SOON:?} after {why}"
        );
        self.check(true);
        let life = self.life.take().unwrap();
        self.reconnects += stats.reconnects;
        self.updates += stats.updates;
        *self.ends.entry(kind_name(want)).or_default() += 1;
        self.last_status = format!("{} ({why})", kind_name(want));
        assert!(
            life.channel.join_delivery(Some(SOON)),
            "{who}: the callback thread did not end within {SOON:?}"
        );
        life.channel.dispose().expect("dispose");
        assert!(
            life.inbox.lock().unwrap().got.is_empty(),
            "{who}: messages arrived after the end"
        );
    }

    /// Runs `f`, then marks the connections it ended as allowed to lose a tail (they were open
    /// before, or were upgraded meanwhile, and ended by the time `ended` says so).
    fn drop_connections(&mut self, f: impl FnOnce(&Simulator)) {
        let before: Vec<u64> = self.sim.open_connection_ids();
        let count_before = self.sim.connection_count() as u64;
        f(&self.sim);
        let who = self.who();
        // Every connection that was open must end (the client left a half-open one, or
        // the simulator reset it).
        assert!(
            self.sim
                .wait_until(SOON, |s| before.iter().all(|id| !s.is_connection_open(*id))),
            "{who}: a connection outlived the fault by {SOON:?}"
        );
        let life = self.life.as_mut().unwrap();
        life.lossy.extend(before);
        // Connections upgraded during the fault and already gone were ended by it as well.
        let now = self.sim.connection_count() as u64;
        for id in count_before + 1..=now {
            if !self.sim.is_connection_open(id) {
                life.lossy.insert(id);
            }
        }
    }
}

/// Where two texts first differ, with some context of each.
fn diff(a: &str, b: &str) -> String {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let cut = |s: &str| {
        let mut from = at.saturating_sub(40);
        while !s.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (at + 80).min(s.len());
        while !s.is_char_boundary(to) {
            to += 1;
        }
        format!("...{}... ({} bytes)", &s[from..to], s.len())
    };
    format!(
        "differ at byte {at}:\n  sent: {}\n  got:  {}",
        cut(a),
        cut(b)
    )
}

fn short(s: &str) -> String {
    if s.len() <= 160 {
        s.to_string()
    } else {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    }
}

fn pick_fault(rng: &mut fastrand::Rng, spec: &Spec) -> Fault {
    let choices: Vec<(Fault, u32)> = Fault::WEIGHTS
        .iter()
        .copied()
        .filter(|(f, _)| spec.applies(*f))
        .collect();
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut r = rng.u32(0..total);
    for (f, w) in choices {
        if r < w {
            return f;
        }
        r -= w;
    }
    unreachable!()
}

/// Injects `fault` into `slot`'s channel and checks its immediate effect. Returns the status the
/// life ended with, when the fault ends it.
fn inject(slot: &mut Slot, fault: Fault, rng: &mut fastrand::Rng) {
    let who = slot.who();
    let ch = slot.life.as_ref().unwrap().channel.clone();
    // A surviving channel is back before the next fault (reconnect works).
    assert!(
        wait_until(SOON, || ch.state() == ChannelState::Open),
        "{who}: not open again within {SOON:?} after {:?}; state {:?}, last error {:?}",
        slot.life.as_ref().unwrap().last_fault.map(Fault::name),
        ch.state(),
        ch.last_error()
    );
    slot.life.as_mut().unwrap().last_fault = Some(fault);
    let end = slot.spec.implied_end(fault);
    match fault {
        Fault::Reset => slot.drop_connections(|s| {
            s.reset_all();
        }),
        Fault::Restart => {
            let down = Duration::from_millis(rng.u64(100..800));
            slot.drop_connections(|s| s.restart(down));
        }
        Fault::Watchdog => {
            let down = Duration::from_secs_f64(WATCHDOG_S + 2.0);
            slot.drop_connections(|s| s.restart(down));
        }
        Fault::Auth => {
            slot.sim.reject_upgrades_for(401, Duration::from_secs(120));
            slot.drop_connections(|s| {
                s.reset_all();
            });
        }
        Fault::Stall => slot.drop_connections(|s| {
            s.stall(true);
            // Until the client gives the connection up (ping timeout), bounded.
            let gone = wait_until(SOON, || ch.state() != ChannelState::Open);
            s.stall(false);
            assert!(
                gone,
                "{who}: a stalled server was not detected within {SOON:?}"
            );
        }),
        Fault::Refuse => {
            slot.sim
                .refuse_for(Duration::from_millis(rng.u64(100..1000)));
            slot.sim.close_all(1001);
        }
        Fault::Malformed => {
            slot.sim.send_malformed();
        }
        Fault::NotJson => {
            slot.sim.send_not_json();
        }
        Fault::OversizeSmall => {
            slot.sim.send_oversize(rng.usize(8 * 1024..200 * 1024));
        }
        Fault::OversizeBig => {
            slot.sim
                .send_oversize(rng.usize(MAX_MESSAGE + 1..MAX_MESSAGE + 300 * 1024));
        }
        Fault::Close1000 => {
            slot.sim.close_all(1000);
        }
        Fault::CloseOther => {
            let code = [1001u16, 1011, 1012, 4000][rng.usize(0..4)];
            slot.sim.close_all(code);
        }
        Fault::Update => {
            let life = slot.life.as_mut().unwrap();
            let next = if life.url == slot.urls[0] {
                slot.urls[1].clone()
            } else {
                slot.urls[0].clone()
            };
            let rollback = rng.bool();
            ch.update(&next, rollback).unwrap_or_else(|e| {
                panic!("{who}: update to {next} (rollback {rollback}) failed: {e}")
            });
            life.url = next;
        }
        Fault::Rollback => {
            let e = ch.update(DEAD_URL, true).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::RolledBack,
                "{who}: an update to a dead endpoint with rollback: {e}"
            );
            assert!(
                ch.outcome().is_none(),
                "{who}: ended after a rollback: {:?}",
                ch.outcome()
            );
        }
        Fault::UpdateFail => {
            let e = ch.update(DEAD_URL, false).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::UpdateFailed,
                "{who}: an update to a dead endpoint without rollback: {e}"
            );
        }
    }
    match end {
        Some(want) => {
            slot.end_life(want, fault.name());
            // Clean slate for the next life: the simulator answers again.
            slot.sim.reject_upgrades_for(401, Duration::ZERO);
            slot.sim.stall(false);
        }
        None => assert!(
            ch.outcome().is_none(),
            "{who}: ended after {} although it should survive it: {:?}",
            fault.name(),
            ch.outcome()
        ),
    }
}

#[derive(Clone, Copy)]
struct Sample {
    t: f64,
    rss_kib: u64,
    fds: u64,
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// Least-squares slope of `y` over `t`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let num: f64 = points.iter().map(|p| (p.0 - mt) * (p.1 - my)).sum();
    let den: f64 = points.iter().map(|p| (p.0 - mt) * (p.0 - mt)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Stops and joins the sampler and the consumers however the soak ends.
struct Guard {
    abort: Arc<AtomicBool>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.abort.store(true, Ordering::Relaxed);
    }
}

#[test]
#[ignore = "a soak: make soak DURATION=<seconds> (or SOAK_DURATION=<seconds> cargo test --test soak -- --ignored --nocapture)"]
fn soak_under_random_faults() {
    let duration = std::env::var("SOAK_DURATION")
        .ok()
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("SOAK_DURATION={v}: seconds expected"))
        })
        .unwrap_or(120.0);
    assert!(duration >= 10.0, "SOAK_DURATION: at least 10 seconds");
    let seed = match std::env::var("SOAK_SEED") {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("SOAK_SEED={v}: an unsigned integer expected")),
        Err(_) => seed_from_clock(),
    };
    println!("soak: {duration} s, SOAK_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let abort = Arc::new(AtomicBool::new(false));
    let _guard = Guard {
        abort: abort.clone(),
    };

    let mut slots: Vec<Slot> = specs()
        .into_iter()
        .enumerate()
        .map(|(i, s)| Slot::new(i, s))
        .collect();
    for s in &mut slots {
        s.open(&abort);
    }

    let start = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (samples, sampling, abort) = (samples.clone(), sampling.clone(), abort.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) && !abort.load(Ordering::Relaxed) {
                samples.lock().unwrap().push(Sample {
                    t: start.elapsed().as_secs_f64(),
                    rss_kib: rss_kib(),
                    fds: open_fds(),
                });
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    let mut faults: BTreeMap<Fault, u64> = BTreeMap::new();
    let deadline = start + Duration::from_secs_f64(duration);
    let mut next_report = start + Duration::from_secs(30);
    // Every kind once first (in a random order, each on a random channel it applies to), so
    // that a short or slow run covers them all; then random by weight.
    let mut unseen: Vec<Fault> = Fault::WEIGHTS.iter().map(|w| w.0).collect();
    rng.shuffle(&mut unseen);
    while Instant::now() < deadline {
        let (i, fault) = match unseen.pop() {
            Some(f) => {
                let fit: Vec<usize> = (0..slots.len())
                    .filter(|&i| slots[i].spec.applies(f))
                    .collect();
                (fit[rng.usize(0..fit.len())], f)
            }
            None => {
                let i = rng.usize(0..slots.len());
                (i, pick_fault(&mut rng, &slots[i].spec))
            }
        };
        inject(&mut slots[i], fault, &mut rng);
        *faults.entry(fault).or_default() += 1;
        if slots[i].life.is_none() {
            slots[i].open(&abort);
        }
        for s in &mut slots {
            s.check(false);
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(30);
            let n: u64 = faults.values().sum();
            let m: u64 = slots.iter().map(|s| s.messages).sum();
            println!(
                "soak: {:>5.0} s: {n} faults, {m} messages checked, RSS {} KiB, {} fds",
                start.elapsed().as_secs_f64(),
                rss_kib(),
                open_fds()
            );
        }
        // A pause between faults, so that the channels also stream undisturbed.
        std::thread::sleep(Duration::from_millis(rng.u64(20..250)));
    }
    let injecting = start.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("sampler");

    // The end: every surviving channel comes back and closes with Closed; then all is checked.
    for s in &mut slots {
        let who = s.who();
        let ch = s.life.as_ref().unwrap().channel.clone();
        assert!(
            wait_until(SOON, || ch.state() == ChannelState::Open),
            "{who}: not open again within {SOON:?} after its last fault; state {:?}, last error {:?}",
            ch.state(),
            ch.last_error()
        );
        ch.close();
    }
    for s in &mut slots {
        s.end_life(ErrorKind::Closed, "our close at the end");
    }

    let samples = samples.lock().unwrap().clone();
    let half: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|p| p.t >= injecting / 2.0)
        .collect();
    assert!(half.len() >= 10, "too few resource samples: {}", half.len());
    let span = half.last().unwrap().t - half[0].t;
    let rss_rise = slope(
        &half
            .iter()
            .map(|p| (p.t, p.rss_kib as f64))
            .collect::<Vec<_>>(),
    ) * span;
    let fd_rise = slope(&half.iter().map(|p| (p.t, p.fds as f64)).collect::<Vec<_>>()) * span;
    let (rss_min, rss_max) = (
        half.iter().map(|p| p.rss_kib).min().unwrap(),
        half.iter().map(|p| p.rss_kib).max().unwrap(),
    );
    let (fd_min, fd_max) = (
        half.iter().map(|p| p.fds).min().unwrap(),
        half.iter().map(|p| p.fds).max().unwrap(),
    );
    let fd_spread = 6 * slots.len() as u64 + 16;

    // The summary.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsoak summary (SOAK_SEED={seed}, {injecting:.0} s of faults)"
    );
    let _ = writeln!(
        out,
        "| # | channel | lives | messages | values | lost (drops) | oversize refused | reconnects | updates | ends | last |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for s in &slots {
        let ends: Vec<String> = s.ends.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.index,
            s.spec.describe(),
            s.lives,
            s.messages,
            s.values,
            s.lost_at_drops,
            s.oversize_refused,
            s.reconnects,
            s.updates,
            ends.join(", "),
            s.last_status
        );
    }
    let total = |f: fn(&Slot) -> u64| slots.iter().map(f).sum::<u64>();
    let _ = writeln!(
        out,
        "| all | {} channels | {} | {} | {} | {} | {} | {} | {} | | |",
        slots.len(),
        total(|s| s.lives),
        total(|s| s.messages),
        total(|s| s.values),
        total(|s| s.lost_at_drops),
        total(|s| s.oversize_refused),
        total(|s| s.reconnects),
        total(|s| s.updates),
    );
    let list: Vec<String> = faults
        .iter()
        .map(|(f, n)| format!("{} {n}", f.name()))
        .collect();
    let _ = writeln!(
        out,
        "\nfaults: {} in all: {}",
        faults.values().sum::<u64>(),
        list.join(", ")
    );
    let _ = writeln!(
        out,
        "second half ({:.0} s, {} samples): RSS {}..{} KiB, fitted rise {:.0} KiB (limit {:.0}); fds {}..{}, fitted rise {:.1} (limit {FD_RISE}), spread {} (limit {fd_spread})",
        span,
        half.len(),
        rss_min,
        rss_max,
        rss_rise,
        RSS_RISE_KIB,
        fd_min,
        fd_max,
        fd_rise,
        fd_max - fd_min
    );
    println!("{out}");
    let _ = std::fs::create_dir_all("build");
    let _ = std::fs::write("build/soak-summary.md", &out);

    for f in Fault::WEIGHTS.iter().map(|w| w.0) {
        if duration >= 60.0 {
            assert!(
                faults.get(&f).copied().unwrap_or(0) > 0,
                "fault {} was never injected in {duration} s",
                f.name()
            );
        }
    }
    assert!(
        rss_rise <= RSS_RISE_KIB,
        "RSS rose by {rss_rise:.0} KiB over the second half (limit {RSS_RISE_KIB:.0})"
    );
    assert!(
        fd_rise <= FD_RISE,
        "open file descriptors rose by {fd_rise:.1} over the second half (limit {FD_RISE})"
    );
    assert!(
        fd_max - fd_min <= fd_spread,
        "open file descriptors spread {fd_min}..{fd_max} over the second half (limit {fd_spread})"
    );
}
