//! A table's batcher thread and writer tasks: the built-in tables, the custom ones and
//! the relational lane each start here.

use std::sync::Arc;
use std::time::Duration;

use super::{lanes, Daemon, Shared};
use crate::metrics::events;
use crate::pipeline::{run_batcher, taking, BatchSettings, Deliver, Gather, LaneReceiver, Sequenced};
use crate::record::{RelationalCatalog, RowRecord, Table};
use crate::sink::{
    batch_queue, encode_stage, run_relational_writer, run_writer, BatchBuffers, CopyRow, EncodeRow, EncodedBatch, KeyedPartitions,
    RelationalBatch, Spares, TableWriteSettings, WaitPolicy, WriterError,
};

impl Daemon {
    /// Every built-in table but the relational one, each fed by its lane. The writers
    /// dead-letter the rows the database refuses in the transaction of their batch.
    pub(super) fn start_builtin_tables(&mut self, shared: &Shared<'_>, receivers: lanes::Receivers) -> lanes::Queues {
        macro_rules! start_each {
            (($app:ident) $( $name:ident: $row:ty = $table:ident, )*) => {
                lanes::Queues { $( $name: $app.start_builtin_table(shared, receivers.$name), )* }
            };
        }
        crate::builtin_tables!(lanes => start_each(self))
    }

    fn start_builtin_table<R: CopyRow>(
        &mut self,
        shared: &Shared<'_>,
        receiver: LaneReceiver<Sequenced<R>>,
    ) -> tokio::sync::mpsc::Sender<EncodedBatch<R>> {
        self.start_table(R::TABLE, shared, receiver)
    }

    /// A table's batcher thread (which encodes) and its writer tasks.
    pub(super) fn start_table<R: EncodeRow>(
        &mut self,
        table: Table,
        shared: &Shared<'_>,
        receiver: LaneReceiver<Sequenced<R>>,
    ) -> tokio::sync::mpsc::Sender<EncodedBatch<R>> {
        let settings = shared.config.table(table);
        events::table_started(table);
        let (batch_sender, queue) = batch_queue::<R>(settings.writers);
        let queue_sender = batch_sender.clone();
        // Batches go out by segment key, newest first: as direct compress's columnstore
        // keeps them, and for a high-rate table's row store as its `(symbol, time DESC)`
        // index does, so the server's index inserts stay on a few pages at a time.
        let key_order = crate::sink::key_order(table, settings.write_mode);
        // One set of buffers for each batch that can be out at once: queued or being written.
        let spares = Spares::new(2 * settings.writers);
        let (gather, mut encode) = encode_stage(table, shared.partitions.clone(), batch_sender, key_order, spares);
        let closed = shared.stats.clone();
        // Counted until a writer is done with it (see `Stats::batch_finished`).
        let deliver = move |rows: &mut BatchBuffers<R>| {
            closed.batch_closed(table, rows.len());
            encode(rows)
        };
        self.spawn_batcher(table, "batch", "writers stopped", shared, receiver, gather, deliver);
        for writer_idx in 0..settings.writers {
            let writer = run_writer(
                table,
                writer_idx,
                queue.clone(),
                shared.settings.clone(),
                TableWriteSettings::for_table(shared.config, table),
                shared.partitions.clone(),
                shared.stats.clone(),
            );
            self.spawn_writer(table, writer);
        }
        queue_sender
    }

    /// The relational lane's batcher and its single writer (one, so that foreign-key
    /// order holds across batches too).
    /// Returns the writer's queue (a bus writer's relational consumer feeds it too).
    pub(super) fn start_relational(
        &mut self,
        shared: &Shared<'_>,
        receiver: LaneReceiver<Sequenced<RowRecord>>,
        catalog: Arc<RelationalCatalog>,
    ) -> tokio::sync::mpsc::Sender<RelationalBatch> {
        events::table_started(Table::Relational);
        let (batch_sender, queue) = tokio::sync::mpsc::channel::<RelationalBatch>(2);
        let queue_sender = batch_sender.clone();
        let stats = shared.stats.clone();
        let deliver = taking(move |rows: Vec<Sequenced<RowRecord>>| {
            stats.batch_closed(Table::Relational, rows.len());
            batch_sender.blocking_send(RelationalBatch { rows, bus: None }).map_err(|unsent| unsent.0.rows)
        });
        self.spawn_batcher(Table::Relational, "batch", "the relational writer stopped", shared, receiver, Vec::new(), deliver);
        let relational = &shared.config.relational;
        let policy = WaitPolicy {
            wait: Duration::from_millis(relational.wait_ms),
            max_rows: relational.wait_max_rows.get(),
            max_bytes: relational.wait_max_bytes.get(),
        };
        let keyed = shared.config.custom_tables.iter().filter(|custom| custom.is_keyed() && custom.is_partitioned());
        let partitions = KeyedPartitions {
            partitions: Some(shared.partitions.clone()),
            tables: keyed.filter_map(|custom| custom.shape().ok()).map(|schema| (schema.name().to_string(), schema.table)).collect(),
        };
        let writer = run_relational_writer(queue, shared.settings.clone(), catalog, policy, partitions, shared.stats.clone());
        self.spawn_writer(Table::Relational, writer);
        queue_sender
    }

    /// A table's batcher thread (`<thread>-<table>`): closes batches from the lane and
    /// hands them to `deliver`; what is still queued when `deliver` refuses is reported
    /// as lost in memory (`<stopped>; rows … were not …`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spawn_batcher<R: crate::record::ApproxBytes + Send + 'static, G: Gather<R> + Send + 'static>(
        &mut self,
        table: Table,
        thread: &str,
        stopped: &'static str,
        shared: &Shared<'_>,
        receiver: LaneReceiver<R>,
        gather: G,
        deliver: impl Deliver<G> + Send + 'static,
    ) {
        let batch_settings = batch_settings(&shared.config.table(table));
        let stats = shared.stats.clone();
        self.lanes.push(receiver.state());
        let batcher = std::thread::Builder::new()
            .name(format!("{thread}-{}", table.name()))
            .spawn(move || {
                let undelivered = run_batcher(table, receiver, batch_settings, &stats, gather, deliver);
                if undelivered > 0 {
                    tracing::error!(table = %table, rows = undelivered, "{stopped}; rows still queued in memory were not delivered");
                }
                undelivered
            })
            .expect("spawning a batcher thread");
        self.batchers.push(batcher);
    }

    pub(super) fn spawn_writer(
        &mut self,
        table: Table,
        writer: impl std::future::Future<Output = Result<(), WriterError>> + Send + 'static,
    ) {
        let failed = self.failed.clone();
        let failure = self.failure.clone();
        self.writers.push(tokio::spawn(async move {
            if let Err(error) = writer.await {
                tracing::error!(table = %table, %error, "writer stopped");
                failure.lock().unwrap_or_else(|poison| poison.into_inner()).get_or_insert(error.to_string());
                failed.cancel();
            }
        }));
    }
}

fn batch_settings(settings: &crate::config::EffectiveTableConfig) -> BatchSettings {
    BatchSettings {
        max_rows: settings.batch_max_rows,
        max_bytes: settings.batch_max_bytes,
        linger: Duration::from_millis(settings.linger_ms),
    }
}
