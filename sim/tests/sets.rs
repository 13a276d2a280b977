//! What subscription sets meet on a real server: a URL-length limit (414), a per-user channel
//! limit, per-stream errors inside an ad hoc set, and event mode (server-wide values).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use piwebasync_sim::{SimConfig, Simulator};

const SEC: Duration = Duration::from_secs(5);

#[tokio::test]
async fn url_longer_than_the_limit_is_answered_414() {
    let sim = Simulator::start(SimConfig::default().max_url_length(300)).unwrap();
    let ids = sim.point_web_ids();
    let short = sim.adhoc_url(&ids[..1]);
    let long = sim.adhoc_url(&ids);
    assert!(long.len() > 300 + 30, "{}", long.len());
    let _ok = connect(&short).await;
    assert_eq!(http_status(connect_auth(&long, None).await), 414);
}

#[tokio::test]
async fn channels_per_user_are_limited_and_freed_on_close() {
    let sim = Simulator::start(SimConfig::default().max_channels_per_user(2)).unwrap();
    let url = sim.stream_url(&sim.point_web_id("SINUSOID").unwrap());
    let a = connect(&url).await;
    let _b = connect(&url).await;
    assert_eq!(http_status(connect_auth(&url, None).await), 503);
    // Another user has a limit of its own.
    let _c = connect_auth(&url, Some("Bearer other")).await.unwrap();
    // All three registered first: otherwise "2 open" could be a and b, before c registered
    // and before a's close was seen (then d would still find the user at its limit).
    assert!(sim.wait_until(SEC, |s| s.open_connection_count() == 3));
    drop(a);
    assert!(sim.wait_until(SEC, |s| s.open_connection_count() == 2));
    let _d = connect(&url).await;
}

#[tokio::test]
async fn unknown_and_failing_streams_refuse_the_set_or_are_reported_per_stream() {
    let strict = Simulator::start(SimConfig::default().failing_points(&["CDT158"])).unwrap();
    let good = strict.point_web_id("SINUSOID").unwrap();
    let failing = strict.point_web_id("CDT158").unwrap();
    let unknown = "F1DPbogusbogusbogus".to_string();
    assert_eq!(
        http_status(connect_auth(&strict.adhoc_url([&good, &unknown]), None).await),
        404
    );
    assert_eq!(
        http_status(connect_auth(&strict.adhoc_url([&good, &failing]), None).await),
        403
    );

    let lenient = Simulator::start(
        SimConfig::default()
            .failing_points(&["CDT158"])
            .per_stream_errors(true),
    )
    .unwrap();
    let mut ws = connect(&lenient.adhoc_url([&good, &unknown, &failing])).await;
    let first = json(&mut ws, SEC).await;
    let items = first["Items"].as_array().unwrap();
    let reported: HashMap<&str, i64> = items
        .iter()
        .map(|i| {
            (
                i["WebId"].as_str().unwrap(),
                i["WebException"]["StatusCode"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reported,
        HashMap::from([(unknown.as_str(), 404), (failing.as_str(), 403)])
    );
    // The good stream streams; the others never appear again.
    for _ in 0..3 {
        let m = json(&mut ws, SEC).await;
        for i in m["Items"].as_array().unwrap() {
            assert_eq!(i["WebId"], good.as_str(), "{m}");
        }
    }
}

/// Two channels sharing a stream get the same events of it; each stream's events are
/// numbered 1, 2, ... and counted by the server.
#[tokio::test]
async fn event_mode_sends_the_same_events_on_every_channel() {
    let sim = Simulator::start(
        SimConfig::default()
            .point_count(50)
            .stream_period(Duration::from_millis(300)),
    )
    .unwrap();
    let ids = sim.point_web_ids();
    let mut a = connect(&sim.adhoc_url(&ids[..30])).await;
    let mut b = connect(&sim.adhoc_url(&ids[20..])).await;
    let start: Vec<u64> = ids.iter().map(|w| sim.event_count(w).unwrap()).collect();
    let mut got: [HashMap<String, Vec<(String, i64)>>; 2] = Default::default();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        for (k, ws) in [&mut a, &mut b].into_iter().enumerate() {
            let m = json(ws, SEC).await;
            for item in m["Items"].as_array().unwrap() {
                for v in item["Items"].as_array().unwrap() {
                    got[k]
                        .entry(item["WebId"].as_str().unwrap().to_string())
                        .or_default()
                        .push((
                            v["Timestamp"].as_str().unwrap().to_string(),
                            v["Value"].as_i64().unwrap(),
                        ));
                }
            }
        }
    }
    for (k, range) in [(0, 0..30), (1, 20..50)] {
        for i in range {
            let seen = &got[k][&ids[i]];
            let seqs: Vec<i64> = seen.iter().map(|(_, s)| *s).collect();
            // Consecutive from the first, every one after the count read at the start.
            assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
            assert!(seqs[0] as u64 <= start[i] + 1, "{seqs:?} {}", start[i]);
        }
    }
    for i in 20..30 {
        let (x, y) = (&got[0][&ids[i]], &got[1][&ids[i]]);
        let n = x.len().min(y.len()) - 1;
        // The same event has the same timestamp on both channels.
        let common: Vec<_> = x.iter().filter(|e| y.contains(e)).collect();
        assert!(common.len() >= n, "{x:?} / {y:?}");
    }
}
