//! The panic boundary every export goes through, and the failure type of the ABI layer.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::last_error;
use super::status::{pwa_status, status_of, PWA_ERR_PANIC};

/// A failed call: its status and the message for `pwa_last_error`.
pub(crate) struct Failure {
    pub status: pwa_status,
    pub message: String,
}

pub(crate) fn fail(status: pwa_status, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

impl From<piwebasync_rust::Error> for Failure {
    fn from(e: piwebasync_rust::Error) -> Failure {
        Failure {
            status: status_of(e.kind()),
            message: e.message().to_string(),
        }
    }
}

/// Run an export's body: a returned failure and a caught panic both become a status, with the
/// message kept in the thread-local last error.
pub(crate) fn guard(body: impl FnOnce() -> Result<pwa_status, Failure>) -> pwa_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => status,
        Ok(Err(f)) => {
            last_error::set(&f.message);
            f.status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            last_error::set(&format!("internal panic caught at the C boundary: {what}"));
            PWA_ERR_PANIC
        }
    }
}

/// For exports that return a value instead of a status: `fallback` on failure or panic.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> Result<T, Failure>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(f)) => {
            last_error::set(&f.message);
            fallback
        }
        Err(_) => {
            last_error::set("internal panic caught at the C boundary");
            fallback
        }
    }
}
