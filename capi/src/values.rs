//! Typed access to a message for C: its streams and values as flat structs, so that no caller
//! has to parse JSON. The content comes from the Rust API (`piwebasync_rust::model`); this module only
//! makes C strings of it (once per message) and fills structs.

use std::ffi::c_char;

use super::boundary::{fail, guard, guard_value, Failure};
use super::last_error::copy_out;
use super::message::pwa_message;
use super::status::*;
use super::strings::out_arg;
use piwebasync_rust::model::{Content, Timestamp, Value, WebException};

/// The kind of a value's `Value` (the `kind` field of `pwa_value`).
pub type pwa_value_kind = i32;
/// `null` or no `Value` (then `errors` usually says why).
pub const PWA_VALUE_NULL: pwa_value_kind = 0;
/// A number with a fraction or exponent (or an integer too large for int64): `number`.
pub const PWA_VALUE_DOUBLE: pwa_value_kind = 1;
/// A number without fraction or exponent that fits an int64: `integer` (and `number`).
pub const PWA_VALUE_INT64: pwa_value_kind = 2;
/// A string: `text`.
pub const PWA_VALUE_STRING: pwa_value_kind = 3;
/// `true` / `false`: `integer` is 1 / 0.
pub const PWA_VALUE_BOOL: pwa_value_kind = 4;
/// A digital or system state `{Name, Value, IsSystem}`: `text` is the name, `integer` the
/// code, `is_system` the flag.
pub const PWA_VALUE_DIGITAL: pwa_value_kind = 5;
/// Any other JSON (an array, an object that is not a digital state): `text` is its JSON.
pub const PWA_VALUE_OTHER: pwa_value_kind = 6;

/// Which string `pwa_message_copy_string` copies.
pub type pwa_field = i32;
/// The message's parse error ("" unless it is unparsable). `index` is ignored.
pub const PWA_FIELD_PARSE_ERROR: pwa_field = 0;
/// The errors of the message-level WebException, one per line. `index` is ignored.
pub const PWA_FIELD_MESSAGE_WEB_EXCEPTION: pwa_field = 1;
/// Stream `index`'s WebId.
pub const PWA_FIELD_STREAM_WEB_ID: pwa_field = 10;
/// Stream `index`'s Name.
pub const PWA_FIELD_STREAM_NAME: pwa_field = 11;
/// Stream `index`'s Path.
pub const PWA_FIELD_STREAM_PATH: pwa_field = 12;
/// Stream `index`'s UnitsAbbreviation.
pub const PWA_FIELD_STREAM_UNITS: pwa_field = 13;
/// The errors of stream `index`'s WebException, one per line.
pub const PWA_FIELD_STREAM_WEB_EXCEPTION: pwa_field = 14;
/// Value `index`'s `text` (see `pwa_value`).
pub const PWA_FIELD_VALUE_TEXT: pwa_field = 20;
/// Value `index`'s units.
pub const PWA_FIELD_VALUE_UNITS: pwa_field = 21;
/// Value `index`'s Timestamp as sent.
pub const PWA_FIELD_VALUE_TIMESTAMP: pwa_field = 22;
/// Value `index`'s errors, one per line.
pub const PWA_FIELD_VALUE_ERRORS: pwa_field = 23;
/// The errors of value `index`'s WebException, one per line.
pub const PWA_FIELD_VALUE_WEB_EXCEPTION: pwa_field = 24;

/// What a message is (see `pwa_message_get_info`). Strings are NUL-terminated UTF-8, never NULL
/// ("" when absent), owned by the message: valid until `pwa_message_free`.
#[repr(C)]
pub struct pwa_message_info {
    /// Why the text could not be parsed ("" unless `is_unparsable`).
    pub parse_error: *const c_char,
    /// The errors of the message-level WebException, one per line ("" when none).
    pub web_exception_errors: *const c_char,
    /// Streams in the message.
    pub stream_count: usize,
    /// Values of all streams together (the flat list of `pwa_message_value`).
    pub value_count: usize,
    /// 1 for a heartbeat: an empty frame, or a message without any value and without any
    /// WebException. 0 otherwise.
    pub is_heartbeat: i32,
    /// 1 when the text is not JSON of the expected shape: then there are no streams and the
    /// raw text is still in `pwa_message_json`. The channel goes on regardless. Valid JSON of
    /// another shape (a REST response: a single value, a stream's recorded page, a summary,
    /// a collection, a batch response, an array) is unparsable too, and `parse_error` names
    /// what it looks like.
    pub is_unparsable: i32,
    /// 1 when the message carries a WebException at its top level, or is PI Web API's error
    /// body `{"Errors": [...]}` (then its errors are in `web_exception_errors` and the status
    /// is 0).
    pub has_web_exception: i32,
    /// Its StatusCode (e.g. 502); 0 when none.
    pub web_exception_status: i32,
    /// 1 for recorded values a backfill fetched after a reconnect or an update (`gap_fill`),
    /// delivered before the live values that arrived meanwhile; 0 for what the server sent on
    /// the channel.
    pub is_backfilled: i32,
    /// 1 when `pwa_message_json` is the library's rendering of the content rather than the
    /// frame exactly as the server sent it: every backfilled message, and a live message from
    /// which gap fill took out values already delivered at a seam. 0 otherwise.
    pub is_rewritten: i32,
}

/// One stream of a message (see `pwa_message_stream`). Strings as in `pwa_message_info`.
#[repr(C)]
pub struct pwa_stream_info {
    /// WebId ("" if the server sent none).
    pub web_id: *const c_char,
    /// Name, e.g. "SINUSOID".
    pub name: *const c_char,
    /// Path, e.g. "\\\\PISRV01\\SINUSOID" ("" when absent).
    pub path: *const c_char,
    /// The stream's UnitsAbbreviation.
    pub units: *const c_char,
    /// The errors of the stream's WebException, one per line ("" when none).
    pub web_exception_errors: *const c_char,
    /// Index (in the flat list of `pwa_message_value`) of this stream's first value: its
    /// values are `first_value .. first_value + value_count - 1`.
    pub first_value: usize,
    /// How many values the stream brought (may be 0).
    pub value_count: usize,
    /// 1 when the stream carries a WebException.
    pub has_web_exception: i32,
    /// Its StatusCode; 0 when none.
    pub web_exception_status: i32,
}

/// One value (see `pwa_message_value`). Strings as in `pwa_message_info`. Fields are ordered
/// so that the struct has no padding (LabVIEW clusters can mirror it).
#[repr(C)]
pub struct pwa_value {
    /// Nanoseconds since 1970-01-01T00:00:00Z (negative before). 0 when `timestamp_valid` is 0.
    pub timestamp_ns: i64,
    /// DOUBLE: the value; INT64: the value as a double; BOOL: 0 or 1; DIGITAL: the code;
    /// otherwise NaN.
    pub number: f64,
    /// INT64: the value; DOUBLE: truncated toward zero (saturating, NaN gives 0); BOOL: 0 or
    /// 1; DIGITAL: the code; otherwise 0.
    pub integer: i64,
    /// STRING: the string; DIGITAL: the state name; OTHER: the JSON text; DOUBLE and INT64:
    /// the number in shortest round-trip form; BOOL: "true"/"false"; NULL: "".
    pub text: *const c_char,
    /// The value's UnitsAbbreviation, or its stream's when the value has none.
    pub units: *const c_char,
    /// The Timestamp as sent ("" when missing).
    pub timestamp_text: *const c_char,
    /// The value's errors, one per line, each "FieldName: message; message". An invalid
    /// timestamp adds a line "Timestamp: invalid timestamp '...': reason"; the bad-value form
    /// `"Value": {"Errors": [...]}` (a NULL value) adds its errors. "" when none.
    pub errors: *const c_char,
    /// The errors of the value's WebException, one per line ("" when none).
    pub web_exception_errors: *const c_char,
    /// The stream this value belongs to (index for `pwa_message_stream`).
    pub stream_index: usize,
    /// `PWA_VALUE_*`.
    pub kind: pwa_value_kind,
    /// 1 when `timestamp_ns` holds the timestamp; 0 when it was missing or invalid (not
    /// ISO-8601, an impossible date, or outside 1677..2262).
    pub timestamp_valid: i32,
    /// `Good` (1/0). When the server left it out: 1 unless the value is null or has errors or
    /// a WebException.
    pub good: i32,
    /// `Questionable` (1/0, 0 when absent).
    pub questionable: i32,
    /// `Substituted` (1/0, 0 when absent).
    pub substituted: i32,
    /// `Annotated` (1/0, 0 when absent).
    pub annotated: i32,
    /// DIGITAL: the state's `IsSystem` (1/0); otherwise 0.
    pub is_system: i32,
    /// Number of lines in `errors`.
    pub error_count: i32,
    /// 1 when the value carries a WebException.
    pub has_web_exception: i32,
    /// Its StatusCode; 0 when none.
    pub web_exception_status: i32,
}

/// The C strings of one message, made once.
pub(crate) struct CView {
    /// Every string of the message, each followed by a NUL, in one allocation.
    arena: Vec<u8>,
    parse_error: CText,
    web_exception: CText,
    streams: Vec<CStream>,
    values: Vec<CValue>,
}

struct CStream {
    web_id: CText,
    name: CText,
    path: CText,
    units: CText,
    web_exception: CText,
}

struct CValue {
    text: CText,
    /// The value's units, or its stream's.
    units: CText,
    timestamp: CText,
    errors: CText,
    web_exception: CText,
    /// The stream of the value (no search per access).
    stream_index: u32,
    /// Its index within the stream's values.
    index_in_stream: u32,
}

/// A string of the view: where it starts in the arena and how long it is; `EMPTY_TEXT` for ""
/// (the many empty fields take no space).
#[derive(Clone, Copy)]
struct CText {
    start: u32,
    len: u32,
}

const EMPTY_TEXT: CText = CText {
    start: u32::MAX,
    len: 0,
};
static EMPTY: &[u8; 1] = b"\0";

/// Builds the arena. Strings are appended with their NUL; an embedded NUL (JSON "\u0000")
/// would end the C string early, so it is shown as U+FFFD.
struct ArenaBuilder {
    arena: Vec<u8>,
}

impl ArenaBuilder {
    /// Ends a string begun at `start` (text appended since, without NUL).
    fn finish(&mut self, start: usize) -> CText {
        let len = self.arena.len() - start;
        if len == 0 {
            return EMPTY_TEXT;
        }
        self.arena.push(0);
        match (u32::try_from(start), u32::try_from(len)) {
            (Ok(start), Ok(len)) => CText { start, len },
            _ => EMPTY_TEXT,
        }
    }

    /// The text of a value (`Display` of `Value`), written straight into the arena.
    fn add_value(&mut self, v: &Value) -> CText {
        match v {
            Value::Null => EMPTY_TEXT,
            Value::String(s) | Value::Other(s) => self.add(s),
            Value::Digital(d) => self.add(&d.name),
            Value::Double(_) | Value::Int(_) | Value::Bool(_) => {
                let start = self.arena.len();
                // Numbers and bools are ASCII without NUL.
                let _ = std::io::Write::write_fmt(&mut self.arena, format_args!("{v}"));
                self.finish(start)
            }
        }
    }

    fn add(&mut self, s: &str) -> CText {
        if s.is_empty() {
            return EMPTY_TEXT;
        }
        let start = self.arena.len();
        if s.as_bytes().contains(&0) {
            self.arena
                .extend_from_slice(s.replace('\0', "\u{fffd}").as_bytes());
        } else {
            self.arena.extend_from_slice(s.as_bytes());
        }
        let len = self.arena.len() - start;
        self.arena.push(0);
        match (u32::try_from(start), u32::try_from(len)) {
            (Ok(start), Ok(len)) => CText { start, len },
            // Beyond 4 GiB of text in one message (max_message_size allows it only if raised).
            _ => EMPTY_TEXT,
        }
    }
}

fn web_exception_text(b: &mut ArenaBuilder, w: Option<&WebException>) -> CText {
    match w {
        Some(w) => b.add(&w.errors.join("\n")),
        None => EMPTY_TEXT,
    }
}

impl CView {
    pub(crate) fn new(content: &Content) -> CView {
        // Room for every string (numbers take at most 24 bytes): one allocation in the usual case.
        let cap: usize = content
            .streams()
            .iter()
            .map(|s| {
                s.web_id.len()
                    + s.name.len()
                    + s.path.len()
                    + s.units.len()
                    + 4
                    + s.values
                        .iter()
                        .map(|v| {
                            v.timestamp_text.len()
                                + v.units.as_ref().map_or(0, |u| u.len() + 1)
                                + 26
                        })
                        .sum::<usize>()
            })
            .sum();
        let mut b = ArenaBuilder {
            arena: Vec::with_capacity(cap + 64),
        };
        let streams: Vec<CStream> = content
            .streams()
            .iter()
            .map(|s| CStream {
                web_id: b.add(&s.web_id),
                name: b.add(&s.name),
                path: b.add(&s.path),
                units: b.add(&s.units),
                web_exception: web_exception_text(&mut b, s.web_exception.as_ref()),
            })
            .collect();
        let mut values = Vec::with_capacity(content.value_count());
        for (si, (s, cs)) in content.streams().iter().zip(&streams).enumerate() {
            let stream_units = cs.units;
            for (vi, tv) in s.values.iter().enumerate() {
                let errors = if tv.errors.is_empty() {
                    EMPTY_TEXT
                } else {
                    let lines: Vec<String> = tv.errors.iter().map(|e| e.to_string()).collect();
                    b.add(&lines.join("\n"))
                };
                values.push(CValue {
                    text: b.add_value(&tv.value),
                    units: tv.units.as_deref().map_or(stream_units, |u| b.add(u)),
                    timestamp: b.add(&tv.timestamp_text),
                    errors,
                    web_exception: web_exception_text(&mut b, tv.web_exception.as_ref()),
                    stream_index: si as u32,
                    index_in_stream: vi as u32,
                });
            }
        }
        let parse_error = b.add(content.parse_error().unwrap_or(""));
        let web_exception = web_exception_text(&mut b, content.web_exception());
        CView {
            arena: b.arena,
            parse_error,
            web_exception,
            streams,
            values,
        }
    }

    /// The NUL-terminated string, valid as long as the view.
    fn ptr(&self, t: CText) -> *const c_char {
        if t.start == u32::MAX {
            return EMPTY.as_ptr().cast();
        }
        self.arena[t.start as usize..].as_ptr().cast()
    }

    fn text(&self, t: CText) -> &str {
        if t.start == u32::MAX {
            return "";
        }
        let bytes = &self.arena[t.start as usize..(t.start + t.len) as usize];
        std::str::from_utf8(bytes).unwrap_or("")
    }
}

fn message<'a>(msg: *const pwa_message) -> Result<&'a pwa_message, Failure> {
    // SAFETY: NULL or a live message (header contract).
    unsafe { msg.as_ref() }.ok_or_else(|| fail(PWA_ERR_INVALID_ARGUMENT, "msg is NULL"))
}

fn stream_index(content: &Content, i: usize) -> Result<usize, Failure> {
    if i < content.streams().len() {
        Ok(i)
    } else {
        Err(fail(
            PWA_ERR_INVALID_ARGUMENT,
            format!(
                "stream index {i} is out of range: the message has {} streams",
                content.streams().len()
            ),
        ))
    }
}

fn value_index(content: &Content, k: usize) -> Result<usize, Failure> {
    if k < content.value_count() {
        Ok(k)
    } else {
        Err(fail(
            PWA_ERR_INVALID_ARGUMENT,
            format!(
                "value index {k} is out of range: the message has {} values",
                content.value_count()
            ),
        ))
    }
}

fn status_code(w: Option<&WebException>) -> (i32, i32) {
    w.map_or((0, 0), |w| (1, w.status_code))
}

/// What the message is: heartbeat, unparsable, how many streams and values, its
/// WebException. Parses the message on the first typed access (later calls are free).
///
/// Returns `PWA_OK`, or `PWA_ERR_INVALID_ARGUMENT` when `msg` or `out` is NULL.
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_get_info(
    msg: *const pwa_message,
    out: *mut pwa_message_info,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let msg = message(msg)?;
        let (content, view) = (msg.content(), msg.view());
        let (has_wex, wex_status) = status_code(content.web_exception());
        *out = pwa_message_info {
            parse_error: view.ptr(view.parse_error),
            web_exception_errors: view.ptr(view.web_exception),
            stream_count: content.streams().len(),
            value_count: content.value_count(),
            is_heartbeat: content.is_heartbeat() as i32,
            is_unparsable: content.is_unparsable() as i32,
            has_web_exception: has_wex,
            web_exception_status: wex_status,
            is_backfilled: msg.is_backfilled() as i32,
            is_rewritten: msg.is_rewritten() as i32,
        };
        Ok(PWA_OK)
    })
}

/// `*out` = 1 when the message is a heartbeat (an empty frame, or no value and no
/// WebException anywhere), else 0. Returns `PWA_OK` or `PWA_ERR_INVALID_ARGUMENT` (NULL).
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_is_heartbeat(
    msg: *const pwa_message,
    out: *mut i32,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = message(msg)?.content().is_heartbeat() as i32;
        Ok(PWA_OK)
    })
}

/// `*out` = 1 when the message holds recorded values a backfill fetched (`gap_fill`), else 0.
/// Returns `PWA_OK` or `PWA_ERR_INVALID_ARGUMENT` (NULL).
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_is_backfilled(
    msg: *const pwa_message,
    out: *mut i32,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = message(msg)?.is_backfilled() as i32;
        Ok(PWA_OK)
    })
}

/// `*out` = 1 when the message text is not JSON of the expected shape (the parse error is in
/// `pwa_message_get_info` / `pwa_message_copy_string`), else 0. Returns `PWA_OK` or
/// `PWA_ERR_INVALID_ARGUMENT` (NULL).
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_is_unparsable(
    msg: *const pwa_message,
    out: *mut i32,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = message(msg)?.content().is_unparsable() as i32;
        Ok(PWA_OK)
    })
}

/// The number of streams into `*out`. Returns `PWA_OK` or `PWA_ERR_INVALID_ARGUMENT` (NULL).
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_stream_count(
    msg: *const pwa_message,
    out: *mut usize,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = message(msg)?.content().streams().len();
        Ok(PWA_OK)
    })
}

/// The number of values of all streams together into `*out`: the length of the flat list
/// read by `pwa_message_value`. Returns `PWA_OK` or `PWA_ERR_INVALID_ARGUMENT` (NULL).
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_value_count(
    msg: *const pwa_message,
    out: *mut usize,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        *out = message(msg)?.content().value_count();
        Ok(PWA_OK)
    })
}

/// Stream `i` (0 .. stream_count - 1) into `*out`. Its values are the entries
/// `out->first_value .. out->first_value + out->value_count - 1` of `pwa_message_value`.
///
/// Returns `PWA_OK`; `PWA_ERR_INVALID_ARGUMENT` for NULL or an index out of range (the
/// message says which).
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_stream(
    msg: *const pwa_message,
    i: usize,
    out: *mut pwa_stream_info,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let msg = message(msg)?;
        let content = msg.content();
        let i = stream_index(content, i)?;
        let view = msg.view();
        let (s, c) = (&content.streams()[i], &view.streams[i]);
        let (has_wex, wex_status) = status_code(s.web_exception.as_ref());
        *out = pwa_stream_info {
            web_id: view.ptr(c.web_id),
            name: view.ptr(c.name),
            path: view.ptr(c.path),
            units: view.ptr(c.units),
            web_exception_errors: view.ptr(c.web_exception),
            first_value: content.first_value(i).unwrap_or(0),
            value_count: s.values.len(),
            has_web_exception: has_wex,
            web_exception_status: wex_status,
        };
        Ok(PWA_OK)
    })
}

/// Value `k` of the flat list of all values (those of stream 0, then of stream 1, ...;
/// `out->stream_index` tells whose) into `*out`. One loop over 0 .. value_count - 1 visits
/// every value of the message.
///
/// Returns `PWA_OK`; `PWA_ERR_INVALID_ARGUMENT` for NULL or an index out of range.
///
/// # Safety
/// `msg` must be NULL or a live message; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_value(
    msg: *const pwa_message,
    k: usize,
    out: *mut pwa_value,
) -> pwa_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let msg = message(msg)?;
        let content = msg.content();
        let k = value_index(content, k)?;
        let view = msg.view();
        let c = view
            .values
            .get(k)
            .ok_or_else(|| fail(PWA_ERR_INTERNAL, "value index out of sync"))?;
        let stream_index = c.stream_index as usize;
        let tv = content
            .streams()
            .get(stream_index)
            .and_then(|s| s.values.get(c.index_in_stream as usize))
            .ok_or_else(|| fail(PWA_ERR_INTERNAL, "value index out of sync"))?;
        let (kind, is_system) = match &tv.value {
            Value::Null => (PWA_VALUE_NULL, false),
            Value::Double(_) => (PWA_VALUE_DOUBLE, false),
            Value::Int(_) => (PWA_VALUE_INT64, false),
            Value::String(_) => (PWA_VALUE_STRING, false),
            Value::Bool(_) => (PWA_VALUE_BOOL, false),
            Value::Digital(d) => (PWA_VALUE_DIGITAL, d.is_system),
            Value::Other(_) => (PWA_VALUE_OTHER, false),
        };
        let (has_wex, wex_status) = status_code(tv.web_exception.as_ref());
        let (timestamp_ns, timestamp_valid) = match tv.timestamp {
            Timestamp::Valid(ns) => (ns, 1),
            _ => (0, 0),
        };
        *out = pwa_value {
            timestamp_ns,
            number: tv.value.as_f64().unwrap_or(f64::NAN),
            integer: tv.value.as_i64().unwrap_or(0),
            text: view.ptr(c.text),
            units: view.ptr(c.units),
            timestamp_text: view.ptr(c.timestamp),
            errors: view.ptr(c.errors),
            web_exception_errors: view.ptr(c.web_exception),
            stream_index,
            kind,
            timestamp_valid,
            good: tv.good() as i32,
            questionable: tv.questionable() as i32,
            substituted: tv.substituted() as i32,
            annotated: tv.annotated() as i32,
            is_system: is_system as i32,
            error_count: i32::try_from(tv.errors.len()).unwrap_or(i32::MAX),
            has_web_exception: has_wex,
            web_exception_status: wex_status,
        };
        Ok(PWA_OK)
    })
}

/// Copy one string of the message into the caller's buffer, NUL-terminated (for callers such
/// as LabVIEW that prefer buffers to pointers). `field` is a `PWA_FIELD_*`; `index` is the
/// stream index for `PWA_FIELD_STREAM_*`, the value index for `PWA_FIELD_VALUE_*`, ignored
/// otherwise. `*needed` (may be NULL) receives the size including the NUL; pass `buf` NULL and
/// `cap` 0 to ask for it.
///
/// Returns `PWA_OK`; `PWA_ERR_BUFFER_TOO_SMALL` (truncated at a UTF-8 boundary; `*needed`
/// tells the size); `PWA_ERR_INVALID_ARGUMENT` (msg NULL, unknown field, index out of range).
///
/// # Safety
/// `msg` must be NULL or a live message; `buf` NULL or `cap` writable bytes; `needed` NULL or
/// valid.
#[no_mangle]
pub unsafe extern "C" fn pwa_message_copy_string(
    msg: *const pwa_message,
    field: pwa_field,
    index: usize,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> pwa_status {
    guard(|| {
        let msg = message(msg)?;
        let content = msg.content();
        let view = msg.view();
        let text = match field {
            PWA_FIELD_PARSE_ERROR => &view.parse_error,
            PWA_FIELD_MESSAGE_WEB_EXCEPTION => &view.web_exception,
            PWA_FIELD_STREAM_WEB_ID..=PWA_FIELD_STREAM_WEB_EXCEPTION => {
                let s = &view.streams[stream_index(content, index)?];
                match field {
                    PWA_FIELD_STREAM_WEB_ID => &s.web_id,
                    PWA_FIELD_STREAM_NAME => &s.name,
                    PWA_FIELD_STREAM_PATH => &s.path,
                    PWA_FIELD_STREAM_UNITS => &s.units,
                    _ => &s.web_exception,
                }
            }
            PWA_FIELD_VALUE_TEXT..=PWA_FIELD_VALUE_WEB_EXCEPTION => {
                let k = value_index(content, index)?;
                let v = &view.values[k];
                match field {
                    PWA_FIELD_VALUE_TEXT => &v.text,
                    PWA_FIELD_VALUE_UNITS => &v.units,
                    PWA_FIELD_VALUE_TIMESTAMP => &v.timestamp,
                    PWA_FIELD_VALUE_ERRORS => &v.errors,
                    _ => &v.web_exception,
                }
            }
            other => {
                return Err(fail(
                    PWA_ERR_INVALID_ARGUMENT,
                    format!("unknown field {other}: use a PWA_FIELD_* constant"),
                ))
            }
        };
        // SAFETY: `buf`, `cap` and `needed` are passed on under copy_out's contract, which is
        // this function's.
        Ok(unsafe { copy_out(view.text(*text), buf, cap, needed) })
    })
}

/// The static name of a `PWA_VALUE_*` kind, e.g. "DOUBLE" ("UNKNOWN" for others). Never NULL.
#[no_mangle]
pub extern "C" fn pwa_value_kind_name(kind: pwa_value_kind) -> *const c_char {
    guard_value(c"UNKNOWN".as_ptr(), || {
        let name: &'static std::ffi::CStr = match kind {
            PWA_VALUE_NULL => c"NULL",
            PWA_VALUE_DOUBLE => c"DOUBLE",
            PWA_VALUE_INT64 => c"INT64",
            PWA_VALUE_STRING => c"STRING",
            PWA_VALUE_BOOL => c"BOOL",
            PWA_VALUE_DIGITAL => c"DIGITAL",
            PWA_VALUE_OTHER => c"OTHER",
            _ => c"UNKNOWN",
        };
        Ok(name.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// No padding anywhere (so a LabVIEW cluster, packed or not, can mirror the structs), on
    /// 32- and 64-bit targets alike.
    #[test]
    fn structs_have_no_padding() {
        let (p, z) = (size_of::<*const c_char>(), size_of::<usize>());
        assert_eq!(size_of::<pwa_value>(), 3 * 8 + 5 * p + z + 10 * 4);
        assert_eq!(size_of::<pwa_stream_info>(), 5 * p + 2 * z + 2 * 4);
        assert_eq!(size_of::<pwa_message_info>(), 2 * p + 2 * z + 6 * 4);
        assert_eq!(
            size_of::<super::super::urls::pwa_url_options>(),
            3 * p + 6 * 4
        );
    }
}
