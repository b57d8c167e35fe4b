//! Fixed-capacity rings, and the rolling mean and population variance of the values a
//! ring holds, updated in O(1) per value with float drift kept bounded.

/// The last `capacity` values pushed. Its storage is allocated once, at creation, and
/// never grows.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    values: Box<[f64]>,
    /// Where the next value is written.
    next: usize,
    len: usize,
}

impl Ring {
    /// A ring of `capacity` values; `capacity` must be at least 1.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a ring holds at least one value");
        Ring { values: vec![0.0; capacity].into_boxed_slice(), next: 0, len: 0 }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.values.len()
    }

    /// Appends `value`; when the ring was full, returns the oldest value, which it
    /// replaces.
    pub(crate) fn push(&mut self, value: f64) -> Option<f64> {
        let evicted = if self.is_full() { Some(self.values[self.next]) } else { None };
        self.values[self.next] = value;
        self.next = (self.next + 1) % self.values.len();
        self.len = (self.len + 1).min(self.values.len());
        evicted
    }

    /// The value pushed `age` pushes ago: 0 is the newest.
    pub(crate) fn back(&self, age: usize) -> Option<f64> {
        if age >= self.len {
            return None;
        }
        let capacity = self.values.len();
        Some(self.values[(self.next + capacity - 1 - age) % capacity])
    }

    /// The values from the oldest to the newest.
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).rev().filter_map(move |age| self.back(age))
    }
}

/// Below this ratio of the sum of squared deviations to the largest sum of squares the
/// running sums held since the last recentring, rounding may have eaten too many of its
/// digits, and the sums are recomputed from the ring. With at most `capacity` updates
/// since the last recentring, each rounding by at most one ulp of that largest sum, the
/// relative error left in the variance stays below about 8 · capacity · 2⁻⁵² / 1e-4,
/// 4e-10 for a window of 20.
const CANCELLATION_LIMIT: f64 = 1e-4;

/// The mean and the population variance of the last `capacity` values, in O(1) per
/// value.
///
/// The window keeps Σ(x − p) and Σ(x − p)² about a pivot p instead of Σx and Σx²:
/// with p close to the values, the textbook Σx²/n − (Σx/n)² loses no digits to
/// cancellation (prices near 30 000 with a spread of 1 would lose 9 of 16). Float
/// drift is kept bounded by recentring — setting p to the newest value and summing the
/// ring afresh, O(capacity) — every `capacity` values, which costs one extra addition
/// per value on average, and early whenever the variance has become small next to the
/// sums it was computed from (see [`CANCELLATION_LIMIT`]). A window of equal values
/// therefore has a variance of exactly 0 and a mean equal to that value.
#[derive(Debug, Clone)]
pub(crate) struct RollingWindow {
    ring: Ring,
    pivot: f64,
    /// Σ (x − pivot) over the ring.
    shifted_sum: f64,
    /// Σ (x − pivot)² over the ring.
    shifted_squares: f64,
    /// The largest `shifted_squares` since the last recentring: the scale of the
    /// rounding errors it carries.
    largest_squares: f64,
    updates_since_recentring: usize,
}

impl RollingWindow {
    pub(crate) fn new(capacity: usize) -> Self {
        RollingWindow {
            ring: Ring::new(capacity),
            pivot: 0.0,
            shifted_sum: 0.0,
            shifted_squares: 0.0,
            largest_squares: 0.0,
            updates_since_recentring: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    pub(crate) fn push(&mut self, value: f64) {
        if self.ring.len() == 0 {
            self.pivot = value;
        }
        let added = value - self.pivot;
        self.shifted_sum += added;
        self.shifted_squares += added * added;
        self.largest_squares = self.largest_squares.max(self.shifted_squares);
        if let Some(evicted) = self.ring.push(value) {
            let removed = evicted - self.pivot;
            self.shifted_sum -= removed;
            self.shifted_squares -= removed * removed;
        }
        self.updates_since_recentring += 1;
        if self.updates_since_recentring >= self.ring.capacity() || self.lost_precision() {
            self.recentre();
        }
    }

    /// The mean of the window, once it is full.
    pub(crate) fn mean(&self) -> Option<f64> {
        self.ring.is_full().then(|| self.pivot + self.shifted_sum / self.ring.capacity() as f64)
    }

    /// The population variance (divided by the window length), once it is full.
    pub(crate) fn population_variance(&self) -> Option<f64> {
        self.ring.is_full().then(|| self.squared_deviations() / self.ring.capacity() as f64)
    }

    /// Σ (x − mean)², never negative.
    fn squared_deviations(&self) -> f64 {
        let count = self.ring.len().max(1) as f64;
        (self.shifted_squares - self.shifted_sum * self.shifted_sum / count).max(0.0)
    }

    fn lost_precision(&self) -> bool {
        self.ring.is_full() && self.squared_deviations() < CANCELLATION_LIMIT * self.largest_squares
    }

    /// Recomputes the sums from the ring about its newest value. The newest value is
    /// within the window's range of its mean, so Σ(x − p)² is at most (2n + 1) times
    /// Σ(x − mean)² and the fresh sums never trip [`CANCELLATION_LIMIT`] themselves.
    fn recentre(&mut self) {
        let Some(newest) = self.ring.back(0) else { return };
        self.pivot = newest;
        self.shifted_sum = 0.0;
        self.shifted_squares = 0.0;
        for value in self.ring.iter() {
            let shifted = value - newest;
            self.shifted_sum += shifted;
            self.shifted_squares += shifted * shifted;
        }
        self.largest_squares = self.shifted_squares;
        self.updates_since_recentring = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_values() {
        let mut ring = Ring::new(3);
        assert_eq!(ring.push(1.0), None);
        assert_eq!(ring.push(2.0), None);
        assert!(!ring.is_full());
        assert_eq!(ring.push(3.0), None);
        assert_eq!(ring.push(4.0), Some(1.0));
        assert_eq!(ring.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 4.0]);
        assert_eq!((ring.back(0), ring.back(2), ring.back(3)), (Some(4.0), Some(2.0), None));
        assert_eq!(ring.capacity(), 3);
    }

    #[test]
    fn variance_survives_a_large_offset_and_returns_to_exact_zero() {
        let mut window = RollingWindow::new(4);
        for value in [30_000.25, 30_001.25, 29_999.25, 30_000.25] {
            window.push(value);
        }
        // Mean 30 000.25, deviations 0, 1, -1, 0.
        assert_eq!(window.mean(), Some(30_000.25));
        assert_eq!(window.population_variance(), Some(0.5));
        for _ in 0..4 {
            window.push(7.5);
        }
        assert_eq!(window.mean(), Some(7.5));
        assert_eq!(window.population_variance(), Some(0.0));
    }

    #[test]
    fn incremental_sums_stay_close_to_recomputed_ones() {
        let mut window = RollingWindow::new(20);
        let mut state: u32 = 1;
        let mut recent = std::collections::VecDeque::new();
        for _ in 0..100_000 {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let value = 30_000.0 + f64::from(state >> 8) / f64::from(1u32 << 24);
            window.push(value);
            recent.push_back(value);
            if recent.len() > 20 {
                recent.pop_front();
            }
        }
        let mean = recent.iter().sum::<f64>() / 20.0;
        let variance = recent.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 20.0;
        let got_mean = window.mean().expect("full");
        let got_variance = window.population_variance().expect("full");
        assert!((got_mean - mean).abs() <= 1e-12 * mean, "{got_mean} vs {mean}");
        assert!((got_variance - variance).abs() <= 1e-9 * variance, "{got_variance} vs {variance}");
    }
}
