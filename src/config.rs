//! Channel configuration: typed fields for Rust callers, string keys for the C ABI and bindings.
//!
//! Keys mirror the parameters of the Python library piwebasync (`reconnect`,
//! `dead_channel_timeout`, `open_timeout`, `ping_interval`, ...). Durations are given in seconds
//! and may have a fraction ("0.25"). Every key — its kind, default, whether it is secret, its
//! documentation — is written once, in `key_specs.rs` ([`KEY_SPECS`]): the defaults, `set`,
//! `get`, the redacting `Debug`, the C header's key list and the README's table come from it.
//!
//! Secrets (`password`, `bearer_token`, the value of `header.Authorization`) are kept as
//! [`Secret`]s: never shown by `Debug` or in an error message, wiped from memory when the
//! configuration is dropped. A channel gets its own copy of them when it opens (`Clone` copies
//! them into new storage), so replacing the token of one channel
//! ([`crate::Channel::set_bearer_token`]) changes neither the caller's configuration nor any
//! other channel.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod key_specs;

pub use key_specs::{KeySpec, KEY_SPECS};

pub use crate::engine::ParseOnReceive;
pub use crate::wire::{AuthMethod, CaFileMode};

use crate::engine::ChannelOptions;
use crate::error::{Error, ErrorKind};
use crate::secret::{check_secret, Credentials, Secret};
use crate::wire::{ConnectOptions, NegotiateOptions, ServiceName, Target, TlsOptions};

/// Which thread runs a channel's callbacks (`callback_thread`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallbackThread {
    /// A thread of the channel's own: a slow or blocking callback delays no other channel.
    #[default]
    Own,
    /// One process-wide thread shared by every channel opened with `Shared`, the channels
    /// taking turns; each channel's callbacks still in order with `Closed` once and last. A
    /// callback that blocks stalls every channel on that thread. Subscription sets ignore
    /// it: their shards share a thread of the set's own.
    Shared,
}

impl CallbackThread {
    /// The key's value for it.
    pub fn name(self) -> &'static str {
        match self {
            CallbackThread::Own => "own",
            CallbackThread::Shared => "shared",
        }
    }
}

/// How a channel connects and behaves. `Default` gives the documented defaults.
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
    /// Bytes of message text buffered before the channel stops reading the socket, beside
    /// `max_queue` (whichever is reached first). A single message larger than this is still
    /// delivered. Default 32 MiB.
    pub max_queue_bytes: usize,
    /// First reconnect delay; doubles on each failed attempt. Default 0.5 s.
    pub reconnect_initial_delay: Duration,
    /// Cap of the reconnect delay; jitter (a factor in [0.5, 1]) is applied after the cap.
    /// Default 30 s.
    pub reconnect_max_delay: Duration,
    /// The first reconnect attempt after a drop waits a random delay in [0, this], so that
    /// many channels dropped together (a server restart) do not come back in the same
    /// millisecond. Default 0: at once.
    pub reconnect_spread: Duration,
    /// Subscription sets: the longest ad hoc channel URL, in bytes. Default 4096
    /// ([`crate::urls::DEFAULT_MAX_URL_LEN`]).
    pub max_url_length: usize,
    /// Subscription sets: the most WebIds on one channel. Default 1000.
    pub max_streams_per_channel: usize,
    /// Subscription sets: the most channels (sockets) one set opens. Default 500.
    pub max_channels: usize,
    /// Retry refused credentials (HTTP 401/403) while reconnecting, at the backoff cap
    /// (`reconnect_max_delay`) every time. Default false: a refusal ends the channel, since
    /// repeated failed logins lock Windows accounts.
    pub reconnect_on_auth_failure: bool,
    /// Where messages are parsed (default `Auto`); see [`ParseOnReceive`].
    pub parse_on_receive: ParseOnReceive,
    /// Which thread runs the channel's callbacks (`callback_thread`, default `Own`); see
    /// [`CallbackThread`].
    pub callback_thread: CallbackThread,
    /// Fill the gaps of reconnects and updates from recorded values (`gap_fill`, default
    /// false).
    pub gap_fill: bool,
    /// Longest gap fetched (`gap_fill_max_span`); `None` = no limit. Default one day.
    pub gap_fill_max_span: Option<Duration>,
    /// Most values one backfill delivers (`gap_fill_max_values`); `None` = no limit.
    /// Default 1,000,000.
    pub gap_fill_max_values: Option<u64>,
    /// Extra request headers sent with the upgrade (`header.<Name>` keys). Credentials set
    /// this way (`Authorization`, `Proxy-Authorization`, `Cookie`) are not kept here but as
    /// secrets.
    pub headers: Vec<(String, String)>,
    /// `Origin` request header of the upgrade (`origin`); none by default.
    pub origin: Option<String>,
    /// Authentication of the upgrade (`auth`): none (default), basic, bearer.
    pub auth: AuthMethod,
    /// User name for `auth=basic` (`username`). The password is set with `set("password", ..)`.
    pub username: String,
    /// `auth=negotiate`: the server's service principal (`negotiate_service`), `HTTP/host`,
    /// `HTTP@host` or `HTTP/host@REALM`; `None` = `HTTP/<host of the URL>`.
    pub negotiate_service: Option<String>,
    /// `auth=negotiate`: refuse a 101 without a final token proving the server's identity
    /// (`negotiate_require_mutual`, default false).
    pub negotiate_require_mutual: bool,
    /// `auth=negotiate`: delegate the user's credentials to the server (`negotiate_delegate`,
    /// default false).
    pub negotiate_delegate: bool,
    /// `auth=negotiate` on Linux: a client keytab (`negotiate_keytab`); none = the user's
    /// credential cache.
    pub negotiate_keytab: Option<PathBuf>,
    /// `auth=negotiate` on Linux: the client principal (`negotiate_principal`).
    pub negotiate_principal: Option<String>,
    /// Allow Basic or Bearer credentials over unencrypted `ws://` (`allow_insecure_auth`,
    /// default false: such a channel is refused at open).
    pub allow_insecure_auth: bool,
    /// PEM bundle of CA certificates (`tls_ca_file`); none = the operating system's store.
    pub tls_ca_file: Option<PathBuf>,
    /// Whether `tls_ca_file` replaces the system store (default) or is added to it.
    pub tls_ca_file_mode: CaFileMode,
    /// Accept any server certificate (`tls_insecure_skip_verify`, default false). Logs a
    /// warning once per channel.
    pub tls_insecure_skip_verify: bool,
    /// PEM certificate chain of a client certificate (`tls_client_cert`), with `tls_client_key`.
    pub tls_client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate (`tls_client_key`).
    pub tls_client_key: Option<PathBuf>,
    /// Password and bearer token; replaceable while a channel runs.
    pub(crate) credentials: Arc<Credentials>,
    /// `header.Authorization` and the like: request headers whose values are credentials.
    pub(crate) secret_headers: Vec<(String, Secret)>,
}

impl Clone for ChannelConfig {
    /// A copy with its own secrets: nothing changed later in one (a replaced token) shows in
    /// the other.
    fn clone(&self) -> Self {
        ChannelConfig {
            headers: self.headers.clone(),
            origin: self.origin.clone(),
            username: self.username.clone(),
            negotiate_service: self.negotiate_service.clone(),
            negotiate_keytab: self.negotiate_keytab.clone(),
            negotiate_principal: self.negotiate_principal.clone(),
            tls_ca_file: self.tls_ca_file.clone(),
            tls_client_cert: self.tls_client_cert.clone(),
            tls_client_key: self.tls_client_key.clone(),
            credentials: Arc::new(self.credentials.deep_copy()),
            secret_headers: self.secret_headers.clone(),
            ..*self
        }
    }
}

impl fmt::Debug for ChannelConfig {
    /// Every key of [`KEY_SPECS`] with its value as `get` gives it: secrets show as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ChannelConfig");
        for spec in KEY_SPECS {
            if spec.name == HEADER_KEYS {
                continue;
            }
            d.field(spec.name, &self.value_of(spec.name).unwrap_or_default());
        }
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .chain(self.secret_headers.iter().map(|(n, _)| format!("{n}: ***")))
            .collect();
        d.field("headers", &headers).finish()
    }
}

impl Default for ChannelConfig {
    /// The defaults of [`KEY_SPECS`].
    fn default() -> Self {
        let mut c = ChannelConfig {
            reconnect: false,
            dead_channel_timeout: None,
            open_timeout: Duration::ZERO,
            ping_interval: None,
            ping_timeout: Duration::ZERO,
            close_timeout: Duration::ZERO,
            max_message_size: None,
            max_queue: 0,
            max_queue_bytes: 0,
            reconnect_initial_delay: Duration::ZERO,
            reconnect_max_delay: Duration::ZERO,
            reconnect_spread: Duration::ZERO,
            max_url_length: 0,
            max_streams_per_channel: 0,
            max_channels: 0,
            reconnect_on_auth_failure: false,
            parse_on_receive: ParseOnReceive::Auto,
            callback_thread: CallbackThread::Own,
            gap_fill: false,
            gap_fill_max_span: None,
            gap_fill_max_values: None,
            headers: Vec::new(),
            origin: None,
            auth: AuthMethod::None,
            username: String::new(),
            negotiate_service: None,
            negotiate_require_mutual: false,
            negotiate_delegate: false,
            negotiate_keytab: None,
            negotiate_principal: None,
            allow_insecure_auth: false,
            tls_ca_file: None,
            tls_ca_file_mode: CaFileMode::Replace,
            tls_insecure_skip_verify: false,
            tls_client_cert: None,
            tls_client_key: None,
            credentials: Arc::default(),
            secret_headers: Vec::new(),
        };
        for spec in KEY_SPECS.iter().filter(|s| s.name != HEADER_KEYS) {
            if let Err(e) = c.apply(spec.name, spec.default) {
                // A bad default in the table; the table test catches it.
                debug_assert!(false, "default of {}: {e}", spec.name);
            }
        }
        c
    }
}

/// The family of `header.<Name>` keys, as the table names it.
const HEADER_KEYS: &str = "header.<Name>";

/// Request headers whose values are credentials: kept as secrets, never shown.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

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
    "origin",
];

impl ChannelConfig {
    /// Set one key from its string form. Unknown keys and bad values are rejected with an error
    /// that names the key; the configuration is unchanged then.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        if let Some(name) = key.strip_prefix("header.") {
            return self.set_header(key, name, value);
        }
        if !KEY_SPECS.iter().any(|s| s.name == key) {
            return Err(unknown_key(key));
        }
        self.apply(key, value)
    }

    /// The value of `key` in the form `set` takes ("" = none). Secrets (`password`,
    /// `bearer_token`, credential headers) come back as "***" when set, never their value.
    /// `header.<Name>` gives that header's value ("" when it is not set).
    pub fn get(&self, key: &str) -> Result<String, Error> {
        if let Some(name) = key.strip_prefix("header.") {
            if self
                .secret_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Ok(REDACTED.to_string());
            }
            return Ok(self
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default());
        }
        if !KEY_SPECS.iter().any(|s| s.name == key) {
            return Err(unknown_key(key));
        }
        self.value_of(key)
    }

    /// Every key with its kind, default and documentation.
    pub fn keys() -> &'static [KeySpec] {
        KEY_SPECS
    }

    /// The current value of a key of the table, as `get` returns it.
    fn value_of(&self, key: &str) -> Result<String, Error> {
        let secs = |d: Duration| fmt_secs(Some(d));
        Ok(match key {
            "reconnect" => self.reconnect.to_string(),
            "dead_channel_timeout" => fmt_secs(self.dead_channel_timeout),
            "open_timeout" => secs(self.open_timeout),
            "ping_interval" => fmt_secs(self.ping_interval),
            "ping_timeout" => secs(self.ping_timeout),
            "close_timeout" => secs(self.close_timeout),
            "max_message_size" => self.max_message_size.unwrap_or(0).to_string(),
            "max_queue" => self.max_queue.to_string(),
            "max_queue_bytes" => self.max_queue_bytes.to_string(),
            "reconnect_initial_delay" => secs(self.reconnect_initial_delay),
            "reconnect_max_delay" => secs(self.reconnect_max_delay),
            "reconnect_spread" => secs(self.reconnect_spread),
            "max_url_length" => self.max_url_length.to_string(),
            "max_streams_per_channel" => self.max_streams_per_channel.to_string(),
            "max_channels" => self.max_channels.to_string(),
            "reconnect_on_auth_failure" => self.reconnect_on_auth_failure.to_string(),
            "gap_fill" => self.gap_fill.to_string(),
            "gap_fill_max_span" => fmt_secs(self.gap_fill_max_span),
            "gap_fill_max_values" => self.gap_fill_max_values.unwrap_or(0).to_string(),
            "parse_on_receive" => match self.parse_on_receive {
                ParseOnReceive::Auto => "auto",
                ParseOnReceive::Always => "true",
                ParseOnReceive::Never => "false",
            }
            .to_string(),
            "callback_thread" => self.callback_thread.name().to_string(),
            "origin" => self.origin.clone().unwrap_or_default(),
            "auth" => self.auth.name().to_string(),
            "username" => self.username.clone(),
            "password" => redacted(self.credentials.password().is_some()),
            "bearer_token" => redacted(self.credentials.bearer_token().is_some()),
            "negotiate_service" => self.negotiate_service.clone().unwrap_or_default(),
            "negotiate_require_mutual" => self.negotiate_require_mutual.to_string(),
            "negotiate_delegate" => self.negotiate_delegate.to_string(),
            "negotiate_keytab" => fmt_path(&self.negotiate_keytab),
            "negotiate_principal" => self.negotiate_principal.clone().unwrap_or_default(),
            "allow_insecure_auth" => self.allow_insecure_auth.to_string(),
            "tls_ca_file" => fmt_path(&self.tls_ca_file),
            "tls_ca_file_mode" => match self.tls_ca_file_mode {
                CaFileMode::Replace => "replace",
                CaFileMode::Add => "add",
            }
            .to_string(),
            "tls_insecure_skip_verify" => self.tls_insecure_skip_verify.to_string(),
            "tls_client_cert" => fmt_path(&self.tls_client_cert),
            "tls_client_key" => fmt_path(&self.tls_client_key),
            _ => return Err(no_code_for(key)),
        })
    }

    /// Parse `value` into the key's field (a key of the table; `header.` keys are apart).
    fn apply(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let v = value.trim();
        match key {
            "reconnect" => self.reconnect = parse_bool(key, v)?,
            "reconnect_on_auth_failure" => self.reconnect_on_auth_failure = parse_bool(key, v)?,
            "gap_fill" => self.gap_fill = parse_bool(key, v)?,
            "gap_fill_max_span" => self.gap_fill_max_span = parse_optional_secs(key, v)?,
            "gap_fill_max_values" => {
                let n = parse_u64(key, v)?;
                self.gap_fill_max_values = (n > 0).then_some(n);
            }
            "parse_on_receive" => {
                self.parse_on_receive = if v.eq_ignore_ascii_case("auto") {
                    ParseOnReceive::Auto
                } else if parse_bool(key, v)? {
                    ParseOnReceive::Always
                } else {
                    ParseOnReceive::Never
                }
            }
            "callback_thread" => {
                self.callback_thread = match v.to_ascii_lowercase().as_str() {
                    "own" => CallbackThread::Own,
                    "shared" => CallbackThread::Shared,
                    _ => return Err(bad(key, v, "expected own or shared")),
                }
            }
            "dead_channel_timeout" => self.dead_channel_timeout = parse_optional_secs(key, v)?,
            "open_timeout" => self.open_timeout = parse_positive_secs(key, v)?,
            "ping_interval" => self.ping_interval = parse_optional_secs(key, v)?,
            "ping_timeout" => self.ping_timeout = parse_positive_secs(key, v)?,
            "close_timeout" => self.close_timeout = parse_positive_secs(key, v)?,
            "max_message_size" => {
                let n = parse_u64(key, v)?;
                self.max_message_size = if n == 0 {
                    None
                } else {
                    Some(to_usize(key, n)?)
                };
            }
            "max_queue" => {
                let n = parse_u64(key, v)?;
                if n == 0 {
                    return Err(bad(key, value, "must be at least 1"));
                }
                self.max_queue = to_usize(key, n)?;
            }
            "max_queue_bytes" => {
                let n = parse_u64(key, v)?;
                if n == 0 {
                    return Err(bad(key, value, "must be at least 1"));
                }
                self.max_queue_bytes = to_usize(key, n)?;
            }
            "reconnect_initial_delay" => {
                self.reconnect_initial_delay = parse_positive_secs(key, v)?
            }
            "reconnect_max_delay" => self.reconnect_max_delay = parse_positive_secs(key, v)?,
            "reconnect_spread" => {
                self.reconnect_spread = parse_optional_secs(key, v)?.unwrap_or(Duration::ZERO)
            }
            "max_url_length" | "max_streams_per_channel" | "max_channels" => {
                let n = parse_u64(key, v)?;
                if n == 0 {
                    return Err(bad(key, value, "must be at least 1"));
                }
                let n = to_usize(key, n)?;
                match key {
                    "max_url_length" => self.max_url_length = n,
                    "max_streams_per_channel" => self.max_streams_per_channel = n,
                    _ => self.max_channels = n,
                }
            }
            "origin" => {
                check_header_value(key, value)?;
                self.origin = if v.is_empty() {
                    None
                } else {
                    Some(v.to_string())
                };
            }
            "auth" => {
                self.auth = match v.to_ascii_lowercase().as_str() {
                    "none" | "" => AuthMethod::None,
                    "basic" => AuthMethod::Basic,
                    "bearer" => AuthMethod::Bearer,
                    "negotiate" | "kerberos" => AuthMethod::Negotiate,
                    _ => {
                        return Err(bad(
                            key,
                            v,
                            "expected none, basic, bearer or negotiate (kerberos)",
                        ))
                    }
                }
            }
            "username" => {
                if v.contains(':') {
                    return Err(bad(key, "", "a Basic user name cannot contain ':'"));
                }
                check_header_value(key, value)?;
                self.username = v.to_string();
            }
            // Secrets: the value is never echoed in an error.
            "password" => {
                check_secret(key, value)?;
                // Not trimmed (spaces may belong to it); "" means none.
                self.credentials.set_password(if value.is_empty() {
                    None
                } else {
                    Some(Secret::new(value))
                });
            }
            "bearer_token" => {
                check_secret(key, value)?;
                let token = value.trim();
                self.credentials.set_bearer_token(if token.is_empty() {
                    None
                } else {
                    Some(Secret::new(token))
                });
            }
            "negotiate_service" => {
                self.negotiate_service = match v {
                    "" => None,
                    text => {
                        ServiceName::parse(text).map_err(|why| bad(key, v, &why))?;
                        Some(text.to_string())
                    }
                };
            }
            "negotiate_require_mutual" => self.negotiate_require_mutual = parse_bool(key, v)?,
            "negotiate_delegate" => self.negotiate_delegate = parse_bool(key, v)?,
            "negotiate_keytab" => {
                self.negotiate_keytab = match v {
                    "" => None,
                    path => {
                        check_keytab(key, path)?;
                        Some(PathBuf::from(path))
                    }
                };
            }
            "negotiate_principal" => {
                self.negotiate_principal = match v {
                    "" => None,
                    p if p.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                        return Err(bad(
                            key,
                            v,
                            "a principal name has no spaces or control characters",
                        ))
                    }
                    p => Some(p.to_string()),
                };
            }
            "allow_insecure_auth" => self.allow_insecure_auth = parse_bool(key, v)?,
            "tls_ca_file" => {
                self.tls_ca_file = match v {
                    "" => None,
                    path => {
                        crate::wire::tls::check_ca_file(key, path.as_ref())?;
                        Some(PathBuf::from(path))
                    }
                };
            }
            "tls_ca_file_mode" => {
                self.tls_ca_file_mode = match v.to_ascii_lowercase().as_str() {
                    "replace" => CaFileMode::Replace,
                    "add" => CaFileMode::Add,
                    _ => return Err(bad(key, v, "expected replace or add")),
                };
            }
            "tls_insecure_skip_verify" => {
                self.tls_insecure_skip_verify = parse_bool(key, v)?;
            }
            "tls_client_cert" => {
                self.tls_client_cert = match v {
                    "" => None,
                    path => {
                        crate::wire::tls::check_cert_file(key, path.as_ref())?;
                        Some(PathBuf::from(path))
                    }
                };
            }
            "tls_client_key" => {
                self.tls_client_key = match v {
                    "" => None,
                    path => {
                        crate::wire::tls::check_key_file(key, path.as_ref())?;
                        Some(PathBuf::from(path))
                    }
                };
            }
            _ => return Err(no_code_for(key)),
        }
        Ok(())
    }

    fn set_header(&mut self, key: &str, name: &str, value: &str) -> Result<(), Error> {
        let token_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token_ok {
            return Err(bad(key, "", "the header name is not a valid HTTP token"));
        }
        let lower = name.to_ascii_lowercase();
        if lower == "origin" {
            return Err(bad(key, "", "set the Origin header with the 'origin' key"));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(bad(
                key,
                "",
                "this header is written by the library and cannot be set",
            ));
        }
        check_header_value(key, value)?;
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.secret_headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if SECRET_HEADERS.contains(&lower.as_str()) {
            if !value.is_empty() {
                self.secret_headers
                    .push((name.to_string(), Secret::new(value)));
            }
        } else {
            self.headers.push((name.to_string(), value.to_string()));
        }
        Ok(())
    }

    /// The settings of a channel opened at `target`: its own copy of the credentials (so
    /// replacing them on the channel changes neither this configuration nor other channels),
    /// after checking that they can open it: complete credentials, a client certificate with
    /// its key, no credentials in clear text without `allow_insecure_auth`.
    pub(crate) fn options_for(&self, target: &Target) -> Result<ChannelOptions, Error> {
        let invalid = |msg: String| Err(Error::new(ErrorKind::InvalidArgument, msg));
        match self.auth {
            AuthMethod::None => {
                if self.credentials.password().is_some()
                    || self.credentials.bearer_token().is_some()
                {
                    return invalid(
                        "a password or bearer_token is set but auth=none: set auth=basic or auth=bearer".to_string(),
                    );
                }
            }
            AuthMethod::Basic => {
                if self.username.is_empty() || self.credentials.password().is_none() {
                    return invalid("auth=basic needs both 'username' and 'password'".to_string());
                }
            }
            AuthMethod::Bearer => {
                if self.credentials.bearer_token().is_none() {
                    return invalid("auth=bearer needs a 'bearer_token'".to_string());
                }
            }
            AuthMethod::Negotiate => {
                let explicit = self.credentials.password().is_some() || !self.username.is_empty();
                if self.credentials.bearer_token().is_some() || (explicit && !cfg!(windows)) {
                    return invalid(
                        "auth=negotiate takes no username, password or bearer_token here: it \
                         uses the Kerberos credential cache (kinit), or a client keytab \
                         (negotiate_keytab, negotiate_principal)"
                            .to_string(),
                    );
                }
                if explicit && (self.username.is_empty() || self.credentials.password().is_none()) {
                    return invalid(
                        "auth=negotiate with an explicit account needs both 'username' \
                         (DOMAIN\\user or user@REALM) and 'password'"
                            .to_string(),
                    );
                }
                if cfg!(windows)
                    && (self.negotiate_keytab.is_some() || self.negotiate_principal.is_some())
                {
                    return invalid(
                        "negotiate_keytab and negotiate_principal are for Linux: on Windows \
                         the logged-on account is used, or username and password"
                            .to_string(),
                    );
                }
                if let Some(service) = &self.negotiate_service {
                    if let Err(why) = ServiceName::parse(service) {
                        return invalid(format!("bad negotiate_service '{service}': {why}"));
                    }
                }
            }
        }
        if self.auth != AuthMethod::Negotiate {
            let set: Vec<&str> = [
                ("negotiate_service", self.negotiate_service.is_some()),
                ("negotiate_require_mutual", self.negotiate_require_mutual),
                ("negotiate_delegate", self.negotiate_delegate),
                ("negotiate_keytab", self.negotiate_keytab.is_some()),
                ("negotiate_principal", self.negotiate_principal.is_some()),
            ]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
            if !set.is_empty() {
                return invalid(format!(
                    "{} set but auth={}: set auth=negotiate",
                    set.join(", "),
                    self.auth.name()
                ));
            }
        }
        if self.auth != AuthMethod::None
            && self
                .secret_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        {
            return invalid(format!(
                "auth={} and header.Authorization are both set: use one of them",
                self.auth.name()
            ));
        }
        if self.tls_client_cert.is_some() != self.tls_client_key.is_some() {
            return invalid(
                "tls_client_cert and tls_client_key go together: set both or neither".to_string(),
            );
        }
        let options = self.options();
        options.connect.check_target(target)?;
        Ok(options)
    }

    /// The settings as the engine and the wire take them (credentials copied).
    fn options(&self) -> ChannelOptions {
        ChannelOptions {
            reconnect: self.reconnect,
            dead_channel_timeout: self.dead_channel_timeout,
            open_timeout: self.open_timeout,
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            close_timeout: self.close_timeout,
            max_queue: self.max_queue,
            max_queue_bytes: self.max_queue_bytes,
            reconnect_initial_delay: self.reconnect_initial_delay,
            reconnect_max_delay: self.reconnect_max_delay,
            reconnect_spread: self.reconnect_spread,
            reconnect_on_auth_failure: self.reconnect_on_auth_failure,
            parse_on_receive: self.parse_on_receive,
            gap_fill: self.gap_fill.then_some(crate::engine::GapFillOptions {
                max_span: self.gap_fill_max_span,
                max_values: self.gap_fill_max_values,
            }),
            connect: ConnectOptions {
                origin: self.origin.clone(),
                headers: self.headers.clone(),
                secret_headers: self.secret_headers.clone(),
                auth: self.auth,
                username: self.username.clone(),
                negotiate: NegotiateOptions {
                    service: self
                        .negotiate_service
                        .as_deref()
                        .and_then(|s| ServiceName::parse(s).ok()),
                    require_mutual: self.negotiate_require_mutual,
                    delegate: self.negotiate_delegate,
                    keytab: self.negotiate_keytab.clone(),
                    principal: self.negotiate_principal.clone(),
                },
                credentials: Arc::new(self.credentials.deep_copy()),
                allow_insecure_auth: self.allow_insecure_auth,
                tls: TlsOptions {
                    ca_file: self.tls_ca_file.clone(),
                    ca_file_mode: self.tls_ca_file_mode,
                    insecure_skip_verify: self.tls_insecure_skip_verify,
                    client_cert: self.tls_client_cert.clone(),
                    client_key: self.tls_client_key.clone(),
                    ..TlsOptions::default()
                },
                max_message_size: self.max_message_size,
            },
        }
    }
}

const REDACTED: &str = "***";

fn redacted(is_set: bool) -> String {
    if is_set { REDACTED } else { "" }.to_string()
}

/// Seconds as `set` takes them; `None` (off) is 0.
fn fmt_secs(d: Option<Duration>) -> String {
    let d = d.unwrap_or_default();
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        d.as_secs_f64().to_string()
    }
}

fn fmt_path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn unknown_key(key: &str) -> Error {
    let known: Vec<&str> = KEY_SPECS.iter().map(|s| s.name).collect();
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "unknown configuration key '{key}' (known keys: {})",
            known.join(", ")
        ),
    )
}

/// A key in the table without its arm in `apply` or `value_of` (the table test catches it).
fn no_code_for(key: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("configuration key '{key}' is in the table but not handled"),
    )
}

/// A keytab must be a readable file when it is set (the error comes at once, not at open).
fn check_keytab(key: &str, path: &str) -> Result<(), Error> {
    match std::fs::File::open(path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => Ok(()),
        Ok(_) => Err(bad(key, path, "not a file")),
        Err(e) => Err(bad(key, path, &format!("cannot read it: {e}"))),
    }
}

/// Header values must not smuggle a second header or request line.
fn check_header_value(key: &str, value: &str) -> Result<(), Error> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(bad(key, "", "the value contains CR, LF or NUL"));
    }
    Ok(())
}

fn bad(key: &str, value: &str, why: &str) -> Error {
    let shown = if value.is_empty() {
        String::new()
    } else {
        format!(" '{value}'")
    };
    Error::new(
        ErrorKind::InvalidArgument,
        format!("bad value{shown} for '{key}': {why}"),
    )
}

fn parse_bool(key: &str, v: &str) -> Result<bool, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(key, v, "expected true or false")),
    }
}

fn parse_u64(key: &str, v: &str) -> Result<u64, Error> {
    v.parse::<u64>()
        .map_err(|_| bad(key, v, "expected a non-negative integer"))
}

fn to_usize(key: &str, n: u64) -> Result<usize, Error> {
    usize::try_from(n).map_err(|_| bad(key, &n.to_string(), "too large for this platform"))
}

/// Seconds, possibly fractional, 0 allowed. Upper bound keeps `Duration` arithmetic safe.
fn parse_secs(key: &str, v: &str) -> Result<Duration, Error> {
    let secs: f64 = v
        .parse()
        .map_err(|_| bad(key, v, "expected a number of seconds"))?;
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
    fn auth_keys_secrets_and_copies() {
        let mut c = ChannelConfig::default();
        c.set("auth", "Basic").unwrap();
        c.set("username", "piuser").unwrap();
        c.set("password", " pw with spaces ").unwrap();
        c.set("header.Authorization", "Bearer hdr-secret").unwrap();
        c.set("allow_insecure_auth", "yes").unwrap();
        c.set("origin", "https://plant.example").unwrap();
        assert_eq!(c.auth, AuthMethod::Basic);
        assert_eq!(
            c.credentials.password().unwrap().expose(),
            " pw with spaces ",
            "passwords are not trimmed"
        );
        assert!(
            c.headers.is_empty(),
            "credential headers are kept as secrets"
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("pw with spaces") && !shown.contains("hdr-secret"),
            "{shown}"
        );
        assert!(
            shown.contains("piuser") && shown.contains("Authorization: ***"),
            "{shown}"
        );

        // A clone has its own credentials, and so has a channel's copy of the settings.
        let mut copy = c.clone();
        copy.set("password", "other").unwrap();
        let channel_copy = c.options();
        channel_copy.connect.set_password("third").unwrap();
        assert_eq!(
            c.credentials.password().unwrap().expose(),
            " pw with spaces "
        );
        assert_eq!(copy.credentials.password().unwrap().expose(), "other");

        // Credentials in clear text need the opt-in; the refusal names no secret.
        c.allow_insecure_auth = false;
        let plain = Target::parse("ws://h/x").unwrap();
        let e = c.options().connect.check_target(&plain).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(!e.message().contains("pw with spaces"));
        c.options()
            .connect
            .check_target(&Target::parse("wss://h/x").unwrap())
            .unwrap();
        let mut cookie_only = ChannelConfig::default();
        cookie_only.set("header.Cookie", "s=1").unwrap();
        let e = cookie_only
            .options()
            .connect
            .check_target(&plain)
            .unwrap_err();
        assert!(e.message().contains("header.Cookie"), "{e}");
    }

    #[test]
    fn every_key_of_the_table_has_its_default_and_reads_back_as_set() {
        let c = ChannelConfig::default();
        let mut names: Vec<&str> = KEY_SPECS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KEY_SPECS.len(), "key names are unique");
        for spec in KEY_SPECS {
            assert!(
                !spec.doc.is_empty() && !spec.kind.is_empty(),
                "{}",
                spec.name
            );
            if spec.name == HEADER_KEYS {
                continue;
            }
            // `get` of the defaults is the table's default, and setting it back changes nothing.
            assert_eq!(c.get(spec.name).unwrap(), spec.default, "{}", spec.name);
            let mut copy = c.clone();
            copy.set(spec.name, spec.default).unwrap();
            assert_eq!(format!("{copy:?}"), format!("{c:?}"), "{}", spec.name);
            assert!(
                format!("{c:?}").contains(spec.name),
                "Debug shows {}",
                spec.name
            );
        }
        assert_eq!(c.max_queue_bytes, 32 << 20);
        assert_eq!(c.close_timeout, Duration::from_secs(10));
        assert_eq!(c.reconnect_initial_delay, Duration::from_millis(500));
    }

    #[test]
    fn get_gives_values_as_set_takes_them_and_never_a_secret() {
        let mut c = ChannelConfig::default();
        for (k, v) in [
            ("reconnect", "true"),
            ("open_timeout", "0.25"),
            ("dead_channel_timeout", "0"),
            ("max_message_size", "0"),
            ("parse_on_receive", "false"),
            ("auth", "bearer"),
            ("tls_ca_file_mode", "add"),
            ("origin", "https://plant.example"),
        ] {
            c.set(k, v).unwrap();
            assert_eq!(c.get(k).unwrap(), v, "{k}");
        }
        assert_eq!(c.get("password").unwrap(), "");
        c.set("password", "hunter2").unwrap();
        c.set("bearer_token", "tok-secret").unwrap();
        c.set("header.Cookie", "sid=cookie-secret").unwrap();
        c.set("header.X-Site", "north").unwrap();
        assert_eq!(c.get("password").unwrap(), "***");
        assert_eq!(c.get("bearer_token").unwrap(), "***");
        assert_eq!(c.get("header.cookie").unwrap(), "***");
        assert_eq!(c.get("header.X-Site").unwrap(), "north");
        assert_eq!(c.get("header.X-Other").unwrap(), "");
        let shown = format!("{c:?}");
        for secret in ["hunter2", "tok-secret", "cookie-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let e = c.get("no_such_key").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("no_such_key"));
    }

    // Linux: keytab and principal are GSSAPI's; a password is refused (Windows takes one, for
    // SSPI: the next test).
    #[test]
    #[cfg(unix)]
    fn negotiate_keys_are_checked_when_set_and_at_open() {
        let target = Target::parse("wss://pi.example.com/piwebapi/x").unwrap();
        let mut c = ChannelConfig::default();
        c.set("auth", "Kerberos").unwrap();
        assert_eq!(c.auth, AuthMethod::Negotiate);
        assert_eq!(c.get("auth").unwrap(), "negotiate");
        c.set("negotiate_service", "HTTP/pi-alias.example.com")
            .unwrap();
        c.set("negotiate_delegate", "true").unwrap();
        c.set("negotiate_require_mutual", "yes").unwrap();
        c.set("negotiate_principal", "svc@PLANT.EXAMPLE").unwrap();
        let o = c.options_for(&target).unwrap().connect.negotiate;
        assert_eq!(
            o.service,
            Some(ServiceName::HostBased("HTTP@pi-alias.example.com".into()))
        );
        assert!(o.delegate && o.require_mutual && o.keytab.is_none());
        assert_eq!(o.principal.as_deref(), Some("svc@PLANT.EXAMPLE"));

        for (k, v) in [
            ("negotiate_service", "HTTP"),
            ("negotiate_service", "HTTP/a b"),
            ("negotiate_keytab", "/no/such/keytab"),
            ("negotiate_principal", "a b@R"),
            ("negotiate_delegate", "perhaps"),
        ] {
            let e = c.set(k, v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(k), "{k}: {e}");
        }

        // Negotiate takes no password; negotiate keys need auth=negotiate.
        let mut p = c.clone();
        p.set("password", "pw").unwrap();
        let e = p.options_for(&target).err().unwrap();
        assert!(e.message().contains("auth=negotiate takes no"), "{e}");
        c.set("auth", "basic").unwrap();
        c.set("username", "u").unwrap();
        c.set("password", "pw").unwrap();
        let e = c.options_for(&target).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.message().contains("negotiate_service") && e.message().contains("auth=basic"),
            "{e}"
        );
        // Kerberos tokens over ws:// follow the rule of every credential.
        let mut n = ChannelConfig::default();
        n.set("auth", "negotiate").unwrap();
        let e = n
            .options_for(&Target::parse("ws://pi.example.com/x").unwrap())
            .err()
            .unwrap();
        assert!(e.message().contains("allow_insecure_auth"), "{e}");
    }

    #[test]
    #[cfg(windows)]
    fn negotiate_on_windows_takes_the_account_or_a_username_and_password_not_a_keytab() {
        let target = Target::parse("wss://pi.example.com/piwebapi/x").unwrap();
        let mut c = ChannelConfig::default();
        c.set("auth", "kerberos").unwrap();
        assert!(c.options_for(&target).is_ok(), "the logged-on account");
        let mut k = c.clone();
        k.set("negotiate_principal", "svc@PLANT.EXAMPLE").unwrap();
        let e = k.options_for(&target).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("for Linux"), "{e}");
        c.set("username", "PLANT\\svc-historian").unwrap();
        c.set("password", "pw").unwrap();
        assert!(c.options_for(&target).is_ok(), "explicit SSPI credentials");
    }

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
        assert_eq!(c.parse_on_receive, ParseOnReceive::Auto);
        for (v, want) in [
            ("true", ParseOnReceive::Always),
            ("off", ParseOnReceive::Never),
            ("AUTO", ParseOnReceive::Auto),
        ] {
            c.set("parse_on_receive", v).unwrap();
            assert_eq!(c.parse_on_receive, want, "{v}");
        }
        assert_eq!(c.callback_thread, CallbackThread::Own);
        for (v, want) in [
            ("shared", CallbackThread::Shared),
            ("OWN", CallbackThread::Own),
            (" Shared ", CallbackThread::Shared),
        ] {
            c.set("callback_thread", v).unwrap();
            assert_eq!(c.callback_thread, want, "{v}");
            assert_eq!(c.get("callback_thread").unwrap(), want.name());
        }
        let e = c.set("callback_thread", "pool").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.message().contains("'callback_thread'") && e.message().contains("own or shared"),
            "{e}"
        );
        assert_eq!(c.callback_thread, CallbackThread::Shared, "unchanged");
        c.set("header.X-Test", "a b").unwrap();
        c.set("header.x-test", "c").unwrap();
        assert_eq!(c.headers, vec![("x-test".to_string(), "c".to_string())]);

        for (k, v) in [
            ("reconnect", "maybe"),
            ("parse_on_receive", "sometimes"),
            ("callback_thread", "pool"),
            ("callback_thread", ""),
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
        let e = c.set("password", "pw\r\nsecret-part").unwrap_err();
        assert!(
            e.message().contains("password") && !e.message().contains("secret-part"),
            "{e}"
        );
        let e = c.set("no_such_key", "1").unwrap_err();
        assert!(e
            .message()
            .contains("unknown configuration key 'no_such_key'"));
        assert_eq!(
            c.max_queue, 7,
            "a rejected value leaves the config unchanged"
        );
    }
}
