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
    // Two channels on the process-wide shared callback thread (`callback_thread=shared`).
    let shared_events: Vec<Arc<Mutex<Vec<String>>>> = (0..2).map(|_| Arc::default()).collect();
    let on_shared: Vec<Channel> = shared_events
        .iter()
        .map(|events| {
            let seen = events.clone();
            Channel::open_with_callbacks(
                &url,
                &common::config(&[("callback_thread", "shared")]),
                Callbacks {
                    on_message: None,
                    on_state: Some(Box::new(move |e: &StateEvent| {
                        seen.lock().unwrap().push(format!("{e:?}"));
                    })),
                },
            )
            .unwrap()
        })
        .collect();
    assert!(
        !LINUX || shared_thread_runs(),
        "the shared callback thread started"
    );
    take(&polled, 3);
    assert!(sim.wait_for_connections(4, SOON));

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
    for (ch, events) in on_shared.iter().zip(&shared_events) {
        assert_eq!(ch.outcome().map(|e| e.kind()), Some(ErrorKind::Closed));
        let events = events.lock().unwrap().clone();
        assert_eq!(
            events.iter().filter(|e| e.starts_with("Closed")).count(),
            1,
            "Closed once on the shared thread: {events:?}"
        );
        assert!(
            events.last().is_some_and(|e| e.starts_with("Closed")),
            "the shared channel's Closed callback ran before shutdown returned: {events:?}"
        );
    }
    // Its channels delivered their Closed: the shared thread ends, as their own threads do.
    assert!(
        !LINUX || wait_until(SOON, || !shared_thread_runs()),
        "the shared callback thread ended"
    );
    assert!(sim.wait_until(SOON, |s| s.open_connection_count() == 0));

    let e = Channel::open(&url, &ChannelConfig::default())
        .err()
        .expect("no channel after shutdown");
    assert_eq!(e.kind(), ErrorKind::Shutdown);

    // Nor with a shared callback thread: no callback runs, and no thread is started for it.
    let ran: Arc<Mutex<Vec<String>>> = Arc::default();
    let r = ran.clone();
    let e = Channel::open_with_callbacks(
        &url,
        &common::config(&[("callback_thread", "shared")]),
        Callbacks {
            on_message: None,
            on_state: Some(Box::new(move |e: &StateEvent| {
                r.lock().unwrap().push(format!("{e:?}"));
            })),
        },
    )
    .err()
    .expect("no shared channel after shutdown");
    assert_eq!(e.kind(), ErrorKind::Shutdown);
    std::thread::sleep(Duration::from_millis(100));
    assert!(ran.lock().unwrap().is_empty());
    assert!(!LINUX || !shared_thread_runs());
}

/// Threads are looked at by name in /proc (Linux only; the Windows run skips that).
const LINUX: bool = cfg!(target_os = "linux");

/// A thread of this process named as the shared callback thread ("piwebasync-shared-callbacks",
/// cut to the 15 bytes Linux keeps).
fn shared_thread_runs() -> bool {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("comm"))
            .is_ok_and(|name| name.trim_end() == "piwebasync-shar")
    })
}
