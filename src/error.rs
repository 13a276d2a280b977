//! Errors and outcomes of the Rust API.
//!
//! One `ErrorKind` covers both failures of a call and the non-failure outcomes that a poll can
//! report (a timeout, the terminal state of a closed channel), so that a channel that ended by a
//! failure can report that very failure as its terminal outcome.

use std::fmt;

/// What happened. Every kind maps to exactly one status code of the C ABI, by an exhaustive
/// match in the C ABI crate: that is why this enum is not `#[non_exhaustive]` (a new kind does
/// not compile until it has its status). Before 1.0 a new kind may come in a minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Poll: nothing arrived within the timeout. Not a failure.
    Timeout,
    /// The channel was closed normally (our close, or a server close 1000 with reconnect off).
    Closed,
    /// The channel was closed by a network or protocol error.
    ClosedError,
    /// Reconnecting did not succeed within `dead_channel_timeout`.
    WatchdogTimeout,
    /// An update could not reach the new endpoint and rollback was off; the channel closed.
    UpdateFailed,
    /// An update failed and the channel went on at its previous endpoint.
    RolledBack,
    /// A bad argument: a malformed URL, an unknown configuration key, a bad value.
    InvalidArgument,
    /// The TCP connection could not be made (refused, unreachable, DNS failure).
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The server refused the credentials (HTTP 401).
    Auth,
    /// The server answered the upgrade with another HTTP status than 101.
    HttpStatus,
    /// The first connection was not up within `open_timeout`.
    OpenTimeout,
    /// The server broke the HTTP or WebSocket protocol during the upgrade.
    Protocol,
    /// A blocking call was made from inside a callback of this library.
    RecursiveCall,
    /// Another thread is already polling or updating this channel.
    Busy,
    /// The channel was released (freed) while the call waited on it.
    InvalidHandle,
    /// The library's runtime was shut down, or this process is a fork of the one that started it.
    Shutdown,
    /// An internal error that should not happen (a bug); the message says what.
    Internal,
    /// A subscription set would need more channels than its `max_channels`: the call was
    /// refused whole (nothing of it took effect).
    LimitReached,
}

impl ErrorKind {
    /// True for the kinds a channel can end with (its terminal outcome).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::RolledBack
                | ErrorKind::InvalidArgument
                | ErrorKind::RecursiveCall
                | ErrorKind::Busy
                | ErrorKind::InvalidHandle
                | ErrorKind::LimitReached
        )
    }
}

/// An outcome with a human-readable message. Messages never contain passwords or tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            http_status: None,
        }
    }

    pub(crate) fn http(status: u16, message: impl Into<String>) -> Self {
        let kind = if status == 401 {
            ErrorKind::Auth
        } else {
            ErrorKind::HttpStatus
        };
        Error {
            kind,
            message: message.into(),
            http_status: Some(status),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status the server answered the upgrade with, when that is what failed.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// The same error reported under another kind, its message kept (e.g. a connect error that
    /// becomes the cause of a watchdog timeout).
    pub(crate) fn with_kind(mut self, kind: ErrorKind, prefix: &str) -> Self {
        self.kind = kind;
        if !prefix.is_empty() {
            self.message = format!("{prefix}: {}", self.message);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
