//! Sequence numbers per series (a symbol of one stream), for venues that number their
//! messages contiguously: a skip is a `gap` feed event with the missing range, and a
//! number at or below the last one seen — re-sent after a resubscribe — is a duplicate.

use std::collections::HashMap;

use serde_json::json;

use super::Parsed;

/// Series beyond this many are admitted without tracking, so a venue sending
/// unexpected symbols cannot grow memory without bound.
const MAX_SERIES: usize = 10_000;

/// The last number seen per series of one stream.
pub struct Sequences {
    /// The stream's name in gap events (`trade`, `matches`, …).
    stream: &'static str,
    last: HashMap<String, u64>,
}

impl Sequences {
    pub fn new(stream: &'static str) -> Self {
        Sequences { stream, last: HashMap::new() }
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
                if number > *last + 1 {
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
    }
}
