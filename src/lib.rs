//! piwebasync: a client for PI Web API channels (the WebSocket streams of live PI point and AF
//! attribute values), with a C ABI.
//!
//! Layers, each knowing only the one below: `wire` (TCP, HTTP upgrade, frames) -> `engine`
//! (channel task, reconnect, bounded queue) -> the Rust API (`Channel`, `ChannelConfig`,
//! `Message`) -> `ffi` (the C ABI: handles, status codes, panic boundary).
//!
//! Every unsafe operation is in an `unsafe {}` block, also inside an `unsafe fn`, and every
//! such block says why it is sound in a `// SAFETY:` comment (clippy enforces it in CI).
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod channel;
mod config;
mod delivery;
mod engine;
mod error;
mod events;
mod logging;
mod message;
mod secret;
mod wire;

pub mod ffi;

#[cfg(not(debug_assertions))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub mod model;
pub mod urls;

pub use channel::Channel;
pub use config::{AuthMethod, CaFileMode, ChannelConfig, ParseOnReceive, KEYS as CONFIG_KEYS};
pub use delivery::{in_callback, Callbacks};
pub use engine::{ChannelState, Stats};
pub use error::{Error, ErrorKind};
pub use events::StateEvent;
pub use logging::{set_sink as set_log_sink, LogLevel, LogSink};
pub use message::Message;

/// Stop the library's runtime and every channel, waiting at most `timeout` for their tasks.
/// Later opens fail with `ErrorKind::Shutdown`.
/// Must not be called from inside a callback (`RecursiveCall`).
pub fn shutdown(timeout: std::time::Duration) -> Result<(), Error> {
    delivery::refuse_if_in_callback("shutdown")?;
    engine::runtime::shutdown(timeout);
    Ok(())
}

/// Set the number of runtime worker threads (default: 2, or 1 on a single core). Only before
/// the first channel is opened; `InvalidArgument` afterwards or for 0.
pub fn configure_runtime(worker_threads: usize) -> Result<(), Error> {
    engine::runtime::configure(worker_threads)
}

/// Fails at once in a forked child of the process that started the library (its runtime
/// threads do not exist there), instead of letting a call hang.
pub fn check_process() -> Result<(), Error> {
    engine::runtime::check_not_forked()
}

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
