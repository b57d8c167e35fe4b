//! The writer side: one task per table pulls from the table's durable consumer (shared
//! by every writer instance, so they split its messages), gathers whole messages into
//! batches of about `batch_max_rows` rows or `linger_ms`, and hands each to the table's
//! database writers with a [`BusClaim`]. A message is acked only once the batch holding
//! it committed; while it waits, its ack wait is extended now and then so that a slow
//! database does not make the stream hand it to another writer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::codec::{self, BusRow};
use crate::db::Partitions;
use crate::metrics::events;
use crate::pipeline::{LaneSender, Sequenced};
use crate::record::{DeadLetter, Table};
use crate::sink::{encode_batch, BatchProgress, BusClaim, EncodedBatch, KnownInstruments};

/// What every table's consumer shares.
pub struct WriterShared {
    pub stream: jetstream::stream::Stream,
    /// The stream's key in `ingest_bus_messages`.
    pub stream_key: String,
    pub subject_prefix: String,
    pub consumer_prefix: String,
    pub ack_wait: Duration,
    pub max_ack_pending: i64,
    pub partitions: Arc<Partitions>,
    /// Where a message that does not decode is kept.
    pub dead_letters: LaneSender<Sequenced<DeadLetter>>,
}

/// A table's consumer name: `<consumer>-<table>`.
pub fn consumer_name(prefix: &str, table: Table) -> String {
    format!("{prefix}-{}", table.name())
}

async fn bind(shared: &WriterShared, table: Table) -> Result<pull::Stream, String> {
    let name = consumer_name(&shared.consumer_prefix, table);
    let config = pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: format!("{}.{}.>", shared.subject_prefix, table.name()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: shared.ack_wait,
        max_ack_pending: shared.max_ack_pending,
        max_deliver: -1,
        ..Default::default()
    };
    let consumer = shared.stream.get_or_create_consumer(&name, config).await.map_err(|error| error.to_string())?;
    consumer.messages().await.map_err(|error| error.to_string())
}

struct Gathering<R> {
    rows: Vec<R>,
    sequences: Vec<u64>,
    ids: Vec<u128>,
    messages: Vec<u64>,
    since: Option<Instant>,
}

impl<R> Gathering<R> {
    fn new() -> Self {
        Gathering { rows: Vec::new(), sequences: Vec::new(), ids: Vec::new(), messages: Vec::new(), since: None }
    }
}

/// Runs one table's consumer until `stop`; messages it holds uncommitted then are
/// delivered again (to whichever writer asks next).
#[allow(clippy::too_many_arguments)]
pub async fn run_consumer<R: BusRow>(
    shared: Arc<WriterShared>,
    queue: mpsc::Sender<EncodedBatch<R>>,
    known: Arc<KnownInstruments>,
    batch_max_rows: usize,
    linger: Duration,
    stop: CancellationToken,
) {
    let table = R::TABLE;
    let (committed_sender, mut committed) = mpsc::unbounded_channel::<Vec<u64>>();
    let mut held: HashMap<u64, jetstream::Message> = HashMap::new();
    let mut gathering = Gathering::<R>::new();
    let mut extend = tokio::time::interval(shared.ack_wait / 3);
    let mut delay = Duration::from_millis(200);
    'bind: loop {
        let mut messages = loop {
            tokio::select! {
                bound = bind(&shared, table) => match bound {
                    Ok(messages) => break messages,
                    Err(error) => {
                        events::bus_consume_failed(table, &error);
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = stop.cancelled() => return,
                        }
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                },
                _ = stop.cancelled() => return,
            }
        };
        delay = Duration::from_millis(200);
        loop {
            let deadline = gathering.since.map(|since| since + linger);
            tokio::select! {
                _ = stop.cancelled() => return,
                next = messages.next() => match next {
                    Some(Ok(message)) => take(&shared, table, message, &mut held, &mut gathering).await,
                    Some(Err(error)) => {
                        events::bus_consume_failed(table, &error.to_string());
                        // Heartbeats missed or the server went away: pull afresh.
                        continue 'bind;
                    }
                    None => continue 'bind,
                },
                Some(done) = committed.recv() => {
                    for sequence in done {
                        if let Some(message) = held.remove(&sequence) {
                            if let Err(error) = message.ack().await {
                                // Not acked: it comes back, and its claim says it is committed.
                                events::bus_consume_failed(table, &format!("ack: {error}"));
                            }
                        }
                    }
                }
                _ = extend.tick() => {
                    for message in held.values() {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                }
                _ = sleep_until_or_never(deadline) => {}
            }
            let due = gathering.since.is_some_and(|since| since.elapsed() >= linger);
            if gathering.rows.len() >= batch_max_rows || (due && !gathering.messages.is_empty()) {
                let batch = close(&shared, &known, &mut gathering, committed_sender.clone());
                tokio::select! {
                    sent = queue.send(batch) => if sent.is_err() { return },
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

async fn sleep_until_or_never(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Takes one delivered message into the batch being gathered.
async fn take<R: BusRow>(
    shared: &WriterShared,
    table: Table,
    message: jetstream::Message,
    held: &mut HashMap<u64, jetstream::Message>,
    gathering: &mut Gathering<R>,
) {
    let sequence = match message.info() {
        Ok(info) => info.stream_sequence,
        Err(error) => {
            events::bus_consume_failed(table, &format!("message without JetStream metadata: {error}"));
            return;
        }
    };
    if let Some(earlier) = held.get_mut(&sequence) {
        // Delivered again while this writer still holds it (its ack wait ran out): one
        // copy is enough, and the newer delivery is the one to ack.
        *earlier = message;
        return;
    }
    match codec::decode::<R>(&message.payload) {
        Ok(rows) => {
            for (id, row) in rows {
                gathering.rows.push(row);
                gathering.sequences.push(sequence);
                gathering.ids.push(id);
            }
        }
        Err(error) => {
            // Kept whole, then acked: a message no writer can read would otherwise come
            // back forever.
            let raw: String = message.payload.iter().map(|byte| format!("{byte:02x}")).collect();
            let letter = DeadLetter::new("bus", "undecodable_message", format!("{} sequence {sequence}: {error}", message.subject), &raw);
            events::dead_lettered(&letter);
            if shared.dead_letters.send(Sequenced::unspooled(letter)).await.is_ok() {
                let _ = message.ack().await;
            }
            return;
        }
    }
    gathering.messages.push(sequence);
    gathering.since.get_or_insert_with(Instant::now);
    held.insert(sequence, message);
}

fn close<R: BusRow>(
    shared: &WriterShared,
    known: &KnownInstruments,
    gathering: &mut Gathering<R>,
    committed: mpsc::UnboundedSender<Vec<u64>>,
) -> EncodedBatch<R> {
    let taken = std::mem::replace(gathering, Gathering::new());
    let claim = BusClaim { stream_key: shared.stream_key.clone(), messages: taken.messages, committed };
    let progress = BatchProgress { bus: Some(claim), ..BatchProgress::default() };
    let mut batch = encode_batch(R::TABLE, &shared.partitions, taken.rows, progress, known);
    batch.sequences = taken.sequences;
    batch.ids = taken.ids;
    batch
}
