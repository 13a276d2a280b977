//! The life of a channel: first connection, sessions, reconnects under the watchdog, and the
//! single terminal outcome it leaves in the queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep, Instant};

use super::backoff::Backoff;
use super::runtime;
use super::session::{close_requested, secs, Session, SessionEnd};
use super::state::ChannelState;
use super::Shared;
use crate::config::ChannelConfig;
use crate::error::{Error, ErrorKind};
use crate::wire::{self, Target, WsStream};

/// The API side's hold on a running channel task.
pub struct TaskHandle {
    close_tx: watch::Sender<bool>,
}

impl TaskHandle {
    /// Ask for a graceful close; returns at once. Idempotent.
    pub fn close(&self) {
        self.close_tx.send_replace(true);
    }
}

/// Start a channel and block the calling thread until its first connection is up or failed.
/// The wait is bounded by `open_timeout` (enforced in the task) plus a safety margin.
pub fn spawn(target: Target, cfg: ChannelConfig, shared: Arc<Shared>) -> Result<TaskHandle, Error> {
    let handle = runtime::handle()?;
    let (close_tx, close_rx) = watch::channel(false);
    let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
    let open_timeout = cfg.open_timeout;
    let task = ChannelTask { url: Arc::from(target.display()), target, cfg, shared: shared.clone(), close_rx };
    handle.spawn(task.run(opened_tx));
    let task_handle = TaskHandle { close_tx };
    match opened_rx.recv_timeout(open_timeout + Duration::from_secs(5)) {
        Ok(Ok(())) => Ok(task_handle),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            // The task did not report: the runtime is stuck or gone. Do not leave it running.
            task_handle.close();
            let e = if runtime::is_shut_down() {
                Error::new(ErrorKind::Shutdown, "piwebasync was shut down while the channel opened")
            } else {
                Error::new(ErrorKind::OpenTimeout, "the channel task did not report within open_timeout")
            };
            shared.queue.finish(e.clone());
            Err(e)
        }
    }
}

struct ChannelTask {
    target: Target,
    url: Arc<str>,
    cfg: ChannelConfig,
    shared: Arc<Shared>,
    close_rx: watch::Receiver<bool>,
}

impl ChannelTask {
    async fn run(mut self, opened: std::sync::mpsc::SyncSender<Result<(), Error>>) {
        let _guard = EndOnDrop(self.shared.clone());
        self.shared.counters.set_state(ChannelState::Connecting);
        let first = tokio::select! {
            r = tokio::time::timeout(self.cfg.open_timeout, wire::open(&self.target, &self.cfg)) => match r {
                Ok(r) => r,
                Err(_) => Err(Error::new(
                    ErrorKind::OpenTimeout,
                    format!("no connection to {} within open_timeout ({})", self.url, secs(self.cfg.open_timeout)),
                )),
            },
            _ = close_requested(&mut self.close_rx) => Err(Error::new(ErrorKind::Closed, "closed while opening")),
        };
        let mut ws = match first {
            Ok(ws) => ws,
            Err(e) => {
                self.end(e.clone());
                let _ = opened.send(Err(e));
                return;
            }
        };
        self.shared.counters.set_state(ChannelState::Open);
        let _ = opened.send(Ok(()));
        loop {
            let end = Session { shared: &self.shared, cfg: &self.cfg, url: &self.url, close_rx: &mut self.close_rx }
                .run(&mut ws)
                .await;
            drop(ws);
            let cause = match end {
                SessionEnd::ClosedByUs => return self.end(Error::new(ErrorKind::Closed, "channel closed")),
                SessionEnd::ServerClosed { code, reason } => {
                    let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
                    let text = format!("{}: the server closed the channel with code {code}{why}", self.url);
                    let kind = if code == 1000 { ErrorKind::Closed } else { ErrorKind::ClosedError };
                    Error::new(kind, text)
                }
                SessionEnd::Failed(e) => e,
            };
            self.shared.set_last_error(cause.message());
            if !self.cfg.reconnect {
                return self.end(cause);
            }
            ws = match self.reconnect(cause).await {
                Ok(ws) => ws,
                Err(end) => return self.end(end),
            };
            self.shared.counters.reconnected();
            self.shared.counters.set_state(ChannelState::Open);
        }
    }

    /// Try again with backoff until a connection is up, the watchdog fires, credentials are
    /// refused, or a close is asked for. The first attempt is immediate.
    async fn reconnect(&mut self, cause: Error) -> Result<WsStream, Error> {
        self.shared.counters.set_state(ChannelState::Reconnecting);
        let deadline = self.cfg.dead_channel_timeout.map(|d| Instant::now() + d);
        let mut backoff = Backoff::new(self.cfg.reconnect_initial_delay, self.cfg.reconnect_max_delay);
        let mut last = cause;
        loop {
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if remaining.is_zero() {
                return Err(self.watchdog(&last));
            }
            let attempt = tokio::time::timeout(remaining.min(self.cfg.open_timeout), wire::open(&self.target, &self.cfg));
            let result = tokio::select! {
                r = attempt => r,
                _ = close_requested(&mut self.close_rx) => return Err(Error::new(ErrorKind::Closed, "channel closed")),
            };
            match result {
                Ok(Ok(ws)) => return Ok(ws),
                Ok(Err(e)) if matches!(e.http_status(), Some(401) | Some(403)) => {
                    // Never loop on refused credentials: repeated failures lock accounts.
                    let kind = e.kind();
                    return Err(e.with_kind(kind, "reconnect refused, channel closed"));
                }
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = Error::new(
                        ErrorKind::OpenTimeout,
                        format!("no connection to {} within {}", self.url, secs(remaining.min(self.cfg.open_timeout))),
                    )
                }
            }
            self.shared.set_last_error(last.message());
            let delay = backoff.next_delay();
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            tokio::select! {
                _ = sleep(delay.min(remaining)) => {}
                _ = close_requested(&mut self.close_rx) => return Err(Error::new(ErrorKind::Closed, "channel closed")),
            }
        }
    }

    fn watchdog(&self, last: &Error) -> Error {
        let limit = self.cfg.dead_channel_timeout.map(secs).unwrap_or_default();
        Error::new(
            ErrorKind::WatchdogTimeout,
            format!("no connection re-established within dead_channel_timeout ({limit}); last error: {}", last.message()),
        )
    }

    /// Leave the terminal outcome for the consumer: after everything buffered.
    fn end(&self, outcome: Error) {
        if outcome.kind() != ErrorKind::Closed || self.shared.last_error().is_none() {
            self.shared.set_last_error(outcome.message());
        }
        self.shared.counters.set_state(ChannelState::Closed);
        self.shared.queue.finish(outcome);
    }
}

/// A task dropped before it ended (the runtime was shut down) still leaves an outcome, so a
/// consumer waiting on the queue is released.
struct EndOnDrop(Arc<Shared>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        if self.0.queue.end().is_none() {
            self.0.counters.set_state(ChannelState::Closed);
            self.0.queue.finish(Error::new(ErrorKind::Shutdown, "piwebasync was shut down"));
        }
    }
}
