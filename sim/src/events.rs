//! Event mode (`SimConfig::stream_period`): values are made once, server-wide, and every
//! channel that has a stream gets the same events of it, as from a real PI server (two
//! channels of one point carry the same values). Each stream gets one event per period, at
//! a phase of its own (spread evenly over the period); an event's value is its number in
//! the stream (1, 2, ...) and its timestamp the time it was due, so a client can check that
//! it received each one exactly once. Optionally a stream gets a burst of events per period
//! (`events_per_period`, timestamps 100 ns apart), and consecutive events may share a
//! timestamp (`events_per_timestamp`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::channel::{reader_finished, wait_unstalled, Conn, Flow, Kind};
use crate::model::{Model, WebIdType, HEARTBEAT};
use crate::timefmt::now_ticks;

/// How often the events due are made and sent (one batch per tick).
const TICK: Duration = Duration::from_millis(100);
/// Batches a slow connection may fall behind before it is ended (about 100 s).
const BACKLOG: usize = 1024;

/// One event: the stream (index into the model), its number, its timestamp (100 ns ticks).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event {
    pub stream: u32,
    pub seq: u64,
    pub ticks: u64,
}

pub(crate) type Batch = Arc<Vec<Event>>;

pub(crate) struct Bus {
    pub tx: broadcast::Sender<Batch>,
    /// Events made so far, per stream.
    counts: Vec<AtomicU64>,
    period_ticks: u64,
    base_ticks: u64,
    burst: u64,
    share: u64,
}

impl Bus {
    pub fn new(streams: usize, period: Duration, burst: u32, share: u32) -> Bus {
        Bus {
            tx: broadcast::channel(BACKLOG).0,
            counts: (0..streams).map(|_| AtomicU64::new(0)).collect(),
            period_ticks: (period.as_nanos() / 100).max(1) as u64,
            base_ticks: now_ticks(),
            burst: u64::from(burst.max(1)),
            share: u64::from(share.max(1)),
        }
    }

    fn phase(&self, stream: usize) -> u64 {
        (self.period_ticks as u128 * stream as u128 / self.counts.len().max(1) as u128) as u64
    }

    /// The timestamp of event `seq` (1-based) of `stream`.
    pub fn ticks_of(&self, stream: usize, seq: u64) -> u64 {
        // The first event of its group of `share` gives the timestamp.
        let first = (seq - 1) / self.share * self.share;
        let (period, in_burst) = (first / self.burst, first % self.burst);
        self.base_ticks + self.phase(stream) + period * self.period_ticks + in_burst
    }

    /// Events made so far for `stream`.
    pub fn count(&self, stream: usize) -> u64 {
        self.counts
            .get(stream)
            .map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// Makes the events due by now. The counts are raised before the batch is sent, so a
    /// reader of `count` never sees an event that a connection subscribed since cannot get.
    fn make_due(&self) -> Vec<Event> {
        let now = now_ticks();
        let mut out = Vec::new();
        for (i, c) in self.counts.iter().enumerate() {
            let first = self.base_ticks + self.phase(i);
            if now < first {
                continue;
            }
            let due = ((now - first) / self.period_ticks + 1) * self.burst;
            let have = c.load(Ordering::Relaxed);
            for seq in have + 1..=due {
                out.push(Event {
                    stream: i as u32,
                    seq,
                    ticks: self.ticks_of(i, seq),
                });
            }
            if due > have {
                c.store(due, Ordering::Release);
            }
        }
        out
    }
}

/// Runs the bus until the server stops (the task is dropped with the runtime).
pub(crate) async fn run(bus: Arc<Bus>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let events = bus.make_due();
        if !events.is_empty() {
            // No receiver is fine: the events are counted as made all the same.
            let _ = bus.tx.send(Arc::new(events));
        }
    }
}

/// A connection in event mode: the initial values (the last event of each stream, if asked
/// for), then every batch's events of this channel's streams as one message, heartbeats
/// when a tick brought none. A connection that falls more than the backlog behind (its
/// client stopped reading) is ended: its events are gone, as on a real server.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve(
    c: &mut Conn,
    stall: &mut watch::Receiver<bool>,
    bus: &Bus,
    mut events: broadcast::Receiver<Batch>,
    streams: &[usize],
    webid_type: WebIdType,
    model: &Model,
    include_initial: bool,
    heartbeat_rate: u32,
) -> Flow {
    let mut mine = vec![false; model.streams().len()];
    for &s in streams {
        mine[s] = true;
    }
    // Events up to the initial value of a stream were sent with it: not again.
    let mut sent_up_to = vec![0u64; if include_initial { mine.len() } else { 0 }];
    if include_initial {
        if let Flow::End = wait_unstalled(c, stall).await {
            return Flow::End;
        }
        let initial: Vec<Event> = streams
            .iter()
            .filter_map(|&s| {
                let seq = bus.count(s);
                sent_up_to[s] = seq;
                (seq > 0).then(|| Event {
                    stream: s as u32,
                    seq,
                    ticks: bus.ticks_of(s, seq),
                })
            })
            .collect();
        let (json, n) = model.event_message(&initial, webid_type);
        if let Flow::End = c.send(json, Kind::Initial, n).await {
            return Flow::End;
        }
    }
    let mut idle = 0u32;
    loop {
        tokio::select! {
            biased;
            cmd = c.cmds.recv() => match cmd {
                Some(cmd) => if let Flow::End = c.command(cmd).await { return Flow::End },
                None => return Flow::End,
            },
            _ = reader_finished(&mut c.reader) => return Flow::End,
            batch = events.recv() => {
                let batch = match batch {
                    Ok(b) => b,
                    Err(_) => return c.reset().await,
                };
                if let Flow::End = wait_unstalled(c, stall).await {
                    return Flow::End;
                }
                let due: Vec<Event> = batch
                    .iter()
                    .filter(|e| {
                        mine[e.stream as usize]
                            && sent_up_to.get(e.stream as usize).is_none_or(|&u| e.seq > u)
                    })
                    .copied()
                    .collect();
                if due.is_empty() {
                    idle += 1;
                    if heartbeat_rate > 0 && idle >= heartbeat_rate {
                        idle = 0;
                        if let Flow::End = c.send(HEARTBEAT.to_string(), Kind::Heartbeat, 0).await {
                            return Flow::End;
                        }
                    }
                    continue;
                }
                idle = 0;
                let (json, n) = model.event_message(&due, webid_type);
                if let Flow::End = c.send(json, Kind::Data, n).await {
                    return Flow::End;
                }
            }
        }
    }
}
