//! JSON kept as the text its producer sent, for `jsonb` columns: parsing it into a
//! `serde_json::Value` and printing it again would pass every number through an `f64`
//! (`0.30000000000000004441` → `0.30000000000000004`, a 30-digit integer rounded),
//! while PostgreSQL's jsonb keeps numbers as `numeric`, digit for digit.

use serde::{Deserialize, Serialize};

/// JSON text, checked by whoever built it (valid JSON, no NUL in a string or key,
/// which jsonb cannot store). Serialized as the string it holds, which is also how the
/// spool and bus carried the `serde_json::Value` it replaced, so older entries read
/// back as the text they stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(String);

impl JsonText {
    /// Wraps JSON text the caller has checked.
    pub fn from_checked(text: impl Into<String>) -> Self {
        JsonText(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&serde_json::Value> for JsonText {
    /// The text of a value built in memory (not a producer's text, whose digits it
    /// would not keep).
    fn from(value: &serde_json::Value) -> Self {
        JsonText(value.to_string())
    }
}
