//! Scale-out over NATS JetStream: edges publish normalized records, writers consume them
//! with durable pull consumers and commit them to the database exactly once.
//!
//! One stream (`bus.stream`, subjects `<prefix>.>`, work-queue retention: a message
//! leaves the stream once a writer acked it, which it does after the commit; refusing
//! new messages when full, so edges keep records in their spool instead). One durable
//! consumer per table (the relational lane and each custom table included), shared by
//! all writers. `edge.rs` publishes, `journal.rs` lets a
//! restarted edge publish again exactly what it had in flight, `consume.rs` gathers
//! messages into database batches, and `sink::writer`'s bus path (and the relational
//! writer's, for relational rows) claims them. `codec.rs` and `row_codec.rs` say what
//! a message carries.

pub mod codec;
pub mod consume;
pub mod edge;
pub mod journal;
pub mod row_codec;
pub mod throwaway;

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use tokio_util::sync::CancellationToken;

use crate::config::BusConfig;
use crate::db;
use crate::record::Table;
use crate::sink::watermark_stream;

/// A message's subject: `<prefix>.<table>.<venue>` for a built-in table,
/// `<prefix>.relational.<table>` for relational rows (whose "venue" is their table),
/// `<prefix>.custom.<table>` for a custom table's rows.
pub fn subject(prefix: &str, table: Table, venue: &str) -> String {
    match table {
        Table::Custom(_) => format!("{prefix}.custom.{}", codec::subject_token(table.name())),
        _ => format!("{prefix}.{}.{}", table.name(), codec::subject_token(venue)),
    }
}

/// The subjects of a table's consumer.
pub fn subject_filter(prefix: &str, table: Table) -> String {
    match table {
        Table::Custom(_) => format!("{prefix}.custom.{}", codec::subject_token(table.name())),
        _ => format!("{prefix}.{}.>", table.name()),
    }
}

/// Connects to the NATS server(s), retrying until `give_up` passes: an edge or writer
/// started before its server waits for it rather than failing.
pub async fn connect(config: &BusConfig, give_up: Duration) -> anyhow::Result<jetstream::Context> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let attempt = async_nats::ConnectOptions::new()
            .name("hypertick")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(config.url.as_str());
        match tokio::time::timeout(Duration::from_secs(5), attempt).await {
            Ok(Ok(client)) => return Ok(jetstream::new(client)),
            Ok(Err(error)) if started.elapsed() >= give_up => {
                return Err(anyhow::anyhow!("connecting to bus.url {}: {error}", crate::config::redact_url(&config.url)));
            }
            Err(_) if started.elapsed() >= give_up => {
                return Err(anyhow::anyhow!(
                    "connecting to bus.url {}: no answer within {give_up:?}",
                    crate::config::redact_url(&config.url)
                ));
            }
            _ => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// The stream as configured: created when missing, its limits brought to the
/// configuration's when they differ. Returns it with its key in `ingest_bus_messages`
/// (`<name>@<created, µs>`: a stream deleted and created again starts a new key, so
/// its restarted sequence numbers are never mistaken for the old ones).
pub async fn ensure_stream(context: &jetstream::Context, config: &BusConfig) -> anyhow::Result<(stream::Stream, String)> {
    let wanted = stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject_prefix)],
        retention: stream::RetentionPolicy::WorkQueue,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        max_bytes: config.max_bytes,
        max_age: Duration::from_secs(config.max_age_secs),
        duplicate_window: Duration::from_secs(config.duplicate_window_secs),
        ..Default::default()
    };
    let mut stream =
        context.get_or_create_stream(wanted.clone()).await.with_context(|| format!("creating or opening bus.stream {}", config.stream))?;
    let info = stream.info().await.context("reading the stream's state")?.clone();
    let current = &info.config;
    if current.max_bytes != wanted.max_bytes || current.max_age != wanted.max_age || current.duplicate_window != wanted.duplicate_window {
        let mut changed = current.clone();
        changed.max_bytes = wanted.max_bytes;
        changed.max_age = wanted.max_age;
        changed.duplicate_window = wanted.duplicate_window;
        context.update_stream(changed).await.with_context(|| format!("updating the limits of bus.stream {}", config.stream))?;
        tracing::info!(stream = %config.stream, "stream limits brought to the configuration");
    }
    let key = format!("{}@{}", config.stream, info.created.unix_timestamp_nanos() / 1_000);
    Ok((stream, key))
}

/// Reads the stream's (and on a writer its consumers') state into the metrics.
pub fn spawn_metrics(
    mut stream: stream::Stream,
    config: &BusConfig,
    consumers: Vec<Table>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_secs(config.metrics_interval_secs.get());
    let prefix = config.consumer.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            match stream.info().await {
                Ok(info) => crate::metrics::events::bus_stream_state(
                    info.state.messages,
                    info.state.bytes,
                    info.config.max_bytes,
                    info.config.max_age,
                ),
                Err(error) => tracing::debug!(%error, "stream state not read"),
            }
            for table in &consumers {
                let name = consume::consumer_name(&prefix, *table);
                let Ok(mut consumer) = stream.get_consumer::<jetstream::consumer::pull::Config>(&name).await else { continue };
                if let Ok(info) = consumer.info().await {
                    crate::metrics::events::bus_consumer_state(*table, info.num_pending, info.num_ack_pending);
                }
            }
        }
    })
}

/// A writer's fold: every message below the stream's first sequence left the stream
/// (acked after its commit, or removed by the age limit), so the claims up to it are
/// folded into `ingest_offsets` `bus/<key>` and deleted.
pub fn spawn_fold(
    mut stream: stream::Stream,
    stream_key: String,
    url: String,
    connect_timeout: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(10));
        let mut folded = 0u64;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            let Ok(info) = stream.info().await else { continue };
            let watermark = info.state.first_sequence.saturating_sub(1);
            if watermark <= folded {
                continue;
            }
            match fold(&url, connect_timeout, &stream_key, watermark).await {
                Ok(deleted) => {
                    folded = watermark;
                    tracing::debug!(watermark, deleted, "bus claims folded");
                }
                Err(error) => tracing::warn!(%error, "bus claims not folded; retried later"),
            }
        }
    })
}

async fn fold(url: &str, connect_timeout: Duration, stream_key: &str, watermark: u64) -> anyhow::Result<u64> {
    let mut client = db::connect(url, connect_timeout).await?;
    Ok(db::fold_bus_claims(&mut client, &watermark_stream(stream_key), stream_key, watermark).await?)
}
