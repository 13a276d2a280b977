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
pub(super) fn parse_with(
    text: &str,
    fast: bool,
) -> Result<(Vec<Stream>, Option<WebException>), String> {
    if text.trim().is_empty() {
        return Ok((Vec::new(), None));
    }
    if !text.trim_start().starts_with('{') {
        // Checked first: serde would read a top-level array positionally.
        return Err(serde_json::from_str::<IgnoredAny>(text)
            .err()
            .map_or_else(|| "not a JSON object".to_string(), |e| e.to_string()));
    }
    if let Some(out) = super::fast::parse(text).filter(|_| fast) {
        return Ok(out);
    }
    let raw: RawMessage<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut timestamps = TimestampCache::default();
    let streams = raw
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.into_stream(&mut timestamps))
        .collect();
    Ok((streams, raw.web_exception.map(RawWebException::into_model)))
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(rename = "Items", borrow, default)]
    items: Option<Vec<RawStream<'a>>>,
    #[serde(rename = "WebException", default)]
    web_exception: Option<RawWebException>,
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
}

impl RawStream<'_> {
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
        let errors: Vec<FieldError> = self
            .errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.0)
            .collect();
        build_value(
            timestamps,
            self.timestamp,
            self.value.map_or(Value::Null, typed_value),
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

/// Type a `Value` from its (already validated) JSON text.
fn typed_value(raw: &RawValue) -> Value {
    typed_value_text(raw.get())
}

/// Type a `Value` from its (valid) JSON text.
pub(super) fn typed_value_text(text: &str) -> Value {
    let text = text.trim();
    match text.as_bytes().first() {
        None | Some(b'n') => Value::Null,
        Some(b't') => Value::Bool(true),
        Some(b'f') => Value::Bool(false),
        Some(b'"') => serde_json::from_str::<String>(text)
            .map_or_else(|_| Value::Other(text.to_string()), Value::String),
        Some(b'{') => match serde_json::from_str::<RawDigital>(text) {
            Ok(RawDigital {
                name: Some(name),
                code,
                is_system,
            }) => Value::Digital(DigitalState {
                name,
                code: code.unwrap_or(0),
                is_system: is_system.unwrap_or(false),
            }),
            _ => Value::Other(text.to_string()),
        },
        Some(b'[') => Value::Other(text.to_string()),
        Some(_) => number(text),
    }
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

/// A digital state object; `code` must be an integer when present, else it is not one.
#[derive(Deserialize)]
struct RawDigital {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Value", default)]
    code: Option<i64>,
    #[serde(rename = "IsSystem", default, deserialize_with = "flag")]
    is_system: Option<bool>,
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
