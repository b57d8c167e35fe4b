//! What the relational writer sends: rows cut into runs of one statement each, and
//! the statement of a run.
//!
//! Every statement reads its rows from one parameter, the rows' JSON texts joined into
//! an array, through `jsonb_populate_recordset`, so PostgreSQL parses every number
//! into `numeric` digit for digit and only the columns a row sends are written:
//!
//! - `insert`: `INSERT INTO t (sent) SELECT sent FROM jsonb_populate_recordset(…)`;
//!   columns left out take their defaults.
//! - `upsert`: one statement that first updates the rows whose key exists (only the
//!   columns sent: PostgreSQL checks NOT NULL before `ON CONFLICT`, so an `INSERT … ON
//!   CONFLICT DO UPDATE` alone would refuse a status change that leaves out a NOT NULL
//!   column) and inserts the others (`ON CONFLICT … DO UPDATE` still covers a row
//!   inserted by someone else meanwhile).
//! - `update`: `UPDATE t SET sent = … FROM jsonb_populate_recordset(…) WITH ORDINALITY`
//!   returning the positions of the rows it found; the others wait for their row.

use std::collections::HashMap;

use crate::record::{RelationalCatalog, RowOp, RowRecord};
use crate::sink::instruments::{self, UPSERT_INSTRUMENTS};

/// Where a row of an attempt comes from: the batch (its index there) or the rows
/// waiting from earlier batches (its index there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    New(usize),
    Waiting(usize),
}

/// A row of an attempt.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate<'a> {
    pub row: &'a RowRecord,
    pub origin: Origin,
}

/// Rows of one table sent as one statement: same operation, same columns.
pub(super) struct Run<'a> {
    pub table: &'a str,
    pub op: RowOp,
    pub columns: &'a [String],
    pub rows: Vec<Candidate<'a>>,
}

/// Orders rows by their table's foreign-key rank (stable, so arrival order holds within
/// a table) and cuts them into runs of one statement each. An upsert or update run
/// keeps only the last row per primary key: applying the earlier ones first would end
/// in the same row (they send the same columns). Returns the runs and the rows so
/// superseded, which are settled with the run.
pub(super) fn plan_runs<'a>(candidates: &[Candidate<'a>], catalog: &RelationalCatalog) -> (Vec<Run<'a>>, Vec<Candidate<'a>>) {
    let mut ordered: Vec<Candidate<'a>> = candidates.to_vec();
    ordered.sort_by_key(|candidate| {
        (catalog.tables.get(&candidate.row.table).map_or(usize::MAX, |table| table.rank), candidate.row.table.as_str())
    });
    let mut runs: Vec<Run<'a>> = Vec::new();
    for candidate in ordered {
        let row = candidate.row;
        match runs.last_mut() {
            Some(run) if run.table == row.table && run.op == row.op && run.columns == row.columns.as_slice() => run.rows.push(candidate),
            _ => runs.push(Run { table: &row.table, op: row.op, columns: &row.columns, rows: vec![candidate] }),
        }
    }
    let mut superseded = Vec::new();
    for run in runs.iter_mut().filter(|run| run.op != RowOp::Insert) {
        let mut last_of_key: HashMap<&str, usize> = HashMap::new();
        for (index, candidate) in run.rows.iter().enumerate() {
            last_of_key.insert(candidate.row.key.as_str(), index);
        }
        if last_of_key.len() < run.rows.len() {
            let rows = std::mem::take(&mut run.rows);
            for (index, candidate) in rows.into_iter().enumerate() {
                if last_of_key[candidate.row.key.as_str()] == index {
                    run.rows.push(candidate);
                } else {
                    superseded.push(candidate);
                }
            }
        }
    }
    (runs, superseded)
}

pub(super) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The statement of a run; `$1` is the rows' JSON array as text. An `update` returns
/// the 1-based positions (`ordinality`) of the rows it found.
pub(super) fn statement(run: &Run<'_>, catalog: &RelationalCatalog) -> String {
    if instruments::takes_run(run.table, run.op, run.columns) {
        return UPSERT_INSTRUMENTS.to_string();
    }
    let table = quoted(run.table);
    let key: &[String] = catalog.tables.get(run.table).map_or(&[], |described| described.primary_key.as_slice());
    let columns: Vec<String> = run.columns.iter().map(|column| quoted(column)).collect();
    let columns = columns.join(", ");
    let input = format!("jsonb_populate_recordset(NULL::{table}, $1::text::jsonb)");
    let sets = |source: &str| -> Vec<String> {
        run.columns
            .iter()
            .filter(|column| !key.contains(column))
            .map(|column| format!("{} = {source}.{}", quoted(column), quoted(column)))
            .collect()
    };
    let matches = |left: &str, right: &str| -> String {
        key.iter().map(|column| format!("{left}.{} = {right}.{}", quoted(column), quoted(column))).collect::<Vec<_>>().join(" AND ")
    };
    let key_list = key.iter().map(|column| quoted(column)).collect::<Vec<_>>().join(", ");
    match run.op {
        RowOp::Insert => format!("INSERT INTO {table} ({columns}) SELECT {columns} FROM {input}"),
        RowOp::Upsert if sets("input").is_empty() => {
            format!("INSERT INTO {table} ({columns}) SELECT {columns} FROM {input} ON CONFLICT ({key_list}) DO NOTHING")
        }
        RowOp::Upsert => format!(
            "WITH input AS (SELECT {columns} FROM {input}), \
             updated AS (UPDATE {table} AS target SET {sets} FROM input WHERE {found} RETURNING {returned}) \
             INSERT INTO {table} ({columns}) SELECT {columns} FROM input \
             WHERE NOT EXISTS (SELECT 1 FROM updated WHERE {updated}) \
             ON CONFLICT ({key_list}) DO UPDATE SET {excluded}",
            sets = sets("input").join(", "),
            found = matches("target", "input"),
            returned = key.iter().map(|column| format!("target.{}", quoted(column))).collect::<Vec<_>>().join(", "),
            updated = matches("updated", "input"),
            excluded = sets("EXCLUDED").join(", "),
        ),
        RowOp::Update => format!(
            "UPDATE {table} AS target SET {sets} FROM {input} WITH ORDINALITY AS input WHERE {found} RETURNING input.ordinality",
            sets = sets("input").join(", "),
            found = matches("target", "input"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::record::{RelationalTable, Timestamp};

    fn catalog() -> RelationalCatalog {
        let table = RelationalTable {
            name: "orders".into(),
            columns: ["id", "status", "closed_at"].iter().map(|column| (column.to_string(), "text".to_string())).collect(),
            primary_key: vec!["id".into()],
            rank: 0,
        };
        RelationalCatalog { tables: HashMap::from([("orders".to_string(), table)]), refusal: None, edge_tables: None }
    }

    fn row(op: RowOp, json: &str) -> RowRecord {
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        let mut columns: Vec<String> = fields.keys().cloned().collect();
        columns.sort_unstable();
        let key = fields["id"].to_string();
        RowRecord { received_at: Timestamp(0), table: "orders".into(), op, json: json.into(), columns, key, fields }
    }

    #[test]
    fn an_update_sets_only_the_columns_sent_and_returns_what_it_found() {
        let rows = [row(RowOp::Update, r#"{"id":"a","status":"canceled"}"#)];
        let candidates: Vec<Candidate<'_>> = rows.iter().enumerate().map(|(i, row)| Candidate { row, origin: Origin::New(i) }).collect();
        let (runs, superseded) = plan_runs(&candidates, &catalog());
        assert!(superseded.is_empty());
        assert_eq!(
            statement(&runs[0], &catalog()),
            "UPDATE \"orders\" AS target SET \"status\" = input.\"status\" \
             FROM jsonb_populate_recordset(NULL::\"orders\", $1::text::jsonb) WITH ORDINALITY AS input \
             WHERE target.\"id\" = input.\"id\" RETURNING input.ordinality"
        );
    }

    #[test]
    fn an_upsert_updates_existing_rows_before_inserting_the_others() {
        let rows = [row(RowOp::Upsert, r#"{"id":"a","status":"new"}"#), row(RowOp::Upsert, r#"{"id":"a","status":"filled"}"#)];
        let candidates: Vec<Candidate<'_>> = rows.iter().enumerate().map(|(i, row)| Candidate { row, origin: Origin::New(i) }).collect();
        let (runs, superseded) = plan_runs(&candidates, &catalog());
        assert_eq!(runs[0].rows.len(), 1);
        assert_eq!(runs[0].rows[0].origin, Origin::New(1), "the later upsert of a key is the one written");
        assert_eq!(superseded.iter().map(|candidate| candidate.origin).collect::<Vec<_>>(), [Origin::New(0)]);
        let sql = statement(&runs[0], &catalog());
        assert!(sql.starts_with("WITH input AS (SELECT \"id\", \"status\" FROM jsonb_populate_recordset"), "{sql}");
        assert!(sql.contains("updated AS (UPDATE \"orders\" AS target SET \"status\" = input.\"status\" FROM input"), "{sql}");
        assert!(sql.ends_with("ON CONFLICT (\"id\") DO UPDATE SET \"status\" = EXCLUDED.\"status\""), "{sql}");
    }
}
