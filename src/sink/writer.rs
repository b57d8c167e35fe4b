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

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::encoder::{copy_statement, EncodeRow};
use super::insert::{column_arrays, insert_statement, ColumnArray};
use super::failure::{classify, FailureKind};
use super::stage::{encode, BatchQueue, Encoded, EncodedBatch};
use crate::config::WriteMode;
use crate::db::{self, DbError, Partitions};
use crate::metrics::{events, Stats};
use crate::pipeline::LaneSender;
use crate::record::{DeadLetter, Instrument, Table, Timestamp};

/// Connection settings shared by every writer.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub url: String,
    pub connect_timeout: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

/// How one table's writers send rows.
#[derive(Debug, Clone, Default)]
pub struct TableWriteSettings {
    pub mode: WriteMode,
    /// Insert mode: skip rows whose key is already stored.
    pub conflict_key: Vec<String>,
}

/// A writer stopped for good: the table cannot take our rows.
#[derive(Debug, thiserror::Error)]
#[error("writer {writer_idx} of `{table}` stopped: {message}")]
pub struct WriterError {
    pub table: Table,
    pub writer_idx: usize,
    pub message: String,
}

/// The result of one batch after retries.
enum Outcome {
    Committed,
    /// The server refused the content; its message.
    Refused(String),
}

struct Failure {
    kind: FailureKind,
    message: String,
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        let message = match error.as_db_error() {
            Some(db_error) => {
                let context = db_error.where_().map(|context| format!(" ({context})")).unwrap_or_default();
                format!("{} [{}]{}", db_error.message(), db_error.code().code(), context)
            }
            None => error.to_string(),
        };
        Failure { kind: classify(&error), message }
    }
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        Failure { kind: error.failure_kind(), message: error.to_string() }
    }
}

struct Connection {
    client: Client,
    /// The COPY statement, or in insert mode the `INSERT … unnest` statement.
    write: Statement,
    advance_offset: Statement,
    upsert_instruments: Statement,
}

struct Writer<R: EncodeRow> {
    table: Table,
    writer_idx: usize,
    settings: Arc<WriterSettings>,
    table_settings: TableWriteSettings,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
    dead_letters: Option<LaneSender<DeadLetter>>,
    stream: String,
    position: i64,
    connection: Option<Connection>,
    _rows: std::marker::PhantomData<R>,
}

/// Runs one writer of `table` until its queue closes and is drained. Connects (and
/// checks the table's columns) before taking the first batch, so a schema mismatch
/// stops the daemon at start rather than at the first row.
#[allow(clippy::too_many_arguments)]
pub async fn run_writer<R: EncodeRow>(
    table: Table,
    writer_idx: usize,
    queue: BatchQueue<R>,
    settings: Arc<WriterSettings>,
    table_settings: TableWriteSettings,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
    dead_letters: Option<LaneSender<DeadLetter>>,
) -> Result<(), WriterError> {
    let mut writer = Writer::<R> {
        table,
        writer_idx,
        settings,
        table_settings,
        partitions,
        stats,
        dead_letters,
        stream: format!("{}/{}", table.name(), writer_idx),
        position: 0,
        connection: None,
        _rows: std::marker::PhantomData,
    };
    writer.connect(false).await?;
    loop {
        let batch = { queue.lock().await.recv().await };
        let Some(batch) = batch else { return Ok(()) };
        writer.write(batch).await?;
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
            WriteMode::Copy => copy_statement(self.table),
            WriteMode::Insert => insert_statement(self.table, &self.table_settings.conflict_key),
        };
        let write = client.prepare(&write_statement).await?;
        let advance_offset = client
            .prepare(
                "INSERT INTO ingest_offsets (stream, position) VALUES ($1, $2)
                 ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
            )
            .await?;
        let upsert_instruments = client
            .prepare(
                "INSERT INTO instruments AS known (venue, symbol, asset_class, underlying, expiration, strike, option_type)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::float8[], $7::text[])
                 ON CONFLICT (venue, symbol) DO UPDATE SET
                     asset_class = coalesce(known.asset_class, EXCLUDED.asset_class),
                     underlying = coalesce(known.underlying, EXCLUDED.underlying),
                     expiration = coalesce(known.expiration, EXCLUDED.expiration),
                     strike = coalesce(known.strike, EXCLUDED.strike),
                     option_type = coalesce(known.option_type, EXCLUDED.option_type),
                     updated_at = now()
                 -- Only rows that learn something are touched (and locked).
                 WHERE (known.asset_class IS NULL AND EXCLUDED.asset_class IS NOT NULL)
                    OR (known.underlying IS NULL AND EXCLUDED.underlying IS NOT NULL)",
            )
            .await?;
        let row = client.query_opt("SELECT position FROM ingest_offsets WHERE stream = $1", &[&self.stream]).await?;
        self.position = row.map_or(0, |row| row.get(0));
        Ok(Connection { client, write, advance_offset, upsert_instruments })
    }

    async fn write(&mut self, batch: EncodedBatch<R>) -> Result<(), WriterError> {
        let EncodedBatch { rows, encoded } = batch;
        match self.write_with_retry(&rows, &encoded).await? {
            Outcome::Committed => Ok(()),
            Outcome::Refused(message) => self.isolate_refused_rows(rows, &encoded, message).await,
        }
    }

    /// Sends one batch until it is committed or refused for its content.
    async fn write_with_retry(&mut self, rows: &[R], encoded: &Encoded) -> Result<Outcome, WriterError> {
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        loop {
            let attempt_position = self.position + 1;
            let started = Instant::now();
            let failure = match self.try_write(encoded, attempt_position).await {
                Ok(()) => {
                    self.position = attempt_position;
                    self.record_commit(rows, started.elapsed());
                    return Ok(Outcome::Committed);
                }
                Err(failure) => failure,
            };
            events::write_failed(self.table, self.writer_idx, failure.kind.label(), &failure.message);
            match failure.kind {
                FailureKind::Fatal => return Err(self.fatal(failure.message)),
                FailureKind::Data => {
                    // The transaction was rolled back; the connection stays usable.
                    return Ok(Outcome::Refused(failure.message));
                }
                FailureKind::Retry => {
                    self.connection = None;
                    tokio::time::sleep(backoff.next_delay()).await;
                    self.connect(true).await?;
                    if self.position >= attempt_position {
                        // The commit landed before the connection broke.
                        self.record_commit(rows, started.elapsed());
                        return Ok(Outcome::Committed);
                    }
                }
            }
        }
    }

    async fn try_write(&mut self, encoded: &Encoded, position: i64) -> Result<(), Failure> {
        let Some(connection) = self.connection.as_mut() else {
            return Err(Failure { kind: FailureKind::Retry, message: "not connected".into() });
        };
        let slots = &encoded.slots;
        if !slots.is_empty() && !self.partitions.covers(self.table, slots) {
            self.partitions.ensure(&mut connection.client, self.table, slots).await?;
        }
        let mut skipped = 0;
        let transaction = connection.client.transaction().await?;
        if !encoded.new_instruments.is_empty() {
            upsert_instruments(&transaction, &connection.upsert_instruments, &encoded.new_instruments).await?;
        }
        match self.table_settings.mode {
            WriteMode::Copy => {
                let sink = transaction.copy_in::<_, Bytes>(&connection.write).await?;
                futures_util::pin_mut!(sink);
                sink.send(encoded.bytes.clone()).await?;
                sink.finish().await?;
            }
            WriteMode::Insert => {
                let arrays = column_arrays(self.table, &encoded.bytes);
                let parameters: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(|array| array as &(dyn ToSql + Sync)).collect();
                let inserted = transaction.execute(&connection.write, &parameters).await?;
                let rows = arrays.first().map_or(0, ColumnArray::len);
                skipped = rows.saturating_sub(inserted as usize);
            }
        }
        transaction.execute(&connection.advance_offset, &[&self.stream, &position]).await?;
        transaction.commit().await?;
        if skipped > 0 {
            events::rows_skipped_as_duplicates(self.table, skipped);
        }
        Ok(())
    }

    fn record_commit(&self, rows: &[R], copy_time: Duration) {
        let oldest = self.stats.record_commit(self.table, rows.iter().map(EncodeRow::received_at), Timestamp::now());
        events::batch_committed(self.table, rows.len(), copy_time, oldest);
    }

    /// Splits a refused batch in halves, commits every half the server accepts, and
    /// dead-letters each single row it still refuses.
    async fn isolate_refused_rows(&mut self, rows: Vec<R>, whole: &Encoded, message: String) -> Result<(), WriterError> {
        let mut bytes_per_row_estimate = whole.bytes.len() / rows.len().max(1) + 8;
        let mut pending: Vec<(Vec<R>, String)> = vec![(rows, message)];
        while let Some((mut part, message)) = pending.pop() {
            if part.len() == 1 {
                self.dead_letter_row(&part[0], &message).await;
                continue;
            }
            let second = part.split_off(part.len() / 2);
            for half in [part, second] {
                let mut encoded = encode(self.table, &self.partitions, &half, &mut bytes_per_row_estimate);
                // Every half carries the batch's new instruments; the upsert is idempotent.
                encoded.new_instruments = whole.new_instruments.clone();
                match self.write_with_retry(&half, &encoded).await? {
                    Outcome::Committed => {}
                    Outcome::Refused(message) => pending.push((half, message)),
                }
            }
        }
        Ok(())
    }

    async fn dead_letter_row(&self, row: &R, message: &str) {
        let letter = DeadLetter::new(
            self.table.name(),
            "rejected_by_database",
            format!("table `{}`: {message}", self.table),
            &row.dead_letter_raw(),
        );
        events::dead_lettered(&letter);
        match &self.dead_letters {
            Some(lane) => {
                if let Err(error) = lane.send(letter.clone()).await {
                    events::dead_letter_unqueued(&letter, &error);
                }
            }
            // The dead-letter writer's own refused rows can only go to the log.
            None => events::dead_letter_unqueued(&letter, &crate::pipeline::SendError::Closed),
        }
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

async fn upsert_instruments(
    transaction: &tokio_postgres::Transaction<'_>,
    statement: &Statement,
    instruments: &[Instrument],
) -> Result<u64, tokio_postgres::Error> {
    let venues: Vec<&str> = instruments.iter().map(|known| known.venue.as_str()).collect();
    let symbols: Vec<&str> = instruments.iter().map(|known| known.symbol.as_str()).collect();
    let asset_classes: Vec<Option<&str>> = instruments.iter().map(|known| known.asset_class).collect();
    let underlyings: Vec<Option<&str>> = instruments.iter().map(|known| known.underlying.as_deref()).collect();
    let expirations: Vec<Option<chrono::NaiveDate>> = instruments.iter().map(|known| known.expiration).collect();
    let strikes: Vec<Option<f64>> = instruments.iter().map(|known| known.strike).collect();
    let option_types: Vec<Option<&str>> =
        instruments.iter().map(|known| known.option_type.map(|kind| kind.as_str())).collect();
    transaction
        .execute(statement, &[&venues, &symbols, &asset_classes, &underlyings, &expirations, &strikes, &option_types])
        .await
}
