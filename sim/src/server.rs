//! The server: its thread and runtime, the accept loop (with refuse/restart), and
//! the handling of each request head (control, rejection, auth, routing, upgrade).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::b64::encode_std;
use crate::config::SimConfig;
use crate::faults::ListenerCmd;
use crate::http::{self, HeadError, Request};
use crate::socket::SharedTcp;
use crate::state::{lock, Shared};
use crate::tls::SimStream;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server: the thread that owns the runtime, and how to stop it.
pub(crate) struct Running {
    pub shared: Arc<Shared>,
    pub thread: std::thread::JoinHandle<()>,
    pub shutdown: oneshot::Sender<()>,
}

/// Starts the runtime thread; returns once the listener is bound.
pub(crate) fn start(cfg: SimConfig) -> io::Result<Running> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<Arc<Shared>>>();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("piwebasync-sim".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("piwebasync-sim-rt")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let tls = match cfg.tls.as_ref().map(|t| t.acceptor()).transpose() {
                Ok(t) => t,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match bind(cfg.bind) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let addr = match listener.local_addr() {
                    Ok(a) => a,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let (ltx, lrx) = mpsc::unbounded_channel();
                let shared = Arc::new(Shared::new(cfg, addr, ltx, tls));
                tokio::spawn(accept_loop(shared.clone(), listener, lrx));
                tokio::spawn(crate::archive::writer(shared.clone()));
                if let Some(bus) = shared.bus.clone() {
                    tokio::spawn(crate::events::run(bus));
                }
                let _ = ready_tx.send(Ok(shared));
                let _ = shutdown_rx.await;
            });
            // Drops every task (and so closes every socket).
            rt.shutdown_timeout(Duration::from_secs(1));
        })?;
    match ready_rx.recv() {
        Ok(Ok(shared)) => Ok(Running {
            shared,
            thread,
            shutdown: shutdown_tx,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(io::Error::other("simulator thread ended before listening"))
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Rebinding the same port after refuse/restart must not fail on TIME_WAIT sockets.
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut cmds: mpsc::UnboundedReceiver<ListenerCmd>,
) {
    let mut listener = Some(listener);
    // While refusing: when to listen again. A refusal during a refusal extends it.
    let mut refuse_until: Option<Instant> = None;
    loop {
        match (listener.as_ref(), refuse_until) {
            (Some(l), _) => tokio::select! {
                r = l.accept() => match r {
                    Ok((tcp, _)) => {
                        let epoch = shared.epoch();
                        tokio::spawn(handle_socket(shared.clone(), tcp, epoch));
                    }
                    // e.g. EMFILE: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                cmd = cmds.recv() => match cmd {
                    Some(ListenerCmd::Refuse(d, ack)) => {
                        listener = None;
                        refuse_until = Some(Instant::now() + d);
                        drop(ack);
                    }
                    None => return,
                },
            },
            (None, Some(until)) => tokio::select! {
                _ = tokio::time::sleep_until(until) => refuse_until = None,
                cmd = cmds.recv() => match cmd {
                    Some(ListenerCmd::Refuse(d, ack)) => {
                        refuse_until = Some(until.max(Instant::now() + d));
                        drop(ack);
                    }
                    None => return,
                },
            },
            (None, None) => match bind(shared.addr) {
                Ok(l) => listener = Some(l),
                // The port is ours, but retry if something grabbed it meanwhile.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

fn auth_ok(shared: &Shared, req: &Request) -> bool {
    let auth = lock(&shared.auth);
    if auth.basic.is_none() && auth.bearer.is_none() {
        return true;
    }
    let Some(h) = req.header("Authorization") else {
        return false;
    };
    let (scheme, token) = h.split_once(' ').unwrap_or((h, ""));
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("Basic") {
        if let Some((u, p)) = &auth.basic {
            return token == encode_std(format!("{u}:{p}").as_bytes());
        }
    } else if scheme.eq_ignore_ascii_case("Bearer") {
        if let Some(t) = &auth.bearer {
            return token == t;
        }
    }
    false
}

fn challenge_headers(shared: &Shared) -> Vec<(&'static str, String)> {
    let auth = lock(&shared.auth);
    let mut h = Vec::new();
    if auth.basic.is_some() || auth.bearer.is_none() {
        h.push((
            "WWW-Authenticate",
            r#"Basic realm="piwebasync-sim""#.to_string(),
        ));
    }
    if auth.bearer.is_some() {
        h.push(("WWW-Authenticate", "Bearer".to_string()));
    }
    h
}

fn error_response(status: u16, headers: &[(&str, String)], msg: &str) -> Vec<u8> {
    http::response(
        status,
        headers,
        "application/json; charset=utf-8",
        &http::errors_body(msg),
    )
}

/// What to do with a request.
enum Outcome {
    /// Close without answering.
    Drop,
    /// Answer with this complete response, then close.
    Respond(Vec<u8>),
    /// Answer 101 and run the channel.
    Upgrade(Request, crate::channel::ChannelSpec),
}

async fn handle_socket(shared: Arc<Shared>, tcp: TcpStream, epoch: u64) {
    let _ = tcp.set_nodelay(true);
    // The WebSocket owns one handle; faults use `raw` for SO_LINGER 0 and raw bytes.
    let raw = Arc::new(tcp);
    let stream = match &shared.tls {
        None => SimStream::Plain(SharedTcp(raw.clone())),
        Some(acceptor) => {
            match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(SharedTcp(raw.clone()))).await
            {
                Ok(Ok(tls)) => SimStream::Tls(Box::new(tls)),
                _ => {
                    shared.tls_failures.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    };
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    match decide(&shared, &mut reader).await {
        Outcome::Drop => {}
        Outcome::Respond(bytes) => match reader.into_inner() {
            SimStream::Plain(SharedTcp(tcp)) => {
                // Own the socket again, so that `finish` can half-close it.
                drop(raw);
                if let Ok(mut tcp) = Arc::try_unwrap(tcp) {
                    http::finish(&mut tcp, &bytes).await;
                }
            }
            // close_notify, then the socket closes with the last handle.
            SimStream::Tls(mut tls) => http::finish(&mut tls, &bytes).await,
        },
        Outcome::Upgrade(req, mut spec) => {
            // Subscribed before the 101 is written: every event made after the client saw
            // its channel open reaches it.
            spec.events = shared.bus.as_ref().map(|b| b.tx.subscribe());
            // A server that started the channel before its answer reaches the client
            // (--upgrade-delay-ms, or set at run time through the control endpoint).
            let delay = *lock(&shared.upgrade_delay);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let key = req.header("Sec-WebSocket-Key").unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nServer: piwebasync-sim\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            if reader.get_mut().write_all(resp.as_bytes()).await.is_err()
                || reader.get_mut().flush().await.is_err()
            {
                return;
            }
            let Some((id, cmds)) = shared.register(epoch, &req.target, &user_of(&req)) else {
                // A reset happened while this socket was being upgraded.
                let _ = raw.set_zero_linger();
                return;
            };
            // The reader keeps any bytes read past the head (early frames).
            let ws = WebSocketStream::from_raw_socket(
                reader,
                Role::Server,
                Some(WebSocketConfig::default()),
            )
            .await;
            crate::channel::run(shared.clone(), ws, raw, spec, id, cmds).await;
        }
    }
}

/// Reads the request head and decides: control, rejection, auth, routing, upgrade.
async fn decide(shared: &Arc<Shared>, reader: &mut BufReader<SimStream>) -> Outcome {
    let head =
        match tokio::time::timeout(HEAD_TIMEOUT, http::read_head(reader, http::MAX_HEAD)).await {
            Ok(Ok(h)) => h,
            Ok(Err(HeadError::TooLarge)) => {
                return Outcome::Respond(error_response(431, &[], "Request head too large."))
            }
            Ok(Err(HeadError::Eof | HeadError::Io)) | Err(_) => return Outcome::Drop,
        };
    let Some(req) = Request::parse(&head) else {
        return Outcome::Respond(error_response(400, &[], "Malformed request."));
    };

    if req.path.starts_with("/_sim/") || req.path == "/_sim" {
        let (status, ctype, body) = crate::control::handle(shared, &req).await;
        return Outcome::Respond(http::response(status, &[], ctype, &body));
    }

    shared.upgrade_requests.fetch_add(1, Ordering::Relaxed);
    // Stalled: hold new requests unanswered until the stall ends.
    let mut stall = shared.stall.subscribe();
    while *stall.borrow_and_update() {
        if stall.changed().await.is_err() {
            return Outcome::Drop;
        }
    }
    if let Some(status) = shared.rejecting() {
        let headers = if status == 401 {
            challenge_headers(shared)
        } else {
            Vec::new()
        };
        return Outcome::Respond(error_response(status, &headers, "Simulated rejection."));
    }
    if let Some(max) = shared.cfg.max_url_length {
        if req.target.len() > max {
            return Outcome::Respond(error_response(
                414,
                &[],
                &format!(
                    "The request URL is too long ({} bytes; this server accepts at most {max}).",
                    req.target.len()
                ),
            ));
        }
    }
    if !req.method.eq_ignore_ascii_case("GET") {
        let headers = [("Allow", "GET".to_string())];
        return Outcome::Respond(error_response(
            405,
            &headers,
            "The requested resource does not support this method.",
        ));
    }
    if !auth_ok(shared, &req) {
        shared.auth_failures.fetch_add(1, Ordering::Relaxed);
        return Outcome::Respond(error_response(
            401,
            &challenge_headers(shared),
            "Authorization has been denied for this request.",
        ));
    }
    if crate::archive::is_recorded(shared, &req) {
        let (status, body) = crate::archive::handle(shared, &req).await;
        return Outcome::Respond(http::response(
            status,
            &[],
            "application/json; charset=utf-8",
            &body,
        ));
    }
    let spec = match crate::channel::route(shared, &req) {
        Ok(s) => s,
        Err((status, msg)) => return Outcome::Respond(error_response(status, &[], &msg)),
    };
    if !req.is_websocket_upgrade() {
        return Outcome::Respond(error_response(
            400,
            &[],
            "A WebSocket upgrade request is required.",
        ));
    }
    if req.header("Sec-WebSocket-Version") != Some("13") {
        let headers = [("Sec-WebSocket-Version", "13".to_string())];
        return Outcome::Respond(error_response(
            426,
            &headers,
            "Unsupported WebSocket version.",
        ));
    }
    if let Some(max) = shared.cfg.max_channels_per_user {
        let user = user_of(&req);
        if shared.channels_of(&user) >= max {
            return Outcome::Respond(error_response(
                503,
                &[],
                &format!("Too many channels are open for this user (at most {max})."),
            ));
        }
    }
    Outcome::Upgrade(req, spec)
}

/// Whose channel this is, for `max_channels_per_user`: the credentials presented.
fn user_of(req: &Request) -> String {
    req.header("Authorization")
        .unwrap_or("anonymous")
        .to_string()
}
