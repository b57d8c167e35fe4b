//! Kraken websocket v2 `book` (level 2: the aggregated quantity at each price) for the
//! book keeper.
//!
//! Source: Kraken "Book (Level 2)" (docs.kraken.com/api/docs/websocket-v2/book) and
//! "Spot Websockets (v2) Book Checksum" (docs.kraken.com/api/docs/guides/spot-ws-book-v2).
//!
//! Subscribing `{"channel":"book","symbol":[…],"depth":N,"snapshot":true}` (depth 10, 25,
//! 100, 500 or 1000 levels per side) brings a snapshot of `N` levels, then updates; a
//! level with `qty` 0 is removed. Kraken keeps the client's book at the subscribed
//! depth: a level an insertion pushes beyond it is dropped without a message (the
//! keeper caps the book at the depth and stores that removal), and a level coming
//! into scope is sent as an insertion.
//!
//! Continuity: the v2 book carries no sequence number, so a lost update can only be
//! seen through the checksum sent with every snapshot and update: CRC32 of the top 10
//! asks (lowest first) then the top 10 bids (highest first), each price and quantity
//! written as the venue wrote it with its decimal point removed and leading zeros
//! stripped (`0.00100000` → `100000`), the texts concatenated without separators. The
//! docs ask for full precision ("parse the book message using a decimal or string
//! decoder"): prices and quantities are JSON numbers whose text carries the pair's
//! precision, trailing zeros included, so the checksum is computed over each number's
//! raw JSON text (read through `RawValue`; a float would lose those zeros), never a
//! reformatted value. Only the top 10 levels are verified whatever the depth; the
//! default depth is 10, Kraken's own and the one depth at which every stored level is
//! covered by the checksum (`book_depth` takes the others).
//!
//! `sequence` is a per-book message counter (snapshot and update alike), as Kraken
//! sends none; the rules' `follows` holds always. The time of a message is its
//! `timestamp`; a snapshot without one takes its receipt time.
//!
//! A fresh snapshot is asked for by unsubscribing and subscribing the symbol's `book`
//! again (without a `req_id`: the answer acknowledges no connection subscription).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::wire::{items, normalize_symbol};
use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::feed::book::{Applied, Book, BookKeeper, BookRules, BookSettings, BookUpdate, Level};
use crate::source::feed::Parsed;
use crate::source::values::rfc3339 as time;

/// The channel name.
pub const BOOK: &str = "book";
/// The `book_depth` values it takes, Kraken's default first.
pub const DEPTHS: &[u32] = &[10, 25, 100, 500, 1000];
/// Levels per side the checksum covers.
pub const CHECKSUM_LEVELS: usize = 10;

/// One element of `book` data:
/// `{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356}],"asks":[{"price":0.5668,"qty":4410.79769741}],
/// "checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}` (a snapshot may have no `timestamp`).
#[derive(Debug, Deserialize)]
pub struct BookData<'a> {
    #[serde(borrow)]
    pub symbol: &'a str,
    #[serde(borrow, default)]
    pub bids: Vec<BookLevel<'a>>,
    #[serde(borrow, default)]
    pub asks: Vec<BookLevel<'a>>,
    #[serde(default)]
    pub checksum: Option<u64>,
    #[serde(borrow, default)]
    pub timestamp: Option<&'a str>,
}

/// A level, its numbers kept as the venue wrote them.
#[derive(Debug, Deserialize)]
pub struct BookLevel<'a> {
    #[serde(borrow)]
    pub price: &'a RawValue,
    #[serde(borrow)]
    pub qty: &'a RawValue,
}

pub struct KrakenBookRules;

impl BookRules for KrakenBookRules {
    /// No sequence to check: the checksum is the only continuity check.
    fn follows(&self, _last: i64, _update: &BookUpdate) -> bool {
        true
    }

    fn checksum(&self, book: &Book) -> Option<u32> {
        Some(checksum(book.asks(), book.bids()))
    }
}

/// The books of one Kraken connection.
pub struct KrakenBooks {
    keeper: BookKeeper<KrakenBookRules>,
    depth: u32,
    /// Messages per venue symbol: the `sequence` of the book's rows.
    counters: HashMap<String, i64>,
    /// Symbols counted at most (the keeper's bound on books).
    max_books: usize,
}

impl KrakenBooks {
    pub fn new(settings: &BookSettings) -> KrakenBooks {
        KrakenBooks {
            keeper: BookKeeper::with_settings("kraken", KrakenBookRules, settings),
            depth: settings.depth,
            counters: HashMap::new(),
            max_books: settings.max_books,
        }
    }

    /// A new connection subscribes again: every book waits for its snapshot.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
    }

    /// The `params` of a subscription to the books of `symbols`.
    pub fn params(&self, symbols: &[impl serde::Serialize]) -> serde_json::Value {
        json!({ "channel": BOOK, "symbol": symbols, "depth": self.depth, "snapshot": true })
    }

    /// One `book` message (`type` `snapshot` or `update`).
    pub fn message(
        &mut self,
        kind: Option<&str>,
        data: Option<&RawValue>,
        received_at: Timestamp,
        parsed: &mut Parsed,
    ) -> Result<(), Rejection> {
        let snapshot = match kind {
            Some("snapshot") => true,
            Some("update") => false,
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("book: `type` must be \"snapshot\" or \"update\", got {other:?}"),
                ))
            }
        };
        let elements: Vec<BookData> = items(BOOK, data)?;
        // Everything is read before any book changes: a refused message leaves them as they were.
        let mut updates = Vec::with_capacity(elements.len());
        for (index, element) in elements.iter().enumerate() {
            let time = match element.timestamp {
                Some(text) => time(format_args!("data[{index}].timestamp"), text)?,
                None => received_at,
            };
            let checksum = element
                .checksum
                .map(|sent| {
                    u32::try_from(sent)
                        .map_err(|_| Rejection::new(RejectReason::InvalidField, format!("`data[{index}].checksum`: {sent} is not a CRC32")))
                })
                .transpose()?;
            let update = BookUpdate {
                time,
                received_at,
                sequence: 0,
                previous: None,
                bids: levels(&format!("data[{index}].bids"), &element.bids)?,
                asks: levels(&format!("data[{index}].asks"), &element.asks)?,
                checksum,
            };
            updates.push((element.symbol, update));
        }
        for (venue_symbol, mut update) in updates {
            update.sequence = self.count(venue_symbol);
            let symbol = normalize_symbol(venue_symbol);
            let applied =
                if snapshot { self.keeper.snapshot(&symbol, &update, parsed) } else { self.keeper.update(&symbol, &update, parsed) };
            if applied == Applied::Resync {
                let params = json!({ "channel": BOOK, "symbol": [venue_symbol], "depth": self.depth });
                parsed.replies.push(json!({ "method": "unsubscribe", "params": params }).to_string());
                parsed.replies.push(json!({ "method": "subscribe", "params": self.params(&[venue_symbol]) }).to_string());
            }
        }
        Ok(())
    }

    /// The next message number of a book (0 for a symbol beyond the bound on books,
    /// whose book the keeper does not keep either).
    fn count(&mut self, venue_symbol: &str) -> i64 {
        if !self.counters.contains_key(venue_symbol) && self.counters.len() >= self.max_books {
            return 0;
        }
        let counter = self.counters.entry(venue_symbol.to_string()).or_default();
        *counter += 1;
        *counter
    }
}

/// A number's text: a JSON number as written, or a decimal string.
fn text(field: &str, raw: &RawValue) -> Result<String, Rejection> {
    let written = raw.get();
    if written.starts_with('"') {
        serde_json::from_str::<String>(written).map_err(|error| Rejection::new(RejectReason::InvalidField, format!("`{field}`: {error}")))
    } else {
        Ok(written.to_string())
    }
}

fn levels(field: &str, levels: &[BookLevel]) -> Result<Vec<Level>, Rejection> {
    levels
        .iter()
        .map(|level| Level::parse(field, &text(&format!("{field} price"), level.price)?, &text(&format!("{field} qty"), level.qty)?))
        .collect()
}

/// Appends a decimal text without its point and leading zeros.
fn push_digits(out: &mut String, text: &str) {
    let mut leading = true;
    for character in text.chars().filter(|character| *character != '.') {
        if leading && character == '0' {
            continue;
        }
        leading = false;
        out.push(character);
    }
}

/// Kraken's CRC32 of the top 10 asks (best first) then the top 10 bids (best first).
pub fn checksum<'a>(asks: impl Iterator<Item = &'a Level>, bids: impl Iterator<Item = &'a Level>) -> u32 {
    let mut text = String::new();
    for level in asks.take(CHECKSUM_LEVELS).chain(bids.take(CHECKSUM_LEVELS)) {
        push_digits(&mut text, &level.price_text);
        push_digits(&mut text, &level.size_text);
    }
    crc32fast::hash(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: &str, size: &str) -> Level {
        Level::new(price, size, price.parse().unwrap(), size.parse().unwrap())
    }

    #[test]
    fn the_checksum_of_the_documented_book() {
        // The worked example of Kraken's book checksum guide (the algorithm v2 shares
        // with v1): ten asks from 0.05005 up, ten bids from 0.05000 down, all 0.00000500.
        let asks: Vec<Level> =
            ["0.05005", "0.05010", "0.05015", "0.05020", "0.05025", "0.05030", "0.05035", "0.05040", "0.05045", "0.05050"]
                .iter()
                .map(|price| level(price, "0.00000500"))
                .collect();
        let bids: Vec<Level> =
            ["0.05000", "0.04995", "0.04990", "0.04980", "0.04975", "0.04970", "0.04965", "0.04960", "0.04955", "0.04950"]
                .iter()
                .map(|price| level(price, "0.00000500"))
                .collect();
        assert_eq!(checksum(asks.iter(), bids.iter()), 974947235);
    }

    #[test]
    fn the_checksum_text_drops_points_and_leading_zeros_and_counts_ten_levels() {
        let asks = [level("45285.2", "0.00100000")];
        let bids = [level("45283.5", "0.10000000")];
        assert_eq!(checksum(asks.iter(), bids.iter()), crc32fast::hash(b"45285210000045283510000000"));
        // Levels beyond the tenth do not count.
        let many: Vec<Level> = (0..12).map(|index| level(&format!("{}.5", 100 + index), "1.0")).collect();
        assert_eq!(checksum(many.iter(), [].iter()), checksum(many[..10].iter(), [].iter()));
    }

    #[test]
    fn numbers_are_read_as_the_venue_wrote_them() {
        let data: Vec<BookData> = serde_json::from_str(
            r#"[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price":"45285.2","qty":1e-3}],"checksum":3310070434}]"#,
        )
        .unwrap();
        let bids = levels("bids", &data[0].bids).unwrap();
        assert_eq!((&*bids[0].price_text, &*bids[0].size_text, bids[0].size), ("45283.5", "0.10000000", 0.1));
        let asks = levels("asks", &data[0].asks).unwrap();
        assert_eq!((&*asks[0].price_text, asks[0].size), ("45285.2", 0.001));
        assert_eq!((data[0].checksum, data[0].timestamp), (Some(3310070434), None));
        let negative: Vec<BookData> = serde_json::from_str(r#"[{"symbol":"BTC/USD","bids":[{"price":1,"qty":-2}]}]"#).unwrap();
        assert!(levels("bids", &negative[0].bids).unwrap_err().detail.contains("negative"));
    }

    #[test]
    fn every_update_follows() {
        assert!(KrakenBookRules.follows(5, &BookUpdate::default()));
    }
}
