//! The time of the last option quote kept per contract. A quote not newer than the last
//! one of its contract — re-sent after a resubscribe, or repeated unchanged in a venue's
//! periodic snapshot of a whole chain — is a duplicate. Contracts past their expiry are
//! forgotten, so the state follows the listed contracts instead of growing with every
//! contract ever quoted.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::Parsed;
use crate::record::Timestamp;

/// Contracts tracked before the first sweep of expired ones.
const FIRST_SWEEP_AT: usize = 1_024;
/// Contracts beyond this many are admitted without tracking, so a venue sending
/// unexpected names cannot grow memory without bound.
const MAX_CONTRACTS: usize = 100_000;

/// The last quote time per contract, with the contract's expiry.
pub struct OptionQuoteTimes {
    last: HashMap<String, (Timestamp, NaiveDate)>,
    /// A new contract arriving at this many tracked ones sweeps out the expired ones.
    sweep_at: usize,
}

impl OptionQuoteTimes {
    pub fn new() -> Self {
        OptionQuoteTimes { last: HashMap::new(), sweep_at: FIRST_SWEEP_AT }
    }

    /// True to keep a quote of `contract` at `time`; false for one not newer than the
    /// last kept quote of the contract (counted in `parsed` as a duplicate).
    pub fn admit(&mut self, contract: &str, expiration: NaiveDate, time: Timestamp, parsed: &mut Parsed) -> bool {
        if let Some((last, _)) = self.last.get_mut(contract) {
            if time <= *last {
                parsed.duplicates += 1;
                return false;
            }
            *last = time;
            return true;
        }
        if self.last.len() >= self.sweep_at {
            // A contract that expired before this quote's day quotes no more.
            if let Some(today) = chrono::DateTime::from_timestamp_micros(time.micros()).map(|moment| moment.date_naive()) {
                self.last.retain(|_, (_, expiry)| *expiry >= today);
            }
            self.sweep_at = (self.last.len() * 2).max(FIRST_SWEEP_AT);
        }
        if self.last.len() < MAX_CONTRACTS {
            self.last.insert(contract.to_string(), (time, expiration));
        }
        true
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

impl Default for OptionQuoteTimes {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn quotes_not_newer_than_the_last_of_their_contract_are_duplicates() {
        let mut times = OptionQuoteTimes::new();
        let mut parsed = Parsed::default();
        let expiry = date(2026, 12, 27);
        assert!(times.admit("BTC-27DEC26-100000-C", expiry, Timestamp(10), &mut parsed));
        assert!(!times.admit("BTC-27DEC26-100000-C", expiry, Timestamp(10), &mut parsed));
        assert!(!times.admit("BTC-27DEC26-100000-C", expiry, Timestamp(9), &mut parsed));
        assert!(times.admit("BTC-27DEC26-100000-P", expiry, Timestamp(10), &mut parsed), "contracts are separate");
        assert!(times.admit("BTC-27DEC26-100000-C", expiry, Timestamp(11), &mut parsed));
        assert_eq!((parsed.duplicates, times.len()), (2, 2));
    }

    #[test]
    fn expired_contracts_are_swept_out() {
        let mut times = OptionQuoteTimes::new();
        let mut parsed = Parsed::default();
        // 2026-01-05T00:00:00Z; half the contracts expire that day, half the day before.
        let day_start = Timestamp(1_767_571_200_000_000);
        for index in 0..FIRST_SWEEP_AT {
            let expiry = if index % 2 == 0 { date(2026, 1, 4) } else { date(2026, 1, 5) };
            assert!(times.admit(&format!("C{index}"), expiry, day_start, &mut parsed));
        }
        assert_eq!(times.len(), FIRST_SWEEP_AT);
        assert!(times.admit("NEW", date(2026, 2, 1), Timestamp(day_start.micros() + DAY / 2), &mut parsed));
        assert_eq!(times.len(), FIRST_SWEEP_AT / 2 + 1, "the contracts expired before the quote's day are gone");
        assert!(!times.admit("C1", date(2026, 1, 5), day_start, &mut parsed), "live contracts are still tracked");
    }
}
