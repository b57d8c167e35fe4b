//! Starting while the database is unreachable. With a spool (and `bus.role = "all"`),
//! the daemon does not wait for the database to take records: the spool opens from its
//! own `committed` floor instead of the database's ranges (`Spool::open_offline`, which
//! sets a wide band of sequences aside so none the database may hold is given again),
//! the push server and the sources run, and every accepted record is spooled and acked
//! at `received`/`durable`; `committed` acks wait. Relational rows (`row` records for a
//! table outside the custom tables) need the database's description of their table,
//! so until then they are refused as retryable (`database_unavailable`), never acked.
//! The id window starts empty and is filled from `ingest_ids` later.
//!
//! One task (`bring_up`) waits for the database, retrying a connection-level failure
//! with capped backoff forever (logged sampled) and stopping the daemon on any other
//! failure (a migration or table that does not fit). Once the schema is prepared it
//! reads what start-up reads online — the spool's committed ranges (merged into the
//! progress, and the sequences set aside marked committed), the relational catalog, the
//! recent ids — then starts the tables' batchers and writers, replays the spool minus
//! what the database holds, and starts the spill readers. Records queued meanwhile
//! carry their spool sequences, so each is written once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::background::{spawn_aggregate_refresh, spawn_interval_retention, spawn_partition_maintenance, spawn_spool_compaction};
use super::spool::replay_spool;
use super::{database_url, lanes, log_schema, Daemon, Shared};
use crate::config::Config;
use crate::db::{self, Partitions, Profile, SchemaReport};
use crate::pipeline::{spawn_spill_readers, IdWindow, LaneReceiver, LaneState, Router, Sequenced};
use crate::record::{CustomRow, RowRecord, Table};
use crate::sink::WriterSettings;
use crate::source::push::PushRows;
use crate::spool::{CommitTracker, Recovered, Skipped, SpoolProgress};

/// How often the wait for the database logs, at most.
const WAIT_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// Prepares the schema once. `None` when the database is unreachable and the daemon
/// may start without it; any other failure is returned.
pub(super) async fn first_attempt(config: &Config, may_start_offline: bool) -> anyhow::Result<Option<SchemaReport>> {
    let url = database_url(config)?;
    match db::prepare_schema(config, &PushRows).await {
        Ok(report) => Ok(Some(report)),
        Err(error) if may_start_offline && error.is_unreachable() => {
            tracing::warn!(
                database = %db::describe_url(url),
                %error,
                "the database is unreachable; starting on the spool, writers start once it answers"
            );
            Ok(None)
        }
        Err(error) => Err(anyhow::Error::new(error).context(format!("preparing the database schema of {}", db::describe_url(url)))),
    }
}

/// What a start without the database started once the database answered.
pub(super) struct Started {
    pub(super) batchers: Vec<std::thread::JoinHandle<usize>>,
    pub(super) writers: Vec<JoinHandle<()>>,
    pub(super) lanes: Vec<Arc<LaneState>>,
}

/// What a start without the database keeps for when it answers.
pub(super) struct Waiting {
    pub(super) receivers: lanes::Receivers,
    pub(super) custom_receivers: Vec<(Table, LaneReceiver<Sequenced<CustomRow>>)>,
    pub(super) rows_rx: LaneReceiver<Sequenced<RowRecord>>,
    pub(super) replay: Recovered,
    pub(super) settings: Arc<WriterSettings>,
}

impl Daemon {
    /// After a start without the database: a task that waits for it, reads what an
    /// online start reads, then starts the writers and the spool replay (see the header).
    /// A failure other than the database being unreachable stops the daemon.
    pub(super) fn spawn_bring_up(&self, config: Config, router: Router, waiting: Waiting) -> JoinHandle<Option<Started>> {
        let mut workers = Daemon {
            push_addr: None,
            metrics_addr: None,
            stats: self.stats.clone(),
            health: self.health.clone(),
            router: None,
            sources_stop: self.sources_stop.clone(),
            sources: self.sources.clone(),
            background_stop: self.background_stop.clone(),
            batchers: Vec::new(),
            lanes: Vec::new(),
            writers: Vec::new(),
            failed: self.failed.clone(),
            failure: self.failure.clone(),
            deadline: self.deadline,
            router_spooled: true,
            pending: None,
        };
        tokio::spawn(async move {
            match workers.bring_up(&config, router, waiting).await {
                Ok(true) => Some(Started { batchers: workers.batchers, writers: workers.writers, lanes: workers.lanes }),
                Ok(false) => None,
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "the database answered but the start cannot go on");
                    workers.failure.lock().unwrap_or_else(|poison| poison.into_inner()).get_or_insert(format!("{error:#}"));
                    workers.failed.cancel();
                    // What was started is joined by `stop` all the same.
                    Some(Started { batchers: workers.batchers, writers: workers.writers, lanes: workers.lanes })
                }
            }
        })
    }

    /// `Ok(false)`: stopped before the database answered.
    async fn bring_up(&mut self, config: &Config, router: Router, waiting: Waiting) -> anyhow::Result<bool> {
        let Some(schema) = wait_for_schema(config, &self.sources_stop).await? else { return Ok(false) };
        log_schema(&schema);
        let Waiting { receivers, custom_receivers, rows_rx, replay, settings } = waiting;
        let progress = router.spool().map(|gate| gate.progress.clone());
        if let Some(progress) = &progress {
            settle_spool(config, progress, &replay.skipped).await?;
        }
        let catalog = Arc::new(lanes::load_catalog(config).await?);
        router.catalog().set(catalog.clone());
        if let (Some(window), Some(server)) = (router.id_window(), &config.server) {
            fill_id_window(config, window, server.dedup_ids).await?;
        }
        let partitions = Arc::new(Partitions::new(db::partition_plans(config, schema.profile)));
        let shared = Shared { config, settings, partitions: partitions.clone(), stats: self.stats.clone() };
        drop(self.start_builtin_tables(&shared, receivers));
        for (table, receiver) in custom_receivers {
            self.start_table(table, &shared, receiver);
        }
        drop(self.start_relational(&shared, rows_rx, catalog));
        if schema.profile == Profile::Vanilla {
            spawn_partition_maintenance(config, partitions, self.background_stop.clone());
            if config.aggregates.ohlcv {
                spawn_aggregate_refresh(config, self.background_stop.clone());
            }
        }
        spawn_interval_retention(config, schema.profile, self.background_stop.clone());
        if let Some(progress) = &progress {
            replay_spool(&router, progress, &replay).await?;
            spawn_spill_readers(&router, &self.sources_stop, &self.sources);
            spawn_spool_compaction(config, progress.clone(), self.background_stop.clone());
        }
        tracing::info!("writers started; the spool drains into the database");
        Ok(true)
    }
}

/// Retries preparing the schema until it succeeds (`Some`), `stop` is cancelled
/// (`None`), or it fails other than by the database being unreachable (an error).
pub(super) async fn wait_for_schema(config: &Config, stop: &CancellationToken) -> anyhow::Result<Option<SchemaReport>> {
    let initial = Duration::from_millis(config.database.retry_initial_backoff_ms.get());
    let max = Duration::from_millis(config.database.retry_max_backoff_ms.max(1));
    let mut delay = initial;
    let mut attempts: u64 = 0;
    let mut last_log = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(None),
            _ = tokio::time::sleep(delay) => {}
        }
        match db::prepare_schema(config, &PushRows).await {
            Ok(report) => {
                tracing::info!(attempts = attempts + 1, "the database answers; schema prepared");
                return Ok(Some(report));
            }
            Err(error) if error.is_unreachable() => {
                attempts += 1;
                if last_log.elapsed() >= WAIT_LOG_INTERVAL {
                    tracing::warn!(%error, attempts, "still waiting for the database; records are spooled");
                    last_log = Instant::now();
                }
                delay = (delay * 2).min(max);
            }
            Err(error) => return Err(anyhow::Error::new(error).context("preparing the database schema")),
        }
    }
}

/// Merges what the database committed of each spool stream into `progress`, and marks
/// the sequences set aside by offline opens committed (those the database does not hold
/// in `ingest_spool_ranges`, all of them in `progress`). Run before any writer.
pub(super) async fn settle_spool(config: &Config, progress: &SpoolProgress, skipped: &[Skipped]) -> anyhow::Result<()> {
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
    let by_name = db::load_spool_commits(&client).await?;
    let streams = Table::ALL
        .iter()
        .map(|table| (table.spool_stream(), table.spool_stream_name()))
        .chain(std::iter::once((Table::CUSTOM_SPOOL_STREAM, Table::CUSTOM_SPOOL_STREAM_NAME)));
    for (stream, name) in streams {
        let Some(tracker) = by_name.get(name) else { continue };
        let mut ranges: Vec<(u64, u64)> = tracker.ranges().collect();
        if tracker.watermark() > 0 {
            ranges.push((1, tracker.watermark()));
        }
        progress.committed(stream, &ranges);
    }
    for skip in skipped {
        let name = super::spool::stream_name(skip.stream);
        let missing = uncommitted(by_name.get(name), skip.first, skip.last);
        db::commit_spool_ranges(&client, name, &missing).await.context("marking set-aside spool sequences committed")?;
        progress.committed(skip.stream, &[(skip.first, skip.last)]);
    }
    Ok(())
}

/// The parts of `first..=last` that `tracker` does not hold.
fn uncommitted(tracker: Option<&CommitTracker>, first: u64, last: u64) -> Vec<(u64, u64)> {
    let Some(tracker) = tracker else { return vec![(first, last)] };
    let mut missing = Vec::new();
    let mut next = first.max(tracker.watermark() + 1);
    for (start, end) in tracker.ranges() {
        if next > last || start > last {
            break;
        }
        if end < next {
            continue;
        }
        if start > next {
            missing.push((next, start - 1));
        }
        next = end + 1;
    }
    if next <= last {
        missing.push((next, last));
    }
    missing
}

/// Admits the most recently committed ids into a window that started empty.
pub(super) async fn fill_id_window(config: &Config, window: &IdWindow, capacity: usize) -> anyhow::Result<()> {
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
    for key in db::load_recent_ids(&client, capacity).await?.into_iter().rev() {
        window.admit(key);
    }
    Ok(())
}

/// Whether an error is a spool refused for an offline open (written by an older version).
pub(super) fn is_no_floor(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| matches!(cause.downcast_ref::<crate::spool::SpoolError>(), Some(crate::spool::SpoolError::NoFloor(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_parts_of_a_range() {
        let mut tracker = CommitTracker::new(10);
        tracker.commit(15, 20);
        tracker.commit(30, 30);
        assert_eq!(uncommitted(Some(&tracker), 5, 40), [(11, 14), (21, 29), (31, 40)]);
        assert_eq!(uncommitted(Some(&tracker), 16, 18), []);
        assert_eq!(uncommitted(None, 1, 3), [(1, 3)]);
    }
}
