//! Starting on a spool: what the database has committed of each stream, the spool
//! opened with it, and the replay of what the database lacks before any source runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::database_url;
use crate::config::{Config, SpoolConfig};
use crate::db;
use crate::pipeline::Router;
use crate::record::{DeadLetter, Table};
use crate::spool::{codec, CommitTracker, Entry, Spool, SpoolProgress, SpoolSettings};

/// Opens the spool with what the database has committed of each stream, and returns
/// the entries to replay.
pub(super) async fn open_spool(config: &Config, spool_config: &SpoolConfig) -> anyhow::Result<(Arc<SpoolProgress>, Vec<Entry>)> {
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms)).await?;
    let by_name = db::load_spool_commits(&client).await?;
    let mut trackers: HashMap<u16, CommitTracker> = Table::ALL
        .iter()
        .filter_map(|table| by_name.get(table.name()).map(|tracker| (table.spool_stream(), tracker.clone())))
        .collect();
    if let Some(tracker) = by_name.get(Table::CUSTOM_SPOOL_STREAM_NAME) {
        trackers.insert(Table::CUSTOM_SPOOL_STREAM, tracker.clone());
    }
    let settings = SpoolSettings {
        dir: spool_config.dir.clone(),
        max_bytes: spool_config.max_bytes,
        segment_bytes: spool_config.segment_bytes,
        fsync_interval: Duration::from_millis(spool_config.fsync_interval_ms),
    };
    let ((spool, recovered), trackers) =
        tokio::task::spawn_blocking(move || Spool::open(settings, &trackers).map(|opened| (opened, trackers)))
            .await
            .context("opening the spool")?
            .with_context(|| format!("opening spool.dir {}", spool_config.dir.display()))?;
    tracing::info!(
        dir = %spool_config.dir.display(),
        replay = recovered.entries.len(),
        bytes_cut = recovered.bytes_cut,
        segments_deleted = recovered.segments_deleted,
        "spool open"
    );
    Ok((Arc::new(SpoolProgress::new(spool, trackers)), recovered.entries))
}

/// Queues what the spool holds and the database does not, before any source runs.
pub(super) async fn replay_spool(router: &Router, entries: Vec<Entry>) -> anyhow::Result<()> {
    let total = entries.len();
    for entry in entries {
        match codec::decode(&entry.payload) {
            Ok((record, id)) => {
                // A replayed record's id is known again, so its resend is recognized.
                if let (Some(window), true) = (&router.ids, id != 0) {
                    window.admit(id);
                }
                if router.enqueue_waiting(record, entry.sequence, id).await.is_err() {
                    anyhow::bail!("replaying the spool: the pipeline closed");
                }
            }
            Err(error) => {
                let raw: String = entry.payload.iter().map(|byte| format!("{byte:02x}")).collect();
                router.dead_letter_waiting(DeadLetter::new("spool", "spool_undecodable", error.to_string(), &raw)).await;
            }
        }
    }
    if total > 0 {
        tracing::info!(records = total, "spool replayed");
    }
    Ok(())
}

