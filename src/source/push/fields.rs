//! Reading one push object's fields: required and optional identifiers, numbers (JSON
//! numbers or decimal strings), times, sides and intervals, each rejection naming the
//! field and what was expected.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::record::{jsonb_holds_nul, JsonText, OptionKind, RejectReason, Rejection, Side, Timestamp};
use crate::source::values;
pub(super) use crate::source::values::invalid_value as invalid;

/// A JSON object's members in the order written, keys borrowed from the frame's text
/// where they hold no escapes. A push object has about ten members: a scan finds one
/// faster than a `BTreeMap<String, Value>` is built (one allocation per key and node).
pub(super) struct Object<'a>(pub Vec<(Cow<'a, str>, Value)>);

/// A member name, borrowed unless it had to be unescaped.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_string())))
            }
            fn visit_string<E>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(Key(key)) = map.next_key()? {
                    members.push((key, map.next_value::<Value>()?));
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// The text of the member `name` of the JSON object `raw`, exactly as written (the
/// last one when it is repeated, as [`Fields::present`] reads it); none when `raw` is
/// not an object or has no such member.
pub(super) fn raw_member<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    struct Finder<'n>(&'n str);
    impl<'de> DeserializeSeed<'de> for Finder<'_> {
        type Value = Option<&'de RawValue>;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Finder<'_> {
        type Value = Option<&'de RawValue>;
        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(Key(key)) = map.next_key()? {
                if key == self.0 {
                    found = Some(map.next_value::<&RawValue>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    Finder(name).deserialize(&mut deserializer).ok().flatten().map(RawValue::get)
}

pub(super) struct Fields<'a> {
    pub members: &'a [(Cow<'a, str>, Value)],
}

pub(super) fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

impl Fields<'_> {
    pub(super) fn only(&self, allowed: &[&str], kind: &str) -> Result<(), Rejection> {
        match self.members.iter().map(|(key, _)| key).find(|key| !allowed.contains(&key.as_ref())) {
            Some(unknown) => Err(Rejection::new(
                RejectReason::UnknownField,
                format!("`{}` is not a field of {kind}; expected {}", truncate(unknown, 64), allowed[1..].join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn present(&self, name: &str) -> Option<&Value> {
        // A repeated member counts as written last, as in a JSON object map.
        self.members.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value).filter(|value| !value.is_null())
    }

    pub(super) fn required(&self, name: &str) -> Result<&Value, Rejection> {
        self.present(name).ok_or_else(|| Rejection::new(RejectReason::MissingField, format!("`{name}` is required")))
    }

    /// A required identifier: a non-empty string without control characters.
    pub(super) fn key(&self, name: &str) -> Result<String, Rejection> {
        let value = self.required(name)?;
        let Value::String(text) = value else {
            return Err(invalid(name, "a string", value));
        };
        values::key(name, text)
    }

    /// An optional identifier; integers (numeric trade ids) are taken as their digits.
    pub(super) fn optional_key(&self, name: &str) -> Result<Option<String>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) => values::key(name, text).map(Some),
            Some(Value::Number(number)) if number.is_i64() || number.is_u64() => Ok(Some(number.to_string())),
            Some(other) => Err(invalid(name, "a string or an integer", other)),
        }
    }

    pub(super) fn number(&self, name: &str) -> Result<f64, Rejection> {
        values::number(name, self.required(name)?)
    }

    pub(super) fn optional_number(&self, name: &str) -> Result<Option<f64>, Rejection> {
        self.present(name).map(|value| values::number(name, value)).transpose()
    }

    pub(super) fn non_negative(&self, name: &str) -> Result<f64, Rejection> {
        let value = self.required(name)?;
        let number = values::number(name, value)?;
        if number < 0.0 {
            return Err(invalid(name, "a number ≥ 0", value));
        }
        Ok(number)
    }

    pub(super) fn optional_count(&self, name: &str) -> Result<Option<i64>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => match value {
                Value::Number(number) => number.as_i64().filter(|count| *count >= 0).map(Some),
                Value::String(text) => text.parse::<i64>().ok().filter(|count| *count >= 0).map(Some),
                _ => None,
            }
            .ok_or_else(|| invalid(name, "a non-negative integer", value)),
        }
    }

    pub(super) fn time(&self, name: &str) -> Result<Timestamp, Rejection> {
        values::json_time(name, self.required(name)?)
    }

    pub(super) fn side(&self, name: &str) -> Result<Side, Rejection> {
        match self.present(name) {
            None => Ok(Side::Unknown),
            Some(Value::String(text)) if text == "buy" => Ok(Side::Buy),
            Some(Value::String(text)) if text == "sell" => Ok(Side::Sell),
            Some(other) => Err(invalid(name, "\"buy\" or \"sell\"", other)),
        }
    }

    /// A bar length (`1m`, `4h`, `1d`; see [`values::interval`]).
    pub(super) fn interval(&self, name: &str) -> Result<String, Rejection> {
        values::interval(name, self.key(name)?)
    }

    /// Optional free text (a signal's content): any length the frame allows, but no NUL,
    /// which PostgreSQL text cannot hold.
    pub(super) fn optional_text(&self, name: &str) -> Result<Option<String>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) if !text.contains('\0') => Ok(Some(text.clone())),
            Some(other) => Err(invalid(name, "a string without NUL characters", other)),
        }
    }

    /// Optional JSON of any shape, stored as jsonb (which refuses NUL in strings).
    pub(super) fn optional_json(&self, name: &str) -> Result<Option<Value>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(value) if jsonb_holds_nul(value) => Err(Rejection::new(
                RejectReason::InvalidField,
                format!("`{name}`: a string in it holds a NUL character, which jsonb cannot store"),
            )),
            Some(value) => Ok(Some(value.clone())),
        }
    }

    /// Optional JSON of any shape for a jsonb column, kept as the text written in `raw`
    /// (the object the fields were read from) so that its numbers keep every digit.
    pub(super) fn optional_json_text(&self, name: &str, raw: &str) -> Result<Option<JsonText>, Rejection> {
        let Some(value) = self.optional_json(name)? else {
            return Ok(None);
        };
        Ok(Some(match raw_member(raw, name) {
            Some(text) => JsonText::from_checked(text),
            // Not reached: `raw` is the object `value` was read from.
            None => JsonText::from(&value),
        }))
    }

    /// A calendar date written `YYYY-MM-DD` (an option's expiration).
    pub(super) fn date(&self, name: &str) -> Result<chrono::NaiveDate, Rejection> {
        let value = self.required(name)?;
        match value {
            Value::String(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(name, "a date like 2026-12-25", value))
    }

    /// `call` or `put` in any case, or the single letters `c` and `p` of OCC contract
    /// names (in any case): within a field that only says call or put they cannot be
    /// read any other way.
    pub(super) fn option_kind(&self, name: &str) -> Result<OptionKind, Rejection> {
        let value = self.required(name)?;
        match value {
            Value::String(text) if text.eq_ignore_ascii_case("call") || text.eq_ignore_ascii_case("c") => Ok(OptionKind::Call),
            Value::String(text) if text.eq_ignore_ascii_case("put") || text.eq_ignore_ascii_case("p") => Ok(OptionKind::Put),
            other => Err(invalid(name, "\"call\" or \"put\" (any case; \"c\" and \"p\" too)", other)),
        }
    }

    /// `read` applied to `name` when it is present (and not `null`), else none.
    pub(super) fn optional<T>(&self, name: &str, read: impl Fn(&Self, &str) -> Result<T, Rejection>) -> Result<Option<T>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(_) => read(self, name).map(Some),
        }
    }

    /// An optional array of numbers (or decimal strings), each finite, at most `max`
    /// long; absent or `null` is an empty list. An element's refusal names its index.
    pub(super) fn optional_numbers(&self, name: &str, max: usize) -> Result<Vec<f64>, Rejection> {
        let Some(value) = self.present(name) else { return Ok(Vec::new()) };
        let Value::Array(items) = value else {
            return Err(invalid(name, "an array of numbers", value));
        };
        if items.len() > max {
            return Err(Rejection::new(
                RejectReason::InvalidField,
                format!("`{name}` holds {} numbers; at most {max} are accepted", items.len()),
            ));
        }
        items.iter().enumerate().map(|(index, item)| values::number(&format!("{name}[{index}]"), item)).collect()
    }

    /// A number that must be > 0 (a strike).
    pub(super) fn positive(&self, name: &str) -> Result<f64, Rejection> {
        let value = self.required(name)?;
        let number = values::number(name, value)?;
        if number <= 0.0 {
            return Err(invalid(name, "a number > 0", value));
        }
        Ok(number)
    }
}
