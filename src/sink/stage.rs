//! The encoder stage runs on the table's batcher thread, off the async reactor: it
//! encodes a closed batch into one PGCOPY buffer, notes which time partitions the
//! batch touches, and hands it to the writer tasks through a small bounded queue that
//! every writer of the table pulls from.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, Mutex};

use super::encoder::{encode_rows, CopyRow};
use crate::db::Partitions;

/// A closed, encoded batch. The rows stay with it until commit, for latency
/// accounting and, if the database refuses a row, for finding and keeping it.
pub struct EncodedBatch<R> {
    pub rows: Vec<R>,
    pub bytes: Bytes,
    /// Start of each time partition the rows fall in.
    pub slots: Vec<i64>,
}

/// The queue between a table's encoder stage and its writers.
pub type BatchQueue<R> = Arc<Mutex<mpsc::Receiver<EncodedBatch<R>>>>;

/// A queue holding at most `depth` encoded batches.
pub fn batch_queue<R>(depth: usize) -> (mpsc::Sender<EncodedBatch<R>>, BatchQueue<R>) {
    let (sender, receiver) = mpsc::channel(depth.max(1));
    (sender, Arc::new(Mutex::new(receiver)))
}

/// Builds the batcher's `deliver` function for one table.
pub fn encode_stage<R: CopyRow>(
    partitions: Arc<Partitions>,
    sender: mpsc::Sender<EncodedBatch<R>>,
) -> impl FnMut(Vec<R>) -> Result<(), Vec<R>> {
    let mut bytes_per_row_estimate = 96usize;
    move |rows: Vec<R>| {
        let batch = encode_batch(&partitions, rows, &mut bytes_per_row_estimate);
        sender.blocking_send(batch).map_err(|unsent| unsent.0.rows)
    }
}

pub(super) fn encode_batch<R: CopyRow>(partitions: &Partitions, rows: Vec<R>, bytes_per_row_estimate: &mut usize) -> EncodedBatch<R> {
    let mut buffer = BytesMut::with_capacity(32 + rows.len() * *bytes_per_row_estimate);
    encode_rows(&rows, &mut buffer);
    if !rows.is_empty() {
        *bytes_per_row_estimate = buffer.len() / rows.len() + 8;
    }
    let mut slots: Vec<i64> = Vec::new();
    let mut last_slot = None;
    for row in &rows {
        let Some(time) = row.partition_time() else { break };
        let slot = partitions.slot_start(R::TABLE, time);
        if slot != last_slot {
            last_slot = slot;
            if let Some(slot) = slot {
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
        }
    }
    EncodedBatch { rows, bytes: buffer.freeze(), slots }
}
