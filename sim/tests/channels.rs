//! Channel endpoints: shapes, parameters, routing and authentication.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use piwebasync_sim::{SimConfig, Simulator, WebIdType, HEARTBEAT};
use tokio_tungstenite::tungstenite::Message;

fn fast() -> SimConfig {
    SimConfig::default().interval(Duration::from_millis(20))
}

#[tokio::test]
async fn stream_channel_sends_valid_increasing_messages() {
    let sim = Simulator::start(fast()).unwrap();
    let p = sim.model().point("SINUSOID").unwrap().clone();
    let mut ws = connect(&sim.stream_url(p.web_id())).await;
    let mut last = String::new();
    for _ in 0..5 {
        let v = json(&mut ws, SEC).await;
        let items = check_message(&v);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["WebId"], p.web_id());
        assert_eq!(items[0]["Name"], "SINUSOID");
        assert_eq!(items[0]["Path"], "\\\\PISRV01\\SINUSOID");
        assert!(items[0]["Items"][0]["Value"].is_f64());
        let ts = timestamps(&v);
        assert!(
            ts[0] > last,
            "timestamps must increase: {} then {}",
            last,
            ts[0]
        );
        last = ts.last().unwrap().clone();
    }
    assert!(sim.wait_until(SEC, |s| s.connections()[0].data_messages_sent >= 5));
    assert_eq!(sim.connection_count(), 1);
    assert_eq!(sim.open_connection_count(), 1);
    close(ws).await;
    assert!(sim.wait_until(SEC, |s| s.open_connection_count() == 0));
}

#[tokio::test]
async fn streamset_of_element_and_name_filter() {
    let sim = Simulator::start(fast()).unwrap();
    let e = sim.element_web_id("Pump01").unwrap();
    assert!(e.starts_with("F1Em"));
    let mut ws = connect(&sim.streamset_url(&e)).await;
    let v = json(&mut ws, SEC).await;
    let items = check_message(&v);
    let names: Vec<&str> = items.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Flow", "Status", "Temperature"]);
    for i in &items {
        assert!(i["WebId"].as_str().unwrap().starts_with("F1Ab"));
        assert!(i["Path"]
            .as_str()
            .unwrap()
            .starts_with("\\\\AFSRV01\\SimDatabase\\Pump01|"));
    }
    close(ws).await;

    let url = format!(
        "{}?nameFilter=t*&categoryName=&showHidden=false&searchFullHierarchy=false",
        sim.streamset_url(&e)
    );
    let mut ws = connect(&url).await;
    let items = check_message(&json(&mut ws, SEC).await);
    let names: Vec<&str> = items.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Temperature"]);
}

#[tokio::test]
async fn adhoc_channel_accepts_any_webid_form() {
    let sim = Simulator::start(fast()).unwrap();
    let m = sim.model();
    let a = m.point("CDT158").unwrap();
    let b = m.point("BA:ACTIVE.1").unwrap();
    let c = &m.attributes()[0];
    let ids = [
        a.web_id(),
        b.web_id_as(WebIdType::IdOnly),
        c.web_id_as(WebIdType::PathOnly),
    ];
    let mut ws = connect(&sim.adhoc_url(ids)).await;
    let items = check_message(&json(&mut ws, SEC).await);
    let names: Vec<&str> = items.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CDT158", "BA:ACTIVE.1", "Flow"]);
    // Messages use the requested form (Full by default), whatever form the request used.
    assert_eq!(items[1]["WebId"], b.web_id());
    let digital = &items[1]["Items"][0]["Value"];
    assert!(
        digital["Name"].is_string()
            && digital["Value"].is_i64()
            && digital["IsSystem"].is_boolean(),
        "{digital}"
    );
}

#[tokio::test]
async fn value_kinds_over_many_messages() {
    // The flaky point must produce bad values; strings and integers appear.
    let sim = Simulator::start(
        SimConfig::default()
            .interval(Duration::from_millis(1))
            .values_per_stream(10),
    )
    .unwrap();
    let ids = sim.point_web_ids();
    let mut ws = connect(&sim.adhoc_url(&ids)).await;
    let (mut bad, mut null_with_errors, mut strings, mut ints, mut system) = (0, 0, 0, 0, 0);
    for _ in 0..10 {
        let v = json(&mut ws, SEC).await;
        for s in check_message(&v) {
            for tv in s["Items"].as_array().unwrap() {
                if tv["Good"] == false {
                    bad += 1;
                }
                if tv["Value"].is_null() {
                    assert!(tv["Errors"].is_array());
                    null_with_errors += 1;
                }
                if tv["Value"].is_string() {
                    strings += 1;
                }
                if tv["Value"].is_i64() {
                    ints += 1;
                }
                if tv["Value"]["IsSystem"] == true {
                    system += 1;
                }
            }
        }
    }
    assert!(bad > 0 && null_with_errors > 0 && strings > 0 && ints > 0 && system > 0);
}

#[tokio::test]
async fn include_initial_values_sends_at_once() {
    let sim = Simulator::start(SimConfig::default().interval(Duration::from_secs(30))).unwrap();
    let ids = sim.point_web_ids();
    let url = sim.adhoc_url(&ids);
    let mut plain = connect(&url).await;
    let mut ws = connect(&format!("{url}&includeInitialValues=true")).await;
    let v = json(&mut ws, Duration::from_millis(500)).await;
    let items = check_message(&v);
    assert_eq!(items.len(), ids.len());
    assert!(matches!(
        next(&mut plain, Duration::from_millis(300)).await,
        Next::Timeout
    ));
    assert!(sim.wait_until(SEC, |s| s.connections()[1].initial_messages_sent == 1));
    let stats = sim.connections();
    assert_eq!(stats[1].initial_messages_sent, 1);
    assert_eq!(stats[1].values_sent, ids.len() as u64);
    assert_eq!(stats[1].data_messages_sent, 0);
}

#[tokio::test]
async fn heartbeat_rate_with_quiet() {
    let sim = Simulator::start(
        SimConfig::default()
            .interval(Duration::from_millis(20))
            .quiet(true),
    )
    .unwrap();
    let url = format!(
        "{}?heartbeatRate=2&includeInitialValues=true",
        sim.stream_url(&sim.point_web_ids()[0])
    );
    let mut ws = connect(&url).await;
    let first = json(&mut ws, SEC).await;
    assert_eq!(check_message(&first).len(), 1);
    for _ in 0..3 {
        assert_eq!(text(&mut ws, SEC).await, HEARTBEAT);
    }
    // Counters move once the send completed, which may be just after the client saw it.
    assert!(sim.wait_until(SEC, |s| s.connections()[0].heartbeats_sent >= 3));
    assert_eq!(sim.connections()[0].data_messages_sent, 0);

    // Without heartbeatRate, a quiet channel sends nothing.
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    assert!(matches!(
        next(&mut ws, Duration::from_millis(300)).await,
        Next::Timeout
    ));
}

#[tokio::test]
async fn heartbeats_after_max_messages() {
    let sim = Simulator::start(fast().max_messages_per_connection(3)).unwrap();
    let url = format!(
        "{}?heartbeatRate=3",
        sim.stream_url(&sim.point_web_ids()[0])
    );
    let mut ws = connect(&url).await;
    for _ in 0..3 {
        assert_eq!(check_message(&json(&mut ws, SEC).await).len(), 1);
    }
    assert_eq!(text(&mut ws, SEC).await, HEARTBEAT);
    assert_eq!(text(&mut ws, SEC).await, HEARTBEAT);
    assert_eq!(sim.connections()[0].data_messages_sent, 3);
}

#[tokio::test]
async fn web_id_type_changes_webids() {
    let sim = Simulator::start(fast()).unwrap();
    let p = sim.model().point("BA:TEMP.1").unwrap().clone();
    for (param, t, prefix) in [
        ("PathOnly", WebIdType::PathOnly, "P1DP"),
        ("IDOnly", WebIdType::IdOnly, "I1DP"),
        ("LocalIDOnly", WebIdType::LocalIdOnly, "L1DP"),
        ("DefaultIDOnly", WebIdType::Full, "F1DP"),
    ] {
        let mut ws = connect(&format!("{}?webIdType={param}", sim.stream_url(p.web_id()))).await;
        let items = check_message(&json(&mut ws, SEC).await);
        let w = items[0]["WebId"].as_str().unwrap();
        assert!(w.starts_with(prefix), "{param}: {w}");
        assert_eq!(w, p.web_id_as(t));
    }
    // PathOnly WebIds end with the base64url of the upper-cased path.
    assert!(p
        .web_id_as(WebIdType::PathOnly)
        .ends_with("UElTUlYwMVxCQTpURU1QLjE"));
}

#[tokio::test]
async fn streams_per_message_and_values_per_stream() {
    let sim = Simulator::start(
        fast()
            .streams_per_message(2)
            .values_per_stream(3)
            .record_frames(true),
    )
    .unwrap();
    let ids = sim.point_web_ids();
    let mut ws = connect(&sim.adhoc_url(&ids)).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let v = json(&mut ws, SEC).await;
        let items = check_message(&v);
        assert_eq!(items.len(), 2);
        for i in &items {
            assert_eq!(i["Items"].as_array().unwrap().len(), 3);
            seen.push(i["Name"].as_str().unwrap().to_string());
        }
        let ts = timestamps(&v);
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");
    }
    // Rotation: the first 4 messages cover 8 stream slots of 7 streams.
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
}

#[tokio::test]
async fn stats_and_frames_match_what_the_client_received() {
    let sim = Simulator::start(fast().max_messages_per_connection(5).record_frames(true)).unwrap();
    let url = format!(
        "{}&includeInitialValues=true",
        sim.adhoc_url(sim.point_web_ids())
    );
    let mut ws = connect(&url).await;
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(text(&mut ws, SEC).await);
    }
    assert!(matches!(
        next(&mut ws, Duration::from_millis(200)).await,
        Next::Timeout
    ));
    let s = sim.connection(1).unwrap();
    assert_eq!(s.frames, got);
    assert_eq!(s.initial_messages_sent, 1);
    assert_eq!(s.data_messages_sent, 5);
    assert_eq!(s.values_sent, 6 * 7);
    assert_eq!(
        s.bytes_sent,
        got.iter().map(|t| t.len() as u64).sum::<u64>()
    );
    assert_eq!(sim.total_messages_sent(), 6);
    let mut uniq = got.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), got.len(), "every message is unique");
    assert!(s
        .path_and_query
        .starts_with("/piwebapi/streamsets/channel?webId="));
    assert!(s.open);
}

#[tokio::test]
async fn ping_pong_and_client_close() {
    let sim = Simulator::start(SimConfig::default().interval(Duration::from_secs(30))).unwrap();
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    ws.send(Message::Ping(b"hello"[..].into())).await.unwrap();
    let pong = tokio::time::timeout(SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"hello"[..].into()));
    ws.send(Message::Close(None)).await.unwrap();
    let reply = tokio::time::timeout(SEC, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(reply, Message::Close(_)));
    assert!(sim.wait_until(SEC, |s| !s.connections()[0].open));
}

#[tokio::test]
async fn not_found_and_bad_requests() {
    let sim = Simulator::start(fast()).unwrap();
    let base = sim.base_url();
    let good = sim.point_web_ids()[0].clone();
    assert_eq!(
        http_status(connect_auth(&sim.stream_url("F1DPnope"), None).await),
        404
    );
    assert_eq!(
        http_status(connect_auth(&format!("{base}/nothing/here"), None).await),
        404
    );
    assert_eq!(
        http_status(connect_auth(&sim.adhoc_url([good.as_str(), "F1DPnope"]), None).await),
        404
    );
    let elsewhere = format!("ws://{}/other/streams/{good}/channel", sim.addr());
    assert_eq!(http_status(connect_auth(&elsewhere, None).await), 404);
    assert_eq!(
        http_status(
            connect_auth(&format!("{}?webIdType=Bogus", sim.stream_url(&good)), None).await
        ),
        400
    );
    // No upgrade headers on a channel path: 400; the 404 body is PI-like JSON.
    let (status, _) = http_get(&sim, &format!("/piwebapi/streams/{good}/channel"));
    assert_eq!(status, 400);
    let (status, body) = http_get(&sim, "/piwebapi/streams/F1DPnope/channel");
    assert_eq!(status, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["Errors"][0].is_string());
    assert_eq!(sim.connection_count(), 0);
    assert_eq!(sim.upgrade_requests(), 7);
}

#[tokio::test]
async fn basic_and_bearer_authentication() {
    let sim = Simulator::start(fast().basic_auth("alice", "s3cret")).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    assert_eq!(http_status(connect_auth(&url, None).await), 401);
    // "alice:wrong"
    assert_eq!(
        http_status(connect_auth(&url, Some("Basic YWxpY2U6d3Jvbmc=")).await),
        401
    );
    assert_eq!(
        http_status(connect_auth(&url, Some("Bearer s3cret")).await),
        401
    );
    // "alice:s3cret"
    let mut ws = connect_auth(&url, Some("Basic YWxpY2U6czNjcmV0"))
        .await
        .unwrap();
    check_message(&json(&mut ws, SEC).await);
    // The 401 carries the challenge.
    let raw = raw_response(&sim, &url);
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    assert!(
        raw.contains("WWW-Authenticate: Basic realm=\"piwebasync-sim\""),
        "{raw}"
    );

    let sim = Simulator::start(fast().bearer_token("tok123").basic_auth("bob", "pw")).unwrap();
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    assert_eq!(
        http_status(connect_auth(&url, Some("Bearer nope")).await),
        401
    );
    connect_auth(&url, Some("Bearer tok123")).await.unwrap();
    connect_auth(&url, Some("Basic Ym9iOnB3")).await.unwrap();
    let raw = raw_response(&sim, &url);
    assert!(raw.contains("WWW-Authenticate: Bearer"), "{raw}");
}

/// The raw head of the answer to an unauthenticated upgrade.
fn raw_response(sim: &Simulator, url: &str) -> String {
    use std::io::{Read, Write};
    let path = &url[url.find("/piwebapi").unwrap()..];
    let mut s = std::net::TcpStream::connect(sim.addr()).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn zero_interval_sends_as_fast_as_possible() {
    let sim = Simulator::start(SimConfig::default().interval(Duration::ZERO)).unwrap();
    let mut ws = connect(&sim.adhoc_url(sim.point_web_ids())).await;
    let t = std::time::Instant::now();
    let mut n = 0;
    while t.elapsed() < Duration::from_millis(300) {
        text(&mut ws, SEC).await;
        n += 1;
    }
    // 100 ms ticks would give 3; as fast as possible gives far more.
    assert!(n > 100, "only {n} messages in 300 ms");
}

#[tokio::test]
async fn custom_root_and_top_level_root() {
    let sim = Simulator::start(fast().root("api/v1/")).unwrap();
    assert!(sim.base_url().ends_with("/api/v1"), "{}", sim.base_url());
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    check_message(&json(&mut ws, SEC).await);
    let old = format!(
        "ws://{}/piwebapi/streams/{}/channel",
        sim.addr(),
        sim.point_web_ids()[0]
    );
    assert_eq!(http_status(connect_auth(&old, None).await), 404);

    let sim = Simulator::start(fast().root("/")).unwrap();
    assert_eq!(sim.base_url(), format!("ws://{}", sim.addr()));
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    check_message(&json(&mut ws, SEC).await);
}

#[tokio::test]
async fn many_points_large_messages() {
    let sim = Simulator::start(fast().point_count(5000)).unwrap();
    assert_eq!(sim.model().points().len(), 5000);
    assert_eq!(sim.model().points()[4999].name, "SIM.TAG.05000");
    // A big stream set through an ad hoc URL (~ 50 KB of webId= text; the test
    // client's URI limit is 64 KB, the simulator accepts request heads up to 1 MiB).
    let ids = &sim.point_web_ids()[4300..];
    let mut ws = connect(&format!("{}&includeInitialValues=true", sim.adhoc_url(ids))).await;
    let v = json(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(check_message(&v).len(), 700);
    assert_eq!(v["Items"][699]["Name"], "SIM.TAG.05000");
}
