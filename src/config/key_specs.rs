// Every configuration key, written once. `src/config.rs` parses, formats, defaults and lists
// keys from this table; build.rs writes the header's key documentation from it, and a test
// keeps the README's table equal to it. This file is data only: build.rs includes it too.
//
// To add a key: an entry here, a field in `ChannelConfig`, and one arm each in
// `ChannelConfig::apply` and `ChannelConfig::value_of` (tests fail when one is missing).

/// One configuration key: what `pwa_config_set` takes and documents.
pub struct KeySpec {
    /// The key as given to `pwa_config_set` (`header.<Name>` stands for a family of keys).
    pub name: &'static str,
    /// The kind of value, as the documentation names it.
    pub kind: &'static str,
    /// The default, in the form `pwa_config_get` returns it ("" = none).
    pub default: &'static str,
    /// A credential: `pwa_config_get` and `Debug` show "***", never the value.
    pub secret: bool,
    /// What it does (Markdown-ish: `code` in backticks).
    pub doc: &'static str,
}

pub const KEY_SPECS: &[KeySpec] = &[
    KeySpec {
        name: "reconnect",
        kind: "bool",
        default: "false",
        secret: false,
        doc: "Reconnect in the background after a dropped connection.",
    },
    KeySpec {
        name: "dead_channel_timeout",
        kind: "seconds, 0 = never",
        default: "3600",
        secret: false,
        doc: "With reconnect on, end the channel with `PWA_WATCHDOG_TIMEOUT` when no connection is re-established within this time.",
    },
    KeySpec {
        name: "open_timeout",
        kind: "seconds, > 0",
        default: "10",
        secret: false,
        doc: "How long `pwa_channel_open` waits for the first connection (and an update for the new endpoint).",
    },
    KeySpec {
        name: "ping_interval",
        kind: "seconds, 0 = no pings",
        default: "20",
        secret: false,
        doc: "Seconds between WebSocket pings, which detect a half-open connection.",
    },
    KeySpec {
        name: "ping_timeout",
        kind: "seconds, > 0",
        default: "20",
        secret: false,
        doc: "A connection whose pong does not come within this is dead.",
    },
    KeySpec {
        name: "close_timeout",
        kind: "seconds, > 0",
        default: "10",
        secret: false,
        doc: "How long a graceful close (or an update's switch) waits for the server's close frame. What the server sent but was still unread then (the queue was full) is discarded, counted in `messages_dropped` and named in the channel's last error. `pwa_channel_free` waits at most 250 ms instead.",
    },
    KeySpec {
        name: "max_message_size",
        kind: "bytes, 0 = no limit",
        default: "67108864",
        secret: false,
        doc: "Largest accepted message (64 MiB); a larger one is a protocol error.",
    },
    KeySpec {
        name: "max_queue",
        kind: "count, >= 1",
        default: "1024",
        secret: false,
        doc: "Messages buffered per channel; when full the channel stops reading the socket (nothing is dropped; the server's send buffer fills instead).",
    },
    KeySpec {
        name: "max_queue_bytes",
        kind: "bytes, >= 1",
        default: "33554432",
        secret: false,
        doc: "Bytes of message text buffered per channel (32 MiB), beside `max_queue`: the channel stops reading when either is reached. A single message larger than this is still delivered. A channel's memory stays below about 3 x (`max_queue_bytes` + one message) + `max_message_size` (text, typed form, the message being read).",
    },
    KeySpec {
        name: "reconnect_initial_delay",
        kind: "seconds, > 0",
        default: "0.5",
        secret: false,
        doc: "First reconnect delay (the first retry is immediate, or after `reconnect_spread`); doubles after each failed attempt.",
    },
    KeySpec {
        name: "reconnect_max_delay",
        kind: "seconds, > 0",
        default: "30",
        secret: false,
        doc: "Cap of the reconnect delay; jitter (x0.5 .. x1) is applied after the cap.",
    },
    KeySpec {
        name: "reconnect_spread",
        kind: "seconds, 0 = none",
        default: "0",
        secret: false,
        doc: "The first reconnect attempt after a drop waits a random delay of at most this, so that many channels dropped by one server restart do not all come back in the same millisecond (later attempts follow the backoff with its jitter). Worth setting for subscription sets (e.g. 2).",
    },
    KeySpec {
        name: "max_url_length",
        kind: "bytes, >= 1",
        default: "4096",
        secret: false,
        doc: "Subscription sets: the longest ad hoc channel URL (`streamsets/channel?webId=...`) a shard may have. A server that answers 414 anyway gets the shard split in two.",
    },
    KeySpec {
        name: "max_streams_per_channel",
        kind: "count, >= 1",
        default: "1000",
        secret: false,
        doc: "Subscription sets: the most WebIds on one shard (one channel).",
    },
    KeySpec {
        name: "max_channels",
        kind: "count, >= 1",
        default: "500",
        secret: false,
        doc: "Subscription sets: the most shards (sockets) one set opens (servers degrade past a few thousand channels per user). An add that would need more is refused whole with `PWA_ERR_LIMIT`; nothing of it is subscribed.",
    },
    KeySpec {
        name: "reconnect_on_auth_failure",
        kind: "bool",
        default: "false",
        secret: false,
        doc: "Retry a 401/403 met while reconnecting, at the backoff cap every time, instead of ending the channel (repeated failed logins lock Windows accounts: enable only where that cannot happen).",
    },
    KeySpec {
        name: "parse_on_receive",
        kind: "auto, true or false",
        default: "auto",
        secret: false,
        doc: "Which thread parses a message for the typed accessors. `auto`: the network thread when the consumer is behind, else the consumer on its first typed access. `true`: always the network thread. `false`: only on the first typed access (never, for callers that only read the JSON text).",
    },
    KeySpec {
        name: "header.<Name>",
        kind: "text",
        default: "",
        secret: false,
        doc: "An extra request header on the upgrade, e.g. `header.X-Site`. `header.Authorization`, `header.Proxy-Authorization` and `header.Cookie` are kept as secrets (never shown, wiped when freed) and count as credentials (see `allow_insecure_auth`).",
    },
    KeySpec {
        name: "origin",
        kind: "text",
        default: "",
        secret: false,
        doc: "The `Origin` header of the upgrade.",
    },
    KeySpec {
        name: "auth",
        kind: "none, basic, bearer or negotiate",
        default: "none",
        secret: false,
        doc: "Authentication of the upgrade: `basic` needs `username` and `password`, `bearer` needs `bearer_token`, `negotiate` (alias `kerberos`) is Kerberos single sign-on with the `negotiate_*` keys. Credentials set without an auth method are refused at open. A refused 401 ends the channel with `PWA_ERR_AUTH` (also while reconnecting: never retried in a loop).",
    },
    KeySpec {
        name: "username",
        kind: "text",
        default: "",
        secret: false,
        doc: "HTTP Basic user name (no ':'). With `auth=negotiate` on Windows: an account (`DOMAIN\\user` or `user@REALM`) to authenticate as with `password`, instead of the logged-on one.",
    },
    KeySpec {
        name: "password",
        kind: "secret",
        default: "",
        secret: true,
        doc: "HTTP Basic password (or, with `auth=negotiate` on Windows, the password of `username`); replace a Basic password on a live channel with `pwa_channel_set_password`.",
    },
    KeySpec {
        name: "bearer_token",
        kind: "secret",
        default: "",
        secret: true,
        doc: "`Authorization: Bearer <token>` (an OpenID Connect access token); replace it on a live channel with `pwa_channel_set_bearer_token`: the next reconnect or update sends the new one.",
    },
    KeySpec {
        name: "negotiate_service",
        kind: "text",
        default: "",
        secret: false,
        doc: "`auth=negotiate`: the server's service principal, `HTTP/pi.example.com` (or `HTTP@pi.example.com`, or `HTTP/pi.example.com@REALM`), for servers reached through an alias or load balancer. Default: `HTTP/<host of the URL>`.",
    },
    KeySpec {
        name: "negotiate_require_mutual",
        kind: "bool",
        default: "false",
        secret: false,
        doc: "`auth=negotiate`: refuse (`PWA_ERR_AUTH`) a 101 that does not prove the server's identity with a final Negotiate token. Off by default, as curl and Windows: reverse proxies (Apache's tunnel) do not pass that token on. A final token that is present is always verified.",
    },
    KeySpec {
        name: "negotiate_delegate",
        kind: "bool",
        default: "false",
        secret: false,
        doc: "`auth=negotiate`: delegate (forward) the user's Kerberos credentials to the server.",
    },
    KeySpec {
        name: "negotiate_keytab",
        kind: "path",
        default: "",
        secret: false,
        doc: "`auth=negotiate` on Linux: a client keytab to authenticate from (services: no `kinit`, tickets fetched and renewed from it in memory). Default: the user's credential cache (`KRB5CCNAME`, `kinit`), read again for every connection.",
    },
    KeySpec {
        name: "negotiate_principal",
        kind: "text",
        default: "",
        secret: false,
        doc: "`auth=negotiate` on Linux: the client principal (`svc-historian@PLANT.EXAMPLE`) to take from `negotiate_keytab` or from the credential cache collection. Default: the keytab's first entry, or the cache's default principal.",
    },
    KeySpec {
        name: "allow_insecure_auth",
        kind: "bool",
        default: "false",
        secret: false,
        doc: "Allow credentials over unencrypted `ws://`. Without it, `pwa_channel_open` and `pwa_channel_update` refuse such a URL with `PWA_ERR_INVALID_ARGUMENT` and send nothing.",
    },
    KeySpec {
        name: "tls_ca_file",
        kind: "path",
        default: "",
        secret: false,
        doc: "A PEM bundle of CA certificates to trust. Without it, the operating system's trust store is used (where `SSL_CERT_FILE` / `SSL_CERT_DIR` are set, only they are read).",
    },
    KeySpec {
        name: "tls_ca_file_mode",
        kind: "replace or add",
        default: "replace",
        secret: false,
        doc: "`replace` trusts only `tls_ca_file`; `add` trusts it in addition to the system's store.",
    },
    KeySpec {
        name: "tls_insecure_skip_verify",
        kind: "bool",
        default: "false",
        secret: false,
        doc: "Accept any server certificate. For tests only: logs a warning once per channel.",
    },
    KeySpec {
        name: "tls_client_cert",
        kind: "path",
        default: "",
        secret: false,
        doc: "PEM file of a client certificate (chain); set together with `tls_client_key`.",
    },
    KeySpec {
        name: "tls_client_key",
        kind: "path",
        default: "",
        secret: false,
        doc: "PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1).",
    },
];
