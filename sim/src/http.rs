//! Minimal HTTP/1.1 for the upgrade request and plain responses.

use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

/// Largest request head accepted (ad hoc URLs with thousands of WebIds are long).
pub const MAX_HEAD: usize = 1 << 20;

#[derive(Debug)]
pub enum HeadError {
    /// The peer closed before sending a complete head.
    Eof,
    TooLarge,
    Io,
}

/// Reads up to and including the blank line that ends a request head. Bytes after it
/// stay in the reader's buffer (they may be the first WebSocket frames).
pub async fn read_head<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, HeadError> {
    let mut head: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let buf = r.fill_buf().await.map_err(|_| HeadError::Io)?;
        if buf.is_empty() {
            return Err(HeadError::Eof);
        }
        let old = head.len();
        head.extend_from_slice(buf);
        let from = old.saturating_sub(3);
        if let Some(pos) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            let end = from + pos + 4;
            r.consume(end - old);
            head.truncate(end);
            return Ok(head);
        }
        let n = buf.len();
        r.consume(n);
        if head.len() > max {
            return Err(HeadError::TooLarge);
        }
    }
}

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path without the query, as sent.
    pub path: String,
    /// Path and query, as sent.
    pub target: String,
    /// Decoded query parameters in order (names as sent).
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn parse(head: &[u8]) -> Option<Request> {
        let mut hdrs = [httparse::EMPTY_HEADER; 100];
        let mut req = httparse::Request::new(&mut hdrs);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return None,
        }
        let target = req.path?.to_string();
        let (path, q) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q),
            None => (target.clone(), ""),
        };
        let query = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let headers = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect();
        Some(Request {
            method: req.method?.to_string(),
            path,
            target,
            query,
            headers,
        })
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether any header `name` lists `token` (comma-separated, case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// First query parameter with this name (case-insensitive, like PI Web API).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn is_websocket_upgrade(&self) -> bool {
        self.header_has_token("Upgrade", "websocket")
            && self.header_has_token("Connection", "upgrade")
            && self
                .header("Sec-WebSocket-Key")
                .is_some_and(|k| !k.is_empty())
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// PI Web API's error body shape: `{"Errors":["..."]}`.
pub fn errors_body(msg: &str) -> String {
    let mut s = String::from(r#"{"Errors":["#);
    crate::model::push_json_str(&mut s, msg);
    s.push_str("]}");
    s
}

/// A complete `Connection: close` response.
pub fn response(
    status: u16,
    headers: &[(&str, String)],
    content_type: &str,
    body: &str,
) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nServer: piwebasync-sim\r\n\r\n",
        body.len()
    ));
    r.push_str(body);
    r.into_bytes()
}

/// Writes a final response, then half-closes and drains what the peer still sends
/// (bounded), so that closing does not turn into a RST that could destroy the response.
pub async fn finish<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        s.write_all(bytes).await?;
        s.flush().await?;
        s.shutdown().await
    })
    .await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = s.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn head_keeps_rest() {
        let data: &[u8] = b"GET /a?webId=X&webId=Y&includeInitialValues=true HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: abc\r\n\r\nREST";
        let mut r = tokio::io::BufReader::with_capacity(7, data);
        let head = read_head(&mut r, MAX_HEAD).await.unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"REST");
        let req = Request::parse(&head).unwrap();
        assert_eq!(req.path, "/a");
        assert_eq!(req.params("webid"), vec!["X", "Y"]);
        assert_eq!(req.param("INCLUDEINITIALVALUES"), Some("true"));
        assert!(req.is_websocket_upgrade());
    }
}
