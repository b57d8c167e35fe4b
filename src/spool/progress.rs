//! What the database has committed of each spooled stream, shared by the writers (who
//! report each committed batch), the spool (which deletes segments behind the
//! watermark) and the push server (whose `committed` acks wait here).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{CommitTracker, Spool};

/// Sorts and merges sequences into inclusive ranges; 0 (not spooled) is left out.
pub fn sequence_ranges(sequences: &[u64]) -> Vec<(u64, u64)> {
    let mut sorted: Vec<u64> = sequences.iter().copied().filter(|sequence| *sequence > 0).collect();
    sorted.sort_unstable();
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for sequence in sorted {
        match ranges.last_mut() {
            Some((_, last)) if sequence <= *last + 1 => *last = (*last).max(sequence),
            _ => ranges.push((sequence, sequence)),
        }
    }
    ranges
}

#[derive(Debug)]
pub struct SpoolProgress {
    spool: Spool,
    trackers: Mutex<HashMap<u16, CommitTracker>>,
    /// Bumped after every commit, for waiters.
    changed: tokio::sync::watch::Sender<u64>,
}

impl SpoolProgress {
    pub fn new(spool: Spool, trackers: HashMap<u16, CommitTracker>) -> Self {
        let (changed, _) = tokio::sync::watch::channel(0);
        SpoolProgress { spool, trackers: Mutex::new(trackers), changed }
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u16, CommitTracker>> {
        self.trackers.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Records committed ranges of `stream` and lets the spool drop what is behind the
    /// watermark.
    pub fn committed(&self, stream: u16, ranges: &[(u64, u64)]) {
        if ranges.is_empty() {
            return;
        }
        let watermark = {
            let mut trackers = self.lock();
            let tracker = trackers.entry(stream).or_default();
            for (first, last) in ranges {
                tracker.commit(*first, *last);
            }
            tracker.watermark()
        };
        self.spool.commit(stream, watermark);
        self.changed.send_modify(|version| *version += 1);
    }

    pub fn is_committed(&self, stream: u16, sequence: u64) -> bool {
        self.lock().get(&stream).is_some_and(|tracker| tracker.is_committed(sequence))
    }

    /// Each stream's watermark, for persisting.
    pub fn watermarks(&self) -> Vec<(u16, u64)> {
        self.lock().iter().map(|(stream, tracker)| (*stream, tracker.watermark())).collect()
    }

    /// Waits until every (stream, sequence) is committed.
    pub async fn wait_committed(&self, receipts: &[(u16, u64)]) {
        let mut changed = self.changed.subscribe();
        loop {
            if receipts.iter().all(|(stream, sequence)| self.is_committed(*stream, *sequence)) {
                return;
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until something was committed (to retry an append refused as full).
    pub async fn wait_for_a_commit(&self) {
        let mut changed = self.changed.subscribe();
        let _ = changed.changed().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_merge_into_ranges() {
        assert_eq!(sequence_ranges(&[5, 3, 4, 9, 0, 10, 12]), [(3, 5), (9, 10), (12, 12)]);
        assert_eq!(sequence_ranges(&[0, 0]), []);
        assert_eq!(sequence_ranges(&[7, 7]), [(7, 7)]);
    }
}
