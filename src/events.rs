//! State events: what happened to a channel's connection, for callers that want to know.

use std::time::Duration;

use crate::error::Error;

/// One change of a channel's connection. Delivered in order with the channel's messages when
/// they go to a message callback (when they are polled, events come as they happen);
/// `Closed` comes exactly once and last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateEvent {
    /// The first connection is up.
    Connected { url: String },
    /// The connection ended (the cause says why); `Reconnecting` or `Closed` follows.
    Disconnected { cause: Error },
    /// A reconnect attempt starts after `delay` (attempt 1 at once, or after a random delay
    /// of at most `reconnect_spread`).
    Reconnecting { attempt: u32, delay: Duration },
    /// A connection is up again.
    Reconnected { url: String },
    /// An update switched the channel to `url`.
    Updated { url: String },
    /// An update failed; the channel goes on at its previous endpoint.
    RolledBack { cause: Error },
    /// The channel ended; `outcome.kind()` is its terminal status. Always the last event.
    Closed { outcome: Error },
}
