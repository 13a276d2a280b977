//! The log callback.

use std::ffi::{c_char, c_void, CString};

use super::boundary::{fail, guard};
use super::callbacks::UserData;
use super::status::*;
use piwebasync_rust::LogLevel;

/// Receives one log line: `level` is a `PWA_LOG_*` value, `line` a NUL-terminated UTF-8 string
/// valid during the call. Called on the library's log thread, one line at a time.
pub type pwa_log_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: i32, line: *const c_char)>;

/// Log levels: a callback set at one level receives that level and the more severe ones.
pub const PWA_LOG_OFF: i32 = 0;
pub const PWA_LOG_ERROR: i32 = 1;
pub const PWA_LOG_WARN: i32 = 2;
pub const PWA_LOG_INFO: i32 = 3;
pub const PWA_LOG_DEBUG: i32 = 4;
pub const PWA_LOG_TRACE: i32 = 5;

/// Send the library's log lines at `level` (`PWA_LOG_ERROR` .. `PWA_LOG_TRACE`) and above to
/// `cb`, or stop logging (`cb` NULL or `level` `PWA_LOG_OFF`). Lines are handed over on a
/// thread of the library's own, so a slow callback never stalls a channel; if it falls more
/// than 4096 lines behind, lines are dropped and a line says how many. No line contains a
/// password or token. When this returns, the previous callback is not called any more.
/// Returns `PWA_OK`, `PWA_ERR_INVALID_ARGUMENT` (bad level), `PWA_ERR_RECURSIVE_CALL` (from
/// inside the log callback).
#[no_mangle]
pub extern "C" fn pwa_set_log_callback(
    level: i32,
    cb: pwa_log_cb,
    user_data: *mut c_void,
) -> pwa_status {
    guard(|| {
        let level = match (level, cb) {
            (PWA_LOG_OFF, _) | (_, None) => None,
            (l, Some(cb)) => {
                let l = u8::try_from(l)
                    .ok()
                    .and_then(LogLevel::from_u8)
                    .ok_or_else(|| {
                        fail(
                            PWA_ERR_INVALID_ARGUMENT,
                            format!("log level {l} is not one of PWA_LOG_OFF .. PWA_LOG_TRACE"),
                        )
                    })?;
                Some((l, cb))
            }
        };
        match level {
            None => piwebasync_rust::set_log_sink(LogLevel::Error, None)?,
            Some((l, cb)) => {
                super::module_pin::pin_module(); // Windows: the log thread runs from this DLL
                let user = UserData(user_data);
                piwebasync_rust::set_log_sink(
                    l,
                    Some(Box::new(move |level: LogLevel, line: &str| {
                        let user = user;
                        let line = CString::new(line.replace('\0', " ")).unwrap_or_default();
                        // SAFETY: a function pointer the caller gave us, called as documented.
                        unsafe { cb(user.0, level as i32, line.as_ptr()) };
                    })),
                )?
            }
        }
        Ok(PWA_OK)
    })
}
