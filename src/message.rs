//! One message of a channel, as received.

use std::sync::Arc;

/// A text frame from the server (a PI Web API channel message, or a heartbeat) and the endpoint
/// it came from. After an update, messages of the old and the new endpoint can be told apart by
/// `url()`.
#[derive(Debug, Clone)]
pub struct Message {
    json: String,
    url: Arc<str>,
}

impl Message {
    pub(crate) fn new(frame: &str, url: Arc<str>) -> Message {
        // One spare byte, so that the C layer can NUL-terminate without reallocating.
        let mut json = String::with_capacity(frame.len() + 1);
        json.push_str(frame);
        Message { json, url }
    }

    /// The message text exactly as the server sent it.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The channel URL this message arrived on (passwords redacted).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn url_arc(&self) -> &Arc<str> {
        &self.url
    }

    /// Take the text out of the message.
    pub fn into_json(self) -> String {
        self.json
    }
}
