//! The daemon's two bus roles. An edge: the spool opened with what its publish journal
//! says the stream holds, each table's batcher (the relational lane's and each custom
//! table's too) feeding a publisher, and on start the batches that were in flight
//! published again under their ids. A writer: each table's consumer feeding that
//! table's database writers (relational rows the relational writer), the claims
//! folded, the stream's state in the metrics.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;

use super::lanes::{Queues, Receivers};
use super::{Daemon, Shared};
use crate::bus::{self, codec, consume, edge, journal};
use crate::config::{Config, SpoolConfig};
use crate::pipeline::{LaneReceiver, LaneSender, Router, Sequenced};
use crate::record::{CustomRow, CustomSchema, DeadLetter, Record, Rejection, RowRecord, Table};
use crate::sink::{EncodedBatch, KnownInstruments, RelationalBatch};
use crate::source::push::{row_convert, PushRows};
use crate::spool::{codec as spool_codec, Entry, Recovered, Spool, SpoolProgress};

/// How long an instance waits for its NATS server at start.
const CONNECT_GIVE_UP: Duration = Duration::from_secs(60);

/// An edge's spool, opened with what its journal says was published.
pub(super) struct EdgeSpool {
    pub progress: Arc<SpoolProgress>,
    pub journal: Arc<journal::Journal>,
    /// Every entry not yet published. An edge's replay still holds them all at once:
    /// in-flight batches are matched against the whole set.
    pub replay: Vec<Entry>,
    /// What opening the spool found (its losses are reported on replay).
    pub recovered: Recovered,
    pub open: Vec<journal::OpenBatch>,
}

pub(super) async fn open_edge_spool(spool_config: &SpoolConfig) -> anyhow::Result<EdgeSpool> {
    let dir = spool_config.dir.clone();
    let settings = super::spool::settings(spool_config);
    let opened = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let (journal, recovered) = journal::Journal::open(&settings.dir).context("opening the bus journal")?;
        let (spool, opened) = Spool::open(settings, &recovered.committed)?;
        let mut replay = Vec::new();
        for id in &opened.replay {
            let entries = spool.read_segment(*id)?;
            replay.extend(
                entries
                    .into_iter()
                    .filter(|entry| !recovered.committed.get(&entry.stream).is_some_and(|tracker| tracker.is_committed(entry.sequence))),
            );
        }
        Ok((journal, recovered, spool, (opened, replay)))
    })
    .await
    .context("opening the spool")?
    .with_context(|| format!("opening spool.dir {}", dir.display()))?;
    let (journal, recovered, spool, (opened, replay)) = opened;
    tracing::info!(
        dir = %dir.display(),
        replay = replay.len(),
        in_flight_batches = recovered.open.len(),
        bytes_cut = opened.bytes_cut,
        damaged_segments = opened.damaged.len(),
        "edge spool open"
    );
    Ok(EdgeSpool {
        progress: Arc::new(SpoolProgress::new(spool, recovered.committed)),
        journal: Arc::new(journal),
        replay,
        recovered: opened,
        open: recovered.open,
    })
}

/// Connects to the bus and prepares the publishers' shared state.
pub(super) async fn edge_shared(config: &Config, spool: Option<&EdgeSpool>) -> anyhow::Result<Arc<edge::EdgeShared>> {
    let bus = &config.bus;
    let jetstream = bus::connect(bus, CONNECT_GIVE_UP).await?;
    // The edge starts (push server, sources, spool replay) whether or not the bus
    // answers: records wait in the spool and publishes are retried until it does.
    let (ensure_context, ensure_config) = (jetstream.clone(), bus.clone());
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(200);
        loop {
            match bus::ensure_stream(&ensure_context, &ensure_config).await {
                Ok((_, key)) => return tracing::info!(stream = %ensure_config.stream, %key, "edge bound to the bus"),
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "the bus stream is not reachable yet; retrying"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    });
    Ok(Arc::new(edge::EdgeShared {
        jetstream,
        subject_prefix: bus.subject_prefix.clone(),
        edge_id: bus.edge_id.clone().context("bus.edge_id is required for role = \"edge\"")?,
        message_max_rows: bus.message_max_rows,
        message_max_bytes: bus.message_max_bytes,
        in_flight: bus.publish_in_flight,
        journal: spool.map(|spool| spool.journal.clone()),
        progress: spool.map(|spool| spool.progress.clone()),
        boot: format!("{:016x}", fastrand::u64(..)),
        unspooled: AtomicU64::new(0),
    }))
}

impl Daemon {
    /// An edge table: its batcher publishes instead of encoding for the database.
    fn start_edge_table<R: codec::BusRow>(
        &mut self,
        shared: &Shared<'_>,
        edge: &Arc<edge::EdgeShared>,
        receiver: LaneReceiver<Sequenced<R>>,
    ) -> mpsc::Sender<edge::Outgoing> {
        let (sender, outgoing) = mpsc::channel(edge.in_flight.max(4));
        let deliver = edge::publish_stage::<R>(edge.clone(), sender.clone());
        self.start_publisher(R::TABLE, shared, edge, receiver, deliver, outgoing);
        sender
    }

    fn start_publisher<R: crate::record::ApproxBytes + Send + 'static>(
        &mut self,
        table: Table,
        shared: &Shared<'_>,
        edge: &Arc<edge::EdgeShared>,
        receiver: LaneReceiver<R>,
        deliver: impl FnMut(Vec<R>) -> Result<(), Vec<R>> + Send + 'static,
        outgoing: mpsc::Receiver<edge::Outgoing>,
    ) {
        self.spawn_batcher(table, "publish", "publisher stopped", shared, receiver, Vec::new(), crate::pipeline::taking(deliver));
        let limit = if table == Table::Relational { 1 } else { edge.in_flight };
        self.writers.push(tokio::spawn(edge::run_publisher(edge.clone(), outgoing, limit)));
    }

    /// Every lane of an edge: each built-in table's, the relational lane's and each
    /// custom table's publisher, for the spool's replay.
    pub(super) fn start_edge_tables(
        &mut self,
        shared: &Shared<'_>,
        edge: &Arc<edge::EdgeShared>,
        receivers: Receivers,
        relational: LaneReceiver<Sequenced<RowRecord>>,
        custom: Vec<(Table, LaneReceiver<Sequenced<CustomRow>>)>,
    ) -> anyhow::Result<Publishers> {
        macro_rules! start_each {
            (($app:ident) $( $name:ident: $row:ty = $table:ident, )*) => {
                HashMap::from([ $( (Table::$table, $app.start_edge_table(shared, edge, receivers.$name)), )* ])
            };
        }
        let mut by_table = crate::builtin_tables!(lanes => start_each(self));
        let (sender, outgoing) = mpsc::channel(edge.in_flight.max(4));
        let deliver = edge::publish_relational_stage(edge.clone(), sender.clone());
        self.start_publisher(Table::Relational, shared, edge, relational, deliver, outgoing);
        by_table.insert(Table::Relational, sender);
        let schemas = custom_schemas(shared.config)?;
        let mut by_custom_table = HashMap::new();
        for (table, receiver) in custom {
            let Some(schema) = schemas.get(table.name()).cloned() else { continue };
            let (sender, outgoing) = mpsc::channel(edge.in_flight.max(4));
            let deliver = edge::publish_custom_stage(edge.clone(), sender.clone(), schema.clone());
            self.start_publisher(table, shared, edge, receiver, deliver, outgoing);
            by_custom_table.insert(table.name().to_string(), (schema, sender));
        }
        Ok(Publishers { by_table, by_custom_table })
    }

    /// A writer instance's bus consumers, one per built-in table, each feeding its
    /// table's database writers.
    pub(super) fn start_consumers(&mut self, shared: &Shared<'_>, writer: &Arc<consume::WriterShared>, queues: Queues) {
        macro_rules! start_each {
            (($app:ident) $( $name:ident: $row:ty = $table:ident, )*) => {
                $( $app.start_consumer(shared, writer, queues.$name); )*
            };
        }
        crate::builtin_tables!(lanes => start_each(self));
    }

    /// A writer table's consumer, feeding the queue of the table's database writers.
    fn start_consumer<R: codec::BusRow>(
        &mut self,
        shared: &Shared<'_>,
        writer: &Arc<consume::WriterShared>,
        queue: mpsc::Sender<EncodedBatch<R>>,
    ) {
        let key_order = crate::sink::key_order(R::TABLE, shared.config.table(R::TABLE).write_mode);
        let intake = consume::MarketIntake::<R> { known: Arc::new(KnownInstruments::default()), key_order, row: std::marker::PhantomData };
        self.start_intake(shared, writer, intake, queue);
    }

    /// A writer's consumers of rows: the relational lane's, feeding the relational
    /// writer, and each custom table's, feeding its COPY writers.
    pub(super) fn start_row_consumers(
        &mut self,
        shared: &Shared<'_>,
        writer: &Arc<consume::WriterShared>,
        relational: mpsc::Sender<RelationalBatch>,
        custom: Vec<(Table, mpsc::Sender<EncodedBatch<CustomRow>>)>,
    ) -> anyhow::Result<()> {
        self.start_intake(shared, writer, consume::RelationalIntake, relational);
        let schemas = custom_schemas(shared.config)?;
        for (table, queue) in custom {
            let Some(schema) = schemas.get(table.name()).cloned() else { continue };
            let key_order = crate::sink::key_order(table, shared.config.table(table).write_mode);
            let intake = consume::CustomIntake { schema, known: Arc::new(KnownInstruments::default()), key_order };
            self.start_intake(shared, writer, intake, queue);
        }
        Ok(())
    }

    fn start_intake<I: consume::Intake>(
        &mut self,
        shared: &Shared<'_>,
        writer: &Arc<consume::WriterShared>,
        intake: I,
        queue: mpsc::Sender<I::Batch>,
    ) {
        let settings = shared.config.table(intake.table());
        let consumer = consume::run_consumer(
            writer.clone(),
            intake,
            queue,
            settings.batch_max_rows,
            Duration::from_millis(settings.linger_ms),
            self.sources_stop.clone(),
        );
        // Consumers stop with the sources, so the writers drain what they handed over.
        self.sources.spawn(consumer);
    }
}

/// An edge's publishers: by table for the built-in tables and the relational lane, by
/// name (with the table's schema) for the custom tables.
pub(super) struct Publishers {
    by_table: HashMap<Table, mpsc::Sender<edge::Outgoing>>,
    by_custom_table: HashMap<String, (CustomSchema, mpsc::Sender<edge::Outgoing>)>,
}

/// The configuration's custom tables by name.
fn custom_schemas(config: &Config) -> anyhow::Result<HashMap<String, CustomSchema>> {
    let schemas = config.custom_schemas(&PushRows).map_err(anyhow::Error::msg)?;
    Ok(schemas.into_iter().map(|schema| (schema.name().to_string(), schema)).collect())
}

/// Connects a writer to the bus: the stream, its key, the fold and the metrics.
pub(super) async fn writer_shared(
    config: &Config,
    url: &str,
    partitions: Arc<crate::db::Partitions>,
    dead_letters: LaneSender<Sequenced<DeadLetter>>,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<Arc<consume::WriterShared>> {
    let bus = &config.bus;
    let jetstream = bus::connect(bus, CONNECT_GIVE_UP).await?;
    let (stream, stream_key) = bus::ensure_stream(&jetstream, bus).await?;
    bus::spawn_fold(
        stream.clone(),
        stream_key.clone(),
        url.to_string(),
        Duration::from_millis(config.database.connect_timeout_ms.get()),
        stop.clone(),
    );
    bus::spawn_metrics(stream.clone(), bus, bus_tables(config)?, stop.clone());
    tracing::info!(stream = %bus.stream, key = %stream_key, "writer bound to the bus");
    Ok(Arc::new(consume::WriterShared {
        stream,
        stream_key,
        subject_prefix: bus.subject_prefix.clone(),
        consumer_prefix: bus.consumer.clone(),
        ack_wait: Duration::from_secs(bus.ack_wait_secs.get()),
        max_ack_pending: bus.max_ack_pending,
        partitions,
        dead_letters,
    }))
}

/// The tables that travel over the bus, each with its consumer: every built-in one,
/// the relational lane and each custom table.
fn bus_tables(config: &Config) -> anyhow::Result<Vec<Table>> {
    let custom = config.custom_schemas(&PushRows).map_err(anyhow::Error::msg)?;
    Ok(Table::ALL.into_iter().chain(custom.iter().map(|schema| schema.table)).collect())
}

/// On an edge's start: the batches the journal says were in flight are published
/// again, message for message under the same ids, from their spooled records; the
/// other unpublished records are queued as on any start.
pub(super) async fn replay_edge(
    router: &Router,
    edge: &edge::EdgeShared,
    publishers: &Publishers,
    open: Vec<journal::OpenBatch>,
    entries: Vec<Entry>,
) -> anyhow::Result<()> {
    let mut rest = Vec::with_capacity(entries.len());
    let mut held: HashMap<u64, Vec<(Record, u128)>> = HashMap::new();
    for entry in entries {
        let batch = open.iter().find(|batch| batch.holds(entry.stream, entry.sequence));
        match (batch, spool_codec::decode(&entry.payload)) {
            (Some(batch), Ok(decoded)) => held.entry(batch.counter).or_default().push(decoded),
            _ => rest.push(entry),
        }
    }
    let mut republished = 0usize;
    for batch in &open {
        let records = held.remove(&batch.counter).unwrap_or_default();
        let Some((table, messages, publisher, refused)) = resplit(edge, publishers, batch, &records) else { continue };
        for (row, rejection) in refused {
            // It converted when it was taken; the table's description changed since.
            let letter = DeadLetter::new("spool", rejection.code.as_str(), rejection.detail, &row.to_push_json());
            router.dead_letter_waiting(letter).await;
        }
        if messages.len() as u64 != batch.count {
            tracing::warn!(table = %table, expected = batch.count, found = messages.len(), "an in-flight batch no longer splits as it did; published under new ids");
        }
        for (index, (subject, payload, rows)) in messages.into_iter().enumerate() {
            let number = batch.counter + index as u64;
            if batch.acked.contains(&number) {
                continue;
            }
            let id = format!("{}.{number}", edge.edge_id);
            let outgoing = edge::Outgoing { table, subject, id, payload, rows, journaled: Some((batch.counter, number)) };
            publisher.send(outgoing).await.map_err(|_| anyhow::anyhow!("replaying the spool: the publisher closed"))?;
            republished += 1;
        }
    }
    if republished > 0 {
        tracing::info!(messages = republished, "in-flight bus messages published again under their ids");
    }
    super::spool::replay_entries(router, rest).await
}

/// A batch's table, messages and publisher, and the custom rows that no longer convert.
type Resplit<'p> = (Table, Vec<(String, bytes::Bytes, usize)>, &'p mpsc::Sender<edge::Outgoing>, Vec<(RowRecord, Rejection)>);

/// An in-flight batch's records split as the publish stage split them, with the
/// publisher of their table.
fn resplit<'p>(
    edge: &edge::EdgeShared,
    publishers: &'p Publishers,
    batch: &journal::OpenBatch,
    records: &[(Record, u128)],
) -> Option<Resplit<'p>> {
    if batch.stream == Table::CUSTOM_SPOOL_STREAM {
        // A custom table's batch: its rows, converted again as the router converted them.
        let name = records.iter().find_map(|(record, _)| match record {
            Record::Row(row) => Some(row.table.as_str()),
            _ => None,
        })?;
        let (schema, publisher) = publishers.by_custom_table.get(name)?;
        let mut rows: Vec<(CustomRow, u128)> = Vec::with_capacity(records.len());
        let mut refused = Vec::new();
        for (record, id) in records {
            if let Record::Row(row) = record {
                match row_convert::convert(schema, row) {
                    Ok(converted) => rows.push((converted, *id)),
                    Err(rejection) => refused.push((row.clone(), rejection)),
                }
            }
        }
        let messages = edge.split_custom(schema, &rows, |(row, id)| (row, *id));
        return Some((schema.table, messages, publisher, refused));
    }
    let table = Table::from_id(batch.stream)?;
    let publisher = publishers.by_table.get(&table)?;
    let messages = if table == Table::Relational {
        let rows: Vec<(&RowRecord, u128)> = records
            .iter()
            .filter_map(|(record, id)| match record {
                Record::Row(row) => Some((row, *id)),
                _ => None,
            })
            .collect();
        edge.split_relational(&rows, |(row, id)| (*row, *id))
    } else {
        // Split as the publish stage split their rows.
        edge.split(
            table,
            records,
            |item| codec::record_venue(&item.0),
            codec::begin,
            |item, out| {
                codec::push_record(&item.0, item.1, out);
            },
        )
    };
    Some((table, messages, publisher, Vec::new()))
}
