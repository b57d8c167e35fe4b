//! Support and resistance levels from confirmed swing lows and highs.

use super::window::Ring;

/// The most recent swing highs (resistance) and swing lows (support) of a series.
///
/// Bar j is a swing high when its high is strictly greater than the highs of the
/// `window` bars before it and the `window` bars after it; it becomes known when bar
/// j + `window` arrives. Swing lows likewise, with lows strictly less. A tie with any
/// neighbour disqualifies the bar, so a flat stretch has no swings.
#[derive(Debug, Clone)]
pub(crate) struct SwingLevels {
    window: usize,
    /// The last 2 · window + 1 highs and lows; the candidate is the middle one.
    highs: Ring,
    lows: Ring,
    resistance: Ring,
    support: Ring,
}

impl SwingLevels {
    pub(crate) fn new(window: usize, levels_kept: usize) -> Self {
        SwingLevels {
            window,
            highs: Ring::new(2 * window + 1),
            lows: Ring::new(2 * window + 1),
            resistance: Ring::new(levels_kept),
            support: Ring::new(levels_kept),
        }
    }

    pub(crate) fn push(&mut self, high: f64, low: f64) {
        self.highs.push(high);
        self.lows.push(low);
        if let Some(swing_high) = middle_if_extreme(&self.highs, self.window, |candidate, other| candidate > other) {
            self.resistance.push(swing_high);
        }
        if let Some(swing_low) = middle_if_extreme(&self.lows, self.window, |candidate, other| candidate < other) {
            self.support.push(swing_low);
        }
    }

    /// The most recent swing highs, the most recent first.
    pub(crate) fn resistance_levels(&self) -> Vec<f64> {
        newest_first(&self.resistance)
    }

    /// The most recent swing lows, the most recent first.
    pub(crate) fn support_levels(&self) -> Vec<f64> {
        newest_first(&self.support)
    }

    #[cfg(test)]
    pub(crate) fn ring_capacities(&self) -> [usize; 4] {
        [self.highs.capacity(), self.lows.capacity(), self.resistance.capacity(), self.support.capacity()]
    }
}

/// The middle value of a full ring of 2 · window + 1 values, when it beats every other
/// value by `beats`.
fn middle_if_extreme(ring: &Ring, window: usize, beats: impl Fn(f64, f64) -> bool) -> Option<f64> {
    if !ring.is_full() {
        return None;
    }
    let candidate = ring.back(window)?;
    let beats_all = (0..ring.len()).filter(|&age| age != window).all(|age| ring.back(age).is_some_and(|other| beats(candidate, other)));
    beats_all.then_some(candidate)
}

fn newest_first(ring: &Ring) -> Vec<f64> {
    (0..ring.len()).filter_map(|age| ring.back(age)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels_after(highs: &[f64], lows: &[f64], window: usize, kept: usize) -> (Vec<f64>, Vec<f64>) {
        let mut swings = SwingLevels::new(window, kept);
        for (&high, &low) in highs.iter().zip(lows) {
            swings.push(high, low);
        }
        (swings.support_levels(), swings.resistance_levels())
    }

    #[test]
    fn a_swing_is_confirmed_window_bars_later() {
        let highs = [1.0, 2.0, 5.0, 2.0];
        let lows = [1.0; 4];
        assert_eq!(levels_after(&highs, &lows, 2, 3), (vec![], vec![]));
        assert_eq!(levels_after(&[1.0, 2.0, 5.0, 2.0, 1.0], &[1.0; 5], 2, 3), (vec![], vec![5.0]));
    }

    #[test]
    fn ties_are_not_swings() {
        assert_eq!(levels_after(&[1.0, 2.0, 5.0, 5.0, 1.0, 0.5], &[1.0; 6], 2, 3), (vec![], vec![]));
        assert_eq!(levels_after(&[3.0; 9], &[3.0; 9], 1, 3), (vec![], vec![]));
    }

    #[test]
    fn keeps_the_most_recent_levels_most_recent_first() {
        // Window 1: every peak of a zigzag is a swing high, every trough a swing low.
        let highs = [1.0, 4.0, 1.0, 5.0, 1.0, 6.0, 1.0, 7.0, 1.0];
        let lows = [3.0, 9.0, 2.0, 9.0, 1.0, 9.0, 0.5, 9.0, 0.25];
        let (support, resistance) = levels_after(&highs, &lows, 1, 3);
        assert_eq!(resistance, vec![7.0, 6.0, 5.0]);
        assert_eq!(support, vec![0.5, 1.0, 2.0]);
    }
}
