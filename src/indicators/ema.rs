//! The exponential moving average as TA-Lib computes it.

/// EMA with k = 2 / (period + 1), seeded with the simple mean of its first `period`
/// values (so its first value comes with the `period`-th one), then
/// `ema = (x − ema) · k + ema`, TA-Lib's order of operations.
#[derive(Debug, Clone)]
pub(crate) struct Ema {
    period: usize,
    k: f64,
    /// The values seen while seeding, and their sum.
    seen: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Ema {
    pub(crate) fn new(period: usize) -> Self {
        Ema { period, k: 2.0 / (period as f64 + 1.0), seen: 0, seed_sum: 0.0, value: None }
    }

    /// Takes the next value and returns the average, once seeded.
    pub(crate) fn push(&mut self, value: f64) -> Option<f64> {
        match self.value {
            Some(previous) => self.value = Some((value - previous) * self.k + previous),
            None => {
                self.seen += 1;
                self.seed_sum += value;
                if self.seen == self.period {
                    self.value = Some(self.seed_sum / self.period as f64);
                }
            }
        }
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_the_simple_mean_then_k_weights_the_new_value() {
        let mut ema = Ema::new(3);
        assert_eq!(ema.push(1.0), None);
        assert_eq!(ema.push(2.0), None);
        assert_eq!(ema.push(6.0), Some(3.0));
        // k = 0.5: 3 + (5 − 3) · 0.5.
        assert_eq!(ema.push(5.0), Some(4.0));
    }
}
