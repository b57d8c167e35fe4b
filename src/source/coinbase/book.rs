//! Coinbase Exchange `level2_batch` rules for the book keeper ([`BookRules`]).
//!
//! Source: Coinbase Exchange "WebSocket Feed › Channels › Level2 Batch Channel" and
//! "WebSocket Authentication" (docs.cdp.coinbase.com/exchange/websocket-feed/channels,
//! .../authentication). Subscribing sends a `snapshot` of the product's whole book
//! (`bids` and `asks` as `[price, size]`), then `l2update` messages with the levels that
//! changed (`[side, price, size]`, `buy` a bid, `sell` an ask, size `"0"` removing the
//! level).
//!
//! Stored variant: `level2_batch`, the public channel, the same messages as `level2`
//! batched every 50 ms (a level changed twice within a batch arrives once, with its last
//! size). `level2` itself (every change) needs an authenticated subscription on the
//! Exchange feed and is not used.
//!
//! Continuity cannot be checked: neither message carries a sequence number, so every
//! update is taken to follow the last ([`CoinbaseBookRules::follows`] is always true) and
//! a missed batch goes unseen. What is checked is that the book is not crossed; a crossed
//! book is a break (`crossed`), answered by unsubscribing and subscribing the product's
//! `level2_batch` again, which sends a fresh snapshot. The `sequence` stored with each
//! row is ours: a counter per product rising with each message (snapshots included) for
//! as long as the daemon runs, so rows of one message share it and later messages sort
//! after earlier ones.
//!
//! Times: the documented snapshot has no `time` (one that has it is read): it is stored
//! at its receipt time. An update's `time` is the venue's; one not later than the time
//! of the snapshot it follows (the venue's clock behind ours, or an update made while the
//! snapshot was on its way) is stored one microsecond after the snapshot, so the stored
//! book reads back in the order it was built and a break it causes lies after the
//! snapshot.
//!
//! Depth: the stream is the whole book, so `book_depth` is not sent to the venue; it caps
//! the levels kept per side (1000 by default; 100 or 5000), the worst dropped beyond it.
//! Levels past the cap are not known (one pushed past it is stored as removed), so once the best levels of a side go, the deepest
//! kept levels may miss some the venue holds: read well inside the cap.

use std::collections::HashMap;

use serde_json::json;

use super::wire::{L2Snapshot, L2Update};
use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::feed::book::{Applied, BookKeeper, BookRules, BookSettings, BookUpdate, Level, MAX_BOOKS};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;
use crate::source::values::rfc3339;

/// The channel name.
pub const LEVEL2_BATCH: &str = "level2_batch";
/// The `book_depth` values it takes (levels kept per side), the default first.
pub const DEPTHS: &[u32] = &[1_000, 100, 5_000];

/// No sequence to check: every update follows.
pub struct CoinbaseBookRules;

impl BookRules for CoinbaseBookRules {
    fn follows(&self, _last: i64, _update: &BookUpdate) -> bool {
        true
    }
}

/// Our numbering of a product's book messages.
#[derive(Debug, Clone, Copy)]
struct Numbering {
    /// The last sequence given.
    sequence: i64,
    /// The time of the last snapshot: every update is stored after it.
    floor: Timestamp,
}

/// The books of one Coinbase connection.
pub struct CoinbaseBooks {
    keeper: BookKeeper<CoinbaseBookRules>,
    /// Per product, at most as many as the keeper holds books.
    numbering: HashMap<String, Numbering>,
    max_books: usize,
}

impl CoinbaseBooks {
    pub fn new(settings: &BookSettings) -> CoinbaseBooks {
        CoinbaseBooks {
            keeper: BookKeeper::with_settings("coinbase", CoinbaseBookRules, settings),
            numbering: HashMap::new(),
            max_books: settings.max_books.clamp(1, MAX_BOOKS),
        }
    }

    /// A new connection subscribes again: every book waits for its snapshot.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
    }

    /// A `snapshot` message.
    pub fn snapshot(&mut self, text: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let snapshot: L2Snapshot = serde_json::from_str(text).map_err(|error| invalid("snapshot", error))?;
        let time = snapshot.time.map(|text| rfc3339("time", text)).transpose()?.unwrap_or(received_at);
        let bids = snapshot.bids.iter().map(|(price, size)| Level::parse("bids", price, size)).collect::<Result<Vec<_>, _>>()?;
        let asks = snapshot.asks.iter().map(|(price, size)| Level::parse("asks", price, size)).collect::<Result<Vec<_>, _>>()?;
        let product = snapshot.product_id;
        let room = self.numbering.len() < self.max_books;
        let sequence = match self.numbering.get_mut(product) {
            Some(numbering) => {
                numbering.sequence += 1;
                numbering.floor = time;
                numbering.sequence
            }
            None if room => {
                self.numbering.insert(product.to_string(), Numbering { sequence: 1, floor: time });
                1
            }
            // More products than books kept: the keeper drops it too.
            None => 0,
        };
        let update = BookUpdate { time, received_at, sequence, previous: None, bids, asks, checksum: None };
        let applied = self.keeper.snapshot(product, &update, parsed);
        resync_if(applied, product, parsed);
        Ok(())
    }

    /// An `l2update` message.
    pub fn update(&mut self, text: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let message: L2Update = serde_json::from_str(text).map_err(|error| invalid("l2update", error))?;
        let time = rfc3339("time", message.time)?;
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        for (side, price, size) in &message.changes {
            match *side {
                "buy" => bids.push(Level::parse("changes", price, size)?),
                "sell" => asks.push(Level::parse("changes", price, size)?),
                other => {
                    return Err(Rejection::new(
                        RejectReason::InvalidField,
                        format!("`changes`: a change's side must be \"buy\" or \"sell\", got \"{other}\""),
                    ))
                }
            }
        }
        let product = message.product_id;
        // Before any snapshot of the product the keeper drops it; the number does not matter.
        let (sequence, time) = match self.numbering.get_mut(product) {
            Some(numbering) => {
                numbering.sequence += 1;
                (numbering.sequence, time.max(numbering.floor.saturating_add_micros(1)))
            }
            None => (0, time),
        };
        let update = BookUpdate { time, received_at, sequence, previous: None, bids, asks, checksum: None };
        let applied = self.keeper.update(product, &update, parsed);
        resync_if(applied, product, parsed);
        Ok(())
    }
}

/// On a break, asks for a fresh snapshot: `level2_batch` of the product unsubscribed and
/// subscribed again.
fn resync_if(applied: Applied, product: &str, parsed: &mut Parsed) {
    if applied == Applied::Resync {
        for kind in ["unsubscribe", "subscribe"] {
            parsed.replies.push(json!({ "type": kind, "product_ids": [product], "channels": [LEVEL2_BATCH] }).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BookSide, Record};

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn books() -> CoinbaseBooks {
        CoinbaseBooks::new(&BookSettings { depth: 100, snapshot_depth: 5, snapshot_interval_ms: 0, ..BookSettings::default() })
    }

    fn deltas(parsed: &Parsed) -> Vec<(i64, BookSide, f64, f64, i64, bool)> {
        parsed
            .records
            .iter()
            .filter_map(|record| match record {
                Record::BookDelta(row) => Some((row.time.micros(), row.side, row.price, row.size, row.sequence, row.snapshot)),
                _ => None,
            })
            .collect()
    }

    const SNAPSHOT: &str =
        r#"{"type":"snapshot","product_id":"BTC-USD","bids":[["10101.10","0.45054140"]],"asks":[["10102.55","0.57753524"]]}"#;

    fn l2update(time: &str, changes: &str) -> String {
        format!(r#"{{"type":"l2update","product_id":"BTC-USD","time":"{time}","changes":{changes}}}"#)
    }

    #[test]
    fn the_documented_messages_apply_numbered_by_product() {
        let mut books = books();
        let mut parsed = Parsed::default();
        books.snapshot(SNAPSHOT, NOW, &mut parsed).unwrap();
        let now = NOW.micros();
        assert_eq!(
            deltas(&parsed),
            [(now, BookSide::Bid, 10101.10, 0.4505414, 1, true), (now, BookSide::Ask, 10102.55, 0.57753524, 1, true)],
            "no time in a snapshot: its receipt time"
        );
        let later = "2026-11-22T12:00:01.5Z";
        let later_micros = Timestamp::parse_rfc3339(later).unwrap().micros();
        let mut parsed = Parsed::default();
        books.update(&l2update(later, r#"[["buy","10101.80000000","0.162567"],["sell","10102.55","0"]]"#), NOW, &mut parsed).unwrap();
        assert_eq!(
            deltas(&parsed),
            [(later_micros, BookSide::Bid, 10101.8, 0.162567, 2, false), (later_micros, BookSide::Ask, 10102.55, 0.0, 2, false)]
        );
        // An update timed before the snapshot's receipt is stored just after it.
        let mut parsed = Parsed::default();
        books.update(&l2update("2026-11-22T11:59:59.9Z", r#"[["buy","10101.1","1"]]"#), NOW, &mut parsed).unwrap();
        assert_eq!(deltas(&parsed), [(now + 1, BookSide::Bid, 10101.1, 1.0, 3, false)]);
        // Another product has its own numbering; a snapshot with a time keeps it.
        let other = SNAPSHOT.replace("BTC-USD", "ETH-USD").replace(r#""bids""#, r#""time":"2026-11-22T12:00:02Z","bids""#);
        let mut parsed = Parsed::default();
        books.snapshot(&other, NOW, &mut parsed).unwrap();
        let timed = Timestamp::parse_rfc3339("2026-11-22T12:00:02Z").unwrap().micros();
        assert_eq!(deltas(&parsed)[0], (timed, BookSide::Bid, 10101.1, 0.4505414, 1, true));
        assert!(parsed.replies.is_empty() && parsed.events.is_empty());
    }

    #[test]
    fn a_crossed_book_asks_for_the_products_channel_again() {
        let mut books = books();
        books.snapshot(SNAPSHOT, NOW, &mut Parsed::default()).unwrap();
        let mut parsed = Parsed::default();
        books.update(&l2update("2026-11-22T12:00:01Z", r#"[["buy","10102.60","1"]]"#), NOW, &mut parsed).unwrap();
        assert_eq!(parsed.events[0].0, "crossed");
        assert!(deltas(&parsed).is_empty());
        assert_eq!(
            parsed.replies,
            [
                r#"{"channels":["level2_batch"],"product_ids":["BTC-USD"],"type":"unsubscribe"}"#,
                r#"{"channels":["level2_batch"],"product_ids":["BTC-USD"],"type":"subscribe"}"#
            ]
        );
        // The fresh snapshot ends the break and keeps the numbering rising.
        let mut parsed = Parsed::default();
        books.snapshot(SNAPSHOT, NOW, &mut parsed).unwrap();
        assert_eq!(parsed.events[0].0, "resync");
        assert_eq!(deltas(&parsed)[0].4, 3);
    }

    #[test]
    fn bad_messages_are_rejected_naming_the_field_and_change_nothing() {
        let mut books = books();
        books.snapshot(SNAPSHOT, NOW, &mut Parsed::default()).unwrap();
        for (text, reason, named) in [
            (l2update("2026-11-22T12:00:01Z", r#"[["both","1","1"]]"#), RejectReason::InvalidField, "side"),
            (l2update("2026-11-22T12:00:01Z", r#"[["buy","x","1"]]"#), RejectReason::InvalidField, "`changes price`"),
            (l2update("2026-11-22T12:00:01Z", r#"[["buy","1","-1"]]"#), RejectReason::InvalidField, "negative"),
            (l2update("2026-11-22T12:00:01Z", r#"[["buy","1"]]"#), RejectReason::InvalidRecord, "l2update"),
            (l2update("yesterday", r#"[["buy","1","1"]]"#), RejectReason::InvalidField, "`time`"),
            (SNAPSHOT.replace("0.57753524", "NaN"), RejectReason::NanOrInfinite, "`asks size`"),
            (SNAPSHOT.replace(r#""product_id":"BTC-USD","#, ""), RejectReason::InvalidRecord, "snapshot"),
        ] {
            let mut parsed = Parsed::default();
            let result =
                if text.contains("l2update") { books.update(&text, NOW, &mut parsed) } else { books.snapshot(&text, NOW, &mut parsed) };
            let rejection = result.unwrap_err();
            assert_eq!(rejection.code, reason, "{text}");
            assert!(rejection.detail.contains(named), "{}", rejection.detail);
            assert!(parsed.records.is_empty() && parsed.events.is_empty());
        }
        let mut parsed = Parsed::default();
        books.update(&l2update("2026-11-22T12:00:01Z", r#"[["sell","10103","2"]]"#), NOW, &mut parsed).unwrap();
        assert_eq!(deltas(&parsed)[0].4, 2, "refused messages take no number");
    }
}
