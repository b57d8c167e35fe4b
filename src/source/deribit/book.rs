//! Deribit `book.{instrument_name}.100ms` rules for the book keeper ([`BookRules`]).
//!
//! Source: Deribit API v2 docs, "Subscriptions › Order book ›
//! book.(instrument_name).(interval)" (docs.deribit.com/subscriptions/orderbook). The
//! first notification of a subscription is a snapshot of the whole book (`type`
//! `snapshot`, every level `["new", price, amount]`); every later one (`type` `change`)
//! carries only the levels that changed, as `["new" | "change" | "delete", price,
//! amount]`. Prices and amounts are JSON numbers; `amount` is in USD for perpetuals and
//! futures, in the base currency's contracts for options. `delete` removes the level
//! (stored with size 0 whatever amount it carries).
//!
//! Stored variant: the public `100ms` interval, whose changes are the venue's changes
//! aggregated over 100 ms (a level changed twice within it arrives once, with its last
//! amount). The `raw` interval (every change) is only served to authorised connections,
//! which this adapter does not make; the grouped `book.{instrument}.{group}.{depth}.{interval}`
//! channels send whole top-N books and are not used.
//!
//! Continuity: every notification has a `change_id`, every change also `prev_change_id`;
//! a change follows the last notification applied when its `prev_change_id` is that
//! notification's `change_id` ("If `prev_change_id` equals the `change_id` of the
//! previous message, it indicates that no messages were missed"). Anything else is a
//! `gap`. Deribit publishes no checksum, so continuity and the crossed-book check are
//! all that is verified.
//!
//! Depth: the stream is the whole book, so `book_depth` is not sent to the venue; it
//! caps the levels kept per side (1000 by default; 100 or 5000), the worst dropped
//! beyond it. Levels past the cap are not known (one pushed past it is stored as removed), so once the best levels of a side go,
//! the deepest kept levels may miss some the venue holds: read well inside the cap.
//!
//! A fresh snapshot is asked for with `public/unsubscribe` and `public/subscribe` of the
//! instrument's channel (the venue answers the subscription with a snapshot). Their
//! responses carry ids the adapter is not waiting for, and are ignored.

use serde_json::json;
use serde_json::value::RawValue;

use super::wire::BookData;
use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::feed::book::{Applied, BookKeeper, BookRules, BookSettings, BookUpdate, Level};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;
use crate::source::values::millis;

/// The `book_depth` values it takes (levels kept per side), the default first.
pub const DEPTHS: &[u32] = &[1_000, 100, 5_000];

/// The channel of an instrument's book.
pub fn channel(instrument: &str) -> String {
    format!("book.{instrument}.100ms")
}

/// A change follows the last notification when its `prev_change_id` is that one's `change_id`.
pub struct DeribitBookRules;

impl BookRules for DeribitBookRules {
    fn follows(&self, last: i64, update: &BookUpdate) -> bool {
        update.previous == Some(last)
    }
}

/// The books of one Deribit connection.
pub struct DeribitBooks {
    keeper: BookKeeper<DeribitBookRules>,
}

impl DeribitBooks {
    pub fn new(settings: &BookSettings) -> DeribitBooks {
        DeribitBooks { keeper: BookKeeper::with_settings("deribit", DeribitBookRules, settings) }
    }

    /// A new connection subscribes again: every book waits for its snapshot.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
    }

    /// One notification's `data`. [`Applied::Resync`]: the book broke, and the adapter
    /// sends [`resync_requests`].
    pub fn notification(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<Applied, Rejection> {
        let book: BookData = serde_json::from_str(data).map_err(|error| invalid("book", error))?;
        let snapshot = match book.kind {
            "snapshot" => true,
            "change" => false,
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("book: `type` must be \"snapshot\" or \"change\", got \"{other}\""),
                ))
            }
        };
        let ms = book.timestamp.get().parse::<i64>().map_err(|_| {
            Rejection::new(RejectReason::InvalidField, format!("`timestamp`: expected milliseconds, got {}", book.timestamp.get()))
        })?;
        let update = BookUpdate {
            time: millis("timestamp", ms)?,
            received_at,
            sequence: book.change_id,
            // A change without one cannot be shown to follow: a gap.
            previous: book.prev_change_id,
            bids: levels("bids", &book.bids)?,
            asks: levels("asks", &book.asks)?,
            checksum: None,
        };
        let symbol = book.instrument_name;
        Ok(if snapshot { self.keeper.snapshot(symbol, &update, parsed) } else { self.keeper.update(symbol, &update, parsed) })
    }
}

/// `public/unsubscribe` then `public/subscribe` of `channel`, with these request ids.
pub fn resync_requests(channel: &str, unsubscribe_id: u64, subscribe_id: u64) -> [String; 2] {
    [("public/unsubscribe", unsubscribe_id), ("public/subscribe", subscribe_id)]
        .map(|(method, id)| json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": { "channels": [channel] } }).to_string())
}

/// `[action, price, amount]` levels; `delete` is size 0.
fn levels(field: &str, levels: &[(&str, &RawValue, &RawValue)]) -> Result<Vec<Level>, Rejection> {
    levels
        .iter()
        .map(|(action, price, amount)| match *action {
            "new" | "change" => Level::parse(field, price.get(), amount.get()),
            "delete" => Level::parse(field, price.get(), "0"),
            other => Err(Rejection::new(
                RejectReason::InvalidField,
                format!("`{field}`: a level's action must be \"new\", \"change\" or \"delete\", got \"{other}\""),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BookSide, Record};

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn books() -> DeribitBooks {
        DeribitBooks::new(&BookSettings { depth: 100, snapshot_depth: 5, snapshot_interval_ms: 0, ..BookSettings::default() })
    }

    fn deltas(parsed: &Parsed) -> Vec<(BookSide, f64, f64, i64, bool)> {
        parsed
            .records
            .iter()
            .filter_map(|record| match record {
                Record::BookDelta(row) => Some((row.side, row.price, row.size, row.sequence, row.snapshot)),
                _ => None,
            })
            .collect()
    }

    const SNAPSHOT: &str = r#"{"type":"snapshot","timestamp":1554373962454,"instrument_name":"BTC-PERPETUAL","change_id":297217,"bids":[["new",5042.64,30],["new",5042.5,10]],"asks":[["new",5043.3,40]]}"#;

    #[test]
    fn the_documented_snapshot_and_changes_apply_level_by_level() {
        let mut books = books();
        let mut parsed = Parsed::default();
        assert_eq!(books.notification(SNAPSHOT, NOW, &mut parsed).unwrap(), Applied::Applied);
        assert_eq!(
            deltas(&parsed),
            [
                (BookSide::Bid, 5042.64, 30.0, 297217, true),
                (BookSide::Bid, 5042.5, 10.0, 297217, true),
                (BookSide::Ask, 5043.3, 40.0, 297217, true)
            ]
        );
        let Record::BookDelta(row) = &parsed.records[0] else { panic!() };
        assert_eq!(
            (row.time, row.received_at, row.venue.as_str(), row.symbol.as_str()),
            (Timestamp(1_554_373_962_454_000), NOW, "deribit", "BTC-PERPETUAL")
        );

        let change = r#"{"type":"change","timestamp":1554373962500,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[["delete",5042.64,30]],"asks":[["change",5043.3,35],["new",5044,12]]}"#;
        let mut parsed = Parsed::default();
        assert_eq!(books.notification(change, NOW, &mut parsed).unwrap(), Applied::Applied);
        assert_eq!(
            deltas(&parsed),
            [
                (BookSide::Bid, 5042.64, 0.0, 297218, false),
                (BookSide::Ask, 5043.3, 35.0, 297218, false),
                (BookSide::Ask, 5044.0, 12.0, 297218, false)
            ],
            "delete is size 0 whatever amount it carries"
        );
        assert!(parsed.events.is_empty());
    }

    #[test]
    fn a_change_not_following_the_last_is_a_gap_asking_for_a_snapshot() {
        let mut books = books();
        books.notification(SNAPSHOT, NOW, &mut Parsed::default()).unwrap();
        let skipped = r#"{"type":"change","timestamp":1554373962500,"prev_change_id":297218,"instrument_name":"BTC-PERPETUAL","change_id":297219,"bids":[],"asks":[]}"#;
        let mut parsed = Parsed::default();
        assert_eq!(books.notification(skipped, NOW, &mut parsed).unwrap(), Applied::Resync);
        assert_eq!(parsed.events[0].0, "gap");
        assert_eq!((parsed.events[0].1["last"].as_i64(), parsed.events[0].1["previous"].as_i64()), (Some(297217), Some(297218)));
        // No `prev_change_id` on a change: it cannot be shown to follow.
        let mut books = self::books();
        books.notification(SNAPSHOT, NOW, &mut Parsed::default()).unwrap();
        let unlinked =
            r#"{"type":"change","timestamp":1554373962500,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[],"asks":[]}"#;
        let mut parsed = Parsed::default();
        assert_eq!(books.notification(unlinked, NOW, &mut parsed).unwrap(), Applied::Resync);
        assert_eq!(parsed.events[0].0, "gap");
        assert_eq!(
            resync_requests("book.BTC-PERPETUAL.100ms", 7, 8),
            [
                r#"{"id":7,"jsonrpc":"2.0","method":"public/unsubscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}"#.to_string(),
                r#"{"id":8,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}"#.to_string()
            ]
        );
    }

    #[test]
    fn bad_notifications_are_rejected_naming_the_field_and_change_nothing() {
        let mut books = books();
        books.notification(SNAPSHOT, NOW, &mut Parsed::default()).unwrap();
        for (text, reason, named) in [
            (SNAPSHOT.replace("\"snapshot\"", "\"full\""), RejectReason::InvalidField, "`type`"),
            (SNAPSHOT.replace("[\"new\",5042.5,10]", "[\"add\",5042.5,10]"), RejectReason::InvalidField, "action"),
            (SNAPSHOT.replace("[\"new\",5042.5,10]", "[\"new\",5042.5,-10]"), RejectReason::InvalidField, "negative"),
            (SNAPSHOT.replace("[\"new\",5042.5,10]", "[\"new\",\"5042.5\",10]"), RejectReason::InvalidField, "`bids price`"),
            (SNAPSHOT.replace("[\"new\",5042.5,10]", "[\"new\",5042.5]"), RejectReason::InvalidRecord, "book"),
            (SNAPSHOT.replace("1554373962454", "99999999999999999999"), RejectReason::InvalidField, "`timestamp`"),
            (SNAPSHOT.replace("\"change_id\":297217", "\"change_id\":\"x\""), RejectReason::InvalidRecord, "book"),
        ] {
            let mut parsed = Parsed::default();
            let rejection = books.notification(&text, NOW, &mut parsed).unwrap_err();
            assert_eq!(rejection.code, reason, "{text}");
            assert!(rejection.detail.contains(named), "{}", rejection.detail);
            assert!(parsed.records.is_empty() && parsed.events.is_empty());
        }
        // The book still holds: the next change follows the snapshot.
        let change = r#"{"type":"change","timestamp":1554373962500,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL","change_id":297218,"bids":[],"asks":[["new",5044,12]]}"#;
        assert_eq!(books.notification(change, NOW, &mut Parsed::default()).unwrap(), Applied::Applied);
    }
}
