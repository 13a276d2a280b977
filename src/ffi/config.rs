//! `pwa_config`: string keys and values, checked when set.

use std::ffi::c_char;

use super::boundary::{fail, guard, guard_value};
use super::status::*;
use super::strings::str_arg;
use crate::ChannelConfig;

/// Opaque channel configuration. Create with `pwa_config_new`, free with `pwa_config_free`.
pub struct pwa_config {
    pub(crate) inner: ChannelConfig,
}

/// A new configuration holding the documented defaults. Free it with `pwa_config_free`; it may
/// be freed right after `pwa_channel_open`, which copies what it needs. A configuration may be
/// used by one thread at a time. Returns NULL only if the library panicked.
#[no_mangle]
pub extern "C" fn pwa_config_new() -> *mut pwa_config {
    guard_value(std::ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(pwa_config {
            inner: ChannelConfig::default(),
        })))
    })
}

/// Set `key` to `value` (both UTF-8, NUL-terminated). Durations are in seconds and may have a
/// fraction ("0.25"); booleans are true/false (also 1/0, yes/no, on/off).
///
/// Keys and defaults:
/// - `reconnect` (false): reconnect in the background after a dropped connection.
/// - `dead_channel_timeout` (3600): with reconnect on, close the channel with
///   `PWA_WATCHDOG_TIMEOUT` when no connection is re-established within this time; 0 = never.
/// - `open_timeout` (10): how long `pwa_channel_open` waits for the first connection.
/// - `ping_interval` (20): seconds between WebSocket pings; 0 = no pings.
/// - `ping_timeout` (20): a connection whose pong does not come within this is dead.
/// - `close_timeout` (10): how long a graceful close waits for the server's close frame.
/// - `max_message_size` (67108864 = 64 MiB): larger messages are a protocol error; 0 = no limit.
/// - `max_queue` (1024): messages buffered per channel; when full the channel stops reading the
///   socket (nothing is dropped; the server's send buffer fills instead).
/// - `max_queue_bytes` (33554432 = 32 MiB): bytes of message text buffered per channel, beside
///   `max_queue`: the channel stops reading when either is reached. A single message larger
///   than this is still delivered. A channel's memory stays below about 3 x
///   (`max_queue_bytes` + one message) + `max_message_size` (text, typed form, the message
///   being read; see the README).
/// - `reconnect_initial_delay` (0.5): first reconnect delay; doubles after each failed attempt.
/// - `reconnect_max_delay` (30): cap of the delay; jitter (x0.5 .. x1) is applied after the cap.
/// - `reconnect_on_auth_failure` (false): retry a 401/403 met while reconnecting, at the
///   backoff cap every time, instead of ending the channel (repeated failed logins lock
///   Windows accounts: enable only where that cannot happen).
/// - `parse_on_receive` (auto): which thread parses a message for the typed accessors
///   (`pwa_message_value` ...). `auto`: the library's network thread when the consumer is
///   behind (messages wait in its queue), else the consumer on its first typed access — each
///   takes what the other has no time for. `true`: always the network thread. `false`: only
///   on the first typed access (for callers that only read the JSON text: never).
/// - `header.<Name>` (none): an extra request header on the upgrade, e.g. `header.X-Site`.
///   `header.Authorization`, `header.Proxy-Authorization` and `header.Cookie` are kept as
///   secrets (never shown, wiped when freed) and count as credentials (see
///   `allow_insecure_auth`).
/// - `origin` (none): the `Origin` header of the upgrade.
///
/// Authentication of the upgrade (credentials go over `wss://` only, see `allow_insecure_auth`):
/// - `auth` (none): `none`, `basic` (needs `username` and `password`) or `bearer` (needs
///   `bearer_token`). Credentials set without an auth method are refused at open.
/// - `username` (none), `password` (none): HTTP Basic credentials.
/// - `bearer_token` (none): `Authorization: Bearer <token>` (an OpenID Connect access token).
///   Replace it on a live channel with `pwa_channel_set_bearer_token` (and the password with
///   `pwa_channel_set_password`): the next reconnect or update uses the new one.
/// - `allow_insecure_auth` (false): allow credentials over unencrypted `ws://`. Without it,
///   `pwa_channel_open` and `pwa_channel_update` refuse such a URL with
///   `PWA_ERR_INVALID_ARGUMENT` and send nothing.
///
/// A refused 401 ends the channel with `PWA_ERR_AUTH` (also while reconnecting: credentials are
/// never retried in a loop). Passwords and tokens never appear in a message, log line or
/// `pwa_last_error`; they are wiped from memory when the configuration (or channel) is freed.
///
/// TLS (`wss://` and `https://` URLs; rustls, TLS 1.2 and 1.3, SNI from the URL's host):
/// - `tls_ca_file` (none): a PEM bundle of CA certificates to trust. Without it, the operating
///   system's trust store is used (where `SSL_CERT_FILE` / `SSL_CERT_DIR` are set, only they
///   are read).
/// - `tls_ca_file_mode` (replace): `replace` trusts only `tls_ca_file`; `add` trusts it in
///   addition to the system's store.
/// - `tls_insecure_skip_verify` (false): accept any server certificate. For tests only: logs a
///   warning once per channel.
/// - `tls_client_cert`, `tls_client_key` (none): PEM files of a client certificate (chain) and
///   its private key (PKCS#8, PKCS#1 or SEC1); set both or neither.
///
/// Files are checked when set (readable, PEM) and read again when a channel opens. A TLS
/// failure is `PWA_ERR_TLS` with the reason (unknown issuer, expired, name mismatch, a
/// refused client certificate) and the URL in the message.
///
/// Returns `PWA_OK`, or `PWA_ERR_INVALID_ARGUMENT` for a NULL argument, invalid UTF-8, an
/// unknown key or a bad value; `pwa_last_error` then names the key. A rejected call leaves the
/// configuration unchanged.
///
/// # Safety
/// `cfg` must be NULL or a live configuration; `key` and `value` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_set(
    cfg: *mut pwa_config,
    key: *const c_char,
    value: *const c_char,
) -> pwa_status {
    guard(|| {
        let cfg = cfg
            .as_mut()
            .ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "cfg is NULL"))?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, &format!("the value of '{key}'"))?;
        cfg.inner.set(key, value)?;
        Ok(PWA_OK)
    })
}

/// Free a configuration. NULL is ignored. Channels opened with it are not affected (each
/// holds its own copy). The password, token and secret headers it held are wiped from memory.
///
/// # Safety
/// `cfg` must be NULL or a configuration from `pwa_config_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_free(cfg: *mut pwa_config) {
    guard_value((), || {
        if !cfg.is_null() {
            drop(Box::from_raw(cfg));
        }
        Ok(())
    })
}
