//! Wiring: builds the daemon from a configuration (migrations, partitions, lanes,
//! batchers, writers, metrics, sources), runs it until a signal or a fatal writer
//! error, and stops it in order: sources first, then lanes close, batchers flush,
//! writers drain and commit, all within the shutdown deadline. With a spool, an
//! unreachable database does not stop the start: see `offline`. Every command loads its
//! configuration through `load`, which adds the checks of `db` and `source` to the
//! configuration's own.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{BusRole, Config};
use crate::db::{self, Partitions, Profile, SchemaReport};
use crate::metrics::{self, events, Health, Stats};
use crate::pipeline::{spawn_spill_readers, LaneState, Router};
use crate::record::{RelationalCatalog, SharedCatalog};
use crate::shutdown;
use crate::sink::WriterSettings;
use crate::source::push::{PushRows, PushServer, PushSettings};
use crate::source::{Source, SourceContext};
use crate::spool::Recovered;

mod background;
mod bus;
mod lanes;
mod load;
mod offline;
mod spool;
mod tables;

use background::{
    spawn_aggregate_refresh, spawn_dead_letter_retention, spawn_health_checks, spawn_id_trimming, spawn_interval_retention,
    spawn_partition_maintenance, spawn_spool_compaction,
};
pub use load::{load_config, load_config_str, warnings};
use offline::{Started, Waiting};
use spool::{open_spool, open_spool_offline, replay_spool, spawn_release_writer};

/// A writer stores the ids of every record the bus brings; it keeps this many of the
/// most recent, which bounds how long a resend is recognized.
const WRITER_IDS_KEPT: usize = 1_000_000;

/// A running daemon.
pub struct Daemon {
    /// Where the push server listens (the bound address, when the config said port 0).
    pub push_addr: Option<SocketAddr>,
    /// Where `/metrics` is served.
    pub metrics_addr: Option<SocketAddr>,
    pub stats: Arc<Stats>,
    /// What `/readyz` reports.
    pub health: Arc<Health>,
    router: Option<Router>,
    sources_stop: CancellationToken,
    sources: TaskTracker,
    background_stop: CancellationToken,
    batchers: Vec<std::thread::JoinHandle<usize>>,
    /// What each table's lane holds, for the stop report.
    lanes: Vec<Arc<LaneState>>,
    writers: Vec<JoinHandle<()>>,
    failed: CancellationToken,
    failure: Arc<Mutex<Option<String>>>,
    deadline: Duration,
    /// Records are spooled, so what is held in memory is also on disk.
    router_spooled: bool,
    /// After a start without the database: the task that starts the writers once it
    /// answers (see `offline`), with what it started.
    pending: Option<JoinHandle<Option<Started>>>,
}

/// Rows the daemon holds in memory, not yet committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsHeld {
    pub in_channels: u64,
    pub in_batches: u64,
}

/// What a completed stop reports.
#[derive(Debug)]
pub struct StopReport {
    pub elapsed: Duration,
}

fn database_url(config: &Config) -> anyhow::Result<&str> {
    config.database_url().context("database.url is not set; give it in the file or in DATABASE_URL")
}

/// Prepares the database schema for this configuration (see `db::prepare_schema`).
pub async fn migrate(config: &Config) -> anyhow::Result<SchemaReport> {
    migrate_with(config, db::SchemaOptions::default()).await
}

/// `migrate` with the operator's choices (e.g. accepting a retention drop).
pub async fn migrate_with(config: &Config, options: db::SchemaOptions) -> anyhow::Result<SchemaReport> {
    database_url(config)?;
    Ok(db::prepare_schema_with(config, &PushRows, options).await?)
}

impl Daemon {
    /// Migrates, then starts writers, metrics and sources. Returns once the push
    /// server is listening.
    pub async fn start(config: &Config) -> anyhow::Result<Daemon> {
        for warning in warnings(config) {
            tracing::warn!("{warning}");
        }
        // Built first: a source that cannot be built stops the start before anything runs.
        let sources = config.sources.iter().map(crate::source::from_config).collect::<anyhow::Result<Vec<_>>>()?;
        let push_settings = config.server.as_ref().map(PushSettings::from_config).transpose()?;
        let role = config.bus.role;
        let edge = role == BusRole::Edge;
        // An edge never opens the database. With a spool, a daemon that is not a bus
        // writer starts without it when it is unreachable (see `offline`).
        let may_start_offline = config.spool.is_some() && role == BusRole::All;
        let mut schema = if edge { None } else { offline::first_attempt(config, may_start_offline).await? };
        let mut offline_spool = None;
        if let (false, None, Some(spool_config)) = (edge, &schema, &config.spool) {
            match open_spool_offline(spool_config).await {
                Ok(opened) => offline_spool = Some(opened),
                Err(error) if offline::is_no_floor(&error) => {
                    tracing::warn!(error = %format!("{error:#}"), "waiting for the database before taking records");
                    schema = offline::wait_for_schema(config, &CancellationToken::new()).await?;
                }
                Err(error) => return Err(error),
            }
        }
        let offline = offline_spool.is_some();
        if let Some(schema) = &schema {
            log_schema(schema);
        }
        let profile = schema.as_ref().map_or(Profile::Vanilla, |schema| schema.profile);

        // Before anything is counted: what is recorded earlier is lost.
        metrics::install_recorder();
        let stats = Stats::new();
        let health = Arc::new(Health::new(&config.health));
        let background_stop = CancellationToken::new();
        let failed = CancellationToken::new();
        let failure = Arc::new(Mutex::new(None));
        let partitions = Arc::new(Partitions::new(db::partition_plans(config, profile)));
        let edge_spool = match (&config.spool, edge) {
            (Some(spool_config), true) => Some(bus::open_edge_spool(spool_config).await?),
            _ => None,
        };
        let (spool, replay, releases) = match (&config.spool, &edge_spool) {
            (Some(_), Some(edge_spool)) => (Some(edge_spool.progress.clone()), Recovered::default(), None),
            (Some(spool_config), None) => {
                let (progress, recovered) = match offline_spool {
                    Some(opened) => opened,
                    None => {
                        let (progress, recovered) = open_spool(config, spool_config).await?;
                        // Sequences an earlier start without the database set aside.
                        if !recovered.skipped.is_empty() {
                            offline::settle_spool(config, &progress, &recovered.skipped).await?;
                        }
                        (progress, recovered)
                    }
                };
                let releases = spawn_release_writer(config, progress.clone(), background_stop.clone())?;
                (Some(progress), recovered, Some(releases))
            }
            (None, _) => (None, Recovered::default(), None),
        };
        if let (Some(progress), Some(spool_config)) = (&spool, &config.spool) {
            let watched = progress.clone();
            health.watch_spool(spool_config.max_bytes, Box::new(move || watched.spool().used_bytes()));
        }
        let settings = Arc::new(WriterSettings {
            spool: spool.clone(),
            url: if edge { String::new() } else { database_url(config)?.to_string() },
            connect_timeout: Duration::from_millis(config.database.connect_timeout_ms.get()),
            initial_backoff: Duration::from_millis(config.database.retry_initial_backoff_ms.get()),
            max_backoff: Duration::from_millis(config.database.retry_max_backoff_ms),
        });

        let (senders, receivers, rows_rx) = lanes::open(config);
        let dead_letters = senders.dead_letters.clone();
        let catalog = Arc::new(if edge {
            RelationalCatalog::on_edge(&config.relational_catalog_names())
        } else if offline {
            RelationalCatalog::until_database()
        } else {
            lanes::load_catalog(config).await?
        });
        let lanes::CustomLanes { lanes: custom_lanes, keyed: keyed_lanes, receivers: custom_receivers } = lanes::custom(config, &stats)?;
        let ids = if edge || offline { lanes::edge_id_window(config) } else { lanes::id_window(config).await? };
        let parts = lanes::RouterParts {
            catalog: Arc::new(SharedCatalog::new(RelationalCatalog::clone(&catalog))),
            spool: spool.clone(),
            releases,
            custom_tables: custom_lanes,
            keyed_tables: keyed_lanes,
            ids,
        };
        let router = lanes::router(config, senders, parts);

        let mut daemon = Daemon {
            push_addr: None,
            metrics_addr: None,
            stats: stats.clone(),
            health: health.clone(),
            router: None,
            sources_stop: CancellationToken::new(),
            sources: TaskTracker::new(),
            background_stop: background_stop.clone(),
            batchers: Vec::new(),
            lanes: Vec::new(),
            writers: Vec::new(),
            failed,
            failure,
            deadline: Duration::from_secs(config.shutdown.deadline_secs.get()),
            router_spooled: spool.is_some(),
            pending: None,
        };
        let shared = Shared { config, settings, partitions: partitions.clone(), stats: stats.clone() };
        if edge {
            let edge_shared = bus::edge_shared(config, edge_spool.as_ref()).await?;
            let publishers = daemon.start_edge_tables(&shared, &edge_shared, receivers, rows_rx, custom_receivers)?;
            drop(dead_letters);
            health.without_database();
            daemon.start_metrics_and_summary(config, &health, &stats, &background_stop).await?;
            if let Some(edge_spool) = edge_spool {
                spool::report_losses(&router, &edge_spool.recovered).await;
                bus::replay_edge(&router, &edge_shared, &publishers, edge_spool.open, edge_spool.replay).await?;
                spawn_spill_readers(&router, &daemon.sources_stop, &daemon.sources);
            }
            drop(publishers);
            daemon.start_sources(&router, &health, push_settings, sources).await?;
            daemon.router = Some(router);
            return Ok(daemon);
        }
        if offline {
            // Only what needs no database now; the rest once it answers.
            spawn_health_checks(config, health.clone(), background_stop.clone());
            spawn_dead_letter_retention(config, background_stop.clone());
            daemon.start_metrics_and_summary(config, &health, &stats, &background_stop).await?;
            if let Some(server) = config.server.as_ref().filter(|server| server.dedup_ids > 0) {
                spawn_id_trimming(config, server.dedup_ids, background_stop.clone());
            }
            let waiting = Waiting { receivers, custom_receivers, rows_rx, replay, settings: shared.settings.clone() };
            daemon.pending = Some(daemon.spawn_bring_up(config.clone(), router.clone(), waiting));
            drop(dead_letters);
            daemon.start_sources(&router, &health, push_settings, sources).await?;
            daemon.router = Some(router);
            return Ok(daemon);
        }
        let queues = daemon.start_builtin_tables(&shared, receivers);
        let mut custom_queues = Vec::new();
        for (table, receiver) in custom_receivers {
            custom_queues.push((table, daemon.start_table(table, &shared, receiver)));
        }
        let relational_queue = daemon.start_relational(&shared, rows_rx, catalog);
        if role == BusRole::Writer {
            let writer =
                bus::writer_shared(config, &shared.settings.url, partitions.clone(), dead_letters.clone(), &background_stop).await?;
            daemon.start_consumers(&shared, &writer, queues);
            daemon.start_row_consumers(&shared, &writer, relational_queue, custom_queues)?;
            // Every id the bus brings is stored by the writers; keep the most recent.
            spawn_id_trimming(config, WRITER_IDS_KEPT, background_stop.clone());
        }
        drop(dead_letters);

        if profile == Profile::Vanilla {
            spawn_partition_maintenance(config, partitions, background_stop.clone());
            if config.aggregates.ohlcv {
                spawn_aggregate_refresh(config, background_stop.clone());
            }
        }
        spawn_health_checks(config, health.clone(), background_stop.clone());
        spawn_dead_letter_retention(config, background_stop.clone());
        spawn_interval_retention(config, profile, background_stop.clone());
        daemon.start_metrics_and_summary(config, &health, &stats, &background_stop).await?;

        if let Some(server) = config.server.as_ref().filter(|server| server.dedup_ids > 0) {
            spawn_id_trimming(config, server.dedup_ids, background_stop.clone());
        }
        if let Some(progress) = &spool {
            replay_spool(&router, progress, &replay).await?;
            spawn_spill_readers(&router, &daemon.sources_stop, &daemon.sources);
            spawn_spool_compaction(config, progress.clone(), background_stop.clone());
        }
        daemon.start_sources(&router, &health, push_settings, sources).await?;
        daemon.router = Some(router);
        Ok(daemon)
    }

    async fn start_metrics_and_summary(
        &mut self,
        config: &Config,
        health: &Arc<Health>,
        stats: &Arc<Stats>,
        background_stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        if config.metrics.enabled {
            let limits = metrics::ListenerLimits {
                max_connections: config.metrics.max_connections.get(),
                request_timeout: Duration::from_millis(config.metrics.request_timeout_ms),
            };
            let (bound, _task) = metrics::serve_metrics(config.metrics.listen, limits, health.clone(), background_stop.clone())
                .await
                .with_context(|| format!("binding metrics.listen {}", config.metrics.listen))?;
            tracing::info!(listen = %bound, "metrics at http://{bound}/metrics");
            self.metrics_addr = Some(bound);
        }
        if config.metrics.summary_interval_secs > 0 {
            metrics::spawn_summary_logger(
                stats.clone(),
                Duration::from_secs(config.metrics.summary_interval_secs),
                background_stop.clone(),
            );
        }
        Ok(())
    }

    async fn start_sources(
        &mut self,
        router: &Router,
        health: &Arc<Health>,
        push_settings: Option<PushSettings>,
        sources: Vec<Box<dyn Source>>,
    ) -> anyhow::Result<()> {
        let context = SourceContext { router: router.clone(), health: health.clone(), shutdown: self.sources_stop.clone() };
        if let Some(settings) = push_settings {
            let listen = settings.listen;
            let push = PushServer::bind(settings).await.with_context(|| format!("binding server.listen {listen}"))?;
            self.push_addr = Some(push.local_addr()?);
            self.spawn_source(Box::new(push), context.clone());
        }
        for source in sources {
            health.source_registered(source.name());
            self.spawn_source(source, context.clone());
        }
        Ok(())
    }

    fn spawn_source(&self, source: Box<dyn Source>, context: SourceContext) {
        let name = source.name().to_string();
        events::source_started(&name);
        let failed = self.failed.clone();
        let failure = self.failure.clone();
        self.sources.spawn(async move {
            if let Err(error) = source.run(context).await {
                tracing::error!(source = %name, error = %format!("{error:#}"), "source stopped");
                *failure.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(format!("source {name}: {error:#}"));
                failed.cancel();
            }
        });
    }

    /// The router the daemon's sources hand records to, for a source run beside them
    /// (a replay); drop it before `stop`, which waits for every router to go.
    pub fn router(&self) -> Option<Router> {
        self.router.clone()
    }

    /// Rows taken in and not yet committed or dead-lettered: in the tables' channels, and
    /// in closed batches (encoded, queued for a writer, or being written).
    pub fn rows_held(&self) -> RowsHeld {
        let in_channels = self.lanes.iter().map(|lane| lane.rows() as u64).sum();
        let in_batches = self.stats.snapshots().iter().map(|snapshot| snapshot.rows_in_batches).sum();
        RowsHeld { in_channels, in_batches }
    }

    /// Resolves when a writer or source has failed for good.
    pub fn failed(&self) -> CancellationToken {
        self.failed.clone()
    }

    /// Stops in order and waits for every queued row to be committed, within the
    /// shutdown deadline. Fails if the deadline passed or a component had failed.
    pub async fn stop(mut self) -> anyhow::Result<StopReport> {
        let started = std::time::Instant::now();
        self.sources_stop.cancel();
        // A start still waiting for the database gives up (what it holds is spooled);
        // one that got through hands over what it started.
        if let Some(pending) = self.pending.take() {
            if let Ok(Some(started)) = pending.await {
                self.batchers.extend(started.batchers);
                self.writers.extend(started.writers);
                self.lanes.extend(started.lanes);
            }
        }
        self.sources.close();
        let batchers = std::mem::take(&mut self.batchers);
        let writers = std::mem::take(&mut self.writers);
        let router = self.router.take();
        let sources = self.sources.clone();
        let drained = tokio::time::timeout(self.deadline, async move {
            sources.wait().await;
            // With every source gone, dropping the last router closes the lanes.
            drop(router);
            for batcher in batchers {
                let _ = tokio::task::spawn_blocking(move || batcher.join()).await;
            }
            for writer in writers {
                let _ = writer.await;
            }
        })
        .await;
        self.background_stop.cancel();
        if drained.is_err() {
            let held = self.rows_held();
            bail!(
                "shutdown deadline of {}s passed before the writers drained: {} rows not committed \
                 ({} in channels, {} in batches waiting for or in a writer){}",
                self.deadline.as_secs(),
                held.in_channels + held.in_batches,
                held.in_channels,
                held.in_batches,
                if self.router_spooled { "; spooled rows are replayed on the next start" } else { "" },
            );
        }
        if let Some(failure) = self.failure.lock().unwrap_or_else(|poison| poison.into_inner()).take() {
            bail!("{failure}");
        }
        let report = StopReport { elapsed: started.elapsed() };
        tracing::info!(elapsed_ms = report.elapsed.as_millis() as u64, "stopped; every queued row committed");
        Ok(report)
    }
}

fn log_schema(schema: &SchemaReport) {
    tracing::info!(
        profile = schema.profile.name(),
        migrations_applied = schema.migrations.applied.len(),
        settings_changed = schema.converged.len(),
        "schema ready"
    );
    for warning in &schema.warnings {
        tracing::warn!("{warning}");
    }
}

struct Shared<'a> {
    config: &'a Config,
    settings: Arc<WriterSettings>,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
}

/// `hypertick run`: start, wait for a signal or a fatal failure, stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let daemon = Daemon::start(&config).await?;
    let failed = daemon.failed();
    tokio::select! {
        signal = shutdown::signal() => tracing::info!(signal, "stopping: sources first, then drain and commit"),
        _ = failed.cancelled() => tracing::error!("a component failed; stopping"),
    }
    daemon.stop().await.map(|_| ())
}
