//! The daemon's periodic background work: each task opens a fresh connection per run
//! and retries at the next interval after a failure; the health check keeps one
//! connection between checks instead.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{self, Partitions};
use crate::metrics::Health;
use crate::record::{Table, Timestamp};
use crate::spool::SpoolProgress;

/// Runs `work` on a fresh connection every `interval` until `stop`; a failure is
/// logged and retried at the next interval.
fn spawn_periodic<Work, Done>(what: &'static str, config: &Config, interval: Duration, stop: CancellationToken, work: Work)
where
    Work: Fn(tokio_postgres::Client) -> Done + Send + 'static,
    Done: std::future::Future<Output = Result<(), db::DbError>> + Send,
{
    let url = config.database_url().unwrap_or_default().to_string();
    let timeout = Duration::from_millis(config.database.connect_timeout_ms.get());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let result = match db::connect(&url, timeout).await {
                Ok(client) => work(client).await,
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                tracing::warn!(%error, task = what, "periodic task failed; retrying next interval");
            }
        }
    });
}

/// Folds committed spool ranges into each stream's watermark row now and then.
pub(super) fn spawn_spool_compaction(config: &Config, progress: Arc<SpoolProgress>, stop: CancellationToken) {
    spawn_periodic("spool compaction", config, Duration::from_secs(10), stop, move |mut client| {
        let progress = progress.clone();
        async move {
            for (stream, watermark) in progress.watermarks() {
                db::compact_spool_commits(&mut client, super::spool::stream_name(stream), watermark).await?;
            }
            Ok(())
        }
    });
}

/// Vanilla PostgreSQL: partitions ahead of now, and dropped past retention.
pub(super) fn spawn_partition_maintenance(config: &Config, partitions: Arc<Partitions>, stop: CancellationToken) {
    let ahead = config.schema.partitions_ahead;
    let interval = Duration::from_secs(config.schema.maintenance_interval_secs.get());
    spawn_periodic("partition maintenance", config, interval, stop, move |mut client| {
        let partitions = partitions.clone();
        async move { partitions.maintain(&mut client, Timestamp::now(), ahead).await.map(|_| ()) }
    });
}

/// Vanilla PostgreSQL: the OHLCV aggregates, refreshed where ticks were written since
/// the last refresh (see `db::aggregates`).
pub(super) fn spawn_aggregate_refresh(config: &Config, stop: CancellationToken) {
    let interval = Duration::from_secs(config.aggregates.refresh_interval_secs.get());
    spawn_periodic("OHLCV refresh", config, interval, stop, |client| async move {
        let started = std::time::Instant::now();
        let report = db::aggregates::refresh_vanilla(&client).await?;
        if report.ranges > 0 {
            tracing::debug!(
                ranges = report.ranges,
                rows = report.rows,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "OHLCV aggregates refreshed"
            );
        }
        Ok(())
    });
}

/// Deletes dead letters past `tables.dead_letters.retention_days` (0: kept forever),
/// every `schema.maintenance_interval_secs`.
pub(super) fn spawn_dead_letter_retention(config: &Config, stop: CancellationToken) {
    let retention_days = config.table(Table::DeadLetters).retention_days;
    if retention_days == 0 {
        return;
    }
    let interval = Duration::from_secs(config.schema.maintenance_interval_secs.get());
    spawn_periodic("dead letter retention", config, interval, stop, move |client| async move {
        let deleted = db::delete_expired_dead_letters(&client, retention_days).await?;
        crate::metrics::events::dead_letters_expired(deleted);
        Ok(())
    });
}

/// Deletes rows past their interval's retention (`[tables.bars] retention_by_interval`)
/// every `schema.maintenance_interval_secs`, on both profiles (see `db::IntervalDeletes`).
pub(super) fn spawn_interval_retention(config: &Config, profile: db::Profile, stop: CancellationToken) {
    let deletes = db::interval_deletes(config, profile);
    if deletes.is_empty() {
        return;
    }
    let deletes = Arc::new(tokio::sync::Mutex::new(deletes));
    let interval = Duration::from_secs(config.schema.maintenance_interval_secs.get());
    spawn_periodic("interval retention", config, interval, stop, move |client| {
        let deletes = deletes.clone();
        async move {
            let mut deletes = deletes.lock().await;
            for table in deletes.iter_mut() {
                for expiry in table.run(&client, Timestamp::now()).await? {
                    crate::metrics::events::interval_rows_expired(
                        expiry.table,
                        &expiry.interval,
                        expiry.retention_days,
                        expiry.rows,
                        expiry.pieces,
                    );
                }
            }
            Ok(())
        }
    });
}

/// Keeps `ingest_ids` at the most recent `keep` record ids.
pub(super) fn spawn_id_trimming(config: &Config, keep: usize, stop: CancellationToken) {
    spawn_periodic("record id trimming", config, Duration::from_secs(60), stop, move |client| async move {
        db::trim_ids(&client, keep).await.map(|_| ())
    });
}

/// Checks that the database answers (`SELECT 1`) every `health.database_check_interval_ms`
/// on a connection of its own, kept between checks and replaced after a failure, and
/// keeps the spool's size gauge current. Failures and recoveries are logged once each.
pub(super) fn spawn_health_checks(config: &Config, health: Arc<Health>, stop: CancellationToken) {
    let url = config.database_url().unwrap_or_default().to_string();
    let timeout = Duration::from_millis(config.database.connect_timeout_ms.get());
    let interval = Duration::from_millis(config.health.database_check_interval_ms.get());
    tokio::spawn(async move {
        let mut client = None;
        let mut was_reachable = true;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            health.update_spool_gauge();
            let outcome = check_database(&url, timeout, &mut client).await;
            match &outcome {
                Err(error) if was_reachable => tracing::warn!(%error, "readiness: the database does not answer"),
                Ok(()) if !was_reachable => tracing::info!("readiness: the database answers again"),
                _ => {}
            }
            was_reachable = outcome.is_ok();
            health.database_checked(outcome);
        }
    });
}

async fn check_database(url: &str, timeout: Duration, client: &mut Option<tokio_postgres::Client>) -> Result<(), String> {
    let connected = match client.take() {
        Some(existing) if !existing.is_closed() => existing,
        _ => db::connect(url, timeout).await.map_err(|error| error.to_string())?,
    };
    match tokio::time::timeout(timeout, connected.simple_query("SELECT 1")).await {
        Ok(Ok(_)) => {
            *client = Some(connected);
            Ok(())
        }
        Ok(Err(error)) => Err(crate::config::with_causes(&error)),
        Err(_) => Err(format!("no answer to SELECT 1 within {} ms (database.connect_timeout_ms)", timeout.as_millis())),
    }
}
