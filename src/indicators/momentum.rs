//! RSI (Wilder) and MACD as TA-Lib computes them; see the module documentation of
//! `indicators` for the definitions and where they depart from the textbook ones.

use super::ema::Ema;

/// RSI over `period` changes of the close, with Wilder's smoothing.
#[derive(Debug, Clone)]
pub(crate) struct Rsi {
    period: usize,
    previous_close: Option<f64>,
    /// Changes taken so far while seeding (sums), then the smoothed averages.
    changes: usize,
    gain: f64,
    loss: f64,
}

impl Rsi {
    pub(crate) fn new(period: usize) -> Self {
        Rsi { period, previous_close: None, changes: 0, gain: 0.0, loss: 0.0 }
    }

    /// Takes the next close and returns the RSI once `period` changes have been seen.
    pub(crate) fn push(&mut self, close: f64) -> Option<f64> {
        let previous = self.previous_close.replace(close)?;
        let change = close - previous;
        let (gain, loss) = if change < 0.0 { (0.0, -change) } else { (change, 0.0) };
        let period = self.period as f64;
        if self.changes < self.period {
            self.gain += gain;
            self.loss += loss;
            self.changes += 1;
            if self.changes < self.period {
                return None;
            }
            self.gain /= period;
            self.loss /= period;
        } else {
            self.gain = (self.gain * (period - 1.0) + gain) / period;
            self.loss = (self.loss * (period - 1.0) + loss) / period;
        }
        let total = self.gain + self.loss;
        Some(if total == 0.0 { 0.0 } else { 100.0 * (self.gain / total) })
    }
}

/// The three MACD outputs of one bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MacdValues {
    pub(crate) line: f64,
    pub(crate) signal: f64,
    pub(crate) histogram: f64,
}

/// MACD as TA_MACD computes it: the fast EMA starts on the same bar as the slow one.
#[derive(Debug, Clone)]
pub(crate) struct Macd {
    fast_period: usize,
    slow_period: usize,
    bars_seen: usize,
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// `fast_period` must be below `slow_period`.
    pub(crate) fn new(fast_period: usize, slow_period: usize, signal_period: usize) -> Self {
        assert!(fast_period < slow_period, "the fast MACD period is the shorter one");
        Macd {
            fast_period,
            slow_period,
            bars_seen: 0,
            fast: Ema::new(fast_period),
            slow: Ema::new(slow_period),
            signal: Ema::new(signal_period),
        }
    }

    /// Takes the next close and returns the MACD values once the signal line exists.
    pub(crate) fn push(&mut self, close: f64) -> Option<MacdValues> {
        let index = self.bars_seen;
        self.bars_seen += 1;
        let slow = self.slow.push(close);
        // The fast EMA skips the first slow − fast closes, so that its seed window (its
        // first `fast_period` closes) ends on the bar where the slow one's does.
        let fast = if index >= self.slow_period - self.fast_period { self.fast.push(close) } else { None };
        let line = fast? - slow?;
        let signal = self.signal.push(line)?;
        Some(MacdValues { line, signal, histogram: line - signal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi_seeds_on_the_mean_change_and_smooths_like_wilder() {
        let mut rsi = Rsi::new(2);
        assert_eq!(rsi.push(10.0), None);
        assert_eq!(rsi.push(12.0), None);
        // Changes +2, −1: gain 1, loss 0.5.
        assert_eq!(rsi.push(11.0), Some(100.0 * (1.0 / 1.5)));
        // Change +3: gain (1 + 3) / 2 = 2, loss 0.5 / 2 = 0.25.
        assert_eq!(rsi.push(14.0), Some(100.0 * (2.0 / 2.25)));
    }

    #[test]
    fn rsi_without_movement_is_zero_and_without_losses_is_100() {
        let mut flat = Rsi::new(3);
        let values: Vec<_> = [5.0; 6].into_iter().map(|close| flat.push(close)).collect();
        assert_eq!(values, vec![None, None, None, Some(0.0), Some(0.0), Some(0.0)]);
        let mut rising = Rsi::new(3);
        let values: Vec<_> = [5.0, 5.0, 6.0, 7.0, 7.0].into_iter().map(|close| rising.push(close)).collect();
        assert_eq!(values, vec![None, None, None, Some(100.0), Some(100.0)]);
    }

    #[test]
    fn macd_fast_ema_is_seeded_on_the_slow_ones_last_seed_bars() {
        // Fast 2, slow 4, signal 2: both EMAs are first valued at close 3, the fast
        // one from closes 2 and 3 only.
        let mut macd = Macd::new(2, 4, 2);
        let closes = [1.0, 2.0, 3.0, 5.0, 9.0];
        let values: Vec<_> = closes.into_iter().map(|close| macd.push(close)).collect();
        assert_eq!(values[..4], [None, None, None, None]);
        // Close 3: slow = 11 / 4 = 2.75, fast = (3 + 5) / 2 = 4, line 1.25.
        // Close 4: slow = 2.75 + (9 − 2.75) · 0.4 = 5.25, fast = 4 + (9 − 4) · 2/3,
        // line = fast − slow; signal = mean of the two lines.
        let fast = 4.0 + (9.0 - 4.0) * (2.0 / 3.0);
        let slow = 2.75 + (9.0 - 2.75) * 0.4;
        let line = fast - slow;
        let signal = (1.25 + line) / 2.0;
        assert_eq!(values[4], Some(MacdValues { line, signal, histogram: line - signal }));
    }
}
