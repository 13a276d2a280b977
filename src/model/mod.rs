//! The typed content of a channel message, parsed tolerantly from its JSON, and readers for
//! the REST responses of recorded values ([`RecordedPage`]).
//!
//! [`Content::parse`] never fails and never panics: text that is not a JSON object of the
//! expected shape gives a content flagged unparsable, with the parser's error. What is parsed
//! and how variants are read is described in PROTOCOL.md ("Messages"); the rules are:
//! - a stream's values are its `Items`, or its single `Value` object;
//! - flags may be bools or the strings `"true"` / `"false"`; `null` counts as absent;
//! - timestamps: see [`parse_timestamp`]; an invalid one leaves the value in place with
//!   [`Timestamp::Invalid`] and an error entry whose field name is `Timestamp`;
//! - `WebException` is read on the message, each stream and each value;
//! - a value's `Value` of the documented bad-value form `{"Errors": [...]}` is `Null` with
//!   those errors;
//! - a top-level `Errors` list (PI Web API's error body `{"Errors": ["..."]}`) is read as a
//!   message-level [`WebException`] with status code 0 (none sent), so it is no heartbeat;
//! - unknown fields are ignored; a wrong type for a known field makes the message unparsable;
//! - a heartbeat is an empty / whitespace frame, or an object with no values and no
//!   `WebException` anywhere (no `Items`, empty `Items`, or streams without values).
//!
//! Only channel-shaped text is read as a message. No element of `Items` may be a timed value
//! (it has a `Timestamp`) or a summary (`Type` without `WebId` and `Items`); a stream is an
//! element with non-null `Items`, `Value` or `WebException`, and when no element is one (all
//! are bare objects) the text is a collection. An object without `Items` may hold only
//! `Links`, `WebException` and `Errors`. Everything else is unparsable with an error naming what it
//! looks like: a single stream's recorded / interpolated page (items are timed values; read
//! it with [`RecordedPage::parse`]), a summary, a collection (`dataservers`, `points`), a
//! single value (`streams/{webId}/value`), a batch response, a top-level array.

mod errors;
mod fast;
mod identity;
mod parse;
mod rest;
mod stream;
mod timestamp;
mod value;
mod write;

pub use errors::{FieldError, WebException};
pub use identity::ValueKey;
pub use rest::{PageShape, RecordedPage, RestError};
pub use stream::Stream;
pub use timestamp::{format_timestamp, parse_timestamp, TimestampError};
pub use value::{DigitalState, TimedValue, Timestamp, Value};
pub use write::channel_json;

/// What a message says, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Content {
    streams: Vec<Stream>,
    web_exception: Option<WebException>,
    parse_error: Option<String>,
    /// Flat index of the first value of each stream, plus the total at the end.
    offsets: Vec<usize>,
}

/// One value seen through the flat list of a message: its stream and itself.
#[derive(Debug, Clone, Copy)]
pub struct ValueRef<'a> {
    pub stream_index: usize,
    pub stream: &'a Stream,
    pub value: &'a TimedValue,
}

impl ValueRef<'_> {
    /// The value's units, or its stream's when the value carries none.
    pub fn units(&self) -> &str {
        self.value.units.as_deref().unwrap_or(&self.stream.units)
    }
}

impl Content {
    /// Parse a message. Never fails: see [`Content::parse_error`].
    pub fn parse(text: &str) -> Content {
        match parse::parse(text) {
            Ok((streams, web_exception)) => Content::new(streams, web_exception),
            Err(e) => Content {
                parse_error: Some(e),
                offsets: vec![0],
                ..Content::default()
            },
        }
    }

    /// `parse` without the fast reader: serde only (to check that both read alike).
    #[doc(hidden)]
    pub fn parse_serde(text: &str) -> Content {
        match parse::parse_with(text, false) {
            Ok((streams, web_exception)) => Content::new(streams, web_exception),
            Err(e) => Content {
                parse_error: Some(e),
                offsets: vec![0],
                ..Content::default()
            },
        }
    }

    /// The fast reader alone: `None` where it gives up and serde would read the message (to
    /// check that the usual shapes take the fast path).
    #[doc(hidden)]
    pub fn parse_fast(text: &str) -> Option<Content> {
        fast::parse(text).map(|(streams, web_exception)| Content::new(streams, web_exception))
    }

    /// A content made of streams (for tests and tools that build messages).
    pub fn new(streams: Vec<Stream>, web_exception: Option<WebException>) -> Content {
        let mut offsets = Vec::with_capacity(streams.len() + 1);
        let mut n = 0;
        for s in &streams {
            offsets.push(n);
            n += s.values.len();
        }
        offsets.push(n);
        Content {
            streams,
            web_exception,
            parse_error: None,
            offsets,
        }
    }

    /// True when the message carries no value and no error: a heartbeat (or an empty frame).
    pub fn is_heartbeat(&self) -> bool {
        self.parse_error.is_none()
            && self.value_count() == 0
            && self.web_exception.is_none()
            && self.streams.iter().all(|s| s.web_exception.is_none())
    }

    /// True when the text was not JSON of the expected shape.
    pub fn is_unparsable(&self) -> bool {
        self.parse_error.is_some()
    }

    /// Why the text could not be parsed (with line and column), if it could not.
    pub fn parse_error(&self) -> Option<&str> {
        self.parse_error.as_deref()
    }

    /// The message-level `WebException`, if any.
    pub fn web_exception(&self) -> Option<&WebException> {
        self.web_exception.as_ref()
    }

    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// The number of values of all streams.
    pub fn value_count(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// The flat index of the first value of stream `stream_index` (its values are
    /// `first_value(i) .. first_value(i) + streams()[i].values.len()`).
    pub fn first_value(&self, stream_index: usize) -> Option<usize> {
        if stream_index < self.streams.len() {
            self.offsets.get(stream_index).copied()
        } else {
            None
        }
    }

    /// Value `k` of the flat list (all values of stream 0, then of stream 1, ...).
    pub fn value(&self, k: usize) -> Option<ValueRef<'_>> {
        if k >= self.value_count() {
            return None;
        }
        // The last stream whose first value is <= k (streams without values share offsets).
        let stream_index = self.offsets.partition_point(|&o| o <= k) - 1;
        let stream = &self.streams[stream_index];
        Some(ValueRef {
            stream_index,
            stream,
            value: &stream.values[k - self.offsets[stream_index]],
        })
    }

    /// Every value of the message, stream by stream.
    pub fn values(&self) -> impl Iterator<Item = ValueRef<'_>> {
        self.streams
            .iter()
            .enumerate()
            .flat_map(|(stream_index, stream)| {
                stream.values.iter().map(move |value| ValueRef {
                    stream_index,
                    stream,
                    value,
                })
            })
    }
}
