//! The life of a channel: first connection, sessions, updates, reconnects under the watchdog,
//! and the single terminal outcome it leaves in the queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, Instant};

use super::backfill::{self, Backfill};
use super::backoff::Backoff;
use super::command::Command;
use super::gapfill::{GapFill, Seam};
use super::options::ChannelOptions;
use super::runtime;
use super::session::{close_requested, connect, secs, Session, SessionEnd, Update};
use super::state::ChannelState;
use super::Shared;
use crate::error::{Error, ErrorKind};
use crate::events::StateEvent;
use crate::wire::{Target, WsStream};

/// How often a waiting update looks whether its channel ended meanwhile.
const UPDATE_ANSWER_SLICE: Duration = Duration::from_millis(50);
/// How long an answer may still come after the channel ended.
const UPDATE_ANSWER_GRACE: Duration = Duration::from_millis(200);

/// The API side's hold on a running channel task.
pub struct TaskHandle {
    close_tx: watch::Sender<bool>,
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    updating: AtomicBool,
    /// Longest an update can take: opening the new endpoint, then closing the old one.
    update_bound: Duration,
}

impl TaskHandle {
    /// Ask for a graceful close; returns at once. Idempotent.
    pub fn close(&self) {
        self.close_tx.send_replace(true);
    }

    /// Switch the channel to `target`, make-before-break; blocks until done.
    pub fn update(&self, target: Target, rollback: bool) -> Result<(), Error> {
        if let Some(end) = self.shared.queue.end() {
            return Err(end);
        }
        if self.updating.swap(true, Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::Busy,
                "another update of this channel is in progress",
            ));
        }
        let result = self.update_inner(target, rollback);
        self.updating.store(false, Ordering::Release);
        result
    }

    fn update_inner(&self, target: Target, rollback: bool) -> Result<(), Error> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let gone = || {
            self.shared
                .queue
                .end()
                .unwrap_or_else(|| Error::new(ErrorKind::Closed, "channel closed"))
        };
        if self
            .commands
            .send(Command::Update {
                target,
                rollback,
                reply,
            })
            .is_err()
        {
            return Err(gone());
        }
        // The task answers every update it takes, and drops the command when it ends. But a
        // command sent while the task was ending can be stranded in the channel (tokio's
        // unbounded channel: the send passed its closed check just before the receiver was
        // dropped and drained), its reply never dropped while this handle lives. So the
        // channel's end is watched too: once it ended, an answer still missing after a short
        // grace never comes. (Seen in test_stress about one run in eight: a 27 s wait, then
        // Internal.)
        let deadline = Instant::now() + self.update_bound;
        let mut ended_at: Option<Instant> = None;
        loop {
            match answer.recv_timeout(UPDATE_ANSWER_SLICE) {
                Ok(r) => return r,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Err(gone()),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if let Some(end) = self.shared.queue.end() {
                let since = *ended_at.get_or_insert(now);
                if now.duration_since(since) >= UPDATE_ANSWER_GRACE {
                    return Err(end);
                }
            }
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::Internal,
                    "the channel task did not answer the update in time (open_timeout + close_timeout)",
                ));
            }
        }
    }
}

/// Start a channel and block the calling thread until its first connection is up or failed.
/// The wait is bounded by `open_timeout` (enforced in the task) plus a safety margin.
pub fn spawn(
    target: Target,
    cfg: Arc<ChannelOptions>,
    shared: Arc<Shared>,
) -> Result<TaskHandle, Error> {
    let handle = runtime::handle()?;
    let (close_tx, close_rx) = watch::channel(false);
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
    let open_timeout = cfg.open_timeout;
    let update_bound = cfg.open_timeout + cfg.close_timeout + Duration::from_secs(5);
    let gap = cfg.gap_fill.map(|o| {
        let ids = super::gapfill::url_web_ids(target.request_target());
        std::sync::Mutex::new(GapFill::new(o, backfill::now_ns(), ids))
    });
    let task = ChannelTask {
        url: Arc::from(target.display()),
        target,
        cfg,
        shared: shared.clone(),
        close_rx,
        commands,
        gap,
        seam: None,
        stashed: None,
    };
    handle.spawn(task.run(opened_tx));
    let task_handle = TaskHandle {
        close_tx,
        commands: commands_tx,
        shared: shared.clone(),
        updating: AtomicBool::new(false),
        update_bound,
    };
    match opened_rx.recv_timeout(open_timeout + Duration::from_secs(5)) {
        Ok(Ok(())) => Ok(task_handle),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            // The task did not report: the runtime is stuck or gone. Do not leave it running.
            task_handle.close();
            let e = if runtime::is_shut_down() {
                Error::new(
                    ErrorKind::Shutdown,
                    "piwebasync was shut down while the channel opened",
                )
            } else {
                Error::new(
                    ErrorKind::OpenTimeout,
                    "the channel task did not report within open_timeout",
                )
            };
            shared.queue.finish(e.clone());
            Err(e)
        }
    }
}

struct ChannelTask {
    target: Target,
    url: Arc<str>,
    cfg: Arc<ChannelOptions>,
    shared: Arc<Shared>,
    close_rx: watch::Receiver<bool>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// `gap_fill`: what was delivered, per stream.
    gap: Option<std::sync::Mutex<GapFill>>,
    /// The seam the next connection comes after: set by a switch to another endpoint.
    seam: Option<Seam>,
    /// A command that interrupted a backfill, for the session to run.
    stashed: Option<Command>,
}

impl ChannelTask {
    fn session(&mut self) -> Session<'_> {
        Session {
            shared: &self.shared,
            cfg: &self.cfg,
            url: &self.url,
            close_rx: &mut self.close_rx,
            commands: &mut self.commands,
            gap: self.gap.as_ref(),
            stashed: &mut self.stashed,
        }
    }

    /// `gap_fill`: deliver what the seam before `ws` missed, before `ws` is read. An update
    /// asked for meanwhile interrupts the backfill and is carried out here: the old connection
    /// was never read (it is closed unread: what it holds of the streams both endpoints share
    /// comes from the new endpoint's backfill), and the new endpoint's seam is filled in turn;
    /// rolled back, the backfill resumes. A close asked for meanwhile is left to the session,
    /// which sees it first. `None`: the update failed without rollback, the channel ended.
    async fn fill(&mut self, mut ws: WsStream, mut seam: Seam) -> Option<WsStream> {
        loop {
            let Some(gap) = self.gap.as_ref() else {
                return Some(ws);
            };
            let opened = backfill::now_ns();
            let mut b = Backfill {
                shared: &self.shared,
                cfg: &self.cfg,
                target: &self.target,
                url: &self.url,
                close_rx: &mut self.close_rx,
                commands: &mut self.commands,
                stashed: &mut self.stashed,
                gap,
            };
            if !matches!(b.run(seam).await, backfill::Outcome::Interrupted) {
                // Streams that deliver nothing on this connection are backfilled from its
                // opening.
                gap.lock().unwrap_or_else(|p| p.into_inner()).endpoint_since = opened;
                return Some(ws);
            }
            let Some(Command::Update {
                target,
                rollback,
                reply,
            }) = self.stashed.take()
            else {
                return Some(ws);
            };
            let connecting = connect(target.clone(), self.cfg.clone(), self.cfg.open_timeout);
            let result = tokio::select! {
                r = connecting => r,
                _ = close_requested(&mut self.close_rx) => {
                    let _ = reply.send(Err(Error::new(ErrorKind::Closed, "the channel was closed during the update")));
                    return Some(ws);
                }
            };
            let update = Update {
                target,
                rollback,
                reply,
            };
            match result {
                Ok(new_ws) => {
                    let old = std::mem::replace(&mut ws, new_ws);
                    close_unread(old, self.cfg.free_grace()).await;
                    self.switch_to(update);
                    seam = self.seam.take().unwrap_or(Seam::Update);
                }
                Err(cause) if update.rollback => {
                    update.roll_back(&self.shared, &self.url, cause);
                }
                Err(cause) => {
                    close_unread(ws, self.cfg.free_grace()).await;
                    self.fail_update(cause, update);
                    return None;
                }
            }
        }
    }

    async fn run(mut self, opened: std::sync::mpsc::SyncSender<Result<(), Error>>) {
        let _guard = EndOnDrop(self.shared.clone());
        self.shared.counters.set_state(ChannelState::Connecting);
        let first = tokio::select! {
            r = connect(self.target.clone(), self.cfg.clone(), self.cfg.open_timeout) => r.map_err(|e| {
                if e.kind() == ErrorKind::OpenTimeout {
                    Error::new(ErrorKind::OpenTimeout, format!("{} (open_timeout)", e.message()))
                } else {
                    e
                }
            }),
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
        self.shared.emit(StateEvent::Connected {
            url: self.url.to_string(),
        });
        let _ = opened.send(Ok(()));
        loop {
            let end = self.session().run(&mut ws).await;
            let cause = match end {
                SessionEnd::ClosedByUs { dropped } => {
                    drop(ws);
                    let text = match dropped {
                        Some(report) => format!("channel closed; {report}"),
                        None => "channel closed".to_string(),
                    };
                    return self.end(Error::new(ErrorKind::Closed, text));
                }
                SessionEnd::Switch { ws: new_ws, update } => {
                    // Make-before-break: the new endpoint is open; take the old one's last
                    // messages, then stream from the new one.
                    if let SessionEnd::ClosedByUs {
                        dropped: Some(report),
                    } = self.session().close(&mut ws).await
                    {
                        self.shared.set_last_error(&report);
                    }
                    self.switch_to(update);
                    let seam = self.seam.take().unwrap_or(Seam::Update);
                    ws = match self.fill(*new_ws, seam).await {
                        Some(ws) => ws,
                        None => return,
                    };
                    continue;
                }
                SessionEnd::UpdateFailed { cause, update } => {
                    self.session().close(&mut ws).await;
                    drop(ws);
                    return self.fail_update(cause, update);
                }
                SessionEnd::ServerClosed { code, reason } => {
                    let why = if reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({reason})")
                    };
                    let text = format!(
                        "{}: the server closed the channel with code {code}{why}",
                        self.url
                    );
                    let kind = if code == 1000 {
                        ErrorKind::Closed
                    } else {
                        ErrorKind::ClosedError
                    };
                    Error::new(kind, text)
                }
                SessionEnd::Failed(e) => e,
            };
            drop(ws);
            self.shared.set_last_error(cause.message());
            self.shared.emit(StateEvent::Disconnected {
                cause: cause.clone(),
            });
            if !self.cfg.reconnect {
                return self.end(cause);
            }
            ws = match self.reconnect(cause).await {
                Ok(ws) => ws,
                Err(end) => return self.end(end),
            };
            self.shared.counters.set_state(ChannelState::Open);
            let seam = self.seam.take().unwrap_or(Seam::Reconnect);
            ws = match self.fill(ws, seam).await {
                Some(ws) => ws,
                None => return,
            };
        }
    }

    fn switch_to(&mut self, update: Update) {
        self.seam = Some(Seam::Update);
        self.target = update.target;
        if let Some(g) = self.gap.as_ref() {
            let ids = super::gapfill::url_web_ids(self.target.request_target());
            g.lock().unwrap_or_else(|p| p.into_inner()).switched(ids);
        }
        self.url = Arc::from(self.target.display());
        self.shared.counters.updated();
        self.shared.counters.set_state(ChannelState::Open);
        self.shared.emit(StateEvent::Updated {
            url: self.url.to_string(),
        });
        let _ = update.reply.send(Ok(()));
    }

    fn fail_update(&self, cause: Error, update: Update) {
        let outcome = Error::new(
            ErrorKind::UpdateFailed,
            format!(
                "update to {} failed and rollback is off, channel closed: {}",
                update.target.display(),
                cause.message()
            ),
        );
        let _ = update.reply.send(Err(outcome.clone()));
        self.end(outcome);
    }

    /// Try again with backoff until a connection is up, the watchdog fires, credentials are
    /// refused, or a close is asked for. The first attempt is immediate, or after a random delay
    /// of at most `reconnect_spread`. An update that arrives
    /// meanwhile is tried at once: on success the channel comes back at the new endpoint.
    async fn reconnect(&mut self, cause: Error) -> Result<WsStream, Error> {
        self.shared.counters.set_state(ChannelState::Reconnecting);
        let deadline = self.cfg.dead_channel_timeout.map(|d| Instant::now() + d);
        let remaining = |deadline: Option<Instant>| match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        let mut backoff = Backoff::new(
            self.cfg.reconnect_initial_delay,
            self.cfg.reconnect_max_delay,
        );
        let mut last = cause;
        let mut attempt: u32 = 1;
        // Spread: many channels dropped by one server restart do not all come back at once.
        let first = self.cfg.reconnect_spread.mul_f64(fastrand::f64());
        self.shared.emit(StateEvent::Reconnecting {
            attempt,
            delay: first,
        });
        if !first.is_zero() {
            if let Some(done) = self.pause(first.min(remaining(deadline))).await {
                return done;
            }
        }
        loop {
            let left = remaining(deadline);
            if left.is_zero() {
                return Err(self.watchdog(&last));
            }
            let connecting = connect(
                self.target.clone(),
                self.cfg.clone(),
                left.min(self.cfg.open_timeout),
            );
            let result = tokio::select! {
                r = connecting => r,
                _ = close_requested(&mut self.close_rx) => return Err(Error::new(ErrorKind::Closed, "channel closed")),
                // An update does not wait for this attempt (its caller waits at most
                // open_timeout + close_timeout): the attempt is dropped, the new endpoint tried.
                Some(Command::Update { target, rollback, reply }) = self.commands.recv() => {
                    match self.update_while_reconnecting(target, rollback, reply).await {
                        Some(done) => return done,
                        None => continue,
                    }
                }
            };
            match result {
                Ok(ws) => {
                    // Healthy again: the errors met while reconnecting are history (the
                    // Disconnected / Reconnecting events told them).
                    self.shared.clear_last_error();
                    self.shared.counters.reconnected();
                    self.shared.emit(StateEvent::Reconnected {
                        url: self.url.to_string(),
                    });
                    return Ok(ws);
                }
                Err(e) if is_auth_refusal(&e) && !self.cfg.reconnect_on_auth_failure => {
                    // Never loop on refused credentials: repeated failures lock accounts.
                    let kind = e.kind();
                    return Err(e.with_kind(kind, "reconnect refused, channel closed"));
                }
                Err(e) => last = e,
            }
            self.shared.set_last_error(last.message());
            // A refusal that may be retried (opted in) waits the longest delay every time.
            let delay = if is_auth_refusal(&last) {
                backoff.max_delay()
            } else {
                backoff.next_delay()
            };
            let delay = delay.min(remaining(deadline));
            attempt = attempt.saturating_add(1);
            self.shared
                .emit(StateEvent::Reconnecting { attempt, delay });
            if let Some(done) = self.pause(delay).await {
                return done;
            }
        }
    }

    /// Wait `delay` before a reconnect attempt; a close or an update meanwhile is served at
    /// once (`Some`: the reconnect is over, this is its result).
    async fn pause(&mut self, delay: Duration) -> Option<Result<WsStream, Error>> {
        let pause = sleep(delay);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = &mut pause => return None,
                _ = close_requested(&mut self.close_rx) => return Some(Err(Error::new(ErrorKind::Closed, "channel closed"))),
                Some(Command::Update { target, rollback, reply }) = self.commands.recv() => {
                    if let Some(done) = self.update_while_reconnecting(target, rollback, reply).await {
                        return Some(done);
                    }
                }
            }
        }
    }

    /// An update that arrived while reconnecting: try its endpoint at once. `Some(Ok)`: the
    /// channel came back there; `Some(Err)`: it failed without rollback and the channel ended;
    /// `None`: rolled back, the channel keeps reconnecting to its endpoint.
    async fn update_while_reconnecting(
        &mut self,
        target: Target,
        rollback: bool,
        reply: std::sync::mpsc::SyncSender<Result<(), Error>>,
    ) -> Option<Result<WsStream, Error>> {
        let limit = self.cfg.open_timeout;
        match connect(target.clone(), self.cfg.clone(), limit).await {
            Ok(ws) => {
                self.switch_to(Update {
                    target,
                    rollback,
                    reply,
                });
                Some(Ok(ws))
            }
            Err(cause) if rollback => {
                if let Some(g) = self.gap.as_ref() {
                    g.lock().unwrap_or_else(|p| p.into_inner()).end_update();
                }
                let msg = format!(
                    "update rolled back, the channel keeps reconnecting to {}: {}",
                    self.url,
                    cause.message()
                );
                self.shared.emit(StateEvent::RolledBack {
                    cause: cause.clone(),
                });
                let _ = reply.send(Err(Error::new(ErrorKind::RolledBack, msg)));
                None
            }
            Err(cause) => {
                let update = Update {
                    target,
                    rollback,
                    reply,
                };
                self.fail_update(cause.clone(), update);
                Some(Err(self.shared.queue.end().unwrap_or(cause)))
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
        self.shared.set_last_error(outcome.message());
        self.shared.counters.set_state(ChannelState::Closed);
        // The queue adds the Closed event itself (exactly once); log it here.
        crate::logging::log_event(&StateEvent::Closed {
            outcome: outcome.clone(),
        });
        self.shared.queue.finish(outcome);
    }
}

/// Close a connection that is let go of unread: a close frame, within `grace`.
async fn close_unread(mut ws: WsStream, grace: Duration) {
    let _ = tokio::time::timeout(grace, ws.close(None)).await;
}

/// Refused credentials: a 401 or 403, or an authentication that failed on our side (a
/// Kerberos server whose final token does not verify).
fn is_auth_refusal(e: &Error) -> bool {
    e.kind() == ErrorKind::Auth || matches!(e.http_status(), Some(401) | Some(403))
}

/// A task dropped before it ended (the runtime was shut down) still leaves an outcome, so a
/// consumer waiting on the queue is released.
struct EndOnDrop(Arc<Shared>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        if self.0.queue.end().is_none() {
            self.0.counters.set_state(ChannelState::Closed);
            self.0
                .queue
                .finish(Error::new(ErrorKind::Shutdown, "piwebasync was shut down"));
        }
    }
}
