//! Rows of keyed custom tables (a primary, unique or foreign key): checked and converted
//! against the table's declared columns like any custom row, then handed to the
//! relational writer as a normalized `row` record — every value rewritten as the JSON
//! its column's input takes (times in RFC 3339, numbers digit for digit, UUIDs and dates
//! as strings), so the writer and the database see exactly what a COPY would have
//! written.
//!
//! An `insert` is complete: defaults are filled in by the daemon as on the COPY path.
//! An `upsert` or `update` carries only the columns sent (a column left out keeps its
//! value, or takes its DDL `DEFAULT` when the upsert inserts); a `null` sent for a column
//! with a default is left out the same way, a `null` for any other column sets NULL.

use serde_json::{Map, Value};

use super::cell::CellValue;
use super::convert::convert_value;
use super::custom::CustomSchema;
use super::row::{RowOp, RowRecord};
use super::time::Timestamp;
use super::{RejectReason, Rejection};

/// What normalizing a keyed row found: its values by column (`None`: not sent) and its
/// time column's value, when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedRow {
    pub time: Option<Timestamp>,
    pub values: Vec<Option<CellValue>>,
}

impl NormalizedRow {
    /// The integer value of column `index`, when it was sent (or defaulted) as one.
    pub fn integer(&self, index: usize) -> Option<i64> {
        self.values.get(index)?.as_ref()?.as_integer()
    }
}

impl CustomSchema {
    /// Checks and converts a row of a keyed table and rewrites it in place as the
    /// normalized record the relational writer takes (see the module docs).
    pub fn normalize_keyed(&self, row: &mut RowRecord) -> Result<NormalizedRow, Rejection> {
        let normalized = match row.op {
            RowOp::Insert => {
                let converted = self.convert_insert(row)?;
                NormalizedRow { time: Some(converted.time), values: converted.values.into_iter().map(Some).collect() }
            }
            RowOp::Upsert | RowOp::Update => {
                self.refuse_unknown_columns(row)?;
                let raw_texts = self.raw_texts(row)?;
                let mut values = Vec::with_capacity(self.columns.len());
                for rule in &self.columns {
                    let value = match row.fields.get(&rule.name) {
                        None => None,
                        Some(Value::Null) if rule.default.is_some() => None,
                        Some(Value::Null) => Some(CellValue::Null),
                        Some(value) => Some(convert_value(rule, value, raw_texts.get(&rule.name).map(|raw| raw.get()))?),
                    };
                    values.push(value);
                }
                let time = match &values[self.time_index] {
                    Some(CellValue::TimestampTz(time)) => Some(*time),
                    Some(_) => {
                        return Err(Rejection::new(
                            RejectReason::MissingField,
                            format!("`{}` is {}'s time column and cannot be null", self.columns[self.time_index].name, self.name()),
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
        for (rule, value) in self.columns.iter().zip(&normalized.values) {
            let Some(value) = value else { continue };
            if *value == CellValue::Null && row.op == RowOp::Insert {
                continue;
            }
            let text = value.to_json();
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|error| Rejection::new(RejectReason::InvalidField, format!("`{}`: {error}", rule.name)))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ColumnDefault, ColumnRule, PgType};

    fn schema() -> CustomSchema {
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

    fn row(op: RowOp, json: &str) -> RowRecord {
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
        let schema = schema();
        let mut insert = row(RowOp::Insert, r#"{"price":0.30000000000000004441,"at":1795348800123456789}"#);
        let normalized = schema.normalize_keyed(&mut insert).unwrap();
        assert_eq!(normalized.time, Some(Timestamp(1_795_348_800_123_456)));
        assert_eq!(insert.columns, ["at", "day", "id", "price"], "defaults filled, the NULL note left out");
        assert!(insert.json.contains(r#""price":0.30000000000000004441"#), "{}", insert.json);
        assert!(insert.json.contains(r#""at":"2026-11-22T12:00:00.123456Z""#), "{}", insert.json);
        assert!(insert.json.contains(r#""day":"2026-11-22""#), "the receipt time's UTC date: {}", insert.json);

        let mut update = row(RowOp::Update, r#"{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","note":null,"day":null}"#);
        let normalized = schema.normalize_keyed(&mut update).unwrap();
        assert_eq!(normalized.time, None);
        assert_eq!(update.columns, ["id", "note"], "null for a column with a default is left out; for others it is NULL");
        assert_eq!(update.json, r#"{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","note":null}"#);

        let refused = schema.normalize_keyed(&mut row(RowOp::Upsert, r#"{"id":"x"}"#)).unwrap_err();
        assert_eq!(refused.code, RejectReason::InvalidField, "{refused}");
        let unknown = schema.normalize_keyed(&mut row(RowOp::Upsert, r#"{"colour":"red"}"#)).unwrap_err();
        assert_eq!(unknown.code, RejectReason::UnknownColumn);
    }
}
