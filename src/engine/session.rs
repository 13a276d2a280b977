//! One connection's life: read frames into the queue, ping, notice a dead peer, close politely.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{interval_at, sleep_until, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::Shared;
use crate::config::ChannelConfig;
use crate::error::{Error, ErrorKind};
use crate::message::Message;
use crate::wire::WsStream;

/// Why a connection ended.
pub enum SessionEnd {
    /// We asked for the close (the close handshake ran, or timed out).
    ClosedByUs,
    /// The server sent a close frame.
    ServerClosed { code: u16, reason: String },
    /// Network or protocol failure.
    Failed(Error),
}

pub struct Session<'a> {
    pub shared: &'a Shared,
    pub cfg: &'a ChannelConfig,
    pub url: &'a Arc<str>,
    pub close_rx: &'a mut watch::Receiver<bool>,
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
        loop {
            if !self.shared.queue.has_space() {
                // Backpressure: stop reading. The peer cannot answer our pings while we do not
                // read, so the pong clock restarts when reading resumes.
                tokio::select! {
                    _ = self.shared.queue.space_freed() => {
                        if pong_deadline.is_some() {
                            pong_deadline = Some(Instant::now() + self.cfg.ping_timeout);
                        }
                        continue;
                    }
                    _ = close_requested(self.close_rx) => return self.close(ws).await,
                }
            }
            tokio::select! {
                biased;
                _ = close_requested(self.close_rx) => return self.close(ws).await,
                frame = ws.next() => match frame {
                    Some(Ok(WsMessage::Text(text))) => self.deliver(text.as_str()),
                    Some(Ok(WsMessage::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                        Ok(text) => self.deliver(text),
                        Err(_) => return SessionEnd::Failed(self.protocol("a binary frame that is not UTF-8 text")),
                    },
                    Some(Ok(WsMessage::Pong(_))) => pong_deadline = None,
                    Some(Ok(WsMessage::Ping(_))) | Some(Ok(WsMessage::Frame(_))) => {}
                    Some(Ok(WsMessage::Close(frame))) => {
                        // tungstenite queued the close reply; flush it, bounded.
                        let _ = tokio::time::timeout(self.cfg.close_timeout, ws.close(None)).await;
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        return SessionEnd::ServerClosed { code, reason };
                    }
                    Some(Err(e)) => return SessionEnd::Failed(self.ws_error(e)),
                    None => return SessionEnd::Failed(self.net("the connection ended without a close frame")),
                },
                _ = tick(&mut pinger) => {
                    match tokio::time::timeout(self.cfg.ping_timeout, ws.send(WsMessage::Ping(Default::default()))).await {
                        Ok(Ok(())) => { pong_deadline.get_or_insert(Instant::now() + self.cfg.ping_timeout); }
                        Ok(Err(e)) => return SessionEnd::Failed(self.ws_error(e)),
                        Err(_) => return SessionEnd::Failed(self.half_open()),
                    }
                }
                _ = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if pong_deadline.is_some() => {
                    return SessionEnd::Failed(self.half_open());
                }
            }
        }
    }

    fn deliver(&self, text: &str) {
        self.shared.counters.message_received(text.len());
        self.shared.queue.push(Message::new(text, self.url.clone()));
    }

    /// Our close: send a close frame, keep taking messages until the server's close frame
    /// arrives or `close_timeout` passes.
    async fn close(&mut self, ws: &mut WsStream) -> SessionEnd {
        let deadline = Instant::now() + self.cfg.close_timeout;
        let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        let sent = tokio::time::timeout_at(deadline, ws.close(Some(frame))).await;
        if !matches!(sent, Ok(Ok(()))) {
            return SessionEnd::ClosedByUs;
        }
        loop {
            if !self.shared.queue.has_space() {
                tokio::select! {
                    _ = self.shared.queue.space_freed() => continue,
                    _ = sleep_until(deadline) => return SessionEnd::ClosedByUs,
                }
            }
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(WsMessage::Text(text))) => self.deliver(text.as_str()),
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        if let Ok(text) = std::str::from_utf8(&bytes) {
                            self.deliver(text);
                        }
                    }
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return SessionEnd::ClosedByUs,
                    Some(Ok(_)) => {}
                },
                _ = sleep_until(deadline) => return SessionEnd::ClosedByUs,
            }
        }
    }

    fn net(&self, what: &str) -> Error {
        Error::new(ErrorKind::ClosedError, format!("{}: {what}", self.url))
    }

    fn protocol(&self, what: &str) -> Error {
        Error::new(ErrorKind::ClosedError, format!("{}: protocol error: {what}", self.url))
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
            WsError::Protocol(p) => self.protocol(&p.to_string()),
            WsError::Utf8(_) => self.protocol("a text frame that is not valid UTF-8"),
            other => self.net(&other.to_string()),
        }
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
