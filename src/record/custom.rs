//! Custom tables: tables declared in the configuration rather than in code, written
//! through the same COPY path as the built-in time series.
//!
//! A [`CustomTable`] is the table's identity and column list, the part every layer
//! needs (COPY statement, schema check, partitions, metrics). It lives for the whole
//! process, so that `Table::Custom` stays a plain `Copy` value like the built-in
//! variants: descriptions are interned — one allocation per distinct definition,
//! bounded by the configuration — and never freed.
//!
//! A [`CustomSchema`] adds what converting a producer's row needs: per column whether it
//! may be NULL, its default, whether NaN is allowed. Conversion itself reads the push
//! format and is `source::push::row_convert`, reached through `convert::RowConverter`.

use std::fmt;
use std::sync::Mutex;

use super::cell::CellValue;
use super::column::{Column, PgType};
use super::table::{CustomTable, Table};
use super::time::Timestamp;

/// Every description made so far; an equal definition is reused, not leaked again.
static INTERNED: Mutex<Vec<&'static CustomTable>> = Mutex::new(Vec::new());

/// The `Table` of a custom table with these columns. `time_index` must point at a
/// column of `columns` (callers check it; an index past the end is clamped to 0).
pub fn intern_custom_table(name: &str, columns: &[(String, PgType)], time_index: usize) -> Table {
    let time_index = if time_index < columns.len() { time_index } else { 0 };
    let mut interned = INTERNED.lock().unwrap_or_else(|poison| poison.into_inner());
    let same = |known: &&&'static CustomTable| {
        known.name == name
            && known.time_index == time_index
            && known.columns.len() == columns.len()
            && known.columns.iter().zip(columns).all(|(known, (name, pg_type))| known.name == name && known.pg_type == *pg_type)
    };
    if let Some(known) = interned.iter().find(same) {
        return Table::Custom(known);
    }
    let leak = |text: &str| -> &'static str { Box::leak(text.to_string().into_boxed_str()) };
    let columns: Vec<Column> = columns.iter().map(|(name, pg_type)| Column { name: leak(name), pg_type: *pg_type }).collect();
    let table: &'static CustomTable =
        Box::leak(Box::new(CustomTable { name: leak(name), columns: Box::leak(columns.into_boxed_slice()), time_index }));
    interned.push(table);
    Table::Custom(table)
}

/// What fills a column a row does not give (or gives as `null`).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnDefault {
    /// A fixed value, converted once from the configuration.
    Value(CellValue),
    /// A new random UUID per row (`default = "random"` on a uuid column).
    RandomUuid,
    /// The moment the daemon received the row (`default = "now"` or `default_sql =
    /// "now()"` on a timestamptz column).
    ReceivedAt,
    /// The UTC date of the moment the daemon received the row (`default_sql =
    /// "current_date"` on a date column).
    CurrentDate,
}

/// How one column takes values.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRule {
    pub name: String,
    pub pg_type: PgType,
    pub nullable: bool,
    pub default: Option<ColumnDefault>,
    /// numeric, real, double precision (and their arrays): whether NaN and ±Infinity are taken.
    pub allow_nan: bool,
}

/// A custom table and the rules for converting rows into it.
#[derive(Debug, Clone)]
pub struct CustomSchema {
    pub table: Table,
    pub columns: Vec<ColumnRule>,
    pub time_index: usize,
    /// Whether some column needs the row's JSON text (numeric, real and jsonb values are
    /// read from the text, not from parsed JSON numbers).
    needs_raw_text: bool,
}

impl CustomSchema {
    /// Builds the schema; `Err` names the problem when the time column is missing or
    /// not `timestamptz`, or two columns share a name.
    pub fn new(name: &str, columns: Vec<ColumnRule>, time_column: &str) -> Result<CustomSchema, String> {
        let time_index = columns
            .iter()
            .position(|column| column.name == time_column)
            .ok_or_else(|| format!("the time column `{time_column}` is not among the columns"))?;
        if columns[time_index].pg_type != PgType::TimestampTz {
            return Err(format!("the time column `{time_column}` must be timestamptz"));
        }
        for (index, column) in columns.iter().enumerate() {
            if columns[..index].iter().any(|earlier| earlier.name == column.name) {
                return Err(format!("two columns are named `{}`", column.name));
            }
        }
        let described: Vec<(String, PgType)> = columns.iter().map(|column| (column.name.clone(), column.pg_type)).collect();
        let needs_raw_text = columns.iter().any(|column| matches!(column.pg_type, PgType::Numeric(_) | PgType::Float4 | PgType::Jsonb));
        Ok(CustomSchema { table: intern_custom_table(name, &described, time_index), columns, time_index, needs_raw_text })
    }

    pub fn name(&self) -> &'static str {
        self.table.name()
    }

    /// Whether some column needs the row's JSON text (numeric, real and jsonb values are
    /// read from the text, not from parsed JSON numbers).
    pub fn needs_raw_text(&self) -> bool {
        self.needs_raw_text
    }
}

/// One row for a custom table, its values in COPY order.
#[derive(Clone, PartialEq)]
pub struct CustomRow {
    pub table: Table,
    pub received_at: Timestamp,
    /// The time column's value, which decides the partition.
    pub time: Timestamp,
    pub values: Vec<CellValue>,
}

impl CustomRow {
    /// The row as a push `row` record, for dead letters: sending it again inserts it.
    pub fn to_push_json(&self) -> String {
        let fields: Vec<String> = self
            .table
            .columns()
            .iter()
            .zip(&self.values)
            .filter(|(_, value)| **value != CellValue::Null)
            .map(|(column, value)| format!("{}:{}", serde_json::Value::String(column.name.to_string()), value.to_json()))
            .collect();
        format!(r#"{{"type":"row","table":"{}","op":"insert","row":{{{}}}}}"#, self.table.name(), fields.join(","))
    }
}

impl fmt::Debug for CustomRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_push_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, pg_type: PgType) -> ColumnRule {
        ColumnRule { name: name.into(), pg_type, nullable: true, default: None, allow_nan: false }
    }

    #[test]
    fn equal_definitions_share_one_description() {
        let columns = || vec![rule("at", PgType::TimestampTz), rule("value", PgType::Float8)];
        let first = CustomSchema::new("interned_twice", columns(), "at").unwrap();
        let second = CustomSchema::new("interned_twice", columns(), "at").unwrap();
        assert!(std::ptr::eq(first.table.custom().unwrap(), second.table.custom().unwrap()));
        let other = CustomSchema::new("interned_twice", vec![rule("at", PgType::TimestampTz), rule("value", PgType::Int8)], "at").unwrap();
        assert_ne!(first.table, other.table, "a changed type is another table description");
        assert_eq!(first.table.name(), "interned_twice");
        assert_eq!(first.table.time_column(), "at");
        assert!(first.table.is_time_partitioned());
        assert_eq!(first.table.index(), None);
        assert_eq!(format!("{:?}", first.table), "Custom(\"interned_twice\")");
    }

    #[test]
    fn the_time_column_must_exist_and_be_timestamptz() {
        assert!(CustomSchema::new("t", vec![rule("at", PgType::Text)], "at").unwrap_err().contains("timestamptz"));
        assert!(CustomSchema::new("t", vec![rule("at", PgType::TimestampTz)], "when").unwrap_err().contains("`when`"));
        let twice = vec![rule("at", PgType::TimestampTz), rule("at", PgType::Text)];
        assert!(CustomSchema::new("t", twice, "at").unwrap_err().contains("two columns"));
    }
}
