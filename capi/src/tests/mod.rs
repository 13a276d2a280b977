//! Rust-side tests of the C ABI: the message accessors, URL builders, credentials and TLS
//! failures as a C caller sees them, against the simulator. They share the helpers of the Rust
//! crate's integration tests (`tests/common`, `tests/tls_common`), which name that crate
//! `piwebasync`: the crate root makes that name point at it for the tests.

#[path = "../../../tests/common/mod.rs"]
pub(crate) mod common;
#[path = "../../../tests/tls_common/mod.rs"]
mod tls_common;

mod auth;
mod callback_thread;
mod model;
mod tls;
mod urls;
