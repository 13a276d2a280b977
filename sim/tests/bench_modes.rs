//! Benchmark modes: prebuilt (as fast as possible, K distinct messages in a loop) and paced
//! (N messages per second, stamped right before the send).

mod common;

use std::time::{Duration, Instant};

use common::*;
use piwebasync_sim::{SimConfig, Simulator};

#[tokio::test]
async fn prebuilt_sends_k_distinct_messages_in_a_loop_then_closes() {
    let cfg = SimConfig::default()
        .point_count(3)
        .values_per_stream(2)
        .prebuilt(4)
        .close_after_messages(1000);
    let sim = Simulator::start(cfg).unwrap();
    let mut ws = connect(&sim.adhoc_url(sim.point_web_ids())).await;
    let mut texts = Vec::new();
    loop {
        match next(&mut ws, 5 * SEC).await {
            Next::Text(t) => texts.push(t),
            Next::Close(code) => {
                assert_eq!(code, Some(1000));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(texts.len(), 1000);
    for (i, t) in texts.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        let items = check_message(&v);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["Items"].as_array().unwrap().len(), 2);
        // Four distinct messages, repeated.
        assert_eq!(t, &texts[i % 4]);
    }
    assert_ne!(texts[0], texts[1]);
    assert!(sim.wait_until(SEC, |s| s.connections()[0].data_messages_sent == 1000));
    assert_eq!(sim.connections()[0].values_sent, 6000);
}

#[tokio::test]
async fn paced_sends_at_the_rate_stamped_at_send_time() {
    let cfg = SimConfig::default()
        .point_count(1)
        .rate(1000)
        .max_messages_per_connection(300);
    let sim = Simulator::start(cfg).unwrap();
    let mut ws = connect(&sim.stream_url(&sim.point_web_ids()[0])).await;
    let t0 = Instant::now();
    let mut worst = Duration::ZERO;
    for _ in 0..300 {
        let v = json(&mut ws, SEC).await;
        let ts = &timestamps(&v)[0];
        let sent = piwebasync_ts(ts);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        worst = worst.max(now.saturating_sub(sent));
    }
    let took = t0.elapsed();
    // 300 messages at 1000/s: about 0.3 s (timers are coarse: allow slack).
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(900),
        "took {took:?}"
    );
    // Stamped right before the send: received within a few ms on loopback.
    assert!(
        worst < Duration::from_millis(100),
        "worst send-to-receive {worst:?}"
    );
}

/// `2022-12-09T14:06:38.4350128Z` -> time since the epoch.
fn piwebasync_ts(s: &str) -> Duration {
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap();
    let t: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // days from civil (Howard Hinnant)
    let (y, m, dd) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe - 719_468) as u64;
    let ticks: u64 = frac.parse().unwrap();
    Duration::from_secs(days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2])
        + Duration::from_nanos(ticks * 100)
}
