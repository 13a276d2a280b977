//! The wire: TCP (and later TLS), the HTTP upgrade, WebSocket frames. Knows nothing of
//! channels, queues or reconnects.

mod http;
mod target;

pub use target::Target;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::config::ChannelConfig;
use crate::error::{Error, ErrorKind};
use http::HttpConnection;

/// The byte stream under the WebSocket.
pub type Transport = TcpStream;
pub type WsStream = WebSocketStream<Transport>;

/// Connect, upgrade, and return the open WebSocket. No timeout here: the caller bounds it.
pub async fn open(target: &Target, cfg: &ChannelConfig) -> Result<WsStream, Error> {
    if target.is_tls() {
        return Err(Error::new(
            ErrorKind::Tls,
            format!("cannot open {}: wss:// (TLS) is not supported by this build yet", target.display()),
        ));
    }
    let tcp = TcpStream::connect((target.connect_host(), target.port())).await.map_err(|e| {
        Error::new(ErrorKind::Connect, format!("could not connect to {}: {e}", target.display()))
    })?;
    // Channel messages are small and latency matters more than packet count.
    let _ = tcp.set_nodelay(true);
    let mut conn = HttpConnection::new(tcp);
    let key = generate_key();
    conn.send(request_head(target, cfg, &key).as_bytes()).await.map_err(|e| {
        Error::new(ErrorKind::Connect, format!("could not send the upgrade request to {}: {e}", target.display()))
    })?;
    let head = conn.read_response_head().await.map_err(|e| {
        Error::new(e.kind(), format!("{}: {}", target.display(), e.message()))
    })?;
    if head.status != 101 {
        let body = conn.read_body_snippet(&head, 300).await;
        let body = if body.is_empty() { String::new() } else { format!(": {body}") };
        return Err(Error::http(
            head.status,
            format!(
                "{} answered HTTP {} {} instead of 101 Switching Protocols{body}",
                target.display(),
                head.status,
                head.reason
            ),
        ));
    }
    let protocol_error = |why: &str| {
        Error::new(ErrorKind::Protocol, format!("{}: invalid WebSocket upgrade response: {why}", target.display()))
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
    let (io, rest) = conn.into_parts();
    Ok(WebSocketStream::from_partially_read(io, rest, Role::Client, Some(ws_config(cfg))).await)
}

fn request_head(target: &Target, cfg: &ChannelConfig, key: &str) -> String {
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: piwebasync/{}\r\n",
        target.request_target(),
        target.host_header(),
        env!("CARGO_PKG_VERSION"),
    );
    for (name, value) in &cfg.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn ws_config(cfg: &ChannelConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(cfg.max_message_size)
        .max_frame_size(cfg.max_message_size)
}
