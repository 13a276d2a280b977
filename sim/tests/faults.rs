//! Fault injection, through the API and the control endpoint.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use piwebasync_sim::{SimConfig, Simulator};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn fast() -> SimConfig {
    SimConfig::default().interval(Duration::from_millis(20))
}

fn is_reset(n: &Next) -> bool {
    match n {
        Next::Err(WsError::Io(e)) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Next::Err(WsError::Protocol(p)) => {
            matches!(
                p,
                tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake
            )
        }
        _ => false,
    }
}

/// Reads until something other than a text frame arrives.
async fn until_not_text(ws: &mut Ws, timeout: Duration) -> Next {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(ws, left).await {
            Next::Text(_) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn reset_all_gives_connection_reset() {
    let sim = Simulator::start(fast()).unwrap();
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    text(&mut ws, SEC).await;
    assert_eq!(sim.reset_all(), 1);
    let n = until_not_text(&mut ws, SEC).await;
    assert!(is_reset(&n), "expected a reset, got {n:?}");
    assert!(!sim.connections()[0].open);
    // The server keeps serving.
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    text(&mut ws, SEC).await;
}

#[tokio::test]
async fn close_all_sends_the_code() {
    let sim = Simulator::start(fast()).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let mut a = connect(&url).await;
    let mut b = connect(&url).await;
    text(&mut a, SEC).await;
    text(&mut b, SEC).await;
    let (ra, rb) = tokio::join!(until_not_text(&mut a, Duration::from_secs(3)), async {
        tokio::task::spawn_blocking({
            let addr = sim.addr();
            move || {
                // close through the control endpoint, from another thread
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                use std::io::{Read, Write};
                write!(s, "GET /_sim/close?code=4001 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            }
        })
        .await
        .unwrap()
    });
    assert!(matches!(ra, Next::Close(Some(4001))), "{ra:?}");
    assert!(
        rb.starts_with("HTTP/1.1 200") && rb.ends_with("ok\n"),
        "{rb}"
    );
    assert!(matches!(
        until_not_text(&mut b, SEC).await,
        Next::Close(Some(4001))
    ));
    assert!(sim.wait_until(Duration::from_secs(3), |s| s.open_connection_count() == 0));

    let mut c = connect(&url).await;
    text(&mut c, SEC).await;
    let closer = std::thread::spawn({
        let addr = sim.addr();
        move || http_get_addr(addr, "/_sim/close")
    });
    assert!(matches!(
        until_not_text(&mut c, Duration::from_secs(3)).await,
        Next::Close(Some(1000))
    ));
    assert_eq!(closer.join().unwrap(), 200);
}

fn http_get_addr(addr: std::net::SocketAddr, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out[9..12].parse().unwrap()
}

#[tokio::test]
async fn refuse_then_listen_again_on_the_same_port() {
    let sim = Simulator::start(fast()).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let mut live = connect(&url).await;
    sim.refuse_for(Duration::from_millis(600));
    let e = tokio::net::TcpStream::connect(sim.addr())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    // Existing connections stay.
    text(&mut live, SEC).await;
    let t = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(sim.addr()).await.is_ok() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(3), "never listened again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(t.elapsed() >= Duration::from_millis(400));
    let mut ws = connect(&url).await;
    text(&mut ws, SEC).await;
}

#[tokio::test]
async fn reject_upgrades_for_a_while() {
    let sim = Simulator::start(fast()).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    sim.reject_upgrades_for(503, Duration::from_millis(500));
    assert_eq!(http_status(connect_auth(&url, None).await), 503);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut ws = connect(&url).await;
    text(&mut ws, SEC).await;
    // Through the control endpoint.
    assert_eq!(http_get(&sim, "/_sim/reject?status=401&ms=400").0, 200);
    assert_eq!(http_status(connect_auth(&url, None).await), 401);
    assert_eq!(sim.connection_count(), 1);
}

#[tokio::test]
async fn stall_sends_nothing_and_ignores_pings() {
    let sim = Simulator::start(fast()).unwrap();
    let url = format!(
        "{}?heartbeatRate=1",
        sim.stream_url(&sim.point_web_ids()[0])
    );
    let mut ws = connect(&url).await;
    text(&mut ws, SEC).await;
    sim.stall(true);
    // Drain what was in flight, then silence.
    let _ = next(&mut ws, Duration::from_millis(100)).await;
    let before = sim.total_messages_sent();
    ws.send(Message::Ping(b"p"[..].into())).await.unwrap();
    let t = Instant::now();
    let mut got = 0;
    while t.elapsed() < Duration::from_millis(500) {
        match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
            Err(_) => {}
            Ok(Some(Ok(_))) => got += 1,
            Ok(other) => panic!("connection ended during stall: {other:?}"),
        }
    }
    assert_eq!(got, 0, "nothing (not even a pong) while stalled");
    assert_eq!(sim.total_messages_sent(), before);
    // New upgrades hang while stalled, but the control endpoint answers.
    let pending = tokio::spawn({
        let url = sim.stream_url(&sim.point_web_ids()[1]);
        async move { connect(&url).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    assert_eq!(http_get(&sim, "/_sim/stall?on=0").0, 200);
    // Resumed: the pong and data arrive; the held upgrade completes.
    let pong = tokio::time::timeout(SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(pong, Message::Pong(_) | Message::Text(_)),
        "{pong:?}"
    );
    text(&mut ws, SEC).await;
    let mut w2 = tokio::time::timeout(SEC, pending).await.unwrap().unwrap();
    text(&mut w2, SEC).await;
}

#[tokio::test]
async fn malformed_frame_is_a_protocol_error() {
    let sim = Simulator::start(fast()).unwrap();
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    text(&mut ws, SEC).await;
    assert_eq!(http_get(&sim, "/_sim/malformed").0, 200);
    let n = until_not_text(&mut ws, SEC).await;
    assert!(matches!(n, Next::Err(WsError::Protocol(_))), "{n:?}");
    drop(ws);
    assert!(sim.wait_until(SEC, |s| s.open_connection_count() == 0));
}

#[tokio::test]
async fn not_json_and_oversize_frames() {
    let sim = Simulator::start(SimConfig::default().interval(Duration::from_secs(30))).unwrap();
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    assert!(sim.wait_for_connections(1, SEC));
    assert_eq!(sim.send_not_json(), 1);
    let t = text(&mut ws, SEC).await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&t).is_err(),
        "{t}"
    );
    assert_eq!(sim.send_oversize(3_000_000), 1);
    let t = text(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(t.len(), 3_000_000);
    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
    assert_eq!(v["Items"].as_array().unwrap().len(), 0);
    assert_eq!(http_get(&sim, "/_sim/oversize?bytes=1000").0, 200);
    assert_eq!(text(&mut ws, SEC).await.len(), 1000);
    assert_eq!(http_get(&sim, "/_sim/notjson").0, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&text(&mut ws, SEC).await).is_err());
    assert!(sim.wait_until(SEC, |s| s.connections()[0].fault_frames_sent == 4));
}

#[tokio::test]
async fn restart_resets_and_comes_back() {
    let sim = Simulator::start(fast()).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let mut ws = connect(&url).await;
    text(&mut ws, SEC).await;
    assert_eq!(http_get(&sim, "/_sim/restart?ms=500").0, 200);
    assert!(is_reset(&until_not_text(&mut ws, SEC).await));
    let e = tokio::net::TcpStream::connect(sim.addr())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut ws = connect(&url).await;
    text(&mut ws, SEC).await;
    assert_eq!(sim.connection_count(), 2);
}

#[tokio::test]
async fn reset_through_control_and_stats_json() {
    let sim = Simulator::start(fast()).unwrap();
    let url = format!(
        "{}?includeInitialValues=true",
        sim.stream_url(&sim.point_web_ids()[0])
    );
    let mut ws = connect(&url).await;
    let mut received = 0u64;
    for _ in 0..4 {
        text(&mut ws, SEC).await;
        received += 1;
    }
    let (status, body) = http_get(&sim, "/_sim/stats");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let c = &v[0];
    assert_eq!(c["id"], 1);
    assert_eq!(c["open"], true);
    assert_eq!(c["initial_messages_sent"], 1);
    assert!(c["data_messages_sent"].as_u64().unwrap() >= received - 1);
    assert!(c.get("frames").is_none());
    assert!(c["path_and_query"]
        .as_str()
        .unwrap()
        .ends_with("?includeInitialValues=true"));

    assert_eq!(http_get(&sim, "/_sim/reset").0, 200);
    assert!(is_reset(&until_not_text(&mut ws, SEC).await));
    let (_, body) = http_get(&sim, "/_sim/summary");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["connections"], 1);
    assert_eq!(v["open_connections"], 0);
    assert_eq!(v["total_messages_sent"], sim.total_messages_sent());

    assert_eq!(http_get(&sim, "/_sim/bogus").0, 404);
    assert_eq!(http_get(&sim, "/_sim/refuse").0, 400);
    assert_eq!(http_get(&sim, "/_sim/oversize?bytes=x").0, 400);
}

#[tokio::test]
async fn wait_for_connections_async_and_drop_stops() {
    let sim = Simulator::start(fast()).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    assert!(
        !sim.wait_for_connections_async(1, Duration::from_millis(50))
            .await
    );
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        connect(&url).await
    });
    assert!(sim.wait_for_connections_async(1, SEC).await);
    let mut ws = task.await.unwrap();
    text(&mut ws, SEC).await;
    let addr = sim.addr();
    let t = Instant::now();
    drop(sim);
    assert!(t.elapsed() < Duration::from_secs(3));
    let n = until_not_text(&mut ws, SEC).await;
    assert!(
        !matches!(n, Next::Timeout),
        "connection must end when the simulator stops"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn close_after_messages_closes_normally() {
    let sim = Simulator::start(fast().close_after_messages(2)).unwrap();
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    text(&mut ws, SEC).await;
    text(&mut ws, SEC).await;
    assert!(matches!(next(&mut ws, SEC).await, Next::Close(Some(1000))));
}

#[tokio::test]
async fn backpressure_is_bounded_and_reset_still_works() {
    // Big messages as fast as possible to a client that does not read.
    let sim = Simulator::start(
        SimConfig::default()
            .interval(Duration::ZERO)
            .point_count(500)
            .values_per_stream(10),
    )
    .unwrap();
    let ws = connect(&sim.adhoc_url(sim.point_web_ids())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a = sim.connections()[0].bytes_sent;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = sim.connections()[0].bytes_sent;
    assert_eq!(a, b, "sending must block when the client does not read");
    assert!(
        a < 64 << 20,
        "sent {a} bytes to a client that reads nothing"
    );
    let t = Instant::now();
    assert_eq!(sim.reset_all(), 1);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(sim.wait_until(SEC, |s| s.open_connection_count() == 0));
    drop(ws);
}

#[tokio::test]
async fn refusal_during_refusal_extends_it() {
    let sim = Simulator::start(fast()).unwrap();
    sim.refuse_for(Duration::from_millis(300));
    sim.refuse_for(Duration::from_millis(800));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(tokio::net::TcpStream::connect(sim.addr()).await.is_err());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(tokio::net::TcpStream::connect(sim.addr()).await.is_ok());
}
