//! Deduplication of resent records by their producer-given `id`: the keys of the most
//! recent ids (a bounded window, oldest forgotten first) are kept in memory; each
//! committed id is also stored in `ingest_ids` in its batch's transaction, and each
//! spooled one in its spool entry, so the window is rebuilt after a restart.
//!
//! A key is 128 bits of two FNV-1a hashes of the id (a stable function, unlike the
//! standard library's hasher, so keys stored by one build are read by the next); two ids
//! sharing a key by chance is below any rate a producer could reach.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// The key of a record id (never 0; 0 means "no id").
pub fn id_key(id: &str) -> u128 {
    let mut high: u64 = 0xcbf2_9ce4_8422_2325;
    let mut low: u64 = 0x6c62_272e_07bb_0142;
    for byte in id.bytes() {
        high = (high ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        low = (low ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        low = low.rotate_left(5);
    }
    let key = (u128::from(high) << 64) | u128::from(low);
    key.max(1)
}

/// The most recent `capacity` id keys.
#[derive(Debug)]
pub struct IdWindow {
    capacity: usize,
    inner: Mutex<(HashSet<u128>, VecDeque<u128>)>,
}

impl IdWindow {
    pub fn new(capacity: usize) -> Self {
        IdWindow { capacity, inner: Mutex::new((HashSet::with_capacity(capacity.min(1 << 20)), VecDeque::new())) }
    }

    /// Adds `key`; `false` when it was already in the window (a resend).
    pub fn admit(&self, key: u128) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|poison| poison.into_inner());
        let (keys, order) = &mut *guard;
        if !keys.insert(key) {
            return false;
        }
        order.push_back(key);
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                keys.remove(&oldest);
            }
        }
        true
    }

    /// Forgets `key` (its record was not accepted after all, so a resend must pass).
    pub fn forget(&self, key: u128) {
        let mut guard = self.inner.lock().unwrap_or_else(|poison| poison.into_inner());
        let (keys, order) = &mut *guard;
        if keys.remove(&key) {
            order.retain(|kept| *kept != key);
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|poison| poison.into_inner()).0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_distinct_and_never_zero() {
        assert_eq!(id_key("order-1"), id_key("order-1"));
        assert_ne!(id_key("order-1"), id_key("order-2"));
        assert_ne!(id_key(""), 0);
        let keys: HashSet<u128> = (0..100_000).map(|index| id_key(&format!("tick-{index}"))).collect();
        assert_eq!(keys.len(), 100_000);
        // Pinned (computed independently): a key written by this build is read by the next.
        assert_eq!(id_key("hypertick"), 0xac6f63038445eb0c2cd4acd0f2ec94e);
    }

    #[test]
    fn the_window_refuses_repeats_and_forgets_the_oldest() {
        let window = IdWindow::new(3);
        assert!(window.admit(1) && window.admit(2) && window.admit(3));
        assert!(!window.admit(2), "a repeat");
        assert!(window.admit(4), "4 pushes 1 out");
        assert_eq!(window.len(), 3);
        assert!(window.admit(1), "1 was forgotten");
        window.forget(4);
        assert!(window.admit(4), "a forgotten key passes again");
    }
}
