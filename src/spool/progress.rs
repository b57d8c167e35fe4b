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
    /// Spooled records the database refused (dead-lettered in their batch's
    /// transaction), with the reason, until a `committed` ack takes them.
    refusals: Mutex<Refusals>,
}

/// The most recent refusals, bounded: an ack that never asks (`received`, `durable`)
/// leaves its refusals to be pushed out by newer ones.
#[derive(Debug, Default)]
struct Refusals {
    reasons: HashMap<(u16, u64), String>,
    order: std::collections::VecDeque<(u16, u64)>,
}

/// Refusals kept for `committed` acks at most.
const REFUSALS_KEPT: usize = 65_536;
/// A refusal's reason is cut to this many characters.
const REFUSAL_CHARS: usize = 1_024;

impl SpoolProgress {
    pub fn new(spool: Spool, trackers: HashMap<u16, CommitTracker>) -> Self {
        let (changed, _) = tokio::sync::watch::channel(0);
        SpoolProgress { spool, trackers: Mutex::new(trackers), changed, refusals: Mutex::default() }
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

    /// Notes the spooled records of `stream` that the database refused, before their
    /// batch's [`committed`](Self::committed) wakes the acks waiting for them.
    pub fn refused(&self, stream: u16, refused: impl IntoIterator<Item = (u64, String)>) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|poison| poison.into_inner());
        for (sequence, reason) in refused {
            if sequence == 0 {
                continue;
            }
            let reason: String = reason.chars().take(REFUSAL_CHARS).collect();
            if refusals.reasons.insert((stream, sequence), reason).is_none() {
                refusals.order.push_back((stream, sequence));
            }
            while refusals.order.len() > REFUSALS_KEPT {
                if let Some(oldest) = refusals.order.pop_front() {
                    refusals.reasons.remove(&oldest);
                }
            }
        }
    }

    /// Why the database refused this spooled record, if it did (taken once).
    pub fn take_refusal(&self, stream: u16, sequence: u64) -> Option<String> {
        let mut refusals = self.refusals.lock().unwrap_or_else(|poison| poison.into_inner());
        let reason = refusals.reasons.remove(&(stream, sequence))?;
        refusals.order.retain(|key| *key != (stream, sequence));
        Some(reason)
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
    fn refusals_are_taken_once_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::spool::SpoolSettings {
            dir: dir.path().to_path_buf(),
            max_bytes: 1 << 20,
            segment_bytes: 1 << 16,
            fsync_interval: std::time::Duration::from_millis(5),
        };
        let (spool, _) = Spool::open(settings, &HashMap::new()).unwrap();
        let progress = SpoolProgress::new(spool, HashMap::new());
        progress.refused(3, [(7, "bad".to_string()), (0, "unspooled".to_string())]);
        assert_eq!(progress.take_refusal(3, 7).as_deref(), Some("bad"));
        assert_eq!(progress.take_refusal(3, 7), None);
        assert_eq!(progress.take_refusal(3, 0), None);
        progress.refused(1, (1..=REFUSALS_KEPT as u64 + 10).map(|sequence| (sequence, "x".repeat(5_000))));
        assert_eq!(progress.take_refusal(1, 1), None, "the oldest were pushed out");
        assert_eq!(progress.take_refusal(1, REFUSALS_KEPT as u64 + 10).map(|reason| reason.len()), Some(REFUSAL_CHARS));
    }

    #[test]
    fn sequences_merge_into_ranges() {
        assert_eq!(sequence_ranges(&[5, 3, 4, 9, 0, 10, 12]), [(3, 5), (9, 10), (12, 12)]);
        assert_eq!(sequence_ranges(&[0, 0]), []);
        assert_eq!(sequence_ranges(&[7, 7]), [(7, 7)]);
    }
}
