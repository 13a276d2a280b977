//! The channel engine: a task per channel that owns the connection, reconnects, and feeds the
//! bounded queue. It knows the wire below it and nothing of C above it.

mod backfill;
mod backoff;
mod command;
mod gapfill;
mod options;
pub mod queue;
pub mod runtime;
mod session;
pub mod state;
mod task;

use std::sync::Mutex;

use crate::events::StateEvent;

pub use options::{ChannelOptions, GapFillOptions, ParseOnReceive};
pub use state::{ChannelState, Stats};
pub use task::{spawn, TaskHandle};

use queue::Queue;
use state::Counters;

/// What the engine task and the API side of one channel share.
pub struct Shared {
    pub queue: Queue,
    pub counters: Counters,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    /// `keep_events`: record state events for a state callback; `on_ready`: see
    /// [`Queue::new`].
    pub fn new(
        max_queue: usize,
        max_queue_bytes: usize,
        keep_events: bool,
        on_ready: Option<queue::ReadyHook>,
    ) -> Shared {
        Shared {
            queue: Queue::new(max_queue, max_queue_bytes, keep_events, on_ready),
            counters: Counters::default(),
            last_error: Mutex::new(None),
        }
    }

    pub fn emit(&self, event: StateEvent) {
        crate::logging::log_event(&event);
        self.queue.push_event(event);
    }

    pub fn clear_last_error(&self) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn set_last_error(&self, msg: &str) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg.to_string());
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
