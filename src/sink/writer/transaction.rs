//! Sending a batch's rows inside its transaction, and what a batch that carries
//! bookkeeping (a file import's chunk marks and bad lines, [`BatchProgress`]) commits
//! with them.
//!
//! Every batch commits whole. When the database refuses some of its rows, they are
//! found inside one transaction (`isolate`) and dead-lettered in it, and the
//! transaction then records the bookkeeping and commits. Rows, dead letters, spool
//! ranges and marks land together or not at all, so a resumed import never sends a
//! chunk twice and a refused spooled row never holds the spool back.

use std::collections::HashSet;
use std::time::Instant;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::{
    record_ids, record_spool_ranges, send_isolating, upsert_instruments, Attempt, Job, PlainBatch, Settled, Target, Writer, WriterError,
};
use crate::config::WriteMode;
use crate::metrics::events;
use crate::record::{DeadLetter, Table, Timestamp};
use crate::sink::encoder::EncodeRow;
use crate::sink::failure::Failure;
use crate::sink::insert::{column_arrays, ColumnArray};
use crate::sink::stage::{BatchProgress, Encoded};
use crate::spool::sequence_ranges;

/// Sends encoded rows in `transaction`, by COPY or in insert mode; returns how many
/// rows insert mode skipped as already stored.
pub(in crate::sink) async fn send_rows(
    transaction: &Client,
    write: &Statement,
    table: Table,
    mode: WriteMode,
    bytes: &Bytes,
) -> Result<usize, tokio_postgres::Error> {
    match mode {
        WriteMode::Copy | WriteMode::DirectCompress => {
            let sink = transaction.copy_in::<_, Bytes>(write).await?;
            futures_util::pin_mut!(sink);
            sink.send(bytes.clone()).await?;
            sink.finish().await?;
            Ok(0)
        }
        WriteMode::Insert => {
            let arrays = column_arrays(table, bytes);
            let parameters: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(|array| array as &(dyn ToSql + Sync)).collect();
            let inserted = transaction.execute(write, &parameters).await?;
            let rows = arrays.first().map_or(0, ColumnArray::len);
            Ok(rows.saturating_sub(inserted as usize))
        }
    }
}

/// Writes a batch's bookkeeping in its transaction.
pub(super) async fn record_progress(
    transaction: &Client,
    advance_offset: &Statement,
    progress: &BatchProgress,
) -> Result<(), tokio_postgres::Error> {
    if progress.commit_asynchronously {
        transaction.batch_execute("SET LOCAL synchronous_commit = off").await?;
    }
    for (stream, position) in &progress.offsets {
        transaction.execute(advance_offset, &[stream, position]).await?;
    }
    insert_dead_letters(transaction, &progress.dead_letters).await
}

const INSERT_DEAD_LETTERS: &str = "INSERT INTO dead_letters (received_at, source, reason, detail, raw)
     SELECT 'epoch'::timestamptz + received * interval '1 microsecond', source, reason, detail, raw
       FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) AS letters(received, source, reason, detail, raw)";

pub(in crate::sink) async fn insert_dead_letters(transaction: &Client, letters: &[DeadLetter]) -> Result<(), tokio_postgres::Error> {
    if letters.is_empty() {
        return Ok(());
    }
    let received: Vec<i64> = letters.iter().map(|letter| letter.received_at.micros()).collect();
    let sources: Vec<&str> = letters.iter().map(|letter| letter.source.as_str()).collect();
    let reasons: Vec<&str> = letters.iter().map(|letter| letter.reason).collect();
    let details: Vec<&str> = letters.iter().map(|letter| letter.detail.as_str()).collect();
    let raws: Vec<&str> = letters.iter().map(|letter| letter.raw.as_str()).collect();
    transaction.execute(INSERT_DEAD_LETTERS, &[&received, &sources, &reasons, &details, &raws]).await.map(|_| ())
}

impl<R: EncodeRow> Writer<R> {
    /// Commits a batch whose rows the database refused in part (`message` says why the
    /// whole was refused): the refused rows are found and dead-lettered in one
    /// transaction with every other row and the batch's bookkeeping (spool ranges, ids,
    /// an import's marks), retrying after lost connections. A refused spooled row is
    /// settled by its dead letter, so the spool can let go of it.
    pub(super) async fn isolate_in_one_transaction(
        &mut self,
        rows: &[R],
        sequences: &[u64],
        ids: &[u128],
        whole: &Encoded,
        message: String,
        escalated: Option<String>,
    ) -> Result<(), WriterError> {
        let started = Instant::now();
        let ranges = if self.settings.spool.is_some() { sequence_ranges(sequences) } else { Vec::new() };
        let ranges = ranges.as_slice();
        let conflict_clause = self.conflict_clause();
        let target = Target {
            table: self.table,
            mode: self.table_settings.mode,
            conflict_clause: &conflict_clause,
            escalated: escalated.as_deref(),
        };
        let job = IsolatedBatch { target, rows, whole, message: &message, ranges, ids };
        let settled = self.commit_loop(&whole.slots, &job).await?;
        let refused = match settled {
            Settled::Committed(refused) => refused,
            Settled::CommittedUnseen => Vec::new(),
            // Refused outside the rows (the dead letters or the bookkeeping itself):
            // nothing of the batch can be committed without it.
            Settled::Refused { failure, .. } => return Err(self.fatal(failure.message)),
        };
        if let Some(progress) = &self.settings.spool {
            // Before the commit is reported: `committed` acks waiting for these rows
            // list them as rejected, with the database's reason.
            let stream = self.table.spool_stream();
            progress.refused(
                stream,
                refused.iter().map(|(index, letter)| (sequences.get(*index).copied().unwrap_or(0), letter.detail.clone())),
            );
            progress.committed(stream, ranges);
        }
        let refused_indices: HashSet<usize> = refused.iter().map(|(index, _)| *index).collect();
        let accepted = rows.iter().enumerate().filter(|(index, _)| !refused_indices.contains(index)).map(|(_, row)| row.received_at());
        let oldest = self.stats.record_commit(self.table, accepted, Timestamp::now());
        events::batch_committed(self.table, rows.len() - refused_indices.len(), started.elapsed(), oldest);
        events::rows_isolated(self.table, rows.len(), refused.len(), started.elapsed());
        for (_, letter) in &refused {
            events::dead_lettered(letter);
        }
        Ok(())
    }
}

/// A refused batch taken apart in one transaction. Done: the refused rows' indices
/// and their dead letters, committed.
struct IsolatedBatch<'b, R> {
    target: Target<'b>,
    rows: &'b [R],
    whole: &'b Encoded,
    /// Why the whole was refused.
    message: &'b str,
    ranges: &'b [(u64, u64)],
    ids: &'b [u128],
}

impl<R: EncodeRow> Job for IsolatedBatch<'_, R> {
    type Done = Vec<(usize, DeadLetter)>;
    fn attempt<'a>(&'a self, attempt: Attempt<'a>) -> impl std::future::Future<Output = Result<Self::Done, Failure>> + Send + 'a {
        try_isolate(attempt, self)
    }
}

async fn try_isolate<R: EncodeRow>(attempt: Attempt<'_>, job: &IsolatedBatch<'_, R>) -> Result<Vec<(usize, DeadLetter)>, Failure> {
    let IsolatedBatch { ref target, rows, whole, message, ranges, ids } = *job;
    let Attempt { connection, stream, position } = attempt;
    let table = target.table;
    let mut transaction = connection.client.transaction().await?;
    if !whole.new_instruments.is_empty() {
        upsert_instruments(transaction.client(), &connection.upsert_instruments, &whole.new_instruments).await?;
    }
    // The whole was refused already: start from its halves (a single row is refused).
    let all: Vec<usize> = (0..rows.len()).collect();
    let (_, refused) = if rows.len() <= 1 {
        (Vec::new(), (0..rows.len()).map(|index| (index, message.to_string())).collect())
    } else {
        let halves = vec![(rows.len() / 2, rows.len()), (0, rows.len() / 2)];
        send_isolating(&mut transaction, &connection.write, target, rows, &all, halves, None).await?
    };
    let letters: Vec<(usize, DeadLetter)> = refused
        .into_iter()
        .map(|(index, refusal)| {
            let detail = format!("table `{table}`: {refusal}");
            (index, DeadLetter::new(table.name(), "rejected_by_database", detail, &rows[index].dead_letter_raw()))
        })
        .collect();
    let session = transaction.client();
    insert_refused(session, table, letters.iter().map(|(_, letter)| letter)).await?;
    record_spool_ranges(session, &connection.record_ranges, table, ranges).await?;
    record_ids(session, &connection.record_ids, ids).await?;
    if let Some(progress) = &whole.progress {
        record_progress(session, &connection.advance_offset, progress).await?;
    }
    let closing = Closing { advance_offset: &connection.advance_offset, record_time_range: connection.record_time_range.as_ref() };
    closing.commit(transaction, stream, position, whole).await?;
    Ok(letters)
}

/// Stores the dead letters of refused rows in the batch's transaction. Rows that
/// `dead_letters` itself refused cannot go back into it: they go to the log, sampled.
pub(super) async fn insert_refused<'a>(
    transaction: &Client,
    table: Table,
    letters: impl Iterator<Item = &'a DeadLetter>,
) -> Result<(), tokio_postgres::Error> {
    let letters: Vec<DeadLetter> = letters.cloned().collect();
    if table == Table::DeadLetters {
        for letter in &letters {
            events::dead_letter_unqueued(letter, &"refused by the dead_letters table itself");
        }
        return Ok(());
    }
    insert_dead_letters(transaction, &letters).await
}

/// One attempt at a batch sent whole: instruments, rows, bookkeeping and the writer's
/// stream position in one transaction; how many rows insert mode skipped.
///
/// A writer's server waits for the next statement at every round trip of a batch's
/// transaction, so the statements go out in as few flights as the protocol allows:
/// BEGIN, the batch's time range and stream position, and the COPY statement in one;
/// the rows, the end of the COPY and COMMIT in the next. What only some batches carry
/// (new instruments, spool ranges, ids, an import's progress) goes between BEGIN and the
/// COPY, one statement after another.
pub(super) async fn try_write(attempt: Attempt<'_>, job: &PlainBatch<'_>) -> Result<usize, Failure> {
    let PlainBatch { table, mode, encoded, ranges, ids } = *job;
    let Attempt { connection, stream, position } = attempt;
    let session = &connection.client;
    let closing = Closing { advance_offset: &connection.advance_offset, record_time_range: connection.record_time_range.as_ref() };
    let written = async {
        // BEGIN goes out with the batch's first statement instead of a round trip ahead
        // of it. That statement cannot run outside the transaction: BEGIN fails only where
        // the statement after it fails too (an aborted transaction, a lost connection).
        let begin = session.batch_execute("BEGIN");
        let opened = async {
            if !encoded.new_instruments.is_empty() {
                upsert_instruments(session, &connection.upsert_instruments, &encoded.new_instruments).await?;
            }
            record_spool_ranges(session, &connection.record_ranges, table, ranges).await?;
            record_ids(session, &connection.record_ids, ids).await?;
            if let Some(progress) = &encoded.progress {
                record_progress(session, &connection.advance_offset, progress).await?;
            }
            // `record` sends all its statements when first polled, so they are queued
            // ahead of the COPY, which holds the connection until its rows end.
            let (recorded, rows) = futures_util::future::join(
                closing.record(session, stream, position, encoded),
                open_rows(session, &connection.write, table, mode, &encoded.bytes),
            )
            .await;
            recorded?;
            rows
        };
        let (begun, rows) = futures_util::future::join(begin, opened).await;
        begun?;
        rows?.commit(session).await
    }
    .await;
    if written.is_err() {
        // The connection stays in use after a refusal: it must leave the failed
        // transaction (where the connection is lost, this fails too, and it is replaced).
        let _ = session.batch_execute("ROLLBACK").await;
    }
    Ok(written?)
}

/// A batch's rows on their way, in an open transaction.
enum OpenRows {
    /// A COPY under way: its statement was answered, its rows are sent.
    Copy(std::pin::Pin<Box<tokio_postgres::CopyInSink<Bytes>>>),
    /// Inserted already; how many rows were skipped as stored.
    Inserted(usize),
}

/// Starts the batch's rows: a COPY's rows sent (not yet ended), or the insert done.
async fn open_rows(
    session: &Client,
    write: &Statement,
    table: Table,
    mode: WriteMode,
    bytes: &Bytes,
) -> Result<OpenRows, tokio_postgres::Error> {
    match mode {
        WriteMode::Copy | WriteMode::DirectCompress => {
            let mut sink = Box::pin(session.copy_in::<_, Bytes>(write).await?);
            sink.send(bytes.clone()).await?;
            Ok(OpenRows::Copy(sink))
        }
        WriteMode::Insert => Ok(OpenRows::Inserted(send_rows(session, write, table, mode, bytes).await?)),
    }
}

impl OpenRows {
    /// Ends the rows and commits; how many rows insert mode skipped. COMMIT is sent with
    /// the end of the COPY: the client sends a COPY's messages before any later request,
    /// and a COPY the server refused leaves the transaction failed, where COMMIT rolls it
    /// back (the refusal is what this returns).
    async fn commit(self, session: &Client) -> Result<usize, tokio_postgres::Error> {
        match self {
            OpenRows::Copy(mut sink) => {
                let (ended, committed) = futures_util::future::join(sink.as_mut().finish(), session.batch_execute("COMMIT")).await;
                ended?;
                committed?;
                Ok(0)
            }
            OpenRows::Inserted(skipped) => {
                session.batch_execute("COMMIT").await?;
                Ok(skipped)
            }
        }
    }
}

/// The end of every batch's transaction, whatever its path (whole, isolated, from the
/// bus): the batch's time range for the OHLCV aggregates where they are kept
/// incrementally, the writer's stream advanced, the commit. The ranges are the whole
/// batch's even when some rows were refused or left out: recomputing a bucket that did
/// not change costs a little and is harmless.
pub(super) struct Closing<'a> {
    pub(super) advance_offset: &'a Statement,
    pub(super) record_time_range: Option<&'a Statement>,
}

impl Closing<'_> {
    /// The batch's time range and the stream's position, in the transaction open on `session`.
    /// Both statements are sent when this is first polled (`try_write` relies on it).
    async fn record(&self, session: &Client, stream: &str, position: i64, encoded: &Encoded) -> Result<(), tokio_postgres::Error> {
        let (lows, highs): (Vec<i64>, Vec<i64>) = encoded.time_ranges.iter().copied().unzip();
        let time_range = async {
            match self.record_time_range.filter(|_| !lows.is_empty()) {
                Some(statement) => session.execute(statement, &[&lows, &highs]).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let (ranged, advanced) = futures_util::future::join(time_range, session.execute(self.advance_offset, &[&stream, &position])).await;
        ranged?;
        advanced?;
        Ok(())
    }

    pub(super) async fn commit(
        &self,
        transaction: tokio_postgres::Transaction<'_>,
        stream: &str,
        position: i64,
        encoded: &Encoded,
    ) -> Result<(), tokio_postgres::Error> {
        self.record(transaction.client(), stream, position, encoded).await?;
        transaction.commit().await
    }
}
