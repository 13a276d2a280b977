//! One stream (PI point or AF attribute) of a message and its values.

use super::errors::WebException;
use super::value::TimedValue;

/// A stream item of a message: who it is and the values it brought. Text fields the server
/// left out are empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    pub web_id: String,
    pub name: String,
    pub path: String,
    /// The stream's `UnitsAbbreviation`.
    pub units: String,
    pub web_exception: Option<WebException>,
    /// In the order sent (not necessarily time order). A single `"Value": {...}` is a
    /// one-element list.
    pub values: Vec<TimedValue>,
}
