//! Sequence numbers per series (a symbol of one stream). A number at or below the last
//! one seen — re-sent after a resubscribe — is a duplicate. Where the venue numbers its
//! messages contiguously a skip is also a `gap` feed event with the missing range; where
//! numbers only increase ([`Sequences::duplicates_only`]) a skip is normal. A series
//! ordered only by its event time (a symbol's tickers) is checked on that time
//! ([`Sequences::admit_time`]).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::json;

use super::Parsed;
use crate::record::Timestamp;

/// Series beyond this many are admitted without tracking, so a venue sending
/// unexpected symbols cannot grow memory without bound.
const MAX_SERIES: usize = 10_000;

/// The last number seen per series of one stream.
pub struct Sequences {
    /// The stream's name in gap events (`trade`, `matches`, …).
    stream: Cow<'static, str>,
    report_gaps: bool,
    last: HashMap<String, u64>,
}

impl Sequences {
    /// Contiguous numbers: skips are gaps.
    pub fn new(stream: impl Into<Cow<'static, str>>) -> Self {
        Sequences { stream: stream.into(), report_gaps: true, last: HashMap::new() }
    }

    /// Increasing but not contiguous numbers: only duplicates are caught.
    pub fn duplicates_only(stream: impl Into<Cow<'static, str>>) -> Self {
        Sequences { stream: stream.into(), report_gaps: false, last: HashMap::new() }
    }

    /// Checks `number` against the last one of `series`: true to keep the record,
    /// false for a duplicate (counted in `parsed`); a skip adds a gap event to `parsed`.
    pub fn admit(&mut self, series: &str, number: u64, parsed: &mut Parsed) -> bool {
        match self.last.get_mut(series) {
            Some(last) if number <= *last => {
                parsed.duplicates += 1;
                false
            }
            Some(last) => {
                if self.report_gaps && number > *last + 1 {
                    parsed.events.push((
                        "gap",
                        json!({ "symbol": series, "stream": self.stream, "missing_from": *last + 1, "missing_to": number - 1 }),
                    ));
                }
                *last = number;
                true
            }
            None => {
                if self.last.len() < MAX_SERIES {
                    self.last.insert(series.to_string(), number);
                }
                true
            }
        }
    }

    /// Checks an event time the way [`Sequences::admit`] checks a number: a record not
    /// newer than the last one of its series (re-sent after a resubscribe) is a duplicate.
    /// Use with [`Sequences::duplicates_only`]. Times before 1970 count as 0 (the router
    /// refuses them anyway).
    pub fn admit_time(&mut self, series: &str, time: Timestamp, parsed: &mut Parsed) -> bool {
        self.admit(series, u64::try_from(time.micros()).unwrap_or(0), parsed)
    }

    /// How many series are tracked.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_duplicates_and_independent_series() {
        let mut sequences = Sequences::new("trade");
        let mut parsed = Parsed::default();
        assert!(sequences.admit("A", 10, &mut parsed));
        assert!(sequences.admit("A", 11, &mut parsed));
        assert!(sequences.admit("B", 1, &mut parsed));
        assert!(sequences.admit("A", 14, &mut parsed));
        assert!(!sequences.admit("A", 14, &mut parsed));
        assert!(!sequences.admit("A", 3, &mut parsed));
        assert_eq!(parsed.duplicates, 2);
        assert_eq!(parsed.events.len(), 1);
        let (kind, detail) = &parsed.events[0];
        assert_eq!(*kind, "gap");
        assert_eq!(detail, &json!({ "symbol": "A", "stream": "trade", "missing_from": 12, "missing_to": 13 }));
        assert_eq!(sequences.len(), 2);

        let mut increasing = Sequences::duplicates_only("trades");
        let mut parsed = Parsed::default();
        assert!(increasing.admit("A", 1, &mut parsed));
        assert!(increasing.admit("A", 9, &mut parsed));
        assert!(!increasing.admit("A", 9, &mut parsed));
        assert_eq!((parsed.events.len(), parsed.duplicates), (0, 1));

        let mut times = Sequences::duplicates_only("ticker");
        let mut parsed = Parsed::default();
        assert!(times.admit_time("A", Timestamp(1_000), &mut parsed));
        assert!(!times.admit_time("A", Timestamp(1_000), &mut parsed));
        assert!(!times.admit_time("A", Timestamp(999), &mut parsed));
        assert!(times.admit_time("A", Timestamp(1_001), &mut parsed));
        assert_eq!((parsed.events.len(), parsed.duplicates), (0, 2));
    }
}
