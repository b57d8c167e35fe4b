//! JSON kept as the text its producer sent, for `jsonb` columns: parsing it into a
//! `serde_json::Value` and printing it again would pass every number through an `f64`
//! (`0.30000000000000004441` → `0.30000000000000004`, a 30-digit integer rounded),
//! while PostgreSQL's jsonb keeps numbers as `numeric`, digit for digit.

use serde::{Deserialize, Deserializer, Serialize};

/// JSON text, checked by whoever built it (valid JSON, no NUL in a string or key,
/// which jsonb cannot store). Serialized as the string it holds, which is also how the
/// spool and bus carried the `serde_json::Value` it replaced, so older entries read
/// back as the text they stored. Reading it back checks that the text is JSON, as
/// parsing the value did: a damaged entry is an error, not a row PostgreSQL refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct JsonText(String);

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|error| serde::de::Error::custom(format!("JSON text: {error}")))?;
        Ok(JsonText(text))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_json_text_and_refuses_what_is_not_json() {
        let text: JsonText = serde_json::from_str(r#""{\"a\": 0.30000000000000004441}""#).unwrap();
        assert_eq!(text.as_str(), r#"{"a": 0.30000000000000004441}"#);
        let error = serde_json::from_str::<JsonText>(r#""{\"a\": ""#).unwrap_err();
        assert!(error.to_string().starts_with("JSON text:"), "{error}");
    }
}
