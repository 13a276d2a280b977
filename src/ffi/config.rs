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
        Ok(Box::into_raw(Box::new(pwa_config { inner: ChannelConfig::default() })))
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
/// - `reconnect_initial_delay` (0.5): first reconnect delay; doubles after each failed attempt.
/// - `reconnect_max_delay` (30): cap of the delay; jitter (x0.5 .. x1) is applied after the cap.
/// - `header.<Name>` (none): an extra request header on the upgrade, e.g. `header.X-Site`.
///
/// Returns `PWA_OK`, or `PWA_ERR_INVALID_ARGUMENT` for a NULL argument, invalid UTF-8, an
/// unknown key or a bad value; `pwa_last_error` then names the key. A rejected call leaves the
/// configuration unchanged.
///
/// # Safety
/// `cfg` must be NULL or a live configuration; `key` and `value` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn pwa_config_set(cfg: *mut pwa_config, key: *const c_char, value: *const c_char) -> pwa_status {
    guard(|| {
        let cfg = cfg.as_mut().ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "cfg is NULL"))?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, &format!("the value of '{key}'"))?;
        cfg.inner.set(key, value)?;
        Ok(PWA_OK)
    })
}

/// Free a configuration. NULL is ignored. Channels opened with it are not affected.
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
