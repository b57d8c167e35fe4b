//! Rows for the relational side (orders, trades, agent sessions, …): a table name, an
//! operation and the row as JSON, checked against the database's catalog before they
//! are queued and written by the relational writer in foreign-key order.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{RejectReason, Rejection, Timestamp};

/// What to do with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RowOp {
    /// Insert; a row whose primary key exists is refused (and dead-lettered).
    Insert,
    /// Insert, or update only the columns given when the primary key exists (the
    /// columns left out, NOT NULL ones too, keep their values).
    Upsert,
    /// Update only the columns given of the row with this primary key; a row not there
    /// yet waits for it like a foreign-key child, then is refused.
    Update,
}

impl RowOp {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOp::Insert => "insert",
            RowOp::Upsert => "upsert",
            RowOp::Update => "update",
        }
    }
}

/// One row for a relational table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowRecord {
    pub received_at: Timestamp,
    pub table: String,
    pub op: RowOp,
    /// The row object's JSON text exactly as received, so that numbers reach
    /// PostgreSQL's `numeric` digit for digit.
    pub json: String,
    /// The row's column names, sorted.
    pub columns: Vec<String>,
    /// The row's primary-key values as JSON text, joined; set by the catalog check.
    pub key: String,
    /// The parsed row, for the key and for checks; not serialized (rebuilt from `json`).
    #[serde(skip)]
    pub fields: Map<String, Value>,
}

impl RowRecord {
    /// An upsert of `row` (column → value) into `table`, for rows the daemon makes itself
    /// (the `instruments` rows of venue feeds). The key is filled in by the catalog check
    /// when the record is routed.
    pub fn upsert(table: &str, row: Map<String, Value>, received_at: Timestamp) -> RowRecord {
        RowRecord::made(table, RowOp::Upsert, row, received_at)
    }

    /// An insert of `row` into `table`, for rows the daemon makes itself (the
    /// `instrument_specs` versions of venue feeds).
    pub fn insert(table: &str, row: Map<String, Value>, received_at: Timestamp) -> RowRecord {
        RowRecord::made(table, RowOp::Insert, row, received_at)
    }

    fn made(table: &str, op: RowOp, row: Map<String, Value>, received_at: Timestamp) -> RowRecord {
        let mut columns: Vec<String> = row.keys().cloned().collect();
        columns.sort_unstable();
        let json = serde_json::to_string(&row).expect("a JSON object always serializes");
        RowRecord { received_at, table: table.to_string(), op, json, columns, key: String::new(), fields: row }
    }

    /// The record as a push `row` object, for dead letters.
    pub fn to_push_json(&self) -> String {
        format!(r#"{{"type":"row","table":"{}","op":"{}","row":{}}}"#, self.table, self.op.as_str(), self.json)
    }
}

/// One relational table as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationalTable {
    pub name: String,
    /// Column name → type as `format_type()` prints it.
    pub columns: HashMap<String, String>,
    pub primary_key: Vec<String>,
    /// Position in foreign-key order: a table's parents have smaller ranks.
    pub rank: usize,
}

/// The relational tables rows may be written to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationalCatalog {
    pub tables: HashMap<String, RelationalTable>,
    /// Set until the database has described its tables after a start without it:
    /// every row is refused with this code and reason.
    pub refusal: Option<(RejectReason, &'static str)>,
    /// Set on an edge, which has no database to describe the tables: the tables
    /// `[relational] tables` lists. A row naming one is taken as sent, for the writer
    /// that takes it off the bus to check against its database.
    pub edge_tables: Option<Vec<String>>,
}

/// The catalog the router checks rows against. A daemon started while the database
/// was unreachable holds [`RelationalCatalog::until_database`] here and replaces it once
/// the database has described its tables; the producer retries what was refused.
#[derive(Debug)]
pub struct SharedCatalog {
    current: std::sync::RwLock<std::sync::Arc<RelationalCatalog>>,
}

impl SharedCatalog {
    pub fn new(catalog: RelationalCatalog) -> Self {
        SharedCatalog { current: std::sync::RwLock::new(std::sync::Arc::new(catalog)) }
    }

    pub fn get(&self) -> std::sync::Arc<RelationalCatalog> {
        self.current.read().unwrap_or_else(|poison| poison.into_inner()).clone()
    }

    pub fn set(&self, catalog: std::sync::Arc<RelationalCatalog>) {
        *self.current.write().unwrap_or_else(|poison| poison.into_inner()) = catalog;
    }
}

impl RelationalCatalog {
    /// The catalog of an edge (`bus.role = "edge"`): rows for `tables` (the
    /// configuration's `[relational] tables`) pass unchecked.
    pub fn on_edge(tables: &[String]) -> Self {
        RelationalCatalog { tables: HashMap::new(), refusal: None, edge_tables: Some(tables.to_vec()) }
    }

    /// The catalog of a daemon that started before the database answered: rows are
    /// refused until it has described the tables (`database_unavailable`, retryable).
    pub fn until_database() -> Self {
        RelationalCatalog {
            tables: HashMap::new(),
            refusal: Some((
                RejectReason::DatabaseUnavailable,
                "relational rows are checked against the database's tables, which has not answered since the start; retry",
            )),
            edge_tables: None,
        }
    }

    /// Refuses a row for an unknown table, with unknown columns, without its primary
    /// key, or an upsert to a table without one; fills in the row's key.
    pub fn check(&self, row: &mut RowRecord) -> Result<(), Rejection> {
        self.check_with(row, true)
    }

    /// [`RelationalCatalog::check`] without the checks of values, for rows whose values
    /// were checked already: a keyed custom table's row, which its table's declared
    /// columns have checked and normalized (its NaN, where the column allows one, is
    /// data; its times are RFC 3339), and a waiting row read back.
    pub fn check_normalized(&self, row: &mut RowRecord) -> Result<(), Rejection> {
        self.check_with(row, false)
    }

    fn check_with(&self, row: &mut RowRecord, check_values: bool) -> Result<(), Rejection> {
        if let Some((code, refusal)) = self.refusal {
            return Err(Rejection::new(code, refusal));
        }
        if let Some(tables) = &self.edge_tables {
            if tables.contains(&row.table) {
                return Ok(());
            }
            return Err(Rejection::new(
                RejectReason::UnknownTable,
                format!("`{}` is not a relational table; expected one of {}", row.table, tables.join(", ")),
            ));
        }
        let Some(table) = self.tables.get(&row.table) else {
            let mut known: Vec<&str> = self.tables.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(Rejection::new(
                RejectReason::UnknownTable,
                format!("`{}` is not a relational table; expected one of {}", row.table, known.join(", ")),
            ));
        };
        if let Some(unknown) = row.columns.iter().find(|column| !table.columns.contains_key(*column)) {
            return Err(Rejection::new(RejectReason::UnknownColumn, format!("`{unknown}` is not a column of {}", table.name)));
        }
        if check_values {
            for (column, value) in &row.fields {
                if let (Some(column_type), Value::String(text)) = (table.columns.get(column), value) {
                    special_value(column, column_type, text)?;
                }
            }
            rewrite_epoch_times(row, table)?;
        }
        if row.op != RowOp::Insert {
            let op = row.op.as_str();
            if table.primary_key.is_empty() {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("`op`: {} has no primary key to {op} on; use \"insert\"", table.name),
                ));
            }
            let missing: Vec<&str> =
                table.primary_key.iter().filter(|column| row.fields.get(*column).is_none_or(Value::is_null)).map(String::as_str).collect();
            if !missing.is_empty() {
                return Err(Rejection::new(
                    RejectReason::MissingField,
                    format!("an {op} into {} needs its primary key: {} missing", table.name, missing.join(", ")),
                ));
            }
            if row.op == RowOp::Update && row.columns.iter().all(|column| table.primary_key.contains(column)) {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("`row`: nothing to update in {}: send at least one column besides its primary key", table.name),
                ));
            }
        }
        row.key = table
            .primary_key
            .iter()
            .map(|column| row.fields.get(column).map_or_else(|| "null".to_string(), Value::to_string))
            .collect::<Vec<_>>()
            .join("\u{1f}");
        Ok(())
    }
}

/// Whether a column of this type (as `format_type()` prints it) holds a point in time:
/// `timestamp with time zone` and `timestamp without time zone`, any precision, not arrays.
fn holds_a_time(column_type: &str) -> bool {
    column_type.starts_with("timestamp") && (column_type.ends_with("with time zone") || column_type.ends_with("without time zone"))
}

/// Integer epoch nanoseconds in time columns, read as everywhere else (the plausibility
/// bound: a count that looks like seconds, milliseconds or microseconds is
/// `time_out_of_range`), rewritten in the row's text as RFC 3339 strings in UTC, which
/// PostgreSQL's input takes (a `timestamp without time zone` gets the UTC wall time).
/// Every other value keeps its text byte for byte; a row without such a value is left
/// as it is.
fn rewrite_epoch_times(row: &mut RowRecord, table: &RelationalTable) -> Result<(), Rejection> {
    let mut rewritten: Vec<(&str, String)> = Vec::new();
    for (column, value) in &row.fields {
        let Value::Number(number) = value else { continue };
        let Some(column_type) = table.columns.get(column).filter(|column_type| holds_a_time(column_type)) else { continue };
        let nanos = number.as_i64().ok_or_else(|| {
            Rejection::new(
                RejectReason::InvalidField,
                format!("`{column}`: expected an RFC 3339 string or integer epoch nanoseconds ({column_type}), got {number}"),
            )
        })?;
        let time = Timestamp::from_plausible_unix_nanos(nanos)
            .map_err(|implausible| Rejection::new(RejectReason::TimeOutOfRange, format!("`{column}`: {implausible}")))?;
        rewritten.push((column, time.to_string()));
    }
    if rewritten.is_empty() {
        return Ok(());
    }
    // The row's members as written, each value's text untouched; a repeated name keeps
    // its last value, as the parsed fields do.
    let members: BTreeMap<String, &RawValue> =
        serde_json::from_str(&row.json).map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("`row`: {error}")))?;
    let mut json = String::with_capacity(row.json.len() + 16 * rewritten.len());
    json.push('{');
    for (index, (name, raw)) in members.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(&Value::String(name.clone()).to_string());
        json.push(':');
        match rewritten.iter().find(|(column, _)| column == name) {
            // The time's text needs no escaping.
            Some((_, time)) => {
                json.push('"');
                json.push_str(time);
                json.push('"');
            }
            None => json.push_str(raw.get()),
        }
    }
    json.push('}');
    let times: Vec<(String, String)> = rewritten.into_iter().map(|(column, time)| (column.to_string(), time)).collect();
    for (column, time) in times {
        row.fields.insert(column, Value::String(time));
    }
    row.json = json;
    Ok(())
}

/// Refuses the words PostgreSQL's input functions take as values that are not data:
/// `NaN` and `Infinity` for numbers (`NaN` even passes `quantity > 0`), and `epoch`,
/// `infinity`, `now`, `today`, `yesterday`, `tomorrow` for times and dates, which would
/// store the server's idea of the moment rather than the producer's.
fn special_value(column: &str, column_type: &str, text: &str) -> Result<(), Rejection> {
    let word = text.trim().trim_start_matches(['+', '-']).to_ascii_lowercase();
    let numeric =
        ["numeric", "double precision", "real", "integer", "bigint", "smallint", "money"].iter().any(|name| column_type.starts_with(name));
    let temporal = ["timestamp", "date", "time"].iter().any(|name| column_type.starts_with(name));
    if numeric && matches!(word.as_str(), "nan" | "inf" | "infinity") {
        return Err(Rejection::new(RejectReason::NanOrInfinite, format!("`{column}`: {text:?} is not a finite number ({column_type})")));
    }
    if temporal && matches!(word.as_str(), "epoch" | "infinity" | "now" | "today" | "yesterday" | "tomorrow" | "allballs") {
        return Err(Rejection::new(
            RejectReason::InvalidField,
            format!("`{column}`: {text:?} is a special value, not a time; send RFC 3339 or epoch nanoseconds ({column_type})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn special_numbers_and_times_are_refused() {
        for (column_type, text, refused) in [
            ("numeric(20,8)", "NaN", true),
            ("numeric(20,8)", " -Infinity", true),
            ("double precision", "inf", true),
            ("numeric", "187.50", false),
            ("timestamp with time zone", "yesterday", true),
            ("timestamp with time zone", "epoch", true),
            ("timestamp with time zone", "-infinity", true),
            ("date", "today", true),
            ("timestamp with time zone", "2026-12-02T08:00:00Z", false),
            ("text", "NaN", false),
            ("text", "yesterday", false),
        ] {
            assert_eq!(special_value("c", column_type, text).is_err(), refused, "{column_type} {text}");
        }
    }

    fn orders_catalog() -> RelationalCatalog {
        let columns = [
            ("id", "text"),
            ("price", "numeric(20,8)"),
            ("created_at", "timestamp with time zone"),
            ("local_at", "timestamp(3) without time zone"),
            ("seen_at", "timestamp with time zone[]"),
            ("quantity", "numeric"),
        ];
        let table = RelationalTable {
            name: "orders".into(),
            columns: columns.iter().map(|(name, column_type)| (name.to_string(), column_type.to_string())).collect(),
            primary_key: vec!["id".into()],
            rank: 0,
        };
        RelationalCatalog { tables: HashMap::from([("orders".to_string(), table)]), refusal: None, edge_tables: None }
    }

    fn row(json: &str) -> RowRecord {
        let fields: Map<String, Value> = serde_json::from_str(json).unwrap();
        let mut columns: Vec<String> = fields.keys().cloned().collect();
        columns.sort_unstable();
        RowRecord {
            received_at: Timestamp(7),
            table: "orders".into(),
            op: RowOp::Insert,
            json: json.into(),
            columns,
            key: String::new(),
            fields,
        }
    }

    #[test]
    fn epoch_nanoseconds_in_time_columns_become_rfc3339_and_the_rest_keeps_its_text() {
        let catalog = orders_catalog();
        let mut record = row(
            r#"{"id":"o-1", "price":12345678901234.123456789, "quantity":1e-30,"created_at":1795348800123456789,"local_at":-1000000000}"#,
        );
        catalog.check(&mut record).unwrap();
        assert_eq!(
            record.json,
            r#"{"created_at":"2026-11-22T12:00:00.123456Z","id":"o-1","local_at":"1969-12-31T23:59:59.000000Z","price":12345678901234.123456789,"quantity":1e-30}"#
        );
        assert_eq!(record.fields["created_at"], json!("2026-11-22T12:00:00.123456Z"));
        assert_eq!(record.key, "\"o-1\"");

        let untouched = r#"{"id":"o-2","price":1.10,"created_at":"2026-11-22T12:00:00Z"}"#;
        let mut record = row(untouched);
        catalog.check(&mut record).unwrap();
        assert_eq!(record.json, untouched, "a row without epoch times is left as sent");

        for (json, code, needle) in [
            (r#"{"id":"o-3","created_at":1795348800}"#, RejectReason::TimeOutOfRange, "looks like seconds"),
            (r#"{"id":"o-3","created_at":1795348800123}"#, RejectReason::TimeOutOfRange, "`created_at`"),
            (r#"{"id":"o-3","created_at":1.7953488e18}"#, RejectReason::InvalidField, "integer epoch nanoseconds"),
            (r#"{"id":"o-3","created_at":99999999999999999999}"#, RejectReason::InvalidField, "`created_at`"),
        ] {
            let error = catalog.check(&mut row(json)).expect_err(json);
            assert_eq!(error.code, code, "{json}: {error}");
            assert!(error.detail.contains(needle), "{json}: {error}");
        }
        // An array of times and a number elsewhere are PostgreSQL's to judge, as before.
        let mut record = row(r#"{"id":"o-4","seen_at":[1795348800123456789],"price":5}"#);
        catalog.check(&mut record).unwrap();
        assert_eq!(record.json, r#"{"id":"o-4","seen_at":[1795348800123456789],"price":5}"#);
    }

    #[test]
    fn an_edge_takes_rows_for_the_listed_tables_as_sent() {
        let catalog = RelationalCatalog::on_edge(&["orders".to_string(), "trades".to_string()]);
        let json = r#"{"id":"o-1","not_a_column":1,"created_at":1795348800123456789}"#;
        let mut record = row(json);
        catalog.check(&mut record).unwrap();
        assert_eq!((record.json.as_str(), record.key.as_str()), (json, ""), "left for the writer to check and key");
        let mut record = row(json);
        record.table = "positions".into();
        let refused = catalog.check(&mut record).unwrap_err();
        assert_eq!(refused.code, RejectReason::UnknownTable);
        assert_eq!(refused.detail, "`positions` is not a relational table; expected one of orders, trades");
    }

    #[test]
    fn an_upsert_built_from_a_map_passes_the_catalog_check() {
        let mut row = Map::new();
        row.insert("venue".into(), json!("binance"));
        row.insert("symbol".into(), json!("BTC-USDT"));
        row.insert("venue_symbol".into(), json!("BTCUSDT"));
        let mut record = RowRecord::upsert("instruments", row, Timestamp(7));
        assert_eq!((record.op, record.received_at, record.table.as_str()), (RowOp::Upsert, Timestamp(7), "instruments"));
        assert_eq!(record.columns, ["symbol", "venue", "venue_symbol"]);
        assert_eq!(
            serde_json::from_str::<Value>(&record.json).unwrap(),
            json!({"venue": "binance", "symbol": "BTC-USDT", "venue_symbol": "BTCUSDT"})
        );
        let table = RelationalTable {
            name: "instruments".into(),
            columns: ["venue", "symbol", "venue_symbol", "asset_class"]
                .iter()
                .map(|column| (column.to_string(), "text".to_string()))
                .collect(),
            primary_key: vec!["venue".into(), "symbol".into()],
            rank: 0,
        };
        let catalog = RelationalCatalog { tables: HashMap::from([("instruments".to_string(), table)]), refusal: None, edge_tables: None };
        catalog.check(&mut record).unwrap();
        assert_eq!(record.key, "\"binance\"\u{1f}\"BTC-USDT\"");
    }
}
