//! The C ABI: handles, status codes, string conversion and the panic boundary — no protocol
//! logic. Every export is `pwa_*`, catches panics, and reports failures as a `pwa_status` with
//! a message in the thread-local last error. `include/piwebasync.h` is generated from this
//! module by cbindgen (see build.rs).

#![allow(non_camel_case_types)]

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
pub use urls::*;
pub use values::*;
pub use version::*;

#[cfg(test)]
mod tests {
    /// The committed header must be what cbindgen makes of this module now (`make header`).
    #[test]
    fn committed_header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/piwebasync.h"));
        let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/piwebasync.h");
        let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
        assert!(
            generated == committed,
            "include/piwebasync.h is out of date with src/ffi: run `make header` and commit it"
        );
    }
}
