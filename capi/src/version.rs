//! The library version, as a call and as header macros.

use std::ffi::c_char;

// The version has one place: Cargo.toml. The header's PWA_VERSION_* macros are written by
// build.rs from it (cbindgen's after_includes); these constants are the same numbers for Rust.

/// Major version of the library (Cargo.toml's version).
///
/// cbindgen:ignore
pub const PWA_VERSION_MAJOR: u32 = parse_u32(env!("CARGO_PKG_VERSION_MAJOR"));
/// Minor version.
///
/// cbindgen:ignore
pub const PWA_VERSION_MINOR: u32 = parse_u32(env!("CARGO_PKG_VERSION_MINOR"));
/// Patch version.
///
/// cbindgen:ignore
pub const PWA_VERSION_PATCH: u32 = parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v: u32 = 0;
    assert!(!b.is_empty(), "empty version component");
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "version component is not a number");
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v
}

/// The version of the loaded library, e.g. "0.1.0" (static; do not free). Compare with
/// `PWA_VERSION_MAJOR` etc. to detect a header / library mismatch.
#[no_mangle]
pub extern "C" fn pwa_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_macros_match_the_crate_version() {
        assert_eq!(
            PWA_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            PWA_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            PWA_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: pwa_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(pwa_version()) };
        assert_eq!(v.to_str().unwrap(), piwebasync_rust::VERSION);
    }
}
