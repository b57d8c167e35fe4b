//! The edge side: each table's batcher thread hands its closed batches to a publish
//! stage instead of the database writers. A batch is split by venue (in venue order)
//! into messages of at most `message_max_rows` rows, each published to
//! `<prefix>.<table>.<venue>` with a publish id the stream deduplicates by, and retried
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
use crate::metrics::events;
use crate::pipeline::Sequenced;
use crate::record::Table;
use crate::spool::SpoolProgress;

/// What every table's publisher shares.
pub struct EdgeShared {
    pub jetstream: jetstream::Context,
    pub subject_prefix: String,
    pub edge_id: String,
    pub message_max_rows: usize,
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
        format!("{}.{}.{}", self.subject_prefix, table.name(), codec::subject_token(venue))
    }

    /// Splits a batch into messages: by venue in venue order, then into runs of at
    /// most `message_max_rows`. The same items always give the same messages, which is
    /// what lets a restarted edge publish them again identically.
    pub fn split<T>(&self, table: Table, items: &[T], venue: fn(&T) -> &str, push: fn(&T, &mut Vec<u8>)) -> Vec<(String, Bytes, usize)> {
        let mut by_venue: std::collections::BTreeMap<&str, Vec<&T>> = std::collections::BTreeMap::new();
        for item in items {
            by_venue.entry(venue(item)).or_default().push(item);
        }
        let mut messages = Vec::new();
        for (venue, items) in by_venue {
            for chunk in items.chunks(self.message_max_rows) {
                let mut payload = Vec::with_capacity(64 + chunk.len() * 96);
                codec::begin(&mut payload);
                for item in chunk {
                    push(item, &mut payload);
                }
                messages.push((self.subject(table, venue), Bytes::from(payload), chunk.len()));
            }
        }
        messages
    }

    /// Numbers a batch's messages: journaled ones when its rows are spooled.
    pub fn number(&self, table: Table, sequences: &[u64], messages: Vec<(String, Bytes, usize)>) -> std::io::Result<Vec<Outgoing>> {
        let journaled = match (&self.journal, sequences.first(), sequences.last()) {
            (Some(journal), Some(&first), Some(&last)) if first > 0 => {
                Some(journal.begin_batch(table.spool_stream(), first, last, messages.len() as u64)?)
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
}

/// The batcher's `deliver` for one table on an edge.
pub fn publish_stage<R: BusRow>(
    shared: Arc<EdgeShared>,
    sender: mpsc::Sender<Outgoing>,
) -> impl FnMut(Vec<Sequenced<R>>) -> Result<(), Vec<Sequenced<R>>> {
    move |batch: Vec<Sequenced<R>>| {
        let sequences: Vec<u64> = batch.iter().map(|item| item.sequence).collect();
        let messages = shared.split(R::TABLE, &batch, |item| item.row.venue(), |item, out| codec::push_row(&item.row, item.id, out));
        let outgoing = match shared.number(R::TABLE, &sequences, messages) {
            Ok(outgoing) => outgoing,
            Err(error) => {
                // The records stay in the spool (if any) and are replayed on the next start.
                tracing::error!(table = %R::TABLE, %error, "cannot write the bus journal; batch not published");
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
}

/// Publishes what the stage hands over, up to `in_flight` messages awaiting their ack
/// at once, until the stage is gone and everything was acknowledged.
pub async fn run_publisher(shared: Arc<EdgeShared>, mut receiver: mpsc::Receiver<Outgoing>) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            next = receiver.recv(), if in_flight.len() < shared.in_flight => match next {
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
        Ok(Some((stream, first, last))) => {
            if let Some(progress) = &shared.progress {
                // A built-in table's lane carries its stream's sequences in order, so a
                // batch holds every sequence from its first to its last.
                progress.committed(stream, &[(first, last)]);
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "cannot write an ack to the bus journal; the message may be published again"),
    }
}
