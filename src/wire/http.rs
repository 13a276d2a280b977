//! The HTTP/1.1 side of the WebSocket upgrade, as a connection that can carry more than one
//! request: HTTP Negotiate (Kerberos) answers a 401 with a new token on the same connection, so
//! the upgrade is not a single fire-and-forget exchange. Bytes read past a response head stay
//! buffered and are handed to the WebSocket layer with the stream.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, ErrorKind};

/// A response head is refused beyond this size (a server that never ends its headers).
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of a header that may repeat (`WWW-Authenticate`), as text.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
            .collect()
    }

    /// The head for a log line: headers that can carry credentials or session tokens are
    /// shown as `***`.
    pub fn redacted(&self) -> String {
        let mut out = format!("HTTP {} {}", self.status, self.reason);
        for (n, v) in &self.headers {
            let lower = n.to_ascii_lowercase();
            let value = if lower.contains("authenticat")
                || lower.contains("authoriz")
                || lower.contains("cookie")
            {
                "***".into()
            } else {
                String::from_utf8_lossy(v)
            };
            out.push_str(&format!("\n{n}: {value}"));
        }
        out
    }

    /// True when a comma-separated header contains `token` (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case(token))
            })
    }
}

pub struct HttpConnection<S> {
    io: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConnection<S> {
    pub fn new(io: S) -> Self {
        HttpConnection {
            io,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, head: &[u8]) -> std::io::Result<()> {
        self.io.write_all(head).await?;
        self.io.flush().await
    }

    /// Read and parse one response head; what follows it stays buffered.
    pub async fn read_response_head(&mut self) -> Result<ResponseHead, Error> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = ResponseHead {
                        status: resp.code.unwrap_or(0),
                        reason: resp.reason.unwrap_or("").to_string(),
                        headers: resp
                            .headers
                            .iter()
                            .map(|h| (h.name.to_string(), h.value.to_vec()))
                            .collect(),
                    };
                    self.buf.drain(..len);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(protocol(format!("malformed HTTP response: {e}"))),
            }
            if self.buf.len() > MAX_HEAD {
                return Err(protocol(format!(
                    "HTTP response head larger than {MAX_HEAD} bytes"
                )));
            }
            let mut chunk = [0u8; 4096];
            let n = self.io.read(&mut chunk).await.map_err(|e| {
                super::tls::io_failure(&e, "while reading the HTTP response").unwrap_or_else(|| {
                    Error::new(
                        ErrorKind::Connect,
                        format!("connection failed while reading the HTTP response: {e}"),
                    )
                })
            })?;
            if n == 0 {
                return Err(Error::new(
                    ErrorKind::Connect,
                    "connection closed by the server before a complete HTTP response",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Up to `max` bytes of a response body with a `Content-Length`, for error messages.
    /// Gives up quietly on anything unusual; the status is what matters.
    pub async fn read_body_snippet(&mut self, head: &ResponseHead, max: usize) -> String {
        let len = head
            .header("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0)
            .min(max);
        let read = async {
            while self.buf.len() < len {
                let mut chunk = [0u8; 1024];
                match self.io.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), read).await;
        let end = len.min(self.buf.len());
        let text = String::from_utf8_lossy(&self.buf[..end]);
        text.chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string()
    }

    /// Read and drop the body of a response that is not the last on this connection (a 401
    /// answered on the same connection). False when the connection cannot carry another
    /// request: the server closes it, the body has no length (chunked or until close), or it
    /// is larger than `max`.
    pub async fn discard_body(&mut self, head: &ResponseHead, max: usize) -> bool {
        if head.header_has_token("connection", "close")
            || head.header("transfer-encoding").is_some()
        {
            return false;
        }
        let Some(len) = head
            .header("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
        else {
            return false;
        };
        if len > max {
            return false;
        }
        while self.buf.len() < len {
            let mut chunk = [0u8; 4096];
            match self.io.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        self.buf.drain(..len);
        true
    }

    /// The whole body of a response, at most `max` bytes: by `Content-Length`, chunked, or
    /// (neither) until the server closes the connection.
    pub async fn read_body(&mut self, head: &ResponseHead, max: usize) -> Result<Vec<u8>, Error> {
        let too_large = || protocol(format!("HTTP response body larger than {max} bytes"));
        if head.header("transfer-encoding").is_some_and(|v| {
            String::from_utf8_lossy(v)
                .to_ascii_lowercase()
                .contains("chunked")
        }) {
            let mut body = Vec::new();
            loop {
                let line = self.read_line().await?;
                let size_text = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_text, 16)
                    .map_err(|_| protocol(format!("malformed chunk size '{size_text}'")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.read_line().await?.is_empty() {}
                    return Ok(body);
                }
                if body.len().saturating_add(size) > max {
                    return Err(too_large());
                }
                self.fill(size + 2).await?;
                body.extend_from_slice(&self.buf[..size]);
                if &self.buf[size..size + 2] != b"\r\n" {
                    return Err(protocol("a chunk not followed by CRLF".to_string()));
                }
                self.buf.drain(..size + 2);
            }
        }
        match head.header("content-length") {
            Some(v) => {
                let len = std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| protocol("malformed Content-Length".to_string()))?;
                if len > max {
                    return Err(too_large());
                }
                self.fill(len).await?;
                Ok(self.buf.drain(..len).collect())
            }
            None => loop {
                if self.buf.len() > max {
                    return Err(too_large());
                }
                if self.read_more().await? == 0 {
                    return Ok(std::mem::take(&mut self.buf));
                }
            },
        }
    }

    /// One line (without its CRLF) of a chunked body.
    async fn read_line(&mut self) -> Result<String, Error> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(protocol("a chunk header line without end".to_string()));
            }
            if self.read_more().await? == 0 {
                return Err(truncated());
            }
        }
    }

    /// Read until at least `n` bytes are buffered.
    async fn fill(&mut self, n: usize) -> Result<(), Error> {
        while self.buf.len() < n {
            if self.read_more().await? == 0 {
                return Err(truncated());
            }
        }
        Ok(())
    }

    /// One read into the buffer; 0 at the end of the stream.
    async fn read_more(&mut self) -> Result<usize, Error> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.io.read(&mut chunk).await.map_err(|e| {
            super::tls::io_failure(&e, "while reading the HTTP response body").unwrap_or_else(
                || {
                    Error::new(
                        ErrorKind::Connect,
                        format!("connection failed while reading the HTTP response body: {e}"),
                    )
                },
            )
        })?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The stream and the bytes already read from it but not yet consumed.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.io, self.buf)
    }
}

/// What [`replay_response`] read: the head, whether the body was discarded (when asked), and
/// every byte after what was consumed (buffered or not yet read).
#[doc(hidden)]
pub struct Replayed {
    pub head: ResponseHead,
    pub discarded: Option<bool>,
    pub rest: Vec<u8>,
}

/// Fuzzing and tests only, not API: `read_response_head` on `input` handed over `chunk` bytes per
/// read (at least 1), then `discard_body(head, max)` when `discard_max` is given, exactly as
/// the upgrade runs them on a socket.
#[doc(hidden)]
pub fn replay_response(
    input: &[u8],
    chunk: usize,
    discard_max: Option<usize>,
) -> Result<Replayed, Error> {
    use futures_util::FutureExt;
    let mut conn = HttpConnection::new(Replay {
        input,
        chunk: chunk.max(1),
    });
    // In-memory reads are always ready, so the futures complete on their first poll.
    let head = conn
        .read_response_head()
        .now_or_never()
        .expect("in-memory reads never wait")?;
    let discarded = discard_max.map(|max| {
        conn.discard_body(&head, max)
            .now_or_never()
            .expect("in-memory reads never wait")
    });
    let (io, mut rest) = conn.into_parts();
    rest.extend_from_slice(io.input);
    Ok(Replayed {
        head,
        discarded,
        rest,
    })
}

/// Fuzzing and tests only, not API: `read_response_head` then `read_body(head, max)` on
/// `input` handed over `chunk` bytes per read (at least 1), as a REST GET runs them; with the
/// bytes left after the body.
#[doc(hidden)]
pub fn replay_body(
    input: &[u8],
    chunk: usize,
    max: usize,
) -> Result<(ResponseHead, Vec<u8>, Vec<u8>), Error> {
    use futures_util::FutureExt;
    let mut conn = HttpConnection::new(Replay {
        input,
        chunk: chunk.max(1),
    });
    let head = conn
        .read_response_head()
        .now_or_never()
        .expect("in-memory reads never wait")?;
    let body = conn
        .read_body(&head, max)
        .now_or_never()
        .expect("in-memory reads never wait")?;
    let (io, mut rest) = conn.into_parts();
    rest.extend_from_slice(io.input);
    Ok((head, body, rest))
}

/// A peer that has sent `input` and then closed, `chunk` bytes per read; writes are dropped.
struct Replay<'a> {
    input: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Replay<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.chunk.min(self.input.len()).min(buf.remaining());
        let (now, later) = self.input.split_at(n);
        buf.put_slice(now);
        self.input = later;
        std::task::Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Replay<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn truncated() -> Error {
    Error::new(
        ErrorKind::Connect,
        "connection closed by the server in the middle of the HTTP response body",
    )
}

fn protocol(msg: String) -> Error {
    Error::new(ErrorKind::Protocol, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(input: &str, max: usize) -> Result<(String, String), Error> {
        let mut last = None;
        for chunk in [1, 2, 7, usize::MAX] {
            let r = replay_body(input.as_bytes(), chunk, max).map(|(_, b, rest)| {
                (
                    String::from_utf8(b).unwrap(),
                    String::from_utf8(rest).unwrap(),
                )
            });
            let shown = format!("{r:?}");
            if let Some(l) = &last {
                assert_eq!(&shown, l, "reads of {chunk} bytes change the outcome");
            }
            last = Some(shown);
            if chunk == usize::MAX {
                return r;
            }
        }
        unreachable!()
    }

    #[test]
    fn bodies_by_length_chunked_and_until_close() {
        let by_length = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT";
        assert_eq!(
            body(by_length, 100).unwrap(),
            ("hello".into(), "NEXT".into())
        );
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                       4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        assert_eq!(
            body(chunked, 100).unwrap(),
            ("{\"a\":1}".into(), "NEXT".into())
        );
        let until_close = "HTTP/1.0 200 OK\r\n\r\n{\"Items\":[]}";
        assert_eq!(body(until_close, 100).unwrap().0, "{\"Items\":[]}");
    }

    #[test]
    fn bad_bodies_are_errors_not_hangs_or_panics() {
        for (input, max, what) in [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nx",
                1000,
                "in the middle",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
                10,
                "larger than 10",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                10,
                "Content-Length",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                10,
                "chunk size",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\nabc",
                100,
                "in the middle",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
                100,
                "CRLF",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n",
                10,
                "larger than 10",
            ),
            ("HTTP/1.1 200 OK\r\n\r\n0123456789ABC", 10, "larger than 10"),
        ] {
            let e = body(input, max).unwrap_err();
            assert!(e.message().contains(what), "{input:?}: {}", e.message());
        }
    }
}
