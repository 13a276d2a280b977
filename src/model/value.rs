//! One timed value of a stream and the kinds of value PI sends.

use std::fmt;

use super::errors::{FieldError, WebException};

/// A PI digital (enumeration) state or a system state such as `Shutdown` or `I/O Timeout`:
/// `{"Name": "Shutdown", "Value": 254, "IsSystem": true}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitalState {
    pub name: String,
    /// The state's code (`Value`); 0 when the server sent none.
    pub code: i64,
    pub is_system: bool,
}

/// The `Value` of a timed value.
///
/// A JSON number without fraction or exponent that fits an `i64` is `Int`; every other number
/// is `Double` (so `5.0` is a double and `5` an integer: JSON does not say which the PI point
/// is). A missing `Value` is `Null`. An object with a string `Name` (and an integer `Value`,
/// if any) is `Digital`; any other object or an array is `Other` with its JSON text verbatim.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Double(f64),
    Int(i64),
    String(String),
    Bool(bool),
    Digital(DigitalState),
    /// JSON the model has no type for, as sent.
    Other(String),
}

impl Value {
    /// The value as a number: doubles and integers, bools as 0/1, digital states as their code.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            Value::Bool(b) => Some(*b as i64 as f64),
            Value::Digital(d) => Some(d.code as f64),
            _ => None,
        }
    }

    /// The value as an integer: integers, doubles truncated toward zero (saturating; NaN is
    /// 0), bools as 0/1, digital states as their code.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Double(v) => Some(*v as i64),
            Value::Int(v) => Some(*v),
            Value::Bool(b) => Some(*b as i64),
            Value::Digital(d) => Some(d.code),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Numbers in their shortest round-trip form (`5.0`, `1e300`), strings as they are, bools as
    /// `true`/`false`, digital states by name, `Other` as its JSON, `Null` as nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Double(v) => write!(f, "{v:?}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::String(s) | Value::Other(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Digital(d) => f.write_str(&d.name),
        }
    }
}

/// The time of a value: the instant, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timestamp {
    /// Nanoseconds since the Unix epoch.
    Valid(i64),
    /// The value had no `Timestamp` field.
    Missing,
    /// The text could not be parsed (or is outside 1677..2262); the reason is also added to
    /// the value's errors with the field name `Timestamp`.
    Invalid { text: String, reason: String },
}

impl Timestamp {
    pub fn unix_ns(&self) -> Option<i64> {
        match self {
            Timestamp::Valid(ns) => Some(*ns),
            _ => None,
        }
    }
}

/// One event of a stream (a PI `TimedValue`).
///
/// Quality flags are kept as sent (`None` when absent); [`TimedValue::good`] and friends apply
/// the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedValue {
    pub timestamp: Timestamp,
    /// The `Timestamp` text as sent (empty when missing).
    pub timestamp_text: String,
    pub value: Value,
    /// `UnitsAbbreviation` of the value, if it carried one.
    pub units: Option<String>,
    pub good: Option<bool>,
    pub questionable: Option<bool>,
    pub substituted: Option<bool>,
    pub annotated: Option<bool>,
    /// `Errors` of the value (usually with a `null` value), plus a `Timestamp` entry when the
    /// timestamp was invalid.
    pub errors: Vec<FieldError>,
    pub web_exception: Option<WebException>,
}

impl TimedValue {
    /// `Good` as sent; when absent: true unless the value is null or carries errors or a
    /// WebException.
    pub fn good(&self) -> bool {
        self.good.unwrap_or(
            !matches!(self.value, Value::Null)
                && self.errors.is_empty()
                && self.web_exception.is_none(),
        )
    }

    /// `Questionable` as sent, false when absent.
    pub fn questionable(&self) -> bool {
        self.questionable.unwrap_or(false)
    }

    /// `Substituted` as sent, false when absent.
    pub fn substituted(&self) -> bool {
        self.substituted.unwrap_or(false)
    }

    /// `Annotated` as sent, false when absent.
    pub fn annotated(&self) -> bool {
        self.annotated.unwrap_or(false)
    }
}
