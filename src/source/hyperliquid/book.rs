//! Hyperliquid `l2Book` into the book tables, through the book keeper ([`BookKeeper`]).
//!
//! Every `l2Book` push is a whole snapshot of the top 20 levels a side ("WsBook: snapshot
//! feed, pushed on each block that is at least 0.5 seconds since the last push"); there
//! are no updates, sequence numbers or checksums. Storing each push as snapshot rows would
//! write 40 rows a push whatever changed, so the first push of a connection is the
//! keeper's snapshot and each later one is diffed against the book kept: a level whose
//! size changed or that appeared is stored with its new size, a level that is no longer
//! among the 20 is stored as a removal (size 0). `book_deltas` then holds only changes,
//! and the stored book at any instant equals the last push (the venue's top 20, not the
//! whole book: a level that drops out of the top 20 is removed even if its orders rest).
//!
//! Continuity: a push is complete in itself, so one always follows the last; a push not
//! newer than the last applied (`time`) is dropped as a duplicate. A crossed push breaks
//! the book (the keeper's `crossed` event) and the next push is taken as a snapshot; no
//! request is needed, the venue sends one anyway. A reconnect is a break (`gap`,
//! `reconnect`) ended by the new connection's first push.

use std::collections::HashMap;

use super::wire::{Book as WireBook, BookLevel};
use crate::record::{Rejection, Timestamp};
use crate::source::feed::book::{Applied, Book, BookKeeper, BookRules, BookSettings, BookUpdate, Level};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;
use crate::source::values::millis;

/// The subscription type.
pub const L2_BOOK: &str = "l2Book";
/// The `book_depth` it takes: 20 levels a side, all the venue sends.
pub const DEPTHS: &[u32] = &[20];

/// Every push is a whole book: it always follows.
pub struct HyperliquidBookRules;

impl BookRules for HyperliquidBookRules {
    fn follows(&self, _last: i64, _update: &BookUpdate) -> bool {
        true
    }
}

/// The books of one Hyperliquid source.
pub struct HyperliquidBooks {
    keeper: BookKeeper<HyperliquidBookRules>,
    /// The time (ms) of the last push applied per book symbol.
    last_times: HashMap<String, i64>,
}

impl HyperliquidBooks {
    pub fn new(settings: &BookSettings) -> HyperliquidBooks {
        HyperliquidBooks { keeper: BookKeeper::with_settings("hyperliquid", HyperliquidBookRules, settings), last_times: HashMap::new() }
    }

    /// A new connection: every book waits for its first push.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
    }

    /// One `l2Book` push; `symbol` is our symbol for its coin.
    pub fn push(
        &mut self,
        data: &str,
        symbol: impl Fn(&str) -> String,
        received_at: Timestamp,
        parsed: &mut Parsed,
    ) -> Result<(), Rejection> {
        let book: WireBook = serde_json::from_str(data).map_err(|error| invalid(L2_BOOK, error))?;
        let update = BookUpdate {
            time: millis("time", book.time)?,
            received_at,
            sequence: book.time,
            previous: None,
            bids: levels("bids", &book.levels.0)?,
            asks: levels("asks", &book.levels.1)?,
            checksum: None,
        };
        let symbol = symbol(book.coin);
        let synced = self.keeper.book(&symbol).is_some_and(Book::is_synced);
        if synced && self.last_times.get(&symbol).is_some_and(|last| book.time <= *last) {
            parsed.duplicates += 1;
            return Ok(());
        }
        let applied = match self.keeper.book(&symbol).filter(|kept| kept.is_synced()) {
            Some(kept) => {
                let changes = BookUpdate { bids: diff(kept.bids(), &update.bids), asks: diff(kept.asks(), &update.asks), ..update };
                self.keeper.update(&symbol, &changes, parsed)
            }
            None => self.keeper.snapshot(&symbol, &update, parsed),
        };
        if applied == Applied::Applied {
            self.last_times.insert(symbol, book.time);
        }
        Ok(())
    }
}

/// The levels of one side as the venue wrote them.
fn levels(field: &str, levels: &[BookLevel]) -> Result<Vec<Level>, Rejection> {
    levels.iter().map(|level| Level::parse(field, level.px, level.sz)).collect()
}

/// What turns the `kept` side into `pushed`: the new and changed levels, and a removal
/// (size 0) for each kept level the push no longer has.
pub fn diff<'a>(kept: impl Iterator<Item = &'a Level>, pushed: &[Level]) -> Vec<Level> {
    let kept: Vec<&Level> = kept.collect();
    let mut changes: Vec<Level> = kept
        .iter()
        .filter(|old| !pushed.iter().any(|new| new.price == old.price))
        .map(|old| Level::new(&old.price_text, "0", old.price, 0.0))
        .collect();
    for new in pushed {
        match kept.iter().find(|old| old.price == new.price) {
            Some(old) if old.size == new.size => {}
            _ => changes.push(new.clone()),
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: &str, size: &str) -> Level {
        Level::parse("bids", price, size).unwrap()
    }

    #[test]
    fn the_diff_removes_what_left_and_keeps_what_changed() {
        let kept = [level("100", "1"), level("99", "2"), level("98", "3")];
        let pushed = [level("100", "1"), level("99", "2.5"), level("97", "4")];
        let changes = diff(kept.iter(), &pushed);
        let shown: Vec<(&str, &str)> = changes.iter().map(|l| (&*l.price_text, &*l.size_text)).collect();
        assert_eq!(shown, [("98", "0"), ("99", "2.5"), ("97", "4")]);
        assert!(diff(kept.iter(), &kept).is_empty(), "an unchanged push changes nothing");
    }

    fn push(books: &mut HyperliquidBooks, time: i64, bids: &str, asks: &str) -> Parsed {
        let mut parsed = Parsed::default();
        let data = format!(r#"{{"coin":"BTC","levels":[[{bids}],[{asks}]],"time":{time}}}"#);
        books.push(&data, |coin| format!("{coin}-USD"), Timestamp(time * 1_000), &mut parsed).unwrap();
        parsed
    }

    #[test]
    fn the_first_push_is_a_snapshot_and_the_next_ones_deltas() {
        let mut books = HyperliquidBooks::new(&BookSettings { depth: 20, snapshot_depth: 20, snapshot_interval_ms: 0, max_books: 2 });
        let first = push(&mut books, 1_000, r#"{"px":"100","sz":"1","n":1},{"px":"99","sz":"2","n":1}"#, r#"{"px":"101","sz":"1","n":1}"#);
        let deltas = |parsed: &Parsed| -> Vec<(f64, f64, bool)> {
            parsed
                .records
                .iter()
                .filter_map(|record| match record {
                    crate::record::Record::BookDelta(delta) => Some((delta.price, delta.size, delta.snapshot)),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(deltas(&first), [(100.0, 1.0, true), (99.0, 2.0, true), (101.0, 1.0, true)]);
        let second = push(&mut books, 1_500, r#"{"px":"100","sz":"3","n":1}"#, r#"{"px":"101","sz":"1","n":1}"#);
        assert_eq!(deltas(&second), [(99.0, 0.0, false), (100.0, 3.0, false)]);
        let again = push(&mut books, 1_500, r#"{"px":"100","sz":"9","n":1}"#, r#"{"px":"101","sz":"1","n":1}"#);
        assert_eq!((deltas(&again).len(), again.duplicates), (0, 1), "a push not newer than the last is a duplicate");
        let bids: Vec<f64> = books.keeper.book("BTC-USD").unwrap().bids().map(|level| level.size).collect();
        assert_eq!(bids, [3.0]);
    }

    #[test]
    fn a_bad_level_rejects_the_push() {
        let mut books = HyperliquidBooks::new(&BookSettings::default());
        let mut parsed = Parsed::default();
        let data = r#"{"coin":"BTC","levels":[[{"px":"abc","sz":"1","n":1}],[]],"time":1}"#;
        assert!(books.push(data, |coin| coin.to_string(), Timestamp(1), &mut parsed).is_err());
        assert!(books.push(r#"{"coin":"BTC","levels":[[]],"time":1}"#, |coin| coin.to_string(), Timestamp(1), &mut parsed).is_err());
    }
}
