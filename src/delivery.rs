//! Callback delivery: each channel with callbacks gets a thread of its own that hands over its
//! messages and state events in order. Never a runtime worker (a slow callback cannot stall the
//! network), never under a lock, and a slow callback of one channel does not stall the others.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::callback_thread::mark_callback_thread;
use crate::engine::queue::Delivery;
use crate::engine::Shared;
use crate::events::StateEvent;
use crate::logging::{log_line, LogLevel};
use crate::message::Message;

pub type MessageCallback = Box<dyn FnMut(Message) + Send + 'static>;
pub type StateCallback = Box<dyn FnMut(&StateEvent) + Send + 'static>;

/// What a channel calls. `on_message` set: messages go to it (and cannot be polled);
/// `on_state` set: state events go to it, `Closed` exactly once and last.
#[derive(Default)]
pub struct Callbacks {
    pub on_message: Option<MessageCallback>,
    pub on_state: Option<StateCallback>,
}

impl Callbacks {
    pub fn is_empty(&self) -> bool {
        self.on_message.is_none() && self.on_state.is_none()
    }
}

pub(crate) fn start(
    shared: Arc<Shared>,
    mut callbacks: Callbacks,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("piwebasync-callbacks".into())
        .spawn(move || {
            mark_callback_thread();
            let with_messages = callbacks.on_message.is_some();
            while let Some(item) = shared.queue.next_delivery(with_messages) {
                // A panic in the callback glue must not end delivery (the Closed event is owed).
                let r = catch_unwind(AssertUnwindSafe(|| match item {
                    Delivery::Message(m) => {
                        if let Some(cb) = callbacks.on_message.as_mut() {
                            cb(m)
                        }
                    }
                    Delivery::Event(e) => {
                        if let Some(cb) = callbacks.on_state.as_mut() {
                            cb(&e)
                        }
                    }
                }));
                if r.is_err() {
                    log_line!(
                        LogLevel::Error,
                        "a panic in a callback was caught; delivery goes on"
                    );
                }
            }
        })
}
