//! Spilling: with a spool, a table whose channel is full does not make its sources wait.
//! The record is already in the spool, so the router leaves it there and marks the
//! table as spilling from that sequence; every later record of the table stays in the
//! spool too (appends and the spill switch share one lock per table, so none slips past),
//! and a reader task per table feeds the channel from the spool files in sequence order,
//! waiting for room as the writers catch up. When the reader has delivered the last
//! sequence appended, the table goes back to queueing directly. Memory stays bounded by
//! the channels; the backlog is on disk, bounded by `spool.max_bytes`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::router::Router;
use crate::metrics::events;
use crate::record::{DeadLetter, Table};
use crate::spool::codec;

/// Entries read from the spool per round.
const READ_BATCH: usize = 1_024;

/// Feeds the channels of spool stream `stream` (named `name`) from the spool while it
/// spills; returns when `stop` is cancelled (what is still spilled is replayed on the
/// next start).
pub async fn run_spill_reader(router: Router, stream: u16, name: &'static str, stop: CancellationToken) {
    let Some(gate) = router.spool().cloned() else { return };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = gate.spills.woken(stream) => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        while !stop.is_cancelled() {
            let Some(mut cursor) = gate.spills.lock(stream).cursor.clone() else { break };
            let spool = gate.progress.spool().clone();
            let read =
                tokio::task::spawn_blocking(move || spool.read_stream(&mut cursor, READ_BATCH).map(|entries| (entries, cursor))).await;
            let (entries, cursor) = match read {
                Ok(Ok(read)) => read,
                Ok(Err(error)) => {
                    events::spool_failed(&error);
                    break;
                }
                Err(_) => return,
            };
            if entries.is_empty() {
                let mut state = gate.spills.lock(stream);
                if cursor.next_sequence >= gate.progress.spool().next_sequence(stream) {
                    // Everything appended has been delivered: queue directly again.
                    state.cursor = None;
                    events::spill_ended(name);
                    break;
                }
                drop(state);
                // The rest is still buffered: write it out and read on.
                if let Err(error) = gate.progress.spool().sync() {
                    events::spool_failed(&error);
                }
                continue;
            }
            let delivered = entries.len();
            for entry in entries {
                let (record, id) = match codec::decode(&entry.payload) {
                    Ok(decoded) => decoded,
                    Err(error) => {
                        // Kept as a dead letter and done, so it cannot hold the watermark.
                        let raw: String =
                            entry.payload.iter().take(DeadLetter::MAX_RAW_BYTES / 2).map(|byte| format!("{byte:02x}")).collect();
                        let letter = DeadLetter::new("spool", "spool_undecodable", error.to_string(), &raw);
                        router.dead_letter_spooled(entry.stream, vec![(entry.sequence, entry.sequence)], letter).await;
                        continue;
                    }
                };
                tokio::select! {
                    _ = stop.cancelled() => return,
                    sent = router.enqueue_waiting(record, entry.sequence, id) => {
                        if sent.is_err() {
                            return;
                        }
                    }
                }
            }
            events::spill_delivered(name, delivered);
            gate.spills.lock(stream).cursor = Some(cursor);
        }
    }
}

/// Starts one spill reader per spooled table on `tracker`, so that a stop waits for them
/// (each holds a router, which keeps the channels open).
pub fn spawn_spill_readers(router: &Router, stop: &CancellationToken, tracker: &tokio_util::task::TaskTracker) {
    if router.spool().is_none() {
        return;
    }
    for table in Table::ALL.iter().filter(|table| table.is_spooled()) {
        tracker.spawn(run_spill_reader(router.clone(), table.spool_stream(), table.spool_stream_name(), stop.clone()));
    }
    if router.has_custom_tables() {
        let stream = Table::CUSTOM_SPOOL_STREAM;
        tracker.spawn(run_spill_reader(router.clone(), stream, Table::CUSTOM_SPOOL_STREAM_NAME, stop.clone()));
    }
}
