//! The wire: TCP, TLS, the HTTP upgrade with its authentication, WebSocket frames. Knows
//! nothing of channels, queues or reconnects.
//!
//! The upgrade runs over an `HttpConnection` that can carry more than one request: an
//! `Authenticator` may answer a 401 with a new `Authorization` on the same connection (HTTP
//! Negotiate needs that), and checks the 101.

mod auth;
mod http;
mod negotiate;
mod options;
mod target;
pub(crate) mod tls;

pub use negotiate::{NegotiateOptions, ServiceName};
pub use options::{AuthMethod, CaFileMode, ConnectOptions, TlsOptions};
pub use target::Target;
pub use tls::Transport;

#[doc(hidden)]
pub use http::{replay_body, replay_response, Replayed, ResponseHead};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};
use crate::logging::{log_line, LogLevel};
use crate::secret::{redact, Secret};
use http::HttpConnection;

pub type WsStream = WebSocketStream<Transport>;

/// Requests on one connection at most: a challenge-response scheme that has not finished by
/// then is refused (never loop on a server that keeps challenging).
const MAX_AUTH_ROUNDS: usize = 4;
/// Largest 401 body skipped to send the next request on the same connection.
const MAX_SKIPPED_BODY: usize = 64 * 1024;

/// Connect, upgrade, and return the open WebSocket. No timeout here: the caller bounds it.
pub async fn open(target: &Target, cfg: &ConnectOptions) -> Result<WsStream, Error> {
    // Checked at open and update already; here too, so that no path sends credentials in
    // clear text.
    cfg.check_target(target)?;
    // Every secret this handshake may send: removed from anything the server says back.
    let mut secrets = cfg.secrets();
    let result = open_inner(target, cfg, &mut secrets).await;
    result.map_err(|e| {
        let message = redact(e.message(), &secrets);
        match e.http_status() {
            Some(status) => Error::http(status, message),
            None => Error::new(e.kind(), message),
        }
    })
}

/// `secrets` receives every `Authorization` value sent (and its credentials part), so that the
/// caller can remove them from what the server says back.
async fn open_inner(
    target: &Target,
    cfg: &ConnectOptions,
    secrets: &mut Vec<Secret>,
) -> Result<WsStream, Error> {
    let Exchange {
        mut conn,
        head,
        key,
        mut authenticator,
    } = exchange(target, cfg, secrets, Request::Upgrade).await?;
    if head.status != 101 {
        return Err(refusal(
            target,
            &mut conn,
            &head,
            refused_note(&authenticator, head.status),
            "101 Switching Protocols",
        )
        .await);
    }
    let protocol_error = |why: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!(
                "{}: invalid WebSocket upgrade response: {why}",
                target.display()
            ),
        )
    };
    if !head.header_has_token("upgrade", "websocket") {
        return Err(protocol_error("no 'Upgrade: websocket' header"));
    }
    if !head.header_has_token("connection", "upgrade") {
        return Err(protocol_error("no 'Connection: Upgrade' header"));
    }
    let expected = derive_accept_key(key.as_bytes());
    if head.header("sec-websocket-accept") != Some(expected.as_bytes()) {
        return Err(protocol_error("wrong or missing Sec-WebSocket-Accept"));
    }
    if let Some(a) = authenticator.as_mut() {
        a.finish(&head).map_err(|e| in_context(target, e))?;
    }
    let (io, rest) = conn.into_parts();
    Ok(WebSocketStream::from_partially_read(io, rest, Role::Client, Some(ws_config(cfg))).await)
}

/// `GET target` (an `http(s)://` or `ws(s)://` target: the scheme only says whether TLS is
/// used) with the channel's TLS, headers and authentication, as the upgrade sends them, and
/// the body of its `200 OK` response, at most `max_body` bytes. For the REST requests beside
/// a channel (recorded values). No timeout here: the caller bounds it. Any other status is an
/// error with the HTTP status (`Error::http_status`) and the start of the body.
pub async fn get(target: &Target, cfg: &ConnectOptions, max_body: usize) -> Result<String, Error> {
    cfg.check_target(target)?;
    let mut secrets = cfg.secrets();
    let result = get_inner(target, cfg, &mut secrets, max_body).await;
    result.map_err(|e| {
        let message = redact(e.message(), &secrets);
        match e.http_status() {
            Some(status) => Error::http(status, message),
            None => Error::new(e.kind(), message),
        }
    })
}

async fn get_inner(
    target: &Target,
    cfg: &ConnectOptions,
    secrets: &mut Vec<Secret>,
    max_body: usize,
) -> Result<String, Error> {
    let Exchange {
        mut conn,
        head,
        mut authenticator,
        ..
    } = exchange(target, cfg, secrets, Request::Get).await?;
    if head.status != 200 {
        return Err(refusal(
            target,
            &mut conn,
            &head,
            refused_note(&authenticator, head.status),
            "200 OK",
        )
        .await);
    }
    if let Some(a) = authenticator.as_mut() {
        a.finish(&head).map_err(|e| in_context(target, e))?;
    }
    let body = conn
        .read_body(&head, max_body)
        .await
        .map_err(|e| Error::new(e.kind(), format!("{}: {}", target.display(), e.message())))?;
    String::from_utf8(body).map_err(|e| {
        Error::new(
            ErrorKind::Protocol,
            format!(
                "{}: the response body is not UTF-8 (byte {})",
                target.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Which request [`exchange`] sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Request {
    /// The WebSocket upgrade.
    Upgrade,
    /// A plain `GET` of a JSON resource.
    Get,
}

/// What [`exchange`] leaves: the connection, the final response head, the WebSocket key of
/// the last request (upgrade only) and the authenticator (to check a final token).
struct Exchange {
    conn: HttpConnection<Transport>,
    head: ResponseHead,
    key: String,
    authenticator: Option<Box<dyn auth::Authenticator>>,
}

/// Connect (TCP, TLS) and send `request`, answering 401 challenges on the same connection
/// as the authenticator asks, until a response that is not such a challenge.
async fn exchange(
    target: &Target,
    cfg: &ConnectOptions,
    secrets: &mut Vec<Secret>,
    kind: Request,
) -> Result<Exchange, Error> {
    let mut conn = connect(target, cfg).await?;
    let what = match kind {
        Request::Upgrade => "upgrade",
        Request::Get => "GET",
    };

    let mut authenticator = auth::for_options(cfg, target);
    let mut authorization = match authenticator.as_mut() {
        Some(a) => a.initial()?,
        None => None,
    };
    let mut round = 0;
    let (head, key) = loop {
        round += 1;
        if let Some(a) = &authorization {
            secrets.push(a.clone());
            if let Some((_, credentials)) = a.expose().split_once(' ') {
                secrets.push(Secret::new(credentials.trim()));
            }
        }
        let key = match kind {
            Request::Upgrade => generate_key(),
            Request::Get => String::new(),
        };
        let upgrade_key = (kind == Request::Upgrade).then_some(key.as_str());
        let request = request_head(target, cfg, upgrade_key, authorization.as_ref(), false);
        if crate::logging::enabled(LogLevel::Trace) {
            let shown = request_head(target, cfg, upgrade_key, authorization.as_ref(), true);
            log_line!(
                LogLevel::Trace,
                "{}: {what} request:\n{}",
                target.display(),
                shown.trim_end()
            );
        }
        conn.send(request.as_bytes()).await.map_err(|e| {
            match tls::io_failure(&e, &format!("while sending the {what} request")) {
                Some(tls) => Error::new(
                    ErrorKind::Tls,
                    format!("{}: {}", target.display(), tls.message()),
                ),
                None => Error::new(
                    ErrorKind::Connect,
                    format!(
                        "could not send the {what} request to {}: {e}",
                        target.display()
                    ),
                ),
            }
        })?;
        drop(request);
        let head = conn
            .read_response_head()
            .await
            .map_err(|e| Error::new(e.kind(), format!("{}: {}", target.display(), e.message())))?;
        log_line!(
            LogLevel::Debug,
            "{}: {what} answered HTTP {} {}",
            target.display(),
            head.status,
            head.reason
        );
        if crate::logging::enabled(LogLevel::Trace) {
            log_line!(
                LogLevel::Trace,
                "{}: {what} response:\n{}",
                target.display(),
                redact(&head.redacted(), secrets)
            );
        }
        if head.status == 401 && round < MAX_AUTH_ROUNDS {
            if let Some(a) = authenticator.as_mut() {
                let next = a
                    .step(&head.header_values("www-authenticate"))
                    .map_err(|e| in_context(target, e))?;
                if let Some(next) = next {
                    if !conn.discard_body(&head, MAX_SKIPPED_BODY).await {
                        // The server closes this connection after its challenge (a server
                        // shutting down, or one that does not keep connections): the answer
                        // goes on a new one, as curl does. Still bounded by MAX_AUTH_ROUNDS.
                        log_line!(
                            LogLevel::Debug,
                            "{}: the server closed the connection after its {} challenge: answering on a new connection",
                            target.display(),
                            a.scheme()
                        );
                        conn = connect(target, cfg).await?;
                    }
                    authorization = Some(next);
                    continue;
                }
            }
        }
        break (head, key);
    };
    drop(authorization);
    Ok(Exchange {
        conn,
        head,
        key,
        authenticator,
    })
}

/// A new TCP (and TLS) connection to `target`, ready for a request.
async fn connect(
    target: &Target,
    cfg: &ConnectOptions,
) -> Result<HttpConnection<Transport>, Error> {
    log_line!(LogLevel::Debug, "{}: connecting", target.display());
    let tcp = TcpStream::connect((target.connect_host(), target.port()))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                format!("could not connect to {}: {e}", target.display()),
            )
        })?;
    // Channel messages are small and latency matters more than packet count.
    let _ = tcp.set_nodelay(true);
    let io = if target.is_tls() {
        tls::connect(target, &cfg.tls, tcp).await?
    } else {
        Transport::Plain(tcp)
    };
    Ok(HttpConnection::new(io))
}

/// `e` with the target in front of its message, its kind and HTTP status kept.
fn in_context(target: &Target, e: Error) -> Error {
    let message = format!("{}: {}", target.display(), e.message());
    match e.http_status() {
        Some(status) => Error::http(status, message),
        None => Error::new(e.kind(), message),
    }
}

/// For the message of a 401: what was refused. Worked out before any await (an
/// authenticator is not Sync: no reference to it may be held across one).
fn refused_note(authenticator: &Option<Box<dyn auth::Authenticator>>, status: u16) -> String {
    match (authenticator, status) {
        (Some(a), 401) => format!(" ({})", a.refused()),
        (None, 401) => " (no credentials were sent: set auth)".to_string(),
        _ => String::new(),
    }
}

/// The error for a response other than the `expected` one: its status, the start of its
/// body, and for a 401 what was refused (`refused`, from [`refused_note`]).
async fn refusal(
    target: &Target,
    conn: &mut HttpConnection<Transport>,
    head: &ResponseHead,
    refused: String,
    expected: &str,
) -> Error {
    let body = conn.read_body_snippet(head, 300).await;
    let body = if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    };
    Error::http(
        head.status,
        format!(
            "{} answered HTTP {} {} instead of {expected}{body}{refused}",
            target.display(),
            head.status,
            head.reason
        ),
    )
}

/// The upgrade request. It holds credentials, so it lives in a buffer that is wiped on drop
/// (sized up front so that growing it leaves no copy behind). `shown`: secrets as `***`, for
/// a log line.
fn request_head(
    target: &Target,
    cfg: &ConnectOptions,
    upgrade_key: Option<&str>,
    authorization: Option<&Secret>,
    shown: bool,
) -> Zeroizing<String> {
    let secret = |s: &Secret| {
        if shown {
            "***".to_string()
        } else {
            s.expose().to_string()
        }
    };
    let mut lines: Vec<(&str, Zeroizing<String>)> = Vec::new();
    if let Some(origin) = &cfg.origin {
        lines.push(("Origin", Zeroizing::new(origin.clone())));
    }
    for (name, value) in &cfg.headers {
        lines.push((name, Zeroizing::new(value.clone())));
    }
    for (name, value) in &cfg.secret_headers {
        lines.push((name, Zeroizing::new(secret(value))));
    }
    if let Some(a) = authorization {
        lines.push(("Authorization", Zeroizing::new(secret(a))));
    }
    let start = match upgrade_key {
        Some(key) => format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: piwebasync/{}\r\n",
            target.request_target(),
            target.host_header(),
            env!("CARGO_PKG_VERSION"),
        ),
        None => format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: piwebasync/{}\r\n",
            target.request_target(),
            target.host_header(),
            env!("CARGO_PKG_VERSION"),
        ),
    };
    let len = start.len()
        + lines
            .iter()
            .map(|(n, v)| n.len() + 2 + v.len() + 2)
            .sum::<usize>()
        + 2;
    let mut head = Zeroizing::new(String::with_capacity(len));
    head.push_str(&start);
    for (name, value) in &lines {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn ws_config(cfg: &ConnectOptions) -> WebSocketConfig {
    // tungstenite zero-fills its read buffer up to this size before each read: the default
    // 128 KiB made every idle channel cost ~140 KiB resident and every small read a 128 KiB
    // memset. 16 KiB: ~27 KiB per idle channel, no loss on 100-stream messages (measured).
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(cfg.max_message_size)
        .max_frame_size(cfg.max_message_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_credentials_and_the_log_form_hides_them() {
        let cfg = ConnectOptions {
            origin: Some("https://plant.example".into()),
            headers: vec![("X-Site".into(), "north".into())],
            secret_headers: vec![("Cookie".into(), Secret::new("session=abc123"))],
            ..ConnectOptions::default()
        };
        let target = Target::parse("wss://pi.example/piwebapi/streams/F1/channel").unwrap();
        let auth = Secret::new("Bearer tok-xyz");
        let head = request_head(&target, &cfg, Some("k"), Some(&auth), false);
        assert!(head.contains("\r\nAuthorization: Bearer tok-xyz\r\n"));
        assert!(head.contains("\r\nOrigin: https://plant.example\r\n"));
        assert!(head.contains("\r\nCookie: session=abc123\r\n"));
        assert!(head.contains("\r\nX-Site: north\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
        let shown = request_head(&target, &cfg, Some("k"), Some(&auth), true);
        assert!(
            !shown.contains("tok-xyz") && !shown.contains("abc123"),
            "{}",
            *shown
        );
        assert!(shown.contains("Authorization: ***"));
    }
}
