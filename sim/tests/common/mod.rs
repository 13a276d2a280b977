//! A small WebSocket/HTTP client for the simulator's tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use piwebasync_sim::Simulator;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{client_async, WebSocketStream};

pub type Ws = WebSocketStream<TcpStream>;

/// Connects and upgrades, with optional `Authorization` header value.
pub async fn connect_auth(url: &str, auth: Option<&str>) -> Result<Ws, WsError> {
    let mut req = url.into_client_request()?;
    if let Some(a) = auth {
        req.headers_mut()
            .insert("Authorization", HeaderValue::from_str(a).unwrap());
    }
    let host = req.uri().authority().unwrap().as_str().to_string();
    let tcp = TcpStream::connect(host).await.map_err(WsError::Io)?;
    let (ws, resp) = client_async(req, tcp).await?;
    assert_eq!(resp.status().as_u16(), 101);
    Ok(ws)
}

pub async fn connect(url: &str) -> Ws {
    connect_auth(url, None)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", &url[..url.len().min(200)]))
}

/// The HTTP status of a failed upgrade.
pub fn http_status(r: Result<Ws, WsError>) -> u16 {
    match r {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP error, got {e:?}"),
        Ok(_) => panic!("expected an HTTP error, got 101"),
    }
}

/// What the client saw next (pings and pongs are skipped).
#[derive(Debug)]
pub enum Next {
    Text(String),
    Close(Option<u16>),
    /// The stream ended without a close frame.
    End,
    Err(WsError),
    Timeout,
}

pub async fn next(ws: &mut Ws, timeout: Duration) -> Next {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Next::Timeout,
            Ok(None) => return Next::End,
            Ok(Some(Err(e))) => return Next::Err(e),
            Ok(Some(Ok(Message::Text(t)))) => return Next::Text(t.to_string()),
            Ok(Some(Ok(Message::Close(f)))) => return Next::Close(f.map(|f| u16::from(f.code))),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The next text frame, or panic.
pub async fn text(ws: &mut Ws, timeout: Duration) -> String {
    match next(ws, timeout).await {
        Next::Text(t) => t,
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn json(ws: &mut Ws, timeout: Duration) -> Value {
    let t = text(ws, timeout).await;
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("not JSON ({e}): {t}"))
}

/// Closes politely and waits for the server's Close.
pub async fn close(mut ws: Ws) {
    let _ = ws.send(Message::Close(None)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, ws.next()).await {}
}

/// Checks one message's shape; returns its stream items.
pub fn check_message(v: &Value) -> Vec<Value> {
    let o = v.as_object().expect("message is an object");
    assert!(o["Links"].as_object().unwrap().is_empty());
    let items = o["Items"].as_array().expect("Items array").clone();
    for s in &items {
        for k in ["WebId", "Name", "Path", "UnitsAbbreviation"] {
            assert!(s[k].is_string(), "{k} missing in {s}");
        }
        assert!(s["Links"].is_object());
        let vals = s["Items"].as_array().expect("values");
        assert!(!vals.is_empty());
        for tv in vals {
            let ts = tv["Timestamp"].as_str().unwrap();
            assert_eq!(ts.len(), 28, "{ts}");
            assert!(
                ts.ends_with('Z') && &ts[19..20] == "." && &ts[10..11] == "T",
                "{ts}"
            );
            assert!(ts[20..27].bytes().all(|b| b.is_ascii_digit()), "{ts}");
            for k in ["Good", "Questionable", "Substituted", "Annotated"] {
                assert!(tv[k].is_boolean(), "{k} in {tv}");
            }
            assert!(tv["UnitsAbbreviation"].is_string());
            assert!(tv.get("Value").is_some());
        }
    }
    items
}

/// Every timestamp in a message.
pub fn timestamps(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in v["Items"].as_array().unwrap() {
        for tv in s["Items"].as_array().unwrap() {
            out.push(tv["Timestamp"].as_str().unwrap().to_string());
        }
    }
    out
}

/// Plain HTTP GET to the simulator; returns (status, body).
pub fn http_get(sim: &Simulator, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf[9..12].parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub const SEC: Duration = Duration::from_secs(1);
