//! Memory stays bounded on every path, also while a connection closes: against servers that
//! keep flooding after our close frame and never answer it, or answer it late (as a proxy that
//! forwards the close late does). The servers here speak just enough WebSocket for that: the
//! simulator answers a close at once, as a well-behaved PI Web API does.
//!
//! Peak memory is measured twice: the heap, by a counting wrapper around the system allocator
//! (every platform), and on Linux also the kernel's peak RSS (`VmHWM`, reset through
//! `/proc/self/clear_refs`). Both are process-wide, so the tests of this file run one at a time.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use piwebasync::{Channel, ErrorKind};
use piwebasync_sim::SimConfig;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

const MIB: u64 = 1 << 20;

/// How the server treats our close frame.
#[derive(Clone, Copy)]
enum CloseReply {
    /// Keeps flooding, never answers.
    Never,
    /// Keeps flooding for this long after our close frame arrived, then answers it.
    After(Duration),
}

/// A WebSocket server that sends text frames `{"Seq":n,"Pad":"xx.."}` of about `size` bytes
/// as fast as the client takes them.
struct FloodServer {
    port: u16,
    /// Data frames written completely before the close reply (of the last connection).
    sent_before_close: Arc<AtomicU64>,
    /// Our close frame arrived (last connection).
    saw_close: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl FloodServer {
    fn start(size: usize, reply: CloseReply) -> FloodServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let saw_close = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, c, st) = (sent.clone(), saw_close.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (s, c, st) = (s.clone(), c.clone(), st.clone());
                s.store(0, Ordering::Relaxed);
                c.store(false, Ordering::Relaxed);
                std::thread::spawn(move || serve(conn, size, reply, &s, &c, &st));
            }
        });
        FloodServer {
            port,
            sent_before_close: sent,
            saw_close,
            stop,
        }
    }

    fn url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}/piwebapi/streams/F1DPflood/channel",
            self.port
        )
    }
}

impl Drop for FloodServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn frame(seq: u64, size: usize) -> Vec<u8> {
    let head = format!("{{\"Items\":[],\"Links\":{{}},\"Seq\":{seq},\"Pad\":\"");
    let pad = size.saturating_sub(head.len() + 2);
    let mut text = head.into_bytes();
    text.resize(text.len() + pad, b'x');
    text.extend_from_slice(b"\"}");
    let mut out = vec![0x81];
    match text.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&text);
    out
}

fn serve(
    conn: TcpStream,
    size: usize,
    reply: CloseReply,
    sent: &AtomicU64,
    saw_close: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut key = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line
            .split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key"))
        {
            key = v.1.trim().to_string();
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut writer = conn;
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    // Reader: the client sends nothing but its close frame (pings are off): note when it came,
    // and read on (discarding) so the client is never blocked on us.
    let close_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let at = close_at.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut first = true;
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if first && n > 0 && buf[0] & 0x0f == 0x8 {
                        *at.lock().unwrap() = Some(Instant::now());
                    }
                    first = false;
                }
            }
        }
    });
    let mut seq = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let seen = *close_at.lock().unwrap();
        if let Some(t) = seen {
            saw_close.store(true, Ordering::Relaxed);
            if let CloseReply::After(d) = reply {
                if t.elapsed() >= d {
                    // Close 1000, then wait for the client to go.
                    let _ = writer.write_all(&[0x88, 0x02, 0x03, 0xe8]);
                    let _ = writer.shutdown(std::net::Shutdown::Write);
                    return;
                }
            }
        }
        if writer.write_all(&frame(seq, size)).is_err() {
            return;
        }
        seq += 1;
        sent.store(seq, Ordering::Relaxed);
    }
}

/// The system allocator, counting the bytes in use and their peak (resettable): the heap
/// bound checked on every platform (Windows has no `/proc`).
struct CountingAllocator;

static HEAP_IN_USE: AtomicU64 = AtomicU64::new(0);
static HEAP_PEAK: AtomicU64 = AtomicU64::new(0);

fn count_alloc(size: usize) {
    let now = HEAP_IN_USE.fetch_add(size as u64, Ordering::Relaxed) + size as u64;
    HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds GlobalAlloc's contract;
// the wrapper only counts sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (through this wrapper).
        unsafe { System.dealloc(ptr, layout) };
        HEAP_IN_USE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc` and `dealloc`: the caller's contract is passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HEAP_IN_USE.fetch_sub(layout.size() as u64, Ordering::Relaxed);
            count_alloc(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Where memory stood when a test began: peaks are measured from here.
struct PeakMark {
    heap: u64,
    #[cfg(target_os = "linux")]
    rss: u64,
}

/// Resets the peaks to what is in use now.
fn mark_peak() -> PeakMark {
    let heap = HEAP_IN_USE.load(Ordering::Relaxed);
    HEAP_PEAK.store(heap, Ordering::Relaxed);
    PeakMark {
        heap,
        #[cfg(target_os = "linux")]
        rss: linux_rss::reset_peak(),
    }
}

/// Asserts that neither peak grew past `bound` bytes since `mark`.
fn check_peak(mark: &PeakMark, bound: u64, what: &str) {
    let heap = HEAP_PEAK.load(Ordering::Relaxed).saturating_sub(mark.heap);
    assert!(
        heap <= bound,
        "{what}: peak heap grew by {} MiB",
        heap / MIB
    );
    #[cfg(target_os = "linux")]
    {
        let rss = linux_rss::peak().saturating_sub(mark.rss);
        assert!(rss <= bound, "{what}: peak RSS grew by {} MiB", rss / MIB);
    }
}

#[cfg(target_os = "linux")]
mod linux_rss {
    fn kib(field: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// Peak resident memory since the last reset, in bytes.
    pub fn peak() -> u64 {
        kib("VmHWM:")
    }

    /// Resets the peak to the current resident memory; returns it.
    pub fn reset_peak() -> u64 {
        std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
        kib("VmRSS:")
    }
}

fn seq_of(json: &str) -> u64 {
    let at = json.find("\"Seq\":").expect("a Seq") + 6;
    json[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The channel's own bound (README, "Memory"): the queue's bytes plus one message, one
/// message being read, the parsed form of what is queued (these messages parse to almost
/// nothing), plus room for the runtime and the allocator's slack.
fn bound(max_queue_bytes: u64, max_message: u64) -> u64 {
    max_queue_bytes + 2 * max_message + 24 * MIB
}

#[test]
fn free_returns_promptly_and_memory_stays_bounded_against_a_server_that_never_answers_close() {
    let _one = serial();
    for size in [250usize, 170 * 1024] {
        let server = FloodServer::start(size, CloseReply::Never);
        let cfg = config(&[
            ("ping_interval", "0"),
            ("max_queue_bytes", "8388608"),
            ("max_message_size", "1048576"),
        ]);
        let base = mark_peak();
        let ch = Channel::open(&server.url(), &cfg).unwrap();
        // Let the queue fill up (nobody polls), then read a few to get it moving again.
        assert!(wait_until(SOON, || ch.stats().queue_bytes >= 8 * MIB
            || ch.stats().queue_depth >= 1024));
        for _ in 0..50 {
            ch.poll_next(Some(SOON)).unwrap();
        }
        let started = Instant::now();
        ch.dispose().unwrap();
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "{size}-byte messages: free took {took:?}"
        );
        assert!(
            wait_until(SOON, || server.saw_close.load(Ordering::Relaxed)),
            "the close frame was sent"
        );
        check_peak(&base, bound(8 * MIB, MIB), &format!("{size}-byte messages"));
    }
}

#[test]
fn a_close_that_is_never_answered_obeys_the_queue_bound_and_reports_what_it_dropped() {
    let _one = serial();
    let server = FloodServer::start(170 * 1024, CloseReply::Never);
    let cfg = config(&[
        ("ping_interval", "0"),
        ("close_timeout", "1.5"),
        ("max_queue_bytes", "4194304"),
        ("max_message_size", "1048576"),
    ]);
    let base = mark_peak();
    let ch = Channel::open(&server.url(), &cfg).unwrap();
    assert!(wait_until(SOON, || ch.stats().queue_bytes >= 4 * MIB));
    // Close without draining: the queue stays full, the close handshake times out. Meanwhile
    // the channel says it is closing.
    ch.close();
    assert!(
        wait_until(SOON, || ch.state() == piwebasync::ChannelState::Closing),
        "the channel says it is closing while it waits for the close frame (close_timeout 1.5 s)"
    );
    assert!(ch.wait_closed(SOON).unwrap());
    assert_eq!(ch.state(), piwebasync::ChannelState::Closed);
    let stats = ch.stats();
    assert!(
        stats.queue_bytes <= 4 * MIB + 170 * 1024,
        "queue held {} bytes",
        stats.queue_bytes
    );
    assert!(
        stats.messages_dropped > 0,
        "what the server sent after the deadline is counted"
    );
    let why = ch.last_error().expect("the drop is reported");
    assert!(
        why.contains("did not answer the close frame") && why.contains("discarded"),
        "{why}"
    );
    check_peak(&base, bound(4 * MIB, MIB), "the channel");
    // What was queued is still handed out, in order, then the outcome.
    let (msgs, end) = drain(&ch);
    assert_eq!(end, ErrorKind::Closed);
    let seqs: Vec<u64> = msgs.iter().map(|m| seq_of(m.json())).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_late_close_answer_loses_nothing_while_the_consumer_drains_and_stays_bounded() {
    let _one = serial();
    let server = FloodServer::start(2048, CloseReply::After(Duration::from_millis(1500)));
    let cfg = config(&[
        ("ping_interval", "0"),
        ("close_timeout", "20"),
        ("max_queue", "64"),
        ("max_queue_bytes", "65536"),
    ]);
    let base = mark_peak();
    let ch = Channel::open(&server.url(), &cfg).unwrap();
    assert!(wait_until(SOON, || ch.stats().queue_depth >= 32));
    ch.close();
    let mut got = Vec::new();
    let end = loop {
        match ch.poll_next(Some(SOON)) {
            Ok(m) => {
                got.push(seq_of(m.json()));
                assert!(ch.stats().queue_bytes <= 65536 + 2048);
            }
            Err(e) => break e.kind(),
        }
    };
    assert_eq!(end, ErrorKind::Closed);
    let sent = server.sent_before_close.load(Ordering::Relaxed);
    assert!(sent > 1000, "the server flooded ({sent} frames)");
    assert_eq!(
        got,
        (0..sent).collect::<Vec<_>>(),
        "every frame sent before the close reply, once, in order"
    );
    assert_eq!(ch.stats().messages_dropped, 0);
    check_peak(&base, bound(65536, 2048), "the channel");
}

#[test]
fn an_update_away_from_a_late_answering_flood_keeps_every_old_message_first() {
    let _one = serial();
    let old = FloodServer::start(1024, CloseReply::After(Duration::from_millis(1000)));
    let sim = sim(SimConfig::default().interval(Duration::from_millis(20)));
    let new_url = sim.stream_url(&sim.point_web_ids()[0]);
    let cfg = config(&[
        ("ping_interval", "0"),
        ("max_queue", "32"),
        ("max_queue_bytes", "16384"),
    ]);
    let base = mark_peak();
    let ch = Arc::new(Channel::open(&old.url(), &cfg).unwrap());
    assert!(wait_until(SOON, || ch.stats().queue_depth >= 16));
    // The update blocks until the old endpoint is closed and drained: drain meanwhile.
    let updater = {
        let ch = ch.clone();
        let url = new_url.clone();
        std::thread::spawn(move || ch.update(&url, false))
    };
    let mut old_seqs = Vec::new();
    let mut new_msgs = 0;
    while new_msgs < 3 {
        let m = ch.poll_next(Some(SOON)).expect("messages keep coming");
        assert!(ch.stats().queue_bytes <= 16384 + 1024);
        if m.url() == new_url {
            new_msgs += 1;
        } else {
            assert_eq!(new_msgs, 0, "the old endpoint's messages come first");
            old_seqs.push(seq_of(m.json()));
        }
    }
    updater.join().unwrap().expect("the update succeeds");
    let sent = old.sent_before_close.load(Ordering::Relaxed);
    assert!(sent > 100, "the old server flooded ({sent} frames)");
    assert_eq!(old_seqs, (0..sent).collect::<Vec<_>>());
    assert_eq!(ch.stats().messages_dropped, 0);
    check_peak(&base, bound(16384, 1024), "the channel");
}

#[test]
fn the_byte_bound_stops_reading_and_a_larger_message_still_arrives_alone() {
    let _one = serial();
    let server = FloodServer::start(100 * 1024, CloseReply::Never);
    let cfg = config(&[("ping_interval", "0"), ("max_queue_bytes", "1048576")]);
    let ch = Channel::open(&server.url(), &cfg).unwrap();
    assert!(wait_until(SOON, || ch.stats().queue_bytes >= MIB));
    // Reading stopped: the queue neither grows past its bound nor reads further.
    let full = ch.stats();
    std::thread::sleep(Duration::from_millis(300));
    let s = ch.stats();
    assert!(
        s.queue_bytes < MIB + 100 * 1024,
        "{} bytes queued",
        s.queue_bytes
    );
    assert!(s.queue_depth <= 11, "{} messages queued", s.queue_depth);
    assert_eq!(s.messages, full.messages, "no more was read");
    // Draining lets it go on, in order.
    let seqs: Vec<u64> = take(&ch, 40).iter().map(|m| seq_of(m.json())).collect();
    assert_eq!(seqs, (0..40).collect::<Vec<_>>());
    ch.dispose().unwrap();

    // A message larger than the whole byte bound is delivered, one at a time.
    let big = FloodServer::start(64 * 1024, CloseReply::Never);
    let cfg = config(&[("ping_interval", "0"), ("max_queue_bytes", "1000")]);
    let ch = Channel::open(&big.url(), &cfg).unwrap();
    assert!(wait_until(SOON, || ch.stats().queue_depth >= 1));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        ch.stats().queue_depth,
        1,
        "one message over the bound, alone"
    );
    let seqs: Vec<u64> = take(&ch, 5).iter().map(|m| seq_of(m.json())).collect();
    assert_eq!(seqs, (0..5).collect::<Vec<_>>());
    ch.dispose().unwrap();
}

/// A server whose first connection upgrades, sends a few frames and drops; every later
/// connection is accepted and never answered (an upgrade that hangs until open_timeout).
fn first_then_silent() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = Arc::new(AtomicU64::new(0));
    let count = silent.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { continue };
            if i > 0 {
                count.fetch_add(1, Ordering::Relaxed);
                held.push(conn); // accepted, never answered
                if held.len() > 16 {
                    return;
                }
                continue;
            }
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut key = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some((_, v)) = line
                    .split_once(':')
                    .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key"))
                {
                    key = v.trim().to_string();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut w = conn;
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            let _ = w.write_all(head.as_bytes());
            for seq in 0..3 {
                let _ = w.write_all(&frame(seq, 100));
            }
            std::thread::sleep(Duration::from_millis(200));
            drop(w); // dropped without a close frame: the channel reconnects
        }
    });
    (port, silent)
}

#[test]
fn an_update_does_not_wait_for_a_reconnect_attempt_that_hangs() {
    let _one = serial();
    let (port, silent) = first_then_silent();
    let sim = sim(SimConfig::default().interval(Duration::from_millis(10)));
    let target = sim.stream_url(&sim.point_web_ids()[0]);
    // The reconnect attempt hangs for open_timeout (30 s); the update's caller waits at most
    // open_timeout + close_timeout.
    let cfg = config(&[
        ("reconnect", "true"),
        ("reconnect_initial_delay", "0.05"),
        ("open_timeout", "30"),
        ("close_timeout", "1"),
        ("ping_interval", "0"),
    ]);
    let url = format!("ws://127.0.0.1:{port}/piwebapi/streams/F1DPx/channel");
    let ch = Channel::open(&url, &cfg).unwrap();
    take(&ch, 3);
    assert!(
        wait_until(SOON, || silent.load(Ordering::Relaxed) >= 1),
        "a reconnect attempt is hanging"
    );
    let started = Instant::now();
    ch.update(&target, false).expect("the update goes through");
    // Well before the hanging attempt's 30 s: the attempt was dropped for the update.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the update waited {:?}",
        started.elapsed()
    );
    let m = ch.poll_next(Some(SOON)).unwrap();
    assert_eq!(m.url(), target);
    assert_eq!(ch.state(), piwebasync::ChannelState::Open);
}
