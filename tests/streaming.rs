//! Open, poll and close against the simulator: every endpoint, initial values, heartbeats,
//! piwebasync's close semantics, backpressure, and failed opens.

mod common;

use std::time::Duration;

use common::*;
use piwebasync::{Channel, ChannelState, ErrorKind};
use piwebasync_sim::SimConfig;

fn fast() -> SimConfig {
    SimConfig::default().interval(Duration::from_millis(10))
}

#[test]
fn each_endpoint_streams_pi_shaped_messages_and_closes_normally() {
    let sim = sim(fast());
    let element = sim.model().elements()[0].web_id().to_string();
    let urls = [
        sim.stream_url(&sim.point_web_ids()[0]),
        sim.streamset_url(&element),
        sim.adhoc_url(sim.point_web_ids()),
    ];
    for url in urls {
        let ch = Channel::open(&url, &ChannelConfig::default()).unwrap();
        assert_eq!(ch.state(), ChannelState::Open);
        for m in take(&ch, 3) {
            let v: serde_json::Value = serde_json::from_str(m.json()).expect("valid JSON");
            let items = v["Items"].as_array().expect("Items");
            assert!(!items.is_empty());
            assert!(items[0]["WebId"].is_string());
            assert!(items[0]["Items"][0]["Timestamp"].is_string());
            assert_eq!(m.url(), url);
        }
        ch.close();
        ch.close();
        let (_, end) = drain(&ch);
        assert_eq!(end, ErrorKind::Closed);
        assert_eq!(
            ch.poll_next(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::Closed
        );
        assert_eq!(ch.state(), ChannelState::Closed);
    }
}

use piwebasync::ChannelConfig;

#[test]
fn http_base_urls_are_accepted_as_ws() {
    let sim = sim(fast());
    let url = sim
        .stream_url(&sim.point_web_ids()[0])
        .replacen("ws://", "http://", 1);
    let ch = Channel::open(&url, &ChannelConfig::default()).unwrap();
    take(&ch, 1);
}

#[test]
fn include_initial_values_gives_a_first_message_at_once() {
    // Quiet: the simulator sends no data, so only initial values can arrive.
    let sim = sim(SimConfig::default().quiet(true));
    let url = format!(
        "{}&includeInitialValues=true",
        sim.adhoc_url(sim.point_web_ids())
    );
    let ch = Channel::open(&url, &ChannelConfig::default()).unwrap();
    let first = ch.poll_next(Some(SOON)).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.json()).unwrap();
    assert_eq!(
        v["Items"].as_array().unwrap().len(),
        sim.point_web_ids().len(),
        "one item per stream"
    );
    let err = ch.poll_next(Some(Duration::from_millis(300))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);

    // Without the parameter, a quiet channel sends nothing.
    let ch = Channel::open(
        &sim.adhoc_url(sim.point_web_ids()),
        &ChannelConfig::default(),
    )
    .unwrap();
    assert_eq!(
        ch.poll_next(Some(Duration::from_millis(300)))
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
}

#[test]
fn heartbeats_arrive_when_heartbeat_rate_is_set() {
    let sim = sim(SimConfig::default()
        .quiet(true)
        .interval(Duration::from_millis(20)));
    let url = format!(
        "{}?heartbeatRate=3",
        sim.stream_url(&sim.point_web_ids()[0])
    );
    let ch = Channel::open(&url, &ChannelConfig::default()).unwrap();
    for m in take(&ch, 3) {
        let v: serde_json::Value = serde_json::from_str(m.json()).unwrap();
        assert!(
            v["Items"].as_array().is_some_and(|a| a.is_empty()),
            "heartbeat is an empty message: {}",
            m.json()
        );
    }
    assert!(sim.connections()[0].heartbeats_sent >= 3);
}

#[test]
fn after_our_close_every_received_message_is_polled_in_order_then_closed_forever() {
    let sim = sim(fast().record_frames(true));
    let ch = Channel::open(
        &sim.adhoc_url(sim.point_web_ids()),
        &ChannelConfig::default(),
    )
    .unwrap();
    assert!(
        wait_until(SOON, || ch.stats().messages >= 20),
        "messages pile up unpolled"
    );
    ch.close();
    let (polled, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Closed);
    for _ in 0..3 {
        assert_eq!(
            ch.poll_next(Some(Duration::ZERO)).unwrap_err().kind(),
            ErrorKind::Closed
        );
    }
    assert!(sim.wait_until(SOON, |s| !s.connections()[0].open));
    let sent = &sim.connections()[0].frames;
    let got: Vec<&str> = polled.iter().map(|m| m.json()).collect();
    assert!(got.len() >= 20);
    assert_eq!(
        got,
        sent.iter().map(String::as_str).collect::<Vec<_>>(),
        "exactly what the server sent, in order"
    );
}

#[test]
fn server_close_1000_is_a_normal_close_and_other_codes_are_errors() {
    let sim = sim(fast());
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    for (code, expected) in [
        (1000, ErrorKind::Closed),
        (1001, ErrorKind::ClosedError),
        (1011, ErrorKind::ClosedError),
    ] {
        let ch = Channel::open(&url, &ChannelConfig::default()).unwrap();
        take(&ch, 1);
        assert!(sim.close_all(code) >= 1);
        let (_, end) = drain(&ch);
        assert_eq!(end, expected, "close code {code}");
        assert!(
            ch.last_error().unwrap().contains(&format!("code {code}")),
            "{:?}",
            ch.last_error()
        );
    }
}

#[test]
fn a_killed_connection_ends_with_closed_error_after_the_buffer_drains() {
    let sim = sim(fast());
    let ch = Channel::open(
        &sim.stream_url(&sim.point_web_ids()[0]),
        &ChannelConfig::default(),
    )
    .unwrap();
    assert!(wait_until(SOON, || ch.stats().messages >= 5));
    assert_eq!(sim.reset_all(), 1);
    assert!(wait_until(SOON, || ch.state() == ChannelState::Closed));
    let received = ch.stats().messages;
    let (polled, end) = drain(&ch);
    assert_eq!(end, ErrorKind::ClosedError);
    assert_eq!(
        polled.len() as u64,
        received,
        "buffered messages survive the failure"
    );
    assert_eq!(
        ch.poll_next(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::ClosedError
    );
    assert!(!ch.last_error().unwrap().is_empty());
}

#[test]
fn a_slow_consumer_gets_every_message_while_memory_stays_flat() {
    const TOTAL: u64 = 6000;
    // ~100 streams x 10 values: messages of tens of KiB, sent as fast as the socket allows.
    let sim = sim(SimConfig::default()
        .point_count(100)
        .values_per_stream(10)
        .interval(Duration::ZERO)
        .max_messages_per_connection(TOTAL));
    // Raw JSON only: parsing 1 GB of values in a debug build would take most of the time.
    let cfg = config(&[("max_queue", "8"), ("parse_on_receive", "false")]);
    let ch = Channel::open(&sim.adhoc_url(sim.point_web_ids()), &cfg).unwrap();
    let base = rss_kib();
    // The consumer sleeps: the queue fills, the engine stops reading, the server is held back.
    std::thread::sleep(Duration::from_millis(1500));
    let sent_while_asleep = sim.total_messages_sent();
    assert!(
        ch.stats().queue_depth <= 8,
        "queue bounded: {:?}",
        ch.stats()
    );
    assert!(
        sent_while_asleep < TOTAL / 2,
        "backpressure holds the sender: {sent_while_asleep} sent"
    );

    let mut polled = 0u64;
    let mut peak = base;
    while polled < TOTAL {
        let m = ch.poll_next(Some(SOON)).expect("message");
        assert!(!m.json().is_empty());
        polled += 1;
        if polled % 500 == 0 {
            peak = peak.max(rss_kib());
            assert!(ch.stats().queue_depth <= 8);
        }
    }
    // The simulator counts a message once its send completed, which can trail our receipt.
    sim.wait_until(SOON, |s| s.connections()[0].messages_sent() >= polled);
    let conn = &sim.connections()[0];
    assert_eq!(
        polled,
        conn.messages_sent(),
        "every message sent was polled"
    );
    let bytes_sent_mib = conn.bytes_sent >> 20;
    let growth_mib = peak.saturating_sub(base) >> 10;
    assert!(
        bytes_sent_mib > 100,
        "the test moves far more than it may hold ({bytes_sent_mib} MiB)"
    );
    assert!(
        growth_mib < 64,
        "memory grew by {growth_mib} MiB while {bytes_sent_mib} MiB streamed"
    );
    assert_eq!(
        ch.poll_next(Some(Duration::from_millis(200)))
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
}

#[test]
fn failed_opens_report_distinct_kinds_naming_the_url() {
    let sim = sim(fast().basic_auth("piuser", "pi-secret-pw"));
    let cfg = config(&[("open_timeout", "5")]);

    let refused = "ws://127.0.0.1:1/piwebapi/streams/x/channel";
    let e = Channel::open(refused, &cfg).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert!(e.message().contains(refused), "{e}");

    let missing = sim.stream_url("F1DPnosuchpoint");
    let e = Channel::open(&missing, &cfg).err().unwrap();
    assert_eq!(
        e.kind(),
        ErrorKind::Auth,
        "credentials are checked first: {e}"
    );
    assert_eq!(e.http_status(), Some(401));
    assert!(
        e.message().contains("401") && e.message().contains(&missing),
        "{e}"
    );

    let open = piwebasync_sim::Simulator::start(fast()).unwrap();
    let missing = open.stream_url("F1DPnosuchpoint");
    let e = Channel::open(&missing, &cfg).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::HttpStatus);
    assert_eq!(e.http_status(), Some(404));
    assert!(e.message().contains("404"), "{e}");

    let e = Channel::open("ws://user:hunter2@127.0.0.1:1/x", &cfg)
        .err()
        .unwrap();
    assert!(!e.message().contains("hunter2"), "{e}");

    for bad in ["", "nonsense", "ftp://127.0.0.1/x", "ws://"] {
        assert_eq!(
            Channel::open(bad, &cfg).err().unwrap().kind(),
            ErrorKind::InvalidArgument,
            "{bad}"
        );
    }
}

#[test]
fn an_open_that_never_completes_times_out() {
    // A listener that accepts and never answers the upgrade.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "ws://{}/piwebapi/streams/x/channel",
        listener.local_addr().unwrap()
    );
    let cfg = config(&[("open_timeout", "0.5")]);
    let e = Channel::open(&url, &cfg).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::OpenTimeout);
    assert!(e.message().contains(&url), "{e}");
}

/// `parse_on_receive`: `true` parses every message on the network thread, `false` none, `auto`
/// only those that arrive while the consumer is behind (messages wait in the queue).
#[test]
fn parse_on_receive_decides_which_thread_parses() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(5)));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let backlog = |policy: &str| -> Vec<bool> {
        let ch = Channel::open(&url, &config(&[("parse_on_receive", policy)])).unwrap();
        // Not polling: a backlog builds up.
        assert!(
            wait_until(SOON, || ch.stats().queue_depth >= 20),
            "{policy}: backlog"
        );
        let parsed: Vec<bool> = (0..20)
            .map(|_| ch.poll_next(Some(SOON)).expect("message").is_parsed())
            .collect();
        ch.close();
        parsed
    };
    assert!(backlog("true").iter().all(|&p| p), "always");
    assert!(backlog("false").iter().all(|&p| !p), "never");
    let auto = backlog("auto");
    // The first message found an empty queue: left to the consumer. Later ones arrived while
    // it was behind: parsed on arrival.
    assert!(!auto[0], "auto, first message: {auto:?}");
    assert!(
        auto[19],
        "auto, a message that arrived behind a backlog: {auto:?}"
    );
}
