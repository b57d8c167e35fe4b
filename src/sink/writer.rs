//! A writer task: one database connection, pulling encoded batches from its table's
//! queue and committing each in one transaction with `COPY … FROM STDIN (FORMAT
//! binary)`, or in insert mode with one `INSERT … SELECT FROM unnest(…)`.
//!
//! Exactly once: every writer owns a stream in `ingest_offsets` (`<table>/<writer_idx>`)
//! and advances it by one inside each batch's transaction. When the connection breaks
//! mid-batch — even between sending COMMIT and hearing back — the writer reconnects,
//! reads its stream's position, and knows whether the batch landed: if it did, it
//! moves on; if not, it sends the batch again. No row lost, none doubled.
//!
//! When the server refuses a row's content (a data error), the batch is split in
//! halves until the offending rows are alone; they are dead-lettered with the
//! server's message and every other row is committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, Statement};

use super::encoder::{copy_statement, EncodeRow};
use super::failure::{Failure, FailureKind, RepeatGuard};
use super::insert::insert_statement;
use super::instruments::{upsert_instruments, UPSERT_INSTRUMENTS};
use super::stage::{BatchQueue, Encoded, EncodedBatch};
use crate::config::WriteMode;
use crate::db::{self, Partitions};
use crate::metrics::{events, Stats};
use crate::record::{Table, Timestamp};
use crate::spool::{sequence_ranges, SpoolProgress};

mod bus;
mod isolate;
mod transaction;

pub(super) use isolate::{send_isolating, Target};
pub(super) use transaction::{insert_dead_letters, send_rows};

pub use bus::watermark_stream;
pub(crate) use bus::{claim_ids, claim_messages};

/// Connection settings shared by every writer.
#[derive(Clone)]
pub struct WriterSettings {
    pub url: String,
    pub connect_timeout: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// With a spool: each batch's transaction records its rows' sequences in
    /// `ingest_spool_ranges`, and commits are reported here.
    pub spool: Option<Arc<SpoolProgress>>,
}

/// The statement advancing a stream in `ingest_offsets`, in the transaction whose
/// commit it records (`$1` stream, `$2` position): the one offset upsert of every path.
pub const ADVANCE_OFFSET: &str = "INSERT INTO ingest_offsets (stream, position) VALUES ($1, $2)
     ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = now()";

/// The statement recording a batch's spool sequences in its own transaction.
pub(super) const RECORD_SPOOL_RANGES: &str = db::INSERT_SPOOL_RANGES;

/// The session settings of a direct-compress writer's connection (TimescaleDB 2.21+).
///
/// - **No sort on the server** (`…_sort_batches = off`). The encoder stage sends every
///   batch of a direct-compress table in the columnstore's order: by segment key, then
///   newest first (`sink::stage`, `columnstore_order_of`). The compressor then takes each
///   segment's rows as they come, in runs of up to 1000. The server's own sort of a batch
///   in that order found it sorted, but first copied every row into its sort: measured
///   with one client on 50 000-row batches, that was about a third of the server's time
///   (725 k against 1 058 k rows/s). The `direct_compress` test checks that each
///   compressed batch holds its rows newest first.
/// - `…_client_sorted` stays off: it would tell TimescaleDB that batches never overlap,
///   which several writers and late rows break.
/// - No tuple limit: a batch is compressed whole (our batches are bounded in rows and
///   bytes), so each segment's rows of a batch make as few compressed batches as their
///   count allows.
///
/// The compressed batches' column values are TOASTed, by default with `pglz`, which took
/// a fifth of the server's CPU in direct compress. Where the server was built with `lz4`
/// the writer's session uses it instead (about a tenth more rows per second on a busy
/// 2-core server, for about a tenth more bytes per row); elsewhere the setting is left as is.
pub const DIRECT_COMPRESS_SETTINGS: &str = "SET timescaledb.enable_direct_compress_copy = on;
     SET timescaledb.enable_direct_compress_copy_sort_batches = off;
     SET timescaledb.enable_direct_compress_copy_client_sorted = off;
     SET timescaledb.direct_compress_copy_tuple_sort_limit = 0;
     SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings
      WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)";

/// The statement storing committed record ids, in the batch's own transaction.
pub(super) const RECORD_IDS: &str = "INSERT INTO ingest_ids (key_high, key_low)
     SELECT * FROM unnest($1::int8[], $2::int8[]) ON CONFLICT DO NOTHING";

/// Stores the non-zero id keys among `ids`, in the transaction open on `transaction`.
pub(super) async fn record_ids(transaction: &Client, statement: &Statement, ids: &[u128]) -> Result<(), tokio_postgres::Error> {
    let (highs, lows): (Vec<i64>, Vec<i64>) =
        ids.iter().filter(|id| **id != 0).map(|id| ((*id >> 64) as u64 as i64, *id as u64 as i64)).unzip();
    if highs.is_empty() {
        return Ok(());
    }
    transaction.execute(statement, &[&highs, &lows]).await.map(|_| ())
}

/// Records `ranges` of `table`'s spool stream, in the transaction open on `transaction`.
pub(super) async fn record_spool_ranges(
    transaction: &Client,
    statement: &Statement,
    table: Table,
    ranges: &[(u64, u64)],
) -> Result<(), tokio_postgres::Error> {
    if ranges.is_empty() {
        return Ok(());
    }
    let firsts: Vec<i64> = ranges.iter().map(|(first, _)| *first as i64).collect();
    let lasts: Vec<i64> = ranges.iter().map(|(_, last)| *last as i64).collect();
    transaction.execute(statement, &[&table.spool_stream_name(), &firsts, &lasts]).await.map(|_| ())
}

impl std::fmt::Debug for WriterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the database password.
        f.debug_struct("WriterSettings")
            .field("target", &db::describe_url(&self.url))
            .field("connect_timeout", &self.connect_timeout)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// How one table's writers send rows.
#[derive(Debug, Clone, Default)]
pub struct TableWriteSettings {
    pub mode: WriteMode,
    /// Insert mode: skip rows whose key is already stored.
    pub conflict_key: Vec<String>,
    /// Record each batch's time range for the OHLCV aggregates, where the database
    /// keeps them incrementally (vanilla PostgreSQL; see `db::aggregates`).
    pub record_time_ranges: bool,
}

impl TableWriteSettings {
    /// `table`'s settings in `config`.
    pub fn for_table(config: &crate::config::Config, table: Table) -> Self {
        let settings = config.table(table);
        TableWriteSettings {
            mode: settings.write_mode,
            conflict_key: settings.conflict_key.clone(),
            record_time_ranges: table == Table::Ticks && config.aggregates.ohlcv,
        }
    }
}

/// A writer stopped for good: the table cannot take our rows.
#[derive(Debug, thiserror::Error)]
#[error("writer {writer_idx} of `{table}` stopped: {message}")]
pub struct WriterError {
    pub table: Table,
    pub writer_idx: usize,
    pub message: String,
}

struct Connection {
    client: Client,
    /// The COPY statement, or in insert mode the `INSERT … unnest` statement.
    write: Statement,
    advance_offset: Statement,
    upsert_instruments: Statement,
    record_ranges: Statement,
    record_ids: Statement,
    /// Vanilla PostgreSQL keeping the OHLCV aggregates: records a batch's tick range.
    record_time_range: Option<Statement>,
}

struct Writer<R: EncodeRow> {
    table: Table,
    writer_idx: usize,
    settings: Arc<WriterSettings>,
    table_settings: TableWriteSettings,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
    stream: String,
    position: i64,
    connection: Option<Connection>,
    _rows: std::marker::PhantomData<R>,
}

/// What one attempt of a batch's transaction gets to work with.
struct Attempt<'a> {
    connection: &'a mut Connection,
    /// The writer's stream in `ingest_offsets`, advanced to `position` in the transaction.
    stream: &'a str,
    position: i64,
}

/// What one batch path does in an attempt's transaction: the commit loop
/// ([`Writer::commit_loop`]) is one piece and every path is one `Job`.
trait Job {
    type Done;
    fn attempt<'a>(&'a self, attempt: Attempt<'a>) -> impl std::future::Future<Output = Result<Self::Done, Failure>> + Send + 'a;
}

/// How a batch's attempts ended.
enum Settled<T> {
    /// The last attempt committed and returned this.
    Committed(T),
    /// A lost connection hid the commit; the stream's position shows it landed.
    CommittedUnseen,
    /// The server refused the rows' content; nothing was committed. With the SQLSTATE
    /// that the repeat guard found repeating, when that is why.
    Refused { failure: Failure, escalated: Option<String> },
}

/// Runs one writer of `table` until its queue closes and is drained. Connects (and
/// checks the table's columns) before taking the first batch, so a schema mismatch
/// stops the daemon at start rather than at the first row.
pub async fn run_writer<R: EncodeRow>(
    table: Table,
    writer_idx: usize,
    queue: BatchQueue<R>,
    settings: Arc<WriterSettings>,
    table_settings: TableWriteSettings,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
) -> Result<(), WriterError> {
    let stream = format!("{}/{}", table.name(), writer_idx);
    run_writer_on_stream(stream, table, writer_idx, queue, settings, table_settings, partitions, stats).await
}

/// [`run_writer`] advancing `stream` in `ingest_offsets` rather than the daemon's
/// `<table>/<writer_idx>`: a writer outside the daemon (a file import) keeps its own
/// position, so it never mistakes a daemon's commit for its own.
#[allow(clippy::too_many_arguments)]
pub async fn run_writer_on_stream<R: EncodeRow>(
    stream: String,
    table: Table,
    writer_idx: usize,
    queue: BatchQueue<R>,
    settings: Arc<WriterSettings>,
    table_settings: TableWriteSettings,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
) -> Result<(), WriterError> {
    let mut writer = Writer::<R> {
        table,
        writer_idx,
        settings,
        table_settings,
        partitions,
        stats,
        stream,
        position: 0,
        connection: None,
        _rows: std::marker::PhantomData,
    };
    writer.connect(false).await?;
    loop {
        let batch = { queue.lock().await.recv().await };
        let Some(batch) = batch else { return Ok(()) };
        // The daemon's batches (no bookkeeping of their own) are counted as held from
        // their batcher until here, for the stop report.
        let from_batcher = batch.encoded.progress.is_none().then_some(batch.rows.len());
        writer.write(batch).await?;
        if let Some(rows) = from_batcher {
            writer.stats.batch_finished(table, rows);
        }
    }
}

impl<R: EncodeRow> Writer<R> {
    fn fatal(&self, message: String) -> WriterError {
        WriterError { table: self.table, writer_idx: self.writer_idx, message }
    }

    /// Connects, retrying with capped, jittered backoff until it succeeds or the
    /// failure is fatal. Re-reads the stream position on every connection.
    async fn connect(&mut self, reconnect: bool) -> Result<(), WriterError> {
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        loop {
            match self.try_connect().await {
                Ok(connection) => {
                    self.connection = Some(connection);
                    events::writer_connected(self.table, self.writer_idx, reconnect);
                    return Ok(());
                }
                Err(failure) if failure.kind == FailureKind::Retry => {
                    events::write_failed(self.table, self.writer_idx, "connect", &failure.message);
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(failure) => return Err(self.fatal(failure.message)),
            }
        }
    }

    async fn try_connect(&mut self) -> Result<Connection, Failure> {
        let client = db::connect(&self.settings.url, self.settings.connect_timeout).await?;
        db::verify_columns(&client, self.table).await?;
        let write_statement = match self.table_settings.mode {
            WriteMode::Copy | WriteMode::DirectCompress => copy_statement(self.table),
            WriteMode::Insert => insert_statement(self.table, &self.table_settings.conflict_key),
        };
        if self.table_settings.mode == WriteMode::DirectCompress {
            client.batch_execute(DIRECT_COMPRESS_SETTINGS).await?;
        }
        let write = client.prepare(&write_statement).await?;
        let advance_offset = client.prepare(ADVANCE_OFFSET).await?;
        let upsert_instruments = client.prepare(UPSERT_INSTRUMENTS).await?;
        let row = client.query_opt("SELECT position FROM ingest_offsets WHERE stream = $1", &[&self.stream]).await?;
        self.position = row.map_or(0, |row| row.get(0));
        let record_ranges = client.prepare(RECORD_SPOOL_RANGES).await?;
        let record_ids = client.prepare(RECORD_IDS).await?;
        let record_time_range = match self.table_settings.record_time_ranges {
            true => db::aggregates::prepare_tick_range_record(&client).await?,
            false => None,
        };
        Ok(Connection { client, write, advance_offset, upsert_instruments, record_ranges, record_ids, record_time_range })
    }

    /// The exactly-once commit loop every batch goes through, whatever its path: each
    /// attempt's transaction advances the writer's stream to the next position; a
    /// connection-level failure reconnects with backoff and reads the position back to
    /// learn whether the commit landed before the connection broke; a refusal of the
    /// rows' content (or an error repeating on this batch while the server answers,
    /// see [`RepeatGuard`]) ends the loop so the caller isolates the rows; a table that
    /// cannot take our rows stops the writer.
    async fn commit_loop<J: Job>(&mut self, slots: &[i64], job: &J) -> Result<Settled<J::Done>, WriterError> {
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        let mut guard = RepeatGuard::default();
        loop {
            let position = self.position + 1;
            let outcome = match connection_for(&mut self.connection, &self.partitions, self.table, slots).await {
                Ok(connection) => job.attempt(Attempt { connection, stream: &self.stream, position }).await,
                Err(failure) => Err(failure),
            };
            let mut failure = match outcome {
                Ok(value) => {
                    self.position = position;
                    return Ok(Settled::Committed(value));
                }
                Err(failure) => failure,
            };
            let kind = guard.judge(&mut failure);
            events::write_failed(self.table, self.writer_idx, kind.label(), &failure.message);
            match kind {
                FailureKind::Fatal => return Err(self.fatal(failure.message)),
                // The transaction was rolled back; the connection stays usable.
                FailureKind::Data => return Ok(Settled::Refused { escalated: guard.row_level_state().map(str::to_string), failure }),
                FailureKind::Retry => {
                    self.connection = None;
                    tokio::time::sleep(backoff.next_delay()).await;
                    self.connect(true).await?;
                    if self.position >= position {
                        return Ok(Settled::CommittedUnseen);
                    }
                }
            }
        }
    }

    async fn write(&mut self, batch: EncodedBatch<R>) -> Result<(), WriterError> {
        let EncodedBatch { rows, sequences, ids, encoded, spares } = batch;
        if let Some(progress) = encoded.progress.clone() {
            if let Some(claim) = &progress.bus {
                return self.write_bus(rows, sequences, ids, &encoded, claim).await;
            }
        }
        let written = self.write_plain(&rows, &sequences, &ids, &encoded).await;
        if let Some(spares) = spares {
            spares.give_back(rows, sequences, ids, encoded.bytes);
        }
        written
    }

    async fn write_plain(&mut self, rows: &[R], sequences: &[u64], ids: &[u128], encoded: &Encoded) -> Result<(), WriterError> {
        let ranges = if self.settings.spool.is_some() { sequence_ranges(sequences) } else { Vec::new() };
        let started = Instant::now();
        let job = PlainBatch { table: self.table, mode: self.table_settings.mode, encoded, ranges: &ranges, ids };
        let settled = self.commit_loop(&encoded.slots, &job).await?;
        match settled {
            Settled::Committed(skipped) => {
                if skipped > 0 {
                    events::rows_skipped_as_duplicates(self.table, skipped);
                }
                self.record_commit(rows, &ranges, started.elapsed());
                Ok(())
            }
            Settled::CommittedUnseen => {
                self.record_commit(rows, &ranges, started.elapsed());
                Ok(())
            }
            // The rows the server refuses are found and dead-lettered in one transaction
            // with the rest of the batch and its bookkeeping.
            Settled::Refused { failure, escalated } => {
                self.isolate_in_one_transaction(rows, sequences, ids, encoded, failure.message, escalated).await
            }
        }
    }

    fn record_commit(&self, rows: &[R], ranges: &[(u64, u64)], copy_time: Duration) {
        if let Some(progress) = &self.settings.spool {
            progress.committed(self.table.spool_stream(), ranges);
        }
        let oldest = self.stats.record_commit(self.table, rows.iter().map(EncodeRow::received_at), Timestamp::now());
        events::batch_committed(self.table, rows.len(), copy_time, oldest);
    }

    /// Insert mode's conflict clause, for the row-by-row isolation.
    fn conflict_clause(&self) -> String {
        match (self.table_settings.mode, self.table_settings.conflict_key.is_empty()) {
            (WriteMode::Insert, false) => {
                format!(" ON CONFLICT ({}) DO NOTHING", db::quote_identifiers(&self.table_settings.conflict_key))
            }
            _ => String::new(),
        }
    }
}

/// A batch sent whole: its rows, spool ranges, ids and bookkeeping in one transaction.
/// Done: how many rows insert mode skipped as already stored.
struct PlainBatch<'b> {
    table: Table,
    mode: WriteMode,
    encoded: &'b Encoded,
    ranges: &'b [(u64, u64)],
    ids: &'b [u128],
}

impl Job for PlainBatch<'_> {
    type Done = usize;
    fn attempt<'a>(&'a self, attempt: Attempt<'a>) -> impl std::future::Future<Output = Result<usize, Failure>> + Send + 'a {
        transaction::try_write(attempt, self)
    }
}

/// Capped exponential backoff with jitter (each delay is 50–100 % of the nominal one).
pub(super) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(super) fn new(initial: Duration, max: Duration) -> Self {
        Backoff { next: initial, max }
    }

    pub(super) fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(self.max);
        nominal.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// A writer's connection, once the partitions a batch's rows fall in (`slots`) exist.
async fn connection_for<'a>(
    connection: &'a mut Option<Connection>,
    partitions: &Partitions,
    table: Table,
    slots: &[i64],
) -> Result<&'a mut Connection, Failure> {
    let Some(connection) = connection.as_mut() else {
        return Err(Failure::retry("not connected"));
    };
    if !slots.is_empty() && !partitions.covers(table, slots) {
        partitions.ensure(&mut connection.client, table, slots).await?;
    }
    Ok(connection)
}
