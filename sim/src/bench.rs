//! Benchmark modes of a connection (a child module of `channel`, so it drives `Conn`):
//!
//! - **prebuilt** (`SimConfig::prebuilt`): K distinct data messages are built once when the
//!   connection starts, then sent in a loop as fast as the socket takes them — the cost of
//!   making messages is out of the way, so the send rate is the server's ceiling. Frames are
//!   fed in batches and flushed once per batch; counters are updated once per batch.
//! - **paced** (`SimConfig::rate`): N data messages per second, each built (and so stamped:
//!   the first value's Timestamp is the clock read while building it) right before its send.
//!   Tokio timers have 1 ms resolution, so every millisecond the number of messages due by
//!   then is sent.
//!
//! Both honour `max_messages_per_connection` and `close_after_messages`, fault commands and
//! stalls (between batches / ticks), and end when the client goes.

use std::time::Duration;

use futures_util::SinkExt;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::Utf8Bytes;
use tokio_tungstenite::tungstenite::Message;

use super::{close_normal, reader_finished, wait_unstalled, Conn, Flow, Kind};
use crate::config::SimConfig;
use crate::model::{ChannelGen, Model};

/// Frames fed before a flush, at most (a flush also happens when tungstenite's write buffer
/// passes its 128 KiB mark).
const BATCH_FRAMES: usize = 64;
const BATCH_BYTES: usize = 256 * 1024;

/// The data-message limit of a connection, if any.
fn limit(cfg: &SimConfig) -> Option<u64> {
    match (cfg.max_messages_per_connection, cfg.close_after_messages) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// After the limit: close (close_after) or go back to the normal loop (heartbeats only).
async fn at_limit(c: &mut Conn, cfg: &SimConfig, data_sent: u64) -> Flow {
    if cfg.close_after_messages.is_some_and(|m| data_sent >= m) {
        return close_normal(c).await;
    }
    Flow::Go
}

/// Sends prebuilt messages as fast as possible until the limit (then returns `Go`, or closes
/// per `close_after_messages`) or the end of the connection (`End`).
pub(super) async fn prebuilt(
    c: &mut Conn,
    stall: &mut watch::Receiver<bool>,
    gen: &mut ChannelGen,
    model: &Model,
    cfg: &SimConfig,
    k: usize,
    data_sent: &mut u64,
) -> Flow {
    if gen.stream_count() == 0 || cfg.quiet {
        return Flow::Go;
    }
    let msgs: Vec<(Utf8Bytes, u64, u64)> = (0..k.max(1))
        .map(|_| {
            let (json, n) = gen.data_message(model, cfg.streams_per_message, cfg.values_per_stream);
            let len = json.len() as u64;
            (Utf8Bytes::from(json), n, len)
        })
        .collect();
    let limit = limit(cfg);
    let mut next = 0usize;
    loop {
        if limit.is_some_and(|m| *data_sent >= m) {
            return at_limit(c, cfg, *data_sent).await;
        }
        if let Flow::End = wait_unstalled(c, stall).await {
            return Flow::End;
        }
        let room = limit.map_or(u64::MAX, |m| m - *data_sent);
        // Counted as fed; the batch ends with a flush. Dropping the batch future between
        // frames is safe: a frame is queued whole or not at all.
        let (mut fed, mut values, mut bytes) = (0u64, 0u64, 0u64);
        let sink = &mut c.sink;
        let batch = async {
            while fed < room && (fed as usize) < BATCH_FRAMES && (bytes as usize) < BATCH_BYTES {
                let (text, n, len) = &msgs[next];
                sink.feed(Message::Text(text.clone())).await?;
                next = (next + 1) % msgs.len();
                fed += 1;
                values += n;
                bytes += len;
            }
            sink.flush().await
        };
        let outcome = tokio::select! {
            biased;
            cmd = c.cmds.recv() => Some(cmd),
            r = batch => if r.is_err() { return Flow::End } else { None },
            _ = reader_finished(&mut c.reader) => return Flow::End,
        };
        *data_sent += fed;
        if fed > 0 {
            c.shared
                .total_messages
                .fetch_add(fed, std::sync::atomic::Ordering::Relaxed);
            c.shared.with_stats(c.id, |s| {
                s.data_messages_sent += fed;
                s.values_sent += values;
                s.bytes_sent += bytes;
            });
        }
        match outcome {
            None => {}
            Some(None) => return Flow::End,
            Some(Some(cmd)) => {
                // Whatever was fed goes out first.
                if c.sink.flush().await.is_err() {
                    return Flow::End;
                }
                if let Flow::End = c.command(cmd).await {
                    return Flow::End;
                }
            }
        }
    }
}

/// Sends `rate` data messages per second, each built right before its send, until the limit
/// or the end of the connection.
pub(super) async fn paced(
    c: &mut Conn,
    stall: &mut watch::Receiver<bool>,
    gen: &mut ChannelGen,
    model: &Model,
    cfg: &SimConfig,
    rate: u64,
    data_sent: &mut u64,
) -> Flow {
    if gen.stream_count() == 0 || cfg.quiet || rate == 0 {
        return Flow::Go;
    }
    let limit = limit(cfg);
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Messages due since `start`; after a stall or a hiccup of more than 100 ms the schedule
    // restarts instead of bursting to catch up.
    let mut start = Instant::now();
    let mut sent_since_start = 0u64;
    loop {
        if limit.is_some_and(|m| *data_sent >= m) {
            return at_limit(c, cfg, *data_sent).await;
        }
        tokio::select! {
            biased;
            cmd = c.cmds.recv() => match cmd {
                Some(cmd) => if let Flow::End = c.command(cmd).await { return Flow::End },
                None => return Flow::End,
            },
            _ = reader_finished(&mut c.reader) => return Flow::End,
            _ = ticker.tick() => {
                if *stall.borrow_and_update() {
                    if let Flow::End = wait_unstalled(c, stall).await {
                        return Flow::End;
                    }
                    start = Instant::now();
                    sent_since_start = 0;
                    continue;
                }
                let due_total = (start.elapsed().as_nanos() * u128::from(rate) / 1_000_000_000) as u64;
                let mut due = due_total.saturating_sub(sent_since_start);
                if due > rate / 10 + 1 {
                    start = Instant::now();
                    sent_since_start = 0;
                    due = 1;
                }
                for _ in 0..due {
                    if limit.is_some_and(|m| *data_sent >= m) {
                        break;
                    }
                    let (json, n) = gen.data_message(model, cfg.streams_per_message, cfg.values_per_stream);
                    if let Flow::End = c.send(json, Kind::Data, n).await {
                        return Flow::End;
                    }
                    *data_sent += 1;
                    sent_since_start += 1;
                }
            }
        }
    }
}
