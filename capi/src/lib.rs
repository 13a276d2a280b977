//! The C ABI of piwebasync: handles, status codes, string conversion and the panic boundary —
//! no protocol logic, only the public API of the Rust crate `piwebasync`. Every export is
//! `pwa_*`, catches panics, and reports failures as a `pwa_status` with a message in the
//! thread-local last error. `include/piwebasync.h` is generated from this crate by cbindgen
//! (see build.rs). The allocator of the C library is chosen here, not in the Rust crate.

#![allow(non_camel_case_types)]

#[cfg(not(debug_assertions))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod boundary;
mod callbacks;
mod channel;
mod config;
mod credentials;
mod handles;
mod last_error;
mod logging;
mod message;
mod module_pin;
mod poll_copy;
mod runtime;
mod status;
mod strings;
mod subscription;
mod url_cache;
mod urls;
mod values;
mod version;

pub use callbacks::*;
pub use channel::*;
pub use config::*;
pub use credentials::*;
pub use last_error::pwa_last_error;
pub use logging::*;
pub use message::*;
pub use poll_copy::*;
pub use runtime::*;
pub use status::*;
pub use subscription::*;
pub use urls::*;
pub use values::*;
pub use version::*;

// The tests use the Rust crate under its own name, as its integration tests do.
#[cfg(test)]
extern crate piwebasync_rust as piwebasync;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod header_tests {
    /// The committed header must be what cbindgen makes of this module now (`make header`).
    #[test]
    fn committed_header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/piwebasync.h"));
        let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/piwebasync.h");
        let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
        assert!(
            generated == committed,
            "include/piwebasync.h is out of date with capi/src: run `make header` and commit it"
        );
    }
}
