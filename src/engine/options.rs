//! How a channel behaves: timeouts, reconnect, queue bounds, parsing, and how it connects
//! (the wire's options). Built from the channel configuration by the API layer; the engine
//! never sees the configuration itself.

use std::time::Duration;

use crate::wire::ConnectOptions;

/// Which thread parses a message into its typed content (`parse_on_receive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseOnReceive {
    /// The network thread parses a message when the consumer is behind (messages wait in the
    /// queue); when the consumer keeps up, it parses on its first typed access. Each thread
    /// takes what the other has no time for.
    Auto,
    /// The network thread parses every message as it arrives.
    Always,
    /// Never on the network thread: on the first typed access (for callers that only read the
    /// JSON text, the parse never happens).
    Never,
}

/// One channel's settings, as the engine uses them (see `ChannelConfig` for each).
pub struct ChannelOptions {
    pub reconnect: bool,
    pub dead_channel_timeout: Option<Duration>,
    pub open_timeout: Duration,
    pub ping_interval: Option<Duration>,
    pub ping_timeout: Duration,
    pub close_timeout: Duration,
    pub max_queue: usize,
    pub max_queue_bytes: usize,
    pub reconnect_initial_delay: Duration,
    pub reconnect_max_delay: Duration,
    /// The first reconnect attempt waits a random delay in [0, this].
    pub reconnect_spread: Duration,
    pub reconnect_on_auth_failure: bool,
    pub parse_on_receive: ParseOnReceive,
    /// `gap_fill` on: its bounds.
    pub gap_fill: Option<GapFillOptions>,
    pub connect: ConnectOptions,
}

/// Bounds of a backfill (`gap_fill_max_span`, `gap_fill_max_values`; `None` = no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapFillOptions {
    pub max_span: Option<Duration>,
    pub max_values: Option<u64>,
}

/// How long the close handshake may run once the owner let go of the channel
/// (`pwa_channel_free`): everything the server sends then is thrown away, so only the
/// courtesy of a close frame is at stake.
const FREE_GRACE: Duration = Duration::from_millis(250);

impl ChannelOptions {
    /// The close handshake's time once the channel was let go of: `FREE_GRACE`, at most
    /// `close_timeout`.
    pub fn free_grace(&self) -> Duration {
        FREE_GRACE.min(self.close_timeout)
    }
}
