// The status codes of the C ABI, written once: `capi/src/status.rs` makes the Rust constants and
// the name/description table from it, and build.rs writes the header's `#define`s and their
// documentation from it. Values are part of the ABI: never renumber, only add.
//
// Each entry: doc lines, NAME = code, "short description" (what pwa_status_str returns).
statuses! {
    /// Success; for a poll, a message was returned.
    PWA_OK = 0, "success";
    /// Poll: nothing arrived within the timeout. Not an error.
    PWA_TIMEOUT = 1, "nothing arrived within the timeout";
    /// The channel was closed normally (our close, or with reconnect off a server close 1000)
    /// and its buffer is drained.
    PWA_CLOSED = 2, "channel closed normally, buffer drained";
    /// The channel was closed by a network or protocol error; its buffer is drained.
    PWA_CLOSED_ERROR = 3, "channel closed by a network or protocol error, buffer drained";
    /// Reconnecting did not succeed within `dead_channel_timeout`; the buffer is drained.
    PWA_WATCHDOG_TIMEOUT = 4, "no connection re-established within dead_channel_timeout, buffer drained";
    /// An update could not reach the new endpoint and rollback was off; the channel closed.
    PWA_UPDATE_FAILED = 5, "update failed without rollback, channel closed";
    /// An update failed; the channel goes on at its previous endpoint.
    PWA_ROLLED_BACK = 6, "update failed, channel goes on at its previous endpoint";
    /// A bad argument: NULL pointer, invalid UTF-8, malformed URL, unknown configuration key or
    /// bad value.
    PWA_ERR_INVALID_ARGUMENT = -1, "invalid argument";
    /// The channel handle is 0, was freed, or was never issued.
    PWA_ERR_INVALID_HANDLE = -2, "invalid, closed or freed channel handle";
    /// The caller's buffer is too small; the size needed was reported.
    PWA_ERR_BUFFER_TOO_SMALL = -3, "buffer too small";
    /// Could not connect: connection refused, host unreachable, name not resolved.
    PWA_ERR_CONNECT = -10, "could not connect";
    /// The TLS handshake failed (or TLS is not available).
    PWA_ERR_TLS = -11, "TLS failure";
    /// The server refused the credentials (HTTP 401).
    PWA_ERR_AUTH = -12, "authentication refused";
    /// The server answered the upgrade with an HTTP status other than 101 (the code is in the
    /// error message).
    PWA_ERR_HTTP_STATUS = -13, "unexpected HTTP status";
    /// The first connection was not up within `open_timeout`.
    PWA_ERR_OPEN_TIMEOUT = -14, "no connection within open_timeout";
    /// The server broke the HTTP or WebSocket protocol during the upgrade.
    PWA_ERR_PROTOCOL = -15, "HTTP or WebSocket protocol violation";
    /// A blocking call was made from inside a callback of this library.
    PWA_ERR_RECURSIVE_CALL = -20, "blocking call from inside a callback";
    /// Another thread is already polling or updating this channel.
    PWA_ERR_BUSY = -21, "another thread is using this channel";
    /// The library was shut down (`pwa_shutdown`), or this process is a fork of the one that
    /// started it.
    PWA_ERR_SHUTDOWN = -30, "library shut down or used in a forked child";
    /// An internal panic was caught at the ABI boundary (a bug: please report the message).
    PWA_ERR_PANIC = -31, "internal panic caught";
    /// An internal error that should not happen (a bug: please report the message).
    PWA_ERR_INTERNAL = -32, "internal error";
    /// A subscription set would need more channels than its `max_channels`: the call was
    /// refused whole, nothing of it took effect.
    PWA_ERR_LIMIT = -40, "subscription set limit (max_channels) reached";
}
