//! What a channel is doing now, and what it has done: read by callers at any time, lock-free.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChannelState {
    /// The first connection is being made.
    Connecting = 0,
    /// A connection is up and messages flow.
    Open = 1,
    /// The connection dropped; a new one is being made (reconnect on).
    Reconnecting = 2,
    /// A close was asked for; the close handshake is in progress.
    Closing = 3,
    /// The channel ended; buffered messages may still be polled.
    Closed = 4,
}

impl ChannelState {
    fn from_u8(v: u8) -> ChannelState {
        match v {
            0 => ChannelState::Connecting,
            1 => ChannelState::Open,
            2 => ChannelState::Reconnecting,
            3 => ChannelState::Closing,
            _ => ChannelState::Closed,
        }
    }
}

/// Counters of one channel since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages received (heartbeats included).
    pub messages: u64,
    /// Bytes of message text received.
    pub bytes: u64,
    /// Successful reconnects.
    pub reconnects: u64,
    /// Successful updates.
    pub updates: u64,
    /// Messages waiting in the queue now.
    pub queue_depth: u64,
    /// Bytes of message text waiting in the queue now (bounded by `max_queue_bytes` plus one
    /// message).
    pub queue_bytes: u64,
    /// Messages the server had sent but that were discarded because it did not answer our
    /// close frame within `close_timeout` while the consumer had not drained the queue (see
    /// the channel's last error). 0 unless a close or an update met such a server.
    pub messages_dropped: u64,
    /// When the last message arrived, in nanoseconds since the Unix epoch; 0 = never.
    pub last_message_unix_ns: i64,
}

#[derive(Default)]
pub struct Counters {
    state: AtomicU8,
    messages: AtomicU64,
    bytes: AtomicU64,
    reconnects: AtomicU64,
    updates: AtomicU64,
    messages_dropped: AtomicU64,
    last_message_unix_ns: AtomicI64,
}

impl Counters {
    pub fn state(&self) -> ChannelState {
        ChannelState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub fn set_state(&self, s: ChannelState) {
        self.state.store(s as u8, Ordering::Release);
    }

    pub fn message_received(&self, bytes: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        self.last_message_unix_ns.store(now, Ordering::Relaxed);
    }

    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self, n: u64) {
        self.messages_dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn updated(&self) {
        self.updates.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, (queue_depth, queue_bytes): (usize, usize)) -> Stats {
        Stats {
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            updates: self.updates.load(Ordering::Relaxed),
            queue_depth: queue_depth as u64,
            queue_bytes: queue_bytes as u64,
            messages_dropped: self.messages_dropped.load(Ordering::Relaxed),
            last_message_unix_ns: self.last_message_unix_ns.load(Ordering::Relaxed),
        }
    }
}
