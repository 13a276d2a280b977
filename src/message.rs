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
    /// Recorded values fetched to fill a gap (`gap_fill`), not a live message.
    backfilled: bool,
    /// The text was written by the library (`Message::made`), not received as it is.
    rewritten: bool,
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
            backfilled: false,
            rewritten: false,
        }
    }

    /// A message the library made from typed streams (its text written by
    /// [`crate::model::channel_json`]): recorded values of a backfill (`backfilled`), or a live
    /// message from which values already delivered were taken out.
    pub(crate) fn made(
        streams: Vec<crate::model::Stream>,
        web_exception: Option<crate::model::WebException>,
        url: Arc<str>,
        backfilled: bool,
    ) -> Message {
        let text = crate::model::channel_json(&streams, web_exception.as_ref());
        let mut msg = Message::new(&text, url);
        let _ = msg.content.set(Content::new(streams, web_exception));
        msg.backfilled = backfilled;
        msg.rewritten = true;
        msg
    }

    /// True when the text is the library's own rendering of the content (see
    /// [`crate::model::channel_json`]) rather than a frame exactly as the server sent it: every
    /// backfilled message, and a live message from which gap fill took out values delivered
    /// already.
    pub fn is_rewritten(&self) -> bool {
        self.rewritten
    }

    /// True for recorded values the channel fetched to fill a gap after a reconnect or an
    /// update (`gap_fill`); false for what the server sent on the channel.
    pub fn is_backfilled(&self) -> bool {
        self.backfilled
    }

    /// The same message with other text (a part of it): same URL, same time of receipt.
    pub(crate) fn with_json(&self, json: &str) -> Message {
        Message {
            received: self.received,
            backfilled: self.backfilled,
            // Library-written text, as gap fill's cut messages are.
            rewritten: true,
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

    /// The message text: exactly as the server sent it, unless [`Message::is_rewritten`].
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
