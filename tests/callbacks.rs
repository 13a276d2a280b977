//! Callbacks, threads and lifecycle through the Rust API: order, exactly-once `Closed`,
//! re-entrancy, slow callbacks, dispose while a callback runs.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use piwebasync::{Callbacks, Channel, ErrorKind, StateEvent};
use piwebasync_sim::SimConfig;

#[derive(Default)]
struct Seen {
    log: Mutex<Vec<String>>,
    messages: Mutex<Vec<String>>,
    closed: AtomicUsize,
}

impl Seen {
    fn callbacks(self: &Arc<Self>, with_messages: bool) -> Callbacks {
        let (a, b) = (self.clone(), self.clone());
        Callbacks {
            on_message: with_messages.then(|| {
                Box::new(move |m: piwebasync::Message| {
                    a.log.lock().unwrap().push("message".into());
                    a.messages.lock().unwrap().push(m.into_json());
                }) as Box<dyn FnMut(piwebasync::Message) + Send>
            }),
            on_state: Some(Box::new(move |e: &StateEvent| {
                let name = format!("{e:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_string();
                if let StateEvent::Closed { outcome } = e {
                    b.closed.fetch_add(1, Ordering::SeqCst);
                    b.log
                        .lock()
                        .unwrap()
                        .push(format!("Closed:{:?}", outcome.kind()));
                } else {
                    b.log.lock().unwrap().push(name);
                }
            })),
        }
    }

    fn wait_closed(&self) {
        assert!(
            wait_until(SOON, || self.closed.load(Ordering::SeqCst) >= 1),
            "Closed event within {SOON:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(self.closed.load(Ordering::SeqCst), 1, "Closed exactly once");
        let log = self.log.lock().unwrap();
        assert!(
            log.last().unwrap().starts_with("Closed"),
            "Closed is the last callback: {:?}",
            &log[log.len().saturating_sub(5)..]
        );
    }
}

#[test]
fn messages_and_events_arrive_in_order_and_closed_comes_once_last() {
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(5))
        .record_frames(true));
    let seen = Arc::new(Seen::default());
    let ch = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &config(&[]),
        seen.callbacks(true),
    )
    .unwrap();
    assert!(wait_until(SOON, || seen.messages.lock().unwrap().len() >= 20));
    assert_eq!(
        ch.poll_next(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidArgument,
        "no polling a callback channel"
    );
    ch.close();
    seen.wait_closed();
    assert_eq!(seen.log.lock().unwrap()[0], "Connected");
    assert_eq!(seen.log.lock().unwrap().last().unwrap(), "Closed:Closed");
    assert!(sim.wait_until(SOON, |s| !s.connections()[0].open));
    assert_eq!(
        *seen.messages.lock().unwrap(),
        sim.connections()[0].frames,
        "every message, in order"
    );
}

#[test]
fn a_poll_mode_channel_can_have_state_events() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(5)));
    let seen = Arc::new(Seen::default());
    let cfg = config(&[("reconnect", "true"), ("reconnect_initial_delay", "0.05")]);
    let ch = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &cfg,
        seen.callbacks(false),
    )
    .unwrap();
    take(&ch, 3);
    sim.reset_all();
    take(&ch, 3);
    ch.close();
    drain(&ch);
    seen.wait_closed();
    let log = seen.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "Connected",
            "Disconnected",
            "Reconnecting",
            "Reconnected",
            "Closed:Closed"
        ]
    );
}

#[test]
fn close_while_reconnecting_gives_one_closed_event() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(5)));
    let seen = Arc::new(Seen::default());
    let cfg = config(&[
        ("reconnect", "true"),
        ("reconnect_initial_delay", "0.05"),
        ("reconnect_max_delay", "0.1"),
    ]);
    let ch = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &cfg,
        seen.callbacks(true),
    )
    .unwrap();
    sim.restart(Duration::from_secs(30));
    assert!(wait_until(SOON, || seen
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| *l == "Reconnecting")
        .count()
        >= 3));
    ch.close();
    seen.wait_closed();
    // An update after the close reports the end, and adds no event.
    assert_eq!(
        ch.update(&sim.stream_url(&sim.point_web_ids()[1]), true)
            .unwrap_err()
            .kind(),
        ErrorKind::Closed
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(seen.closed.load(Ordering::SeqCst), 1);
}

#[test]
fn update_racing_a_close_never_doubles_the_closed_event() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    for _ in 0..5 {
        let seen = Arc::new(Seen::default());
        let ch = Arc::new(
            Channel::open_with_callbacks(
                &sim.stream_url(&sim.point_web_ids()[0]),
                &config(&[]),
                seen.callbacks(true),
            )
            .unwrap(),
        );
        let updater = {
            let ch = ch.clone();
            let url = sim.stream_url(&sim.point_web_ids()[1]);
            std::thread::spawn(move || ch.update(&url, true))
        };
        ch.close();
        let r = updater.join().unwrap();
        assert!(
            r.is_ok() || matches!(r.as_ref().unwrap_err().kind(), ErrorKind::Closed),
            "{r:?}"
        );
        seen.wait_closed();
    }
}

#[test]
fn a_server_close_with_a_slow_consumer_delivers_everything_then_closed() {
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(1))
        .record_frames(true));
    let seen = Arc::new(Seen::default());
    let slow = seen.clone();
    let mut cbs = seen.callbacks(true);
    let mut inner = cbs.on_message.take().unwrap();
    cbs.on_message = Some(Box::new(move |m| {
        std::thread::sleep(Duration::from_millis(2));
        inner(m);
        let _ = &slow;
    }));
    let ch = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &config(&[("max_queue", "4")]),
        cbs,
    )
    .unwrap();
    assert!(wait_until(SOON, || seen.messages.lock().unwrap().len() >= 10));
    sim.close_all(1000);
    seen.wait_closed();
    assert_eq!(seen.log.lock().unwrap().last().unwrap(), "Closed:Closed");
    assert_eq!(*seen.messages.lock().unwrap(), sim.connections()[0].frames);
    drop(ch);
}

#[test]
fn dispose_waits_for_a_running_callback_and_nothing_runs_afterwards() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let calls = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(Barrier::new(2));
    let (c, b) = (calls.clone(), inside.clone());
    let seen = Arc::new(Seen::default());
    let mut cbs = seen.callbacks(false);
    cbs.on_message = Some(Box::new(move |_m| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            b.wait(); // tell the test a callback runs
            std::thread::sleep(Duration::from_millis(300));
        }
    }));
    let ch =
        Channel::open_with_callbacks(&sim.stream_url(&sim.point_web_ids()[0]), &config(&[]), cbs)
            .unwrap();
    inside.wait();
    ch.dispose().unwrap();
    let after = calls.load(Ordering::SeqCst);
    assert_eq!(
        seen.closed.load(Ordering::SeqCst),
        1,
        "Closed delivered before dispose returned"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        after,
        "no callback after dispose"
    );
}

#[test]
fn calls_from_inside_a_callback_close_works_blocking_calls_are_refused() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(2)));
    let slot: Arc<OnceLock<Channel>> = Arc::new(OnceLock::new());
    let results: Arc<Mutex<Vec<ErrorKind>>> = Arc::default();
    let (s, r) = (slot.clone(), results.clone());
    let seen = Arc::new(Seen::default());
    let mut cbs = seen.callbacks(false);
    let url2 = sim.stream_url(&sim.point_web_ids()[1]);
    cbs.on_message = Some(Box::new(move |_m| {
        let Some(ch) = s.get() else { return };
        let mut r = r.lock().unwrap();
        if !r.is_empty() {
            return;
        }
        r.push(ch.dispose().unwrap_err().kind());
        r.push(ch.update(&url2, true).unwrap_err().kind());
        r.push(ch.wait_closed(Duration::from_secs(1)).unwrap_err().kind());
        r.push(
            piwebasync::shutdown(Duration::from_secs(1))
                .unwrap_err()
                .kind(),
        );
        r.push(
            Channel::open(&url2, &piwebasync::ChannelConfig::default())
                .err()
                .unwrap()
                .kind(),
        );
        ch.close(); // non-blocking: allowed
    }));
    let ch =
        Channel::open_with_callbacks(&sim.stream_url(&sim.point_web_ids()[0]), &config(&[]), cbs)
            .unwrap();
    assert!(slot.set(ch).is_ok());
    seen.wait_closed();
    assert_eq!(*results.lock().unwrap(), vec![ErrorKind::RecursiveCall; 5]);
    assert!(seen
        .log
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .starts_with("Closed:Closed"));
}

#[test]
fn a_slow_callback_on_one_channel_does_not_stall_another() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(5)));
    let release = Arc::new(Barrier::new(2));
    let r = release.clone();
    let stuck = Callbacks {
        on_message: Some(Box::new(move |_m| {
            r.wait();
        })),
        on_state: None,
    };
    let a = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &config(&[]),
        stuck,
    )
    .unwrap();
    let seen = Arc::new(Seen::default());
    let b = Channel::open_with_callbacks(
        &sim.stream_url(&sim.point_web_ids()[1]),
        &config(&[]),
        seen.callbacks(true),
    )
    .unwrap();
    assert!(
        wait_until(SOON, || seen.messages.lock().unwrap().len() >= 30),
        "B flows while A's callback is stuck"
    );
    release.wait();
    a.close();
    b.close();
}

#[test]
fn log_lines_describe_the_channel() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(5)));
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = lines.clone();
    piwebasync::set_log_sink(
        piwebasync::LogLevel::Trace,
        Some(Box::new(move |_lvl, line| {
            l.lock().unwrap().push(line.to_string())
        })),
    )
    .unwrap();
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &config(&[])).unwrap();
    ch.close();
    drain(&ch);
    assert!(wait_until(SOON, || lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("channel closed"))));
    piwebasync::set_log_sink(piwebasync::LogLevel::Trace, None).unwrap();
    let n = lines.lock().unwrap().len();
    assert!(lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("connected to ws://127.0.0.1:")));
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &config(&[])).unwrap();
    ch.close();
    drain(&ch);
    assert_eq!(
        lines.lock().unwrap().len(),
        n,
        "no line after the sink was removed"
    );
}

#[test]
fn dispose_from_another_thread_releases_a_blocked_poll_at_once() {
    let sim = sim(SimConfig::default().quiet(true));
    let ch =
        Arc::new(Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &config(&[])).unwrap());
    let poller = {
        let ch = ch.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let r = ch.poll_next(None); // no timeout: only the dispose can end it
            (r.map(|m| m.into_json()), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    ch.dispose().unwrap();
    let (r, waited) = poller.join().unwrap();
    assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert!(waited < SOON, "released by the dispose, not by a timeout");
}
