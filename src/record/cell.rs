//! One typed value of a custom table's column, converted from a producer's JSON. The
//! sink encodes these; this module only says what they are (and how to show them as
//! JSON again, for dead letters).

use std::fmt::Write as _;

use super::decimal::Decimal;
use super::time::Timestamp;

/// A column value of one of the types custom tables support.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Decimal),
    /// `text` and `character varying(n)`.
    Text(String),
    TimestampTz(Timestamp),
    Date(chrono::NaiveDate),
    /// JSON text as the producer wrote it (jsonb keeps its numbers exactly).
    Jsonb(String),
    Uuid([u8; 16]),
    /// Elements without NULLs.
    TextArray(Vec<String>),
    Float8Array(Vec<f64>),
}

impl CellValue {
    /// The value as JSON text a producer could send again: numbers as numbers
    /// (`numeric` digit for digit), non-finite floats and special decimals as the
    /// strings `"NaN"`, `"Infinity"`, `"-Infinity"`, times as RFC 3339.
    /// The value of an integer cell (smallint, integer, bigint).
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            CellValue::Int2(value) => Some(i64::from(*value)),
            CellValue::Int4(value) => Some(i64::from(*value)),
            CellValue::Int8(value) => Some(*value),
            _ => None,
        }
    }

    pub fn to_json(&self) -> String {
        match self {
            CellValue::Null => "null".into(),
            CellValue::Bool(value) => value.to_string(),
            CellValue::Int2(value) => value.to_string(),
            CellValue::Int4(value) => value.to_string(),
            CellValue::Int8(value) => value.to_string(),
            CellValue::Float4(value) => float_json(f64::from(*value), value.to_string()),
            CellValue::Float8(value) => float_json(*value, value.to_string()),
            CellValue::Numeric(value) if value.is_special() => format!("\"{value}\""),
            CellValue::Numeric(value) => value.to_string(),
            CellValue::Text(text) => json_string(text),
            CellValue::TimestampTz(time) => format!("\"{time}\""),
            CellValue::Date(date) => format!("\"{}\"", date.format("%Y-%m-%d")),
            CellValue::Jsonb(text) => text.clone(),
            CellValue::Uuid(bytes) => format!("\"{}\"", format_uuid(bytes)),
            CellValue::TextArray(items) => {
                format!("[{}]", items.iter().map(|item| json_string(item)).collect::<Vec<_>>().join(","))
            }
            CellValue::Float8Array(items) => {
                format!("[{}]", items.iter().map(|item| float_json(*item, item.to_string())).collect::<Vec<_>>().join(","))
            }
        }
    }
}

fn float_json(value: f64, shortest: String) -> String {
    if value.is_nan() {
        "\"NaN\"".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "\"Infinity\"".into()
        } else {
            "\"-Infinity\"".into()
        }
    } else {
        shortest
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// Whether JSON holds a NUL character in a string or a key, which `jsonb` cannot store.
pub fn jsonb_holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(jsonb_holds_nul),
        Value::Object(map) => map.iter().any(|(key, item)| key.contains('\0') || jsonb_holds_nul(item)),
        _ => false,
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower case.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Reads a UUID written as 32 hex digits, either plain or grouped 8-4-4-4-12 with
/// hyphens, optionally in braces, in any case.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let inner = match text.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => text,
    };
    let hex: Vec<u8> = match inner.len() {
        32 => inner.bytes().collect(),
        36 => {
            let bytes = inner.as_bytes();
            if [8, 13, 18, 23].iter().any(|position| bytes[*position] != b'-') {
                return None;
            }
            inner.bytes().filter(|byte| *byte != b'-').collect()
        }
        _ => return None,
    };
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (index, pair) in hex.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        bytes[index] = (high * 16 + low) as u8;
    }
    Some(bytes)
}

/// A random (version 4, variant 1) UUID, as `gen_random_uuid()` makes them.
pub fn random_uuid() -> [u8; 16] {
    let mut bytes = fastrand::u128(..).to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_read_in_the_usual_spellings_and_print_canonically() {
        let canonical = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        let bytes = parse_uuid(canonical).unwrap();
        assert_eq!(format_uuid(&bytes), canonical);
        for spelling in
            ["7C9E6679-7425-40DE-944B-E07FC1F90AE7", "7c9e6679742540de944be07fc1f90ae7", "{7c9e6679-7425-40de-944b-e07fc1f90ae7}"]
        {
            assert_eq!(parse_uuid(spelling), Some(bytes), "{spelling}");
        }
        for bad in [
            "",
            "7c9e6679-7425-40de-944b-e07fc1f90ae",
            "7c9e6679-7425-40de-944b-e07fc1f90aeg",
            "7c9e667974-25-40de-944b-e07fc1f90ae7",
            "{7c9e6679742540de944be07fc1f90ae7",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
        let random = random_uuid();
        assert_eq!((random[6] >> 4, random[8] >> 6), (4, 2), "version 4, variant 1");
    }

    #[test]
    fn values_print_as_json_a_producer_could_resend() {
        let cases = [
            (CellValue::Null, "null"),
            (CellValue::Numeric(Decimal::parse("-0012.3400").unwrap()), "-12.3400"),
            (CellValue::Numeric(Decimal::parse("nan").unwrap()), "\"NaN\""),
            (CellValue::Float8(f64::NEG_INFINITY), "\"-Infinity\""),
            (CellValue::Float4(0.1), "0.1"),
            (CellValue::Text("a\"b".into()), "\"a\\\"b\""),
            (CellValue::TextArray(vec![String::new(), "x".into()]), "[\"\",\"x\"]"),
            (CellValue::Float8Array(vec![1.5, f64::NAN]), "[1.5,\"NaN\"]"),
            (CellValue::TimestampTz(Timestamp(1_795_348_800_123_456)), "\"2026-11-22T12:00:00.123456Z\""),
        ];
        for (value, json) in cases {
            assert_eq!(value.to_json(), json, "{value:?}");
        }
    }
}
