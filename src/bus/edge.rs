//! The edge side: each table's batcher thread hands its closed batches to a publish
//! stage instead of the database writers. A batch is split by venue (in venue order)
//! into messages of at most `message_max_rows` rows and about `message_max_bytes`
//! bytes, each published to its subject ([`super::subject`]: `<prefix>.<table>.<venue>`,
//! `<prefix>.relational.<table>` for relational rows, `<prefix>.custom.<table>` for a
//! custom table's) with a publish id the stream deduplicates by, and retried
//! under the same id until the stream acknowledges it. With a spool, the batch is in
//! the journal before its first message goes out, and its spool sequences count as
//! committed (the spool may let go of them) once every message was acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::codec::{self, BusRow};
use super::journal::Journal;
use super::row_codec;
use crate::metrics::events;
use crate::pipeline::Sequenced;
use crate::record::{CustomRow, CustomSchema, RowRecord, Table};
use crate::spool::{sequence_ranges, SpoolProgress};

/// What every table's publisher shares.
pub struct EdgeShared {
    pub jetstream: jetstream::Context,
    pub subject_prefix: String,
    pub edge_id: String,
    pub message_max_rows: usize,
    /// A message is closed before a row would take it past this many bytes (a row
    /// larger than that goes alone).
    pub message_max_bytes: usize,
    pub in_flight: usize,
    /// With a spool: the journal and the spool's commit tracking.
    pub journal: Option<Arc<Journal>>,
    pub progress: Option<Arc<SpoolProgress>>,
    /// Publish ids of unspooled messages: `<edge_id>.<boot>.<n>`.
    pub boot: String,
    pub unspooled: AtomicU64,
}

/// One message on its way out.
pub struct Outgoing {
    pub table: Table,
    pub subject: String,
    pub id: String,
    pub payload: Bytes,
    pub rows: usize,
    /// The journal batch (first message number) and this message's number.
    pub journaled: Option<(u64, u64)>,
}

impl EdgeShared {
    pub fn subject(&self, table: Table, venue: &str) -> String {
        super::subject(&self.subject_prefix, table, venue)
    }

    /// Splits a batch into messages: by venue in venue order, then into runs of at
    /// most `message_max_rows` rows and `message_max_bytes` bytes. Each message starts
    /// with `begin`, then each row with its id as `push` writes it. The same items
    /// always give the same messages, which is what lets a restarted edge publish them
    /// again identically.
    pub fn split<T>(
        &self,
        table: Table,
        items: &[T],
        venue: impl for<'a> Fn(&'a T) -> &'a str,
        begin: impl Fn(&mut Vec<u8>),
        push: impl Fn(&T, &mut Vec<u8>),
    ) -> Vec<(String, Bytes, usize)> {
        let mut by_venue: std::collections::BTreeMap<&str, Vec<&T>> = std::collections::BTreeMap::new();
        for item in items {
            by_venue.entry(venue(item)).or_default().push(item);
        }
        let mut messages = Vec::new();
        let mut row = Vec::with_capacity(256);
        for (venue, items) in by_venue {
            let subject = self.subject(table, venue);
            let mut payload = Vec::new();
            let mut rows = 0;
            for item in items {
                row.clear();
                push(item, &mut row);
                if rows > 0 && (rows == self.message_max_rows || payload.len() + row.len() > self.message_max_bytes) {
                    messages.push((subject.clone(), Bytes::from(std::mem::take(&mut payload)), rows));
                    rows = 0;
                }
                if rows == 0 {
                    payload.reserve(64 + row.len() * self.message_max_rows.min(64));
                    begin(&mut payload);
                }
                payload.extend_from_slice(&row);
                rows += 1;
            }
            if rows > 0 {
                messages.push((subject, Bytes::from(payload), rows));
            }
        }
        messages
    }

    /// Numbers a batch's messages: journaled ones when its rows are spooled.
    pub fn number(&self, table: Table, sequences: &[u64], messages: Vec<(String, Bytes, usize)>) -> std::io::Result<Vec<Outgoing>> {
        let spooled = !sequences.is_empty() && sequences.iter().all(|sequence| *sequence > 0);
        let journaled = match &self.journal {
            Some(journal) if spooled => {
                // Custom tables share a spool stream: a batch may hold several runs of it.
                Some(journal.begin_batch_runs(table.spool_stream(), &sequence_ranges(sequences), messages.len() as u64)?)
            }
            _ => None,
        };
        Ok(messages
            .into_iter()
            .enumerate()
            .map(|(index, (subject, payload, rows))| {
                let (id, journaled) = match journaled {
                    Some(counter) => (format!("{}.{}", self.edge_id, counter + index as u64), Some((counter, counter + index as u64))),
                    None => {
                        let number = self.unspooled.fetch_add(1, Ordering::Relaxed);
                        (format!("{}.{}.{number}", self.edge_id, self.boot), None)
                    }
                };
                Outgoing { table, subject, id, payload, rows, journaled }
            })
            .collect())
    }

    /// A relational batch's messages: by table, each row as its JSON text.
    pub fn split_relational<T>(&self, items: &[T], row: impl for<'a> Fn(&'a T) -> (&'a RowRecord, u128)) -> Vec<(String, Bytes, usize)> {
        self.split(
            Table::Relational,
            items,
            |item| row(item).0.table.as_str(),
            codec::begin,
            |item, out| {
                let (record, id) = row(item);
                row_codec::push_relational(record, id, out);
            },
        )
    }

    /// A custom table's batch as messages, each led by the table's description.
    pub fn split_custom<T>(
        &self,
        schema: &CustomSchema,
        items: &[T],
        row: impl Fn(&T) -> (&CustomRow, u128),
    ) -> Vec<(String, Bytes, usize)> {
        self.split(
            schema.table,
            items,
            |_| "",
            |out| row_codec::begin_custom(schema, out),
            |item, out| {
                let (record, id) = row(item);
                row_codec::push_custom(record, id, out);
            },
        )
    }
}

/// The batcher's `deliver` for one built-in table on an edge.
pub fn publish_stage<R: BusRow>(
    shared: Arc<EdgeShared>,
    sender: mpsc::Sender<Outgoing>,
) -> impl FnMut(Vec<Sequenced<R>>) -> Result<(), Vec<Sequenced<R>>> {
    move |batch: Vec<Sequenced<R>>| {
        let messages =
            shared.split(R::TABLE, &batch, |item| item.row.venue(), codec::begin, |item, out| codec::push_row(&item.row, item.id, out));
        hand_over(&shared, &sender, R::TABLE, batch, messages)
    }
}

/// The batcher's `deliver` for the relational lane on an edge.
pub fn publish_relational_stage(
    shared: Arc<EdgeShared>,
    sender: mpsc::Sender<Outgoing>,
) -> impl FnMut(Vec<Sequenced<RowRecord>>) -> Result<(), Vec<Sequenced<RowRecord>>> {
    move |batch: Vec<Sequenced<RowRecord>>| {
        let messages = shared.split_relational(&batch, |item| (&item.row, item.id));
        hand_over(&shared, &sender, Table::Relational, batch, messages)
    }
}

/// The batcher's `deliver` for a custom table on an edge.
pub fn publish_custom_stage(
    shared: Arc<EdgeShared>,
    sender: mpsc::Sender<Outgoing>,
    schema: CustomSchema,
) -> impl FnMut(Vec<Sequenced<CustomRow>>) -> Result<(), Vec<Sequenced<CustomRow>>> {
    move |batch: Vec<Sequenced<CustomRow>>| {
        let messages = shared.split_custom(&schema, &batch, |item| (&item.row, item.id));
        hand_over(&shared, &sender, schema.table, batch, messages)
    }
}

/// Journals a batch's messages and queues them for the publisher.
fn hand_over<R>(
    shared: &EdgeShared,
    sender: &mpsc::Sender<Outgoing>,
    table: Table,
    batch: Vec<Sequenced<R>>,
    messages: Vec<(String, Bytes, usize)>,
) -> Result<(), Vec<Sequenced<R>>> {
    let sequences: Vec<u64> = batch.iter().map(|item| item.sequence).collect();
    let outgoing = match shared.number(table, &sequences, messages) {
        Ok(outgoing) => outgoing,
        Err(error) => {
            // The records stay in the spool (if any) and are replayed on the next start.
            tracing::error!(table = %table, %error, "cannot write the bus journal; batch not published");
            return Err(batch);
        }
    };
    for message in outgoing {
        if sender.blocking_send(message).is_err() {
            return Err(batch);
        }
    }
    Ok(())
}

/// Publishes what the stage hands over, up to `limit` messages awaiting their ack at
/// once (`in_flight`; 1 for relational rows, so that the stream holds them in the
/// order they were taken), until the stage is gone and everything was acknowledged.
pub async fn run_publisher(shared: Arc<EdgeShared>, mut receiver: mpsc::Receiver<Outgoing>, limit: usize) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            next = receiver.recv(), if in_flight.len() < limit => match next {
                Some(message) => in_flight.push(publish_until_acked(shared.clone(), message)),
                None => break,
            },
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
        }
    }
    while in_flight.next().await.is_some() {}
}

async fn publish_until_acked(shared: Arc<EdgeShared>, message: Outgoing) {
    let mut delay = Duration::from_millis(100);
    loop {
        let publish = PublishMessage::build().payload(message.payload.clone()).message_id(&message.id);
        let failure = match shared.jetstream.send_publish(message.subject.clone(), publish).await {
            Ok(ack) => match ack.await {
                Ok(ack) => {
                    events::bus_published(message.table, message.rows, message.payload.len(), ack.duplicate);
                    acknowledged(&shared, &message);
                    return;
                }
                Err(error) => error.to_string(),
            },
            Err(error) => error.to_string(),
        };
        events::bus_publish_failed(message.table, &failure);
        tokio::time::sleep(delay.mul_f64(0.5 + fastrand::f64() * 0.5)).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn acknowledged(shared: &EdgeShared, message: &Outgoing) {
    let (Some((counter, number)), Some(journal)) = (message.journaled, &shared.journal) else { return };
    match journal.acked(counter, number) {
        Ok(Some((stream, runs))) => {
            if let Some(progress) = &shared.progress {
                progress.committed(stream, &runs);
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "cannot write an ack to the bus journal; the message may be published again"),
    }
}
