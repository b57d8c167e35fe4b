//! The relational writer: rows for orders, trades, agent sessions, … (push `row`
//! records), batched, written in one transaction per batch in foreign-key order
//! (parents first; within a table, in arrival order).
//!
//! Consecutive rows of one table with the same operation and columns go as one
//! statement, `INSERT INTO t (cols) SELECT cols FROM jsonb_populate_recordset(NULL::t,
//! $1)` (with `ON CONFLICT (primary key) DO UPDATE` for upserts): the rows travel as the
//! JSON text producers sent, so PostgreSQL parses every number into `numeric` digit for
//! digit. Each statement runs under a savepoint; when the server refuses it, the rows
//! are halved under savepoints until each refused row is alone, and that row is
//! dead-lettered with the server's message while the rest of the batch commits.
//!
//! Exactly once, as for the COPY writers: the transaction also advances the stream
//! `relational/0` in `ingest_offsets`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_postgres::{Client, Transaction};

use super::failure::{classify_row_statement, describe, Failure, FailureKind, RepeatGuard};
use super::instruments::{self, UPSERT_INSTRUMENTS};
use super::writer::{
    insert_dead_letters, record_ids, record_spool_ranges, Backoff, WriterError, WriterSettings, ADVANCE_OFFSET, RECORD_IDS,
    RECORD_SPOOL_RANGES,
};
use crate::db;
use crate::metrics::{events, Stats};
use crate::pipeline::Sequenced;
use crate::record::{DeadLetter, RelationalCatalog, RowOp, RowRecord, Table, Timestamp};
use crate::spool::sequence_ranges;

const STREAM: &str = "relational/0";

/// Rows of one table sent as one statement: same operation, same columns.
struct Run<'a> {
    table: &'a str,
    op: RowOp,
    columns: &'a [String],
    rows: Vec<&'a RowRecord>,
}

/// Runs the relational writer until its queue closes and is drained. Connects before
/// taking the first batch.
pub async fn run_relational_writer(
    mut queue: mpsc::Receiver<Vec<Sequenced<RowRecord>>>,
    settings: Arc<WriterSettings>,
    catalog: Arc<RelationalCatalog>,
    stats: Arc<Stats>,
) -> Result<(), WriterError> {
    let (client, position) = connect(&settings, false).await?;
    let mut writer = RelationalWriter { settings, catalog, stats, client, position };
    while let Some(batch) = queue.recv().await {
        let mut sequences = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        for item in batch {
            sequences.push(item.sequence);
            ids.push(item.id);
            rows.push(item.row);
        }
        let count = rows.len();
        writer.write(rows, &sequences, &ids).await?;
        writer.stats.batch_finished(Table::Relational, count);
    }
    Ok(())
}

struct RelationalWriter {
    settings: Arc<WriterSettings>,
    catalog: Arc<RelationalCatalog>,
    stats: Arc<Stats>,
    client: Client,
    position: i64,
}

/// Why a statement failed.
enum StatementFailure {
    /// The server refused the rows' content (or shape): isolate and dead-letter.
    Refused(String),
    /// Connection or server trouble: the whole batch is retried.
    Broken(tokio_postgres::Error),
}

fn fatal(message: String) -> WriterError {
    WriterError { table: Table::Relational, writer_idx: 0, message }
}

/// Connects (retrying with capped, jittered backoff) and reads the stream's position.
async fn connect(settings: &WriterSettings, reconnect: bool) -> Result<(Client, i64), WriterError> {
    let mut backoff = Backoff::new(settings.initial_backoff, settings.max_backoff);
    loop {
        let attempt = async {
            let client = db::connect(&settings.url, settings.connect_timeout).await?;
            let row = client.query_opt("SELECT position FROM ingest_offsets WHERE stream = $1", &[&STREAM]).await?;
            Ok::<_, db::DbError>((client, row.map_or(0, |row| row.get::<_, i64>(0))))
        };
        match attempt.await {
            Ok(connected) => {
                events::writer_connected(Table::Relational, 0, reconnect);
                return Ok(connected);
            }
            Err(error) if error.failure_kind() == FailureKind::Retry => {
                events::write_failed(Table::Relational, 0, "connect", &error);
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(error) => return Err(fatal(error.to_string())),
        }
    }
}

impl RelationalWriter {
    async fn write(&mut self, rows: Vec<RowRecord>, sequences: &[u64], ids: &[u128]) -> Result<(), WriterError> {
        let runs = plan_runs(&rows, &self.catalog);
        // Every row of the batch is settled by its transaction: written, superseded by a
        // later upsert of its key, or dead-lettered in it.
        let ranges = if self.settings.spool.is_some() { sequence_ranges(sequences) } else { Vec::new() };
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        let mut guard = RepeatGuard::default();
        // A SQLSTATE found repeating on this batch while the server answers: from then
        // on the statement that raises it is refused like bad content.
        let mut escalated: Option<String> = None;
        loop {
            let attempt_position = self.position + 1;
            let started = Instant::now();
            match write_batch(&mut self.client, &self.catalog, &runs, &ranges, ids, attempt_position, escalated.as_deref()).await {
                Ok(refused) => {
                    self.position = attempt_position;
                    // Each refused row's spool sequence, for `committed` acks.
                    let refused: Vec<(u64, DeadLetter)> = refused
                        .into_iter()
                        .map(|(row, letter)| {
                            let index = rows.iter().position(|candidate| std::ptr::eq(candidate, row));
                            (index.and_then(|index| sequences.get(index).copied()).unwrap_or(0), letter)
                        })
                        .collect();
                    self.committed(&rows, &ranges, started, &refused);
                    return Ok(());
                }
                Err(error) => {
                    let mut failure = Failure::from(error);
                    let kind = guard.judge(&mut failure);
                    events::write_failed(Table::Relational, 0, kind.label(), &failure.message);
                    match kind {
                        FailureKind::Retry => {}
                        FailureKind::Data if escalated.is_none() => {
                            escalated = guard.row_level_state().map(str::to_string);
                            continue;
                        }
                        FailureKind::Data | FailureKind::Fatal => return Err(fatal(failure.message)),
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                    (self.client, self.position) = connect(&self.settings, true).await?;
                    if self.position >= attempt_position {
                        // The commit landed before the connection broke (with its dead
                        // letters, which are written in the same transaction).
                        self.committed(&rows, &ranges, started, &[]);
                        return Ok(());
                    }
                }
            }
        }
    }

    fn committed(&self, rows: &[RowRecord], ranges: &[(u64, u64)], started: Instant, refused: &[(u64, DeadLetter)]) {
        if let Some(progress) = &self.settings.spool {
            let stream = Table::Relational.spool_stream();
            progress.refused(stream, refused.iter().map(|(sequence, letter)| (*sequence, letter.detail.clone())));
            progress.committed(stream, ranges);
        }
        let oldest = self.stats.record_commit(Table::Relational, rows.iter().map(|row| row.received_at), Timestamp::now());
        events::batch_committed(Table::Relational, rows.len() - refused.len(), started.elapsed(), oldest);
        for (_, letter) in refused {
            events::dead_lettered(letter);
        }
    }
}

/// Orders rows by their table's foreign-key rank (stable, so arrival order holds within
/// a table) and cuts them into runs of one statement each. An upsert run keeps only the
/// last row per primary key: applying the earlier ones first would end in the same row.
fn plan_runs<'a>(rows: &'a [RowRecord], catalog: &RelationalCatalog) -> Vec<Run<'a>> {
    let mut ordered: Vec<&RowRecord> = rows.iter().collect();
    ordered.sort_by_key(|row| (catalog.tables.get(&row.table).map_or(usize::MAX, |table| table.rank), row.table.as_str()));
    let mut runs: Vec<Run<'a>> = Vec::new();
    for row in ordered {
        match runs.last_mut() {
            Some(run) if run.table == row.table && run.op == row.op && run.columns == row.columns.as_slice() => run.rows.push(row),
            _ => runs.push(Run { table: &row.table, op: row.op, columns: &row.columns, rows: vec![row] }),
        }
    }
    for run in runs.iter_mut().filter(|run| run.op == RowOp::Upsert) {
        let mut last_of_key: HashMap<&str, usize> = HashMap::new();
        for (index, row) in run.rows.iter().enumerate() {
            last_of_key.insert(row.key.as_str(), index);
        }
        if last_of_key.len() < run.rows.len() {
            let rows = std::mem::take(&mut run.rows);
            run.rows =
                rows.into_iter().enumerate().filter(|(index, row)| last_of_key[row.key.as_str()] == *index).map(|(_, row)| row).collect();
        }
    }
    runs
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn statement(run: &Run<'_>, catalog: &RelationalCatalog) -> String {
    if instruments::takes_run(run.table, run.op, run.columns) {
        return UPSERT_INSTRUMENTS.to_string();
    }
    let table = quoted(run.table);
    let columns: Vec<String> = run.columns.iter().map(|column| quoted(column)).collect();
    let columns = columns.join(", ");
    let mut sql = format!("INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, $1::text::jsonb)");
    if run.op == RowOp::Upsert {
        let key = &catalog.tables[run.table].primary_key;
        let updates: Vec<String> = run
            .columns
            .iter()
            .filter(|column| !key.contains(column))
            .map(|column| format!("{} = EXCLUDED.{}", quoted(column), quoted(column)))
            .collect();
        let key: Vec<String> = key.iter().map(|column| quoted(column)).collect();
        if updates.is_empty() {
            sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", key.join(", ")));
        } else {
            sql.push_str(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), updates.join(", ")));
        }
    }
    sql
}

/// One transaction: every run under a savepoint, refused rows isolated, the offset
/// advanced, committed. Returns the refused rows with the server's messages.
async fn write_batch<'a>(
    client: &mut Client,
    catalog: &RelationalCatalog,
    runs: &[Run<'a>],
    ranges: &[(u64, u64)],
    ids: &[u128],
    position: i64,
    escalated: Option<&str>,
) -> Result<Vec<(&'a RowRecord, DeadLetter)>, tokio_postgres::Error> {
    let mut transaction = client.transaction().await?;
    let mut refused = Vec::new();
    for run in runs {
        let sql = statement(run, catalog);
        let mut pending: Vec<(Vec<&RowRecord>, Option<String>)> = vec![(run.rows.clone(), None)];
        while let Some((rows, known_failure)) = pending.pop() {
            let message = match known_failure {
                Some(message) => Some(message),
                None => match execute_under_savepoint(&mut transaction, &sql, &rows, escalated).await {
                    Ok(()) => None,
                    Err(StatementFailure::Broken(error)) => return Err(error),
                    Err(StatementFailure::Refused(message)) => Some(message),
                },
            };
            let Some(message) = message else { continue };
            if rows.len() == 1 {
                let row = rows[0];
                refused.push((
                    row,
                    DeadLetter::new(
                        "relational",
                        "rejected_by_database",
                        format!("{} into `{}`: {message}", row.op.as_str(), row.table),
                        &row.to_push_json(),
                    ),
                ));
                continue;
            }
            let mut first = rows;
            let second = first.split_off(first.len() / 2);
            // Halves are tried in order: push the second first so the first pops first.
            pending.push((second, None));
            pending.push((first, None));
        }
    }
    if !refused.is_empty() {
        // In the batch's own transaction: a refused row is dead-lettered exactly when the
        // rest of its batch commits.
        let letters: Vec<DeadLetter> = refused.iter().map(|(_, letter)| letter.clone()).collect();
        insert_dead_letters(&transaction, &letters).await?;
    }
    if !ranges.is_empty() {
        let statement = transaction.prepare(RECORD_SPOOL_RANGES).await?;
        record_spool_ranges(&transaction, &statement, Table::Relational, ranges).await?;
    }
    if ids.iter().any(|id| *id != 0) {
        let statement = transaction.prepare(RECORD_IDS).await?;
        record_ids(&transaction, &statement, ids).await?;
    }
    transaction.execute(ADVANCE_OFFSET, &[&STREAM, &position]).await?;
    transaction.commit().await?;
    Ok(refused)
}

async fn execute_under_savepoint(
    transaction: &mut Transaction<'_>,
    sql: &str,
    rows: &[&RowRecord],
    escalated: Option<&str>,
) -> Result<(), StatementFailure> {
    let mut json = String::with_capacity(rows.iter().map(|row| row.json.len() + 1).sum::<usize>() + 2);
    json.push('[');
    for (index, row) in rows.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(&row.json);
    }
    json.push(']');
    let savepoint = transaction.savepoint("run").await.map_err(StatementFailure::Broken)?;
    match savepoint.execute(sql, &[&json]).await {
        Ok(_) => savepoint.commit().await.map_err(StatementFailure::Broken),
        Err(error) if refuses_content(&error, escalated) => {
            let message = describe(&error);
            savepoint.rollback().await.map_err(StatementFailure::Broken)?;
            Err(StatementFailure::Refused(message))
        }
        Err(error) => Err(StatementFailure::Broken(error)),
    }
}

/// Whether the server refused what the rows ask for (bad values, constraint
/// violations, a column that cannot be written, a value over the server's limits, or
/// the SQLSTATE found repeating on this batch) rather than failing as a server.
fn refuses_content(error: &tokio_postgres::Error, escalated: Option<&str>) -> bool {
    classify_row_statement(error) == FailureKind::Data
        || (escalated.is_some() && error.as_db_error().map(|db_error| db_error.code().code()) == escalated)
}
