//! The archive and the recorded endpoints: ranges, paging, stream sets, PI time syntax,
//! errors and faults, and channels that send exactly what is archived.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use piwebasync_sim::{format_ticks, RecordedFault, SimConfig, Simulator};
use serde_json::Value;

fn archive() -> Simulator {
    Simulator::start(
        SimConfig::default()
            .interval(Duration::from_millis(5))
            .archive(true),
    )
    .unwrap()
}

fn get_json(sim: &Simulator, path: &str) -> Value {
    let (status, body) = http_get(sim, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn wait_history(sim: &Simulator, n: usize) {
    assert!(sim.wait_until(Duration::from_secs(10), |s| s.history(0).len() >= n));
}

fn stamps(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Timestamp"].as_str().unwrap().to_string())
        .collect()
}

/// `Links.Next` as the path and query to ask.
fn next(v: &Value) -> Option<String> {
    let link = v["Links"]["Next"].as_str()?;
    let rest = link.split_once("://").unwrap().1;
    Some(rest[rest.find('/').unwrap()..].to_string())
}

#[test]
fn a_stream_pages_through_its_history_with_next_links() {
    let sim = archive();
    wait_history(&sim, 60);
    let id = sim.point_web_id("SINUSOID").unwrap();
    let hist = sim.history(0);
    let start = format_ticks(hist[5].ticks);
    let end = format_ticks(hist[54].ticks);
    let mut path = Some(format!(
        "/piwebapi/streams/{id}/recorded?startTime={start}&endTime={end}&maxCount=7&boundaryType=Inside"
    ));
    let mut got = Vec::new();
    let mut pages = 0;
    while let Some(p) = path.take() {
        let v = get_json(&sim, &p);
        assert_eq!(v["UnitsAbbreviation"], "");
        let items = stamps(&v["Items"]);
        assert!(items.len() <= 7);
        got.extend(items);
        path = next(&v);
        pages += 1;
    }
    // Inside: both ends included; every value once, in order.
    let expected: Vec<String> = hist[5..=54].iter().map(|a| format_ticks(a.ticks)).collect();
    assert_eq!(got, expected);
    assert_eq!(pages, 8);
}

#[test]
fn stream_sets_ad_hoc_and_of_an_element_with_filters() {
    let sim = archive();
    wait_history(&sim, 10);
    let ids = sim.point_web_ids();
    let v = get_json(
        &sim,
        &format!(
            "/piwebapi/streamsets/recorded?webId={}&webId={}&startTime=*-1h&webIdType=IDOnly",
            ids[0], ids[3]
        ),
    );
    let items = v["Items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["Name"], "SINUSOID");
    assert!(items[0]["WebId"].as_str().unwrap().starts_with("I1DP"));
    assert!(stamps(&items[1]["Items"]).len() >= 10);
    let e = sim.element_web_id("Pump01").unwrap();
    let v = get_json(
        &sim,
        &format!("/piwebapi/streamsets/{e}/recorded?nameFilter=F*&maxCount=3"),
    );
    let items = v["Items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["Name"], "Flow");
    assert_eq!(items[0]["Items"].as_array().unwrap().len(), 3);
    assert!(next(&v).unwrap().contains("startIndex=3"));
    // Without Next links: cut at maxCount only.
    let plain = Simulator::start(
        SimConfig::default()
            .interval(Duration::from_millis(5))
            .archive(true)
            .recorded_next_links(false),
    )
    .unwrap();
    wait_history(&plain, 10);
    let v = get_json(
        &plain,
        &format!(
            "/piwebapi/streams/{}/recorded?maxCount=2",
            plain.point_web_ids()[0]
        ),
    );
    assert_eq!(v["Items"].as_array().unwrap().len(), 2);
    assert!(v["Links"]["Next"].is_null());
}

#[test]
fn bad_requests_are_refused_with_pi_error_bodies() {
    let sim = archive();
    let id = sim.point_web_id("SINUSOID").unwrap();
    for (path, status) in [
        (
            format!("/piwebapi/streams/{id}/recorded?startTime=yesterday"),
            400,
        ),
        (
            format!("/piwebapi/streams/{id}/recorded?boundaryType=Outside"),
            400,
        ),
        (format!("/piwebapi/streams/{id}/recorded?maxCount=0"), 400),
        ("/piwebapi/streams/F1DPnope/recorded".to_string(), 404),
        ("/piwebapi/streamsets/recorded".to_string(), 400),
    ] {
        let (s, body) = http_get(&sim, &path);
        assert_eq!(s, status, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["Errors"][0].is_string(), "{body}");
    }
    let no_archive = Simulator::start_default().unwrap();
    let (s, _) = http_get(&no_archive, &format!("/piwebapi/streams/{id}/recorded"));
    assert_eq!(s, 404);
}

#[test]
fn the_recorded_fault_answers_a_status_or_nothing() {
    let sim = archive();
    let id = sim.point_web_id("SINUSOID").unwrap();
    let path = format!("/piwebapi/streams/{id}/recorded");
    sim.recorded_fault(Some(RecordedFault::Status(500)));
    assert_eq!(http_get(&sim, &path).0, 500);
    // The control endpoint does the same.
    assert_eq!(http_get(&sim, "/_sim/recorded_fault?mode=hang").0, 200);
    let mut s = std::net::TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    assert!(s.read(&mut buf).is_err(), "a hanging endpoint answered");
    assert_eq!(http_get(&sim, "/_sim/recorded_fault?mode=off").0, 200);
    assert_eq!(http_get(&sim, &path).0, 200);
    assert_eq!(http_get(&sim, "/_sim/recorded_fault?mode=42").0, 400);
    assert!(sim.recorded_requests() >= 3);
}

#[tokio::test]
async fn a_channel_sends_exactly_what_is_archived_after_it_opened() {
    let sim = archive();
    let id = sim.point_web_id("CDT158").unwrap();
    let mut ws = connect(&sim.stream_url(&id)).await;
    let mut got = Vec::new();
    while got.len() < 50 {
        got.extend(timestamps(&json(&mut ws, SEC).await));
    }
    close(ws).await;
    let hist: Vec<String> = sim
        .history(1)
        .iter()
        .map(|a| format_ticks(a.ticks))
        .collect();
    let first = hist.iter().position(|t| t == &got[0]).unwrap();
    assert_eq!(&hist[first..first + got.len()], &got[..]);
}

#[tokio::test]
async fn initial_values_are_the_newest_archived_ones() {
    let sim = archive();
    wait_history(&sim, 5);
    let id = sim.point_web_id("CDT158").unwrap();
    let mut ws = connect(&format!(
        "{}?includeInitialValues=true",
        sim.stream_url(&id)
    ))
    .await;
    let first = timestamps(&json(&mut ws, SEC).await);
    assert_eq!(first.len(), 1);
    let mut next = Vec::new();
    while next.len() < 3 {
        next.extend(timestamps(&json(&mut ws, SEC).await));
    }
    close(ws).await;
    // The initial value and what follows are consecutive values of the history.
    let hist: Vec<String> = sim
        .history(1)
        .iter()
        .map(|a| format_ticks(a.ticks))
        .collect();
    let at = hist.iter().position(|t| t == &first[0]).unwrap();
    assert_eq!(&hist[at + 1..at + 4], &next[..3]);
}
