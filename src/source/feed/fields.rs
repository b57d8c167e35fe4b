//! Field conversions every venue adapter needs, with rejections that name the field.

use crate::record::{RejectReason, Rejection, Timestamp};

/// A decimal string (`"97000.50"`) as a finite number.
pub fn decimal(field: &str, text: &str) -> Result<f64, Rejection> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected a decimal string, got \"{text}\""))),
    }
}

/// Milliseconds since the Unix epoch.
pub fn millis(field: &str, value: i64) -> Result<Timestamp, Rejection> {
    Timestamp::from_unix_millis(value)
        .ok_or_else(|| Rejection::new(RejectReason::TimeOutOfRange, format!("`{field}`: {value} ms is out of range")))
}

/// An RFC 3339 time (`2014-11-07T08:19:27.028459Z`), kept to the microsecond.
pub fn rfc3339(field: impl std::fmt::Display, text: &str) -> Result<Timestamp, Rejection> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected an RFC 3339 time, got \"{text}\"")))
}

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
