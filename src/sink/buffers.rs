//! The buffers a table's batches are built in, kept from batch to batch: the encoder
//! stage gathers each batch straight into its parts ([`BatchBuffers`]), and its writers
//! give them back once the batch is committed ([`Spares`]), so that at high rates a
//! batch lands in memory already mapped rather than freshly allocated.

use bytes::{Bytes, BytesMut};

use crate::pipeline::{Gather, Sequenced};

/// A batch's parts as the encoder stage gathers them: each row, its spool sequence and
/// its id key, in parallel; and the memory its PGCOPY bytes are written into.
pub struct BatchBuffers<R> {
    pub(super) rows: Vec<R>,
    pub(super) sequences: Vec<u64>,
    pub(super) ids: Vec<u128>,
    pub(super) bytes: BytesMut,
}

impl<R> Default for BatchBuffers<R> {
    fn default() -> Self {
        BatchBuffers { rows: Vec::new(), sequences: Vec::new(), ids: Vec::new(), bytes: BytesMut::new() }
    }
}

impl<R> Gather<Sequenced<R>> for BatchBuffers<R> {
    fn push(&mut self, item: Sequenced<R>) {
        self.sequences.push(item.sequence);
        self.ids.push(item.id);
        self.rows.push(item.row);
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn reserve(&mut self, rows: usize) {
        self.rows.reserve(rows);
        self.sequences.reserve(rows);
        self.ids.reserve(rows);
    }
}

/// The buffers of batches the writers are done with, given back for the encoder stage
/// to fill again. A batch of ticks holds about 230 bytes a row in its rows, sequences,
/// ids and PGCOPY bytes; allocated fresh for every batch, that memory (with the copy
/// the split was made from) showed as page faults, the kernel zeroing new pages, in
/// about 8 % of the daemon's CPU at a million rows a second. At most `capacity` sets are kept, each as large as a batch (which its
/// row and byte bounds limit); any more are let go.
pub struct Spares<R> {
    sender: crossbeam_channel::Sender<BatchBuffers<R>>,
    receiver: crossbeam_channel::Receiver<BatchBuffers<R>>,
}

impl<R> Clone for Spares<R> {
    fn clone(&self) -> Self {
        Spares { sender: self.sender.clone(), receiver: self.receiver.clone() }
    }
}

impl<R> Spares<R> {
    pub fn new(capacity: usize) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(capacity.max(1));
        Spares { sender, receiver }
    }

    pub(super) fn take(&self) -> BatchBuffers<R> {
        self.receiver.try_recv().unwrap_or_default()
    }

    /// Gives a written batch's buffers back, emptied (its rows are dropped here, on the
    /// writer's thread). Bytes still shared elsewhere are let go.
    pub fn give_back(&self, mut rows: Vec<R>, mut sequences: Vec<u64>, mut ids: Vec<u128>, bytes: Bytes) {
        rows.clear();
        sequences.clear();
        ids.clear();
        let mut bytes = bytes.try_into_mut().unwrap_or_default();
        bytes.clear();
        // Full: this set is let go.
        let _ = self.sender.try_send(BatchBuffers { rows, sequences, ids, bytes });
    }

    /// Sets held now.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_hold_at_most_their_capacity_and_let_shared_bytes_go() {
        let spares = Spares::<crate::record::Tick>::new(2);
        for _ in 0..3 {
            spares.give_back(vec![crate::sink::stage::tests::tick("A", 0, 0)], vec![1], vec![2], Bytes::from(vec![7u8; 100]));
        }
        assert_eq!(spares.len(), 2);
        let kept = spares.take();
        assert!(kept.rows.is_empty() && kept.rows.capacity() >= 1 && kept.bytes.is_empty() && kept.bytes.capacity() >= 100);
        let shared = Bytes::from(vec![7u8; 100]);
        let still_sent = shared.clone();
        spares.give_back(Vec::new(), Vec::new(), Vec::new(), shared);
        assert!(spares.take().bytes.capacity() >= 100);
        assert_eq!(spares.len(), 1);
        assert_eq!(spares.take().bytes.capacity(), 0, "bytes still shared are not reused");
        assert_eq!(still_sent.len(), 100);
    }
}
