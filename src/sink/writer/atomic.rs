//! Sending a batch's rows inside its transaction, and what a batch that carries
//! bookkeeping (a file import's chunk marks and bad lines, [`BatchProgress`]) commits
//! with them.
//!
//! Such a batch commits whole. When the database refuses some of its rows, they are
//! found inside one transaction: halves are sent under savepoints, a refused half is
//! rolled back to its savepoint and split again until each refused row is alone; those
//! rows are dead-lettered in the same transaction, which then records the bookkeeping
//! and commits. Rows, dead letters and marks land together or not at all, so a resumed
//! import never sends a chunk twice.

use std::time::Instant;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Statement, Transaction};

use super::{connection_for, record_ids, record_spool_ranges, upsert_instruments, Backoff, Failure, Writer, WriterError};
use crate::config::WriteMode;
use crate::metrics::events;
use crate::record::{DeadLetter, Table, Timestamp};
use crate::sink::encoder::EncodeRow;
use crate::sink::failure::{classify, FailureKind};
use crate::sink::insert::{column_arrays, ColumnArray};
use crate::sink::encoder::encode_row_refs;
use crate::sink::stage::{BatchProgress, Encoded};
use crate::spool::sequence_ranges;

/// Sends encoded rows in `transaction`, by COPY or in insert mode; returns how many
/// rows insert mode skipped as already stored.
pub(super) async fn send_rows(
    transaction: &Transaction<'_>,
    write: &Statement,
    table: Table,
    mode: WriteMode,
    bytes: &Bytes,
) -> Result<usize, tokio_postgres::Error> {
    match mode {
        WriteMode::Copy => {
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

/// Sends `rows[indices[start..end]]` for each pending `(start, end)`, each part under a
/// savepoint; a part the server refuses for its content is rolled back and halved
/// until each refused row is alone. Returns the accepted rows' indices and each
/// refused row's index with the server's message. `encoded_whole`, when the caller has
/// it, is the encoding of every row of `indices`: a part covering them all is sent as
/// it is rather than encoded again.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send_isolating<R: EncodeRow>(
    transaction: &mut Transaction<'_>,
    write: &Statement,
    table: Table,
    mode: WriteMode,
    rows: &[R],
    indices: &[usize],
    mut pending: Vec<(usize, usize)>,
    encoded_whole: Option<&Bytes>,
) -> Result<(Vec<usize>, Vec<(usize, String)>), tokio_postgres::Error> {
    let mut accepted = Vec::with_capacity(indices.len());
    let mut refused = Vec::new();
    while let Some((start, end)) = pending.pop() {
        let part = match encoded_whole {
            Some(whole) if start == 0 && end == indices.len() => whole.clone(),
            _ => {
                let mut part = bytes::BytesMut::new();
                encode_row_refs(indices[start..end].iter().map(|index| &rows[*index]), &mut part);
                part.freeze()
            }
        };
        let savepoint = transaction.savepoint("isolate").await?;
        match send_rows(&savepoint, write, table, mode, &part).await {
            Ok(_) => {
                savepoint.commit().await?;
                accepted.extend_from_slice(&indices[start..end]);
            }
            Err(error) if classify(&error) == FailureKind::Data => {
                let refusal = Failure::from(error).message;
                savepoint.rollback().await?;
                if end - start == 1 {
                    refused.push((indices[start], refusal));
                } else {
                    let middle = start + (end - start) / 2;
                    pending.push((middle, end));
                    pending.push((start, middle));
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok((accepted, refused))
}

/// Writes a batch's bookkeeping in its transaction.
pub(super) async fn record_progress(
    transaction: &Transaction<'_>,
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

pub(super) async fn insert_dead_letters(transaction: &Transaction<'_>, letters: &[DeadLetter]) -> Result<(), tokio_postgres::Error> {
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
    /// Commits a batch carrying bookkeeping whose rows the database refused in part
    /// (`message` says why the whole was refused), retrying after lost connections.
    pub(super) async fn isolate_in_one_transaction(
        &mut self,
        rows: &[R],
        sequences: &[u64],
        ids: &[u128],
        whole: &Encoded,
        message: String,
    ) -> Result<(), WriterError> {
        let ranges = if self.settings.spool.is_some() { sequence_ranges(sequences) } else { Vec::new() };
        let mut backoff = Backoff::new(self.settings.initial_backoff, self.settings.max_backoff);
        loop {
            let attempt_position = self.position + 1;
            let started = Instant::now();
            let failure = match self.try_isolate(rows, whole, &message, &ranges, ids, attempt_position).await {
                Ok(refused) => {
                    self.position = attempt_position;
                    for (_, letter) in &refused {
                        events::dead_lettered(letter);
                    }
                    let accepted = rows.iter().enumerate().filter(|(index, _)| !refused.iter().any(|(refused, _)| refused == index));
                    if let Some(progress) = &self.settings.spool {
                        progress.committed(self.table.spool_stream(), &ranges);
                    }
                    let accepted_rows = rows.len() - refused.len();
                    let oldest = self.stats.record_commit(self.table, accepted.map(|(_, row)| row.received_at()), Timestamp::now());
                    events::batch_committed(self.table, accepted_rows, started.elapsed(), oldest);
                    return Ok(());
                }
                Err(failure) => failure,
            };
            events::write_failed(self.table, self.writer_idx, failure.kind.label(), &failure.message);
            match failure.kind {
                FailureKind::Retry => {
                    self.connection = None;
                    tokio::time::sleep(backoff.next_delay()).await;
                    self.connect(true).await?;
                    if self.position >= attempt_position {
                        // The commit landed before the connection broke.
                        return Ok(());
                    }
                }
                // Refused outside the rows (the dead letters or the bookkeeping itself):
                // nothing of the batch can be committed without it.
                FailureKind::Data | FailureKind::Fatal => return Err(self.fatal(failure.message)),
            }
        }
    }

    /// One attempt: returns the refused rows' indices and dead letters, committed.
    async fn try_isolate(
        &mut self,
        rows: &[R],
        whole: &Encoded,
        message: &str,
        ranges: &[(u64, u64)],
        ids: &[u128],
        position: i64,
    ) -> Result<Vec<(usize, DeadLetter)>, Failure> {
        let table = self.table;
        let mode = self.table_settings.mode;
        let connection = connection_for(&mut self.connection, &self.partitions, table, &whole.slots).await?;
        let mut transaction = connection.client.transaction().await?;
        if !whole.new_instruments.is_empty() {
            upsert_instruments(&transaction, &connection.upsert_instruments, &whole.new_instruments).await?;
        }
        // The whole was refused already: start from its halves (a single row is refused).
        let all: Vec<usize> = (0..rows.len()).collect();
        let (_, refused) = if rows.len() <= 1 {
            (Vec::new(), (0..rows.len()).map(|index| (index, message.to_string())).collect())
        } else {
            let halves = vec![(rows.len() / 2, rows.len()), (0, rows.len() / 2)];
            send_isolating(&mut transaction, &connection.write, table, mode, rows, &all, halves, None).await?
        };
        let letters: Vec<(usize, DeadLetter)> = refused
            .into_iter()
            .map(|(index, refusal)| {
                let detail = format!("table `{table}`: {refusal}");
                (index, DeadLetter::new(table.name(), "rejected_by_database", detail, &rows[index].dead_letter_raw()))
            })
            .collect();
        let only_letters: Vec<DeadLetter> = letters.iter().map(|(_, letter)| letter.clone()).collect();
        insert_dead_letters(&transaction, &only_letters).await?;
        record_spool_ranges(&transaction, &connection.record_ranges, table, ranges).await?;
        record_ids(&transaction, &connection.record_ids, ids).await?;
        if let Some(progress) = &whole.progress {
            record_progress(&transaction, &connection.advance_offset, progress).await?;
        }
        transaction.execute(&connection.advance_offset, &[&self.stream, &position]).await?;
        transaction.commit().await?;
        Ok(letters)
    }
}
