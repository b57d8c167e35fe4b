//! The frame rate limits of the push server (per connection, and per client in
//! `admission`): a token bucket that
//! holds one second's worth of frames and refills continuously. Pure: the caller
//! passes the clock, so tests drive it with made-up instants.

use std::time::Instant;

/// Frames a connection may still send now, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    available: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket for `per_second` frames per second; `None` for 0 (no limit).
    pub fn new(per_second: u32, now: Instant) -> Option<TokenBucket> {
        (per_second > 0).then(|| TokenBucket { per_second: f64::from(per_second), available: f64::from(per_second), refilled_at: now })
    }

    /// Holds one second's worth again by `now`: a new bucket would be the same.
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        self.available + elapsed * self.per_second >= self.per_second
    }

    /// Takes one frame's token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if now > self.refilled_at {
            let elapsed = (now - self.refilled_at).as_secs_f64();
            self.available = (self.available + elapsed * self.per_second).min(self.per_second);
            self.refilled_at = now;
        }
        if self.available >= 1.0 {
            self.available -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn zero_means_no_limit() {
        assert!(TokenBucket::new(0, Instant::now()).is_none());
    }

    #[test]
    fn a_burst_of_one_second_then_the_steady_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start).unwrap();
        let taken = (0..25).filter(|_| bucket.try_take(start)).count();
        assert_eq!(taken, 10, "the burst is one second's worth");
        assert!(!bucket.is_full(start));
        assert!(!bucket.try_take(start + Duration::from_millis(50)), "half a token is not a token");
        assert!(bucket.try_take(start + Duration::from_millis(100)));
        assert!(!bucket.try_take(start + Duration::from_millis(100)));
        // Over any later window, no more than the rate (plus the refilled burst) gets through.
        let mut now = start + Duration::from_millis(100);
        let mut accepted = 0;
        for _ in 0..1_000 {
            now += Duration::from_millis(10);
            accepted += usize::from(bucket.try_take(now) && bucket.try_take(now));
        }
        assert_eq!(accepted, 0, "two per 10 ms is over 10/s");
        let idle = now + Duration::from_secs(60);
        assert!(bucket.is_full(idle));
        assert_eq!((0..25).filter(|_| bucket.try_take(idle)).count(), 10, "an idle minute refills one second's worth, no more");
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_add_tokens() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(1, start).unwrap();
        assert!(bucket.try_take(start));
        assert!(!bucket.try_take(start - Duration::from_secs(5)));
        assert!(!bucket.try_take(start));
    }
}
