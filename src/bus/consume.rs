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
use super::row_codec;
use crate::db::Partitions;
use crate::metrics::events;
use crate::pipeline::{LaneSender, Sequenced};
use crate::record::{CustomRow, CustomSchema, DeadLetter, RowRecord, Table};
use crate::sink::{encode_batch, BatchProgress, BusClaim, EncodedBatch, KnownInstruments, RelationalBatch};

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

/// A table's consumer name: `<consumer>-<table>`, `<consumer>-custom-<table>` for a
/// custom table.
pub fn consumer_name(prefix: &str, table: Table) -> String {
    match table {
        Table::Custom(_) => format!("{prefix}-custom-{}", codec::subject_token(table.name())),
        _ => format!("{prefix}-{}", table.name()),
    }
}

/// What one table's messages hold and the batches they make.
pub trait Intake: Send + Sync + 'static {
    type Row: Send + 'static;
    type Batch: Send + 'static;
    fn table(&self) -> Table;
    /// The consumer's `max_ack_pending`, given the configured one.
    fn max_ack_pending(&self, configured: i64) -> i64 {
        configured
    }
    /// The rows of a message with their id keys; or, for a message no row of which
    /// can be taken, the dead letters that keep it.
    fn decode(&self, subject: &str, sequence: u64, payload: &[u8]) -> Result<Vec<(u128, Self::Row)>, Vec<DeadLetter>>;
    /// A batch of gathered rows (parallel to their message sequences and ids).
    fn close(&self, shared: &WriterShared, rows: Vec<Self::Row>, sequences: Vec<u64>, ids: Vec<u128>, claim: BusClaim) -> Self::Batch;
}

/// The dead letter of a message that does not decode, kept whole.
fn undecodable(subject: &str, sequence: u64, payload: &[u8], error: &codec::BusCodecError) -> DeadLetter {
    let raw: String = payload.iter().map(|byte| format!("{byte:02x}")).collect();
    DeadLetter::new("bus", "undecodable_message", format!("{subject} sequence {sequence}: {error}"), &raw)
}

/// A built-in market table's rows, encoded for its COPY writers.
pub struct MarketIntake<R> {
    pub known: Arc<KnownInstruments>,
    /// Whether its batches are encoded in the columnstore's order (`sink::key_order`).
    pub key_order: bool,
    pub row: std::marker::PhantomData<fn() -> R>,
}

impl<R: BusRow> Intake for MarketIntake<R> {
    type Row = R;
    type Batch = EncodedBatch<R>;
    fn table(&self) -> Table {
        R::TABLE
    }
    fn decode(&self, subject: &str, sequence: u64, payload: &[u8]) -> Result<Vec<(u128, R)>, Vec<DeadLetter>> {
        codec::decode::<R>(payload).map_err(|error| vec![undecodable(subject, sequence, payload, &error)])
    }
    fn close(&self, shared: &WriterShared, rows: Vec<R>, sequences: Vec<u64>, ids: Vec<u128>, claim: BusClaim) -> EncodedBatch<R> {
        encode_claimed(R::TABLE, shared, &self.known, self.key_order, (rows, sequences, ids), claim)
    }
}

fn encode_claimed<R: crate::sink::EncodeRow>(
    table: Table,
    shared: &WriterShared,
    known: &KnownInstruments,
    key_order: bool,
    (rows, sequences, ids): (Vec<R>, Vec<u64>, Vec<u128>),
    claim: BusClaim,
) -> EncodedBatch<R> {
    let progress = BatchProgress { bus: Some(claim), ..BatchProgress::default() };
    let mut batch = encode_batch(table, &shared.partitions, rows, progress, known, key_order);
    batch.sequences = sequences;
    batch.ids = ids;
    batch
}

/// A custom table's rows: the message's description of the table must be this
/// writer's, and each row's cells must fit its columns; the rest are dead-lettered
/// (`schema_mismatch`) rather than written into the wrong columns.
pub struct CustomIntake {
    pub schema: CustomSchema,
    pub known: Arc<KnownInstruments>,
    /// Whether its batches are encoded in the columnstore's order (`sink::key_order`).
    pub key_order: bool,
}

impl Intake for CustomIntake {
    type Row = CustomRow;
    type Batch = EncodedBatch<CustomRow>;
    fn table(&self) -> Table {
        self.schema.table
    }
    fn decode(&self, subject: &str, sequence: u64, payload: &[u8]) -> Result<Vec<(u128, CustomRow)>, Vec<DeadLetter>> {
        let (description, arrived) =
            row_codec::decode_custom(payload).map_err(|error| vec![undecodable(subject, sequence, payload, &error)])?;
        let table = self.schema.name();
        let letter = |row: &row_codec::ArrivedCustomRow, reason: &str| {
            DeadLetter::new(
                table,
                "schema_mismatch",
                format!("bus {subject} sequence {sequence}: {reason}"),
                &row.to_push_json(&description),
            )
        };
        if let Err(reason) = description.matches(&self.schema) {
            return Err(arrived.iter().map(|(_, row)| letter(row, &reason)).collect());
        }
        let mut rows = Vec::with_capacity(arrived.len());
        let mut letters = Vec::new();
        for (id, row) in arrived {
            match row.clone().into_row(&self.schema) {
                Ok(converted) => rows.push((id, converted)),
                Err(reason) => letters.push(letter(&row, &format!("the row does not fit `{table}`: {reason}"))),
            }
        }
        if letters.is_empty() {
            Ok(rows)
        } else {
            // A message is taken whole or not at all: a claim covers all of its rows.
            for (_, row) in &rows {
                letters.push(DeadLetter::new(
                    table,
                    "schema_mismatch",
                    format!("bus {subject} sequence {sequence}: another row of its message does not fit `{table}`"),
                    &row.to_push_json(),
                ));
            }
            Err(letters)
        }
    }
    fn close(
        &self,
        shared: &WriterShared,
        rows: Vec<CustomRow>,
        sequences: Vec<u64>,
        ids: Vec<u128>,
        claim: BusClaim,
    ) -> EncodedBatch<CustomRow> {
        encode_claimed(self.schema.table, shared, &self.known, self.key_order, (rows, sequences, ids), claim)
    }
}

/// Relational rows, for the relational writer (which checks them against its catalog
/// in the batch's transaction).
pub struct RelationalIntake;

impl Intake for RelationalIntake {
    type Row = RowRecord;
    type Batch = RelationalBatch;
    fn table(&self) -> Table {
        Table::Relational
    }
    /// One message at a time across every writer: relational rows are written in the
    /// order the edge published them (an order's updates after its insert), whichever
    /// writer takes them.
    fn max_ack_pending(&self, _: i64) -> i64 {
        1
    }
    fn decode(&self, subject: &str, sequence: u64, payload: &[u8]) -> Result<Vec<(u128, RowRecord)>, Vec<DeadLetter>> {
        row_codec::decode_relational(payload).map_err(|error| vec![undecodable(subject, sequence, payload, &error)])
    }
    fn close(&self, _: &WriterShared, rows: Vec<RowRecord>, sequences: Vec<u64>, ids: Vec<u128>, claim: BusClaim) -> RelationalBatch {
        let rows = rows.into_iter().zip(sequences).zip(ids).map(|((row, sequence), id)| Sequenced { sequence, id, row }).collect();
        RelationalBatch { rows, bus: Some(claim) }
    }
}

async fn bind<I: Intake>(shared: &WriterShared, intake: &I) -> Result<pull::Stream, String> {
    let table = intake.table();
    let name = consumer_name(&shared.consumer_prefix, table);
    let config = pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: super::subject_filter(&shared.subject_prefix, table),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: shared.ack_wait,
        max_ack_pending: intake.max_ack_pending(shared.max_ack_pending),
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
pub async fn run_consumer<I: Intake>(
    shared: Arc<WriterShared>,
    intake: I,
    queue: mpsc::Sender<I::Batch>,
    batch_max_rows: usize,
    linger: Duration,
    stop: CancellationToken,
) {
    let table = intake.table();
    let (committed_sender, mut committed) = mpsc::unbounded_channel::<Vec<u64>>();
    let mut held: HashMap<u64, jetstream::Message> = HashMap::new();
    let mut gathering = Gathering::<I::Row>::new();
    let mut extend = tokio::time::interval(shared.ack_wait / 3);
    let mut delay = Duration::from_millis(200);
    'bind: loop {
        let mut messages = loop {
            tokio::select! {
                bound = bind(&shared, &intake) => match bound {
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
                    Some(Ok(message)) => take(&shared, &intake, message, &mut held, &mut gathering).await,
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
                let batch = close(&shared, &intake, &mut gathering, committed_sender.clone());
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
async fn take<I: Intake>(
    shared: &WriterShared,
    intake: &I,
    message: jetstream::Message,
    held: &mut HashMap<u64, jetstream::Message>,
    gathering: &mut Gathering<I::Row>,
) {
    let table = intake.table();
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
    match intake.decode(message.subject.as_str(), sequence, &message.payload) {
        Ok(rows) => {
            for (id, row) in rows {
                gathering.rows.push(row);
                gathering.sequences.push(sequence);
                gathering.ids.push(id);
            }
        }
        Err(letters) => {
            // Kept, then acked: a message no writer can take would otherwise come back
            // forever.
            for letter in &letters {
                events::dead_lettered(letter);
            }
            let mut kept = true;
            for letter in letters {
                kept &= shared.dead_letters.send(Sequenced::unspooled(letter)).await.is_ok();
            }
            if kept {
                let _ = message.ack().await;
            }
            return;
        }
    }
    gathering.messages.push(sequence);
    gathering.since.get_or_insert_with(Instant::now);
    held.insert(sequence, message);
}

fn close<I: Intake>(
    shared: &WriterShared,
    intake: &I,
    gathering: &mut Gathering<I::Row>,
    committed: mpsc::UnboundedSender<Vec<u64>>,
) -> I::Batch {
    let taken = std::mem::replace(gathering, Gathering::new());
    let claim = BusClaim { stream_key: shared.stream_key.clone(), messages: taken.messages, committed };
    intake.close(shared, taken.rows, taken.sequences, taken.ids, claim)
}
