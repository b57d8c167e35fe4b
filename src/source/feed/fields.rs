//! What every venue adapter reports about a message as a whole: a shape that does not
//! match the venue's documented one, and what kind of JSON value stood where. Values
//! inside a message are read with [`crate::source::values`].

use crate::record::{RejectReason, Rejection};

/// A message whose shape does not match the venue's documented one.
pub fn invalid_record(kind: &str, error: serde_json::Error) -> Rejection {
    Rejection::new(RejectReason::InvalidRecord, format!("{kind}: {error}"))
}

/// What kind of JSON value this is, for messages: "a number", "an object", ….
pub fn kind_of(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
