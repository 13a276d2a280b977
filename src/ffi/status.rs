//! Status codes. Values are part of the ABI: never renumber, only add.

use std::ffi::c_char;

use crate::ErrorKind;

/// The outcome of a call. 0 is success; positive values are outcomes that are not failures of
/// the call (a poll timeout, a channel's normal terminal states); negative values are misuse
/// and failures.
pub type pwa_status = i32;

/// Success; for a poll, a message was returned.
pub const PWA_OK: pwa_status = 0;
/// Poll: nothing arrived within the timeout. Not an error.
pub const PWA_TIMEOUT: pwa_status = 1;
/// The channel was closed normally (our close, or with reconnect off a server close 1000) and
/// its buffer is drained.
pub const PWA_CLOSED: pwa_status = 2;
/// The channel was closed by a network or protocol error; its buffer is drained.
pub const PWA_CLOSED_ERROR: pwa_status = 3;
/// Reconnecting did not succeed within `dead_channel_timeout`; the buffer is drained.
pub const PWA_WATCHDOG_TIMEOUT: pwa_status = 4;
/// An update could not reach the new endpoint and rollback was off; the channel closed.
pub const PWA_UPDATE_FAILED: pwa_status = 5;
/// An update failed; the channel goes on at its previous endpoint.
pub const PWA_ROLLED_BACK: pwa_status = 6;

/// A bad argument: NULL pointer, invalid UTF-8, malformed URL, unknown configuration key or
/// bad value.
pub const PWA_ERR_INVALID_ARGUMENT: pwa_status = -1;
/// The channel handle is 0, was freed, or was never issued.
pub const PWA_ERR_INVALID_HANDLE: pwa_status = -2;
/// The caller's buffer is too small; the size needed was reported.
pub const PWA_ERR_BUFFER_TOO_SMALL: pwa_status = -3;
/// Could not connect: connection refused, host unreachable, name not resolved.
pub const PWA_ERR_CONNECT: pwa_status = -10;
/// The TLS handshake failed (or TLS is not available).
pub const PWA_ERR_TLS: pwa_status = -11;
/// The server refused the credentials (HTTP 401).
pub const PWA_ERR_AUTH: pwa_status = -12;
/// The server answered the upgrade with an HTTP status other than 101 (the code is in the
/// error message).
pub const PWA_ERR_HTTP_STATUS: pwa_status = -13;
/// The first connection was not up within `open_timeout`.
pub const PWA_ERR_OPEN_TIMEOUT: pwa_status = -14;
/// The server broke the HTTP or WebSocket protocol during the upgrade.
pub const PWA_ERR_PROTOCOL: pwa_status = -15;
/// A blocking call was made from inside a callback of this library.
pub const PWA_ERR_RECURSIVE_CALL: pwa_status = -20;
/// Another thread is already polling or updating this channel.
pub const PWA_ERR_BUSY: pwa_status = -21;
/// The library was shut down (`pwa_shutdown`), or this process is a fork of the one that
/// started it.
pub const PWA_ERR_SHUTDOWN: pwa_status = -30;
/// An internal panic was caught at the ABI boundary (a bug: please report the message).
pub const PWA_ERR_PANIC: pwa_status = -31;
/// An internal error that should not happen (a bug: please report the message).
pub const PWA_ERR_INTERNAL: pwa_status = -32;

pub(crate) fn status_of(kind: ErrorKind) -> pwa_status {
    match kind {
        ErrorKind::Timeout => PWA_TIMEOUT,
        ErrorKind::Closed => PWA_CLOSED,
        ErrorKind::ClosedError => PWA_CLOSED_ERROR,
        ErrorKind::WatchdogTimeout => PWA_WATCHDOG_TIMEOUT,
        ErrorKind::UpdateFailed => PWA_UPDATE_FAILED,
        ErrorKind::RolledBack => PWA_ROLLED_BACK,
        ErrorKind::InvalidArgument => PWA_ERR_INVALID_ARGUMENT,
        ErrorKind::Connect => PWA_ERR_CONNECT,
        ErrorKind::Tls => PWA_ERR_TLS,
        ErrorKind::Auth => PWA_ERR_AUTH,
        ErrorKind::HttpStatus => PWA_ERR_HTTP_STATUS,
        ErrorKind::OpenTimeout => PWA_ERR_OPEN_TIMEOUT,
        ErrorKind::Protocol => PWA_ERR_PROTOCOL,
        ErrorKind::RecursiveCall => PWA_ERR_RECURSIVE_CALL,
        ErrorKind::Busy => PWA_ERR_BUSY,
        ErrorKind::InvalidHandle => PWA_ERR_INVALID_HANDLE,
        ErrorKind::Shutdown => PWA_ERR_SHUTDOWN,
        _ => PWA_ERR_INTERNAL,
    }
}

/// (code, name, description) of every status, NUL-terminated for C.
const TABLE: &[(pwa_status, &str, &str)] = &[
    (PWA_OK, "PWA_OK\0", "success\0"),
    (
        PWA_TIMEOUT,
        "PWA_TIMEOUT\0",
        "nothing arrived within the timeout\0",
    ),
    (
        PWA_CLOSED,
        "PWA_CLOSED\0",
        "channel closed normally, buffer drained\0",
    ),
    (
        PWA_CLOSED_ERROR,
        "PWA_CLOSED_ERROR\0",
        "channel closed by a network or protocol error, buffer drained\0",
    ),
    (
        PWA_WATCHDOG_TIMEOUT,
        "PWA_WATCHDOG_TIMEOUT\0",
        "no connection re-established within dead_channel_timeout, buffer drained\0",
    ),
    (
        PWA_UPDATE_FAILED,
        "PWA_UPDATE_FAILED\0",
        "update failed without rollback, channel closed\0",
    ),
    (
        PWA_ROLLED_BACK,
        "PWA_ROLLED_BACK\0",
        "update failed, channel goes on at its previous endpoint\0",
    ),
    (
        PWA_ERR_INVALID_ARGUMENT,
        "PWA_ERR_INVALID_ARGUMENT\0",
        "invalid argument\0",
    ),
    (
        PWA_ERR_INVALID_HANDLE,
        "PWA_ERR_INVALID_HANDLE\0",
        "invalid, closed or freed channel handle\0",
    ),
    (
        PWA_ERR_BUFFER_TOO_SMALL,
        "PWA_ERR_BUFFER_TOO_SMALL\0",
        "buffer too small\0",
    ),
    (PWA_ERR_CONNECT, "PWA_ERR_CONNECT\0", "could not connect\0"),
    (PWA_ERR_TLS, "PWA_ERR_TLS\0", "TLS failure\0"),
    (PWA_ERR_AUTH, "PWA_ERR_AUTH\0", "authentication refused\0"),
    (
        PWA_ERR_HTTP_STATUS,
        "PWA_ERR_HTTP_STATUS\0",
        "unexpected HTTP status\0",
    ),
    (
        PWA_ERR_OPEN_TIMEOUT,
        "PWA_ERR_OPEN_TIMEOUT\0",
        "no connection within open_timeout\0",
    ),
    (
        PWA_ERR_PROTOCOL,
        "PWA_ERR_PROTOCOL\0",
        "HTTP or WebSocket protocol violation\0",
    ),
    (
        PWA_ERR_RECURSIVE_CALL,
        "PWA_ERR_RECURSIVE_CALL\0",
        "blocking call from inside a callback\0",
    ),
    (
        PWA_ERR_BUSY,
        "PWA_ERR_BUSY\0",
        "another thread is using this channel\0",
    ),
    (
        PWA_ERR_SHUTDOWN,
        "PWA_ERR_SHUTDOWN\0",
        "library shut down or used in a forked child\0",
    ),
    (PWA_ERR_PANIC, "PWA_ERR_PANIC\0", "internal panic caught\0"),
    (PWA_ERR_INTERNAL, "PWA_ERR_INTERNAL\0", "internal error\0"),
];

fn lookup(code: pwa_status) -> Option<&'static (pwa_status, &'static str, &'static str)> {
    TABLE.iter().find(|(c, _, _)| *c == code)
}

/// A static, NUL-terminated description of `code` ("unknown status" for codes this version
/// does not know). Never NULL; do not free.
#[no_mangle]
pub extern "C" fn pwa_status_str(code: pwa_status) -> *const c_char {
    lookup(code)
        .map_or("unknown status\0", |e| e.2)
        .as_ptr()
        .cast()
}

/// The static name of `code`, e.g. "PWA_CLOSED" ("PWA_UNKNOWN" for codes this version does not
/// know). Never NULL; do not free.
#[no_mangle]
pub extern "C" fn pwa_status_name(code: pwa_status) -> *const c_char {
    lookup(code)
        .map_or("PWA_UNKNOWN\0", |e| e.1)
        .as_ptr()
        .cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_unique_name_and_text() {
        let mut codes: Vec<_> = TABLE.iter().map(|e| e.0).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
        for (_, name, text) in TABLE {
            assert!(name.ends_with('\0') && text.ends_with('\0'));
            assert_eq!(name.matches('\0').count(), 1);
        }
        // SAFETY: pwa_status_name returns a pointer to a static NUL-terminated string.
        let name = unsafe { std::ffi::CStr::from_ptr(pwa_status_name(PWA_CLOSED)) };
        assert_eq!(name.to_str().unwrap(), "PWA_CLOSED");
        // SAFETY: as above; unknown codes give the static "PWA_UNKNOWN".
        let name = unsafe { std::ffi::CStr::from_ptr(pwa_status_name(12345)) };
        assert_eq!(name.to_str().unwrap(), "PWA_UNKNOWN");
    }
}
