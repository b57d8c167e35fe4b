//! A push `row` record for a custom table, converted into the table's typed values
//! column by column (each value by `row_cells`): for a COPY table a complete
//! [`CustomRow`], for a keyed table (a primary, unique or foreign key) a normalized
//! record the relational writer takes. [`PushRows`] is this conversion as the
//! `record::RowConverter` the router is handed. Every rejection names the column and
//! what it expects.
//!
//! Keyed rows are handed to the relational writer as a normalized `row` record — every
//! value rewritten as the JSON its column's input takes (times in RFC 3339, numbers
//! digit for digit, UUIDs and dates as strings), so the writer and the database see
//! exactly what a COPY would have written. An `insert` is complete: defaults are filled
//! in by the daemon as on the COPY path. An `upsert` or `update` carries only the
//! columns sent (a column left out keeps its value, or takes its DDL `DEFAULT` when the
//! upsert inserts); a `null` sent for a column with a default is left out the same way,
//! a `null` for any other column sets NULL.

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::row_cells::cell;
use crate::record::{
    random_uuid, CellValue, ColumnDefault, ColumnRule, CustomRow, CustomSchema, NormalizedRow, RejectReason, Rejection, RowConverter,
    RowOp, RowRecord,
};

/// The push protocol's reading of `row` records, handed to the router by `app`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PushRows;

impl RowConverter for PushRows {
    fn cell(&self, rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<CellValue, Rejection> {
        cell(rule, value, raw)
    }

    fn convert(&self, schema: &CustomSchema, row: &RowRecord) -> Result<CustomRow, Rejection> {
        convert(schema, row)
    }

    fn normalize_keyed(&self, schema: &CustomSchema, row: &mut RowRecord) -> Result<NormalizedRow, Rejection> {
        normalize_keyed(schema, row)
    }
}

/// Converts a `row` record into a row of `schema`'s table: unknown columns, an `upsert`
/// or `update` (this table has no primary key and is appended to by COPY), a value
/// that does not fit its column, or a missing NOT NULL column without a default are
/// refused; missing nullable columns are NULL.
pub fn convert(schema: &CustomSchema, row: &RowRecord) -> Result<CustomRow, Rejection> {
    let table = schema.name();
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
    convert_insert(schema, row)
}

/// [`convert`] without the check of the operation.
fn convert_insert(schema: &CustomSchema, row: &RowRecord) -> Result<CustomRow, Rejection> {
    let table = schema.name();
    refuse_unknown_columns(schema, row)?;
    let raw_texts = raw_texts(schema, row)?;
    let mut values = Vec::with_capacity(schema.columns.len());
    for rule in &schema.columns {
        let given = row.fields.get(&rule.name).filter(|value| !value.is_null());
        let value = match given {
            Some(value) => cell(rule, value, raw_texts.get(&rule.name).map(|raw| raw.get()))?,
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
    let CellValue::TimestampTz(time) = values[schema.time_index] else {
        return Err(Rejection::new(
            RejectReason::MissingField,
            format!("`{}` is required: it is {table}'s time column", schema.columns[schema.time_index].name),
        ));
    };
    Ok(CustomRow { table: schema.table, received_at: row.received_at, time, values })
}

fn refuse_unknown_columns(schema: &CustomSchema, row: &RowRecord) -> Result<(), Rejection> {
    if let Some(unknown) = row.columns.iter().find(|name| !schema.columns.iter().any(|column| &column.name == *name)) {
        let known: Vec<&str> = schema.columns.iter().map(|column| column.name.as_str()).collect();
        return Err(Rejection::new(
            RejectReason::UnknownColumn,
            format!("`{unknown}` is not a column of {}; expected some of {}", schema.name(), known.join(", ")),
        ));
    }
    Ok(())
}

/// The JSON text of each of the row's values, when a column needs it.
fn raw_texts<'a>(schema: &CustomSchema, row: &'a RowRecord) -> Result<HashMap<String, &'a RawValue>, Rejection> {
    if !schema.needs_raw_text() {
        return Ok(HashMap::new());
    }
    serde_json::from_str(&row.json).map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("`row`: {error}")))
}

/// Checks and converts a row of a keyed table and rewrites it in place as the
/// normalized record the relational writer takes (see the module docs).
pub fn normalize_keyed(schema: &CustomSchema, row: &mut RowRecord) -> Result<NormalizedRow, Rejection> {
    let normalized = match row.op {
        RowOp::Insert => {
            let converted = convert_insert(schema, row)?;
            NormalizedRow { time: Some(converted.time), values: converted.values.into_iter().map(Some).collect() }
        }
        RowOp::Upsert | RowOp::Update => {
            refuse_unknown_columns(schema, row)?;
            let raw_texts = raw_texts(schema, row)?;
            let mut values = Vec::with_capacity(schema.columns.len());
            for rule in &schema.columns {
                let value = match row.fields.get(&rule.name) {
                    None => None,
                    Some(Value::Null) if rule.default.is_some() => None,
                    Some(Value::Null) => Some(CellValue::Null),
                    Some(value) => Some(cell(rule, value, raw_texts.get(&rule.name).map(|raw| raw.get()))?),
                };
                values.push(value);
            }
            let time = match &values[schema.time_index] {
                Some(CellValue::TimestampTz(time)) => Some(*time),
                Some(_) => {
                    return Err(Rejection::new(
                        RejectReason::MissingField,
                        format!("`{}` is {}'s time column and cannot be null", schema.columns[schema.time_index].name, schema.name()),
                    ))
                }
                None => None,
            };
            NormalizedRow { time, values }
        }
    };
    let mut fields = Map::new();
    let mut json = String::with_capacity(row.json.len() + 32);
    json.push('{');
    for (rule, value) in schema.columns.iter().zip(&normalized.values) {
        let Some(value) = value else { continue };
        if *value == CellValue::Null && row.op == RowOp::Insert {
            continue;
        }
        let text = value.to_json();
        let parsed: Value =
            serde_json::from_str(&text).map_err(|error| Rejection::new(RejectReason::InvalidField, format!("`{}`: {error}", rule.name)))?;
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&Value::String(rule.name.clone()).to_string());
        json.push(':');
        json.push_str(&text);
        fields.insert(rule.name.clone(), parsed);
    }
    json.push('}');
    let mut columns: Vec<String> = fields.keys().cloned().collect();
    columns.sort_unstable();
    row.json = json;
    row.fields = fields;
    row.columns = columns;
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{parse_uuid, Decimal, PgType, Timestamp};

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
        let converted = convert(
                &schema,
                &row(
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
            let rejection = convert(&schema, &row("price_tracking_unit", RowOp::Insert, &json)).expect_err(&json);
            assert_eq!(rejection.code, code, "{json}: {rejection}");
            assert!(rejection.detail.contains(needle), "{json}: {rejection}");
        }
        let upsert = convert(&schema, &row("price_tracking_unit", RowOp::Upsert, &format!(r#"{{{deal},"price":1}}"#))).unwrap_err();
        assert!(upsert.code == RejectReason::InvalidField && upsert.detail.contains("only \"insert\""), "{upsert}");
    }

    fn keyed_schema() -> CustomSchema {
        let rule = |name: &str, pg_type, default| ColumnRule { name: name.into(), pg_type, nullable: true, default, allow_nan: false };
        CustomSchema::new(
            "keyed_normalize",
            vec![
                rule("id", PgType::Uuid, Some(ColumnDefault::RandomUuid)),
                rule("at", PgType::TimestampTz, Some(ColumnDefault::ReceivedAt)),
                rule("day", PgType::Date, Some(ColumnDefault::CurrentDate)),
                rule("price", PgType::Numeric(None), None),
                rule("note", PgType::Text, None),
            ],
            "at",
        )
        .unwrap()
    }

    fn keyed_row(op: RowOp, json: &str) -> RowRecord {
        let fields: Map<String, Value> = serde_json::from_str(json).unwrap();
        let mut columns: Vec<String> = fields.keys().cloned().collect();
        columns.sort_unstable();
        RowRecord {
            received_at: Timestamp(1_795_348_800_000_000),
            table: "keyed_normalize".into(),
            op,
            json: json.into(),
            columns,
            key: String::new(),
            fields,
        }
    }

    #[test]
    fn an_insert_is_completed_with_defaults_and_an_update_keeps_to_what_it_sends() {
        let schema = keyed_schema();
        let mut insert = keyed_row(RowOp::Insert, r#"{"price":0.30000000000000004441,"at":1795348800123456789}"#);
        let normalized = normalize_keyed(&schema, &mut insert).unwrap();
        assert_eq!(normalized.time, Some(Timestamp(1_795_348_800_123_456)));
        assert_eq!(insert.columns, ["at", "day", "id", "price"], "defaults filled, the NULL note left out");
        assert!(insert.json.contains(r#""price":0.30000000000000004441"#), "{}", insert.json);
        assert!(insert.json.contains(r#""at":"2026-11-22T12:00:00.123456Z""#), "{}", insert.json);
        assert!(insert.json.contains(r#""day":"2026-11-22""#), "the receipt time's UTC date: {}", insert.json);

        let mut update = keyed_row(RowOp::Update, r#"{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","note":null,"day":null}"#);
        let normalized = normalize_keyed(&schema, &mut update).unwrap();
        assert_eq!(normalized.time, None);
        assert_eq!(update.columns, ["id", "note"], "null for a column with a default is left out; for others it is NULL");
        assert_eq!(update.json, r#"{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","note":null}"#);

        let refused = normalize_keyed(&schema, &mut keyed_row(RowOp::Upsert, r#"{"id":"x"}"#)).unwrap_err();
        assert_eq!(refused.code, RejectReason::InvalidField, "{refused}");
        let unknown = normalize_keyed(&schema, &mut keyed_row(RowOp::Upsert, r#"{"colour":"red"}"#)).unwrap_err();
        assert_eq!(unknown.code, RejectReason::UnknownColumn);
    }
}
