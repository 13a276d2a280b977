//! Channel configuration: typed fields for Rust callers, string keys for the C ABI and bindings.
//!
//! Keys mirror the parameters of the Python library piwebasync (`reconnect`,
//! `dead_channel_timeout`, `open_timeout`, `ping_interval`, ...). Durations are given in seconds
//! and may have a fraction ("0.25"). Every default is listed in `KEYS` and documented in the
//! C header.

use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// How a channel connects and behaves. `Default` gives the documented defaults.
#[derive(Clone)]
pub struct ChannelConfig {
    /// Reconnect in the background after a dropped connection (default false, as piwebasync).
    pub reconnect: bool,
    /// Close the channel when no connection could be re-established within this time after a
    /// drop. `None` disables the watchdog. Default 3600 s.
    pub dead_channel_timeout: Option<Duration>,
    /// How long `open` waits for the first connection. Default 10 s.
    pub open_timeout: Duration,
    /// Interval of the WebSocket pings that detect a half-open socket; `None` = no pings.
    /// Default 20 s.
    pub ping_interval: Option<Duration>,
    /// How long to wait for the pong before the connection counts as dead. Default 20 s.
    pub ping_timeout: Duration,
    /// How long a graceful close waits for the server's close frame. Default 10 s.
    pub close_timeout: Duration,
    /// Largest accepted message in bytes; a larger one is a protocol error. `None` = no limit.
    /// Default 64 MiB (initial values of large stream sets can be many MiB).
    pub max_message_size: Option<usize>,
    /// Messages buffered before the channel stops reading the socket. Default 1024.
    pub max_queue: usize,
    /// First reconnect delay; doubles on each failed attempt. Default 0.5 s.
    pub reconnect_initial_delay: Duration,
    /// Cap of the reconnect delay; jitter (a factor in [0.5, 1]) is applied after the cap.
    /// Default 30 s.
    pub reconnect_max_delay: Duration,
    /// Extra request headers sent with the upgrade (`header.<Name>` keys).
    pub headers: Vec<(String, String)>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            reconnect: false,
            dead_channel_timeout: Some(Duration::from_secs(3600)),
            open_timeout: Duration::from_secs(10),
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(10),
            max_message_size: Some(64 << 20),
            max_queue: 1024,
            reconnect_initial_delay: Duration::from_millis(500),
            reconnect_max_delay: Duration::from_secs(30),
            headers: Vec::new(),
        }
    }
}

/// The known keys with their defaults, as documented (also used to list keys in errors).
pub const KEYS: &[(&str, &str)] = &[
    ("reconnect", "false"),
    ("dead_channel_timeout", "3600"),
    ("open_timeout", "10"),
    ("ping_interval", "20"),
    ("ping_timeout", "20"),
    ("close_timeout", "10"),
    ("max_message_size", "67108864"),
    ("max_queue", "1024"),
    ("reconnect_initial_delay", "0.5"),
    ("reconnect_max_delay", "30"),
    ("header.<Name>", "(none)"),
];

/// Request headers the library writes itself; a `header.` key may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

impl ChannelConfig {
    /// Set one key from its string form. Unknown keys and bad values are rejected with an error
    /// that names the key; the configuration is unchanged then.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let v = value.trim();
        match key {
            "reconnect" => self.reconnect = parse_bool(key, v)?,
            "dead_channel_timeout" => self.dead_channel_timeout = parse_optional_secs(key, v)?,
            "open_timeout" => self.open_timeout = parse_positive_secs(key, v)?,
            "ping_interval" => self.ping_interval = parse_optional_secs(key, v)?,
            "ping_timeout" => self.ping_timeout = parse_positive_secs(key, v)?,
            "close_timeout" => self.close_timeout = parse_positive_secs(key, v)?,
            "max_message_size" => {
                let n = parse_u64(key, v)?;
                self.max_message_size = if n == 0 { None } else { Some(to_usize(key, n)?) };
            }
            "max_queue" => {
                let n = parse_u64(key, v)?;
                if n == 0 {
                    return Err(bad(key, value, "must be at least 1"));
                }
                self.max_queue = to_usize(key, n)?;
            }
            "reconnect_initial_delay" => self.reconnect_initial_delay = parse_positive_secs(key, v)?,
            "reconnect_max_delay" => self.reconnect_max_delay = parse_positive_secs(key, v)?,
            _ => {
                if let Some(name) = key.strip_prefix("header.") {
                    return self.set_header(key, name, value);
                }
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown configuration key '{key}' (known keys: {})", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn set_header(&mut self, key: &str, name: &str, value: &str) -> Result<(), Error> {
        let token_ok = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token_ok {
            return Err(bad(key, "", "the header name is not a valid HTTP token"));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(bad(key, "", "this header is written by the library and cannot be set"));
        }
        // Header values must not smuggle a second header or request line.
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(bad(key, "", "the header value contains CR, LF or NUL"));
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        Ok(())
    }
}

fn bad(key: &str, value: &str, why: &str) -> Error {
    let shown = if value.is_empty() { String::new() } else { format!(" '{value}'") };
    Error::new(ErrorKind::InvalidArgument, format!("bad value{shown} for '{key}': {why}"))
}

fn parse_bool(key: &str, v: &str) -> Result<bool, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(key, v, "expected true or false")),
    }
}

fn parse_u64(key: &str, v: &str) -> Result<u64, Error> {
    v.parse::<u64>().map_err(|_| bad(key, v, "expected a non-negative integer"))
}

fn to_usize(key: &str, n: u64) -> Result<usize, Error> {
    usize::try_from(n).map_err(|_| bad(key, &n.to_string(), "too large for this platform"))
}

/// Seconds, possibly fractional, 0 allowed. Upper bound keeps `Duration` arithmetic safe.
fn parse_secs(key: &str, v: &str) -> Result<Duration, Error> {
    let secs: f64 = v.parse().map_err(|_| bad(key, v, "expected a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad(key, v, "expected a non-negative number of seconds"));
    }
    if secs > 10.0 * 365.0 * 86400.0 {
        return Err(bad(key, v, "more than ten years"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_positive_secs(key: &str, v: &str) -> Result<Duration, Error> {
    let d = parse_secs(key, v)?;
    if d.is_zero() {
        return Err(bad(key, v, "must be greater than 0"));
    }
    Ok(d)
}

/// 0 means "off".
fn parse_optional_secs(key: &str, v: &str) -> Result<Option<Duration>, Error> {
    let d = parse_secs(key, v)?;
    Ok(if d.is_zero() { None } else { Some(d) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_rejects_bad_values_by_name() {
        let mut c = ChannelConfig::default();
        c.set("reconnect", "true").unwrap();
        assert!(c.reconnect);
        c.set("dead_channel_timeout", "0").unwrap();
        assert_eq!(c.dead_channel_timeout, None);
        c.set("open_timeout", "0.25").unwrap();
        assert_eq!(c.open_timeout, Duration::from_millis(250));
        c.set("max_queue", "7").unwrap();
        assert_eq!(c.max_queue, 7);
        c.set("max_message_size", "0").unwrap();
        assert_eq!(c.max_message_size, None);
        c.set("header.X-Test", "a b").unwrap();
        c.set("header.x-test", "c").unwrap();
        assert_eq!(c.headers, vec![("x-test".to_string(), "c".to_string())]);

        for (k, v) in [
            ("reconnect", "maybe"),
            ("open_timeout", "0"),
            ("open_timeout", "-1"),
            ("ping_timeout", "NaN"),
            ("max_queue", "0"),
            ("max_queue", "many"),
            ("header.Host", "x"),
            ("header.Bad Name", "x"),
            ("header.X", "a\r\nInjected: 1"),
        ] {
            let e = c.set(k, v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(k), "{k}: {}", e.message());
        }
        let e = c.set("no_such_key", "1").unwrap_err();
        assert!(e.message().contains("unknown configuration key 'no_such_key'"));
        assert_eq!(c.max_queue, 7, "a rejected value leaves the config unchanged");
    }
}
