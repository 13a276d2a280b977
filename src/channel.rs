//! The Rust API: a channel that streams PI Web API messages into a bounded queue.

use std::sync::Arc;
use std::time::Duration;

use crate::config::ChannelConfig;
use crate::engine::{self, ChannelState, Shared, Stats, TaskHandle};
use crate::error::Error;
use crate::message::Message;
use crate::wire::Target;

/// An open channel. Dropping it asks for a graceful close.
///
/// `open` and `poll_next` block the calling thread: call them from ordinary threads, not from
/// inside an async runtime.
pub struct Channel {
    shared: Arc<Shared>,
    task: TaskHandle,
    close_timeout: Duration,
}

impl Channel {
    /// Connect to a channel URL (`ws://`, `wss://`, or `http(s)://` meaning the same) and block
    /// until the first connection is up or `config.open_timeout` passed.
    pub fn open(url: &str, config: &ChannelConfig) -> Result<Channel, Error> {
        let target = Target::parse(url)?;
        let shared = Arc::new(Shared::new(config.max_queue));
        let task = engine::spawn(target, config.clone(), shared.clone())?;
        Ok(Channel { shared, task, close_timeout: config.close_timeout })
    }

    /// The next message. Buffered messages come first, also after the channel ended; then the
    /// terminal outcome (`Closed`, `ClosedError`, `WatchdogTimeout`, ...) on this and every later
    /// call. `Timeout` when nothing arrived within `timeout` (`None` waits without limit).
    /// `Busy` when another thread is polling this channel at the same time.
    pub fn poll_next(&self, timeout: Option<Duration>) -> Result<Message, Error> {
        self.shared.queue.pop(timeout)
    }

    /// Change the endpoint, make-before-break: the new URL is opened while the old connection
    /// still streams; once it is up, the old one is closed (its last messages are kept) and the
    /// channel streams from the new one. Blocks until done (at most `open_timeout` plus
    /// `close_timeout`).
    ///
    /// Errors: `InvalidArgument` (bad URL; the channel is unaffected); `RolledBack` (the new
    /// endpoint failed, `rollback` was true, the channel goes on at the old one);
    /// `UpdateFailed` (it failed and `rollback` was false: the channel closes, poll drains and
    /// then reports `UpdateFailed`); `Busy` (another update is running); the channel's terminal
    /// outcome if it already ended. While reconnecting, the new endpoint is tried at once.
    pub fn update(&self, url: &str, rollback: bool) -> Result<(), Error> {
        let target = Target::parse(url)?;
        self.task.update(target, rollback)
    }

    /// Ask for a graceful close and return at once. Idempotent.
    pub fn close(&self) {
        self.task.close();
    }

    /// Wait until the channel's task has ended (after `close`, or by itself). False on timeout.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        self.shared.queue.wait_end(timeout)
    }

    /// How long a close may take at most: the close handshake's bound plus a margin.
    pub fn close_bound(&self) -> Duration {
        self.close_timeout + Duration::from_secs(1)
    }

    pub fn state(&self) -> ChannelState {
        self.shared.counters.state()
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot(self.shared.queue.len())
    }

    /// The last error this channel met (the cause of a terminal outcome), if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error()
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.task.close();
    }
}
