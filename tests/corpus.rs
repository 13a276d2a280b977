//! Every document of the corpus (`tests/data/corpus/`, twenty real PI Web API JSON texts
//! written by others; SOURCES.md beside them says where each comes from) through both readers:
//! `Content::parse` (channel messages) and `RecordedPage::parse` (recorded pages).
//!
//! The expectations were read by hand from each document: counts, names, units, first and
//! last (or every) timestamp and value, quality flags, error texts. Timestamps are computed
//! by `utc` below, not by the library's parser.

// Numbers are written with the digits of the documents (17 significant digits), on purpose.
#![allow(clippy::excessive_precision)]

use piwebasync::model::{
    Content, DigitalState, PageShape, RecordedPage, RestError, Stream, TimedValue, Timestamp, Value,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/corpus");

fn read(file: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{file}")).unwrap_or_else(|e| panic!("{DIR}/{file}: {e}"))
}

/// Nanoseconds since the Unix epoch of a UTC civil time (proleptic Gregorian; H. Hinnant's
/// days-from-civil), independent of the library.
fn utc(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hh) * 60 + mm) * 60 * 1_000_000_000 + ss * 1_000_000_000
}

#[test]
fn utc_helper_is_right() {
    assert_eq!(utc(1970, 1, 1, 0, 0, 0), 0);
    // 2000-03-01 is day 11017 (a leap year's February is behind it).
    assert_eq!(utc(2000, 3, 1, 0, 0, 0), 11_017 * 86_400 * 1_000_000_000);
    assert_eq!(utc(1969, 12, 31, 23, 59, 59), -1_000_000_000);
}

fn digital(name: &str, code: i64, is_system: bool) -> Value {
    Value::Digital(DigitalState {
        name: name.to_string(),
        code,
        is_system,
    })
}

/// One value as expected.
#[derive(Debug, Clone)]
struct V {
    ns: i64,
    value: Value,
    /// good, questionable, substituted, annotated (with the documented defaults applied).
    flags: [bool; 4],
    /// `UnitsAbbreviation` of the value, if it has one.
    units: Option<&'static str>,
    /// The value's errors, each as `FieldName: message`.
    errors: Vec<&'static str>,
}

fn v(ns: i64, value: Value, flags: [bool; 4], units: Option<&'static str>) -> V {
    V {
        ns,
        value,
        flags,
        units,
        errors: Vec::new(),
    }
}

const GOOD: [bool; 4] = [true, false, false, false];
const BAD: [bool; 4] = [false, false, false, false];

/// One stream as expected: identity, value count, and values at given indexes (negative:
/// from the end).
#[derive(Debug, Clone)]
struct S {
    web_id: &'static str,
    name: &'static str,
    path: &'static str,
    units: &'static str,
    count: usize,
    values: Vec<(isize, V)>,
}

/// What `Content::parse` gives.
#[derive(Debug)]
enum C {
    /// A channel message with these streams.
    Channel(Vec<S>),
    /// Unparsable; the error contains each of these.
    Unparsable(Vec<&'static str>),
    /// A message-level error (no streams, no heartbeat): status and errors.
    Error(i32, Vec<&'static str>),
}

/// What `RecordedPage::parse` gives.
#[derive(Debug)]
enum P {
    Page {
        shape: PageShape,
        streams: Vec<S>,
        next: Option<&'static str>,
    },
    Json(Vec<&'static str>),
    ErrorBody(Vec<&'static str>),
    WebException(i32, Vec<&'static str>),
    Shape(Vec<&'static str>),
}

struct Case {
    file: &'static str,
    content: C,
    page: P,
}

fn check_value(ctx: &str, got: &TimedValue, stream_units: &str, want: &V) {
    assert_eq!(got.timestamp, Timestamp::Valid(want.ns), "{ctx}: timestamp");
    assert_eq!(got.value, want.value, "{ctx}: value");
    assert_eq!(
        [
            got.good(),
            got.questionable(),
            got.substituted(),
            got.annotated()
        ],
        want.flags,
        "{ctx}: good, questionable, substituted, annotated"
    );
    assert_eq!(got.units.as_deref(), want.units, "{ctx}: value units");
    // The units a consumer sees: the value's, else the stream's.
    assert_eq!(
        got.units.as_deref().unwrap_or(stream_units),
        want.units.unwrap_or(stream_units),
        "{ctx}: effective units"
    );
    let errors: Vec<String> = got.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors, want.errors, "{ctx}: errors");
    assert_eq!(got.web_exception, None, "{ctx}: value WebException");
}

fn check_streams(ctx: &str, got: &[Stream], want: &[S]) {
    assert_eq!(got.len(), want.len(), "{ctx}: stream count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ctx = format!("{ctx}: stream {i}");
        assert_eq!(
            (
                g.web_id.as_str(),
                g.name.as_str(),
                g.path.as_str(),
                g.units.as_str()
            ),
            (w.web_id, w.name, w.path, w.units),
            "{ctx}: WebId, Name, Path, units"
        );
        assert_eq!(g.web_exception, None, "{ctx}: WebException");
        assert_eq!(g.values.len(), w.count, "{ctx}: value count");
        for (at, want_value) in &w.values {
            let k = if *at < 0 {
                (w.count as isize + at) as usize
            } else {
                *at as usize
            };
            check_value(
                &format!("{ctx}: value {k}"),
                &g.values[k],
                &g.units,
                want_value,
            );
        }
    }
}

fn contains_all(ctx: &str, text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{ctx}: {text:?} should contain {p:?}");
    }
}

fn check_content(file: &str, text: &str, want: &C) {
    let c = Content::parse(text);
    let ctx = format!("{file} (Content)");
    // Both readers of channel messages agree on every document.
    assert_eq!(
        c,
        Content::parse_serde(text),
        "{ctx}: fast and serde differ"
    );
    match want {
        C::Channel(streams) => {
            assert_eq!(c.parse_error(), None, "{ctx}");
            assert!(!c.is_heartbeat(), "{ctx}: heartbeat");
            assert_eq!(c.web_exception(), None, "{ctx}");
            check_streams(&ctx, c.streams(), streams);
            let total: usize = streams.iter().map(|s| s.count).sum();
            assert_eq!(c.value_count(), total, "{ctx}: value count");
        }
        C::Unparsable(parts) => {
            assert!(c.is_unparsable(), "{ctx}: should be unparsable: {c:?}");
            assert!(!c.is_heartbeat(), "{ctx}: heartbeat");
            assert!(c.streams().is_empty() && c.value_count() == 0, "{ctx}");
            contains_all(&ctx, c.parse_error().unwrap_or_default(), parts);
        }
        C::Error(status, errors) => {
            assert_eq!(c.parse_error(), None, "{ctx}");
            assert!(!c.is_heartbeat(), "{ctx}: an error is no heartbeat");
            assert!(c.streams().is_empty(), "{ctx}");
            let w = c.web_exception().expect("a message-level error");
            assert_eq!(
                (w.status_code, w.errors.as_slice()),
                (
                    *status,
                    errors
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .as_slice()
                ),
                "{ctx}"
            );
        }
    }
}

fn check_page(file: &str, text: &str, want: &P) {
    let ctx = format!("{file} (RecordedPage)");
    let got = RecordedPage::parse(text);
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match (want, &got) {
        (
            P::Page {
                shape,
                streams,
                next,
            },
            Ok(page),
        ) => {
            assert_eq!(page.shape(), *shape, "{ctx}: shape");
            check_streams(&ctx, page.streams(), streams);
            let total: usize = streams.iter().map(|s| s.count).sum();
            assert_eq!(page.value_count(), total, "{ctx}: value count");
            assert_eq!(page.values().count(), total, "{ctx}: values()");
            assert_eq!(page.next_page(), *next, "{ctx}: Links.Next");
            assert_eq!(page.web_exception(), None, "{ctx}");
        }
        (P::Json(parts), Err(e @ RestError::Json(m)))
        | (P::Shape(parts), Err(e @ RestError::Shape(m))) => {
            contains_all(&ctx, m, parts);
            // The Display names the problem too.
            contains_all(&ctx, &e.to_string(), parts);
        }
        (P::ErrorBody(errors), Err(RestError::ErrorBody(got))) => {
            assert_eq!(got, &strings(errors), "{ctx}");
        }
        (P::WebException(status, errors), Err(RestError::WebException(w))) => {
            assert_eq!(
                (w.status_code, &w.errors),
                (*status, &strings(errors)),
                "{ctx}"
            );
        }
        _ => panic!("{ctx}: expected {want:?}, got {got:?}"),
    }
}

/// A document that is a REST shape neither reader takes: both errors contain each of `parts`.
fn shape_only(file: &'static str, parts: Vec<&'static str>) -> Case {
    Case {
        file,
        content: C::Unparsable(parts.clone()),
        page: P::Shape(parts),
    }
}

fn cases() -> Vec<Case> {
    let kgal = Some("US kgal/min");
    let wrap = |web_id, name, path, units, count, values| S {
        web_id,
        name,
        path,
        units,
        count,
        values,
    };
    let water_01 = wrap(
        "I1AbEDqD5loBNH0erqeqJodtALAaqQoQHk26BGgMQAVXYR0Ag8rvbPp_xUEC80vMunHcq2g",
        "Water",
        "",
        "m",
        2,
        vec![
            (
                0,
                v(utc(2014, 7, 22, 14, 0, 0), Value::Double(2.3), GOOD, None),
            ),
            (
                1,
                v(utc(2014, 7, 22, 15, 0, 0), Value::Double(2.5), GOOD, None),
            ),
        ],
    );
    let t05 = utc(2014, 7, 22, 14, 0, 0);
    let streams_05 = vec![
        wrap(
            "I1AbEDqD5loBNH0erqeqJodtALAYIKyyz2F5BGAxQAVXYRDBAGyPedZG1sUmxOOclp3Flwg",
            "Water",
            r"\\MyAssetServer\MyDatabase\MyElement|Water",
            "m",
            2,
            vec![
                (0, v(t05, Value::Double(12.3), GOOD, Some("m"))),
                (1, v(t05, Value::Double(12.3), GOOD, Some("m"))),
            ],
        ),
        wrap(
            "I1AbEDqD5loBNH0erqeqJodtALAYIKyyz2F5BGAxQAVXYRDBAGyPedZG1sUmxOOclp3GSWd",
            "Fire",
            r"\\MyAssetServer\MyDatabase\MyElement|Fire",
            "m",
            2,
            vec![
                (0, v(t05, Value::Int(451), GOOD, Some("m"))),
                (1, v(t05, Value::Int(451), GOOD, Some("m"))),
            ],
        ),
    ];
    let streams_19 = vec![
        wrap(
            "F1AbEDFoo001",
            "sinusoid",
            "",
            "degC",
            2,
            vec![
                (
                    0,
                    v(utc(2024, 6, 1, 11, 0, 0), Value::Double(1.0), GOOD, None),
                ),
                (
                    1,
                    v(utc(2024, 6, 1, 12, 0, 0), Value::Double(2.0), GOOD, None),
                ),
            ],
        ),
        wrap(
            "F1AbEDFoo002",
            "cdt158",
            "",
            "",
            1,
            vec![(
                0,
                v(utc(2024, 6, 1, 11, 0, 0), Value::Double(10.0), GOOD, None),
            )],
        ),
    ];
    let shutdown = |s| {
        v(
            utc(2020, 1, 1, 17, 24, s),
            digital("Shutdown", 254, true),
            BAD,
            None,
        )
    };
    let timed = "Items[0] is a timed value";
    let single = "a single value (Timestamp, Value) without Items";
    let summary = "Items[0] is a summary";
    vec![
        Case {
            file: "01-doc-channels-topic-message.json",
            content: C::Channel(vec![water_01.clone()]),
            // A stream set's shape: read as one.
            page: P::Page {
                shape: PageShape::StreamSet,
                streams: vec![water_01],
                next: None,
            },
        },
        Case {
            file: "02-doc-stream-getvalue.json",
            content: C::Unparsable(vec!["not a channel message", single]),
            page: P::Shape(vec![single]),
        },
        Case {
            file: "03-doc-error-handling-errors.json",
            content: C::Error(
                0,
                vec!["The version of the AF Server does not support the feature SecurityIdentity."],
            ),
            page: P::ErrorBody(vec![
                "The version of the AF Server does not support the feature SecurityIdentity.",
            ]),
        },
        Case {
            file: "04-doc-error-handling-webexception.json",
            content: C::Error(500, vec!["Error occurred during writing of the output stream."]),
            page: P::WebException(500, vec!["Error occurred during writing of the output stream."]),
        },
        Case {
            file: "05-piwebasync-docs-streamset-recorded.json",
            content: C::Channel(streams_05.clone()),
            page: P::Page {
                shape: PageShape::StreamSet,
                streams: streams_05,
                next: None,
            },
        },
        Case {
            // Invalid JSON as published: `"Value": 0,` then a tab and `}` on line 13.
            file: "06-piwebasync-docs-recorded-digital-off.json",
            content: C::Unparsable(vec!["line 13 column 2"]),
            page: P::Json(vec!["line 13 column 2"]),
        },
        Case {
            file: "07-lvvwd-stream-interpolated.json",
            content: C::Unparsable(vec![timed, "RecordedPage::parse"]),
            page: P::Page {
                shape: PageShape::Stream,
                streams: vec![wrap(
                    "",
                    "",
                    "",
                    "US kgal/min",
                    25,
                    vec![
                        (0, v(utc(2018, 6, 1, 7, 0, 0), Value::Double(2.734375), GOOD, kgal)),
                        (1, v(utc(2018, 6, 1, 8, 0, 0), Value::Double(4.93164063), GOOD, kgal)),
                        (-1, v(utc(2018, 6, 2, 7, 0, 0), Value::Double(3.17382813), GOOD, kgal)),
                    ],
                )],
                next: None,
            },
        },
        shape_only("08-lvvwd-stream-summary-hourly.json", vec![summary]),
        shape_only("09-lvvwd-stream-summary-daily.json", vec![summary]),
        shape_only("10-lvvwd-stream-summary-monthly-errors.json", vec![summary]),
        shape_only("11-kukur-issue328-pt-created-value.json", vec![single]),
        shape_only("12-kukur-docs-dataservers-list.json", vec!["Items[0] ('mypiserver') has no values", "collection"]),
        Case {
            file: "13-mcp-recorded-mixed-quality.json",
            content: C::Unparsable(vec![timed]),
            page: P::Page {
                shape: PageShape::Stream,
                streams: vec![wrap(
                    "",
                    "",
                    "",
                    "psi",
                    5,
                    vec![
                        (0, v(utc(2026, 6, 20, 12, 0, 0), Value::Double(10.1), GOOD, Some("psi"))),
                        (
                            1,
                            v(
                                utc(2026, 6, 20, 12, 1, 0),
                                Value::Double(10.4),
                                [true, true, false, false],
                                Some("psi"),
                            ),
                        ),
                        (
                            2,
                            v(
                                utc(2026, 6, 20, 12, 2, 0),
                                Value::Double(10.6),
                                [true, false, true, false],
                                Some("psi"),
                            ),
                        ),
                        (
                            3,
                            v(
                                utc(2026, 6, 20, 12, 3, 0),
                                digital("Shutdown", 254, true),
                                BAD,
                                Some("psi"),
                            ),
                        ),
                        (
                            4,
                            v(
                                utc(2026, 6, 20, 12, 4, 0),
                                digital("On", 1, false),
                                [true, false, false, true],
                                Some(""),
                            ),
                        ),
                    ],
                )],
                next: None,
            },
        },
        shape_only("14-mcp-value-system-io-timeout.json", vec![single]),
        shape_only("15-mcp-value-good-string.json", vec![single]),
        shape_only("16-mcp-batch-partial-failure.json", vec!["a batch response (sub-requests key1, key2)"]),
        Case {
            file: "17-mcp-recorded-paged-page1.json",
            content: C::Unparsable(vec![timed]),
            page: P::Page {
                shape: PageShape::Stream,
                streams: vec![wrap(
                    "",
                    "",
                    "",
                    "",
                    1,
                    vec![(0, v(utc(2026, 6, 28, 0, 0, 0), Value::Double(10.0), GOOD, None))],
                )],
                next: Some(
                    "http://pi-server.mcp.local/piwebapi/streams/W1Point1WebId/recorded?startIndex=1",
                ),
            },
        },
        Case {
            file: "18-kukur-test-system-states-page.json",
            content: C::Unparsable(vec![timed]),
            page: P::Page {
                shape: PageShape::Stream,
                streams: vec![wrap(
                    "",
                    "",
                    "",
                    "",
                    4,
                    vec![
                        (0, shutdown(18)),
                        (1, shutdown(19)),
                        (2, shutdown(20)),
                        (3, shutdown(21)),
                    ],
                )],
                next: None,
            },
        },
        Case {
            file: "19-pisharp-test-streamsets-recorded.json",
            content: C::Channel(streams_19.clone()),
            page: P::Page {
                shape: PageShape::StreamSet,
                streams: streams_19,
                next: None,
            },
        },
        shape_only("20-pisharp-test-streamsets-value-list.json", vec!["a JSON array of 2 elements"]),
    ]
}

#[test]
fn every_corpus_document_through_both_readers() {
    let cases = cases();
    // Every file of the corpus has a case, and every case a file.
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".json"))
        .collect();
    files.sort();
    let named: Vec<&str> = cases.iter().map(|c| c.file).collect();
    assert_eq!(files, named);
    assert_eq!(files.len(), 20);
    for case in &cases {
        let text = read(case.file);
        check_content(case.file, &text, &case.content);
        check_page(case.file, &text, &case.page);
    }
}

/// The values of a summary document's items (each `{Type: "Total", Value}`), out of their
/// wrappers, read as a stream page.
fn summary_page(file: &str) -> RecordedPage {
    let doc: serde_json::Value = serde_json::from_str(&read(file)).unwrap();
    let items: Vec<serde_json::Value> = doc["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            assert_eq!(item["Type"], "Total", "{file}");
            item["Value"].clone()
        })
        .collect();
    let text = serde_json::json!({ "Items": items }).to_string();
    RecordedPage::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A good summary total: a double with empty units.
fn total(ns: i64, x: f64) -> V {
    v(ns, Value::Double(x), GOOD, Some(""))
}

/// The values inside summary items (08-10), taken out of their `{Type, Value}` wrappers into
/// a stream page: the bad values of 10 keep `Value: null`, `Good: false` and their errors.
#[test]
fn summary_values_read_as_a_page() {
    let no_good = |ns| V {
        errors: vec!["Value: [-11059] No Good Data For Calculation"],
        ..v(ns, Value::Null, BAD, Some(""))
    };
    type SummaryCase = (&'static str, usize, Vec<(isize, V)>);
    let cases: [SummaryCase; 3] = [
        (
            "08-lvvwd-stream-summary-hourly.json",
            24,
            vec![
                (0, total(utc(2018, 6, 1, 7, 0, 0), 0.12953016493055555)),
                (-1, total(utc(2018, 6, 2, 6, 0, 0), 0.086805555555555552)),
            ],
        ),
        (
            "09-lvvwd-stream-summary-daily.json",
            30,
            vec![
                (0, total(utc(2018, 6, 1, 7, 0, 0), 9.2706400553385411)),
                (-1, total(utc(2018, 6, 30, 7, 0, 0), 9.6524709065755214)),
            ],
        ),
        (
            "10-lvvwd-stream-summary-monthly-errors.json",
            12,
            vec![
                (0, no_good(utc(2018, 1, 1, 8, 0, 0))),
                (2, total(utc(2018, 3, 1, 8, 0, 0), 177.58516920658582)),
                (6, total(utc(2018, 7, 1, 7, 0, 0), 284.25446806126524)),
                (-1, no_good(utc(2018, 12, 1, 8, 0, 0))),
            ],
        ),
    ];
    for (file, count, values) in cases {
        let page = summary_page(file);
        assert_eq!(page.shape(), PageShape::Stream);
        let want = S {
            web_id: "",
            name: "",
            path: "",
            units: "",
            count,
            values,
        };
        check_streams(file, page.streams(), &[want]);
    }
    // 10: months 1, 2 and 8 to 12 are bad, 3 to 7 good.
    let page = summary_page("10-lvvwd-stream-summary-monthly-errors.json");
    let good: Vec<bool> = page.values().map(|(_, v)| v.good()).collect();
    assert_eq!(
        good,
        [false, false, true, true, true, true, true, false, false, false, false, false]
    );
}

// ---------------------------------------------------------------------------------------------
// The rules behind the corpus results, on small texts.

#[test]
fn an_errors_frame_on_a_channel_is_an_error_not_a_heartbeat() {
    let c = Content::parse(r#"{"Errors":["Cannot find the stream.","Second."]}"#);
    assert!(!c.is_heartbeat() && !c.is_unparsable());
    let w = c.web_exception().unwrap();
    assert_eq!(w.status_code, 0);
    assert_eq!(w.errors, ["Cannot find the stream.", "Second."]);
    // Beside a WebException: its errors are added to it.
    let c = Content::parse(
        r#"{"WebException":{"StatusCode":502,"Errors":["Bad gateway."]},"Errors":["More."],"Items":[]}"#,
    );
    let w = c.web_exception().unwrap();
    assert_eq!(
        (w.status_code, w.errors.as_slice()),
        (502, &["Bad gateway.".to_string(), "More.".to_string()][..])
    );
    assert!(!c.is_heartbeat());
    assert_eq!(
        c,
        Content::parse_serde(
            r#"{"WebException":{"StatusCode":502,"Errors":["Bad gateway."]},"Errors":["More."],"Items":[]}"#
        )
    );
}

#[test]
fn the_bad_value_form_carries_its_errors() {
    let text = r#"{"Items":[{"WebId":"F1DPa","Name":"A","Items":[
        {"Timestamp":"2022-01-01T00:00:00Z","Value":{"Errors":[{"FieldName":"Value","Message":["Point not found."]},"plain"]}},
        {"Timestamp":"2022-01-01T00:00:01Z","Value":{"Name":"Shutdown","Value":254,"IsSystem":true,"Errors":["Archive off-line."]},"Good":false},
        {"Timestamp":"2022-01-01T00:00:02Z","Value":{"Other":1}}]}]}"#;
    let c = Content::parse(text);
    assert_eq!(c.parse_error(), None);
    assert_eq!(
        Content::parse_fast(text).as_ref(),
        Some(&c),
        "the fast reader reads it"
    );
    assert_eq!(c, Content::parse_serde(text));
    let vs = &c.streams()[0].values;
    assert_eq!(vs[0].value, Value::Null);
    let errors: Vec<String> = vs[0].errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors, ["Value: Point not found.", "plain"]);
    assert!(!vs[0].good(), "no Good flag, but errors: bad");
    assert_eq!(vs[1].value, digital("Shutdown", 254, true));
    assert_eq!(vs[1].errors.len(), 1);
    assert_eq!(vs[1].errors[0].messages, ["Archive off-line."]);
    // An object that is neither: kept verbatim, no errors.
    assert_eq!(vs[2].value, Value::Other(r#"{"Other":1}"#.to_string()));
    assert!(vs[2].errors.is_empty());
}

#[test]
fn channel_heartbeats_and_messages_stay_as_they_were() {
    for text in [
        "",
        "{}",
        r#"{"Links":{}}"#,
        r#"{"Links":{},"Items":[]}"#,
        r#"{"Items":null}"#,
        r#"{"Items":null,"Padding":"x"}"#,
        r#"{"Items":[{"WebId":"a","Items":[]}]}"#,
    ] {
        let c = Content::parse(text);
        assert!(c.is_heartbeat() && !c.is_unparsable(), "{text}: {c:?}");
    }
    // Unknown members beside Items are ignored.
    let c = Content::parse(
        r#"{"Extra":1,"Items":[{"WebId":"a","Foo":{"Type":1},"Items":[{"Timestamp":"2022-01-01T00:00:00Z","Value":1}]}]}"#,
    );
    assert_eq!(c.value_count(), 1);
    // Beside a stream, an item without values is a stream without values, as before.
    let text = r#"{"Items":[{"WebId":"b","Name":"B"},{"WebId":"a","Items":[{"Timestamp":"2022-01-01T00:00:00Z","Value":1}]}]}"#;
    let c = Content::parse(text);
    assert_eq!(
        (c.parse_error(), c.streams().len(), c.value_count()),
        (None, 2, 1)
    );
    assert_eq!(
        (c.streams()[0].name.as_str(), c.first_value(1)),
        ("B", Some(0))
    );
    assert_eq!(c, Content::parse_serde(text));
    // A stream with only a WebException is a stream.
    let c = Content::parse(
        r#"{"Items":[{"WebId":"a","WebException":{"StatusCode":404,"Errors":["x"]}}]}"#,
    );
    assert!(!c.is_unparsable() && !c.is_heartbeat());
}

#[test]
fn rest_shapes_are_unparsable_as_channel_messages() {
    let cases = [
        (
            r#"{"Timestamp":"2022-01-01T00:00:00Z","Value":1}"#,
            "a single value",
        ),
        (
            r#"{"Value":{"Name":"Shutdown","Value":254}}"#,
            "a single value",
        ),
        (
            r#"{"Items":[{"Timestamp":"2022-01-01T00:00:00Z","Value":1.5}]}"#,
            "Items[0] is a timed value",
        ),
        (
            r#"{"Items":[{"WebId":"a","Items":[]},{"Timestamp":"2022-01-01T00:00:00Z","Value":{"Name":"Shutdown","Value":254}}]}"#,
            "Items[1] is a timed value",
        ),
        (
            r#"{"Items":[{"Type":"Total","Value":{"Timestamp":"2022-01-01T00:00:00Z","Value":1}}]}"#,
            "Items[0] is a summary",
        ),
        (
            r#"{"Items":[{"WebId":"a","Name":"P1"}]}"#,
            "Items[0] ('P1') has no values",
        ),
        (r#"{"Items":[{"Items":null}]}"#, "Items[0] has no values"),
        (
            r#"{"a":{"Status":200,"Content":{}}}"#,
            "a batch response (sub-requests a)",
        ),
        (
            r#"{"Links":{},"Total":3}"#,
            "an object without Items (members Links, Total)",
        ),
        ("[]", "a JSON array of 0 elements"),
    ];
    for (text, part) in cases {
        let c = Content::parse(text);
        assert!(c.is_unparsable() && !c.is_heartbeat(), "{text}: {c:?}");
        let e = c.parse_error().unwrap();
        assert!(e.contains(part), "{text}: {e:?} should contain {part:?}");
        assert_eq!(c, Content::parse_serde(text), "{text}");
        assert_eq!(
            Content::parse_fast(text),
            None,
            "{text}: the fast reader must give up"
        );
    }
}

#[test]
fn recorded_pages_links_errors_and_mixed_items() {
    let page = RecordedPage::parse(
        r#"{"Links":{"First":"f","Previous":"p","Next":"n"},"UnitsAbbreviation":"°C",
            "Items":[{"Timestamp":"2022-01-01T00:00:00.1234567Z","Value":-1,"Good":true}]}"#,
    )
    .unwrap();
    assert_eq!(
        (page.first_page(), page.previous_page(), page.next_page()),
        (Some("f"), Some("p"), Some("n"))
    );
    assert_eq!(page.streams()[0].units, "°C");
    let (stream, value) = page.values().next().unwrap();
    assert_eq!(stream, 0);
    assert_eq!(
        value.timestamp,
        Timestamp::Valid(utc(2022, 1, 1, 0, 0, 0) + 123_456_700)
    );
    assert_eq!(value.value, Value::Int(-1));

    let empty = RecordedPage::parse(r#"{"Items":[],"Links":{}}"#).unwrap();
    assert_eq!(
        (empty.shape(), empty.value_count(), empty.next_page()),
        (PageShape::Empty, 0, None)
    );

    // A stream set page: a stream's WebException is kept, the page's too.
    let page = RecordedPage::parse(
        r#"{"WebException":{"StatusCode":207,"Errors":["partial"]},"Items":[
            {"WebId":"A","Name":"a","Items":[{"Timestamp":"2022-01-01T00:00:00Z","Value":"x"}]},
            {"WebId":"B","Name":"b","WebException":{"StatusCode":404,"Errors":["Not found."]}}]}"#,
    )
    .unwrap();
    assert_eq!(page.shape(), PageShape::StreamSet);
    assert_eq!(page.web_exception().unwrap().status_code, 207);
    assert_eq!(
        page.streams()[1].web_exception.as_ref().unwrap().errors,
        ["Not found."]
    );
    assert_eq!(page.value_count(), 1);
    let content = page.into_content();
    assert_eq!((content.streams().len(), content.value_count()), (2, 1));
    assert_eq!(content.web_exception().unwrap().errors, ["partial"]);
    assert_eq!(
        content.value(0).unwrap().value.value,
        Value::String("x".to_string())
    );

    let err = |text: &str| RecordedPage::parse(text).unwrap_err();
    let mixed = err(
        r#"{"Items":[{"Timestamp":"2022-01-01T00:00:00Z","Value":1},{"WebId":"A","Name":"a","Items":[]}]}"#,
    );
    assert_eq!(
        mixed,
        RestError::Shape(
            "Items[1] ('a') is a stream but Items[0] is a timed value: items of mixed kinds"
                .to_string()
        )
    );
    assert!(
        matches!(err(r#"{"Items":[1,2]}"#), RestError::Shape(m) if m.starts_with("Items[0] is not an object"))
    );
    assert!(
        matches!(err(r#"{"Items":[{"Timestamp":5}]}"#), RestError::Shape(m) if m.starts_with("Items[0]: invalid type"))
    );
    assert!(
        matches!(err(r#"{"Items":null}"#), RestError::Shape(m) if m == "an object without Items")
    );
    assert!(matches!(err("{\"Items\":["), RestError::Json(m) if m.contains("line 1")));
    assert!(matches!(err("  "), RestError::Json(_)));
    assert!(matches!(err("42"), RestError::Shape(m) if m.contains("42")));
    assert_eq!(
        err(r#"{"Errors":[{"FieldName":"startTime","Message":["Bad time."]}]}"#).to_string(),
        "the server answered with errors: startTime: Bad time."
    );
}
