//! Which sequences of a stream the database has committed. Batches commit out of order
//! (several writers per table), so the tracker keeps the committed ranges above the
//! watermark — the highest sequence below which everything is committed — and merges
//! them as the gaps fill. Memory is bounded by the batches in flight.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct CommitTracker {
    watermark: u64,
    /// Committed ranges above the watermark: first → last, disjoint, not touching it.
    above: BTreeMap<u64, u64>,
}

impl CommitTracker {
    /// A tracker for a stream committed up to `watermark`.
    pub fn new(watermark: u64) -> Self {
        CommitTracker { watermark, above: BTreeMap::new() }
    }

    /// Everything up to and including this sequence is committed.
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// The highest sequence committed, contiguous or not.
    pub fn highest(&self) -> u64 {
        self.above.values().next_back().copied().unwrap_or(0).max(self.watermark)
    }

    /// The committed ranges above the watermark.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.above.iter().map(|(first, last)| (*first, *last))
    }

    pub fn is_committed(&self, sequence: u64) -> bool {
        sequence <= self.watermark || self.above.range(..=sequence).next_back().is_some_and(|(_, last)| sequence <= *last)
    }

    /// Marks `first..=last` committed; returns the new watermark.
    pub fn commit(&mut self, first: u64, last: u64) -> u64 {
        debug_assert!(first <= last);
        let mut first = first.max(self.watermark + 1);
        let mut last = last;
        if first > last {
            return self.watermark;
        }
        // Absorb every range that overlaps or touches [first, last].
        let touching: Vec<(u64, u64)> =
            self.above.range(..=last.saturating_add(1)).filter(|(_, end)| **end + 1 >= first).map(|(start, end)| (*start, *end)).collect();
        for (start, end) in touching {
            self.above.remove(&start);
            first = first.min(start);
            last = last.max(end);
        }
        if first == self.watermark + 1 {
            self.watermark = last;
        } else {
            self.above.insert(first, last);
        }
        self.watermark
    }

    /// Ranges committed above the watermark.
    pub fn pending_ranges(&self) -> usize {
        self.above.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_moves_only_over_contiguous_commits() {
        let mut tracker = CommitTracker::new(10);
        assert_eq!(tracker.commit(21, 30), 10);
        assert_eq!(tracker.commit(41, 50), 10);
        assert!(tracker.is_committed(25) && !tracker.is_committed(31) && !tracker.is_committed(11));
        assert_eq!(tracker.pending_ranges(), 2);
        assert_eq!(tracker.commit(11, 20), 30, "filling the first gap joins the range after it");
        assert_eq!(tracker.commit(31, 40), 50);
        assert_eq!(tracker.pending_ranges(), 0);
        assert_eq!(tracker.commit(5, 8), 50, "already committed");
        assert_eq!(tracker.commit(45, 60), 60, "overlap");
    }

    #[test]
    fn matches_a_set_for_random_batches() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..50 {
            let mut batches: Vec<(u64, u64)> = Vec::new();
            let mut start = 1;
            while start <= 500 {
                let length = next() % 20 + 1;
                batches.push((start, (start + length - 1).min(500)));
                start += length;
            }
            for index in (1..batches.len()).rev() {
                batches.swap(index, (next() % (index as u64 + 1)) as usize);
            }
            let mut tracker = CommitTracker::new(0);
            let mut committed = std::collections::BTreeSet::new();
            for (first, last) in batches {
                tracker.commit(first, last);
                committed.extend(first..=last);
                let expected = (1..).take_while(|sequence| committed.contains(sequence)).last().unwrap_or(0);
                assert_eq!(tracker.watermark(), expected);
                for sequence in 1..=500 {
                    assert_eq!(tracker.is_committed(sequence), committed.contains(&sequence));
                }
            }
            assert_eq!(tracker.watermark(), 500);
        }
    }
}
