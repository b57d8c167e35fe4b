//! A batch of bus messages, committed exactly once although several writers (in
//! several processes) share the stream's consumers and a message may be delivered
//! again: after a writer died between its commit and its ack, after the ack wait ran
//! out, or after the NATS server restarted.
//!
//! Inside the batch's transaction, before any row is sent:
//! 1. the messages' stream sequences are inserted into `ingest_bus_messages` with
//!    `ON CONFLICT DO NOTHING RETURNING`; a sequence not returned was claimed by a
//!    committed transaction (a concurrent claim waits for that transaction to end), and
//!    one at or below the stream's folded watermark (`ingest_offsets` `bus/<key>`) was
//!    committed before it was folded. Those messages' rows are left out.
//! 2. the remaining rows' ids go into `ingest_ids` the same way: a row whose id is
//!    already stored is a resend (a producer that lost its ack and pushed again, maybe
//!    to another edge) and is left out too.
//!
//! The rest is sent under a savepoint; rows the database refuses are found by halving
//! under savepoints and dead-lettered in the same transaction, which then commits. The
//! messages are acked only after that commit.

use std::collections::HashSet;
use std::time::Instant;

use tokio_postgres::Transaction;

use super::transaction::{insert_refused, Closing};
use super::{send_isolating, Attempt, Job, Settled, Target, Writer, WriterError};
use crate::metrics::events;
use crate::record::{DeadLetter, Timestamp};
use crate::sink::encoder::EncodeRow;
use crate::sink::failure::Failure;
use crate::sink::instruments::upsert_instruments;
use crate::sink::stage::{BusClaim, Encoded};

const CLAIM_MESSAGES: &str = "INSERT INTO ingest_bus_messages (stream, sequence)
     SELECT $1, sequence FROM unnest($2::int8[]) AS claimed(sequence)
     ON CONFLICT DO NOTHING RETURNING sequence";

const CLAIM_IDS: &str = "INSERT INTO ingest_ids (key_high, key_low)
     SELECT * FROM unnest($1::int8[], $2::int8[]) ON CONFLICT DO NOTHING RETURNING key_high, key_low";

/// What one committed attempt did.
struct Committed {
    /// Rows sent and accepted.
    accepted: Vec<usize>,
    letters: Vec<DeadLetter>,
    /// Messages found committed before.
    superseded: usize,
    /// Rows left out as resends of stored ids.
    resent: usize,
}

/// The `ingest_offsets` stream holding a bus stream's folded watermark.
pub fn watermark_stream(stream_key: &str) -> String {
    format!("bus/{stream_key}")
}

impl<R: EncodeRow> Writer<R> {
    /// Commits a batch of bus messages (see the module doc), retrying after lost
    /// connections; then reports its messages committed.
    pub(super) async fn write_bus(
        &mut self,
        rows: Vec<R>,
        sequences: Vec<u64>,
        ids: Vec<u128>,
        whole: &Encoded,
        claim: &BusClaim,
    ) -> Result<(), WriterError> {
        let started = Instant::now();
        let conflict_clause = self.conflict_clause();
        let (table, mode) = (self.table, self.table_settings.mode);
        // An error repeating on this batch while the server answers is, from the
        // first attempt after it, taken as the refusal of the row that raises it.
        let mut escalated: Option<String> = None;
        loop {
            let target = Target { table, mode, conflict_clause: &conflict_clause, escalated: escalated.as_deref() };
            let job = BusBatch { target, rows: &rows, sequences: &sequences, ids: &ids, whole, claim };
            let settled = self.commit_loop(&whole.slots, &job).await?;
            match settled {
                Settled::Committed(done) => {
                    for letter in &done.letters {
                        events::dead_lettered(letter);
                    }
                    let accepted = done.accepted.iter().map(|index| rows[*index].received_at());
                    let oldest = self.stats.record_commit(self.table, accepted, Timestamp::now());
                    events::batch_committed(self.table, done.accepted.len(), started.elapsed(), oldest);
                    events::bus_batch_committed(self.table, claim.messages.len(), done.superseded, done.resent);
                }
                // The offset says a commit landed while the connection broke, but writers
                // in other processes share it: attempt again, and the claims leave out
                // whatever did land.
                Settled::CommittedUnseen => continue,
                Settled::Refused { escalated: Some(state), .. } if escalated.is_none() => {
                    escalated = Some(state);
                    continue;
                }
                // Refused outside the rows (claims, dead letters): nothing of the batch
                // can be committed without them.
                Settled::Refused { failure, .. } => return Err(self.fatal(failure.message)),
            }
            let _ = claim.committed.send(claim.messages.clone());
            return Ok(());
        }
    }
}

/// Claims a batch's messages in `transaction` (step 1 of the module doc); returns those
/// that are fresh: claimed now and above the stream's folded watermark. The others
/// were committed before and their rows are left out.
pub(crate) async fn claim_messages(transaction: &Transaction<'_>, claim: &BusClaim) -> Result<HashSet<u64>, tokio_postgres::Error> {
    let wanted: Vec<i64> = claim.messages.iter().map(|sequence| *sequence as i64).collect();
    let claimed: HashSet<u64> =
        transaction.query(CLAIM_MESSAGES, &[&claim.stream_key, &wanted]).await?.iter().map(|row| row.get::<_, i64>(0) as u64).collect();
    let watermark = transaction
        .query_opt("SELECT position FROM ingest_offsets WHERE stream = $1", &[&watermark_stream(&claim.stream_key)])
        .await?
        .map_or(0, |row| row.get::<_, i64>(0) as u64);
    Ok(claimed.into_iter().filter(|sequence| *sequence > watermark).collect())
}

/// Claims the ids of the rows still kept (step 2 of the module doc): a row whose id is
/// stored already is a resend and no longer kept. Returns how many were.
pub(crate) async fn claim_ids(transaction: &Transaction<'_>, ids: &[u128], keep: &mut [bool]) -> Result<usize, tokio_postgres::Error> {
    let (highs, lows): (Vec<i64>, Vec<i64>) = ids
        .iter()
        .zip(keep.iter())
        .filter(|(id, kept)| **id != 0 && **kept)
        .map(|(id, _)| ((*id >> 64) as u64 as i64, *id as u64 as i64))
        .unzip();
    let mut resent = 0;
    if !highs.is_empty() {
        let mut stored: HashSet<u128> = transaction
            .query(CLAIM_IDS, &[&highs, &lows])
            .await?
            .iter()
            .map(|row| (u128::from(row.get::<_, i64>(0) as u64) << 64) | u128::from(row.get::<_, i64>(1) as u64))
            .collect();
        for (id, kept) in ids.iter().zip(keep.iter_mut()) {
            // The first row carrying a newly stored id stays; any other is a resend.
            if *id != 0 && *kept && !stored.remove(id) {
                *kept = false;
                resent += 1;
            }
        }
    }
    Ok(resent)
}

/// A batch of bus messages: claims, rows, refused rows' dead letters in one transaction.
struct BusBatch<'b, R> {
    target: Target<'b>,
    rows: &'b [R],
    sequences: &'b [u64],
    ids: &'b [u128],
    whole: &'b Encoded,
    claim: &'b BusClaim,
}

impl<R: EncodeRow> Job for BusBatch<'_, R> {
    type Done = Committed;
    fn attempt<'a>(&'a self, attempt: Attempt<'a>) -> impl std::future::Future<Output = Result<Committed, Failure>> + Send + 'a {
        try_bus(attempt, self)
    }
}

async fn try_bus<R: EncodeRow>(attempt: Attempt<'_>, job: &BusBatch<'_, R>) -> Result<Committed, Failure> {
    let BusBatch { ref target, rows, sequences, ids, whole, claim } = *job;
    let Attempt { connection, stream, position } = attempt;
    let table = target.table;
    let mut transaction = connection.client.transaction().await?;

    let fresh = claim_messages(&transaction, claim).await?;
    let superseded = claim.messages.iter().filter(|sequence| !fresh.contains(sequence)).count();
    let mut keep: Vec<bool> = sequences.iter().map(|sequence| fresh.contains(sequence)).collect();
    let resent = claim_ids(&transaction, ids, &mut keep).await?;

    let kept: Vec<usize> = (0..rows.len()).filter(|index| keep[*index]).collect();
    let mut letters = Vec::new();
    let mut accepted = Vec::new();
    if !kept.is_empty() {
        if !whole.new_instruments.is_empty() {
            upsert_instruments(transaction.client(), &connection.upsert_instruments, &whole.new_instruments).await?;
        }
        // Usually every row is fresh: the batch goes as the consumer encoded it.
        let encoded_whole = (kept.len() == rows.len()).then_some(&whole.bytes);
        let everything = vec![(0, kept.len())];
        let (sent, refused) = send_isolating(&mut transaction, &connection.write, target, rows, &kept, everything, encoded_whole).await?;
        accepted = sent;
        letters = refused
            .into_iter()
            .map(|(index, refusal)| {
                let detail = format!("table `{table}`: {refusal}");
                DeadLetter::new(table.name(), "rejected_by_database", detail, &rows[index].dead_letter_raw())
            })
            .collect();
        insert_refused(transaction.client(), table, letters.iter()).await?;
    }
    let closing = Closing { advance_offset: &connection.advance_offset, record_time_range: connection.record_time_range.as_ref() };
    closing.commit(transaction, stream, position, whole).await?;
    Ok(Committed { accepted, letters, superseded, resent })
}
