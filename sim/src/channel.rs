//! Channel endpoints: routing an upgrade request to a set of streams, and the
//! per-connection loop that sends initial values, data and heartbeats and obeys
//! fault commands.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::faults::{ConnCmd, ConnOp};
use crate::http::Request;
use crate::model::{wildcard_match, ChannelGen, Target, WebIdType, HEARTBEAT};
use crate::socket::SharedTcp;
use crate::state::Shared;

pub(crate) type Ws = WebSocketStream<BufReader<crate::tls::SimStream>>;

// Benchmark modes (prebuilt, paced): a child module, so that it can drive `Conn`.
#[path = "bench.rs"]
mod bench;

/// What a channel request asks for.
#[derive(Debug)]
pub(crate) struct ChannelSpec {
    pub streams: Vec<usize>,
    pub webid_type: WebIdType,
    pub include_initial: bool,
    pub heartbeat_rate: u32,
    /// With the archive: where the channel starts, fixed when the request was accepted.
    pub archive_cursor: Option<Vec<usize>>,
    /// Streams of an ad hoc set that cannot be served (`per_stream_errors`): WebId, status,
    /// message; reported in the first message with a stream-level `WebException`.
    pub errors: Vec<(String, u16, String)>,
    /// Event mode: the server-wide events (subscribed before the 101 is sent).
    pub events: Option<tokio::sync::broadcast::Receiver<crate::events::Batch>>,
}

fn parse_bool(req: &Request, name: &str) -> Result<bool, (u16, String)> {
    match req.param(name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err((400, format!("The value '{v}' is not valid for {name}."))),
    }
}

/// Maps a request under the API root to a channel, or an HTTP error (status, message).
pub(crate) fn route(shared: &Shared, req: &Request) -> Result<ChannelSpec, (u16, String)> {
    let not_found = || {
        (
            404,
            format!("The requested path '{}' was not found.", req.path),
        )
    };
    let root = shared.root.as_str();
    let rest = match req.path.get(..root.len()) {
        Some(p) if p.eq_ignore_ascii_case(root) => &req.path[root.len()..],
        _ => return Err(not_found()),
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let model = &shared.model;
    let is = |s: &str, lit: &str| s.eq_ignore_ascii_case(lit);
    let unknown_webid = |w: &str| (404, format!("Unknown or invalid WebId '{w}'."));
    let failing = |i: usize| {
        let st = &model.streams()[i];
        (!st.is_attribute
            && shared
                .cfg
                .failing_points
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&st.name)))
        .then(|| {
            (
                403,
                format!("Access to the PI point '{}' is denied.", st.name),
            )
        })
    };
    let mut errors = Vec::new();

    let streams: Vec<usize> = match segs.as_slice() {
        [s, w, c] if is(s, "streams") && is(c, "channel") => match model.lookup(w) {
            Some(Target::Stream(i)) => match failing(i) {
                Some(e) => return Err(e),
                None => vec![i],
            },
            Some(Target::Element(_)) => {
                return Err((400, format!("The WebId '{w}' does not designate a stream.")))
            }
            None => return Err(unknown_webid(w)),
        },
        [s, c] if is(s, "streamsets") && is(c, "channel") => {
            let ids = req.params("webId");
            if ids.is_empty() {
                return Err((400, "At least one webId is required.".to_string()));
            }
            let mut v = Vec::with_capacity(ids.len());
            let lenient = shared.cfg.per_stream_errors;
            for w in ids {
                let e = match model.lookup(w) {
                    Some(Target::Stream(i)) => match failing(i) {
                        Some(e) => e,
                        None => {
                            v.push(i);
                            continue;
                        }
                    },
                    Some(Target::Element(_)) => {
                        return Err((400, format!("The WebId '{w}' does not designate a stream.")))
                    }
                    None => unknown_webid(w),
                };
                if !lenient {
                    return Err(e);
                }
                errors.push((w.to_string(), e.0, e.1));
            }
            v
        }
        [s, w, c] if is(s, "streamsets") && is(c, "channel") => match model.lookup(w) {
            Some(Target::Element(e)) => {
                // nameFilter is honoured; categoryName, templateName, searchFullHierarchy,
                // showExcluded and showHidden are accepted and have no effect here.
                let filter = req.param("nameFilter").filter(|f| !f.is_empty());
                model.elements()[e]
                    .attributes
                    .iter()
                    .copied()
                    .filter(|&a| filter.is_none_or(|f| wildcard_match(f, &model.streams()[a].name)))
                    .collect()
            }
            Some(Target::Stream(_)) => {
                return Err((400, format!("The WebId '{w}' has no child attributes.")))
            }
            None => return Err(unknown_webid(w)),
        },
        _ => return Err(not_found()),
    };

    let webid_type = match req.param("webIdType") {
        None => WebIdType::Full,
        Some(v) => WebIdType::parse(v)
            .ok_or_else(|| (400, format!("The value '{v}' is not valid for webIdType.")))?,
    };
    let heartbeat_rate = match req.param("heartbeatRate") {
        None => 0,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) => n.clamp(0, u32::MAX as i64) as u32,
            Err(_) => {
                return Err((
                    400,
                    format!("The value '{v}' is not valid for heartbeatRate."),
                ))
            }
        },
    };
    let archive_cursor = shared.archive.as_ref().map(|a| a.lengths(&streams));
    Ok(ChannelSpec {
        archive_cursor,
        streams,
        webid_type,
        include_initial: parse_bool(req, "includeInitialValues")?,
        heartbeat_rate,
        errors,
        events: None,
    })
}

/// Aborts the reader task when the connection ends, whichever way.
pub(crate) struct ReaderTask {
    handle: JoinHandle<()>,
    done: bool,
}

impl Drop for ReaderTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Reads (so tungstenite answers pings and close frames) until the client goes.
/// Stops reading while the simulator is stalled.
async fn read_loop(mut stream: SplitStream<Ws>, mut stall: watch::Receiver<bool>) {
    loop {
        if *stall.borrow_and_update() {
            if stall.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            m = stream.next() => match m {
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            r = stall.changed() => if r.is_err() { return },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Initial,
    Data,
    Heartbeat,
    Fault,
}

/// The connection loop's verdict after a step.
pub(crate) enum Flow {
    Go,
    End,
}

pub(crate) struct Conn {
    shared: Arc<Shared>,
    id: u64,
    sink: SplitSink<Ws, Message>,
    /// A second handle on the same socket, for RST and raw (malformed) bytes.
    raw: Arc<TcpStream>,
    pub(crate) cmds: mpsc::UnboundedReceiver<ConnCmd>,
    /// Fault commands that arrived during a send, run after it.
    deferred: VecDeque<ConnCmd>,
    pub(crate) reader: Option<ReaderTask>,
    /// Acks released only once the connection is unregistered (so that `reset_all`
    /// returns with the connections already marked closed).
    held_acks: Vec<crate::faults::Ack>,
}

/// Completes when the reader task has ended (the client went); never if there is none.
pub(crate) async fn reader_finished(reader: &mut Option<ReaderTask>) {
    match reader.as_mut() {
        Some(r) if r.done => {}
        Some(r) => {
            let _ = (&mut r.handle).await;
            r.done = true;
        }
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn stop_reader(&mut self) {
        if let Some(mut r) = self.reader.take() {
            if !r.done {
                r.handle.abort();
                let _ = (&mut r.handle).await;
                r.done = true;
            }
        }
    }

    /// Sends one text frame, counting it once the send completed. A reset arriving
    /// meanwhile ends the connection at once; other commands wait for the send.
    pub(crate) async fn send(&mut self, text: String, kind: Kind, values: u64) -> Flow {
        let len = text.len() as u64;
        let copy = self.shared.cfg.record_frames.then(|| text.clone());
        let mut fut = self.sink.send(Message::text(text));
        let ok = loop {
            tokio::select! {
                biased;
                cmd = self.cmds.recv() => match cmd {
                    Some(c) if matches!(c.op, ConnOp::Reset) => {
                        drop(fut);
                        self.held_acks.push(c.ack);
                        return self.reset().await;
                    }
                    Some(c) => self.deferred.push_back(c),
                    None => {}
                },
                r = &mut fut => break r.is_ok(),
                _ = reader_finished(&mut self.reader) => return Flow::End,
            }
        };
        if !ok {
            return Flow::End;
        }
        self.shared.count_message();
        self.shared.with_stats(self.id, |s| {
            match kind {
                Kind::Initial => s.initial_messages_sent += 1,
                Kind::Data => s.data_messages_sent += 1,
                Kind::Heartbeat => s.heartbeats_sent += 1,
                Kind::Fault => s.fault_frames_sent += 1,
            }
            s.values_sent += values;
            s.bytes_sent += len;
            if let Some(t) = copy {
                s.frames.push(t);
            }
        });
        while let Some(c) = self.deferred.pop_front() {
            if let Flow::End = Box::pin(self.command(c)).await {
                return Flow::End;
            }
        }
        Flow::Go
    }

    pub(crate) async fn reset(&mut self) -> Flow {
        let _ = self.raw.set_zero_linger();
        self.stop_reader().await;
        Flow::End
    }

    pub(crate) async fn command(&mut self, cmd: ConnCmd) -> Flow {
        let ConnCmd { op, ack } = cmd;
        let flow = match op {
            ConnOp::Reset => {
                self.held_acks.push(ack);
                return self.reset().await;
            }
            ConnOp::Close(code) => {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    self.sink.send(Message::Close(Some(frame))),
                )
                .await;
                drop(ack);
                // Give the client a moment to answer with its own Close.
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), reader_finished(&mut self.reader))
                        .await;
                return Flow::End;
            }
            ConnOp::Malformed => {
                self.stop_reader().await;
                let _ = tokio::time::timeout(Duration::from_secs(2), self.sink.flush()).await;
                // FIN + reserved opcode 0x3, empty payload: a protocol error for any client.
                let _ = SharedTcp(self.raw.clone()).write_all(&[0x83, 0x00]).await;
                drop(ack);
                self.drain_raw().await;
                return Flow::End;
            }
            ConnOp::NotJson => {
                Box::pin(self.send("this is not JSON {\"Items\":[".to_string(), Kind::Fault, 0))
                    .await
            }
            ConnOp::Oversize(bytes) => {
                Box::pin(self.send(oversize_json(bytes), Kind::Fault, 0)).await
            }
        };
        drop(ack);
        flow
    }

    /// After a malformed frame: read and discard until the client goes; a reset still works.
    async fn drain_raw(&mut self) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut raw = SharedTcp(self.raw.clone());
        loop {
            tokio::select! {
                r = raw.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                cmd = self.cmds.recv() => match cmd {
                    Some(c) if matches!(c.op, ConnOp::Reset) => {
                        let _ = self.raw.set_zero_linger();
                        self.held_acks.push(c.ack);
                        return;
                    }
                    Some(_) => {}
                    None => return,
                },
            }
        }
    }
}

/// Valid JSON of exactly `bytes` bytes when possible (a heartbeat padded with a long string).
pub(crate) fn oversize_json(bytes: usize) -> String {
    let head = r#"{"Links":{},"Items":[],"Padding":""#;
    let tail = r#""}"#;
    let pad = bytes.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(head.len() + pad + tail.len());
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    s
}

/// The message naming the streams of an ad hoc set that cannot be served, each with a
/// stream-level `WebException` and no values.
fn stream_errors_message(errors: &[(String, u16, String)]) -> String {
    let mut out = String::from(r#"{"Links":{},"Items":["#);
    for (i, (w, status, msg)) in errors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"WebId":"#);
        crate::model::push_json_str(&mut out, w);
        out.push_str(r#","Links":{},"Items":[],"WebException":{"StatusCode":"#);
        out.push_str(&status.to_string());
        out.push_str(r#","Errors":["#);
        crate::model::push_json_str(&mut out, msg);
        out.push_str("]}}");
    }
    out.push_str("]}");
    out
}

/// Runs an upgraded channel connection until it ends.
pub(crate) async fn run(
    shared: Arc<Shared>,
    ws: Ws,
    raw: Arc<TcpStream>,
    spec: ChannelSpec,
    id: u64,
    cmds: mpsc::UnboundedReceiver<ConnCmd>,
) {
    let (sink, stream) = ws.split();
    let reader = ReaderTask {
        handle: tokio::spawn(read_loop(stream, shared.stall.subscribe())),
        done: false,
    };
    let mut stall = shared.stall.subscribe();
    let mut c = Conn {
        shared: shared.clone(),
        id,
        sink,
        raw,
        cmds,
        deferred: VecDeque::new(),
        reader: Some(reader),
        held_acks: Vec::new(),
    };
    let cfg = &shared.cfg;
    let model = shared.model.clone();
    let first = (!spec.errors.is_empty()).then(|| stream_errors_message(&spec.errors));
    let sent_first = match first {
        Some(json) => matches!(c.send(json, Kind::Initial, 0).await, Flow::Go),
        None => true,
    };
    if sent_first {
        if let Some(cursor) = spec.archive_cursor {
            let gen = ChannelGen::new(spec.streams, spec.webid_type);
            let _ = archive_loop(
                &mut c,
                &mut stall,
                &gen,
                &shared,
                spec.include_initial,
                spec.heartbeat_rate,
                cursor,
            )
            .await;
        } else if let Some(events) = spec.events {
            let bus = shared.bus.clone().expect("events come from the bus");
            let _ = crate::events::serve(
                &mut c,
                &mut stall,
                &bus,
                events,
                &spec.streams,
                spec.webid_type,
                &model,
                spec.include_initial,
                spec.heartbeat_rate,
            )
            .await;
        } else {
            let mut gen = ChannelGen::new(spec.streams, spec.webid_type);
            let _ = main_loop(
                &mut c,
                &mut stall,
                &mut gen,
                &model,
                cfg,
                spec.include_initial,
                spec.heartbeat_rate,
            )
            .await;
        }
    }
    c.stop_reader().await;
    let Conn {
        raw,
        sink,
        held_acks,
        ..
    } = c;
    // Close the socket (RST if a reset set SO_LINGER 0) before anyone is told.
    drop(sink);
    drop(raw);
    shared.unregister(id);
    drop(held_acks);
}

pub(crate) async fn wait_unstalled(c: &mut Conn, stall: &mut watch::Receiver<bool>) -> Flow {
    while *stall.borrow_and_update() {
        tokio::select! {
            r = stall.changed() => if r.is_err() { return Flow::End },
            cmd = c.cmds.recv() => match cmd {
                Some(cmd) => if let Flow::End = c.command(cmd).await { return Flow::End },
                None => return Flow::End,
            },
            _ = reader_finished(&mut c.reader) => return Flow::End,
        }
    }
    Flow::Go
}

async fn main_loop(
    c: &mut Conn,
    stall: &mut watch::Receiver<bool>,
    gen: &mut ChannelGen,
    model: &crate::model::Model,
    cfg: &crate::config::SimConfig,
    include_initial: bool,
    heartbeat_rate: u32,
) -> Flow {
    if include_initial {
        if let Flow::End = wait_unstalled(c, stall).await {
            return Flow::End;
        }
        let (json, n) = gen.initial_message(model);
        if let Flow::End = c.send(json, Kind::Initial, n).await {
            return Flow::End;
        }
    }
    let fast = cfg.interval.is_zero();
    let tick = if fast {
        Duration::from_millis(100)
    } else {
        cfg.interval
    };
    let mut ticker = tokio::time::interval_at(Instant::now() + tick, tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut data_sent = 0u64;
    let mut idle_ticks = 0u32;
    // Benchmark modes send their data first, then fall through to heartbeats (or close).
    if let Some(k) = cfg.prebuilt {
        if let Flow::End = bench::prebuilt(c, stall, gen, model, cfg, k, &mut data_sent).await {
            return Flow::End;
        }
    } else if let Some(rate) = cfg.rate {
        if let Flow::End = bench::paced(c, stall, gen, model, cfg, rate, &mut data_sent).await {
            return Flow::End;
        }
    }
    loop {
        let data_possible = !cfg.quiet
            && gen.stream_count() > 0
            && cfg
                .max_messages_per_connection
                .is_none_or(|m| data_sent < m);
        let stalled = *stall.borrow_and_update();
        if fast && data_possible && !stalled {
            // As fast as possible: commands are looked at inside `send`.
            let (json, n) = gen.data_message(model, cfg.streams_per_message, cfg.values_per_stream);
            if let Flow::End = c.send(json, Kind::Data, n).await {
                return Flow::End;
            }
            data_sent += 1;
            if cfg.close_after_messages.is_some_and(|m| data_sent >= m) {
                return close_normal(c).await;
            }
            continue;
        }
        tokio::select! {
            biased;
            cmd = c.cmds.recv() => match cmd {
                Some(cmd) => if let Flow::End = c.command(cmd).await { return Flow::End },
                None => return Flow::End,
            },
            _ = reader_finished(&mut c.reader) => return Flow::End,
            r = stall.changed() => if r.is_err() { return Flow::End },
            _ = ticker.tick(), if !stalled => {
                if data_possible {
                    idle_ticks = 0;
                    let (json, n) = gen.data_message(model, cfg.streams_per_message, cfg.values_per_stream);
                    if let Flow::End = c.send(json, Kind::Data, n).await {
                        return Flow::End;
                    }
                    data_sent += 1;
                    if cfg.close_after_messages.is_some_and(|m| data_sent >= m) {
                        return close_normal(c).await;
                    }
                } else {
                    idle_ticks += 1;
                    if heartbeat_rate > 0 && idle_ticks >= heartbeat_rate {
                        idle_ticks = 0;
                        if let Flow::End = c.send(HEARTBEAT.to_string(), Kind::Heartbeat, 0).await {
                            return Flow::End;
                        }
                    }
                }
            }
        }
    }
}

/// With the archive: send what is archived after the request was accepted (`cursors`), as it
/// is written; with `includeInitialValues`, first the newest archived value of each stream.
async fn archive_loop(
    c: &mut Conn,
    stall: &mut watch::Receiver<bool>,
    gen: &ChannelGen,
    shared: &Arc<Shared>,
    include_initial: bool,
    heartbeat_rate: u32,
    mut cursors: Vec<usize>,
) -> Flow {
    let Some(archive) = shared.archive.as_ref() else {
        return Flow::End;
    };
    let streams = gen.streams().to_vec();
    if include_initial {
        if let Flow::End = wait_unstalled(c, stall).await {
            return Flow::End;
        }
        let mut last: Vec<usize> = cursors.iter().map(|&n| n.saturating_sub(1)).collect();
        let (json, n) = archive
            .news_upto(
                &shared.model,
                &streams,
                &mut last,
                &cursors,
                gen.webid_type(),
            )
            .unwrap_or_else(|| (crate::model::HEARTBEAT.to_string(), 0));
        if let Flow::End = c.send(json, Kind::Initial, n).await {
            return Flow::End;
        }
    }
    let tick = if shared.cfg.interval.is_zero() {
        Duration::from_millis(100)
    } else {
        shared.cfg.interval
    };
    let mut ticker = tokio::time::interval_at(Instant::now() + tick, tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut idle_ticks = 0u32;
    loop {
        let stalled = *stall.borrow_and_update();
        let written = archive.written.notified();
        if !stalled {
            if let Some((json, n)) =
                archive.news(&shared.model, &streams, &mut cursors, gen.webid_type())
            {
                idle_ticks = 0;
                if let Flow::End = c.send(json, Kind::Data, n).await {
                    return Flow::End;
                }
                continue;
            }
        }
        tokio::select! {
            biased;
            cmd = c.cmds.recv() => match cmd {
                Some(cmd) => if let Flow::End = c.command(cmd).await { return Flow::End },
                None => return Flow::End,
            },
            _ = reader_finished(&mut c.reader) => return Flow::End,
            r = stall.changed() => if r.is_err() { return Flow::End },
            _ = written, if !stalled => {}
            _ = ticker.tick(), if !stalled => {
                idle_ticks += 1;
                if heartbeat_rate > 0 && idle_ticks >= heartbeat_rate {
                    idle_ticks = 0;
                    if let Flow::End = c.send(HEARTBEAT.to_string(), Kind::Heartbeat, 0).await {
                        return Flow::End;
                    }
                }
            }
        }
    }
}

async fn close_normal(c: &mut Conn) -> Flow {
    c.command(ConnCmd {
        op: ConnOp::Close(1000),
        ack: crate::faults::Ack::none(),
    })
    .await
}
