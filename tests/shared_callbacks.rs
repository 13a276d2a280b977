//! `callback_thread=shared`: the callbacks of every channel opened so run on one process-wide
//! thread, each channel's in order with `Closed` once and last, none after `dispose` and none
//! for a failed open; `own` (the default) gives each channel a thread of its own.
//! (Shutdown with a shared channel: tests/shutdown.rs.)

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use common::*;
use piwebasync::{CallbackThread, Callbacks, Channel, ErrorKind, StateEvent};
use piwebasync_sim::{SimConfig, Simulator};

/// What one channel's callbacks saw.
#[derive(Default)]
struct Seen {
    /// Messages and events in the order the callbacks ran ("Closed" for the closed event).
    log: Mutex<Vec<String>>,
    messages: Mutex<Vec<String>>,
    threads: Mutex<HashSet<ThreadId>>,
    closed: AtomicUsize,
    /// A callback ran on a thread not marked as a callback thread.
    outside: AtomicBool,
}

impl Seen {
    fn note_thread(&self) {
        self.threads
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
        if !piwebasync::in_callback() {
            self.outside.store(true, Ordering::SeqCst);
        }
    }

    fn callbacks(self: &Arc<Self>) -> Callbacks {
        let (a, b) = (self.clone(), self.clone());
        Callbacks {
            on_message: Some(Box::new(move |m: piwebasync::Message| {
                a.note_thread();
                a.log.lock().unwrap().push("message".into());
                a.messages.lock().unwrap().push(m.into_json());
            })),
            on_state: Some(Box::new(move |e: &StateEvent| {
                b.note_thread();
                if let StateEvent::Closed { .. } = e {
                    b.closed.fetch_add(1, Ordering::SeqCst);
                    b.log.lock().unwrap().push("Closed".into());
                } else {
                    b.log.lock().unwrap().push(format!("{e:?}"));
                }
            })),
        }
    }

    fn messages(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// `Closed` came, exactly once, and nothing after it.
    fn assert_closed_once_last(&self, what: &str) {
        assert!(
            wait_until(SOON, || self.closed.load(Ordering::SeqCst) >= 1),
            "{what}: Closed within {SOON:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(self.closed.load(Ordering::SeqCst), 1, "{what}: Closed once");
        let log = self.log.lock().unwrap();
        assert_eq!(
            log.last().map(String::as_str),
            Some("Closed"),
            "{what}: last"
        );
    }

    fn threads(&self) -> HashSet<ThreadId> {
        self.threads.lock().unwrap().clone()
    }
}

fn shared() -> piwebasync::ChannelConfig {
    let c = config(&[("callback_thread", "shared")]);
    assert_eq!(c.callback_thread, CallbackThread::Shared);
    c
}

fn open(sim: &Simulator, point: usize, cfg: &piwebasync::ChannelConfig) -> (Channel, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let ch = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[point]),
        cfg,
        seen.callbacks(),
    )
    .unwrap();
    (ch, seen)
}

#[test]
fn shared_channels_run_on_one_thread_each_in_order_with_closed_once_last() {
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(2))
        .record_frames(true));
    let cfg = shared();
    // Opened one after the other: channel i is the simulator's connection i.
    let channels: Vec<_> = (0..4).map(|i| open(&sim, i % 2, &cfg)).collect();
    for (i, (_, seen)) in channels.iter().enumerate() {
        assert!(
            wait_until(SOON, || seen.messages() >= 50),
            "channel {i} receives"
        );
    }
    for (ch, _) in &channels {
        ch.close();
    }
    let mut threads = HashSet::new();
    for (i, (_, seen)) in channels.iter().enumerate() {
        seen.assert_closed_once_last(&format!("channel {i}"));
        assert!(!seen.outside.load(Ordering::SeqCst), "on a callback thread");
        threads.extend(seen.threads());
    }
    assert_eq!(
        threads.len(),
        1,
        "every callback on one thread: {threads:?}"
    );
    assert!(!threads.contains(&std::thread::current().id()));
    assert!(sim.wait_until(SOON, |s| s.connections().iter().all(|c| !c.open)));
    let conns = sim.connections();
    for (i, (_, seen)) in channels.iter().enumerate() {
        assert_eq!(
            *seen.messages.lock().unwrap(),
            conns[i].frames,
            "channel {i}: every message, in order"
        );
        let log = seen.log.lock().unwrap();
        assert!(log[0].starts_with("Connected"), "channel {i}: {:?}", log[0]);
    }
}

#[test]
fn own_channels_get_a_thread_each() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let own = config(&[("callback_thread", "own")]);
    assert_eq!(own.callback_thread, CallbackThread::Own);
    let mut channels: Vec<_> = (0..3).map(|i| open(&sim, i, &own)).collect();
    channels.push(open(&sim, 0, &config(&[]))); // the default is `own`
    let mut threads = HashSet::new();
    for (i, (ch, seen)) in channels.iter().enumerate() {
        assert!(wait_until(SOON, || seen.messages() >= 5), "channel {i}");
        ch.dispose().unwrap();
        seen.assert_closed_once_last(&format!("channel {i}"));
        assert_eq!(seen.threads().len(), 1, "channel {i}: one thread");
        threads.extend(seen.threads());
    }
    assert_eq!(threads.len(), 4, "a thread per channel");
}

#[test]
fn dispose_waits_for_the_running_callback_and_nothing_runs_afterwards() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let cfg = shared();
    let (other, other_seen) = open(&sim, 1, &cfg);
    let calls = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(Barrier::new(2));
    let (c, b) = (calls.clone(), inside.clone());
    let seen = Arc::new(Seen::default());
    let mut cbs = seen.callbacks();
    cbs.on_message = Some(Box::new(move |_m| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            b.wait(); // tell the test a callback runs
            std::thread::sleep(Duration::from_millis(300));
        }
    }));
    let ch =
        Channel::open_with_callbacks(&sim.stream_url(&sim.point_web_ids()[0]), &cfg, cbs).unwrap();
    inside.wait();
    ch.dispose().unwrap();
    let after = calls.load(Ordering::SeqCst);
    assert_eq!(
        seen.closed.load(Ordering::SeqCst),
        1,
        "Closed delivered before dispose returned"
    );
    assert!(ch.join_delivery(Some(Duration::ZERO)), "delivery is over");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        after,
        "no callback after dispose"
    );
    assert_eq!(seen.closed.load(Ordering::SeqCst), 1);
    // The thread goes on for the other channel.
    let before = other_seen.messages();
    assert!(wait_until(SOON, || other_seen.messages() >= before + 20));
    other.dispose().unwrap();
    other_seen.assert_closed_once_last("the other channel");
    assert_eq!(seen.threads(), other_seen.threads(), "one thread for both");
}

#[test]
fn a_failed_open_calls_no_callback_and_the_thread_goes_on() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let cfg = config(&[("callback_thread", "shared"), ("open_timeout", "1")]);
    sim.refuse_for(Duration::from_secs(3));
    let seen = Arc::new(Seen::default());
    let e = Channel::open_with_callbacks(&url, &cfg, seen.callbacks())
        .err()
        .expect("the open fails while the server refuses");
    assert_ne!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(seen.log.lock().unwrap().is_empty(), "no callback ran");
    assert_eq!(seen.closed.load(Ordering::SeqCst), 0);

    // A bad URL fails before anything is joined; also no callback.
    let bad = Arc::new(Seen::default());
    assert!(Channel::open_with_callbacks("ftp://x/", &cfg, bad.callbacks()).is_err());

    std::thread::sleep(Duration::from_secs(3));
    let (ch, ok) = open(&sim, 0, &cfg);
    assert!(wait_until(SOON, || ok.messages() >= 5));
    ch.dispose().unwrap();
    ok.assert_closed_once_last("the next channel");
    assert!(seen.log.lock().unwrap().is_empty() && bad.log.lock().unwrap().is_empty());
}

#[test]
fn a_blocking_callback_stalls_every_shared_channel_until_it_returns() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let cfg = shared();
    let release = Arc::new(Barrier::new(2));
    let blocked = Arc::new(Barrier::new(2));
    let (r, b) = (release.clone(), blocked.clone());
    let once = AtomicBool::new(false);
    let stuck = Callbacks {
        on_message: Some(Box::new(move |_m| {
            if !once.swap(true, Ordering::SeqCst) {
                b.wait();
                r.wait();
            }
        })),
        on_state: None,
    };
    let (quiet, seen) = open(&sim, 1, &cfg);
    assert!(wait_until(SOON, || seen.messages() >= 5));
    let a = Channel::open_with_callbacks(&sim.stream_url(&sim.point_web_ids()[0]), &cfg, stuck)
        .unwrap();
    blocked.wait(); // a's callback now blocks the shared thread
    let at = seen.messages();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        seen.messages(),
        at,
        "nothing delivered while the thread is blocked"
    );
    release.wait();
    assert!(
        wait_until(SOON, || seen.messages() >= at + 20),
        "flows again once the callback returned"
    );
    a.dispose().unwrap();
    quiet.dispose().unwrap();
    seen.assert_closed_once_last("the stalled channel");
}

#[test]
fn a_bad_value_is_refused_naming_the_key_and_the_values() {
    let mut c = piwebasync::ChannelConfig::default();
    assert_eq!(c.get("callback_thread").unwrap(), "own");
    for bad in ["pool", "", "true", "shared2"] {
        let e = c.set("callback_thread", bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.message().contains("callback_thread") && e.message().contains("own or shared"),
            "{e}"
        );
    }
    c.set("callback_thread", "shared").unwrap();
    assert_eq!(c.get("callback_thread").unwrap(), "shared");
}

#[test]
fn a_paused_channel_holds_back_its_callbacks_without_stalling_the_others() {
    for thread in ["shared", "own"] {
        let sim = sim(SimConfig::default()
            .interval(Duration::from_millis(2))
            .record_frames(true));
        let cfg = config(&[("callback_thread", thread), ("max_queue", "16")]);
        let (a, a_seen) = open(&sim, 0, &cfg);
        let (b, b_seen) = open(&sim, 1, &cfg);
        assert!(wait_until(SOON, || a_seen.messages() >= 5), "{thread}");
        a.pause_delivery(true);
        a.pause_delivery(true); // idempotent
                                // One callback may have been under way.
        std::thread::sleep(Duration::from_millis(50));
        let at = a_seen.messages();
        let b_at = b_seen.messages();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(a_seen.messages(), at, "{thread}: nothing while paused");
        assert!(
            wait_until(SOON, || b_seen.messages() >= b_at + 50),
            "{thread}: the other channel flows meanwhile"
        );
        a.pause_delivery(false);
        assert!(
            wait_until(SOON, || a_seen.messages() >= at + 50),
            "{thread}: flows again once resumed"
        );
        // Paused when freed: dispose resumes for good, Closed comes, and dispose returns.
        a.pause_delivery(true);
        a.dispose().unwrap();
        a_seen.assert_closed_once_last(&format!("{thread}: a"));
        a.pause_delivery(false); // after dispose: nothing happens
        b.close();
        b_seen.assert_closed_once_last(&format!("{thread}: b"));
        drop(b);
        // Nothing was lost or reordered by the pauses (the queue of 16 filled meanwhile).
        assert!(sim.wait_until(SOON, |s| s.connections().iter().all(|c| !c.open)));
        let frames = &sim.connections()[0].frames;
        let got = a_seen.messages.lock().unwrap();
        assert!(got.len() > at + 50, "{thread}");
        assert_eq!(
            got[..],
            frames[..got.len()],
            "{thread}: in order, none lost"
        );
    }
}

#[test]
fn a_callback_can_pause_its_own_channel() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let cfg = shared();
    let slot: Arc<std::sync::OnceLock<Channel>> = Arc::default();
    let (s, count) = (slot.clone(), Arc::new(AtomicUsize::new(0)));
    let c = count.clone();
    let cbs = Callbacks {
        on_message: Some(Box::new(move |_m| {
            if c.fetch_add(1, Ordering::SeqCst) + 1 == 10 {
                s.get().unwrap().pause_delivery(true);
            }
        })),
        on_state: None,
    };
    let ch =
        Channel::open_with_callbacks(&sim.stream_url(&sim.point_web_ids()[0]), &cfg, cbs).unwrap();
    assert!(slot.set(ch).is_ok());
    assert!(wait_until(SOON, || count.load(Ordering::SeqCst) >= 10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        count.load(Ordering::SeqCst),
        10,
        "no callback after it paused"
    );
    slot.get().unwrap().pause_delivery(false);
    assert!(wait_until(SOON, || count.load(Ordering::SeqCst) >= 30));
    slot.get().unwrap().dispose().unwrap();
}
