//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod ports;

use std::time::{Duration, Instant};

use piwebasync::{Channel, ChannelConfig, ErrorKind, Message};
use piwebasync_sim::{SimConfig, Simulator};

/// Generous bound for anything that should happen "soon": tests wait on events, not on clocks.
pub const SOON: Duration = Duration::from_secs(20);

pub fn sim(cfg: SimConfig) -> Simulator {
    Simulator::start(cfg).expect("simulator starts")
}

pub fn config(pairs: &[(&str, &str)]) -> ChannelConfig {
    let mut c = ChannelConfig::default();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    c
}

/// Every message until the channel ends, and how it ended.
pub fn drain(ch: &Channel) -> (Vec<Message>, ErrorKind) {
    let mut out = Vec::new();
    loop {
        match ch.poll_next(Some(SOON)) {
            Ok(m) => out.push(m),
            Err(e) => {
                assert_ne!(
                    e.kind(),
                    ErrorKind::Timeout,
                    "the channel did not end within {SOON:?}"
                );
                return (out, e.kind());
            }
        }
    }
}

/// Poll until `n` messages arrived (panics after SOON without progress).
pub fn take(ch: &Channel, n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| {
            ch.poll_next(Some(SOON))
                .unwrap_or_else(|e| panic!("message {i}: {e} ({:?})", e.kind()))
        })
        .collect()
}

pub fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    pred()
}

/// Resident memory of this process in KiB (Linux).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A section of a committed document generated from one of the library's tables: the text
/// between `begin` and `end` in `path` must be `wanted`. With `PWA_UPDATE_HEADER` set
/// (`make header`) it is rewritten instead; otherwise a difference fails, naming `what`.
pub fn generated_section_is_current(path: &str, begin: &str, end: &str, wanted: &str, what: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        panic!("{path} lacks the markers of {what}");
    };
    let from = b + begin.len();
    if text[from..e] == *wanted {
        return;
    }
    if std::env::var_os("PWA_UPDATE_HEADER").is_some() {
        std::fs::write(path, format!("{}{wanted}{}", &text[..from], &text[e..])).unwrap();
    } else {
        panic!("{what} in {path} is out of date: run `make header`");
    }
}
