//! One attempt of the relational writer: a transaction running the batch's rows and
//! the waiting ones, statement by statement under savepoints, isolating refused rows,
//! retrying the waiting ones while a pass writes anything, parking and settling them,
//! and advancing the stream's offset.

use tokio_postgres::{Client, Transaction};

use super::statement::{plan_runs, statement, Candidate, Origin, Run};
use super::waiting::{self, WaitPolicy, WaitReason, Waiting};
use super::STREAM;
use crate::record::{DeadLetter, RelationalCatalog, RowOp, RowRecord, Table, Timestamp};
use crate::sink::failure::{classify_row_statement, describe, FailureKind};
use crate::sink::stage::BusClaim;
use crate::sink::writer::{
    claim_ids, claim_messages, insert_dead_letters, record_ids, record_spool_ranges, ADVANCE_OFFSET, RECORD_IDS, RECORD_SPOOL_RANGES,
};

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
pub(super) struct Outcome {
    /// Dead-lettered rows of the batch (index into it) and of the waiting set.
    pub letters: Vec<(Origin, DeadLetter)>,
    /// The waiting set after the commit, oldest first.
    pub waiting: Vec<Waiting>,
    /// Bus batches: messages found committed before, rows left out as resends of
    /// stored ids, and every row left out for either reason.
    pub superseded: usize,
    pub resent: usize,
    pub left_out: usize,
}

/// What a batch of bus messages brings besides its rows.
#[derive(Clone, Copy)]
pub(super) struct BusRows<'a> {
    pub claim: &'a BusClaim,
    /// Each row's message sequence.
    pub sequences: &'a [u64],
    /// Each row's refusal by the catalog (checked before the attempt).
    pub refused_by_catalog: &'a [Option<DeadLetter>],
}

/// One transaction's worth of work: the batch's rows and the waiting ones.
pub(super) struct Attempt<'a> {
    pub catalog: &'a RelationalCatalog,
    pub policy: &'a WaitPolicy,
    pub rows: &'a [RowRecord],
    pub waiting: &'a [Waiting],
    pub ranges: &'a [(u64, u64)],
    pub ids: &'a [u128],
    /// A batch of bus messages.
    pub bus: Option<BusRows<'a>>,
    pub position: i64,
    pub escalated: Option<&'a str>,
}

impl Attempt<'_> {
    /// One transaction: every run under a savepoint, refused rows isolated, waiting
    /// rows retried while a pass writes anything, parked and settled, the offset
    /// advanced, committed.
    pub async fn run(&self, client: &mut Client) -> Result<Outcome, tokio_postgres::Error> {
        let mut transaction = client.transaction().await?;
        let mut letters: Vec<(Origin, DeadLetter)> = Vec::new();
        let mut keep = vec![true; self.rows.len()];
        let (mut superseded, mut resent) = (0, 0);
        if let Some(BusRows { claim, sequences, refused_by_catalog }) = self.bus {
            let fresh = claim_messages(&transaction, claim).await?;
            superseded = claim.messages.iter().filter(|sequence| !fresh.contains(sequence)).count();
            for (index, kept) in keep.iter_mut().enumerate() {
                *kept = sequences.get(index).is_some_and(|sequence| fresh.contains(sequence));
                if let (true, Some(Some(letter))) = (*kept, refused_by_catalog.get(index)) {
                    *kept = false;
                    letters.push((Origin::New(index), letter.clone()));
                }
            }
            resent = claim_ids(&transaction, self.ids, &mut keep).await?;
        }
        let left_out = keep.iter().filter(|kept| !**kept).count() - letters.len();
        // The waiting rows this writer knows, locked (in id order, so that writers never
        // wait on each other in a circle): one another writer settled meanwhile (bus
        // writers share `relational_waiting`) is gone and not written again.
        // Bus writers share it: a row another writer parked under a key this batch
        // writes is taken up first, so rows of one key are written in the order they came.
        let keys: Vec<(&str, &str)> = match self.bus {
            Some(_) => self
                .rows
                .iter()
                .zip(&keep)
                .filter(|(row, kept)| **kept && !row.key.is_empty())
                .map(|(row, _)| (row.table.as_str(), row.key.as_str()))
                .collect(),
            None => Vec::new(),
        };
        let locked = waiting::lock(&transaction, self.catalog, self.waiting, &keys).await?;
        let waiting: std::borrow::Cow<'_, [Waiting]> = if locked.of_keys.is_empty() {
            std::borrow::Cow::Borrowed(self.waiting)
        } else {
            let mut taken_up = self.waiting.to_vec();
            taken_up.extend(locked.of_keys.iter().cloned());
            taken_up.sort_by_key(|entry| entry.id);
            std::borrow::Cow::Owned(taken_up)
        };
        // Waiting rows first: they arrived earlier.
        let mut candidates: Vec<Candidate<'_>> = waiting
            .iter()
            .enumerate()
            .filter(|(_, entry)| locked.locked.contains(&entry.id))
            .map(|(index, entry)| Candidate { row: &entry.row, origin: Origin::Waiting(index) })
            .chain(
                self.rows
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| keep[*index])
                    .map(|(index, row)| Candidate { row, origin: Origin::New(index) }),
            )
            .collect();
        let mut settled_waiting: Vec<bool> = vec![false; waiting.len()];
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
                    let entry = &waiting[index];
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
            let index = waiting.iter().position(|candidate| candidate.id == entry.id).unwrap_or(0);
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
        let settled: Vec<i64> = waiting.iter().zip(&settled_waiting).filter(|(_, settled)| **settled).map(|(entry, _)| entry.id).collect();
        if !settled.is_empty() {
            transaction.execute(waiting::SETTLE, &[&settled]).await?;
        }

        if !letters.is_empty() {
            // In the batch's own transaction: a refused row is dead-lettered exactly when
            // the rest of its batch commits.
            let dead: Vec<DeadLetter> = letters.iter().map(|(_, letter)| letter.clone()).collect();
            insert_dead_letters(transaction.client(), &dead).await?;
        }
        if !self.ranges.is_empty() {
            let statement = transaction.prepare(RECORD_SPOOL_RANGES).await?;
            record_spool_ranges(transaction.client(), &statement, Table::Relational, self.ranges).await?;
        }
        // A bus batch's ids were claimed at its start.
        if self.bus.is_none() && self.ids.iter().any(|id| *id != 0) {
            let statement = transaction.prepare(RECORD_IDS).await?;
            record_ids(transaction.client(), &statement, self.ids).await?;
        }
        transaction.execute(ADVANCE_OFFSET, &[&STREAM, &self.position]).await?;
        transaction.commit().await?;
        Ok(Outcome { letters, waiting: next, superseded, resent, left_out })
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
