//! piwebasync: a client for PI Web API channels (the WebSocket streams of live PI point and AF
//! attribute values). This is the Rust library: it exports no C symbols and leaves the choice
//! of allocator to the program; the C ABI (libpiwebasync, piwebasync.h) is the crate in capi/.
//!
//! Layers, each knowing only those below it (a test, `layers::each_layer_imports_only_below`,
//! checks the `use crate::` lines):
//! - shared ground, used by every layer: `error`, `secret`, `logging`, `callback_thread`,
//!   `events`, `model` + `message` (the message types), `urls`;
//! - `wire`: TCP, TLS, the HTTP upgrade with authentication, frames; takes `ConnectOptions`;
//! - `engine`: the channel task, reconnect, update, bounded queue; takes `ChannelOptions`;
//! - the Rust API: `config` (`ChannelConfig`, which builds the options), `channel`,
//!   `delivery` (callback threads);
//! - `subscription`: sets of any number of streams, sharded over channels; on the Rust API
//!   only (`Channel`, `ChannelConfig`);
//! - the C ABI lives in its own crate (`capi/`), on this crate's public API only.
//!
//! Every unsafe operation is in an `unsafe {}` block, also inside an `unsafe fn`, and every
//! such block says why it is sound in a `// SAFETY:` comment (the workspace lints of
//! Cargo.toml deny both; `make lint` runs in CI).

mod callback_thread;
mod channel;
mod config;
mod delivery;
mod engine;
mod error;
mod events;
mod logging;
mod message;
mod secret;
mod subscription;
mod wire;

pub mod model;
pub mod urls;

pub use callback_thread::in_callback;
pub use channel::Channel;
pub use config::{
    AuthMethod, CaFileMode, CallbackThread, ChannelConfig, KeySpec, ParseOnReceive, KEY_SPECS,
};
pub use delivery::Callbacks;
pub use engine::{ChannelState, Stats};
pub use error::{Error, ErrorKind};
pub use events::{describe_missing, MissingRange, StateEvent};
pub use logging::{set_sink as set_log_sink, LogLevel, LogSink};
pub use message::Message;
pub use subscription::{
    AddReport, Rejected, SetMessageCallback, SetStateCallback, ShardMessage, ShardStats,
    Subscription, SubscriptionCallbacks, SubscriptionEvent, SubscriptionStats,
};

/// Entry points for the fuzz targets (`fuzz/`) and tests: not API, may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::wire::{replay_body, replay_response, Replayed, ResponseHead};
}

/// Graceful shutdown: close every channel, wait (at most `timeout` in all) for them to end and
/// for their `Closed` callbacks to run, and stop the library's runtime (channels still running
/// then end with `ErrorKind::Shutdown`). Channels stay valid for draining: a poll returns what
/// was buffered, then the terminal outcome. Later opens fail with `ErrorKind::Shutdown`; the
/// library cannot be restarted in this process. `RecursiveCall` from inside a callback.
pub fn shutdown(timeout: std::time::Duration) -> Result<(), Error> {
    callback_thread::refuse_if_in_callback("shutdown")?;
    check_process()?;
    channel::shutdown_all(std::time::Instant::now() + timeout);
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

#[cfg(test)]
mod layers {
    use std::path::Path;

    /// Modules of `src/` a file of `dir` must not import (`use crate::<module>`).
    const FORBIDDEN: &[(&str, &[&str])] = &[
        (
            "wire",
            &[
                "engine",
                "config",
                "channel",
                "delivery",
                "subscription",
                "ffi",
            ],
        ),
        (
            "engine",
            &["config", "channel", "delivery", "subscription", "ffi"],
        ),
        (
            "model",
            &[
                "wire",
                "engine",
                "config",
                "channel",
                "delivery",
                "subscription",
                "ffi",
            ],
        ),
        // On the Rust API (`Channel`, `ChannelConfig`) only: never the engine or the wire.
        ("subscription", &["wire", "engine", "ffi"]),
    ];
    /// Single-file modules of the shared ground: none imports a layer.
    const GROUND: &[&str] = &[
        "error.rs",
        "secret.rs",
        "logging.rs",
        "callback_thread.rs",
        "events.rs",
        "message.rs",
        "urls.rs",
    ];
    const LAYERS: &[&str] = &[
        "wire",
        "engine",
        "config",
        "channel",
        "delivery",
        "subscription",
    ];

    fn imports(path: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .flat_map(|l| l.match_indices("crate::").map(move |(i, _)| &l[i + 7..]))
            .map(|rest| {
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect()
    }

    #[test]
    fn each_layer_imports_only_below() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut broken = Vec::new();
        for (dir, forbidden) in FORBIDDEN {
            for file in rust_files(&src.join(dir)) {
                for m in imports(&file) {
                    if forbidden.contains(&m.as_str()) {
                        broken.push(format!("{} imports crate::{m}", file.display()));
                    }
                }
            }
        }
        for name in GROUND {
            for m in imports(&src.join(name)) {
                if LAYERS.contains(&m.as_str()) {
                    broken.push(format!("src/{name} imports crate::{m}"));
                }
            }
        }
        for dir in ["wire", "engine", "model", "subscription"] {
            assert!(
                !rust_files(&src.join(dir)).is_empty(),
                "src/{dir} has files"
            );
        }
        assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    }
}
