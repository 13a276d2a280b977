//! One message of a channel, as received.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::model::Content;

/// A text frame from the server (a PI Web API channel message, or a heartbeat) and the endpoint
/// it came from. After an update, messages of the old and the new endpoint can be told apart by
/// `url()`.
#[derive(Debug, Clone)]
pub struct Message {
    json: String,
    url: Arc<str>,
    /// When it was received.
    received: Instant,
    /// Parsed on the first call of `content()`, at most once.
    content: OnceLock<Content>,
}

impl Message {
    pub(crate) fn new(frame: &str, url: Arc<str>) -> Message {
        // One spare byte, so that the C layer can NUL-terminate without reallocating.
        let mut json = String::with_capacity(frame.len() + 1);
        json.push_str(frame);
        Message {
            json,
            url,
            received: Instant::now(),
            content: OnceLock::new(),
        }
    }

    /// The same message with other text (a part of it): same URL, same time of receipt.
    pub(crate) fn with_json(&self, json: &str) -> Message {
        Message {
            received: self.received,
            ..Message::new(json, self.url.clone())
        }
    }

    /// When the message was received (made, for `from_json`): it may be handed out much later
    /// when the consumer is behind.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// A message made from JSON text, as if received (its URL is empty): to feed recorded
    /// messages through the same code as live ones, or to test it.
    pub fn from_json(json: &str) -> Message {
        Message::new(json, Arc::from(""))
    }

    /// The typed content: streams, values, heartbeat and parse-error flags. Parsed on the
    /// first call, once; later calls are free. Never fails (see `Content::parse`).
    pub fn content(&self) -> &Content {
        self.content.get_or_init(|| Content::parse(&self.json))
    }

    /// True when the content was parsed already (to check where parsing happened).
    #[doc(hidden)]
    pub fn is_parsed(&self) -> bool {
        self.content.get().is_some()
    }

    /// The text and, if it was parsed already, the content (a C view takes both over without
    /// copying or parsing again).
    pub fn into_parts(self) -> (String, Option<Content>) {
        (self.json, self.content.into_inner())
    }

    /// The message text exactly as the server sent it.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The channel URL this message arrived on (passwords redacted).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL as the channel shares it between its messages (a cache keyed on it serves
    /// every message of one endpoint).
    pub fn url_arc(&self) -> &Arc<str> {
        &self.url
    }

    /// Take the text out of the message.
    pub fn into_json(self) -> String {
        self.json
    }
}
