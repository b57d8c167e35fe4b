//! What a bus message of relational or custom-table rows carries, in the framing of
//! [`codec`](super::codec): the version byte, then per row its id key and the row.
//!
//! - Relational rows (`<prefix>.relational.<table>`): per row its receipt time, table,
//!   operation and the row's JSON text exactly as the edge took it, so numbers reach
//!   `numeric` digit for digit. An edge has no database to check rows against; the
//!   writer checks each against its catalog as the router would.
//! - Custom-table rows (`<prefix>.custom.<table>`): after the version byte, the table as
//!   the edge's configuration describes it (name, time column, every column's name and
//!   type), then per row its receipt time, time and typed cells (numerics as their exact
//!   text, dates as days, floats bit for bit). A writer compares that description with
//!   its own before it takes a row: a table described differently on the two sides is
//!   refused by name rather than written wrong.

use serde::{Deserialize, Serialize};

use super::codec::{after_version, decode_rows, push_id, BusCodecError, FORMAT_VERSION};
use crate::record::{CellValue, CustomRow, CustomSchema, Decimal, PgType, RowOp, RowRecord, Timestamp};

#[derive(Serialize, Deserialize)]
struct WireRelationalRow {
    received_at: Timestamp,
    table: String,
    op: String,
    json: String,
}

/// Appends a relational row and its id key.
pub fn push_relational(row: &RowRecord, id: u128, out: &mut Vec<u8>) {
    push_id(id, out);
    let wire =
        WireRelationalRow { received_at: row.received_at, table: row.table.clone(), op: row.op.as_str().into(), json: row.json.clone() };
    // Serializing plain data into a Vec cannot fail.
    *out = postcard::to_extend(&wire, std::mem::take(out)).expect("rows serialize");
}

fn read_relational(input: &[u8]) -> Result<(RowRecord, &[u8]), String> {
    let (wire, rest): (WireRelationalRow, _) = postcard::take_from_bytes(input).map_err(|error| error.to_string())?;
    let op = match wire.op.as_str() {
        "insert" => RowOp::Insert,
        "upsert" => RowOp::Upsert,
        "update" => RowOp::Update,
        other => return Err(format!("unknown operation {other:?}")),
    };
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&wire.json).map_err(|error| format!("the row of `{}` is not a JSON object: {error}", wire.table))?;
    let mut columns: Vec<String> = fields.keys().cloned().collect();
    columns.sort_unstable();
    let row = RowRecord { received_at: wire.received_at, table: wire.table, op, json: wire.json, columns, key: String::new(), fields };
    Ok((row, rest))
}

/// The relational rows of a message with their id keys (the key of each row is the
/// writer's catalog check's to fill in).
pub fn decode_relational(payload: &[u8]) -> Result<Vec<(u128, RowRecord)>, BusCodecError> {
    decode_rows(after_version(payload)?, read_relational)
}

/// A custom table as one side's configuration describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDescription {
    pub table: String,
    pub time_column: String,
    /// Every column's name and type (as `format_type()` prints it), in COPY order.
    pub columns: Vec<(String, String)>,
}

impl TableDescription {
    pub fn of(schema: &CustomSchema) -> TableDescription {
        TableDescription {
            table: schema.name().to_string(),
            time_column: schema.columns.get(schema.time_index).map(|column| column.name.clone()).unwrap_or_default(),
            columns: schema.columns.iter().map(|column| (column.name.clone(), column.pg_type.sql_name().into_owned())).collect(),
        }
    }

    /// `Ok` when this (the edge's) description is `schema`'s (the writer's); else the
    /// first difference, named.
    pub fn matches(&self, schema: &CustomSchema) -> Result<(), String> {
        let own = TableDescription::of(schema);
        let prefix = format!("the table `{}` is described differently on the edge and on this writer", own.table);
        if self.table != own.table {
            return Err(format!("{prefix}: the message is for `{}`", self.table));
        }
        if self.time_column != own.time_column {
            return Err(format!("{prefix}: time column `{}` on the edge, `{}` here", self.time_column, own.time_column));
        }
        for index in 0..self.columns.len().max(own.columns.len()) {
            match (self.columns.get(index), own.columns.get(index)) {
                (Some(edge), Some(writer)) if edge == writer => {}
                (Some((edge_name, edge_type)), Some((name, pg_type))) => {
                    return Err(format!("{prefix}: column {} is `{edge_name}` {edge_type} on the edge, `{name}` {pg_type} here", index + 1))
                }
                (Some((edge_name, edge_type)), None) => {
                    return Err(format!("{prefix}: the edge has a column `{edge_name}` {edge_type} this writer does not"))
                }
                (None, Some((name, pg_type))) => return Err(format!("{prefix}: the edge lacks the column `{name}` {pg_type}")),
                (None, None) => {}
            }
        }
        Ok(())
    }
}

/// A cell as it travels. Numerics go as their exact text, dates as days since the
/// common era's first day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum WireCell {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(String),
    Text(String),
    TimestampTz(Timestamp),
    Date(i32),
    Jsonb(String),
    Uuid([u8; 16]),
    TextArray(Vec<String>),
    Float8Array(Vec<f64>),
}

impl WireCell {
    fn of(value: &CellValue) -> WireCell {
        use chrono::Datelike as _;
        match value {
            CellValue::Null => WireCell::Null,
            CellValue::Bool(value) => WireCell::Bool(*value),
            CellValue::Int2(value) => WireCell::Int2(*value),
            CellValue::Int4(value) => WireCell::Int4(*value),
            CellValue::Int8(value) => WireCell::Int8(*value),
            CellValue::Float4(value) => WireCell::Float4(*value),
            CellValue::Float8(value) => WireCell::Float8(*value),
            CellValue::Numeric(value) => WireCell::Numeric(value.to_string()),
            CellValue::Text(value) => WireCell::Text(value.clone()),
            CellValue::TimestampTz(value) => WireCell::TimestampTz(*value),
            CellValue::Date(value) => WireCell::Date(value.num_days_from_ce()),
            CellValue::Jsonb(value) => WireCell::Jsonb(value.clone()),
            CellValue::Uuid(value) => WireCell::Uuid(*value),
            CellValue::TextArray(value) => WireCell::TextArray(value.clone()),
            CellValue::Float8Array(value) => WireCell::Float8Array(value.clone()),
        }
    }

    fn into_value(self) -> Result<CellValue, String> {
        Ok(match self {
            WireCell::Null => CellValue::Null,
            WireCell::Bool(value) => CellValue::Bool(value),
            WireCell::Int2(value) => CellValue::Int2(value),
            WireCell::Int4(value) => CellValue::Int4(value),
            WireCell::Int8(value) => CellValue::Int8(value),
            WireCell::Float4(value) => CellValue::Float4(value),
            WireCell::Float8(value) => CellValue::Float8(value),
            WireCell::Numeric(text) => CellValue::Numeric(Decimal::parse(&text).map_err(|_| format!("{text:?} is not a numeric"))?),
            WireCell::Text(value) => CellValue::Text(value),
            WireCell::TimestampTz(value) => CellValue::TimestampTz(value),
            WireCell::Date(days) => {
                CellValue::Date(chrono::NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| format!("day {days} is not a date"))?)
            }
            WireCell::Jsonb(value) => CellValue::Jsonb(value),
            WireCell::Uuid(value) => CellValue::Uuid(value),
            WireCell::TextArray(value) => CellValue::TextArray(value),
            WireCell::Float8Array(value) => CellValue::Float8Array(value),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireCustomRow {
    received_at: Timestamp,
    time: Timestamp,
    cells: Vec<WireCell>,
}

/// Starts a message of `schema`'s rows: the version byte and the table's description.
pub fn begin_custom(schema: &CustomSchema, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    *out = postcard::to_extend(&TableDescription::of(schema), std::mem::take(out)).expect("descriptions serialize");
}

/// Appends a custom table's row and its id key.
pub fn push_custom(row: &CustomRow, id: u128, out: &mut Vec<u8>) {
    push_id(id, out);
    let wire = WireCustomRow { received_at: row.received_at, time: row.time, cells: row.values.iter().map(WireCell::of).collect() };
    *out = postcard::to_extend(&wire, std::mem::take(out)).expect("rows serialize");
}

/// A custom row as it came off the bus, before the writer's schema has taken it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivedCustomRow {
    pub received_at: Timestamp,
    pub time: Timestamp,
    pub values: Vec<CellValue>,
}

impl ArrivedCustomRow {
    /// The row as a push `row` record under the edge's column names, for a dead letter.
    pub fn to_push_json(&self, description: &TableDescription) -> String {
        let fields: Vec<String> = description
            .columns
            .iter()
            .zip(&self.values)
            .filter(|(_, value)| **value != CellValue::Null)
            .map(|((name, _), value)| format!("{}:{}", serde_json::Value::String(name.clone()), value.to_json()))
            .collect();
        format!(
            r#"{{"type":"row","table":{},"op":"insert","row":{{{}}}}}"#,
            serde_json::Value::String(description.table.clone()),
            fields.join(",")
        )
    }

    /// The row for `schema`'s table, once its description matched: every cell of its
    /// column's type, NULL only where the column takes it.
    pub fn into_row(self, schema: &CustomSchema) -> Result<CustomRow, String> {
        if self.values.len() != schema.columns.len() {
            return Err(format!("{} cells for {} columns", self.values.len(), schema.columns.len()));
        }
        for (rule, value) in schema.columns.iter().zip(&self.values) {
            if *value == CellValue::Null {
                if !rule.nullable {
                    return Err(format!("`{}`: NULL in a NOT NULL column", rule.name));
                }
            } else if !holds(rule.pg_type, value) {
                return Err(format!("`{}`: a cell of type {} in a {} column", rule.name, cell_kind(value), rule.pg_type.sql_name()));
            }
        }
        Ok(CustomRow { table: schema.table, received_at: self.received_at, time: self.time, values: self.values })
    }
}

/// Whether a column of `pg_type` takes `value`.
fn holds(pg_type: PgType, value: &CellValue) -> bool {
    matches!(
        (pg_type, value),
        (PgType::TimestampTz, CellValue::TimestampTz(_))
            | (PgType::Text | PgType::Varchar(_), CellValue::Text(_))
            | (PgType::Float8, CellValue::Float8(_))
            | (PgType::Float4, CellValue::Float4(_))
            | (PgType::Int2, CellValue::Int2(_))
            | (PgType::Int4, CellValue::Int4(_))
            | (PgType::Int8, CellValue::Int8(_))
            | (PgType::Jsonb, CellValue::Jsonb(_))
            | (PgType::Date, CellValue::Date(_))
            | (PgType::Float8Array, CellValue::Float8Array(_))
            | (PgType::TextArray, CellValue::TextArray(_))
            | (PgType::Bool, CellValue::Bool(_))
            | (PgType::Uuid, CellValue::Uuid(_))
            | (PgType::Numeric(_), CellValue::Numeric(_))
    )
}

fn cell_kind(value: &CellValue) -> &'static str {
    match value {
        CellValue::Null => "null",
        CellValue::Bool(_) => "boolean",
        CellValue::Int2(_) => "smallint",
        CellValue::Int4(_) => "integer",
        CellValue::Int8(_) => "bigint",
        CellValue::Float4(_) => "real",
        CellValue::Float8(_) => "double precision",
        CellValue::Numeric(_) => "numeric",
        CellValue::Text(_) => "text",
        CellValue::TimestampTz(_) => "timestamptz",
        CellValue::Date(_) => "date",
        CellValue::Jsonb(_) => "jsonb",
        CellValue::Uuid(_) => "uuid",
        CellValue::TextArray(_) => "text[]",
        CellValue::Float8Array(_) => "double precision[]",
    }
}

fn read_custom(input: &[u8]) -> Result<(ArrivedCustomRow, &[u8]), String> {
    let (wire, rest): (WireCustomRow, _) = postcard::take_from_bytes(input).map_err(|error| error.to_string())?;
    let values = wire.cells.into_iter().map(WireCell::into_value).collect::<Result<Vec<_>, _>>()?;
    Ok((ArrivedCustomRow { received_at: wire.received_at, time: wire.time, values }, rest))
}

/// A custom-table message: the edge's description of the table and its rows with their
/// id keys.
pub fn decode_custom(payload: &[u8]) -> Result<(TableDescription, Vec<(u128, ArrivedCustomRow)>), BusCodecError> {
    let input = after_version(payload)?;
    let (description, input): (TableDescription, _) = postcard::take_from_bytes(input)
        .map_err(|error| BusCodecError::Row { index: 0, reason: format!("the table description does not decode: {error}") })?;
    Ok((description, decode_rows(input, read_custom)?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::{ColumnDefault, ColumnRule, NumericTypmod};

    fn rule(name: &str, pg_type: PgType, nullable: bool) -> ColumnRule {
        ColumnRule { name: name.into(), pg_type, nullable, default: None::<ColumnDefault>, allow_nan: true }
    }

    fn schema() -> CustomSchema {
        CustomSchema::new(
            "bus_codec_metrics",
            vec![
                rule("time", PgType::TimestampTz, false),
                rule("amount", PgType::Numeric(Some(NumericTypmod { precision: 38, scale: 18 })), true),
                rule("exact", PgType::Numeric(None), true),
                rule("tags", PgType::TextArray, true),
                rule("levels", PgType::Float8Array, true),
                rule("day", PgType::Date, true),
                rule("payload", PgType::Jsonb, true),
                rule("id", PgType::Uuid, true),
                rule("ratio", PgType::Float4, true),
                rule("count", PgType::Int8, true),
                rule("small", PgType::Int2, true),
                rule("mid", PgType::Int4, true),
                rule("flag", PgType::Bool, true),
                rule("name", PgType::Varchar(12), false),
                rule("score", PgType::Float8, true),
            ],
            "time",
        )
        .unwrap()
    }

    fn numeric(text: &str) -> CellValue {
        CellValue::Numeric(Decimal::parse(text).unwrap())
    }

    fn sample(schema: &CustomSchema) -> CustomRow {
        CustomRow {
            table: schema.table,
            received_at: Timestamp(1_795_348_800_000_001),
            time: Timestamp(1_795_348_800_000_000),
            values: vec![
                CellValue::TimestampTz(Timestamp(1_795_348_800_000_000)),
                numeric("0.300000000000000044"),
                numeric("123456789012345678901234567890.000100"),
                CellValue::TextArray(vec!["a".into(), "b,\"c\"".into()]),
                CellValue::Float8Array(vec![1.5, -0.0, f64::MAX]),
                CellValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()),
                CellValue::Jsonb(r#"{"x":0.30000000000000004441}"#.into()),
                CellValue::Uuid([7; 16]),
                CellValue::Float4(f32::NAN),
                CellValue::Int8(i64::MIN),
                CellValue::Int2(-3),
                CellValue::Int4(i32::MAX),
                CellValue::Bool(true),
                CellValue::Text("ünïcode".into()),
                CellValue::Null,
            ],
        }
    }

    fn message(schema: &CustomSchema, rows: &[(u128, CustomRow)]) -> Vec<u8> {
        let mut out = Vec::new();
        begin_custom(schema, &mut out);
        for (id, row) in rows {
            push_custom(row, *id, &mut out);
        }
        out
    }

    /// Cells compared by their bits, so that NaN equals itself.
    fn same_cells(left: &[CellValue], right: &[CellValue]) -> bool {
        left.len() == right.len()
            && left.iter().zip(right).all(|pair| match pair {
                (CellValue::Float4(a), CellValue::Float4(b)) => a.to_bits() == b.to_bits(),
                (CellValue::Float8(a), CellValue::Float8(b)) => a.to_bits() == b.to_bits(),
                (CellValue::Float8Array(a), CellValue::Float8Array(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
                }
                (a, b) => a == b,
            })
    }

    #[test]
    fn custom_rows_come_back_cell_for_cell() {
        let schema = schema();
        let row = sample(&schema);
        let payload = message(&schema, &[(0, row.clone()), (42 << 64 | 9, row.clone())]);
        let (description, rows) = decode_custom(&payload).unwrap();
        assert_eq!(description, TableDescription::of(&schema));
        description.matches(&schema).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].0, 42 << 64 | 9);
        let back = rows[1].1.clone().into_row(&schema).unwrap();
        assert_eq!((back.table, back.received_at, back.time), (row.table, row.received_at, row.time));
        assert!(same_cells(&back.values, &row.values), "{:?}", back.values);
        // Numerics keep their digits and their scale.
        assert_eq!(back.values[2].to_json(), "123456789012345678901234567890.000100");
    }

    #[test]
    fn a_table_described_differently_is_refused_by_name() {
        let schema = schema();
        let payload = message(&schema, &[(0, sample(&schema))]);
        let (description, rows) = decode_custom(&payload).unwrap();
        let mut columns = schema.columns.clone();
        columns[1].pg_type = PgType::Numeric(None);
        let writer = CustomSchema::new("bus_codec_metrics", columns.clone(), "time").unwrap();
        let refused = description.matches(&writer).unwrap_err();
        assert!(refused.contains("column 2 is `amount` numeric(38,18) on the edge, `amount` numeric here"), "{refused}");
        let mut columns = schema.columns.clone();
        columns.pop();
        let shorter = CustomSchema::new("bus_codec_metrics", columns, "time").unwrap();
        let refused = description.matches(&shorter).unwrap_err();
        assert!(refused.contains("the edge has a column `score`"), "{refused}");
        // Cells that do not fit the writer's columns are refused too.
        let mut wrong = rows[0].1.clone();
        wrong.values[13] = CellValue::Null;
        assert_eq!(wrong.clone().into_row(&schema).unwrap_err(), "`name`: NULL in a NOT NULL column");
        wrong.values[13] = CellValue::Int4(1);
        assert_eq!(wrong.into_row(&schema).unwrap_err(), "`name`: a cell of type integer in a character varying(12) column");
        let letter = rows[0].1.to_push_json(&description);
        assert!(letter.starts_with(r#"{"type":"row","table":"bus_codec_metrics","op":"insert","row":{"time":"#), "{letter}");
        assert!(letter.contains(r#""exact":123456789012345678901234567890.000100"#), "{letter}");
    }

    #[test]
    fn relational_rows_keep_their_text() {
        let json = r#"{"id":"o-1","price":12345678901234.123456789012,"status":"new"}"#;
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let row = RowRecord {
            received_at: Timestamp(5),
            table: "orders".into(),
            op: RowOp::Update,
            json: json.into(),
            columns: vec!["id".into(), "price".into(), "status".into()],
            key: String::new(),
            fields,
        };
        let mut out = Vec::new();
        crate::bus::codec::begin(&mut out);
        push_relational(&row, 0, &mut out);
        push_relational(&row, 77, &mut out);
        let rows = decode_relational(&out).unwrap();
        assert_eq!(rows, vec![(0, row.clone()), (77, row)]);
        out.truncate(out.len() - 2);
        assert!(matches!(decode_relational(&out), Err(BusCodecError::Row { index: 1, .. })));
        assert_eq!(decode_relational(&[2]), Err(BusCodecError::Version(2)));
    }

    fn cell_strategy() -> impl Strategy<Value = (String, i64, f64, Vec<String>, Option<i32>)> {
        (
            "-?[0-9]{1,30}(\\.[0-9]{0,20})?",
            any::<i64>(),
            any::<f64>(),
            proptest::collection::vec(".{0,8}", 0..4),
            proptest::option::of(-100_000i32..3_000_000),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn any_custom_row_round_trips(cells in cell_strategy(), id in any::<u128>(), json in "[^\u{0}]{0,40}") {
            let (numeric_text, count, score, tags, days) = cells;
            let schema = schema();
            let mut row = sample(&schema);
            row.values[2] = numeric(&numeric_text);
            row.values[9] = CellValue::Int8(count);
            row.values[14] = CellValue::Float8(score);
            row.values[3] = CellValue::TextArray(tags);
            row.values[5] = match days.and_then(chrono::NaiveDate::from_num_days_from_ce_opt) {
                Some(date) => CellValue::Date(date),
                None => CellValue::Null,
            };
            row.values[6] = CellValue::Jsonb(json);
            let payload = message(&schema, &[(id, row.clone())]);
            let (_, rows) = decode_custom(&payload).unwrap();
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(rows[0].0, id);
            let back = rows[0].1.clone().into_row(&schema).unwrap();
            prop_assert!(same_cells(&back.values, &row.values));
            prop_assert_eq!(back.values[2].to_json(), row.values[2].to_json());
        }
    }
}
