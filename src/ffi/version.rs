//! The library version, as a call and as header macros.

use std::ffi::c_char;

/// Major version of the library this header belongs to.
pub const PWA_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const PWA_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const PWA_VERSION_PATCH: u32 = 0;

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
        assert_eq!(v.to_str().unwrap(), crate::VERSION);
    }
}
