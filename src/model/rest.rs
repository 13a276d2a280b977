//! Readers for the REST responses a client fetches besides channel messages: one page of
//! recorded values of a stream (`streams/{webId}/recorded`, also `interpolated` and `plot`,
//! which share its shape) or of a stream set (`streamsets/recorded`,
//! `streamsets/{webId}/recorded`). Values and timestamps are read by the same code as channel
//! messages (`parse.rs`), so a value means the same wherever it came from.

use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::errors::WebException;
use super::parse::{self, ItemKind, ItemProbe};
use super::stream::Stream;
use super::timestamp::TimestampCache;
use super::value::TimedValue;
use super::Content;

/// Which response a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageShape {
    /// `{"Items": [TimedValue, ...], "UnitsAbbreviation": ..., "Links": ...}`: the values of
    /// one stream, which the response does not name (the caller knows which it asked for).
    Stream,
    /// `{"Items": [{"WebId", "Name", "Path", "Items": [TimedValue, ...]}, ...]}`: several
    /// streams.
    StreamSet,
    /// `Items` is empty: no value, and nothing tells which of the two it is.
    Empty,
}

/// A recorded-values response that could not be read as a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestError {
    /// Not JSON (the parser's message, with line and column).
    Json(String),
    /// PI Web API's error body `{"Errors": ["..."]}` (sent with a 4xx / 5xx status).
    ErrorBody(Vec<String>),
    /// Only a `WebException` (no `Items`): the server failed while producing the response.
    WebException(WebException),
    /// Valid JSON of another shape; says what it looks like.
    Shape(String),
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestError::Json(e) => write!(f, "invalid JSON: {e}"),
            RestError::ErrorBody(errors) => {
                write!(f, "the server answered with errors: {}", errors.join("; "))
            }
            RestError::WebException(w) => write!(f, "the server reported a WebException: {w}"),
            RestError::Shape(e) => write!(f, "not a page of recorded values: {e}"),
        }
    }
}

impl std::error::Error for RestError {}

/// One page of recorded values, with the links to the pages around it.
///
/// PI Web API limits a response to `maxCount` values; when more are recorded in the range, a
/// page carries `Links.Next` (the request for the next page, as a URL) and the values that
/// fit. [`RecordedPage::next_page`] gives it; `None` means this was the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPage {
    shape: PageShape,
    streams: Vec<Stream>,
    next: Option<String>,
    previous: Option<String>,
    first: Option<String>,
    web_exception: Option<WebException>,
}

/// The top level of a page, its items kept as text until their kind is known.
#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(rename = "Items", borrow, default)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(rename = "Links", default)]
    links: Option<RawLinks>,
    #[serde(rename = "UnitsAbbreviation", default)]
    units: Option<String>,
    #[serde(rename = "WebException", borrow, default)]
    web_exception: Option<&'a RawValue>,
    #[serde(rename = "Errors", borrow, default)]
    errors: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct RawLinks {
    #[serde(rename = "Next", default)]
    next: Option<String>,
    #[serde(rename = "Previous", default)]
    previous: Option<String>,
    #[serde(rename = "First", default)]
    first: Option<String>,
}

impl RecordedPage {
    /// Read a response of `streams/{webId}/recorded` (or `interpolated`, `plot`) or of
    /// `streamsets/recorded` / `streamsets/{webId}/recorded`; the shape is told by the items
    /// (timed values or streams) and reported by [`RecordedPage::shape`].
    ///
    /// Errors: invalid JSON; an error body `{"Errors": [...]}`; a `WebException` without
    /// `Items`; any other shape (a single value, a summary, a collection, a batch response,
    /// items of mixed kinds, ...), named in the message.
    pub fn parse(text: &str) -> Result<RecordedPage, RestError> {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            return Err(not_an_object(text));
        }
        let raw: RawPage<'_> =
            serde_json::from_str(text).map_err(|e| RestError::Json(e.to_string()))?;
        let web_exception = raw
            .web_exception
            .map(parse::web_exception_from)
            .transpose()
            .map_err(|e| RestError::Shape(format!("WebException: {e}")))?;
        let Some(items) = raw.items else {
            return Err(no_items(text, raw.errors, web_exception));
        };
        if let Some(errors) = raw.errors {
            // An error body with items: not a page this reader can vouch for.
            let errors = parse::error_list_from(errors).map_err(RestError::Shape)?;
            return Err(RestError::ErrorBody(errors));
        }
        let links = raw.links.unwrap_or_default();
        let mut timestamps = TimestampCache::default();
        let (shape, streams) = match first_kind(&items)? {
            None => (PageShape::Empty, Vec::new()),
            Some(ItemKind::TimedValue) => {
                let mut values = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    expect_kind(item, i, ItemKind::TimedValue)?;
                    values.push(
                        parse::timed_value_from(item, &mut timestamps)
                            .map_err(|e| RestError::Shape(format!("Items[{i}]: {e}")))?,
                    );
                }
                let stream = Stream {
                    units: raw.units.unwrap_or_default(),
                    values,
                    ..Stream::default()
                };
                (PageShape::Stream, vec![stream])
            }
            Some(ItemKind::Stream) => {
                let mut streams = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    expect_kind(item, i, ItemKind::Stream)?;
                    streams.push(
                        parse::stream_from(item, &mut timestamps)
                            .map_err(|e| RestError::Shape(format!("Items[{i}]: {e}")))?,
                    );
                }
                (PageShape::StreamSet, streams)
            }
            Some(other) => unreachable!("first_kind returned {other:?}"),
        };
        Ok(RecordedPage {
            shape,
            streams,
            next: links.next,
            previous: links.previous,
            first: links.first,
            web_exception,
        })
    }

    pub fn shape(&self) -> PageShape {
        self.shape
    }

    /// The streams: one (without WebId, Name or Path) for a stream's page, one per stream for
    /// a stream set's, none for an empty page.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// The number of values of all streams.
    pub fn value_count(&self) -> usize {
        self.streams.iter().map(|s| s.values.len()).sum()
    }

    /// Every value with the index of its stream, stream by stream, in the order sent.
    pub fn values(&self) -> impl Iterator<Item = (usize, &TimedValue)> {
        self.streams
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.values.iter().map(move |v| (i, v)))
    }

    /// `Links.Next`: the URL of the next page, when the server cut this one at `maxCount`.
    pub fn next_page(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// `Links.Previous`, if sent.
    pub fn previous_page(&self) -> Option<&str> {
        self.previous.as_deref()
    }

    /// `Links.First`, if sent.
    pub fn first_page(&self) -> Option<&str> {
        self.first.as_deref()
    }

    /// A `WebException` sent beside the items (the values may be incomplete).
    pub fn web_exception(&self) -> Option<&WebException> {
        self.web_exception.as_ref()
    }

    /// The page as the content of a message (its streams and WebException; the links are
    /// dropped), to hand recorded values on as channel values are.
    pub fn into_content(self) -> Content {
        Content::new(self.streams, self.web_exception)
    }
}

/// The kind of an item, or a shape error when it is not an object.
fn kind_of(item: &RawValue, index: usize) -> Result<(ItemKind, Option<String>), RestError> {
    let probe = ItemProbe::of(item).ok_or_else(|| {
        RestError::Shape(format!(
            "Items[{index}] is not an object with distinct keys and a string Name: {}",
            excerpt(item.get())
        ))
    })?;
    Ok((probe.keys().kind(), probe.name.clone()))
}

/// The kind of the first item (`None`: no items), when it is one a page may hold.
fn first_kind(items: &[&RawValue]) -> Result<Option<ItemKind>, RestError> {
    let Some(first) = items.first() else {
        return Ok(None);
    };
    match kind_of(first, 0)? {
        (k @ (ItemKind::TimedValue | ItemKind::Stream), _) => Ok(Some(k)),
        (other, name) => Err(RestError::Shape(format!(
            "Items[0] {}",
            parse::item_shape(other, name.as_deref())
        ))),
    }
}

/// Checks that item `index` is of the page's kind.
fn expect_kind(item: &RawValue, index: usize, expected: ItemKind) -> Result<(), RestError> {
    let (kind, name) = kind_of(item, index)?;
    if kind == expected {
        return Ok(());
    }
    let noun = |k: ItemKind| match k {
        ItemKind::TimedValue => "a timed value",
        ItemKind::Stream => "a stream",
        ItemKind::Summary => "a summary",
        ItemKind::Other => "an object without values",
    };
    Err(RestError::Shape(format!(
        "Items[{index}]{} is {} but Items[0] is {}: items of mixed kinds",
        name.map_or_else(String::new, |n| format!(" ('{n}')")),
        noun(kind),
        noun(expected)
    )))
}

/// The error for an object without `Items` (absent or null).
fn no_items(
    text: &str,
    errors: Option<&RawValue>,
    web_exception: Option<WebException>,
) -> RestError {
    if let Some(errors) = errors {
        return match parse::error_list_from(errors) {
            Ok(errors) => RestError::ErrorBody(errors),
            Err(e) => RestError::Shape(format!("Errors: {e}")),
        };
    }
    if let Some(w) = web_exception {
        return RestError::WebException(w);
    }
    RestError::Shape(
        parse::members_shape(text).unwrap_or_else(|| "an object without Items".to_string()),
    )
}

/// The error for text that is not an object.
fn not_an_object(text: &str) -> RestError {
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(v) => RestError::Shape(format!(
            "a JSON array of {} elements (a page is an object with Items)",
            v.len()
        )),
        Err(e) => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => RestError::Shape(format!(
                "{} (a page is an object with Items)",
                excerpt(text)
            )),
            Err(_) => RestError::Json(e.to_string()),
        },
    }
}

/// At most 40 characters of `text`, for messages.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}
