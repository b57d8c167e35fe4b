//! The relational writer: rows for orders, trades, agent sessions, … (push `row`
//! records), batched, written in one transaction per batch in foreign-key order
//! (parents first; within a table, in arrival order).
//!
//! Consecutive rows of one table with the same operation and columns go as one
//! statement ([`statement`]). Each statement runs under a savepoint; when the server
//! refuses it, the rows are halved under savepoints until each refused row is alone.
//! A row refused because what it needs is not there — the parent its foreign key
//! names, or for an `update` the row itself — waits ([`waiting`]): it is retried with
//! every later batch and once a second, written as soon as that commits, and
//! dead-lettered naming what is missing after `[relational] wait_ms`. Within a batch,
//! the rows that wait are retried as long as a pass writes anything, so same-batch
//! order never matters. Any other refused row is dead-lettered with the server's
//! message while the rest of the batch commits.
//!
//! Exactly once, as for the COPY writers: the transaction also advances the stream
//! `relational/0` in `ingest_offsets`, and parks and settles the waiting rows.

mod statement;
mod waiting;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_postgres::{Client, Transaction};

use self::statement::{plan_runs, statement, Candidate, Origin, Run};
pub use self::waiting::WaitPolicy;
use self::waiting::{WaitReason, Waiting};
use super::failure::{classify_row_statement, describe, Failure, FailureKind, RepeatGuard};
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

/// How often waiting rows are retried while no batch comes.
const WAIT_RETRY: Duration = Duration::from_secs(1);

/// Runs the relational writer until its queue closes and is drained. Connects before
/// taking the first batch. Rows still waiting at the end stay in `relational_waiting`
/// for the next start.
pub async fn run_relational_writer(
    mut queue: mpsc::Receiver<Vec<Sequenced<RowRecord>>>,
    settings: Arc<WriterSettings>,
    catalog: Arc<RelationalCatalog>,
    policy: WaitPolicy,
    stats: Arc<Stats>,
) -> Result<(), WriterError> {
    let (client, position) = connect(&settings, false).await?;
    let mut writer = RelationalWriter { settings, catalog, policy, stats, client, position, waiting: Vec::new() };
    writer.load_waiting().await?;
    loop {
        let batch = if writer.waiting.is_empty() {
            queue.recv().await
        } else {
            match tokio::time::timeout(WAIT_RETRY, queue.recv()).await {
                Ok(batch) => batch,
                Err(_) => Some(Vec::new()),
            }
        };
        let Some(batch) = batch else { break };
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
        if count > 0 {
            writer.stats.batch_finished(Table::Relational, count);
        }
    }
    Ok(())
}

struct RelationalWriter {
    settings: Arc<WriterSettings>,
    catalog: Arc<RelationalCatalog>,
    policy: WaitPolicy,
    stats: Arc<Stats>,
    client: Client,
    position: i64,
    /// The rows of `relational_waiting`, oldest first.
    waiting: Vec<Waiting>,
}

/// Why a statement failed.
enum StatementFailure {
    /// The server refused the rows' content (or shape): isolate and dead-letter.
    Refused(tokio_postgres::Error),
    /// Connection or server trouble: the whole batch is retried.
    Broken(tokio_postgres::Error),
}

/// How a row of an attempt ended.
enum Fate {
    Written,
    Refused(String),
    Waits(WaitReason),
}

/// What a committed attempt did with the waiting rows and which rows it dead-lettered.
struct Outcome {
    /// Dead-lettered rows of the batch (index into it) and of the waiting set.
    letters: Vec<(Origin, DeadLetter)>,
    /// The waiting set after the commit, oldest first.
    waiting: Vec<Waiting>,
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
    /// Reads the waiting rows left by the last run (or by a commit whose answer was
    /// lost), retrying the connection as a batch would.
    async fn load_waiting(&mut self) -> Result<(), WriterError> {
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        loop {
            match waiting::load(&self.client, &self.catalog).await {
                Ok((waiting, unusable)) => {
                    self.waiting = waiting;
                    // Rows the catalog no longer takes are dead-lettered with the next
                    // attempt: they stay until then, with an expired wait.
                    for (mut entry, reason) in unusable {
                        entry.since = Timestamp(i64::MIN / 2);
                        entry.reason = WaitReason { code: entry.reason.code, detail: reason };
                        self.waiting.insert(0, entry);
                    }
                    events::relational_waiting(self.waiting.len(), self.waiting.iter().map(Waiting::bytes).sum());
                    return Ok(());
                }
                Err(error) => {
                    let mut failure = Failure::from(error);
                    if (RepeatGuard::default()).judge(&mut failure) != FailureKind::Retry {
                        return Err(fatal(failure.message));
                    }
                    events::write_failed(Table::Relational, 0, "load waiting rows", &failure.message);
                    tokio::time::sleep(backoff.next_delay()).await;
                    (self.client, self.position) = connect(&self.settings, true).await?;
                }
            }
        }
    }

    async fn write(&mut self, rows: Vec<RowRecord>, sequences: &[u64], ids: &[u128]) -> Result<(), WriterError> {
        // Every row of the batch is settled by its transaction: written, superseded by a
        // later upsert of its key, parked to wait, or dead-lettered in it.
        let ranges = if self.settings.spool.is_some() { sequence_ranges(sequences) } else { Vec::new() };
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        let mut guard = RepeatGuard::default();
        // A SQLSTATE found repeating on this batch while the server answers: from then
        // on the statement that raises it is refused like bad content.
        let mut escalated: Option<String> = None;
        loop {
            let attempt_position = self.position + 1;
            let started = Instant::now();
            let attempt = Attempt {
                catalog: &self.catalog,
                policy: &self.policy,
                rows: &rows,
                waiting: &self.waiting,
                ranges: &ranges,
                ids,
                position: attempt_position,
                escalated: escalated.as_deref(),
            };
            match attempt.run(&mut self.client).await {
                Ok(outcome) => {
                    self.position = attempt_position;
                    self.waiting = outcome.waiting;
                    let refused: Vec<(u64, DeadLetter)> = outcome
                        .letters
                        .into_iter()
                        .map(|(origin, letter)| match origin {
                            Origin::New(index) => (sequences.get(index).copied().unwrap_or(0), letter),
                            Origin::Waiting(_) => (0, letter),
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
                        // letters and waiting rows, which are written in the same
                        // transaction): what waits now is what the database holds.
                        self.load_waiting().await?;
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
            progress.refused(
                stream,
                refused.iter().filter(|(sequence, _)| *sequence != 0).map(|(sequence, letter)| (*sequence, letter.detail.clone())),
            );
            progress.committed(stream, ranges);
        }
        events::relational_waiting(self.waiting.len(), self.waiting.iter().map(Waiting::bytes).sum());
        for (_, letter) in refused {
            events::dead_lettered(letter);
        }
        if rows.is_empty() {
            return;
        }
        let oldest = self.stats.record_commit(Table::Relational, rows.iter().map(|row| row.received_at), Timestamp::now());
        let refused_new = refused.iter().filter(|(sequence, _)| *sequence != 0).count();
        events::batch_committed(Table::Relational, rows.len().saturating_sub(refused_new), started.elapsed(), oldest);
    }
}

/// One transaction's worth of work: the batch's rows and the waiting ones.
struct Attempt<'a> {
    catalog: &'a RelationalCatalog,
    policy: &'a WaitPolicy,
    rows: &'a [RowRecord],
    waiting: &'a [Waiting],
    ranges: &'a [(u64, u64)],
    ids: &'a [u128],
    position: i64,
    escalated: Option<&'a str>,
}

impl Attempt<'_> {
    /// One transaction: every run under a savepoint, refused rows isolated, waiting
    /// rows retried while a pass writes anything, parked and settled, the offset
    /// advanced, committed.
    async fn run(&self, client: &mut Client) -> Result<Outcome, tokio_postgres::Error> {
        let mut transaction = client.transaction().await?;
        // Waiting rows first: they arrived earlier.
        let mut candidates: Vec<Candidate<'_>> = self
            .waiting
            .iter()
            .enumerate()
            .map(|(index, entry)| Candidate { row: &entry.row, origin: Origin::Waiting(index) })
            .chain(self.rows.iter().enumerate().map(|(index, row)| Candidate { row, origin: Origin::New(index) }))
            .collect();
        let mut letters: Vec<(Origin, DeadLetter)> = Vec::new();
        let mut settled_waiting: Vec<bool> = vec![false; self.waiting.len()];
        let mut waits: Vec<(Candidate<'_>, WaitReason)>;
        loop {
            let (runs, superseded) = plan_runs(&candidates, self.catalog);
            let mut written = superseded.len();
            for candidate in superseded {
                settle(&mut settled_waiting, candidate.origin);
            }
            let mut pass_waits = Vec::new();
            for run in &runs {
                for (candidate, fate) in self.execute_run(&mut transaction, run).await? {
                    match fate {
                        Fate::Written => {
                            written += 1;
                            settle(&mut settled_waiting, candidate.origin);
                        }
                        Fate::Refused(message) => {
                            settle(&mut settled_waiting, candidate.origin);
                            let row = candidate.row;
                            let detail = format!("{} into `{}`: {message}", row.op.as_str(), row.table);
                            letters.push((
                                candidate.origin,
                                DeadLetter::new("relational", "rejected_by_database", detail, &row.to_push_json()),
                            ));
                        }
                        Fate::Waits(reason) => pass_waits.push((candidate, reason)),
                    }
                }
            }
            // A pass that wrote something may have written what a waiting row needs.
            if pass_waits.is_empty() || written == 0 {
                waits = pass_waits;
                break;
            }
            candidates = pass_waits.into_iter().map(|(candidate, _)| candidate).collect();
        }

        // What still waits: parked (new rows), kept (waiting rows within their time),
        // or dead-lettered (past its time, or past the waiting set's bounds, oldest
        // first).
        let now = Timestamp::now();
        let mut next: Vec<Waiting> = Vec::new();
        let mut parked: Vec<(Candidate<'_>, WaitReason)> = Vec::new();
        for (candidate, reason) in waits.drain(..) {
            match candidate.origin {
                Origin::Waiting(index) => {
                    let entry = &self.waiting[index];
                    if entry.expired(self.policy, now) {
                        settled_waiting[index] = true;
                        letters.push((candidate.origin, gave_up(entry.row.clone(), &reason, GaveUp::Expired, self.policy)));
                    } else {
                        next.push(Waiting { reason, ..entry.clone() });
                    }
                }
                Origin::New(_) if self.policy.wait.is_zero() => {
                    letters.push((candidate.origin, gave_up(candidate.row.clone(), &reason, GaveUp::NoWaiting, self.policy)));
                }
                Origin::New(_) => parked.push((candidate, reason)),
            }
        }
        next.sort_by_key(|entry| entry.id);
        // Bounds: the oldest go first.
        let mut rows = next.len() + parked.len();
        let mut bytes: u64 =
            next.iter().map(Waiting::bytes).sum::<u64>() + parked.iter().map(|(c, _)| c.row.json.len() as u64).sum::<u64>();
        let over = |rows: usize, bytes: u64| rows > self.policy.max_rows || bytes > self.policy.max_bytes;
        let mut evicted = 0;
        while over(rows, bytes) && evicted < next.len() {
            let entry = &next[evicted];
            let index = self.waiting.iter().position(|candidate| candidate.id == entry.id).unwrap_or(0);
            settled_waiting[index] = true;
            letters.push((Origin::Waiting(index), gave_up(entry.row.clone(), &entry.reason, GaveUp::Full, self.policy)));
            rows -= 1;
            bytes -= entry.bytes();
            evicted += 1;
        }
        next.drain(..evicted);
        let mut evicted_new = 0;
        while over(rows, bytes) && evicted_new < parked.len() {
            let (candidate, reason) = &parked[evicted_new];
            letters.push((candidate.origin, gave_up(candidate.row.clone(), reason, GaveUp::Full, self.policy)));
            rows -= 1;
            bytes -= candidate.row.json.len() as u64;
            evicted_new += 1;
        }
        if !parked.is_empty() {
            let statement = transaction.prepare(waiting::PARK).await?;
            for (candidate, reason) in parked.into_iter().skip(evicted_new) {
                let id = waiting::park(&transaction, &statement, candidate.row, now, &reason).await?;
                next.push(Waiting { id, since: now, row: candidate.row.clone(), reason });
            }
        }
        let settled: Vec<i64> =
            self.waiting.iter().zip(&settled_waiting).filter(|(_, settled)| **settled).map(|(entry, _)| entry.id).collect();
        if !settled.is_empty() {
            transaction.execute(waiting::SETTLE, &[&settled]).await?;
        }

        if !letters.is_empty() {
            // In the batch's own transaction: a refused row is dead-lettered exactly when
            // the rest of its batch commits.
            let dead: Vec<DeadLetter> = letters.iter().map(|(_, letter)| letter.clone()).collect();
            insert_dead_letters(&transaction, &dead).await?;
        }
        if !self.ranges.is_empty() {
            let statement = transaction.prepare(RECORD_SPOOL_RANGES).await?;
            record_spool_ranges(&transaction, &statement, Table::Relational, self.ranges).await?;
        }
        if self.ids.iter().any(|id| *id != 0) {
            let statement = transaction.prepare(RECORD_IDS).await?;
            record_ids(&transaction, &statement, self.ids).await?;
        }
        transaction.execute(ADVANCE_OFFSET, &[&STREAM, &self.position]).await?;
        transaction.commit().await?;
        Ok(Outcome { letters, waiting: next })
    }

    /// Runs one statement's rows, halving refused sets under savepoints until each
    /// refused row is alone. Returns each row's fate.
    async fn execute_run<'r>(
        &self,
        transaction: &mut Transaction<'_>,
        run: &Run<'r>,
    ) -> Result<Vec<(Candidate<'r>, Fate)>, tokio_postgres::Error> {
        let sql = statement(run, self.catalog);
        let mut fates = Vec::with_capacity(run.rows.len());
        let mut pending: Vec<Vec<Candidate<'r>>> = vec![run.rows.clone()];
        while let Some(rows) = pending.pop() {
            match execute_under_savepoint(transaction, &sql, &rows, self.escalated).await {
                Ok(found) => {
                    for (position, candidate) in rows.into_iter().enumerate() {
                        let fate = match &found {
                            Some(found) if !found.contains(&(position as i64 + 1)) => Fate::Waits(WaitReason::missing_row(format!(
                                "update into `{}`: no row with {} yet",
                                candidate.row.table,
                                key_text(candidate.row, self.catalog)
                            ))),
                            _ => Fate::Written,
                        };
                        fates.push((candidate, fate));
                    }
                }
                Err(StatementFailure::Broken(error)) => return Err(error),
                Err(StatementFailure::Refused(error)) if rows.len() == 1 => {
                    let message = describe(&error);
                    let fate = if error.as_db_error().is_some_and(|db| db.code().code() == FOREIGN_KEY_VIOLATION) {
                        Fate::Waits(WaitReason::missing_parent(format!(
                            "{} into `{}`: {message}",
                            rows[0].row.op.as_str(),
                            rows[0].row.table
                        )))
                    } else {
                        Fate::Refused(message)
                    };
                    fates.push((rows[0], fate));
                }
                Err(StatementFailure::Refused(_)) => {
                    let mut first = rows;
                    let second = first.split_off(first.len() / 2);
                    // Halves are tried in order: push the second first so the first pops first.
                    pending.push(second);
                    pending.push(first);
                }
            }
        }
        Ok(fates)
    }
}

/// SQLSTATE `foreign_key_violation`: the parent a row names is not there (yet).
const FOREIGN_KEY_VIOLATION: &str = "23503";

fn settle(settled_waiting: &mut [bool], origin: Origin) {
    if let Origin::Waiting(index) = origin {
        settled_waiting[index] = true;
    }
}

/// The row's primary key as `column = value, …`, for a reason.
fn key_text(row: &RowRecord, catalog: &RelationalCatalog) -> String {
    let key = catalog.tables.get(&row.table).map_or(&[][..], |table| table.primary_key.as_slice());
    key.iter()
        .map(|column| format!("{column} = {}", row.fields.get(column).map_or_else(|| "null".to_string(), serde_json::Value::to_string)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a row stopped waiting without its parent (or row).
#[derive(Clone, Copy)]
enum GaveUp {
    /// It waited `wait_ms`.
    Expired,
    /// `wait_ms` is 0.
    NoWaiting,
    /// The waiting set was over `wait_max_rows` or `wait_max_bytes`.
    Full,
}

/// The dead letter of a row that waited in vain.
fn gave_up(row: RowRecord, reason: &WaitReason, why: GaveUp, policy: &WaitPolicy) -> DeadLetter {
    let why = match why {
        GaveUp::Expired => format!("gave up after waiting {} ms (`[relational] wait_ms`)", policy.wait.as_millis()),
        GaveUp::NoWaiting => "not waited for: `[relational] wait_ms` is 0".to_string(),
        GaveUp::Full => format!(
            "dropped from the waiting set, full at {} rows / {} bytes (`[relational] wait_max_rows`, `wait_max_bytes`)",
            policy.max_rows, policy.max_bytes
        ),
    };
    DeadLetter::new("relational", reason.code, format!("{}; {why}", reason.detail), &row.to_push_json())
}

/// Runs `sql` over `rows` under a savepoint. For an `update`, returns the positions
/// (1-based) of the rows it found.
async fn execute_under_savepoint(
    transaction: &mut Transaction<'_>,
    sql: &str,
    rows: &[Candidate<'_>],
    escalated: Option<&str>,
) -> Result<Option<Vec<i64>>, StatementFailure> {
    let mut json = String::with_capacity(rows.iter().map(|candidate| candidate.row.json.len() + 1).sum::<usize>() + 2);
    json.push('[');
    for (index, candidate) in rows.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(&candidate.row.json);
    }
    json.push(']');
    let returns_found = rows.first().is_some_and(|candidate| candidate.row.op == RowOp::Update);
    let savepoint = transaction.savepoint("run").await.map_err(StatementFailure::Broken)?;
    let result = if returns_found {
        savepoint.query(sql, &[&json]).await.map(|found| Some(found.iter().map(|row| row.get::<_, i64>(0)).collect()))
    } else {
        savepoint.execute(sql, &[&json]).await.map(|_| None)
    };
    match result {
        Ok(found) => {
            savepoint.commit().await.map_err(StatementFailure::Broken)?;
            Ok(found)
        }
        Err(error) if refuses_content(&error, escalated) => {
            savepoint.rollback().await.map_err(StatementFailure::Broken)?;
            Err(StatementFailure::Refused(error))
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
