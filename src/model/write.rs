//! Channel-shaped JSON written from typed streams: the text of the messages the library makes
//! itself (recorded values handed on as messages, a live message with some values taken out).
//! Reading the text back gives the same streams (checked by the tests below).

use std::fmt::Write as _;

use super::errors::{FieldError, WebException};
use super::stream::Stream;
use super::value::{TimedValue, Timestamp, Value};

/// `{"Links":{},"Items":[stream, ...]}` with every stream's WebId, Name, Path, units and values,
/// and the message-level `WebException` if any; flags are written only when they were sent.
pub fn channel_json(streams: &[Stream], web_exception: Option<&WebException>) -> String {
    let mut out = String::with_capacity(64 + streams.len() * 256);
    out.push_str(r#"{"Links":{},"#);
    if let Some(w) = web_exception {
        out.push_str(r#""WebException":"#);
        push_web_exception(&mut out, w);
        out.push(',');
    }
    out.push_str(r#""Items":["#);
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"WebId":"#);
        push_str(&mut out, &s.web_id);
        out.push_str(r#","Name":"#);
        push_str(&mut out, &s.name);
        out.push_str(r#","Path":"#);
        push_str(&mut out, &s.path);
        out.push_str(r#","UnitsAbbreviation":"#);
        push_str(&mut out, &s.units);
        if let Some(w) = &s.web_exception {
            out.push_str(r#","WebException":"#);
            push_web_exception(&mut out, w);
        }
        out.push_str(r#","Items":["#);
        for (k, v) in s.values.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            push_value(&mut out, v);
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

fn push_value(out: &mut String, v: &TimedValue) {
    out.push('{');
    if !matches!(v.timestamp, Timestamp::Missing) {
        out.push_str(r#""Timestamp":"#);
        push_str(out, &v.timestamp_text);
        out.push(',');
    }
    out.push_str(r#""Value":"#);
    match &v.value {
        Value::Null => out.push_str("null"),
        Value::Double(d) if d.is_finite() => {
            let _ = write!(out, "{d:?}");
        }
        // Not from JSON (which has no NaN or infinity): written as text, never as invalid JSON.
        Value::Double(d) => push_str(out, &d.to_string()),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => push_str(out, s),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Digital(d) => {
            out.push_str(r#"{"Name":"#);
            push_str(out, &d.name);
            let _ = write!(out, r#","Value":{},"IsSystem":{}}}"#, d.code, d.is_system);
        }
        Value::Other(raw) => out.push_str(raw),
    }
    if let Some(u) = &v.units {
        out.push_str(r#","UnitsAbbreviation":"#);
        push_str(out, u);
    }
    for (name, flag) in [
        ("Good", v.good),
        ("Questionable", v.questionable),
        ("Substituted", v.substituted),
        ("Annotated", v.annotated),
    ] {
        if let Some(b) = flag {
            let _ = write!(out, r#","{name}":{b}"#);
        }
    }
    // The reader adds a `Timestamp` error for an invalid timestamp itself.
    let errors: Vec<&FieldError> = v
        .errors
        .iter()
        .filter(|e| {
            !(matches!(v.timestamp, Timestamp::Invalid { .. }) && e.field_name == "Timestamp")
        })
        .collect();
    if !errors.is_empty() {
        out.push_str(r#","Errors":["#);
        for (i, e) in errors.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"FieldName":"#);
            push_str(out, &e.field_name);
            out.push_str(r#","Message":"#);
            push_str_list(out, &e.messages);
            out.push('}');
        }
        out.push(']');
    }
    if let Some(w) = &v.web_exception {
        out.push_str(r#","WebException":"#);
        push_web_exception(out, w);
    }
    out.push('}');
}

fn push_web_exception(out: &mut String, w: &WebException) {
    let _ = write!(out, r#"{{"StatusCode":{},"Errors":"#, w.status_code);
    push_str_list(out, &w.errors);
    out.push('}');
}

fn push_str_list(out: &mut String, list: &[String]) {
    out.push('[');
    for (i, m) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, m);
    }
    out.push(']');
}

/// `s` as a JSON string literal.
fn push_str(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires; a str always serializes.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string()));
}

#[cfg(test)]
mod tests {
    use super::super::Content;
    use super::*;

    #[test]
    fn written_text_reads_back_as_the_same_streams() {
        let text = r#"{"Items":[{"WebId":"F1A","Name":"n \"q\"","Path":"\\\\S\\P","UnitsAbbreviation":"m",
            "Items":[
              {"Timestamp":"2024-06-01T11:00:00.1234567Z","Value":1.5,"Good":true,"Questionable":false},
              {"Timestamp":"2024-06-01T11:00:00.1234567Z","Value":5,"UnitsAbbreviation":"kg"},
              {"Timestamp":"2024-06-01T11:00:01Z","Value":{"Name":"Shutdown","Value":254,"IsSystem":true},"Good":false},
              {"Timestamp":"2024-06-01T11:00:02Z","Value":null,"Errors":[{"FieldName":"Value","Message":["bad"]}]},
              {"Timestamp":"2024-06-01T11:00:03Z","Value":"text ✓","Substituted":true,"Annotated":true},
              {"Timestamp":"2024-06-01T11:00:04Z","Value":true,"WebException":{"StatusCode":502,"Errors":["x"]}},
              {"Timestamp":"2024-06-01T11:00:05Z","Value":[1,2]},
              {"Timestamp":"not a time","Value":2.0}
            ]},
            {"WebId":"F1B","Name":"b","Items":[]}]}"#;
        let original = Content::parse(text);
        assert!(!original.is_unparsable(), "{:?}", original.parse_error());
        assert_eq!(original.value_count(), 8);
        let written = channel_json(original.streams(), None);
        let again = Content::parse(&written);
        assert_eq!(again.streams(), original.streams(), "{written}");
        let w = WebException {
            status_code: 502,
            errors: vec!["upstream".into()],
        };
        let again = Content::parse(&channel_json(original.streams(), Some(&w)));
        assert_eq!(again.web_exception(), Some(&w));
        assert_eq!(again.streams(), original.streams());
    }
}
