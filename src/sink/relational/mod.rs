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
//! dead-lettered naming what is missing after `[relational] wait_ms`. Writers sharing
//! the database (bus writers) share `relational_waiting`: every [`ADOPT_EVERY`] a writer
//! also takes up the waiting rows it does not hold, within its waiting set's bounds, so
//! the rows of a writer that died and did not come back are still retried and settled
//! in time. Within a batch,
//! the rows that wait are retried as long as a pass writes anything, so same-batch
//! order never matters. Any other refused row is dead-lettered with the server's
//! message while the rest of the batch commits.
//!
//! Exactly once, as for the COPY writers: the transaction also advances the stream
//! `relational/0` in `ingest_offsets`, and parks and settles the waiting rows.
//!
//! Rows from the bus (a writer's relational consumer) come as a batch of messages with
//! their [`BusClaim`]: they are checked against the catalog here (an edge has no
//! database to check them with; a row the catalog refuses is dead-lettered with the
//! router's reason), and the transaction claims the messages and the rows' ids as the
//! COPY writers' bus path does, so a message delivered again or a resent id is written
//! once; a row that waits is parked in that same transaction, so its message is acked
//! after the commit like the rest.

mod attempt;
mod partitions;
mod statement;
mod waiting;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_postgres::Client;

use self::attempt::{Attempt, BusRows};
pub use self::partitions::KeyedPartitions;
use self::statement::Origin;
pub use self::waiting::WaitPolicy;
use self::waiting::{WaitReason, Waiting};
use super::failure::{Failure, FailureKind, RepeatGuard};
use super::stage::BusClaim;
use super::writer::{Backoff, WriterError, WriterSettings};
use crate::db;
use crate::metrics::{events, Stats};
use crate::pipeline::Sequenced;
use crate::record::{DeadLetter, RelationalCatalog, RowRecord, Table, Timestamp};
use crate::spool::sequence_ranges;

/// What the relational writer takes: rows of its lane (with their spool sequences), or
/// rows of bus messages (with their messages' stream sequences and the claim).
#[derive(Debug)]
pub struct RelationalBatch {
    pub rows: Vec<Sequenced<RowRecord>>,
    pub bus: Option<BusClaim>,
}

const STREAM: &str = "relational/0";

/// How often waiting rows are retried while no batch comes.
const WAIT_RETRY: Duration = Duration::from_secs(1);

/// How often a writer looks for waiting rows it does not hold (parked by another writer).
const ADOPT_EVERY: Duration = Duration::from_secs(2);

/// Runs the relational writer until its queue closes and is drained. Connects before
/// taking the first batch. Rows still waiting at the end stay in `relational_waiting`
/// for the next start.
pub async fn run_relational_writer(
    mut queue: mpsc::Receiver<RelationalBatch>,
    settings: Arc<WriterSettings>,
    catalog: Arc<RelationalCatalog>,
    policy: WaitPolicy,
    partitions: KeyedPartitions,
    stats: Arc<Stats>,
) -> Result<(), WriterError> {
    let (client, position) = connect(&settings, false).await?;
    let mut writer = RelationalWriter { settings, catalog, policy, partitions, stats, client, position, waiting: Vec::new() };
    writer.load_waiting().await?;
    let mut adopted_at = Instant::now();
    loop {
        if adopted_at.elapsed() >= ADOPT_EVERY {
            writer.adopt_waiting().await?;
            adopted_at = Instant::now();
        }
        let batch = match tokio::time::timeout(WAIT_RETRY, queue.recv()).await {
            Ok(batch) => batch,
            Err(_) if writer.waiting.is_empty() => continue,
            Err(_) => Some(RelationalBatch { rows: Vec::new(), bus: None }),
        };
        let Some(RelationalBatch { rows: batch, bus }) = batch else { break };
        let mut sequences = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        for item in batch {
            sequences.push(item.sequence);
            ids.push(item.id);
            rows.push(item.row);
        }
        let count = rows.len();
        writer.write(rows, &sequences, &ids, bus.as_ref()).await?;
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
    partitions: KeyedPartitions,
    stats: Arc<Stats>,
    client: Client,
    position: i64,
    /// The rows of `relational_waiting`, oldest first.
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

    /// Takes up waiting rows this writer does not hold, oldest first, as many as its
    /// waiting set's bounds leave room for. A failure is logged and the connection
    /// renewed; the rows are looked for again next time.
    async fn adopt_waiting(&mut self) -> Result<(), WriterError> {
        let held_bytes: u64 = self.waiting.iter().map(Waiting::bytes).sum();
        let room = self.policy.max_rows.saturating_sub(self.waiting.len());
        let mut room_bytes = self.policy.max_bytes.saturating_sub(held_bytes);
        if room == 0 || room_bytes == 0 {
            return Ok(());
        }
        let held: Vec<i64> = self.waiting.iter().map(|entry| entry.id).collect();
        match waiting::adopt(&self.client, &self.catalog, &held, room).await {
            Ok((found, unusable)) => {
                let before = self.waiting.len();
                for entry in found {
                    if entry.bytes() > room_bytes {
                        break;
                    }
                    room_bytes -= entry.bytes();
                    self.waiting.push(entry);
                }
                // Rows the catalog does not take are dead-lettered with the next attempt.
                for (mut entry, reason) in unusable {
                    entry.since = Timestamp(i64::MIN / 2);
                    entry.reason = WaitReason { code: entry.reason.code, detail: reason };
                    self.waiting.push(entry);
                }
                if self.waiting.len() > before {
                    self.waiting.sort_by_key(|entry| entry.id);
                    events::relational_waiting(self.waiting.len(), self.waiting.iter().map(Waiting::bytes).sum());
                }
                Ok(())
            }
            Err(error) => {
                let mut failure = Failure::from(error);
                if (RepeatGuard::default()).judge(&mut failure) != FailureKind::Retry {
                    return Err(fatal(failure.message));
                }
                events::write_failed(Table::Relational, 0, "adopt waiting rows", &failure.message);
                (self.client, self.position) = connect(&self.settings, true).await?;
                Ok(())
            }
        }
    }

    async fn write(
        &mut self,
        mut rows: Vec<RowRecord>,
        sequences: &[u64],
        ids: &[u128],
        bus: Option<&BusClaim>,
    ) -> Result<(), WriterError> {
        // Every row of the batch is settled by its transaction: written, superseded by a
        // later upsert of its key, parked to wait, or dead-lettered in it.
        let ranges = if self.settings.spool.is_some() && bus.is_none() { sequence_ranges(sequences) } else { Vec::new() };
        // Rows from the bus are checked here, as the router checks those it takes.
        let refused_by_catalog: Vec<Option<DeadLetter>> = match bus {
            Some(_) => rows
                .iter_mut()
                .map(|row| {
                    self.catalog.check(row).err().map(|rejection| {
                        let detail = format!("taken from the bus: {}", rejection.detail);
                        DeadLetter::new("relational", rejection.code.as_str(), detail, &row.to_push_json())
                    })
                })
                .collect(),
            None => Vec::new(),
        };
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
                bus: bus.map(|claim| BusRows { claim, sequences, refused_by_catalog: &refused_by_catalog }),
                position: attempt_position,
                escalated: escalated.as_deref(),
            };
            let outcome = match self.partitions.ensure(&mut self.client, &rows).await {
                Ok(()) => attempt.run(&mut self.client).await.map_err(Failure::from),
                Err(error) => Err(Failure::from(error)),
            };
            match outcome {
                Ok(outcome) => {
                    self.position = attempt_position;
                    self.waiting = outcome.waiting;
                    let refused_from_bus = if bus.is_some() {
                        outcome.letters.iter().filter(|(origin, _)| matches!(origin, Origin::New(_))).count()
                    } else {
                        0
                    };
                    let refused: Vec<(u64, DeadLetter)> = outcome
                        .letters
                        .into_iter()
                        .map(|(origin, letter)| match origin {
                            // A bus row's sequence is its message's, not a spool sequence.
                            Origin::New(index) if bus.is_none() => (sequences.get(index).copied().unwrap_or(0), letter),
                            Origin::New(_) | Origin::Waiting(_) => (0, letter),
                        })
                        .collect();
                    self.committed(&rows, &ranges, started, &refused, outcome.left_out + refused_from_bus);
                    if let Some(claim) = bus {
                        events::bus_batch_committed(Table::Relational, claim.messages.len(), outcome.superseded, outcome.resent);
                        let _ = claim.committed.send(claim.messages.clone());
                    }
                    return Ok(());
                }
                Err(mut failure) => {
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
                    // Whether the commit landed before the connection broke: for a bus
                    // batch its claims say so (writers in other processes advance the
                    // same offset), otherwise the offset does.
                    let landed = match bus {
                        Some(claim) => self.claimed(claim).await,
                        None => self.position >= attempt_position,
                    };
                    if landed {
                        // The commit landed before the connection broke (with its dead
                        // letters and waiting rows, which are written in the same
                        // transaction): what waits now is what the database holds.
                        self.load_waiting().await?;
                        self.committed(&rows, &ranges, started, &[], 0);
                        if let Some(claim) = bus {
                            let _ = claim.committed.send(claim.messages.clone());
                        }
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Whether every message of a bus batch is committed (claimed, or below the
    /// stream's folded watermark); `false` when that cannot be read now.
    async fn claimed(&self, claim: &BusClaim) -> bool {
        let sequences: Vec<i64> = claim.messages.iter().map(|sequence| *sequence as i64).collect();
        let found = self
            .client
            .query_one(
                "SELECT count(*) FROM unnest($2::int8[]) AS wanted(sequence)
                  WHERE EXISTS (SELECT 1 FROM ingest_bus_messages m WHERE m.stream = $1 AND m.sequence = wanted.sequence)
                     OR wanted.sequence <= coalesce((SELECT position FROM ingest_offsets WHERE stream = $3), 0)",
                &[&claim.stream_key, &sequences, &crate::sink::watermark_stream(&claim.stream_key)],
            )
            .await;
        found.is_ok_and(|row| row.get::<_, i64>(0) as usize == sequences.len())
    }

    /// `left_out`: rows of bus messages committed before, or resends of stored ids.
    fn committed(&self, rows: &[RowRecord], ranges: &[(u64, u64)], started: Instant, refused: &[(u64, DeadLetter)], left_out: usize) {
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
        events::batch_committed(Table::Relational, rows.len().saturating_sub(refused_new + left_out), started.elapsed(), oldest);
    }
}
