//! Surviving the network: reconnect, watchdog, half-open detection, refused credentials,
//! make-before-break update — against the simulator's fault injection.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use piwebasync::{Channel, ChannelState, ErrorKind, Message};
use piwebasync_sim::SimConfig;

fn reconnecting(extra: &[(&str, &str)]) -> piwebasync::ChannelConfig {
    let mut pairs = vec![
        ("reconnect", "true"),
        ("reconnect_initial_delay", "0.05"),
        ("reconnect_max_delay", "0.2"),
    ];
    pairs.extend_from_slice(extra);
    config(&pairs)
}

fn all_frames(sim: &piwebasync_sim::Simulator) -> Vec<String> {
    sim.connections()
        .into_iter()
        .flat_map(|c| c.frames)
        .collect()
}

#[test]
fn reset_then_reconnect_loses_nothing_and_repeats_nothing() {
    // Each connection sends 15 messages and then stays quiet, so nothing is in flight at the reset.
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(5))
        .max_messages_per_connection(15)
        .record_frames(true));
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &reconnecting(&[])).unwrap();
    let mut polled: Vec<Message> = take(&ch, 15);
    assert_eq!(sim.reset_all(), 1);
    polled.extend(take(&ch, 15));
    assert!(sim.wait_until(SOON, |s| s.connection_count() == 2));
    assert_eq!(ch.stats().reconnects, 1);
    assert_eq!(ch.state(), ChannelState::Open);
    ch.close();
    let (rest, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Closed);
    polled.extend(rest);
    // The simulator records a frame once its send completed: wait until its side ended.
    assert!(sim.wait_until(SOON, |s| s.connections().iter().all(|c| !c.open)));
    let got: Vec<&str> = polled.iter().map(|m| m.json()).collect();
    let sent = all_frames(&sim);
    assert_eq!(sent.len(), 30);
    assert_eq!(
        got,
        sent.iter().map(String::as_str).collect::<Vec<_>>(),
        "every message once, in order"
    );
}

#[test]
fn a_server_close_with_reconnect_on_is_survived() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &reconnecting(&[])).unwrap();
    take(&ch, 2);
    for code in [1000, 1001] {
        sim.close_all(code);
        assert!(wait_until(SOON, || ch.stats().reconnects >= 1
            && ch.state() == ChannelState::Open));
        take(&ch, 2);
    }
    assert_eq!(ch.stats().reconnects, 2);
}

#[test]
fn an_outage_longer_than_the_watchdog_ends_with_watchdog_timeout() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let ch = Channel::open(&url, &reconnecting(&[("dead_channel_timeout", "0.8")])).unwrap();
    assert!(wait_until(SOON, || ch.stats().messages >= 3));
    let before = ch.stats().messages;
    sim.restart(Duration::from_secs(6));
    let (polled, end) = drain(&ch);
    assert_eq!(end, ErrorKind::WatchdogTimeout);
    assert!(polled.len() as u64 >= before, "the buffer drains first");
    let why = ch.last_error().unwrap();
    assert!(
        why.contains("dead_channel_timeout") && why.contains("could not connect"),
        "{why}"
    );
    assert_eq!(
        ch.poll_next(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::WatchdogTimeout
    );
}

#[test]
fn the_same_outage_with_reconnect_off_is_a_closed_error() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &config(&[])).unwrap();
    take(&ch, 1);
    sim.restart(Duration::from_secs(2));
    let (_, end) = drain(&ch);
    assert_eq!(end, ErrorKind::ClosedError);
}

#[test]
fn an_outage_shorter_than_the_watchdog_is_invisible_to_the_consumer() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let ch = Channel::open(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &reconnecting(&[("dead_channel_timeout", "30")]),
    )
    .unwrap();
    take(&ch, 2);
    sim.restart(Duration::from_millis(700));
    // Poll straight through the outage: only messages, never an error.
    let got = take(&ch, 10);
    assert_eq!(got.len(), 10);
    assert!(wait_until(SOON, || ch.stats().reconnects == 1));
    assert_eq!(ch.state(), ChannelState::Open);
}

#[test]
fn a_stalled_server_is_detected_by_ping_timeout_and_left() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let cfg = reconnecting(&[
        ("ping_interval", "0.2"),
        ("ping_timeout", "0.3"),
        ("open_timeout", "0.5"),
    ]);
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &cfg).unwrap();
    take(&ch, 2);
    sim.stall(true);
    assert!(
        wait_until(SOON, || ch.state() == ChannelState::Reconnecting),
        "half-open socket detected"
    );
    assert!(
        ch.last_error().unwrap_or_default().contains("half-open")
            || ch.last_error().unwrap_or_default().contains("open_timeout")
    );
    sim.stall(false);
    assert!(wait_until(SOON, || ch.state() == ChannelState::Open
        && ch.stats().reconnects >= 1));
    // Healthy again: the reconnect's errors are not reported as the channel's last error.
    assert_eq!(ch.last_error(), None);
    // Drain what is buffered, then fresh data flows.
    while ch.poll_next(Some(Duration::ZERO)).is_ok() {}
    take(&ch, 3);
    // Closed by us: the cause of the terminal status is the close, not the old fault.
    ch.close();
    assert_eq!(drain(&ch).1, ErrorKind::Closed);
    let why = ch.last_error().unwrap_or_default();
    assert!(
        !why.contains("half-open") && !why.contains("open_timeout"),
        "{why}"
    );
}

#[test]
fn refused_credentials_while_reconnecting_end_the_channel_after_one_attempt() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &reconnecting(&[])).unwrap();
    take(&ch, 1);
    sim.reject_upgrades_for(401, Duration::from_secs(30));
    let attempts_before = sim.upgrade_requests();
    sim.reset_all();
    let (_, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Auth);
    assert_eq!(
        sim.upgrade_requests() - attempts_before,
        1,
        "exactly one attempt with refused credentials"
    );
    assert!(ch.last_error().unwrap().contains("401"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sim.upgrade_requests() - attempts_before,
        1,
        "and no retry later"
    );
}

#[test]
fn protocol_faults_close_the_channel_or_reconnect() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let url = sim.stream_url(&sim.point_web_ids()[0]);

    let ch = Channel::open(&url, &config(&[])).unwrap();
    take(&ch, 1);
    sim.send_malformed();
    assert_eq!(drain(&ch).1, ErrorKind::ClosedError);
    assert!(
        ch.last_error().unwrap().contains("protocol error"),
        "{:?}",
        ch.last_error()
    );

    let ch = Channel::open(&url, &config(&[("max_message_size", "100000")])).unwrap();
    take(&ch, 1);
    sim.send_oversize(200_000);
    assert_eq!(drain(&ch).1, ErrorKind::ClosedError);
    assert!(
        ch.last_error().unwrap().contains("max_message_size"),
        "{:?}",
        ch.last_error()
    );

    // A frame that is not JSON is still a message: it never closes the channel.
    let ch = Channel::open(&url, &config(&[])).unwrap();
    take(&ch, 1);
    sim.send_not_json();
    assert!(wait_until(SOON, || ch.stats().messages >= 5));
    assert_eq!(ch.state(), ChannelState::Open);

    let ch = Channel::open(&url, &reconnecting(&[])).unwrap();
    take(&ch, 1);
    sim.send_malformed();
    assert!(wait_until(SOON, || ch.stats().reconnects == 1));
    take(&ch, 3);
}

/// Polls on a thread of its own, keeping everything, until the channel ends.
fn collector(ch: Arc<Channel>) -> (Arc<Mutex<Vec<Message>>>, std::thread::JoinHandle<ErrorKind>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let t = std::thread::spawn(move || loop {
        match ch.poll_next(Some(SOON)) {
            Ok(m) => sink.lock().unwrap().push(m),
            Err(e) => return e.kind(),
        }
    });
    (got, t)
}

#[test]
fn update_under_load_loses_nothing_and_keeps_arrival_order() {
    let sim = sim(SimConfig::default()
        .interval(Duration::from_millis(1))
        .record_frames(true));
    let ids = sim.point_web_ids();
    let (a, b) = (sim.adhoc_url(&ids[..3]), sim.adhoc_url(&ids[3..]));
    let ch = Arc::new(Channel::open(&a, &config(&[])).unwrap());
    let (got, consumer) = collector(ch.clone());
    assert!(wait_until(SOON, || got.lock().unwrap().len() >= 200));
    ch.update(&b, false).unwrap();
    assert_eq!(ch.stats().updates, 1);
    let at_switch = got.lock().unwrap().len();
    assert!(wait_until(SOON, || got.lock().unwrap().len() >= at_switch + 200));
    ch.close();
    assert_eq!(consumer.join().unwrap(), ErrorKind::Closed);

    let got = got.lock().unwrap();
    assert!(sim.wait_until(SOON, |s| s.connections().iter().all(|c| !c.open)));
    let conns = sim.connections();
    assert_eq!(conns.len(), 2);
    let sent: Vec<&str> = conns
        .iter()
        .flat_map(|c| c.frames.iter().map(String::as_str))
        .collect();
    let polled: Vec<&str> = got.iter().map(|m| m.json()).collect();
    assert_eq!(
        polled.len(),
        sent.len(),
        "sent {} (old {} + new {}), polled {}",
        sent.len(),
        conns[0].frames.len(),
        conns[1].frames.len(),
        polled.len()
    );
    assert!(
        polled == sent,
        "every message of both endpoints, the old one's first"
    );
    // Messages say where they came from, and the switch happens once.
    let urls: Vec<&str> = got.iter().map(|m| m.url()).collect();
    let switch = urls.iter().position(|u| *u == b).unwrap();
    assert!(urls[..switch].iter().all(|u| *u == a) && urls[switch..].iter().all(|u| *u == b));
}

#[test]
fn update_to_a_dead_endpoint_rolls_back_or_closes() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let good = sim.stream_url(&sim.point_web_ids()[0]);
    let dead = "ws://127.0.0.1:1/piwebapi/streams/x/channel";

    let ch = Channel::open(&good, &config(&[])).unwrap();
    take(&ch, 1);
    let e = ch.update(dead, true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RolledBack);
    assert!(e.message().contains("127.0.0.1:1"), "{e}");
    for m in take(&ch, 3) {
        assert_eq!(m.url(), good, "the channel goes on at its old endpoint");
    }
    assert_eq!(ch.state(), ChannelState::Open);

    let e = ch.update(dead, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UpdateFailed);
    let (_, end) = drain(&ch);
    assert_eq!(end, ErrorKind::UpdateFailed);
    assert!(ch.last_error().unwrap().contains("127.0.0.1:1"));
    // An update on an ended channel reports how it ended.
    assert_eq!(
        ch.update(&good, true).unwrap_err().kind(),
        ErrorKind::UpdateFailed
    );
    // A malformed URL is refused without touching the channel.
    let ch = Channel::open(&good, &config(&[])).unwrap();
    assert_eq!(
        ch.update("nonsense", false).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    take(&ch, 2);
}

#[test]
fn update_while_reconnecting_moves_the_channel_to_the_new_endpoint() {
    let down = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let up = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let ch = Channel::open(
        &down.stream_url(&down.point_web_ids()[0]),
        &reconnecting(&[
            ("reconnect_initial_delay", "0.5"),
            ("reconnect_max_delay", "1"),
        ]),
    )
    .unwrap();
    take(&ch, 1);
    down.restart(Duration::from_secs(30));
    assert!(wait_until(SOON, || ch.state() == ChannelState::Reconnecting));
    let target = up.stream_url(&up.point_web_ids()[1]);
    // A dead endpoint with rollback: the channel keeps reconnecting to the old one.
    assert_eq!(
        ch.update("ws://127.0.0.1:1/x", true).unwrap_err().kind(),
        ErrorKind::RolledBack
    );
    assert_eq!(ch.state(), ChannelState::Reconnecting);
    ch.update(&target, false).unwrap();
    assert!(wait_until(SOON, || ch.state() == ChannelState::Open));
    let msgs: Vec<Message> = std::iter::from_fn(|| ch.poll_next(Some(SOON)).ok())
        .take_while(|m| m.url() != target)
        .collect();
    assert!(msgs.len() < 1000);
    take(&ch, 2)
        .iter()
        .for_each(|m| assert_eq!(m.url(), target));
}

#[test]
fn a_second_concurrent_update_is_busy() {
    let slow = sim(SimConfig::default());
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    slow.stall(true); // upgrades are left unanswered: the first update waits for open_timeout
    let ch = Arc::new(
        Channel::open(
            &sim.stream_url(&sim.point_web_ids()[0]),
            &config(&[("open_timeout", "2")]),
        )
        .unwrap(),
    );
    let first = {
        let ch = ch.clone();
        let url = slow.stream_url(&slow.point_web_ids()[0]);
        std::thread::spawn(move || ch.update(&url, true))
    };
    assert!(slow.wait_until(SOON, |s| s.upgrade_requests() >= 1));
    let e = ch
        .update(&sim.stream_url(&sim.point_web_ids()[1]), true)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert_eq!(
        first.join().unwrap().unwrap_err().kind(),
        ErrorKind::RolledBack
    );
    take(&ch, 2);
}

#[test]
fn refused_credentials_may_be_retried_at_the_backoff_cap_when_opted_in() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let cfg = reconnecting(&[
        ("reconnect_on_auth_failure", "true"),
        ("reconnect_max_delay", "0.3"),
    ]);
    let ch = Channel::open(&sim.stream_url(&sim.point_web_ids()[0]), &cfg).unwrap();
    take(&ch, 1);
    sim.reject_upgrades_for(401, Duration::from_millis(1500));
    let before = sim.upgrade_requests();
    sim.reset_all();
    // The refusals are retried, no faster than the cap allows (jitter x0.5: >= 0.15 s apart),
    // and the channel comes back once the server accepts again.
    assert!(wait_until(SOON, || ch.stats().reconnects == 1
        && ch.state() == ChannelState::Open));
    let attempts = sim.upgrade_requests() - before;
    assert!(
        (2..=12).contains(&attempts),
        "{attempts} attempts in ~1.5 s at a 0.3 s cap"
    );
    while ch.poll_next(Some(Duration::ZERO)).is_ok() {}
    take(&ch, 2);
}
