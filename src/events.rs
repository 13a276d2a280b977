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
    /// `gap_fill`: the channel fetches the recorded values it missed (after a reconnect, or
    /// for the streams an update kept) from `url` (the first request), for `streams` streams
    /// (0: not known before the answer, a stream set of an element). Live data waits.
    BackfillStarted { url: String, streams: usize },
    /// The backfill ended: `values` recorded values delivered (marked backfilled) in `messages`
    /// messages, then live data resumes. `missing` is empty when nothing was left out, else
    /// what `gap_fill_max_span` or `gap_fill_max_values` cut (`cause` says which).
    BackfillDone {
        values: u64,
        messages: u64,
        missing: Vec<MissingRange>,
        cause: Option<String>,
    },
    /// The backfill failed (`cause`: the request's error); live data resumes regardless.
    /// `values` were delivered before the failure; `missing` says exactly which streams and
    /// time ranges were not recovered.
    BackfillFailed {
        cause: Error,
        values: u64,
        missing: Vec<MissingRange>,
    },
    /// The channel ended; `outcome.kind()` is its terminal status. Always the last event.
    Closed { outcome: Error },
}

/// A time range of one stream whose recorded values were not delivered by a backfill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRange {
    /// The stream's WebId; empty for every stream of the endpoint (a stream set of an element
    /// whose attributes were not known).
    pub web_id: String,
    /// From this time (nanoseconds since the Unix epoch), exclusive when `from_exclusive`:
    /// values at exactly `from_ns` were delivered, later ones not.
    pub from_ns: i64,
    pub from_exclusive: bool,
    /// Up to this time (inclusive): when live data resumed (the end of the backfill request).
    pub to_ns: i64,
}

impl std::fmt::Display for MissingRange {
    /// `WebId (from, to]` with ISO-8601 UTC times.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.web_id.is_empty() {
            "every stream"
        } else {
            &self.web_id
        };
        write!(
            f,
            "{who} {}{}, {}]",
            if self.from_exclusive { "(" } else { "[" },
            crate::model::format_timestamp(self.from_ns, 7),
            crate::model::format_timestamp(self.to_ns, 7)
        )
    }
}

/// The missing ranges as text, `; `-separated (for messages and logs).
pub fn describe_missing(missing: &[MissingRange]) -> String {
    missing
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
