//! Errors the server reports inside a message: per-field `Errors` of a value and
//! `WebException` objects at any level.

use std::fmt;

/// One entry of a value's `Errors`: `{"FieldName": "Value", "Message": ["..."]}`. A plain
/// string entry becomes an error with an empty field name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldError {
    pub field_name: String,
    pub messages: Vec<String>,
}

impl fmt::Display for FieldError {
    /// `FieldName: message; message` (without `FieldName: ` when it is empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.field_name.is_empty() {
            write!(f, "{}: ", self.field_name)?;
        }
        f.write_str(&self.messages.join("; "))
    }
}

/// An error that happened while the server produced this content:
/// `{"StatusCode": 502, "Errors": ["..."]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebException {
    /// The HTTP-like status code; 0 when the server sent none.
    pub status_code: i32,
    pub errors: Vec<String>,
}

impl fmt::Display for WebException {
    /// `HTTP 502: error; error`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status_code)?;
        if !self.errors.is_empty() {
            write!(f, ": {}", self.errors.join("; "))?;
        }
        Ok(())
    }
}
