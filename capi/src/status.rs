//! Status codes: defined once, in `status_table.rs`. Values are part of the ABI: never
//! renumber, only add. Every `ErrorKind` maps to one of them (an exhaustive match: a new kind
//! does not compile until it has its status).

use std::ffi::c_char;

use piwebasync_rust::ErrorKind;

/// The outcome of a call. 0 is success; positive values are outcomes that are not failures of
/// the call (a poll timeout, a channel's normal terminal states); negative values are misuse
/// and failures.
pub type pwa_status = i32;

/// Writes the constants (with their docs, for Rust) and `TABLE` from `status_table.rs`.
/// cbindgen does not expand macros: build.rs writes the header's `#define`s from the same file.
macro_rules! statuses {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal, $text:literal;)*) => {
        $($(#[doc = $doc])* pub const $name: pwa_status = $code;)*

        /// (code, name, description) of every status, NUL-terminated for C.
        const TABLE: &[(pwa_status, &str, &str)] = &[
            $(($code, concat!(stringify!($name), "\0"), concat!($text, "\0")),)*
        ];
    };
}

include!("status_table.rs");

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
        ErrorKind::Internal => PWA_ERR_INTERNAL,
    }
}

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

    #[test]
    fn every_status_is_in_the_header_with_its_value() {
        let header = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../include/piwebasync.h"
        ));
        for (code, name, text) in TABLE {
            let name = name.trim_end_matches('\0');
            assert!(
                !text.trim_end_matches('\0').is_empty(),
                "{name} has a description"
            );
            assert!(
                header.contains(&format!("#define {name} {code}\n")),
                "{name} = {code} is missing from include/piwebasync.h"
            );
        }
    }
}
