//! Graceful shutdown through the Rust API (a test binary of its own: it stops the library's
//! runtime for the whole process).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use piwebasync::{Callbacks, Channel, ChannelConfig, ErrorKind, StateEvent};
use piwebasync_sim::SimConfig;

#[test]
fn shutdown_closes_every_channel_gracefully_then_refuses_new_ones() {
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let url = sim.stream_url(&sim.point_web_ids()[0]);
    let polled = Channel::open(&url, &ChannelConfig::default()).unwrap();
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = events.clone();
    let with_callback = Channel::open_with_callbacks(
        &url,
        &ChannelConfig::default(),
        Callbacks {
            on_message: None,
            on_state: Some(Box::new(move |e: &StateEvent| {
                seen.lock().unwrap().push(format!("{e:?}"));
            })),
        },
    )
    .unwrap();
    take(&polled, 3);
    assert!(sim.wait_for_connections(2, SOON));

    piwebasync::shutdown(SOON).unwrap();

    // Both ended by our close (not by the runtime going away), and the server saw the close.
    assert_eq!(polled.outcome().map(|e| e.kind()), Some(ErrorKind::Closed));
    assert_eq!(
        with_callback.outcome().map(|e| e.kind()),
        Some(ErrorKind::Closed)
    );
    let (_, end) = drain(&polled);
    assert_eq!(end, ErrorKind::Closed, "buffered messages, then Closed");
    let events = events.lock().unwrap().clone();
    assert!(
        events.last().is_some_and(|e| e.starts_with("Closed")),
        "the Closed callback ran before shutdown returned: {events:?}"
    );
    assert!(sim.wait_until(SOON, |s| s.open_connection_count() == 0));

    let e = Channel::open(&url, &ChannelConfig::default())
        .err()
        .expect("no channel after shutdown");
    assert_eq!(e.kind(), ErrorKind::Shutdown);
}
