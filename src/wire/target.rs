//! Where a channel connects: a parsed and validated `ws://` / `wss://` URL.

use url::{Host, Url};

use crate::error::{Error, ErrorKind};

/// A channel endpoint. `http` and `https` are accepted and mean `ws` and `wss`, as PI Web API
/// clients derive the WebSocket scheme from the HTTP base URL.
#[derive(Clone, Debug)]
pub struct Target {
    redacted: String,
    host: Host<String>,
    port: u16,
    tls: bool,
    host_header: String,
    request_target: String,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid channel URL '{}': {why}", redact_text(text)),
            )
        };
        let url = Url::parse(text.trim()).map_err(|e| invalid(&e.to_string()))?;
        // WHATWG parsing reads `ws:///path` as host "path"; an empty authority is no host.
        if text
            .trim()
            .split_once("://")
            .is_some_and(|(_, rest)| rest.starts_with('/'))
        {
            return Err(invalid("no host"));
        }
        let tls = match url.scheme() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            other => {
                return Err(invalid(&format!(
                    "scheme '{other}' is not ws, wss, http or https"
                )))
            }
        };
        let host = match url.host() {
            Some(h) => h.to_owned(),
            None => return Err(invalid("no host")),
        };
        if let Host::Domain(d) = &host {
            if d.is_empty() {
                return Err(invalid("no host"));
            }
        }
        if url.fragment().is_some() {
            return Err(invalid("a channel URL has no fragment ('#...')"));
        }
        let port = url.port().unwrap_or(if tls { 443 } else { 80 });
        let host_str = url.host_str().unwrap_or_default();
        let host_header = match url.port() {
            Some(p) => format!("{host_str}:{p}"),
            None => host_str.to_string(),
        };
        let request_target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        Ok(Target {
            redacted: shown.to_string(),
            host,
            port,
            tls,
            host_header,
            request_target,
        })
    }

    /// The same server (host, port, TLS) with another path and query: for the REST requests
    /// beside a channel. Shown as `http(s)://host[:port]/path?query`.
    pub fn with_request_target(&self, path_and_query: &str) -> Target {
        let scheme = if self.tls { "https" } else { "http" };
        Target {
            redacted: format!("{scheme}://{}{path_and_query}", self.host_header),
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
            host_header: self.host_header.clone(),
            request_target: path_and_query.to_string(),
        }
    }

    /// The URL as it may appear in messages and logs: a password in it is replaced by `***`.
    pub fn display(&self) -> &str {
        &self.redacted
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host to resolve and connect to (IPv6 literals without brackets).
    pub fn connect_host(&self) -> String {
        match &self.host {
            Host::Domain(d) => d.clone(),
            Host::Ipv4(a) => a.to_string(),
            Host::Ipv6(a) => a.to_string(),
        }
    }

    /// The value of the `Host` request header.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }

    /// Path and query, as written on the request line.
    pub fn request_target(&self) -> &str {
        &self.request_target
    }
}

/// Best effort for text that did not even parse: drop anything between `//` and `@`.
fn redact_text(text: &str) -> String {
    match (text.find("//"), text.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &text[..s + 2], &text[at..]),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_hosts_and_ports() {
        let t = Target::parse("ws://127.0.0.1:8080/piwebapi/streams/F1DP/channel?a=1&b=2").unwrap();
        assert!(!t.is_tls());
        assert_eq!(t.port(), 8080);
        assert_eq!(t.host_header(), "127.0.0.1:8080");
        assert_eq!(t.request_target(), "/piwebapi/streams/F1DP/channel?a=1&b=2");
        let t =
            Target::parse("https://pi.example.com/piwebapi/streamsets/channel?webId=X").unwrap();
        assert!(t.is_tls());
        assert_eq!(t.port(), 443);
        assert_eq!(t.host_header(), "pi.example.com");
        let t = Target::parse("ws://[::1]:9/x").unwrap();
        assert_eq!(t.connect_host(), "::1");
        assert_eq!(t.host_header(), "[::1]:9");
    }

    #[test]
    fn rejects_bad_urls_and_never_shows_a_password() {
        for bad in [
            "",
            "not a url",
            "ftp://h/x",
            "ws://",
            "ws:///path",
            "ws://h/x#frag",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(
                e.message().starts_with("invalid channel URL"),
                "{}",
                e.message()
            );
        }
        let t = Target::parse("ws://user:secret@h:1/x").unwrap();
        assert!(!t.display().contains("secret"));
        let e = Target::parse("gopher://user:secret@h/x").unwrap_err();
        assert!(!e.message().contains("secret"), "{}", e.message());
    }
}
