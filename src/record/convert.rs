//! Converting a push `row` record into a custom table's typed values, column by column.
//! Pure functions; every rejection names the column and what it expects.
//!
//! Exactness: `numeric`, `real`, `double precision` and `jsonb` values are read from the
//! row's JSON text, not from parsed JSON numbers, so `19.99` reaches `numeric(10,2)` as
//! the digits 1999 and a float is rounded once, by the standard parser.

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::cell::{jsonb_holds_nul, parse_uuid, random_uuid, CellValue};
use super::column::PgType;
use super::custom::{ColumnDefault, ColumnRule, CustomRow, CustomSchema};
use super::decimal::{Decimal, DecimalError, DecimalKind};
use super::row::{RowOp, RowRecord};
use super::time::Timestamp;
use super::{RejectReason, Rejection};

/// PostgreSQL's first date, 4714-11-24 BC (Julian day 0), in days from 0001-01-01.
const POSTGRES_MIN_DATE_DAYS_FROM_CE: i32 = -1_721_060;

impl CustomSchema {
    /// Converts a `row` record into a row of this table: unknown columns, an `upsert`
    /// or `update` (this table has no primary key and is appended to by COPY), a value
    /// that does not fit its column, or a missing NOT NULL column without a default are
    /// refused; missing nullable columns are NULL.
    pub fn convert(&self, row: &RowRecord) -> Result<CustomRow, Rejection> {
        let table = self.name();
        if row.op != RowOp::Insert {
            return Err(Rejection::new(
                RejectReason::InvalidField,
                format!(
                    "`op`: {table} is a custom table without a primary_key, appended to by COPY; only \"insert\" is taken, not \"{}\" \
                     (declare primary_key in its [[custom_tables]] entry to upsert or update)",
                    row.op.as_str()
                ),
            ));
        }
        self.convert_insert(row)
    }

    /// [`CustomSchema::convert`] without the check of the operation.
    pub(super) fn convert_insert(&self, row: &RowRecord) -> Result<CustomRow, Rejection> {
        let table = self.name();
        self.refuse_unknown_columns(row)?;
        let raw_texts = self.raw_texts(row)?;
        let mut values = Vec::with_capacity(self.columns.len());
        for rule in &self.columns {
            let given = row.fields.get(&rule.name).filter(|value| !value.is_null());
            let value = match given {
                Some(value) => convert_value(rule, value, raw_texts.get(&rule.name).map(|raw| raw.get()))?,
                None => match &rule.default {
                    Some(ColumnDefault::Value(value)) => value.clone(),
                    Some(ColumnDefault::RandomUuid) => CellValue::Uuid(random_uuid()),
                    Some(ColumnDefault::ReceivedAt) => CellValue::TimestampTz(row.received_at),
                    Some(ColumnDefault::CurrentDate) => CellValue::Date(row.received_at.utc_date()),
                    None if rule.nullable => CellValue::Null,
                    None => {
                        return Err(Rejection::new(
                            RejectReason::MissingField,
                            format!("`{}` is required: {table}.{} is NOT NULL and has no default", rule.name, rule.name),
                        ))
                    }
                },
            };
            values.push(value);
        }
        let CellValue::TimestampTz(time) = values[self.time_index] else {
            return Err(Rejection::new(
                RejectReason::MissingField,
                format!("`{}` is required: it is {table}'s time column", self.columns[self.time_index].name),
            ));
        };
        Ok(CustomRow { table: self.table, received_at: row.received_at, time, values })
    }

    pub(super) fn refuse_unknown_columns(&self, row: &RowRecord) -> Result<(), Rejection> {
        if let Some(unknown) = row.columns.iter().find(|name| !self.columns.iter().any(|column| &column.name == *name)) {
            let known: Vec<&str> = self.columns.iter().map(|column| column.name.as_str()).collect();
            return Err(Rejection::new(
                RejectReason::UnknownColumn,
                format!("`{unknown}` is not a column of {}; expected some of {}", self.name(), known.join(", ")),
            ));
        }
        Ok(())
    }

    /// The JSON text of each of the row's values, when a column needs it.
    pub(super) fn raw_texts<'a>(&self, row: &'a RowRecord) -> Result<HashMap<String, &'a RawValue>, Rejection> {
        if !self.needs_raw_text {
            return Ok(HashMap::new());
        }
        serde_json::from_str(&row.json).map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("`row`: {error}")))
    }
}

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
pub fn convert_value(rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<CellValue, Rejection> {
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
        PgType::Float4 => float4(rule, value, raw).map(CellValue::Float4),
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
fn float_text<'a>(rule: &ColumnRule, value: &'a Value, raw: Option<&'a str>) -> Result<std::borrow::Cow<'a, str>, Rejection> {
    match value {
        Value::Number(number) => Ok(raw.map_or_else(|| std::borrow::Cow::Owned(number.to_string()), std::borrow::Cow::Borrowed)),
        Value::String(text) => Ok(std::borrow::Cow::Borrowed(text.trim())),
        other => Err(invalid(rule, "a number or a decimal string", other)),
    }
}

fn is_infinity_spelling(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
}

fn float8(rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<f64, Rejection> {
    let text = float_text(rule, value, raw)?;
    let number: f64 = text.parse().map_err(|_| invalid(rule, "a number or a decimal string", value))?;
    if number.is_infinite() && !is_infinity_spelling(&text) {
        return Err(out_of_range(rule, format!("{text} is out of range for double precision")));
    }
    if !number.is_finite() && !rule.allow_nan {
        return Err(not_finite(rule, value));
    }
    Ok(number)
}

fn float4(rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<f32, Rejection> {
    let text = float_text(rule, value, raw)?;
    let number: f32 = text.parse().map_err(|_| invalid(rule, "a number or a decimal string", value))?;
    if number.is_infinite() && !is_infinity_spelling(&text) {
        return Err(out_of_range(rule, format!("{text} is out of range for real")));
    }
    if !number.is_finite() && !rule.allow_nan {
        return Err(not_finite(rule, value));
    }
    Ok(number)
}

fn text(rule: &ColumnRule, value: &Value) -> Result<String, Rejection> {
    match value {
        Value::String(text) if !text.contains('\0') => Ok(text.clone()),
        other => Err(invalid(rule, "a string without NUL characters", other)),
    }
}

fn timestamp(rule: &ColumnRule, value: &Value) -> Result<Timestamp, Rejection> {
    match value {
        Value::String(text) => {
            Timestamp::parse_rfc3339(text).ok_or_else(|| invalid(rule, "an RFC 3339 time like 2026-11-22T12:00:00.123Z", value))
        }
        Value::Number(number) => {
            let nanos = number.as_i64().ok_or_else(|| invalid(rule, "integer epoch nanoseconds", value))?;
            Timestamp::from_plausible_unix_nanos(nanos)
                .map_err(|implausible| Rejection::new(RejectReason::TimeOutOfRange, format!("`{}`: {implausible}", rule.name)))
        }
        other => Err(invalid(rule, "an RFC 3339 string or integer epoch nanoseconds", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Decimal;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn rule(name: &str, type_name: &str) -> ColumnRule {
        let pg_type = PgType::from_config_name(type_name).unwrap_or_else(|| panic!("{type_name}"));
        ColumnRule { name: name.into(), pg_type, nullable: true, default: None, allow_nan: false }
    }

    fn row(table: &str, op: RowOp, json: &str) -> RowRecord {
        let fields: serde_json::Map<String, Value> = serde_json::from_str(json).unwrap();
        let mut columns: Vec<String> = fields.keys().cloned().collect();
        columns.sort_unstable();
        RowRecord { received_at: NOW, table: table.into(), op, json: json.into(), columns, key: String::new(), fields }
    }

    /// `price_tracking` of the deals system.
    fn price_tracking() -> CustomSchema {
        let mut id = rule("id", "uuid");
        id.default = Some(ColumnDefault::RandomUuid);
        let mut deal_id = rule("deal_id", "uuid");
        deal_id.nullable = false;
        let mut price = rule("price", "numeric(10,2)");
        price.nullable = false;
        let mut currency = rule("currency", "varchar(3)");
        currency.nullable = false;
        currency.default = Some(ColumnDefault::Value(CellValue::Text("USD".into())));
        let mut tracked_at = rule("tracked_at", "timestamptz");
        tracked_at.nullable = false;
        tracked_at.default = Some(ColumnDefault::ReceivedAt);
        let mut meta_data = rule("meta_data", "jsonb");
        meta_data.default = Some(ColumnDefault::Value(CellValue::Jsonb("{}".into())));
        let columns = vec![id, deal_id, price, currency, rule("source", "text"), tracked_at, meta_data];
        CustomSchema::new("price_tracking_unit", columns, "tracked_at").unwrap()
    }

    #[test]
    fn rows_convert_with_defaults_and_exact_numbers() {
        let schema = price_tracking();
        let converted = schema
            .convert(&row(
                "price_tracking_unit",
                RowOp::Insert,
                r#"{"deal_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","price":19.99,"source":"amazon","meta_data":{"n":12345678901234567890.5}}"#,
            ))
            .unwrap();
        let values = &converted.values;
        assert!(matches!(values[0], CellValue::Uuid(_)), "a random id");
        assert_eq!(values[1], CellValue::Uuid(parse_uuid("7c9e6679-7425-40de-944b-e07fc1f90ae7").unwrap()));
        assert_eq!(values[2], CellValue::Numeric(Decimal::parse("19.99").unwrap()));
        assert_eq!(values[3], CellValue::Text("USD".into()), "the default");
        assert_eq!(values[5], CellValue::TimestampTz(NOW), "now: the receipt time");
        assert_eq!(values[6], CellValue::Jsonb(r#"{"n":12345678901234567890.5}"#.into()), "jsonb keeps the text");
        assert_eq!(converted.time, NOW);
        assert!(converted.to_push_json().starts_with(r#"{"type":"row","table":"price_tracking_unit","op":"insert","row":{"id":""#));
    }

    #[test]
    fn refusals_name_the_column() {
        let schema = price_tracking();
        let deal = r#""deal_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7""#;
        let cases = [
            (format!(r#"{{{deal},"price":"19.99","colour":"red"}}"#), RejectReason::UnknownColumn, "`colour`"),
            (r#"{"price":"19.99"}"#.to_string(), RejectReason::MissingField, "`deal_id`"),
            (format!(r#"{{{deal}}}"#), RejectReason::MissingField, "`price`"),
            (format!(r#"{{{deal},"price":null}}"#), RejectReason::MissingField, "`price`"),
            (format!(r#"{{{deal},"price":true}}"#), RejectReason::InvalidField, "`price`"),
            (format!(r#"{{{deal},"price":"12,50"}}"#), RejectReason::InvalidField, "`price`"),
            (format!(r#"{{{deal},"price":"NaN"}}"#), RejectReason::NanOrInfinite, "`price`"),
            (format!(r#"{{{deal},"price":123456789}}"#), RejectReason::OutOfRange, "`price`"),
            (r#"{"deal_id":"not-a-uuid","price":1}"#.to_string(), RejectReason::InvalidField, "`deal_id`"),
            (format!(r#"{{{deal},"price":1,"currency":"EURO"}}"#), RejectReason::OutOfRange, "`currency`"),
            (format!(r#"{{{deal},"price":1,"tracked_at":"yesterday"}}"#), RejectReason::InvalidField, "`tracked_at`"),
            (format!(r#"{{{deal},"price":1,"tracked_at":1795348800}}"#), RejectReason::TimeOutOfRange, "`tracked_at`"),
            (format!(r#"{{{deal},"price":1,"source":"a\u0000b"}}"#), RejectReason::InvalidField, "`source`"),
            (format!(r#"{{{deal},"price":1,"meta_data":{{"k":"\u0000"}}}}"#), RejectReason::InvalidField, "`meta_data`"),
        ];
        for (json, code, needle) in cases {
            let rejection = schema.convert(&row("price_tracking_unit", RowOp::Insert, &json)).expect_err(&json);
            assert_eq!(rejection.code, code, "{json}: {rejection}");
            assert!(rejection.detail.contains(needle), "{json}: {rejection}");
        }
        let upsert = schema.convert(&row("price_tracking_unit", RowOp::Upsert, &format!(r#"{{{deal},"price":1}}"#))).unwrap_err();
        assert!(upsert.code == RejectReason::InvalidField && upsert.detail.contains("only \"insert\""), "{upsert}");
    }

    #[test]
    fn every_type_converts_and_checks_its_range() {
        let ok = |type_name: &str, json: &str| -> CellValue {
            let value: Value = serde_json::from_str(json).unwrap();
            convert_value(&rule("c", type_name), &value, Some(json)).unwrap_or_else(|error| panic!("{type_name} {json}: {error}"))
        };
        let refused = |type_name: &str, json: &str| -> RejectReason {
            let value: Value = serde_json::from_str(json).unwrap();
            convert_value(&rule("c", type_name), &value, Some(json)).expect_err(json).code
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
        let nan = convert_value(&nan_allowed, &Value::String("NaN".into()), None).unwrap();
        assert_eq!(nan, CellValue::Numeric(Decimal::parse("NaN").unwrap()));
        nan_allowed.pg_type = PgType::Float8;
        assert!(
            matches!(convert_value(&nan_allowed, &Value::String("-Infinity".into()), None), Ok(CellValue::Float8(x)) if x == f64::NEG_INFINITY)
        );
    }
}
