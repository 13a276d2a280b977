//! One connection's life: read frames into the queue, ping, notice a dead peer, open the
//! endpoint of an update while still streaming from this one, close politely.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{interval_at, sleep_until, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::command::Command;
use super::options::ChannelOptions;
use super::Shared;
use crate::error::{Error, ErrorKind};
use crate::events::StateEvent;
use crate::logging::{log_line, LogLevel};
use crate::message::Message;
use crate::wire::{self, Target, WsStream};

/// An update in progress: where to, what to do on failure, whom to answer.
pub struct Update {
    pub target: Target,
    pub rollback: bool,
    pub reply: std::sync::mpsc::SyncSender<Result<(), Error>>,
}

impl Update {
    /// The new endpoint failed and the channel stays at `url`: record why, emit
    /// `RolledBack`, and answer the caller with `RolledBack`.
    pub fn roll_back(self, shared: &Shared, url: &str, cause: Error) {
        shared.set_last_error(cause.message());
        let msg = format!(
            "update rolled back, the channel stays at {url}: {}",
            cause.message()
        );
        shared.emit(StateEvent::RolledBack { cause });
        let _ = self.reply.send(Err(Error::new(ErrorKind::RolledBack, msg)));
    }
}

/// Why a connection ended.
pub enum SessionEnd {
    /// We asked for the close (the close handshake ran, or timed out). `dropped` says what
    /// was discarded when the server did not answer in time.
    ClosedByUs { dropped: Option<String> },
    /// The server sent a close frame.
    ServerClosed { code: u16, reason: String },
    /// Network or protocol failure.
    Failed(Error),
    /// An update's new endpoint is open: switch to it (the old one is still open).
    Switch { ws: Box<WsStream>, update: Update },
    /// An update's new endpoint failed and rollback is off.
    UpdateFailed { cause: Error, update: Update },
}

/// Frames taken from the socket in one go, at most.
const MAX_BATCH: usize = 256;

/// At a close deadline, what the socket already holds is read and discarded for at most this
/// long (a server that keeps flooding would otherwise keep us reading).
const DISCARD_AT_DEADLINE: Duration = Duration::from_millis(50);

type Connecting = Pin<Box<dyn Future<Output = Result<WsStream, Error>> + Send>>;

/// Open `target` within `open_timeout`, as one owned future.
pub fn connect(target: Target, cfg: Arc<ChannelOptions>, limit: Duration) -> Connecting {
    Box::pin(async move {
        match tokio::time::timeout(limit, wire::open(&target, &cfg.connect)).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::OpenTimeout,
                format!(
                    "no connection to {} within {}",
                    target.display(),
                    secs(limit)
                ),
            )),
        }
    })
}

pub struct Session<'a> {
    pub shared: &'a Shared,
    pub cfg: &'a Arc<ChannelOptions>,
    pub url: &'a Arc<str>,
    pub close_rx: &'a mut watch::Receiver<bool>,
    pub commands: &'a mut mpsc::UnboundedReceiver<Command>,
    /// `gap_fill`: every delivered message is recorded; live values the backfill (or, after
    /// an update, the old endpoint) delivered already are taken out.
    pub gap: Option<&'a std::sync::Mutex<super::gapfill::GapFill>>,
    /// A command taken by a backfill (which it interrupted), to run first.
    pub stashed: &'a mut Option<Command>,
}

impl Session<'_> {
    /// Drive `ws` until it ends. Frames are read only while the queue has room.
    pub async fn run(&mut self, ws: &mut WsStream) -> SessionEnd {
        let mut pinger = self.cfg.ping_interval.map(|every| {
            let mut i = interval_at(Instant::now() + every, every);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        let mut pong_deadline: Option<Instant> = None;
        let mut updating: Option<(Connecting, Update)> = None;
        // A command that came while a backfill ran before this session.
        if let Some(cmd) = self.stashed.take() {
            self.command(cmd, &mut updating);
        }
        loop {
            // Backpressure: while the queue is full, do not read. The peer cannot answer our
            // pings then, so the ping clock is paused and restarts when reading resumes.
            let has_space = self.shared.queue.has_space();
            tokio::select! {
                biased;
                _ = close_requested(self.close_rx) => {
                    if let Some((_, update)) = updating.take() {
                        let _ = update.reply.send(Err(Error::new(ErrorKind::Closed, "the channel was closed during the update")));
                    }
                    self.shared.counters.set_state(super::ChannelState::Closing);
                    return self.close(ws).await;
                }
                _ = self.shared.queue.space_freed(), if !has_space => {
                    if pong_deadline.is_some() {
                        pong_deadline = Some(Instant::now() + self.cfg.ping_timeout);
                    }
                }
                Some(cmd) = self.commands.recv() => self.command(cmd, &mut updating),
                result = poll_connecting(&mut updating), if updating.is_some() => {
                    let (_, update) = updating.take().expect("guarded");
                    match result {
                        Ok(new_ws) => return SessionEnd::Switch { ws: Box::new(new_ws), update },
                        Err(cause) if update.rollback => self.roll_back(cause, update),
                        Err(cause) => return SessionEnd::UpdateFailed { cause, update },
                    }
                }
                frame = ws.next(), if has_space => {
                    // Take what the socket already holds as well (up to the queue's room),
                    // without waiting, and hand it over under one lock.
                    let room = self.shared.queue.room();
                    let mut batch = Vec::new();
                    let mut batch_bytes = 0usize;
                    let mut next = Some(frame);
                    while let Some(frame) = next.take() {
                        match frame {
                            Some(Ok(WsMessage::Text(text))) => {
                                batch_bytes += text.len();
                                batch.extend(self.message(text.as_str()));
                            }
                            Some(Ok(WsMessage::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                                Ok(text) => {
                                    batch_bytes += text.len();
                                    batch.extend(self.message(text));
                                }
                                Err(_) => {
                                    self.shared.queue.push_all(batch);
                                    return SessionEnd::Failed(self.protocol("a binary frame that is not UTF-8 text"));
                                }
                            },
                            Some(Ok(WsMessage::Pong(_))) => pong_deadline = None,
                            Some(Ok(WsMessage::Ping(_))) | Some(Ok(WsMessage::Frame(_))) => {}
                            Some(Ok(WsMessage::Close(frame))) => {
                                self.shared.queue.push_all(batch);
                                // tungstenite queued the close reply; flush it, bounded.
                                let _ = tokio::time::timeout(self.cfg.close_timeout, ws.close(None)).await;
                                let (code, reason) = frame
                                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                                    .unwrap_or((1005, String::new()));
                                return self.end_with_update(updating, SessionEnd::ServerClosed { code, reason }).await;
                            }
                            Some(Err(e)) => {
                                self.shared.queue.push_all(batch);
                                return self.end_with_update(updating, SessionEnd::Failed(self.ws_error(e))).await;
                            }
                            None => {
                                self.shared.queue.push_all(batch);
                                let end = SessionEnd::Failed(self.net("the connection ended without a close frame"));
                                return self.end_with_update(updating, end).await;
                            }
                        }
                        if batch.len() < room.messages.min(MAX_BATCH) && batch_bytes < room.bytes {
                            next = ws.next().now_or_never();
                        }
                    }
                    self.shared.queue.push_all(batch);
                }
                _ = tick(&mut pinger), if has_space => {
                    match tokio::time::timeout(self.cfg.ping_timeout, ws.send(WsMessage::Ping(Default::default()))).await {
                        Ok(Ok(())) => { pong_deadline.get_or_insert(Instant::now() + self.cfg.ping_timeout); }
                        Ok(Err(e)) => return self.end_with_update(updating, SessionEnd::Failed(self.ws_error(e))).await,
                        Err(_) => return self.end_with_update(updating, SessionEnd::Failed(self.half_open())).await,
                    }
                }
                _ = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if has_space && pong_deadline.is_some() => {
                    return self.end_with_update(updating, SessionEnd::Failed(self.half_open())).await;
                }
            }
        }
    }

    /// A request of the API side: an update starts opening its endpoint (one at a time).
    fn command(&mut self, cmd: Command, updating: &mut Option<(Connecting, Update)>) {
        match cmd {
            Command::Update {
                target,
                rollback,
                reply,
            } => {
                if updating.is_some() {
                    let _ = reply.send(Err(Error::new(
                        ErrorKind::Busy,
                        "another update is in progress",
                    )));
                } else {
                    if let Some(g) = self.gap {
                        g.lock().unwrap_or_else(|p| p.into_inner()).start_update();
                    }
                    let conn = connect(target.clone(), self.cfg.clone(), self.cfg.open_timeout);
                    *updating = Some((
                        conn,
                        Update {
                            target,
                            rollback,
                            reply,
                        },
                    ));
                }
            }
        }
    }

    /// The old connection ended while an update was opening the new one: let the opening
    /// finish (bounded by `open_timeout`). If it succeeds the channel simply moves on to the
    /// new endpoint; if not, the update fails as it would have anyway.
    async fn end_with_update(
        &self,
        updating: Option<(Connecting, Update)>,
        end: SessionEnd,
    ) -> SessionEnd {
        let Some((conn, update)) = updating else {
            return end;
        };
        match conn.await {
            Ok(ws) => SessionEnd::Switch {
                ws: Box::new(ws),
                update,
            },
            Err(cause) if update.rollback => {
                self.roll_back(cause, update);
                end
            }
            Err(cause) => SessionEnd::UpdateFailed { cause, update },
        }
    }

    fn roll_back(&self, cause: Error, update: Update) {
        if let Some(g) = self.gap {
            g.lock().unwrap_or_else(|p| p.into_inner()).end_update();
        }
        update.roll_back(self.shared, self.url, cause);
    }

    /// The message for a frame; `None` when gap fill took out every value of it (all were
    /// delivered already).
    fn message(&self, text: &str) -> Option<Message> {
        self.shared.counters.message_received(text.len());
        let msg = Message::new(text, self.url.clone());
        if let Some(gap) = self.gap {
            // Gap fill needs every value's timestamp: parsed here, once.
            let mut g = gap.lock().unwrap_or_else(|p| p.into_inner());
            let content = msg.content();
            return match g.filter_live(content) {
                None => {
                    g.observe(content);
                    Some(msg)
                }
                Some(streams) => {
                    let had_values = content.value_count() > 0;
                    let msg = Message::made(
                        streams,
                        content.web_exception().cloned(),
                        self.url.clone(),
                        false,
                    );
                    if had_values
                        && msg.content().value_count() == 0
                        && msg.content().web_exception().is_none()
                        && msg
                            .content()
                            .streams()
                            .iter()
                            .all(|s| s.web_exception.is_none())
                    {
                        return None;
                    }
                    g.observe(msg.content());
                    Some(msg)
                }
            };
        }
        let parse_here = match self.cfg.parse_on_receive {
            super::ParseOnReceive::Always => true,
            super::ParseOnReceive::Never => false,
            // The consumer is behind: take the parse off its thread. When it keeps up (it
            // waits for messages), the parse stays with it, and this thread only reads.
            super::ParseOnReceive::Auto => self.shared.queue.has_backlog(),
        };
        if parse_here {
            msg.content();
        }
        Some(msg)
    }

    /// Queue a message read while closing; dropped unread when the owner let go.
    fn deliver(&self, text: &str) {
        if self.shared.queue.is_abandoned() {
            return;
        }
        if let Some(msg) = self.message(text) {
            self.shared.queue.push(msg);
        }
    }

    /// Our close: send a close frame, keep taking messages until the server's close frame
    /// arrives or `close_timeout` passes. Also used on the old connection after an update
    /// (make-before-break: its last messages come before the new endpoint's).
    ///
    /// The queue bound holds here as everywhere: while the queue is full nothing is read, and
    /// reading resumes when the consumer drains. Whatever the server had sent but was still
    /// unread at the deadline is discarded, counted and reported (stats, last error, a log
    /// line). When the owner let go of the channel (`dispose`), nothing more is parsed or
    /// queued and the handshake gets only `ChannelOptions::free_grace`.
    pub async fn close(&self, ws: &mut WsStream) -> SessionEnd {
        let deadline = Instant::now() + self.cfg.close_timeout;
        let cut_short = self.abandoned_grace();
        tokio::pin!(cut_short);
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let sent = tokio::select! {
            r = tokio::time::timeout_at(deadline, ws.close(Some(frame))) => matches!(r, Ok(Ok(()))),
            _ = &mut cut_short => false,
        };
        if !sent {
            return SessionEnd::ClosedByUs { dropped: None };
        }
        loop {
            let abandoned = self.shared.queue.is_abandoned();
            let may_read = abandoned || self.shared.queue.has_space();
            tokio::select! {
                biased;
                _ = &mut cut_short => return SessionEnd::ClosedByUs { dropped: None },
                frame = ws.next(), if may_read => match frame {
                    Some(Ok(WsMessage::Text(text))) => self.deliver(text.as_str()),
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        if let Ok(text) = std::str::from_utf8(&bytes) {
                            self.deliver(text);
                        }
                    }
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return SessionEnd::ClosedByUs { dropped: None },
                    Some(Ok(_)) => {}
                },
                _ = self.shared.queue.space_freed(), if !may_read => {}
                _ = sleep_until(deadline) => {
                    return SessionEnd::ClosedByUs { dropped: self.close_timed_out(ws) };
                }
            }
        }
    }

    /// Resolves `free_grace` after the owner let go of the channel.
    async fn abandoned_grace(&self) {
        self.shared.queue.abandoned().await;
        tokio::time::sleep(self.cfg.free_grace()).await;
    }

    /// `close_timeout` passed before the server's close frame: discard what the socket already
    /// holds (without waiting for more), count it, log it, and return what to report.
    fn close_timed_out(&self, ws: &mut WsStream) -> Option<String> {
        let mut discarded: u64 = 0;
        let stop = std::time::Instant::now() + DISCARD_AT_DEADLINE;
        while std::time::Instant::now() < stop {
            match ws.next().now_or_never() {
                Some(Some(Ok(WsMessage::Text(_) | WsMessage::Binary(_)))) => discarded += 1,
                Some(Some(Ok(_))) => {}
                _ => break,
            }
        }
        let queue_full = !self.shared.queue.has_space();
        if self.shared.queue.is_abandoned() {
            return None;
        }
        if discarded == 0 && !queue_full {
            log_line!(
                LogLevel::Info,
                "{}: the server did not answer the close frame within close_timeout ({})",
                self.url,
                secs(self.cfg.close_timeout)
            );
            return None;
        }
        self.shared.counters.dropped(discarded);
        let more = if queue_full {
            " (the queue was full: the consumer did not drain it in time; more may have been unread)"
        } else {
            ""
        };
        let text = format!(
            "{}: the server did not answer the close frame within close_timeout ({}); {discarded} message(s) it had sent were discarded{more}",
            self.url,
            secs(self.cfg.close_timeout)
        );
        log_line!(LogLevel::Warn, "{text}");
        Some(text)
    }

    fn net(&self, what: &str) -> Error {
        Error::new(ErrorKind::ClosedError, format!("{}: {what}", self.url))
    }

    fn protocol(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::ClosedError,
            format!("{}: protocol error: {what}", self.url),
        )
    }

    fn half_open(&self) -> Error {
        self.net(&format!(
            "no pong within the ping timeout of {}: the connection is half-open",
            secs(self.cfg.ping_timeout)
        ))
    }

    fn ws_error(&self, e: WsError) -> Error {
        match e {
            WsError::Io(io) => self.net(&format!("connection lost: {io}")),
            WsError::Capacity(c) => self.protocol(&format!("{c} (max_message_size)")),
            // A TCP reset reaches tungstenite as a "protocol" error; it is the network.
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.net("connection lost: reset by the peer without a closing handshake")
            }
            WsError::Protocol(p) => self.protocol(&p.to_string()),
            WsError::Utf8(_) => self.protocol("a text frame that is not valid UTF-8"),
            other => self.net(&other.to_string()),
        }
    }
}

async fn poll_connecting(updating: &mut Option<(Connecting, Update)>) -> Result<WsStream, Error> {
    match updating {
        Some((conn, _)) => conn.await,
        None => std::future::pending().await,
    }
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// Resolves once a close was asked for (at once if it already was).
pub async fn close_requested(rx: &mut watch::Receiver<bool>) {
    // An error means every sender is gone: the channel's owner dropped it, which is a close too.
    let _ = rx.wait_for(|closing| *closing).await;
}

async fn tick(pinger: &mut Option<tokio::time::Interval>) {
    match pinger {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}
