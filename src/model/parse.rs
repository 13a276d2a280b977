//! JSON -> model. serde derives read straight into borrowed intermediate structs (unknown
//! fields skipped without building anything); each `Value` is kept as raw text and typed by
//! us, so an integer stays exact and "other" JSON is kept verbatim.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::errors::{FieldError, WebException};
use super::stream::Stream;
use super::timestamp::TimestampCache;
use super::value::{DigitalState, TimedValue, Timestamp, Value};

/// The streams and message-level WebException of `text`, or why it is not a message.
pub(super) fn parse(text: &str) -> Result<(Vec<Stream>, Option<WebException>), String> {
    parse_with(text, true)
}

/// `parse`, with or without the fast reader (`fast.rs`) first.
///
/// Text that is valid JSON but not shaped like a channel message (see `shape_error`) is an
/// error naming what it looks like; the fast reader gives up on all such text, so only this
/// path decides it.
pub(super) fn parse_with(
    text: &str,
    fast: bool,
) -> Result<(Vec<Stream>, Option<WebException>), String> {
    if text.trim().is_empty() {
        return Ok((Vec::new(), None));
    }
    if !text.trim_start().starts_with('{') {
        // Checked first: serde would read a top-level array positionally.
        return Err(not_an_object(text));
    }
    if let Some(out) = super::fast::parse(text).filter(|_| fast) {
        return Ok(out);
    }
    let raw: RawMessage<'_> = match serde_json::from_str(text) {
        Ok(raw) => raw,
        // A REST body whose items do not read as streams (a number as `Value`, ...): name
        // its shape rather than the type error.
        Err(e) => return Err(probe_shape(text).unwrap_or_else(|| e.to_string())),
    };
    if let Some(e) = raw_shape_error(&raw, text) {
        return Err(e);
    }
    let mut timestamps = TimestampCache::default();
    let streams = raw
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.into_stream(&mut timestamps))
        .collect();
    let mut web_exception = raw.web_exception.map(RawWebException::into_model);
    if let Some(errors) = raw.errors {
        // PI Web API's error body `{"Errors": [...]}`: a message-level error without a status.
        let errors = errors.into_iter().map(|e| e.0.to_string());
        web_exception
            .get_or_insert_with(WebException::default)
            .errors
            .extend(errors);
    }
    Ok((streams, web_exception))
}

/// Why `text` (not starting with `{`) is not a message.
pub(super) fn not_an_object(text: &str) -> String {
    match serde_json::from_str::<IgnoredAny>(text) {
        Err(e) => e.to_string(),
        Ok(_) => match serde_json::from_str::<Vec<IgnoredAny>>(text) {
            Ok(v) => format!(
                "not a channel message: a JSON array of {} elements (a channel message is an \
                 object with Items)",
                v.len()
            ),
            Err(_) => "not a JSON object".to_string(),
        },
    }
}

/// What an element of a top-level `Items` is, from which of its keys are present (not null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ItemKind {
    /// A stream: `Items`, `Value` or `WebException`, and no `Timestamp`.
    Stream,
    /// A timed value (`Timestamp`): the item of a single stream's recorded / interpolated /
    /// plot response.
    TimedValue,
    /// `{"Type": ..., "Value": {...}}` without `WebId` or `Items`: a summary response's item.
    Summary,
    /// None of these: an object of a collection (`dataservers`, `points`, ...).
    Other,
}

/// Keys present (and not null) in an item; see [`ItemKind`].
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ItemKeys {
    pub timestamp: bool,
    pub kind: bool,
    pub web_id: bool,
    pub items: bool,
    pub value: bool,
    pub web_exception: bool,
}

impl ItemKeys {
    pub(super) fn kind(self) -> ItemKind {
        if self.timestamp {
            ItemKind::TimedValue
        } else if self.kind && !self.web_id && !self.items {
            ItemKind::Summary
        } else if self.items || self.value || self.web_exception {
            ItemKind::Stream
        } else {
            ItemKind::Other
        }
    }
}

/// Why a message whose `Items` are of these kinds (`None`: not an object) is not a channel
/// message: one timed value or summary is enough; items without values only when all are
/// (a collection; beside streams they are streams without values, as they always were).
fn items_shape_error<'n>(
    kinds: impl Iterator<Item = Option<(ItemKind, Option<&'n str>)>> + Clone,
) -> Option<String> {
    let wrong = kinds.clone().enumerate().find_map(|(i, k)| match k {
        Some((kind @ (ItemKind::TimedValue | ItemKind::Summary), name)) => {
            items_error(kind, i, name)
        }
        _ => None,
    });
    if wrong.is_some() {
        return wrong;
    }
    let mut kinds = kinds.peekable();
    let (_, first_name) = (*kinds.peek()?)?;
    if kinds.all(|k| matches!(k, Some((ItemKind::Other, _)))) {
        return items_error(ItemKind::Other, 0, first_name);
    }
    None
}

/// Why a message whose `Items` hold an item of `kind` (at `index`) is not a channel message;
/// `None` for a stream.
fn items_error(kind: ItemKind, index: usize, name: Option<&str>) -> Option<String> {
    let what = match kind {
        ItemKind::Stream => return None,
        ItemKind::TimedValue => "is a timed value (Timestamp, Value) of no stream: this is the \
             response of a single stream's recorded, interpolated or plot request (read it with \
             RecordedPage::parse)"
            .to_string(),
        other => item_shape(other, name),
    };
    Some(format!("not a channel message: Items[{index}] {what}"))
}

/// What an item that is neither a stream nor a timed value is.
pub(super) fn item_shape(kind: ItemKind, name: Option<&str>) -> String {
    match kind {
        ItemKind::Summary => {
            "is a summary {Type, Value}: this is the response of a stream's summary request"
                .to_string()
        }
        ItemKind::Other => format!(
            "{}has no values (no Items, Value or WebException): this is a collection such as \
             dataservers or points",
            name.map_or_else(String::new, |n| format!("('{n}') "))
        ),
        ItemKind::Stream => "is a stream".to_string(),
        ItemKind::TimedValue => "is a timed value".to_string(),
    }
}

/// Why a message that deserialized is not a channel message, if it is not one.
fn raw_shape_error(raw: &RawMessage<'_>, text: &str) -> Option<String> {
    match &raw.items {
        Some(streams) => items_shape_error(
            streams
                .iter()
                .map(|s| Some((s.keys().kind(), s.name.as_deref()))),
        ),
        // No `Items` or `Items: null`: only rare text comes here (heartbeats take the fast path).
        None => members_shape(text).map(|e| format!("not a channel message: {e}")),
    }
}

/// For an object without a usable `Items`: what it is when it has members other than those of
/// a channel message (`Items`, `Links`, `WebException`, `Errors`).
pub(super) fn members_shape(text: &str) -> Option<String> {
    let members: std::collections::BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
    let known = ["Items", "Links", "WebException", "Errors"];
    if members.keys().all(|k| known.contains(&k.as_str())) {
        return None;
    }
    if members.contains_key("Timestamp") || members.contains_key("Value") {
        return Some(
            "a single value (Timestamp, Value) without Items, as the response of a stream's \
             value or end request"
                .to_string(),
        );
    }
    let sub_requests: Vec<&str> = members
        .iter()
        .filter(|(_, v)| is_batch_response(v.get()))
        .map(|(k, _)| k.as_str())
        .collect();
    if !sub_requests.is_empty() {
        return Some(format!(
            "a batch response (sub-requests {})",
            sub_requests.join(", ")
        ));
    }
    let names: Vec<&str> = members.keys().map(String::as_str).collect();
    Some(format!(
        "an object without Items (members {})",
        names.join(", ")
    ))
}

/// True for a batch sub-response `{"Status": 200, "Headers": {...}, "Content": ...}`.
fn is_batch_response(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Sub<'a> {
        #[serde(rename = "Status", borrow, default)]
        status: Option<&'a RawValue>,
        #[serde(rename = "Content", borrow, default)]
        content: Option<&'a RawValue>,
        #[serde(rename = "Headers", borrow, default)]
        headers: Option<&'a RawValue>,
    }
    text.trim_start().starts_with('{')
        && serde_json::from_str::<Sub<'_>>(text)
            .is_ok_and(|s| s.status.is_some() && (s.content.is_some() || s.headers.is_some()))
}

/// Keys of an item, read without typing their values (never fails on an object).
#[derive(Deserialize)]
pub(super) struct ItemProbe<'a> {
    #[serde(rename = "Timestamp", borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(rename = "Type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(rename = "WebId", borrow, default)]
    web_id: Option<&'a RawValue>,
    #[serde(rename = "Items", borrow, default)]
    items: Option<&'a RawValue>,
    #[serde(rename = "Value", borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(rename = "WebException", borrow, default)]
    web_exception: Option<&'a RawValue>,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

impl ItemProbe<'_> {
    pub(super) fn keys(&self) -> ItemKeys {
        ItemKeys {
            timestamp: self.timestamp.is_some(),
            kind: self.kind.is_some(),
            web_id: self.web_id.is_some(),
            items: self.items.is_some(),
            value: self.value.is_some(),
            web_exception: self.web_exception.is_some(),
        }
    }

    /// The probe of one item's JSON text, if it is an object.
    pub(super) fn of(item: &RawValue) -> Option<ItemProbe<'_>> {
        if !item.get().trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(item.get()).ok()
    }
}

/// For text that did not deserialize as a message: the shape error, when it is valid JSON
/// whose `Items` are not streams (or which has no `Items`).
fn probe_shape(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "Items", borrow, default)]
        items: Option<Vec<&'a RawValue>>,
    }
    let probe: Probe<'_> = serde_json::from_str(text).ok()?;
    match probe.items {
        Some(items) => {
            let probes: Vec<Option<ItemProbe<'_>>> =
                items.iter().map(|item| ItemProbe::of(item)).collect();
            items_shape_error(
                probes
                    .iter()
                    .map(|p| p.as_ref().map(|p| (p.keys().kind(), p.name.as_deref()))),
            )
        }
        None => members_shape(text).map(|e| format!("not a channel message: {e}")),
    }
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(rename = "Items", borrow, default)]
    items: Option<Vec<RawStream<'a>>>,
    #[serde(rename = "WebException", default)]
    web_exception: Option<RawWebException>,
    #[serde(rename = "Errors", default)]
    errors: Option<Vec<RawFieldError>>,
}

#[derive(Deserialize)]
struct RawStream<'a> {
    #[serde(rename = "WebId", default)]
    web_id: Option<String>,
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Path", default)]
    path: Option<String>,
    #[serde(rename = "UnitsAbbreviation", default)]
    units: Option<String>,
    #[serde(rename = "Items", borrow, default)]
    items: Option<Vec<RawTimedValue<'a>>>,
    #[serde(rename = "Value", borrow, default)]
    value: Option<RawTimedValue<'a>>,
    #[serde(rename = "WebException", default)]
    web_exception: Option<RawWebException>,
    /// Present only when the item is not a stream (see `ItemKind`).
    #[serde(rename = "Timestamp", default)]
    timestamp: Option<IgnoredAny>,
    #[serde(rename = "Type", default)]
    kind: Option<IgnoredAny>,
}

impl RawStream<'_> {
    fn keys(&self) -> ItemKeys {
        ItemKeys {
            timestamp: self.timestamp.is_some(),
            kind: self.kind.is_some(),
            web_id: self.web_id.is_some(),
            items: self.items.is_some(),
            value: self.value.is_some(),
            web_exception: self.web_exception.is_some(),
        }
    }

    fn into_stream(self, timestamps: &mut TimestampCache) -> Stream {
        let mut values: Vec<TimedValue> = self
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.into_value(timestamps))
            .collect();
        if let Some(v) = self.value {
            values.push(v.into_value(timestamps));
        }
        Stream {
            web_id: self.web_id.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            path: self.path.unwrap_or_default(),
            units: self.units.unwrap_or_default(),
            web_exception: self.web_exception.map(RawWebException::into_model),
            values,
        }
    }
}

#[derive(Deserialize)]
struct RawTimedValue<'a> {
    #[serde(rename = "Timestamp", default)]
    timestamp: Option<String>,
    #[serde(rename = "Value", borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(rename = "UnitsAbbreviation", default)]
    units: Option<String>,
    #[serde(rename = "Good", default, deserialize_with = "flag")]
    good: Option<bool>,
    #[serde(rename = "Questionable", default, deserialize_with = "flag")]
    questionable: Option<bool>,
    #[serde(rename = "Substituted", default, deserialize_with = "flag")]
    substituted: Option<bool>,
    #[serde(rename = "Annotated", default, deserialize_with = "flag")]
    annotated: Option<bool>,
    #[serde(rename = "Errors", default)]
    errors: Option<Vec<RawFieldError>>,
    #[serde(rename = "WebException", default)]
    web_exception: Option<RawWebException>,
}

impl RawTimedValue<'_> {
    fn into_value(self, timestamps: &mut TimestampCache) -> TimedValue {
        let mut errors: Vec<FieldError> = self
            .errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.0)
            .collect();
        let (value, value_errors) = self.value.map_or((Value::Null, Vec::new()), typed_value);
        errors.extend(value_errors);
        build_value(
            timestamps,
            self.timestamp,
            value,
            self.units,
            [
                self.good,
                self.questionable,
                self.substituted,
                self.annotated,
            ],
            errors,
            self.web_exception.map(RawWebException::into_model),
        )
    }
}

/// A value from its fields as read (flags: Good, Questionable, Substituted, Annotated);
/// `timestamps` is the message's cache (see `TimestampCache`).
pub(super) fn build_value(
    timestamps: &mut TimestampCache,
    timestamp: Option<String>,
    value: Value,
    units: Option<String>,
    flags: [Option<bool>; 4],
    mut errors: Vec<FieldError>,
    web_exception: Option<WebException>,
) -> TimedValue {
    let timestamp_text = timestamp.unwrap_or_default();
    let timestamp = if timestamp_text.is_empty() {
        Timestamp::Missing
    } else {
        match timestamps.parse(&timestamp_text) {
            Ok(ns) => Timestamp::Valid(ns),
            Err(e) => {
                errors.push(FieldError {
                    field_name: "Timestamp".to_string(),
                    messages: vec![format!("invalid timestamp '{timestamp_text}': {e}")],
                });
                Timestamp::Invalid {
                    text: timestamp_text.clone(),
                    reason: e.to_string(),
                }
            }
        }
    };
    let [good, questionable, substituted, annotated] = flags;
    TimedValue {
        timestamp,
        timestamp_text,
        value,
        units,
        good,
        questionable,
        substituted,
        annotated,
        errors,
        web_exception,
    }
}

/// Type a `Value` from its (already validated) JSON text; the errors it carries.
fn typed_value(raw: &RawValue) -> (Value, Vec<FieldError>) {
    typed_value_text(raw.get())
}

/// Type a `Value` from its (valid) JSON text. An object with `Errors` (the documented bad-value
/// form `"Value": {"Errors": [...]}`) gives its errors, and is `Null` unless it is also a
/// digital state.
pub(super) fn typed_value_text(text: &str) -> (Value, Vec<FieldError>) {
    let text = text.trim();
    let value = match text.as_bytes().first() {
        None | Some(b'n') => Value::Null,
        Some(b't') => Value::Bool(true),
        Some(b'f') => Value::Bool(false),
        Some(b'"') => serde_json::from_str::<String>(text)
            .map_or_else(|_| Value::Other(text.to_string()), Value::String),
        Some(b'{') => {
            return match serde_json::from_str::<RawDigital>(text) {
                Ok(RawDigital {
                    name,
                    code,
                    is_system,
                    errors,
                }) => {
                    let value = match name {
                        Some(name) => Value::Digital(DigitalState {
                            name,
                            code: code.unwrap_or(0),
                            is_system: is_system.unwrap_or(false),
                        }),
                        None if errors.is_some() => Value::Null,
                        None => Value::Other(text.to_string()),
                    };
                    let errors = errors.unwrap_or_default().into_iter().map(|e| e.0);
                    (value, errors.collect())
                }
                Err(_) => (Value::Other(text.to_string()), Vec::new()),
            }
        }
        Some(b'[') => Value::Other(text.to_string()),
        Some(_) => number(text),
    };
    (value, Vec::new())
}

/// A JSON number: an integer when it has no fraction or exponent and fits an `i64`.
pub(super) fn number(text: &str) -> Value {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
    }
    // JSON number syntax is a subset of Rust's float syntax; the parse is correctly rounded.
    text.parse::<f64>()
        .map_or_else(|_| Value::Other(text.to_string()), Value::Double)
}

/// A digital state object (or a bad value's `{"Errors": [...]}`); `code` must be an integer
/// when present, else it is not one.
#[derive(Deserialize)]
struct RawDigital {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Value", default)]
    code: Option<i64>,
    #[serde(rename = "IsSystem", default, deserialize_with = "flag")]
    is_system: Option<bool>,
    /// The bad-value form `{"Errors": [...]}`.
    #[serde(rename = "Errors", default)]
    errors: Option<Vec<RawFieldError>>,
}

#[derive(Deserialize)]
struct RawWebException {
    #[serde(rename = "StatusCode", default)]
    status_code: Option<i64>,
    #[serde(rename = "Errors", default)]
    errors: Option<Vec<StringOrAny>>,
}

impl RawWebException {
    fn into_model(self) -> WebException {
        WebException {
            status_code: self
                .status_code
                .map_or(0, |c| c.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
            errors: self
                .errors
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| s.0)
                .collect(),
        }
    }
}

/// A string, or anything else (skipped).
struct StringOrAny(Option<String>);

impl<'de> Deserialize<'de> for StringOrAny {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrAny;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StringOrAny, E> {
                Ok(StringOrAny(Some(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<StringOrAny, E> {
                Ok(StringOrAny(Some(s)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StringOrAny, E> {
                Ok(StringOrAny(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StringOrAny, E> {
                Ok(StringOrAny(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StringOrAny, E> {
                Ok(StringOrAny(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StringOrAny, E> {
                Ok(StringOrAny(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringOrAny, E> {
                Ok(StringOrAny(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringOrAny, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StringOrAny(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrAny, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringOrAny(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An entry of `Errors`: `{"FieldName": ..., "Message": [...] or "..."}`, or a plain string.
struct RawFieldError(FieldError);

impl<'de> Deserialize<'de> for RawFieldError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFieldError;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an error object {FieldName, Message} or a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawFieldError, E> {
                Ok(RawFieldError(FieldError {
                    field_name: String::new(),
                    messages: vec![s.to_string()],
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFieldError, A::Error> {
                let mut e = FieldError::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "FieldName" => {
                            e.field_name = map.next_value::<StringOrAny>()?.0.unwrap_or_default()
                        }
                        "Message" | "Messages" => e.messages = map.next_value::<Messages>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawFieldError(e))
            }
        }
        d.deserialize_any(V)
    }
}

/// `Message`: an array of strings, or one string.
struct Messages(Vec<String>);

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Messages;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Messages, E> {
                Ok(Messages(vec![s.to_string()]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Messages, E> {
                Ok(Messages(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Messages, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<StringOrAny>()? {
                    out.extend(s.0);
                }
                Ok(Messages(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A quality flag: a bool, or the string "true"/"false" (any case, spaces around ignored);
/// `null` is absent.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean or \"true\"/\"false\"")
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Option<bool>, E> {
            Ok(Some(b))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<bool>, E> {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                Ok(Some(true))
            } else if s.eq_ignore_ascii_case("false") {
                Ok(Some(false))
            } else {
                Err(E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<bool>, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

// ---------------------------------------------------------------------------------------------
// For the REST readers (`rest.rs`): one item at a time, from its JSON text.

/// One timed value from its JSON text (an object).
pub(super) fn timed_value_from(
    item: &RawValue,
    timestamps: &mut TimestampCache,
) -> Result<TimedValue, String> {
    let raw: RawTimedValue<'_> = serde_json::from_str(item.get()).map_err(|e| e.to_string())?;
    Ok(raw.into_value(timestamps))
}

/// One stream (`WebId`, `Name`, `Path`, `Items` of timed values, ...) from its JSON text.
pub(super) fn stream_from(
    item: &RawValue,
    timestamps: &mut TimestampCache,
) -> Result<Stream, String> {
    let raw: RawStream<'_> = serde_json::from_str(item.get()).map_err(|e| e.to_string())?;
    Ok(raw.into_stream(timestamps))
}

/// A WebException object from its JSON text.
pub(super) fn web_exception_from(item: &RawValue) -> Result<WebException, String> {
    serde_json::from_str::<RawWebException>(item.get())
        .map(RawWebException::into_model)
        .map_err(|e| e.to_string())
}

/// A top-level `Errors` list (strings or `{FieldName, Message}` objects) as lines of text.
pub(super) fn error_list_from(item: &RawValue) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<RawFieldError>>(item.get())
        .map(|v| v.into_iter().map(|e| e.0.to_string()).collect())
        .map_err(|e| e.to_string())
}
