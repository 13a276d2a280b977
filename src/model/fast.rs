//! A hand-written reader for the common shape of a channel message, tried before serde.
//!
//! It accepts only what it is sure to read exactly as the serde path (`parse.rs`) would:
//! plain objects, the known fields with their usual types (value `Errors`, `WebException` at
//! every level and digital states included), strings whose escapes are the simple ones. On
//! anything else (`\u` escapes, a duplicate known field, a wrong type, invalid JSON, ...) it
//! gives up with `None` and the serde path reads the message, so results and error messages
//! are those of the serde path.

use super::errors::{FieldError, WebException};
use super::parse::build_value;
use super::stream::Stream;
use super::timestamp::TimestampCache;
use super::value::{DigitalState, TimedValue, Value};

type Out = (Vec<Stream>, Option<WebException>);

/// The message, or `None` when the serde path must read it.
pub(super) fn parse(text: &str) -> Option<Out> {
    let mut r = Reader {
        b: text.as_bytes(),
        i: 0,
        text,
        previous_count: 0,
        timestamps: TimestampCache::default(),
    };
    let out = r.message()?;
    r.ws();
    if r.i != r.b.len() {
        return None;
    }
    Some(out)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    text: &'a str,
    /// How many values the previous stream's `Items` held.
    previous_count: usize,
    /// For the values of this message.
    timestamps: TimestampCache,
}

/// A string field that was read: borrowed when it had no escape.
enum Str<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Str<'_> {
    fn into_string(self) -> String {
        match self {
            Str::Borrowed(s) => s.to_string(),
            Str::Owned(s) => s,
        }
    }
    fn as_str(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Owned(s) => s,
        }
    }
}

impl<'a> Reader<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// `null` (consumed) or not (nothing consumed).
    #[inline]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.lit(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    fn lit(&mut self, l: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + l.len())? == l {
            self.i += l.len();
            Some(())
        } else {
            None
        }
    }

    /// A string (the opening quote next, after whitespace). Escapes other than `\uXXXX` are
    /// decoded; `\u` and control characters give up.
    fn string(&mut self) -> Option<Str<'a>> {
        self.eat(b'"')?;
        let start = self.i;
        self.skip_plain();
        loop {
            let c = *self.b.get(self.i)?;
            if c == b'"' {
                let s = &self.text[start..self.i];
                self.i += 1;
                return Some(Str::Borrowed(s));
            }
            if c == b'\\' {
                break;
            }
            if c < 0x20 {
                return None;
            }
            self.i += 1;
        }
        let mut out = String::with_capacity(self.i - start + 16);
        out.push_str(&self.text[start..self.i]);
        loop {
            let c = *self.b.get(self.i)?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(Str::Owned(out));
                }
                b'\\' => {
                    let e = *self.b.get(self.i + 1)?;
                    out.push(match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        _ => return None,
                    });
                    self.i += 2;
                }
                c if c < 0x20 => return None,
                _ => {
                    let run = self.i;
                    while let Some(&c) = self.b.get(self.i) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.i += 1;
                    }
                    out.push_str(&self.text[run..self.i]);
                }
            }
        }
    }

    /// Skip 8 bytes at a time while none is `"`, `\\` or a control character.
    #[inline]
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            let stop = has_zero(x ^ (ONES * b'"' as u64))
                | has_zero(x ^ (ONES * b'\\' as u64))
                | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
            if stop != 0 {
                return;
            }
            self.i += 8;
        }
    }

    /// A key: only escape-free keys (others give up). The keys of the model are recognised
    /// by comparing bytes, without scanning for the closing quote.
    #[inline]
    fn key(&mut self) -> Option<&'a [u8]> {
        if self.peek()? != b'"' {
            return None;
        }
        let rest = &self.b[self.i + 1..];
        let known: &'static [u8] = match rest.first()? {
            b'T' => b"Timestamp",
            b'V' => b"Value",
            b'U' => b"UnitsAbbreviation",
            b'G' => b"Good",
            b'Q' => b"Questionable",
            b'S' => b"Substituted",
            b'A' => b"Annotated",
            b'I' => b"Items",
            b'N' => b"Name",
            b'P' => b"Path",
            b'L' => b"Links",
            b'W' if rest.get(3) == Some(&b'I') => b"WebId",
            b'W' => b"WebException",
            _ => b"",
        };
        let n = known.len();
        if n > 0 && rest.get(..n) == Some(known) && rest.get(n) == Some(&b'"') {
            self.i += n + 2;
            self.eat(b':')?;
            return Some(known);
        }
        match self.string()? {
            Str::Borrowed(s) => {
                self.eat(b':')?;
                Some(s.as_bytes())
            }
            Str::Owned(_) => None,
        }
    }

    /// After a member: `,` (true: another follows) or `}` (false).
    #[inline]
    fn next_member(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            c if c == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// Opens an object; true when it has members (false: it was `{}`, consumed).
    #[inline]
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        self.eat(open)?;
        if self.peek()? == close {
            self.i += 1;
            Some(false)
        } else {
            Some(true)
        }
    }

    /// A JSON number; its text.
    fn number(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.i;
        let b = self.b;
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i)?.is_ascii_digit() {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !b.get(i)?.is_ascii_digit() {
                return None;
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.i = i;
        Some(&self.text[start..i])
    }

    /// Skip any JSON value, checking it.
    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > 100 {
            return None;
        }
        match self.peek()? {
            b'{' => {
                if self.open(b'{', b'}')? {
                    loop {
                        self.string()?;
                        self.eat(b':')?;
                        self.skip(depth + 1)?;
                        if !self.next_member(b'}')? {
                            break;
                        }
                    }
                }
            }
            b'[' => self.array(|r| r.skip(depth + 1))?,
            b'"' => {
                self.string()?;
            }
            b't' => self.lit(b"true")?,
            b'f' => self.lit(b"false")?,
            b'n' => self.lit(b"null")?,
            _ => {
                self.number()?;
            }
        }
        Some(())
    }

    /// A string field: `null` is absent.
    fn opt_string(&mut self) -> Option<Option<Str<'a>>> {
        if self.null()? {
            return Some(None);
        }
        if self.peek()? != b'"' {
            return None;
        }
        Some(Some(self.string()?))
    }

    /// A quality flag: a bool, "true"/"false" (any case, spaces around), or null.
    fn flag(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => {
                self.lit(b"true")?;
                Some(Some(true))
            }
            b'f' => {
                self.lit(b"false")?;
                Some(Some(false))
            }
            b'n' => {
                self.lit(b"null")?;
                Some(None)
            }
            b'"' => {
                let s = self.string()?;
                let s = s.as_str().trim();
                if s.eq_ignore_ascii_case("true") {
                    Some(Some(true))
                } else if s.eq_ignore_ascii_case("false") {
                    Some(Some(false))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A channel message. Gives up on anything else (a top-level `Errors`, an object without
    /// `Items` but with other members, items that are not streams): the serde path names it.
    fn message(&mut self) -> Option<Out> {
        let (mut streams, mut web_exception) = (None, None);
        let mut other_members = false;
        self.object(|r, key| match key {
            b"Items" => {
                let v = r.streams()?;
                once(&mut streams, v)
            }
            b"WebException" => once(&mut web_exception, r.web_exception()?),
            b"Errors" => None,
            b"Links" => r.skip(0),
            _ => {
                other_members = true;
                r.skip(0)
            }
        })?;
        if streams.is_none() && other_members {
            return None;
        }
        Some((streams.unwrap_or_default(), web_exception.flatten()))
    }

    fn stream(&mut self) -> Option<Stream> {
        let (mut web_id, mut name, mut path, mut units) = (None, None, None, None);
        let mut values: Option<Vec<TimedValue>> = None;
        let mut single: Option<Option<TimedValue>> = None;
        let mut web_exception = None;
        // Items (not null), Value (not null) or WebException (not null): else not a stream.
        let mut content = false;
        self.object(|r, key| match key {
            b"WebId" => once(&mut web_id, r.opt_string()?),
            b"Name" => once(&mut name, r.opt_string()?),
            b"Path" => once(&mut path, r.opt_string()?),
            b"UnitsAbbreviation" => once(&mut units, r.opt_string()?),
            b"Items" => {
                // Streams of one message usually bring alike counts: room for as many as the
                // previous one had (a guess from the bytes left would reserve the whole
                // message's worth for each stream).
                content |= r.peek()? != b'n';
                let v = r.items(r.previous_count.max(1), Self::value)?;
                r.previous_count = v.len();
                once(&mut values, v)
            }
            b"Value" => {
                let v = if r.null()? { None } else { Some(r.value()?) };
                content |= v.is_some();
                once(&mut single, v)
            }
            b"WebException" => {
                let w = r.web_exception()?;
                content |= w.is_some();
                once(&mut web_exception, w)
            }
            // A timed value or a summary item, not a stream.
            b"Timestamp" | b"Type" => None,
            _ => r.skip(0),
        })?;
        if !content {
            return None;
        }
        let mut values = values.unwrap_or_default();
        if let Some(Some(v)) = single {
            values.push(v);
        }
        let s = |f: Option<Option<Str<'a>>>| f.flatten().map_or_else(String::new, Str::into_string);
        Some(Stream {
            web_id: s(web_id),
            name: s(name),
            path: s(path),
            units: s(units),
            web_exception: web_exception.flatten(),
            values,
        })
    }

    fn value(&mut self) -> Option<TimedValue> {
        let mut timestamp: Option<Option<Str<'a>>> = None;
        let mut value: Option<(Value, Vec<FieldError>)> = None;
        let mut units: Option<Option<Str<'a>>> = None;
        let mut flags: [Option<Option<bool>>; 4] = [None; 4];
        let mut errors = None;
        let mut web_exception = None;
        self.object(|r, key| match key {
            b"Timestamp" => once(&mut timestamp, r.opt_string()?),
            b"Value" => once(&mut value, r.typed()?),
            b"UnitsAbbreviation" => once(&mut units, r.opt_string()?),
            b"Good" => once(&mut flags[0], r.flag()?),
            b"Questionable" => once(&mut flags[1], r.flag()?),
            b"Substituted" => once(&mut flags[2], r.flag()?),
            b"Annotated" => once(&mut flags[3], r.flag()?),
            b"Errors" => once(&mut errors, r.errors()?),
            b"WebException" => once(&mut web_exception, r.web_exception()?),
            _ => r.skip(0),
        })?;
        let timestamp = timestamp.flatten().map(Str::into_string);
        let units = units.flatten().map(Str::into_string);
        let (value, value_errors) = value.unwrap_or((Value::Null, Vec::new()));
        let mut errors = errors.unwrap_or_default();
        errors.extend(value_errors);
        Some(build_value(
            &mut self.timestamps,
            timestamp,
            value,
            units,
            flags.map(Option::flatten),
            errors,
            web_exception.flatten(),
        ))
    }

    /// The message's `Items`, in a list of exactly their number: they are read into a
    /// scratch list kept per thread, then moved into one allocation of the right size (not
    /// grown by doubling, whose reallocations of these large elements were a tenth of the
    /// parse's time).
    fn streams(&mut self) -> Option<Vec<Stream>> {
        thread_local! {
            static SCRATCH: std::cell::Cell<Vec<Stream>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let mut scratch = SCRATCH.take();
        scratch.clear();
        let read = if self.null()? {
            Some(())
        } else {
            self.array(|r| {
                scratch.push(r.stream()?);
                Some(())
            })
        };
        #[allow(clippy::drain_collect)] // not `mem::take`: the point is a list of exact size
        let out = read.map(|()| scratch.drain(..).collect());
        scratch.clear();
        SCRATCH.set(scratch);
        out
    }

    /// `Items`: null (none) or an array, each element read by `read`.
    fn items<T>(&mut self, capacity: usize, read: fn(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut v = Vec::with_capacity(capacity);
        if !self.null()? {
            self.array(|r| {
                v.push(read(r)?);
                Some(())
            })?;
        }
        Some(v)
    }

    /// A `Value` and the errors it carries, typed as `parse::typed_value` does.
    fn typed(&mut self) -> Option<(Value, Vec<FieldError>)> {
        if self.peek()? == b'{' {
            let start = self.i;
            let (digital, errors) = self.digital()?;
            let value = digital.unwrap_or_else(|| match errors {
                Some(_) => Value::Null,
                None => Value::Other(self.text[start..self.i].to_string()),
            });
            return Some((value, errors.unwrap_or_default()));
        }
        Some((self.plain_value()?, Vec::new()))
    }

    /// A `Value` that is not an object.
    fn plain_value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'n' => {
                self.lit(b"null")?;
                Some(Value::Null)
            }
            b't' => {
                self.lit(b"true")?;
                Some(Value::Bool(true))
            }
            b'f' => {
                self.lit(b"false")?;
                Some(Value::Bool(false))
            }
            b'"' => Some(Value::String(self.string()?.into_string())),
            b'[' => {
                let start = self.i;
                self.skip(0)?;
                Some(Value::Other(self.text[start..self.i].to_string()))
            }
            _ => Some(super::parse::number(self.number()?)),
        }
    }

    /// A digital state object `{"Name", "Value", "IsSystem"}`, with the errors of the
    /// bad-value form `{"Errors": [...]}` (`None`: no `Errors` or null). The value is `None`
    /// when the object is well formed but has no `Name` (so it is `Null` with errors, or
    /// `Other`).
    fn digital(&mut self) -> Option<(Option<Value>, Option<Vec<FieldError>>)> {
        let (mut name, mut code, mut is_system, mut errors) = (None, None, None, None);
        self.object(|r, key| match key {
            b"Name" => once(&mut name, r.opt_string()?),
            b"Value" => once(&mut code, r.opt_integer()?),
            b"IsSystem" => once(&mut is_system, r.flag()?),
            b"Errors" => {
                let e = if r.null()? { None } else { Some(r.errors()?) };
                once(&mut errors, e)
            }
            _ => r.skip(0),
        })?;
        let value = name.flatten().map(|name| {
            Value::Digital(DigitalState {
                name: name.into_string(),
                code: code.flatten().unwrap_or(0),
                is_system: is_system.flatten().unwrap_or(false),
            })
        });
        Some((value, errors.flatten()))
    }

    /// An integer that fits an `i64`, or null (absent).
    fn opt_integer(&mut self) -> Option<Option<i64>> {
        if self.null()? {
            return Some(None);
        }
        let text = self.number()?;
        // `-0`, fractions and exponents: serde's own rules decide.
        if text.starts_with("-0") || text.contains(['.', 'e', 'E']) {
            return None;
        }
        Some(Some(text.parse().ok()?))
    }

    /// `{"StatusCode": 502, "Errors": ["..."]}` or null (absent). Non-string errors are skipped.
    fn web_exception(&mut self) -> Option<Option<WebException>> {
        if self.null()? {
            return Some(None);
        }
        let (mut status, mut errors) = (None, None);
        self.object(|r, key| match key {
            b"StatusCode" => once(&mut status, r.opt_integer()?),
            b"Errors" => {
                let mut list = Vec::new();
                if !r.null()? {
                    r.array(|r| {
                        if r.peek()? == b'"' {
                            list.push(r.string()?.into_string());
                            Some(())
                        } else {
                            r.skip(0)
                        }
                    })?;
                }
                once(&mut errors, list)
            }
            _ => r.skip(0),
        })?;
        let status_code = status
            .flatten()
            .map_or(0, |c| c.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        Some(Some(WebException {
            status_code,
            errors: errors.unwrap_or_default(),
        }))
    }

    /// A value's `Errors`: null, or an array of strings and `{"FieldName", "Message"}` objects.
    fn errors(&mut self) -> Option<Vec<FieldError>> {
        let mut out = Vec::new();
        if self.null()? {
            return Some(out);
        }
        self.array(|r| {
            let e = match r.peek()? {
                b'"' => FieldError {
                    field_name: String::new(),
                    messages: vec![r.string()?.into_string()],
                },
                b'{' => r.field_error()?,
                _ => return None,
            };
            out.push(e);
            Some(())
        })?;
        Some(out)
    }

    /// One `{"FieldName": "...", "Message": [...] or "..."}`. As in the serde path a repeated
    /// key replaces the earlier one, and `Messages` is read as `Message`.
    fn field_error(&mut self) -> Option<FieldError> {
        let mut e = FieldError::default();
        self.object(|r, key| {
            match key {
                b"FieldName" => {
                    e.field_name = r.opt_string()?.map_or_else(String::new, Str::into_string)
                }
                b"Message" | b"Messages" => {
                    let mut messages = Vec::new();
                    match r.peek()? {
                        b'"' => messages.push(r.string()?.into_string()),
                        b'n' => r.lit(b"null")?,
                        b'[' => r.array(|r| {
                            messages.push(r.opt_string()??.into_string());
                            Some(())
                        })?,
                        _ => return None,
                    }
                    e.messages = messages;
                }
                _ => r.skip(0)?,
            }
            Some(())
        })?;
        Some(e)
    }

    /// An object (the `{` next, after whitespace) whose keys are escape-free (others give
    /// up), each member's value read by `member` given its key.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        if self.peek()? != b'{' {
            return None;
        }
        if self.open(b'{', b'}')? {
            loop {
                let key = self.key()?;
                member(self, key)?;
                if !self.next_member(b'}')? {
                    break;
                }
            }
        }
        Some(())
    }

    /// An array (the `[` next, after whitespace), each element read by `element`.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.peek()? != b'[' {
            return None;
        }
        if self.open(b'[', b']')? {
            loop {
                element(self)?;
                if !self.next_member(b']')? {
                    break;
                }
            }
        }
        Some(())
    }
}

/// Sets a field read once; a second occurrence gives up (serde calls it a duplicate field).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}
