//! Bybit v5 spot `orderbook.{depth}.{symbol}` (level 2: the aggregated size at each
//! price) for the book keeper.
//!
//! Source: Bybit V5 "Orderbook" (bybit-exchange.github.io/docs/v5/websocket/public/orderbook).
//! Spot depths are 1 (every 10 ms), 50 (20 ms), 200 and 1000 (200 ms); linear and
//! inverse depths are the same levels (1 every 10 ms, 50 every 20 ms, 200 every 100 ms,
//! 1000 every 200 ms; the 500 of earlier versions of the page is gone), so every
//! category offers the same `book_depth` values. Level 1 is the
//! `quotes` channel's stream and only ever sends snapshots, so `book` offers 50 (the
//! default: the deepest pushed at the fastest rate), 200 and 1000; `book` and `quotes`
//! are different topics and coexist on one connection.
//!
//! After subscribing the venue sends a snapshot, then deltas (size `"0"` removes a
//! level). "If you receive a new snapshot message, you will have to reset your local
//! orderbook": a snapshot at any time replaces the book. The update id `u` is a
//! sequence: a delta follows when its `u` is the last one plus 1, anything else is a
//! `gap`. "Occasionally, you'll receive `u`=1, which is a snapshot data due to the
//! restart of the service": a message with `u` 1 replaces the book, whatever its
//! `type`. Bybit publishes no checksum for the book. The message time is `cts` (the
//! matching engine's time of the book), else `ts`; `sequence` is `u`.
//!
//! A fresh snapshot is asked for by unsubscribing and subscribing the topic again,
//! both with the `req_id` [`RESYNC_REQUEST`], whose answers acknowledge no connection
//! subscription.

use serde_json::json;

use super::category::Category;
use super::wire::{Envelope, OrderBook};
use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::feed::book::{Applied, BookKeeper, BookRules, BookSettings, BookUpdate, Level};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;
use crate::source::values::millis;

/// The `book_depth` values `book` takes, the default first.
pub const DEPTHS: &[u32] = &[50, 200, 1000];
/// The `req_id` of the requests that resynchronise a book.
pub const RESYNC_REQUEST: &str = "book";

pub struct BybitBookRules;

impl BookRules for BybitBookRules {
    fn follows(&self, last: i64, update: &BookUpdate) -> bool {
        last.checked_add(1) == Some(update.sequence)
    }
}

/// The books of one Bybit connection.
pub struct BybitBooks {
    category: Category,
    keeper: BookKeeper<BybitBookRules>,
    /// `orderbook.{depth}`.
    stream: String,
}

impl BybitBooks {
    pub fn new(category: Category, settings: &BookSettings) -> BybitBooks {
        BybitBooks {
            category,
            keeper: BookKeeper::with_settings(category.venue(), BybitBookRules, settings),
            stream: format!("orderbook.{}", settings.depth),
        }
    }

    /// A new connection subscribes again: every book waits for its snapshot.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
    }

    /// The topic of a symbol's book (`orderbook.50.BTCUSDT`).
    pub fn topic(&self, venue_symbol: &str) -> String {
        format!("{}.{venue_symbol}", self.stream)
    }

    /// Whether `topic` is one of these books'.
    pub fn owns(&self, topic: &str) -> bool {
        topic.strip_prefix(self.stream.as_str()).is_some_and(|rest| rest.starts_with('.'))
    }

    /// One push of a book topic (`type` `snapshot` or `delta`).
    pub fn push(&mut self, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "orderbook: no `data`"))?;
        let book: OrderBook = serde_json::from_str(data.get()).map_err(|error| invalid("orderbook", error))?;
        let snapshot = match envelope.kind {
            Some("snapshot") => true,
            Some("delta") => book.u == 1,
            other => {
                return Err(Rejection::new(RejectReason::InvalidField, format!("`type`: expected snapshot or delta, got {other:?}")));
            }
        };
        let time = match (envelope.cts, envelope.ts) {
            (Some(ms), _) => millis("cts", ms)?,
            (None, Some(ms)) => millis("ts", ms)?,
            (None, None) => received_at,
        };
        let sequence = i64::try_from(book.u)
            .map_err(|_| Rejection::new(RejectReason::InvalidField, format!("`u`: {} is beyond a 64-bit sequence", book.u)))?;
        let update = BookUpdate {
            time,
            received_at,
            sequence,
            previous: None,
            bids: levels("b", &book.bids)?,
            asks: levels("a", &book.asks)?,
            checksum: None,
        };
        let symbol = self.category.symbol(&book.symbol);
        let applied = if snapshot { self.keeper.snapshot(&symbol, &update, parsed) } else { self.keeper.update(&symbol, &update, parsed) };
        if applied == Applied::Resync {
            let topic = self.topic(&book.symbol);
            parsed.replies.push(json!({ "req_id": RESYNC_REQUEST, "op": "unsubscribe", "args": [topic] }).to_string());
            parsed.replies.push(json!({ "req_id": RESYNC_REQUEST, "op": "subscribe", "args": [topic] }).to_string());
        }
        Ok(())
    }
}

fn levels(field: &str, pairs: &[[&str; 2]]) -> Result<Vec<Level>, Rejection> {
    pairs.iter().map(|[price, size]| Level::parse(field, price, size)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_follows_when_its_update_id_is_the_next_one() {
        let update = |sequence| BookUpdate { sequence, ..BookUpdate::default() };
        assert!(BybitBookRules.follows(10, &update(11)));
        assert!(!BybitBookRules.follows(10, &update(12)));
        assert!(!BybitBookRules.follows(10, &update(10)), "a repeated id is no continuation");
        assert!(!BybitBookRules.follows(i64::MAX, &update(i64::MIN)));
    }

    #[test]
    fn topics_route_by_depth() {
        let books = BybitBooks::new(Category::Spot, &BookSettings { depth: 50, ..BookSettings::default() });
        assert_eq!(books.topic("BTCUSDT"), "orderbook.50.BTCUSDT");
        assert!(books.owns("orderbook.50.BTCUSDT"));
        assert!(!books.owns("orderbook.1.BTCUSDT"));
        assert!(!books.owns("orderbook.500.BTCUSDT"));
        assert!(!books.owns("orderbook.200.BTCUSDT"));
    }
}
