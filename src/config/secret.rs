//! A configuration value that must never appear in logs (tokens, passwords): its
//! `Debug` is redacted, and it reads from TOML as a string or an integer.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;

/// A value that must never appear in logs (tokens, passwords).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "secret" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Environment overrides turn digit-only values into integers; a token may be digits.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Integer(i64),
        }
        match Raw::deserialize(deserializer) {
            Ok(Raw::Text(text)) => Ok(Secret(text)),
            Ok(Raw::Integer(number)) => Ok(Secret(number.to_string())),
            Err(_) => Err(serde::de::Error::custom("expected a string")),
        }
    }
}
