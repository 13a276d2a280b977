//! The message model: golden messages (PROTOCOL.md's sample and each documented variant)
//! checked value by value through the C accessors, timestamps, a recorded multi-stream file,
//! property tests (never panics, round-trips), and live simulator messages.

use super::common;

use std::ffi::{c_char, CStr};
use std::ptr;

use crate::*;
use piwebasync::model::*;
use piwebasync::{Channel, ChannelConfig, Message};
use proptest::prelude::*;
use serde_json::{json, Map, Value as J};

// ---------------------------------------------------------------------------------------------
// Helpers: the C accessors seen from Rust.

struct CMsg(*mut pwa_message);

impl CMsg {
    fn new(json: &str) -> CMsg {
        let mut m = ptr::null_mut();
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        let st = unsafe { pwa_message_from_json(json.as_ptr().cast(), json.len(), &mut m) };
        assert_eq!(st, PWA_OK);
        assert!(!m.is_null());
        CMsg(m)
    }

    fn info(&self) -> pwa_message_info {
        // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
        let mut out = unsafe { std::mem::zeroed() };
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        assert_eq!(unsafe { pwa_message_get_info(self.0, &mut out) }, PWA_OK);
        out
    }

    fn stream(&self, i: usize) -> pwa_stream_info {
        // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
        let mut out = unsafe { std::mem::zeroed() };
        assert_eq!(
            // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
            unsafe { pwa_message_stream(self.0, i, &mut out) },
            PWA_OK,
            "stream {i}: {}",
            last_error()
        );
        out
    }

    fn value(&self, k: usize) -> pwa_value {
        // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
        let mut out = unsafe { std::mem::zeroed() };
        assert_eq!(
            // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
            unsafe { pwa_message_value(self.0, k, &mut out) },
            PWA_OK,
            "value {k}: {}",
            last_error()
        );
        out
    }
}

impl Drop for CMsg {
    fn drop(&mut self) {
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_free(self.0) }
    }
}

fn s(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: a NUL-terminated string the library wrote or returned, alive here.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

fn last_error() -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe { pwa_last_error(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
    s(buf.as_ptr())
}

const SAMPLE: &str = r#"{"Links": {},
 "Items": [
  {"WebId": "F1DPEmoryo_bV0GzilxLXH31pgjowAAAQUJDX1BJX09QU1xBSUM2ODEwNTkuUFY",
   "Name": "AIC681059.PV", "Path": "\\\\ABC_PI_Ops\\AIC681059.PV", "Links": {},
   "UnitsAbbreviation": "",
   "Items": [
     {"Timestamp": "2022-12-09T14:06:38.4350128Z", "Value": 50.40764,
      "UnitsAbbreviation": "", "Good": true, "Questionable": false,
      "Substituted": false, "Annotated": false}]}]}"#;

/// One value wrapped in a one-stream message.
fn one(value: &str) -> String {
    format!(r#"{{"Items":[{{"WebId":"F1DPa","Name":"A","Items":[{value}]}}]}}"#)
}

// ---------------------------------------------------------------------------------------------
// Golden messages.

#[test]
fn protocol_sample_value_by_value_through_the_c_accessors() {
    let m = CMsg::new(SAMPLE);
    let info = m.info();
    assert_eq!((info.stream_count, info.value_count), (1, 1));
    assert_eq!(
        (
            info.is_heartbeat,
            info.is_unparsable,
            info.has_web_exception
        ),
        (0, 0, 0)
    );
    assert_eq!(s(info.parse_error), "");
    let st = m.stream(0);
    assert_eq!(
        s(st.web_id),
        "F1DPEmoryo_bV0GzilxLXH31pgjowAAAQUJDX1BJX09QU1xBSUM2ODEwNTkuUFY"
    );
    assert_eq!(s(st.name), "AIC681059.PV");
    assert_eq!(s(st.path), r"\\ABC_PI_Ops\AIC681059.PV");
    assert_eq!(s(st.units), "");
    assert_eq!(
        (st.first_value, st.value_count, st.has_web_exception),
        (0, 1, 0)
    );
    let v = m.value(0);
    assert_eq!(v.kind, PWA_VALUE_DOUBLE);
    assert_eq!(v.number, 50.40764);
    assert_eq!(v.integer, 50);
    assert_eq!(s(v.text), "50.40764");
    assert_eq!(
        (v.timestamp_valid, v.timestamp_ns),
        (1, 1_670_594_798_435_012_800)
    );
    assert_eq!(s(v.timestamp_text), "2022-12-09T14:06:38.4350128Z");
    assert_eq!(
        (v.good, v.questionable, v.substituted, v.annotated),
        (1, 0, 0, 0)
    );
    assert_eq!(
        (v.error_count, v.has_web_exception, v.stream_index),
        (0, 0, 0)
    );
    assert_eq!(s(v.errors), "");
    // The same pointers on a second call: strings are made once per message.
    assert_eq!(m.value(0).text, v.text);
    // Out of range.
    // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
    let mut out = unsafe { std::mem::zeroed() };
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_value(m.0, 1, &mut out) },
        PWA_ERR_INVALID_ARGUMENT
    );
    assert!(
        last_error().contains("value index 1 is out of range"),
        "{}",
        last_error()
    );
    // SAFETY: a C struct of integers and pointers, for which all zero bytes is a valid value.
    let mut out = unsafe { std::mem::zeroed() };
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_stream(m.0, 1, &mut out) },
        PWA_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_stream(ptr::null(), 0, &mut out) },
        PWA_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_stream(m.0, 0, ptr::null_mut()) },
        PWA_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn single_value_per_stream_is_a_one_element_list() {
    let m = CMsg::new(
        r#"{"Items":[{"WebId":"F1Ab1","Name":"Flow","Path":"\\\\AF\\DB\\E|Flow",
            "Value":{"Timestamp":"2019-03-01T10:00:00Z","Value":3,"Good":true}},
           {"WebId":"F1Ab2","Name":"Temp",
            "Value":{"Timestamp":"2019-03-01T10:00:01Z","Value":20.5,"Good":true}}]}"#,
    );
    assert_eq!(m.info().value_count, 2);
    assert_eq!(m.stream(1).first_value, 1);
    let v = m.value(1);
    assert_eq!(
        (v.kind, v.number, v.stream_index),
        (PWA_VALUE_DOUBLE, 20.5, 1)
    );
    assert_eq!(m.value(0).kind, PWA_VALUE_INT64);
    assert_eq!(s(m.stream(0).path), r"\\AF\DB\E|Flow");
}

#[test]
fn booleans_as_strings() {
    let m = CMsg::new(&one(
        r#"{"Timestamp":"2022-01-01T00:00:00Z","Value":1.5,"Good":"true","Questionable":"TRUE","Substituted":"false","Annotated":" True "}"#,
    ));
    let v = m.value(0);
    assert_eq!(
        (v.good, v.questionable, v.substituted, v.annotated),
        (1, 1, 0, 1)
    );
    let bad = CMsg::new(&one(
        r#"{"Timestamp":"2022-01-01T00:00:00Z","Value":1,"Good":"yes"}"#,
    ));
    assert_eq!(bad.info().is_unparsable, 1);
    assert!(s(bad.info().parse_error).contains("yes"));
}

#[test]
fn every_value_kind() {
    let cases: &[(&str, i32, &str, i64)] = &[
        ("3.5", PWA_VALUE_DOUBLE, "3.5", 3),
        ("-2e3", PWA_VALUE_DOUBLE, "-2000.0", -2000),
        ("7", PWA_VALUE_INT64, "7", 7),
        (
            "-9223372036854775808",
            PWA_VALUE_INT64,
            "-9223372036854775808",
            i64::MIN,
        ),
        (
            "18446744073709551615",
            PWA_VALUE_DOUBLE,
            "1.8446744073709552e19",
            i64::MAX,
        ),
        (r#""Phase \"2\"""#, PWA_VALUE_STRING, "Phase \"2\"", 0),
        ("true", PWA_VALUE_BOOL, "true", 1),
        ("false", PWA_VALUE_BOOL, "false", 0),
        (
            r#"{"Name":"Shutdown","Value":254,"IsSystem":true}"#,
            PWA_VALUE_DIGITAL,
            "Shutdown",
            254,
        ),
        (r#"{"Name":"Open","Value":1}"#, PWA_VALUE_DIGITAL, "Open", 1),
        ("null", PWA_VALUE_NULL, "", 0),
        ("[1,2]", PWA_VALUE_OTHER, "[1,2]", 0),
        (
            r#"{"Name":"x","Value":"y"}"#,
            PWA_VALUE_OTHER,
            r#"{"Name":"x","Value":"y"}"#,
            0,
        ),
    ];
    for (json, kind, text, integer) in cases {
        let m = CMsg::new(&one(&format!(
            r#"{{"Timestamp":"2022-01-01T00:00:00Z","Value":{json},"Good":true}}"#
        )));
        let v = m.value(0);
        assert_eq!(
            (v.kind, s(v.text).as_str(), v.integer),
            (*kind, *text, *integer),
            "{json}"
        );
        assert_ne!(s(pwa_value_kind_name(v.kind)), "UNKNOWN");
    }
    let m = CMsg::new(&one(
        r#"{"Timestamp":"2022-01-01T00:00:00Z","Value":{"Name":"Shutdown","Value":254,"IsSystem":true},"Good":false}"#,
    ));
    assert_eq!((m.value(0).is_system, m.value(0).good), (1, 0));
    // No Value at all: null.
    let m = CMsg::new(&one(r#"{"Timestamp":"2022-01-01T00:00:00Z"}"#));
    assert_eq!(m.value(0).kind, PWA_VALUE_NULL);
    assert!(m.value(0).number.is_nan());
}

#[test]
fn null_with_errors() {
    let m = CMsg::new(&one(
        r#"{"Timestamp":"1970-01-01T00:00:00Z","Value":null,"Good":false,
            "Errors":[{"FieldName":"Value","Message":["Point not found.","Second."]},{"FieldName":"Units","Message":"one string"},"plain"]}"#,
    ));
    let v = m.value(0);
    assert_eq!((v.kind, v.good, v.error_count), (PWA_VALUE_NULL, 0, 3));
    assert_eq!(
        s(v.errors),
        "Value: Point not found.; Second.\nUnits: one string\nplain"
    );
    // Good absent: false for a null with errors, true otherwise.
    let m = CMsg::new(&one(
        r#"{"Timestamp":"1970-01-01T00:00:00Z","Value":null,"Errors":[{"FieldName":"Value","Message":["x"]}]}"#,
    ));
    assert_eq!(m.value(0).good, 0);
    let m = CMsg::new(&one(r#"{"Timestamp":"1970-01-01T00:00:00Z","Value":1}"#));
    assert_eq!(
        (
            m.value(0).good,
            m.value(0).questionable,
            m.value(0).annotated
        ),
        (1, 0, 0)
    );
}

#[test]
fn web_exception_at_every_level() {
    let m = CMsg::new(
        r#"{"WebException":{"StatusCode":502,"Errors":["Bad gateway.","Retry."]},
            "Items":[{"WebId":"F1DPa","WebException":{"StatusCode":404,"Errors":["Not found."]},"Items":[
              {"Timestamp":"2022-01-01T00:00:00Z","Value":1,"WebException":{"StatusCode":500,"Errors":["Oops."]}}]}]}"#,
    );
    let info = m.info();
    assert_eq!(
        (info.has_web_exception, info.web_exception_status),
        (1, 502)
    );
    assert_eq!(s(info.web_exception_errors), "Bad gateway.\nRetry.");
    let st = m.stream(0);
    assert_eq!((st.has_web_exception, st.web_exception_status), (1, 404));
    assert_eq!(s(st.web_exception_errors), "Not found.");
    let v = m.value(0);
    assert_eq!(
        (v.has_web_exception, v.web_exception_status, v.good),
        (1, 500, 0)
    );
    assert_eq!(s(v.web_exception_errors), "Oops.");
    // Only a WebException: not a heartbeat.
    let m = CMsg::new(r#"{"WebException":{"StatusCode":503}}"#);
    assert_eq!(
        (m.info().is_heartbeat, m.info().web_exception_status),
        (0, 503)
    );
    let m = CMsg::new(
        r#"{"Items":[{"WebId":"x","WebException":{"StatusCode":503,"Errors":[]},"Items":[]}]}"#,
    );
    assert_eq!(m.info().is_heartbeat, 0);
}

#[test]
fn missing_optional_and_unknown_fields() {
    let m = CMsg::new(
        r#"{"NewTopLevel":[{"a":1}],"Items":[{"WebId":"F1DPa","Extra":{"x":[1,{"y":null}]},"Items":[
            {"Timestamp":"2022-01-01T00:00:00Z","Value":2.5,"Good":true,"Questionable":false,"Substituted":false,"Future":true}]}]}"#,
    );
    let st = m.stream(0);
    assert_eq!(
        (s(st.name), s(st.path), s(st.units)),
        (String::new(), String::new(), String::new())
    );
    let v = m.value(0);
    assert_eq!((v.number, v.annotated), (2.5, 0));
    assert_eq!(s(v.units), "");
}

#[test]
fn heartbeats() {
    for text in [
        "",
        " \n\t ",
        "{}",
        r#"{"Links":{}}"#,
        r#"{"Items":[]}"#,
        r#"{"Items":null}"#,
        r#"{"Items":[{"WebId":"a","Items":[]}]}"#,
    ] {
        let m = CMsg::new(text);
        let mut hb = -1;
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        assert_eq!(unsafe { pwa_message_is_heartbeat(m.0, &mut hb) }, PWA_OK);
        assert_eq!((hb, m.info().is_unparsable), (1, 0), "{text:?}");
        assert!(Content::parse(text).is_heartbeat());
    }
    assert!(!Content::parse(SAMPLE).is_heartbeat());
}

#[test]
fn unparsable_frames_keep_their_text_and_error() {
    for text in [
        "not json",
        "[1,2,3]",
        "null",
        "42",
        r#"{"Items":5}"#,
        r#"{"Items":[{"Items":[{"Timestamp":5}]}]}"#,
        "{\"Items\":[",
        "{} trailing",
    ] {
        let m = CMsg::new(text);
        let info = m.info();
        assert_eq!(
            (
                info.is_unparsable,
                info.is_heartbeat,
                info.stream_count,
                info.value_count
            ),
            (1, 0, 0, 0),
            "{text}"
        );
        assert!(!s(info.parse_error).is_empty());
        let mut len = 0;
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        let json = unsafe { pwa_message_json(m.0, &mut len) };
        assert_eq!(s(json), text);
        let mut bad = 0;
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        assert_eq!(unsafe { pwa_message_is_unparsable(m.0, &mut bad) }, PWA_OK);
        assert_eq!(bad, 1);
        // Copy the parse error out.
        let mut needed = 0;
        assert_eq!(
            // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
            unsafe {
                pwa_message_copy_string(
                    m.0,
                    PWA_FIELD_PARSE_ERROR,
                    0,
                    ptr::null_mut(),
                    0,
                    &mut needed,
                )
            },
            PWA_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(needed, s(info.parse_error).len() + 1);
    }
    let c = Content::parse("{\"Items\":[");
    assert!(
        c.parse_error().unwrap().contains("line 1"),
        "{:?}",
        c.parse_error()
    );
}

#[test]
fn from_json_refuses_null_and_bad_utf8() {
    let mut m = ptr::null_mut();
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_from_json(ptr::null(), 0, &mut m) },
        PWA_ERR_INVALID_ARGUMENT
    );
    let bad = [b'{', 0xff, b'}'];
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_from_json(bad.as_ptr().cast(), 3, &mut m) },
        PWA_ERR_INVALID_ARGUMENT
    );
    assert!(m.is_null());
    // SIZE_MAX: NUL-terminated.
    assert_eq!(
        // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
        unsafe { pwa_message_from_json(c"{}".as_ptr(), usize::MAX, &mut m) },
        PWA_OK
    );
    // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
    unsafe { pwa_message_free(m) };
}

#[test]
fn the_rust_api_parses_once_and_lazily() {
    let msg = Message::from_json(SAMPLE);
    let a: *const Content = msg.content();
    let b: *const Content = msg.content();
    assert_eq!(a, b);
    let c = msg.content();
    assert_eq!(c.streams()[0].values[0].value, Value::Double(50.40764));
    let r = c.value(0).unwrap();
    assert_eq!((r.stream_index, r.units()), (0, ""));
    assert_eq!(c.values().count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Timestamps.

#[test]
fn timestamps_every_fraction_width_and_offset() {
    let base = 1_670_594_798_000_000_000i64; // 2022-12-09T14:06:38Z
    let digits = "4350128";
    for width in 0..=7 {
        let frac = &digits[..width];
        let text = if width == 0 {
            "2022-12-09T14:06:38Z".to_string()
        } else {
            format!("2022-12-09T14:06:38.{frac}Z")
        };
        let ns = if width == 0 {
            0
        } else {
            frac.parse::<i64>().unwrap() * 10i64.pow(9 - width as u32)
        };
        assert_eq!(parse_timestamp(&text), Ok(base + ns), "{text}");
    }
    assert_eq!(
        parse_timestamp("2022-12-09T14:06:38.123456789Z"),
        Ok(base + 123_456_789)
    );
    assert_eq!(parse_timestamp("2022-12-09T16:06:38+02:00"), Ok(base));
    assert_eq!(parse_timestamp("2022-12-09T08:36:38-05:30"), Ok(base));
    assert_eq!(
        parse_timestamp("2022-12-09T08:36:38.5-05:30"),
        Ok(base + 500_000_000)
    );
    assert_eq!(parse_timestamp("2022-12-09T16:06:38+0200"), Ok(base));
    assert_eq!(
        parse_timestamp("2022-12-09T14:06:38"),
        Ok(base),
        "no offset: UTC"
    );
    assert_eq!(parse_timestamp("2022-12-09t14:06:38z"), Ok(base));
}

#[test]
fn timestamps_before_1970_and_after_2038() {
    assert_eq!(parse_timestamp("1969-12-31T23:59:59.9999999Z"), Ok(-100));
    assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(
        parse_timestamp("1900-01-01T00:00:00Z"),
        Ok(-2_208_988_800_000_000_000)
    );
    assert_eq!(
        parse_timestamp("2038-01-19T03:14:08Z"),
        Ok(2_147_483_648_000_000_000)
    );
    assert_eq!(
        parse_timestamp("2100-01-01T00:00:00Z"),
        Ok(4_102_444_800_000_000_000)
    );
    assert_eq!(
        parse_timestamp("2262-04-11T23:47:16.854775807Z"),
        Ok(i64::MAX)
    );
    assert_eq!(
        parse_timestamp("1677-09-21T00:12:43.145224192Z"),
        Ok(i64::MIN)
    );
    assert_eq!(
        parse_timestamp("2000-02-29T12:00:00Z"),
        Ok(951_825_600_000_000_000)
    );
    assert_eq!(format_timestamp(-100, 7), "1969-12-31T23:59:59.9999999Z");
    assert_eq!(
        format_timestamp(4_102_444_800_000_000_000, 0),
        "2100-01-01T00:00:00Z"
    );
}

#[test]
fn invalid_timestamps_are_rejected_and_flagged_on_the_value() {
    for bad in [
        "",
        "not-a-time",
        "2022-13-01T00:00:00Z",
        "2022-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2022-04-31T00:00:00Z",
        "2022-01-01T24:00:00Z",
        "2022-01-01T00:60:00Z",
        "2022-01-01T00:00:60Z",
        "2022-01-01T00:00:00.Z",
        "2022-01-01T00:00:00.1234567890Z",
        "2022-01-01T00:00:00+25:00",
        "2022-01-01T00:00:00Q",
        "2022-01-01T00:00:00Z extra",
        "22-01-01T00:00:00Z",
        "2022-1-01T00:00:00Z",
        "2022-01-01 00:00",
        "2262-04-11T23:47:16.854775808Z",
        "1677-09-21T00:12:43.145224191Z",
        "9999-12-31T23:59:59Z",
    ] {
        assert!(parse_timestamp(bad).is_err(), "{bad:?} should be rejected");
    }
    // On a value: kept, flagged invalid, with an error entry.
    let m = CMsg::new(&one(
        r#"{"Timestamp":"2022-02-30T00:00:00Z","Value":1,"Good":true}"#,
    ));
    let v = m.value(0);
    assert_eq!(
        (v.timestamp_valid, v.timestamp_ns, v.error_count, v.integer),
        (0, 0, 1, 1)
    );
    assert_eq!(s(v.timestamp_text), "2022-02-30T00:00:00Z");
    assert!(
        s(v.errors)
            .starts_with("Timestamp: invalid timestamp '2022-02-30T00:00:00Z': day out of range"),
        "{}",
        s(v.errors)
    );
    // Missing: invalid, no error entry.
    let m = CMsg::new(&one(r#"{"Value":1}"#));
    assert_eq!((m.value(0).timestamp_valid, m.value(0).error_count), (0, 0));
    let c = Content::parse(&one(r#"{"Value":1}"#));
    assert_eq!(c.streams()[0].values[0].timestamp, Timestamp::Missing);
}

// ---------------------------------------------------------------------------------------------
// The recorded multi-stream file (also walked by tests/c/test_values.c).

#[test]
fn recorded_multi_stream_message() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/multi_stream.json"
    ))
    .unwrap();
    let c = Content::parse(&text);
    assert!(!c.is_unparsable(), "{:?}", c.parse_error());
    assert_eq!(c.streams().len(), 6);
    assert_eq!(c.value_count(), 14);
    let kinds: Vec<&str> = c
        .values()
        .map(|v| match v.value.value {
            Value::Null => "null",
            Value::Double(_) => "double",
            Value::Int(_) => "int",
            Value::String(_) => "string",
            Value::Bool(_) => "bool",
            Value::Digital(_) => "digital",
            Value::Other(_) => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "double", "double", "double", "int", "int", "string", "digital", "digital", "bool",
            "bool", "null", "other", "other", "double"
        ]
    );
    let m = CMsg::new(&text);
    for k in 0..c.value_count() {
        let v = m.value(k);
        let r = c.value(k).unwrap();
        assert_eq!(v.stream_index, r.stream_index);
        assert_eq!(s(v.units), r.units());
        let st = m.stream(v.stream_index);
        assert!(k >= st.first_value && k < st.first_value + st.value_count);
    }
}

// ---------------------------------------------------------------------------------------------
// Live messages of the simulator: every one parses, with valid timestamps.

#[test]
fn simulator_messages_parse() {
    let sim = common::sim(
        piwebasync_sim::SimConfig::default().interval(std::time::Duration::from_millis(10)),
    );
    let ch = Channel::open(
        &sim.adhoc_url(sim.point_web_ids()),
        &ChannelConfig::default(),
    )
    .unwrap();
    let mut values = 0;
    for m in common::take(&ch, 30) {
        let c = m.content();
        assert!(!c.is_unparsable(), "{:?}: {}", c.parse_error(), m.json());
        for v in c.values() {
            assert!(
                v.value.timestamp.unix_ns().is_some(),
                "{:?}",
                v.value.timestamp
            );
            assert!(!v.stream.web_id.is_empty());
            values += 1;
        }
    }
    assert!(values >= 30);
}

// ---------------------------------------------------------------------------------------------
// Property tests.

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~]{0,20}", "\\PC{0,12}"]
}

#[derive(Debug, Clone)]
struct GenValue {
    tv: TimedValue,
    json: J,
}

fn arb_flag() -> impl Strategy<Value = (Option<bool>, Option<J>)> {
    prop_oneof![
        Just((None, None)),
        any::<bool>().prop_map(|b| (Some(b), Some(J::Bool(b)))),
        any::<bool>().prop_map(|b| (Some(b), Some(J::String(b.to_string())))),
    ]
}

fn arb_web_exception() -> impl Strategy<Value = Option<(WebException, J)>> {
    proptest::option::of(
        (100i32..600, proptest::collection::vec(arb_text(), 0..3)).prop_map(|(code, errors)| {
            let json = json!({"StatusCode": code, "Errors": errors});
            (
                WebException {
                    status_code: code,
                    errors,
                },
                json,
            )
        }),
    )
}

fn arb_kind() -> impl Strategy<Value = (Value, Option<J>)> {
    prop_oneof![
        Just((Value::Null, None)),
        Just((Value::Null, Some(J::Null))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| (Value::Double(f), Some(json!(f)))),
        any::<i64>().prop_map(|i| (Value::Int(i), Some(json!(i)))),
        arb_text().prop_map(|s| (Value::String(s.clone()), Some(J::String(s)))),
        any::<bool>().prop_map(|b| (Value::Bool(b), Some(J::Bool(b)))),
        (arb_text(), any::<i64>(), any::<bool>()).prop_map(|(name, code, is_system)| {
            let json = json!({"Name": name, "Value": code, "IsSystem": is_system});
            (
                Value::Digital(DigitalState {
                    name,
                    code,
                    is_system,
                }),
                Some(json),
            )
        }),
        proptest::collection::vec(any::<i32>(), 0..4).prop_map(|v| {
            let json = json!(v);
            (Value::Other(json.to_string()), Some(json))
        }),
    ]
}

fn arb_value() -> impl Strategy<Value = GenValue> {
    (
        (i64::MIN / 2..i64::MAX / 2, 0u32..=9),
        arb_kind(),
        proptest::option::of(arb_text()),
        (arb_flag(), arb_flag(), arb_flag(), arb_flag()),
        proptest::collection::vec(
            (arb_text(), proptest::collection::vec(arb_text(), 0..3)),
            0..3,
        ),
        arb_web_exception(),
    )
        .prop_map(
            |((ns, digits), (value, vjson), units, flags, errors, wex)| {
                let text = format_timestamp(ns, digits);
                let mut o = Map::new();
                o.insert("Timestamp".into(), J::String(text.clone()));
                if let Some(v) = vjson {
                    o.insert("Value".into(), v);
                }
                if let Some(u) = &units {
                    o.insert("UnitsAbbreviation".into(), J::String(u.clone()));
                }
                let names = ["Good", "Questionable", "Substituted", "Annotated"];
                let fl = [flags.0, flags.1, flags.2, flags.3];
                for (name, (_, j)) in names.iter().zip(&fl) {
                    if let Some(j) = j {
                        o.insert((*name).into(), j.clone());
                    }
                }
                if !errors.is_empty() {
                    let e: Vec<J> = errors
                        .iter()
                        .map(|(f, m)| json!({"FieldName": f, "Message": m}))
                        .collect();
                    o.insert("Errors".into(), J::Array(e));
                }
                if let Some((_, j)) = &wex {
                    o.insert("WebException".into(), j.clone());
                }
                o.insert("Unknown".into(), json!({"ignored": [1, "x"]}));
                let tv = TimedValue {
                    timestamp: Timestamp::Valid(parse_timestamp(&text).unwrap()),
                    timestamp_text: text,
                    value,
                    units,
                    good: fl[0].0,
                    questionable: fl[1].0,
                    substituted: fl[2].0,
                    annotated: fl[3].0,
                    errors: errors
                        .into_iter()
                        .map(|(field_name, messages)| FieldError {
                            field_name,
                            messages,
                        })
                        .collect(),
                    web_exception: wex.map(|w| w.0),
                };
                GenValue {
                    tv,
                    json: J::Object(o),
                }
            },
        )
}

fn arb_stream() -> impl Strategy<Value = (Stream, J)> {
    (
        "[A-Za-z0-9_-]{1,40}",
        arb_text(),
        arb_text(),
        arb_text(),
        proptest::collection::vec(arb_value(), 0..4),
        any::<bool>(),
        arb_web_exception(),
    )
        .prop_map(|(web_id, name, path, units, values, single, wex)| {
            let mut o = Map::new();
            o.insert("WebId".into(), J::String(web_id.clone()));
            o.insert("Name".into(), J::String(name.clone()));
            o.insert("Path".into(), J::String(path.clone()));
            o.insert("Links".into(), json!({}));
            o.insert("UnitsAbbreviation".into(), J::String(units.clone()));
            if single && values.len() == 1 {
                o.insert("Value".into(), values[0].json.clone());
            } else {
                o.insert(
                    "Items".into(),
                    J::Array(values.iter().map(|v| v.json.clone()).collect()),
                );
            }
            if let Some((_, j)) = &wex {
                o.insert("WebException".into(), j.clone());
            }
            let stream = Stream {
                web_id,
                name,
                path,
                units,
                web_exception: wex.map(|w| w.0),
                values: values.into_iter().map(|v| v.tv).collect(),
            };
            (stream, J::Object(o))
        })
}

fn arb_message() -> impl Strategy<Value = (Content, String)> {
    (
        proptest::collection::vec(arb_stream(), 0..4),
        arb_web_exception(),
        any::<bool>(),
    )
        .prop_map(|(streams, wex, pretty)| {
            let mut o = Map::new();
            o.insert("Links".into(), json!({}));
            o.insert(
                "Items".into(),
                J::Array(streams.iter().map(|s| s.1.clone()).collect()),
            );
            if let Some((_, j)) = &wex {
                o.insert("WebException".into(), j.clone());
            }
            let j = J::Object(o);
            let text = if pretty {
                serde_json::to_string_pretty(&j).unwrap()
            } else {
                j.to_string()
            };
            let content =
                Content::new(streams.into_iter().map(|s| s.0).collect(), wex.map(|w| w.0));
            (content, text)
        })
}

/// `Other` values are kept verbatim: compact them to compare with pretty-printed input.
fn compact_other(c: &Content) -> Content {
    let mut streams = c.streams().to_vec();
    for v in streams.iter_mut().flat_map(|s| s.values.iter_mut()) {
        if let Value::Other(text) = &v.value {
            v.value = Value::Other(serde_json::from_str::<J>(text).unwrap().to_string());
        }
    }
    Content::new(streams, c.web_exception().cloned())
}

/// Walk everything through the C accessors; every call must succeed (a caught panic would be
/// PWA_ERR_PANIC).
fn walk_c(text: &str) {
    let m = CMsg::new(text);
    let info = m.info();
    for i in 0..info.stream_count {
        m.stream(i);
    }
    for k in 0..info.value_count {
        let v = m.value(k);
        assert!(v.stream_index < info.stream_count);
        for field in PWA_FIELD_VALUE_TEXT..=PWA_FIELD_VALUE_WEB_EXCEPTION {
            let mut needed = 0;
            let st =
                // SAFETY: the C ABI as its header documents: live handles, pointers to valid locals, NUL-terminated strings.
                unsafe { pwa_message_copy_string(m.0, field, k, ptr::null_mut(), 0, &mut needed) };
            assert_eq!(st, PWA_ERR_BUFFER_TOO_SMALL);
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let c = Content::parse(&text);
        prop_assert_eq!(&c, &Content::parse_serde(&text));
        if c.is_unparsable() {
            prop_assert!(c.streams().is_empty() && !c.is_heartbeat() && c.parse_error().is_some_and(|e| !e.is_empty()));
        }
        walk_c(&text);
    }

    #[test]
    fn well_formed_messages_round_trip((expected, text) in arb_message()) {
        let parsed = Content::parse(&text);
        prop_assert_eq!(&parsed, &Content::parse_serde(&text));
        prop_assert_eq!(parsed.parse_error(), None);
        // Every shape generated here (errors, WebExceptions, digital states) takes the fast
        // reader, except strings with `\u` escapes, which it leaves to serde.
        if !text.contains("\\u") {
            let fast = Content::parse_fast(&text);
            prop_assert_eq!(fast.as_ref(), Some(&parsed));
        }
        prop_assert_eq!(&compact_other(&parsed), &expected);
        walk_c(&text);
    }

    #[test]
    fn mutated_messages_never_panic((_, text) in arb_message(), edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<char>()), 1..6)) {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, op, c) in edits {
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let i = at.index(chars.len());
            match op {
                0 => { chars.remove(i); }
                1 => chars.insert(i, c),
                2 => chars[i] = c,
                _ => chars.truncate(i),
            }
        }
        let mutated: String = chars.into_iter().collect();
        prop_assert_eq!(Content::parse(&mutated), Content::parse_serde(&mutated));
        walk_c(&mutated);
    }

    #[test]
    fn timestamps_round_trip(ns in any::<i64>(), digits in 0u32..=9) {
        let text = format_timestamp(ns, digits);
        let (ns, unit) = (ns as i128, 10i128.pow(9 - digits));
        let truncated = ns.div_euclid(1_000_000_000) * 1_000_000_000 + ns.rem_euclid(1_000_000_000) / unit * unit;
        // Truncating the fraction of an instant near i64::MIN can leave the range: then the
        // text is rejected.
        match parse_timestamp(&text) {
            Ok(parsed) => prop_assert_eq!(parsed as i128, truncated),
            Err(_) => prop_assert!(truncated < i64::MIN as i128),
        }
    }
}

/// The fast reader and serde read these edge cases alike (or the fast one gives up).
#[test]
fn fast_reader_matches_serde() {
    let cases = [
        r#"{"Items":[{"WebId":"a","Items":[{"Timestamp":"2022-12-09T14:06:38Z","Value":1,"Value":2}]}]}"#,
        r#"{"Items":[{"WebId":"a","WebId":"b"}]}"#,
        r#"{"Items":null}"#,
        r#"{"Items":[{"Items":null,"Value":null}]}"#,
        r#"{"Items":[{"Value":{"Timestamp":null,"Value":null,"UnitsAbbreviation":null,"Good":null}}]}"#,
        r#"{"Items":[{"Items":[{"Value":1}],"Value":{"Value":2}}]}"#,
        r#"{"Items":[{"Items":[{"Good":" TRUE ","Questionable":"False","Substituted":"x"}]}]}"#,
        r#"{"Items":[{"Items":[{"Good":1}]}]}"#,
        r#"{"Items":[{"Name":"a\"b\\c\/d\n\t","Path":"\\\\S\\P","Items":[{"Value":"s\u00e9\ud83d\ude00"}]}]}"#,
        r#"{"Items":[{"Name":"a\qb"}]}"#,
        "{\"Items\":[{\"Name\":\"a\u{1}b\"}]}",
        r#"{"Items":[{"Items":[{"Value":[1,{"a":[]}]},{"Value":{"Name":"On","Value":1}},{"Value":{"Name":"On","Value":1.5}}]}]}"#,
        r#"{"Items":[{"Items":[{"Value":-0},{"Value":1e400},{"Value":-1.5E-3},{"Value":99999999999999999999},{"Value":01}]}]}"#,
        r#"{"Items":[{"Items":[{"Value":1.}]}]}"#,
        r#"{"Items":[{"Items":[{"Value":true},{"Value":false},{"Value":nul}]}]}"#,
        r#"{"Items":[["a","b"]]}"#,
        r#"{"Items":[{"Items":[["2022-12-09T14:06:38Z", 1]]}]}"#,
        r#"{"Items":[],"Items":[]}"#,
        r#"{"Items":[]} x"#,
        r#"{"Items":[],}"#,
        r#"{"Items":[{"Links":{"a":[1,2,{"b":null}]},"Items":[]}]}"#,
        " \n\t{\"Items\" : [ { \"Items\" : [ { \"Value\" : 1 } ] } ] } \r\n",
        "\u{a0}{\"Items\":[]}",
        r#"{"Unknown":"\u0041","Items":[]}"#,
        r#"{"Items":[{"Items":[{"Timestamp":"bad","Value":1}]}]}"#,
        r#"{"Items":[{"Items":[{"Timestamp":"","Value":1}]}]}"#,
        r#"{"WebException":{"StatusCode":502,"Errors":["x"]},"Items":[]}"#,
        r#"{"Items":[{"Items":[{"Errors":[{"FieldName":"Value","Message":["m"]}]}]}]}"#,
        r#"{"Items":[{"Items":[{"Value":1}]}"#,
        r#"{"Items":[{"Items":[{"Value":1}]}]"#,
        r#"{"It\u0065ms":[]}"#,
    ];
    for text in cases {
        assert_eq!(Content::parse(text), Content::parse_serde(text), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The PI Web API corpus (tests/data/corpus, see its SOURCES.md) through pwa_message_from_json:
// what a C caller sees of each document. Hand-read from the documents.

#[test]
fn corpus_documents_through_the_c_abi() {
    // file, (is_heartbeat, is_unparsable, has_web_exception, web_exception_status),
    // (stream_count, value_count), text in parse_error (unparsable) or web_exception_errors.
    type Case = (
        &'static str,
        (i32, i32, i32, i32),
        (usize, usize),
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "01-doc-channels-topic-message.json",
            (0, 0, 0, 0),
            (1, 2),
            "",
        ),
        (
            "02-doc-stream-getvalue.json",
            (0, 1, 0, 0),
            (0, 0),
            "a single value",
        ),
        (
            "03-doc-error-handling-errors.json",
            (0, 0, 1, 0),
            (0, 0),
            "The version of the AF Server does not support the feature SecurityIdentity.",
        ),
        (
            "04-doc-error-handling-webexception.json",
            (0, 0, 1, 500),
            (0, 0),
            "Error occurred during writing of the output stream.",
        ),
        (
            "05-piwebasync-docs-streamset-recorded.json",
            (0, 0, 0, 0),
            (2, 4),
            "",
        ),
        (
            "06-piwebasync-docs-recorded-digital-off.json",
            (0, 1, 0, 0),
            (0, 0),
            "line 13 column 2",
        ),
        (
            "07-lvvwd-stream-interpolated.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a timed value",
        ),
        (
            "08-lvvwd-stream-summary-hourly.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a summary",
        ),
        (
            "09-lvvwd-stream-summary-daily.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a summary",
        ),
        (
            "10-lvvwd-stream-summary-monthly-errors.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a summary",
        ),
        (
            "11-kukur-issue328-pt-created-value.json",
            (0, 1, 0, 0),
            (0, 0),
            "a single value",
        ),
        (
            "12-kukur-docs-dataservers-list.json",
            (0, 1, 0, 0),
            (0, 0),
            "('mypiserver') has no values",
        ),
        (
            "13-mcp-recorded-mixed-quality.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a timed value",
        ),
        (
            "14-mcp-value-system-io-timeout.json",
            (0, 1, 0, 0),
            (0, 0),
            "a single value",
        ),
        (
            "15-mcp-value-good-string.json",
            (0, 1, 0, 0),
            (0, 0),
            "a single value",
        ),
        (
            "16-mcp-batch-partial-failure.json",
            (0, 1, 0, 0),
            (0, 0),
            "a batch response",
        ),
        (
            "17-mcp-recorded-paged-page1.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a timed value",
        ),
        (
            "18-kukur-test-system-states-page.json",
            (0, 1, 0, 0),
            (0, 0),
            "is a timed value",
        ),
        (
            "19-pisharp-test-streamsets-recorded.json",
            (0, 0, 0, 0),
            (2, 3),
            "",
        ),
        (
            "20-pisharp-test-streamsets-value-list.json",
            (0, 1, 0, 0),
            (0, 0),
            "a JSON array of 2",
        ),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/corpus");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".json"))
        .collect();
    files.sort();
    assert_eq!(files, cases.iter().map(|c| c.0).collect::<Vec<_>>());
    for &(file, flags, counts, text) in cases {
        let json = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let m = CMsg::new(&json);
        let info = m.info();
        assert_eq!(
            (
                info.is_heartbeat,
                info.is_unparsable,
                info.has_web_exception,
                info.web_exception_status
            ),
            flags,
            "{file}"
        );
        assert_eq!((info.stream_count, info.value_count), counts, "{file}");
        let detail = if info.is_unparsable == 1 {
            s(info.parse_error)
        } else {
            s(info.web_exception_errors)
        };
        assert!(
            detail.contains(text),
            "{file}: {detail:?} should contain {text:?}"
        );
    }
    // 19 value by value: stream 1's only value, 10.0 at 2024-06-01T11:00:00Z (1717239600 s).
    let m = CMsg::new(
        &std::fs::read_to_string(format!("{dir}/19-pisharp-test-streamsets-recorded.json"))
            .unwrap(),
    );
    let st = m.stream(1);
    assert_eq!(
        (s(st.web_id), s(st.name), st.first_value, st.value_count),
        ("F1AbEDFoo002".to_string(), "cdt158".to_string(), 2, 1)
    );
    let v = m.value(2);
    assert_eq!(
        (v.kind, v.number, v.timestamp_ns, v.good),
        (PWA_VALUE_DOUBLE, 10.0, 1_717_239_600_000_000_000, 1)
    );
}

#[test]
fn the_bad_value_form_through_the_c_abi() {
    let m = CMsg::new(&one(
        r#"{"Timestamp":"2022-01-01T00:00:00Z","Value":{"Errors":[{"FieldName":"Value","Message":["Point not found."]}]}}"#,
    ));
    let v = m.value(0);
    assert_eq!((v.kind, v.good, v.error_count), (PWA_VALUE_NULL, 0, 1));
    assert_eq!(s(v.errors), "Value: Point not found.");
}
