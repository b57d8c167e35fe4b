//! Starting on a spool: what the database has committed of each stream, the spool
//! opened with it, the losses it found reported, and the replay of what the database
//! lacks before any source runs, one segment at a time. Dead letters of spooled
//! records release their sequences through one writer task (`spawn_release_writer`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::database_url;
use crate::config::{Config, SpoolConfig};
use crate::db;
use crate::metrics::events;
use crate::pipeline::{Router, SpoolRelease, RELEASE_QUEUE};
use crate::record::{DeadLetter, Table};
use crate::spool::{codec, CommitTracker, Entry, Loss, Recovered, Spool, SpoolProgress, SpoolSettings};

/// The name of spool stream `stream` in the database (`spool/<name>`).
pub(super) fn stream_name(stream: u16) -> &'static str {
    match Table::ALL.get(stream as usize) {
        Some(table) => table.spool_stream_name(),
        None => Table::CUSTOM_SPOOL_STREAM_NAME,
    }
}

pub(super) fn settings(spool_config: &SpoolConfig) -> SpoolSettings {
    SpoolSettings {
        dir: spool_config.dir.clone(),
        max_bytes: spool_config.max_bytes,
        segment_bytes: spool_config.segment_bytes,
        fsync_interval: Duration::from_millis(spool_config.fsync_interval_ms),
    }
}

/// Opens the spool with what the database has committed of each stream.
pub(super) async fn open_spool(config: &Config, spool_config: &SpoolConfig) -> anyhow::Result<(Arc<SpoolProgress>, Recovered)> {
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
    let by_name = db::load_spool_commits(&client).await?;
    let mut trackers: HashMap<u16, CommitTracker> =
        Table::ALL.iter().filter_map(|table| by_name.get(table.name()).map(|tracker| (table.spool_stream(), tracker.clone()))).collect();
    if let Some(tracker) = by_name.get(Table::CUSTOM_SPOOL_STREAM_NAME) {
        trackers.insert(Table::CUSTOM_SPOOL_STREAM, tracker.clone());
    }
    let settings = settings(spool_config);
    let ((spool, recovered), trackers) =
        tokio::task::spawn_blocking(move || Spool::open(settings, &trackers).map(|opened| (opened, trackers)))
            .await
            .context("opening the spool")?
            .with_context(|| format!("opening spool.dir {}", spool_config.dir.display()))?;
    tracing::info!(
        dir = %spool_config.dir.display(),
        replay_segments = recovered.replay.len(),
        bytes_cut = recovered.bytes_cut,
        damaged_segments = recovered.damaged.len(),
        segments_deleted = recovered.segments_deleted,
        "spool open"
    );
    Ok((Arc::new(SpoolProgress::new(spool, trackers)), recovered))
}

/// A band this wide is set aside above each stream's known sequences by an offline
/// open: a crash can cut entries from the files that a writer had already committed,
/// and the database's ranges are not there to say so.
const OFFLINE_SEQUENCE_MARGIN: u64 = 1 << 32;

/// Opens the spool without the database (see `super::offline`): from its `committed`
/// floor, every stream's new sequences above a band set aside.
pub(super) async fn open_spool_offline(spool_config: &SpoolConfig) -> anyhow::Result<(Arc<SpoolProgress>, Recovered)> {
    let streams: Vec<u16> =
        Table::ALL.iter().map(|table| table.spool_stream()).chain(std::iter::once(Table::CUSTOM_SPOOL_STREAM)).collect();
    let settings = settings(spool_config);
    let (spool, recovered) = tokio::task::spawn_blocking(move || Spool::open_offline(settings, &streams, OFFLINE_SEQUENCE_MARGIN))
        .await
        .context("opening the spool")?
        .with_context(|| format!("opening spool.dir {} without the database", spool_config.dir.display()))?;
    tracing::info!(
        dir = %spool_config.dir.display(),
        replay_segments = recovered.replay.len(),
        bytes_cut = recovered.bytes_cut,
        damaged_segments = recovered.damaged.len(),
        "spool open without the database"
    );
    Ok((Arc::new(SpoolProgress::new(spool, HashMap::new())), recovered))
}

/// The queue and the task that write each spooled record's dead letter together with
/// its sequences (one transaction), then count them as done. A connection fault waits
/// for the server; a refusal of the dead letter itself is logged and the sequences are
/// done all the same, so nothing is retried forever on the same data.
pub(super) fn spawn_release_writer(
    config: &Config,
    progress: Arc<SpoolProgress>,
    stop: CancellationToken,
) -> anyhow::Result<mpsc::Sender<SpoolRelease>> {
    let url = database_url(config)?.to_string();
    let timeout = Duration::from_millis(config.database.connect_timeout_ms.get());
    let initial = Duration::from_millis(config.database.retry_initial_backoff_ms.get());
    let max = Duration::from_millis(config.database.retry_max_backoff_ms);
    let (sender, mut releases) = mpsc::channel::<SpoolRelease>(RELEASE_QUEUE);
    tokio::spawn(async move {
        let mut client: Option<tokio_postgres::Client> = None;
        while let Some(release) = releases.recv().await {
            let mut delay = initial;
            loop {
                if client.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
                    client = db::connect(&url, timeout).await.ok();
                }
                let result = match client.as_mut() {
                    Some(client) => db::record_spool_release(client, stream_name(release.stream), &release.ranges, &release.letter).await,
                    None => Err(db::DbError::Schema("no connection".into())),
                };
                match result {
                    Ok(()) => break,
                    Err(db::DbError::Postgres(error)) if is_refusal(&error) => {
                        events::dead_letter_unqueued(&release.letter, &error);
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "spool: a dead letter and its sequences wait for the database");
                        client = None;
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(max);
                    }
                }
            }
            progress.committed(release.stream, &release.ranges);
        }
    });
    Ok(sender)
}

/// A data exception or a constraint violation: the statement's content is refused.
fn is_refusal(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|error| matches!(&error.code().code()[..2], "22" | "23"))
}

/// Reports what opening the spool could not recover (once each: a loss is marked done
/// in the same transaction as its dead letter) and counts it.
pub(super) async fn report_losses(router: &Router, recovered: &Recovered) {
    for damage in &recovered.damaged {
        events::spool_segment_damaged(&damage.segment, &damage.kept_as, damage.bytes());
    }
    for Loss { stream, ranges, detail } in &recovered.losses {
        let name = stream.map_or("unknown", stream_name);
        let records = ranges.iter().map(|(first, last)| last - first + 1).sum();
        events::spool_records_lost(name, records, detail);
        let letter = DeadLetter::new("spool", "spool_corrupt", format!("{name}: {detail}"), "");
        router.dead_letter_spooled(stream.unwrap_or(0), ranges.clone(), letter).await;
    }
}

/// Queues what the spool holds and the database does not, before any source runs:
/// one segment in memory at a time.
pub(super) async fn replay_spool(router: &Router, progress: &Arc<SpoolProgress>, recovered: &Recovered) -> anyhow::Result<()> {
    report_losses(router, recovered).await;
    let mut total = 0;
    for id in recovered.replay.iter().copied() {
        let spool = progress.spool().clone();
        let entries = tokio::task::spawn_blocking(move || spool.read_segment(id)).await.context("reading the spool")??;
        let uncommitted: Vec<Entry> = entries.into_iter().filter(|entry| !progress.is_committed(entry.stream, entry.sequence)).collect();
        total += uncommitted.len();
        replay_entries(router, uncommitted).await?;
    }
    if total > 0 {
        tracing::info!(records = total, "spool replayed");
    }
    Ok(())
}

/// Queues spooled entries under their sequences; one that no longer decodes is a dead
/// letter and counts as done.
pub(super) async fn replay_entries(router: &Router, entries: Vec<Entry>) -> anyhow::Result<()> {
    for entry in entries {
        match codec::decode(&entry.payload) {
            Ok((record, id)) => {
                // A replayed record's id is known again, so its resend is recognized.
                if let (Some(window), true) = (router.id_window(), id != 0) {
                    window.admit(id);
                }
                if router.enqueue_waiting(record, entry.sequence, id).await.is_err() {
                    anyhow::bail!("replaying the spool: the pipeline closed");
                }
            }
            Err(error) => {
                let raw: String = entry.payload.iter().take(DeadLetter::MAX_RAW_BYTES / 2).map(|byte| format!("{byte:02x}")).collect();
                let letter = DeadLetter::new("spool", "spool_undecodable", error.to_string(), &raw);
                router.dead_letter_spooled(entry.stream, vec![(entry.sequence, entry.sequence)], letter).await;
            }
        }
    }
    Ok(())
}
