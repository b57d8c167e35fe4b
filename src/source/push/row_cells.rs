//! One JSON value as a custom table's typed cell, by its column's rule: the push `row`
//! record's values, and the `default` values of `[[custom_tables]]` columns, read as a
//! producer would send them. Pure functions; every rejection names the column, what it
//! expects and its type.
//!
//! Exactness: `numeric`, `real`, `double precision` and `jsonb` values are read from the
//! row's JSON text, not from parsed JSON numbers, so `19.99` reaches `numeric(10,2)` as
//! the digits 1999 and a float is rounded once, by the standard parser. Times and floats
//! follow the rules every source reads them by (`source::values`).

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::config::Config;
use crate::record::{
    jsonb_holds_nul, parse_uuid, CellValue, ColumnRule, Decimal, DecimalError, DecimalKind, PgType, RejectReason, Rejection, Timestamp,
};
use crate::source::values::{self, Float, FloatError};

/// Reports each `[[custom_tables]]` column whose `default` value does not fit the
/// column, as a producer's value for it would be refused (the configuration's own checks
/// report the rest of a column's problems).
pub fn check_defaults(config: &Config, problem: &mut impl FnMut(&str, String)) {
    for (table_index, table) in config.custom_tables.iter().enumerate() {
        for index in 0..table.columns.len() {
            let Ok((rule, Some(json))) = table.column_shape(index) else { continue };
            if let Err(rejection) = cell(&rule, &json, Some(&json.to_string())) {
                problem(&format!("custom_tables[{table_index}].columns[{index}].default"), rejection.detail);
            }
        }
    }
}

/// PostgreSQL's first date, 4714-11-24 BC (Julian day 0), in days from 0001-01-01.
const POSTGRES_MIN_DATE_DAYS_FROM_CE: i32 = -1_721_060;

fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(text) => format!("\"{text}\""),
        other => other.to_string(),
    };
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

fn invalid(rule: &ColumnRule, expected: &str, got: &Value) -> Rejection {
    Rejection::new(
        RejectReason::InvalidField,
        format!("`{}`: expected {expected} ({}), got {}", rule.name, rule.pg_type.sql_name(), shown(got)),
    )
}

fn out_of_range(rule: &ColumnRule, why: impl std::fmt::Display) -> Rejection {
    Rejection::new(RejectReason::OutOfRange, format!("`{}`: {why}", rule.name))
}

fn not_finite(rule: &ColumnRule, got: &Value) -> Rejection {
    Rejection::new(
        RejectReason::NanOrInfinite,
        format!("`{}` is {}; expected a finite number (set allow_nan on the column to take NaN and infinities)", rule.name, shown(got)),
    )
}

/// Converts one JSON value (not `null`) for a column. `raw` is the value's JSON text
/// when the row's text was kept (always for numeric, real, double precision and jsonb).
pub fn cell(rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<CellValue, Rejection> {
    match rule.pg_type {
        PgType::Bool => match value {
            Value::Bool(flag) => Ok(CellValue::Bool(*flag)),
            Value::String(text) if text == "true" => Ok(CellValue::Bool(true)),
            Value::String(text) if text == "false" => Ok(CellValue::Bool(false)),
            other => Err(invalid(rule, "true or false", other)),
        },
        PgType::Int2 => integer(rule, value, i64::from(i16::MIN), i64::from(i16::MAX)).map(|number| CellValue::Int2(number as i16)),
        PgType::Int4 => integer(rule, value, i64::from(i32::MIN), i64::from(i32::MAX)).map(|number| CellValue::Int4(number as i32)),
        PgType::Int8 => integer(rule, value, i64::MIN, i64::MAX).map(CellValue::Int8),
        PgType::Float4 => float(rule, value, raw, "real").map(CellValue::Float4),
        PgType::Float8 => float8(rule, value, raw).map(CellValue::Float8),
        PgType::Numeric(typmod) => {
            let text = match value {
                Value::Number(_) => raw.map_or_else(|| value.to_string(), str::to_string),
                Value::String(text) => text.clone(),
                other => return Err(invalid(rule, "a decimal number or a decimal string", other)),
            };
            let decimal = Decimal::parse(&text).map_err(|error| match error {
                DecimalError::Syntax => invalid(rule, "a decimal number or a decimal string", value),
                DecimalError::OutOfRange(why) => out_of_range(rule, why),
            })?;
            if decimal.is_special() && !rule.allow_nan {
                return Err(not_finite(rule, value));
            }
            let decimal = match typmod {
                Some(typmod) => decimal.fit_typmod(typmod).map_err(|error| match error {
                    DecimalError::OutOfRange(why) => out_of_range(rule, why),
                    DecimalError::Syntax => invalid(rule, "a decimal number", value),
                })?,
                None => decimal,
            };
            debug_assert!(decimal.kind() != DecimalKind::NaN || rule.allow_nan);
            Ok(CellValue::Numeric(decimal))
        }
        PgType::Text => text(rule, value).map(CellValue::Text),
        PgType::Varchar(length) => {
            let text = text(rule, value)?;
            let characters = text.chars().count();
            if characters > length as usize {
                return Err(out_of_range(rule, format!("{characters} characters; {} holds at most {length}", rule.pg_type.sql_name())));
            }
            Ok(CellValue::Text(text))
        }
        PgType::TimestampTz => timestamp(rule, value).map(CellValue::TimestampTz),
        PgType::Date => {
            let Value::String(text) = value else { return Err(invalid(rule, "a date like 2026-12-25", value)) };
            let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid(rule, "a date like 2026-12-25", value))?;
            use chrono::Datelike;
            if date.num_days_from_ce() < POSTGRES_MIN_DATE_DAYS_FROM_CE {
                return Err(out_of_range(rule, format!("{text} is before 4714-11-24 BC, PostgreSQL's first date")));
            }
            Ok(CellValue::Date(date))
        }
        PgType::Jsonb => {
            if jsonb_holds_nul(value) {
                return Err(invalid(rule, "JSON without NUL characters (jsonb cannot store them)", value));
            }
            Ok(CellValue::Jsonb(raw.map_or_else(|| value.to_string(), str::to_string)))
        }
        PgType::Uuid => match value {
            Value::String(text) => parse_uuid(text)
                .map(CellValue::Uuid)
                .ok_or_else(|| invalid(rule, "a UUID like 7c9e6679-7425-40de-944b-e07fc1f90ae7", value)),
            other => Err(invalid(rule, "a UUID string", other)),
        },
        PgType::TextArray => {
            let Value::Array(items) = value else { return Err(invalid(rule, "an array of strings", value)) };
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(text) if !text.contains('\0') => texts.push(text.clone()),
                    _ => return Err(invalid(rule, "an array of strings without NULs (null elements are not taken)", value)),
                }
            }
            Ok(CellValue::TextArray(texts))
        }
        PgType::Float8Array => {
            let Value::Array(items) = value else { return Err(invalid(rule, "an array of numbers", value)) };
            let raw_items: Option<Vec<&RawValue>> = raw.and_then(|text| serde_json::from_str(text).ok());
            let mut numbers = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let raw_item = raw_items.as_ref().and_then(|raw| raw.get(index)).map(|raw| raw.get());
                numbers.push(float8(rule, item, raw_item)?);
            }
            Ok(CellValue::Float8Array(numbers))
        }
    }
}

fn integer(rule: &ColumnRule, value: &Value, min: i64, max: i64) -> Result<i64, Rejection> {
    let range = || out_of_range(rule, format!("{} is outside {min} to {max} ({})", shown(value), rule.pg_type.sql_name()));
    let number: i128 = match value {
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(signed), _) => i128::from(signed),
            (None, Some(unsigned)) => i128::from(unsigned),
            (None, None) => return Err(invalid(rule, "an integer or a string of one", value)),
        },
        Value::String(text) => {
            let text = text.trim();
            match text.parse::<i128>() {
                Ok(number) => number,
                Err(_) => {
                    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
                    let all_digits = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
                    return Err(if all_digits { range() } else { invalid(rule, "an integer or a string of one", value) });
                }
            }
        }
        other => return Err(invalid(rule, "an integer or a string of one", other)),
    };
    if number < i128::from(min) || number > i128::from(max) {
        return Err(range());
    }
    Ok(number as i64)
}

/// The text a float is read from: the JSON number as written, or a string's content.
fn float_text<'a>(rule: &ColumnRule, value: &'a Value, raw: Option<&'a str>) -> Result<Cow<'a, str>, Rejection> {
    match value {
        Value::Number(number) => Ok(raw.map_or_else(|| Cow::Owned(number.to_string()), Cow::Borrowed)),
        Value::String(text) => Ok(Cow::Borrowed(text.trim())),
        other => Err(invalid(rule, "a number or a decimal string", other)),
    }
}

/// A `real` or `double precision` value (`type_name`), read by [`values::parse_float`].
fn float<F: Float>(rule: &ColumnRule, value: &Value, raw: Option<&str>, type_name: &str) -> Result<F, Rejection> {
    let text = float_text(rule, value, raw)?;
    let number: F = values::parse_float(&text).map_err(|error| match error {
        FloatError::NotANumber => invalid(rule, "a number or a decimal string", value),
        FloatError::TooLarge => out_of_range(rule, format!("{text} is out of range for {type_name}")),
    })?;
    if !number.is_finite() && !rule.allow_nan {
        return Err(not_finite(rule, value));
    }
    Ok(number)
}

fn float8(rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<f64, Rejection> {
    float(rule, value, raw, "double precision")
}

fn text(rule: &ColumnRule, value: &Value) -> Result<String, Rejection> {
    match value {
        Value::String(text) if !text.contains('\0') => Ok(text.clone()),
        other => Err(invalid(rule, "a string without NUL characters", other)),
    }
}

fn timestamp(rule: &ColumnRule, value: &Value) -> Result<Timestamp, Rejection> {
    values::json_time_or(&rule.name, value, |expected| invalid(rule, expected, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn rule(name: &str, type_name: &str) -> ColumnRule {
        let pg_type = PgType::from_config_name(type_name).unwrap_or_else(|| panic!("{type_name}"));
        ColumnRule { name: name.into(), pg_type, nullable: true, default: None, allow_nan: false }
    }

    #[test]
    fn every_type_converts_and_checks_its_range() {
        let ok = |type_name: &str, json: &str| -> CellValue {
            let value: Value = serde_json::from_str(json).unwrap();
            cell(&rule("c", type_name), &value, Some(json)).unwrap_or_else(|error| panic!("{type_name} {json}: {error}"))
        };
        let refused = |type_name: &str, json: &str| -> RejectReason {
            let value: Value = serde_json::from_str(json).unwrap();
            cell(&rule("c", type_name), &value, Some(json)).expect_err(json).code
        };
        assert_eq!(ok("bool", "true"), CellValue::Bool(true));
        assert_eq!(ok("bool", "\"false\""), CellValue::Bool(false));
        assert_eq!(ok("int2", "-32768"), CellValue::Int2(i16::MIN));
        assert_eq!(ok("int4", "\"2147483647\""), CellValue::Int4(i32::MAX));
        assert_eq!(ok("int8", "-9223372036854775808"), CellValue::Int8(i64::MIN));
        assert_eq!(ok("int8", "\"9223372036854775807\""), CellValue::Int8(i64::MAX));
        assert_eq!(ok("float4", "0.1"), CellValue::Float4(0.1));
        assert_eq!(ok("float4", "3.4028235e38"), CellValue::Float4(f32::MAX));
        assert_eq!(ok("float8", "0.30000000000000004"), CellValue::Float8(0.30000000000000004));
        assert_eq!(ok("float8", "\"-1e-320\""), CellValue::Float8(-1e-320));
        assert_eq!(ok("numeric", "1e-3"), CellValue::Numeric(Decimal::parse("0.001").unwrap()));
        assert_eq!(ok("text", "\"\""), CellValue::Text(String::new()));
        assert_eq!(ok("date", "\"2026-12-25\""), CellValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()));
        assert_eq!(ok("timestamptz", "1795348800000000001"), CellValue::TimestampTz(NOW));
        assert_eq!(ok("jsonb", "[1, \"a\"]"), CellValue::Jsonb("[1, \"a\"]".into()));
        let exact = r#"{"a":0.30000000000000004441,"b":123456789012345678901234567890}"#;
        assert_eq!(ok("jsonb", exact), CellValue::Jsonb(exact.into()), "digits a float would lose");
        assert_eq!(ok("text[]", "[\"\", \"b\"]"), CellValue::TextArray(vec![String::new(), "b".into()]));
        assert_eq!(ok("float8[]", "[1, \"2.5\"]"), CellValue::Float8Array(vec![1.0, 2.5]));
        for (type_name, json, code) in [
            ("bool", "1", RejectReason::InvalidField),
            ("int2", "32768", RejectReason::OutOfRange),
            ("int4", "-2147483649", RejectReason::OutOfRange),
            ("int8", "9223372036854775808", RejectReason::OutOfRange),
            ("int8", "\"99999999999999999999999999999999999999999\"", RejectReason::OutOfRange),
            ("int4", "1.5", RejectReason::InvalidField),
            ("int4", "\"12a\"", RejectReason::InvalidField),
            ("float4", "1e39", RejectReason::OutOfRange),
            ("float8", "\"1e400\"", RejectReason::OutOfRange),
            ("float8", "\"NaN\"", RejectReason::NanOrInfinite),
            ("float8", "\"-inf\"", RejectReason::NanOrInfinite),
            ("float8", "[1]", RejectReason::InvalidField),
            ("numeric", "\"1e99999999\"", RejectReason::OutOfRange),
            ("text", "5", RejectReason::InvalidField),
            ("date", "\"2026-02-30\"", RejectReason::InvalidField),
            ("date", "\"-5000-01-01\"", RejectReason::OutOfRange),
            ("uuid", "\"7c9e6679-7425-40de-944b-e07fc1f90ae\"", RejectReason::InvalidField),
            ("text[]", "[\"a\", null]", RejectReason::InvalidField),
            ("text[]", "[[\"a\"]]", RejectReason::InvalidField),
            ("float8[]", "[1, \"x\"]", RejectReason::InvalidField),
            ("float8[]", "[\"NaN\"]", RejectReason::NanOrInfinite),
            ("timestamptz", "true", RejectReason::InvalidField),
        ] {
            assert_eq!(refused(type_name, json), code, "{type_name} {json}");
        }
        let mut nan_allowed = rule("c", "numeric");
        nan_allowed.allow_nan = true;
        let nan = cell(&nan_allowed, &Value::String("NaN".into()), None).unwrap();
        assert_eq!(nan, CellValue::Numeric(Decimal::parse("NaN").unwrap()));
        nan_allowed.pg_type = PgType::Float8;
        assert!(matches!(cell(&nan_allowed, &Value::String("-Infinity".into()), None), Ok(CellValue::Float8(x)) if x == f64::NEG_INFINITY));
    }
}
