//! The local L2 book per symbol a venue adapter keeps for its `book` channel, knowing no
//! venue: the adapter parses the venue's messages into [`BookUpdate`]s and supplies the
//! venue's rules ([`BookRules`]: which update follows which, and the checksum where the
//! venue publishes one). The keeper applies snapshots and updates, checks continuity,
//! the checksum and that the book is not crossed, and turns what it applied into
//! `book_deltas` rows (a snapshot's rows marked `snapshot`) and `book_snapshots` rows
//! (at every synchronisation and every `interval` of event time).
//!
//! On a break (`gap`, `checksum_mismatch`, `crossed`) it adds a feed event naming the
//! venue, the symbol and the range, forgets the book and answers
//! [`Applied::Resync`]: the adapter asks the venue for a fresh snapshot. Until that
//! snapshot arrives every update is dropped and counted (`Parsed::book_dropped`): the
//! stored deltas never stitch across a break. The snapshot that ends a break adds a
//! `resync` feed event.
//!
//! Every break event's `detail` carries `at`, the venue time from which the stored book
//! is not verified (the time of the message that broke it), which `book_verified` reads.
//! A connection that ends ([`BookKeeper::reset`], called by the adapter when it
//! subscribes again) is a break too: the next snapshot first adds a `gap` event with
//! `reason` `reconnect` and `at` just after the last message applied.
//!
//! Resynchronisation is paced so a venue whose snapshots keep failing is not asked in a
//! loop (nor past a venue's limit on subscriptions): the first request is immediate;
//! each later one comes no sooner than 0.5 s, 1 s, 2 s, … (up to a minute) after the
//! previous one, the wait doubling with each break since an update last applied; a
//! request not answered within 30 s is made again. The waits are measured in receipt
//! time and checked as messages arrive.
//!
//! Bounded: at most `depth_cap` levels per side (the worst are dropped beyond it, each
//! stored as a removal so the stored book is the book kept, and
//! never more than [`MAX_DEPTH`]) and at most one book per configured symbol (a venue
//! sending other symbols cannot grow memory; [`MAX_BOOKS`] without settings). The
//! configuration's memory bound counts [`LEVEL_BYTES`] per level.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::Parsed;
use crate::config::SourceConfig;
use crate::record::{BookDelta, BookSide, BookSnapshot, Record, RejectReason, Rejection, SnapshotReason, Timestamp};
use crate::source::values;

/// Books kept at most; a venue sending more symbols than configured cannot grow memory.
pub const MAX_BOOKS: usize = 10_000;
/// Levels per side kept at most, whatever the venue offers.
pub const MAX_DEPTH: usize = crate::config::MAX_BOOK_DEPTH as usize;
/// The memory of one level at most (map node share, the level, its two texts).
pub const LEVEL_BYTES: u64 = crate::config::BOOK_LEVEL_BYTES;

/// The first wait between two requests for a fresh snapshot, doubled per break since
/// the book last held, up to [`RESYNC_MAX_WAIT_MICROS`].
const RESYNC_FIRST_WAIT_MICROS: i64 = 250_000;
const RESYNC_MAX_WAIT_MICROS: i64 = 60_000_000;
/// A request for a fresh snapshot not answered within this is made again.
const RESYNC_ANSWER_MICROS: i64 = 30_000_000;

/// A source's `book` settings (`[[sources]]` `book_depth`, `book_snapshot_depth`,
/// `book_snapshot_interval_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookSettings {
    /// Levels per side subscribed (and kept); the venue's default when not configured.
    pub depth: u32,
    /// Levels per side in each `book_snapshots` row.
    pub snapshot_depth: usize,
    /// Venue time between two `book_snapshots` rows of a symbol; 0: only at synchronisation.
    pub snapshot_interval_ms: u64,
    /// Books kept at most: the configured symbols.
    pub max_books: usize,
}

impl BookSettings {
    /// The settings of `config`, whose venue offers `depths` (the default first).
    pub fn of(config: &SourceConfig, depths: &[u32]) -> BookSettings {
        BookSettings {
            depth: config.book_depth.or_else(|| depths.first().copied()).unwrap_or(1_000),
            snapshot_depth: usize::try_from(config.book_snapshot_depth.get()).unwrap_or(usize::MAX),
            snapshot_interval_ms: config.book_snapshot_interval_ms,
            max_books: config.symbols.len().max(1),
        }
    }
}

impl Default for BookSettings {
    fn default() -> Self {
        BookSettings { depth: 1_000, snapshot_depth: 20, snapshot_interval_ms: 10_000, max_books: MAX_BOOKS }
    }
}

/// A price as a map key, ordered by value (`total_cmp`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Price(f64);

impl Eq for Price {}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Price {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One level as the venue wrote it: the numbers, and their text (checksums are
/// computed over the text).
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub price: f64,
    pub size: f64,
    pub price_text: Box<str>,
    pub size_text: Box<str>,
}

impl Level {
    pub fn new(price_text: &str, size_text: &str, price: f64, size: f64) -> Level {
        Level { price, size, price_text: price_text.into(), size_text: size_text.into() }
    }

    /// A level from the venue's decimal texts: a finite price and a size that is not
    /// negative, or a rejection naming `field` (`bids`, `asks`, …).
    pub fn parse(field: &str, price_text: &str, size_text: &str) -> Result<Level, Rejection> {
        let price = values::decimal(&format!("{field} price"), price_text)?;
        let size = values::decimal(&format!("{field} size"), size_text)?;
        if size < 0.0 {
            return Err(Rejection::new(RejectReason::InvalidField, format!("`{field}` size: {size_text} is negative")));
        }
        Ok(Level::new(price_text, size_text, price, size))
    }
}

/// A snapshot or an update of one symbol's book, as the adapter read it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BookUpdate {
    /// The venue's event time.
    pub time: Timestamp,
    pub received_at: Timestamp,
    /// The venue's sequence or update id of this message.
    pub sequence: i64,
    /// The id of the message this one follows, where the venue says (`prevSeqId`).
    pub previous: Option<i64>,
    /// Changed levels (size 0 removes), or in a snapshot the whole side.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    /// The venue's checksum of the book after this message, if it sends one.
    pub checksum: Option<u32>,
}

/// A venue's rules for its book messages.
pub trait BookRules: Send + Sync {
    /// Whether `update` follows the last message applied (whose sequence is `last`).
    fn follows(&self, last: i64, update: &BookUpdate) -> bool;
    /// The venue's checksum of `book`, for venues that publish one.
    fn checksum(&self, _book: &Book) -> Option<u32> {
        None
    }
}

/// One symbol's book: bids and asks by price.
#[derive(Debug, Default)]
pub struct Book {
    bids: BTreeMap<Price, Level>,
    asks: BTreeMap<Price, Level>,
    /// The sequence of the last message applied; `None` until a snapshot (or after a break).
    sequence: Option<i64>,
    /// When the last `book_snapshots` row was taken (event time).
    pictured_at: Option<Timestamp>,
    /// Whether the book broke since its last snapshot (the next snapshot is a resync).
    broken: bool,
    /// Breaks since an update last applied (the wait before the next request grows with them).
    breaks: u32,
    /// When a fresh snapshot was asked for since the break (receipt time, µs).
    asked_at: Option<i64>,
    /// No request before this (receipt time, µs).
    next_ask: i64,
    /// Event time of the last message applied.
    applied_at: Option<Timestamp>,
    /// The connection ended while the book was synchronised, after this message time.
    disconnected_after: Option<Timestamp>,
}

impl Book {
    /// The bids, best (highest) first.
    pub fn bids(&self) -> impl Iterator<Item = &Level> {
        self.bids.values().rev()
    }

    /// The asks, best (lowest) first.
    pub fn asks(&self) -> impl Iterator<Item = &Level> {
        self.asks.values()
    }

    pub fn is_synced(&self) -> bool {
        self.sequence.is_some()
    }

    fn side_mut(&mut self, side: BookSide) -> &mut BTreeMap<Price, Level> {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    fn apply(&mut self, side: BookSide, level: &Level) {
        let levels = self.side_mut(side);
        if level.size == 0.0 {
            levels.remove(&Price(level.price));
        } else {
            levels.insert(Price(level.price), level.clone());
        }
    }

    /// Drops the worst levels beyond `cap` on each side; returns them.
    fn cap(&mut self, cap: usize) -> Vec<(BookSide, Level)> {
        let mut dropped = Vec::new();
        while self.bids.len() > cap {
            dropped.extend(self.bids.pop_first().map(|(_, level)| (BookSide::Bid, level)));
        }
        while self.asks.len() > cap {
            dropped.extend(self.asks.pop_last().map(|(_, level)| (BookSide::Ask, level)));
        }
        dropped
    }

    fn crossed(&self) -> Option<(f64, f64)> {
        let bid = self.bids.last_key_value()?.0 .0;
        let ask = self.asks.first_key_value()?.0 .0;
        (bid >= ask).then_some((bid, ask))
    }

    fn forget(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.sequence = None;
        self.broken = true;
    }

    /// Whether to ask the venue for a fresh snapshot now (`now`: receipt time, µs).
    fn ask(&mut self, now: i64) -> bool {
        let unanswered = self.asked_at.is_some_and(|at| now.saturating_sub(at) >= RESYNC_ANSWER_MICROS);
        if (self.asked_at.is_some() && !unanswered) || now < self.next_ask {
            return false;
        }
        self.asked_at = Some(now);
        let wait = RESYNC_FIRST_WAIT_MICROS.saturating_mul(1 << self.breaks.min(10)).min(RESYNC_MAX_WAIT_MICROS);
        self.next_ask = now.saturating_add(wait);
        true
    }
}

/// What the keeper did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied; its rows are in `parsed.records`.
    Applied,
    /// Dropped: the book is waiting for a snapshot (counted in `parsed.book_dropped`).
    Dropped,
    /// The book broke on this message: ask the venue for a fresh snapshot.
    Resync,
}

/// The books of one connection.
pub struct BookKeeper<R: BookRules> {
    venue: String,
    rules: R,
    depth_cap: usize,
    snapshot_depth: usize,
    /// Event time between `book_snapshots` rows, µs; 0: only at synchronisation.
    interval_micros: i64,
    max_books: usize,
    books: HashMap<String, Book>,
}

impl<R: BookRules> BookKeeper<R> {
    /// `depth_cap` levels kept per side, `snapshot_depth` of them in `book_snapshots`
    /// rows taken every `interval_ms` of event time (0: only at synchronisation).
    pub fn new(venue: &str, rules: R, depth_cap: usize, snapshot_depth: usize, interval_ms: u64) -> Self {
        BookKeeper {
            venue: venue.to_string(),
            rules,
            depth_cap: depth_cap.clamp(1, MAX_DEPTH),
            snapshot_depth: snapshot_depth.min(depth_cap).max(1),
            interval_micros: i64::try_from(interval_ms.saturating_mul(1_000)).unwrap_or(i64::MAX),
            max_books: MAX_BOOKS,
            books: HashMap::new(),
        }
    }

    /// A keeper with a source's settings.
    pub fn with_settings(venue: &str, rules: R, settings: &BookSettings) -> Self {
        let depth = usize::try_from(settings.depth).unwrap_or(usize::MAX);
        let mut keeper = Self::new(venue, rules, depth, settings.snapshot_depth, settings.snapshot_interval_ms);
        keeper.max_books = settings.max_books.clamp(1, MAX_BOOKS);
        keeper
    }

    pub fn book(&self, symbol: &str) -> Option<&Book> {
        self.books.get(symbol)
    }

    /// The connection ended and the adapter subscribes again at `now` (the subscription
    /// asks for the snapshots): every book is forgotten until its next snapshot, and one
    /// that was synchronised records the break when that snapshot comes.
    pub fn reset(&mut self, now: Timestamp) {
        for book in self.books.values_mut() {
            let (synced, broken) = (book.is_synced(), book.broken);
            if synced {
                book.disconnected_after = book.applied_at;
            }
            book.forget();
            book.broken = synced || broken;
            book.breaks = 0;
            book.asked_at = Some(now.micros());
            book.next_ask = 0;
        }
    }

    fn book_mut(&mut self, symbol: &str) -> Option<&mut Book> {
        if !self.books.contains_key(symbol) && self.books.len() >= self.max_books {
            return None;
        }
        Some(self.books.entry(symbol.to_string()).or_default())
    }

    /// A full snapshot: it replaces the book (and ends a break).
    pub fn snapshot(&mut self, symbol: &str, update: &BookUpdate, parsed: &mut Parsed) -> Applied {
        let (venue, depth_cap) = (self.venue.clone(), self.depth_cap);
        let Some(book) = self.book_mut(symbol) else {
            parsed.book_dropped += update.bids.len() + update.asks.len();
            return Applied::Dropped;
        };
        let resync = std::mem::take(&mut book.broken);
        let disconnected_after = book.disconnected_after.take();
        book.asked_at = None;
        book.bids.clear();
        book.asks.clear();
        for level in &update.bids {
            book.apply(BookSide::Bid, level);
        }
        for level in &update.asks {
            book.apply(BookSide::Ask, level);
        }
        // The snapshot's rows are the levels kept.
        book.cap(depth_cap);
        book.sequence = Some(update.sequence);
        book.applied_at = Some(update.time);
        if let Some(after) = disconnected_after {
            parsed.events.push((
                "gap",
                json!({ "venue": venue, "symbol": symbol, "reason": "reconnect",
                        "at": after.saturating_add_micros(1).to_string(), "sequence": update.sequence }),
            ));
        }
        if let Some(broken) = self.check(symbol, update, parsed) {
            return broken;
        }
        if resync {
            parsed
                .events
                .push(("resync", json!({ "venue": venue, "symbol": symbol, "sequence": update.sequence, "at": update.time.to_string() })));
        }
        let Some(book) = self.books.get(symbol) else { return Applied::Dropped };
        for (side, levels) in [(BookSide::Bid, book.bids().collect::<Vec<_>>()), (BookSide::Ask, book.asks().collect())] {
            for level in levels {
                parsed.records.push(Record::BookDelta(delta(&venue, symbol, update, side, level, true)));
            }
        }
        self.picture(symbol, update, SnapshotReason::Sync, parsed);
        Applied::Applied
    }

    /// An update: applied when it follows the last message, else a gap.
    pub fn update(&mut self, symbol: &str, update: &BookUpdate, parsed: &mut Parsed) -> Applied {
        let venue = self.venue.clone();
        let depth_cap = self.depth_cap;
        let Some(last) = self.books.get(symbol).and_then(|book| book.sequence) else {
            parsed.book_dropped += update.bids.len() + update.asks.len();
            // A broken book asks again once its wait is over (a first snapshot is the venue's to send).
            let ask = self.books.get_mut(symbol).is_some_and(|book| book.broken && book.ask(update.received_at.micros()));
            return if ask { Applied::Resync } else { Applied::Dropped };
        };
        if !self.rules.follows(last, update) {
            parsed.events.push((
                "gap",
                json!({ "venue": venue, "symbol": symbol, "last": last, "previous": update.previous,
                        "sequence": update.sequence, "at": update.time.to_string() }),
            ));
            return self.break_book(symbol, update, parsed);
        }
        let Some(book) = self.books.get_mut(symbol) else { return Applied::Dropped };
        for level in &update.bids {
            book.apply(BookSide::Bid, level);
            parsed.records.push(Record::BookDelta(delta(&venue, symbol, update, BookSide::Bid, level, false)));
        }
        for level in &update.asks {
            book.apply(BookSide::Ask, level);
            parsed.records.push(Record::BookDelta(delta(&venue, symbol, update, BookSide::Ask, level, false)));
        }
        // A level pushed out of the kept depth leaves the stored book too (some venues,
        // Kraken among them, send no removal for it), so `book_at` is the book kept.
        for (side, level) in book.cap(depth_cap) {
            let removed = Level { size: 0.0, size_text: "0".into(), ..level };
            parsed.records.push(Record::BookDelta(delta(&venue, symbol, update, side, &removed, false)));
        }
        book.sequence = Some(update.sequence);
        book.applied_at = Some(update.time);
        book.breaks = 0;
        if let Some(broken) = self.check(symbol, update, parsed) {
            // This message's rows come after the break: not stored.
            parsed
                .records
                .retain(|record| !matches!(record, Record::BookDelta(row) if row.symbol == symbol && row.sequence == update.sequence));
            return broken;
        }
        let due = self
            .books
            .get(symbol)
            .and_then(|book| book.pictured_at)
            .is_some_and(|at| self.interval_micros > 0 && update.time.micros().saturating_sub(at.micros()) >= self.interval_micros);
        if due {
            self.picture(symbol, update, SnapshotReason::Interval, parsed);
        }
        Applied::Applied
    }

    /// The checksum and the crossed-book check after `update` was applied.
    fn check(&mut self, symbol: &str, update: &BookUpdate, parsed: &mut Parsed) -> Option<Applied> {
        let book = self.books.get(symbol)?;
        if let Some(expected) = update.checksum {
            if let Some(computed) = self.rules.checksum(book) {
                if computed != expected {
                    parsed.events.push((
                        "checksum_mismatch",
                        json!({ "venue": self.venue, "symbol": symbol, "sequence": update.sequence,
                                "expected": expected, "computed": computed, "at": update.time.to_string() }),
                    ));
                    return Some(self.break_book(symbol, update, parsed));
                }
            }
        }
        if let Some((bid, ask)) = book.crossed() {
            parsed.events.push((
                "crossed",
                json!({ "venue": self.venue, "symbol": symbol, "sequence": update.sequence, "best_bid": bid, "best_ask": ask,
                        "at": update.time.to_string() }),
            ));
            return Some(self.break_book(symbol, update, parsed));
        }
        None
    }

    /// Forgets the book; asks for a fresh snapshot unless the last request is too recent
    /// (a later message asks once the wait is over).
    fn break_book(&mut self, symbol: &str, update: &BookUpdate, parsed: &mut Parsed) -> Applied {
        parsed.book_dropped += update.bids.len() + update.asks.len();
        let Some(book) = self.books.get_mut(symbol) else { return Applied::Dropped };
        book.forget();
        book.breaks = book.breaks.saturating_add(1);
        if book.ask(update.received_at.micros()) {
            Applied::Resync
        } else {
            Applied::Dropped
        }
    }

    /// A `book_snapshots` row of the top `snapshot_depth` levels.
    fn picture(&mut self, symbol: &str, update: &BookUpdate, reason: SnapshotReason, parsed: &mut Parsed) {
        let depth = self.snapshot_depth;
        let Some(book) = self.books.get_mut(symbol) else { return };
        let (bid_prices, bid_sizes) = book.bids().take(depth).map(|level| (level.price, level.size)).unzip();
        let (ask_prices, ask_sizes) = book.asks().take(depth).map(|level| (level.price, level.size)).unzip();
        parsed.records.push(Record::BookSnapshot(BookSnapshot {
            time: update.time,
            received_at: update.received_at,
            venue: self.venue.clone(),
            symbol: symbol.to_string(),
            sequence: update.sequence,
            bid_prices,
            bid_sizes,
            ask_prices,
            ask_sizes,
            depth: i32::try_from(depth).unwrap_or(i32::MAX),
            reason,
        }));
        book.pictured_at = Some(update.time);
    }
}

fn delta(venue: &str, symbol: &str, update: &BookUpdate, side: BookSide, level: &Level, snapshot: bool) -> BookDelta {
    BookDelta {
        time: update.time,
        received_at: update.received_at,
        venue: venue.to_string(),
        symbol: symbol.to_string(),
        side,
        price: level.price,
        size: level.size,
        sequence: update.sequence,
        snapshot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `previous` must name the last sequence; the checksum is the number of levels.
    struct Rules;

    impl BookRules for Rules {
        fn follows(&self, last: i64, update: &BookUpdate) -> bool {
            update.previous == Some(last)
        }

        fn checksum(&self, book: &Book) -> Option<u32> {
            Some((book.bids().count() + book.asks().count()) as u32)
        }
    }

    fn level(price: f64, size: f64) -> Level {
        Level::new(&price.to_string(), &size.to_string(), price, size)
    }

    fn message(second: i64, sequence: i64, previous: Option<i64>, bids: &[(f64, f64)], asks: &[(f64, f64)]) -> BookUpdate {
        BookUpdate {
            time: Timestamp(second * 1_000_000),
            received_at: Timestamp(second * 1_000_000),
            sequence,
            previous,
            bids: bids.iter().map(|(price, size)| level(*price, *size)).collect(),
            asks: asks.iter().map(|(price, size)| level(*price, *size)).collect(),
            checksum: None,
        }
    }

    type Sides = (Vec<(f64, f64)>, Vec<(f64, f64)>);

    fn sides(keeper: &BookKeeper<Rules>) -> Sides {
        let book = keeper.book("X").unwrap();
        (book.bids().map(|l| (l.price, l.size)).collect(), book.asks().map(|l| (l.price, l.size)).collect())
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

    fn pictures(parsed: &Parsed) -> Vec<&BookSnapshot> {
        parsed.records.iter().filter_map(|record| if let Record::BookSnapshot(row) = record { Some(row) } else { None }).collect()
    }

    fn kinds(parsed: &Parsed) -> Vec<&'static str> {
        parsed.events.iter().map(|(kind, _)| *kind).collect()
    }

    #[test]
    fn snapshot_then_updates_level_by_level() {
        let mut keeper = BookKeeper::new("v", Rules, 100, 2, 0);
        let mut parsed = Parsed::default();
        let snapshot = message(1, 10, None, &[(99.0, 1.0), (100.0, 2.0), (98.0, 3.0)], &[(101.0, 1.0), (102.0, 2.0)]);
        assert_eq!(keeper.snapshot("X", &snapshot, &mut parsed), Applied::Applied);
        assert_eq!(
            deltas(&parsed),
            [
                (BookSide::Bid, 100.0, 2.0, 10, true),
                (BookSide::Bid, 99.0, 1.0, 10, true),
                (BookSide::Bid, 98.0, 3.0, 10, true),
                (BookSide::Ask, 101.0, 1.0, 10, true),
                (BookSide::Ask, 102.0, 2.0, 10, true),
            ]
        );
        let picture = pictures(&parsed);
        assert_eq!(picture.len(), 1);
        assert_eq!((picture[0].bid_prices.clone(), picture[0].ask_sizes.clone()), (vec![100.0, 99.0], vec![1.0, 2.0]));
        assert_eq!((picture[0].reason, picture[0].depth), (SnapshotReason::Sync, 2));
        assert!(kinds(&parsed).is_empty(), "a first snapshot is no resync");

        let mut parsed = Parsed::default();
        let update = message(2, 11, Some(10), &[(100.0, 0.0), (99.5, 4.0)], &[(101.0, 5.0)]);
        assert_eq!(keeper.update("X", &update, &mut parsed), Applied::Applied);
        assert_eq!(
            deltas(&parsed),
            [(BookSide::Bid, 100.0, 0.0, 11, false), (BookSide::Bid, 99.5, 4.0, 11, false), (BookSide::Ask, 101.0, 5.0, 11, false)]
        );
        assert_eq!(sides(&keeper), (vec![(99.5, 4.0), (99.0, 1.0), (98.0, 3.0)], vec![(101.0, 5.0), (102.0, 2.0)]));
        assert!(pictures(&parsed).is_empty(), "no interval: pictures only at synchronisation");
    }

    #[test]
    fn a_gap_breaks_the_book_until_a_fresh_snapshot() {
        let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
        let mut parsed = Parsed::default();
        keeper.snapshot("X", &message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]), &mut parsed);
        let mut parsed = Parsed::default();
        assert_eq!(keeper.update("X", &message(2, 12, Some(11), &[(99.0, 2.0)], &[]), &mut parsed), Applied::Resync);
        assert_eq!(kinds(&parsed), ["gap"]);
        assert_eq!(
            parsed.events[0].1,
            json!({ "venue": "v", "symbol": "X", "last": 10, "previous": 11, "sequence": 12,
                                               "at": Timestamp(2_000_000).to_string() })
        );
        assert!(deltas(&parsed).is_empty(), "nothing stored across the break");
        assert!(!keeper.book("X").unwrap().is_synced());

        // Updates before the fresh snapshot are dropped and counted, with no new request.
        let mut parsed = Parsed::default();
        assert_eq!(keeper.update("X", &message(3, 13, Some(12), &[(99.0, 3.0), (98.0, 1.0)], &[]), &mut parsed), Applied::Dropped);
        assert_eq!((parsed.book_dropped, parsed.records.len(), parsed.events.len()), (2, 0, 0));

        let mut parsed = Parsed::default();
        assert_eq!(keeper.snapshot("X", &message(4, 20, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed), Applied::Applied);
        assert_eq!(kinds(&parsed), ["resync"]);
        assert_eq!(deltas(&parsed), [(BookSide::Bid, 97.0, 1.0, 20, true), (BookSide::Ask, 103.0, 1.0, 20, true)]);
        assert_eq!(pictures(&parsed)[0].reason, SnapshotReason::Sync);
        let mut parsed = Parsed::default();
        assert_eq!(keeper.update("X", &message(5, 21, Some(20), &[(97.0, 2.0)], &[]), &mut parsed), Applied::Applied);
    }

    #[test]
    fn a_checksum_mismatch_breaks_the_book_and_drops_the_message_rows() {
        let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
        let mut parsed = Parsed::default();
        let mut snapshot = message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]);
        snapshot.checksum = Some(2);
        assert_eq!(keeper.snapshot("X", &snapshot, &mut parsed), Applied::Applied);
        let mut good = message(2, 11, Some(10), &[(98.0, 1.0)], &[]);
        good.checksum = Some(3);
        assert_eq!(keeper.update("X", &good, &mut parsed), Applied::Applied);

        let mut parsed = Parsed::default();
        let mut bad = message(3, 12, Some(11), &[(97.0, 1.0)], &[]);
        bad.checksum = Some(3);
        assert_eq!(keeper.update("X", &bad, &mut parsed), Applied::Resync);
        assert_eq!(kinds(&parsed), ["checksum_mismatch"]);
        assert_eq!(parsed.events[0].1["expected"], 3);
        assert_eq!(parsed.events[0].1["computed"], 4);
        assert!(deltas(&parsed).is_empty());
        assert_eq!(parsed.book_dropped, 1);

        // A snapshot whose own checksum fails breaks too.
        let mut parsed = Parsed::default();
        let mut wrong = message(4, 20, None, &[(99.0, 1.0)], &[]);
        wrong.checksum = Some(7);
        assert_eq!(keeper.snapshot("X", &wrong, &mut parsed), Applied::Resync);
        assert_eq!(kinds(&parsed), ["checksum_mismatch"]);
        assert!(parsed.records.is_empty());
    }

    #[test]
    fn a_crossed_book_breaks_it() {
        let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
        let mut parsed = Parsed::default();
        keeper.snapshot("X", &message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]), &mut parsed);
        let mut parsed = Parsed::default();
        assert_eq!(keeper.update("X", &message(2, 11, Some(10), &[(101.0, 1.0)], &[]), &mut parsed), Applied::Resync);
        assert_eq!(kinds(&parsed), ["crossed"]);
        assert_eq!((parsed.events[0].1["best_bid"].as_f64(), parsed.events[0].1["best_ask"].as_f64()), (Some(101.0), Some(101.0)));
        assert!(deltas(&parsed).is_empty());
        assert!(!keeper.book("X").unwrap().is_synced());
    }

    #[test]
    fn depth_is_capped_and_pictures_follow_the_interval() {
        let mut keeper = BookKeeper::new("v", Rules, 2, 2, 1_000);
        let mut parsed = Parsed::default();
        keeper.snapshot(
            "X",
            &message(1, 10, None, &[(99.0, 1.0), (98.0, 1.0), (97.0, 1.0)], &[(101.0, 1.0), (102.0, 1.0), (103.0, 1.0)]),
            &mut parsed,
        );
        assert_eq!(sides(&keeper), (vec![(99.0, 1.0), (98.0, 1.0)], vec![(101.0, 1.0), (102.0, 1.0)]), "the worst levels dropped");
        assert_eq!(deltas(&parsed).len(), 4, "a snapshot stores the levels kept");

        // A level pushed out of the depth kept is removed from the stored book too.
        let mut pushed_out = Parsed::default();
        let mut first = message(1, 11, Some(10), &[(98.5, 1.0)], &[]);
        first.time = Timestamp(1_100_000);
        keeper.update("X", &first, &mut pushed_out);
        assert_eq!(deltas(&pushed_out), [(BookSide::Bid, 98.5, 1.0, 11, false), (BookSide::Bid, 98.0, 0.0, 11, false)]);
        assert_eq!(sides(&keeper).0, [(99.0, 1.0), (98.5, 1.0)]);

        let mut parsed = Parsed::default();
        let mut at = |keeper: &mut BookKeeper<Rules>, micros: i64, sequence: i64| {
            let mut update = message(0, sequence, Some(sequence - 1), &[(98.5, 1.0)], &[]);
            update.time = Timestamp(micros);
            keeper.update("X", &update, &mut parsed);
        };
        at(&mut keeper, 1_500_000, 12);
        at(&mut keeper, 1_999_999, 13);
        at(&mut keeper, 2_000_000, 14);
        at(&mut keeper, 2_500_000, 15);
        let taken: Vec<(i64, SnapshotReason)> = pictures(&parsed).iter().map(|row| (row.time.micros(), row.reason)).collect();
        assert_eq!(taken, [(2_000_000, SnapshotReason::Interval)]);
        assert_eq!(pictures(&parsed)[0].bid_prices, [99.0, 98.5]);
    }

    #[test]
    fn updates_before_any_snapshot_are_dropped_and_books_are_bounded() {
        let mut keeper = BookKeeper::new("v", Rules, 10, 5, 0);
        let mut parsed = Parsed::default();
        assert_eq!(keeper.update("X", &message(1, 1, Some(0), &[(1.0, 1.0)], &[]), &mut parsed), Applied::Dropped);
        assert_eq!(parsed.book_dropped, 1);
        for index in 0..MAX_BOOKS {
            keeper.books.insert(index.to_string(), Book::default());
        }
        assert_eq!(keeper.snapshot("new", &message(1, 1, None, &[(1.0, 1.0)], &[]), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.books.len(), MAX_BOOKS);

        // With settings: one book per configured symbol.
        let settings = BookSettings { max_books: 2, ..BookSettings::default() };
        let mut keeper = BookKeeper::with_settings("v", Rules, &settings);
        for symbol in ["A", "B", "C"] {
            keeper.snapshot(symbol, &message(1, 1, None, &[(1.0, 1.0)], &[]), &mut parsed);
        }
        assert!(keeper.book("B").is_some() && keeper.book("C").is_none());
    }

    /// `message` received at `received_ms` milliseconds.
    fn received(mut update: BookUpdate, received_ms: i64) -> BookUpdate {
        update.received_at = Timestamp(received_ms * 1_000);
        update
    }

    #[test]
    fn resync_requests_are_paced_while_the_book_keeps_breaking() {
        let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
        let mut parsed = Parsed::default();
        let snapshot = |sequence| message(1, sequence, None, &[(99.0, 1.0)], &[(101.0, 1.0)]);
        keeper.snapshot("X", &received(snapshot(10), 0), &mut parsed);
        // The first break asks at once.
        assert_eq!(keeper.update("X", &received(message(1, 12, Some(11), &[], &[]), 0), &mut parsed), Applied::Resync);
        // Waiting for the answer: no second request.
        assert_eq!(keeper.update("X", &received(message(1, 13, Some(12), &[], &[]), 100), &mut parsed), Applied::Dropped);
        // The fresh snapshot breaks at once (crossed): the next request comes 0.5 s after the first.
        let crossed = message(1, 20, None, &[(102.0, 1.0)], &[(101.0, 1.0)]);
        assert_eq!(keeper.snapshot("X", &received(crossed.clone(), 200), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 21, Some(20), &[], &[]), 499), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 22, Some(21), &[], &[]), 600), &mut parsed), Applied::Resync);
        // Again: 1 s after that one.
        assert_eq!(keeper.snapshot("X", &received(crossed, 800), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 23, Some(22), &[], &[]), 1_599), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 24, Some(23), &[], &[]), 1_600), &mut parsed), Applied::Resync);
        // A request never answered is made again after 30 s.
        assert_eq!(keeper.update("X", &received(message(1, 25, Some(24), &[], &[]), 31_000), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 26, Some(25), &[], &[]), 31_600), &mut parsed), Applied::Resync);
        // A book that holds (an update applied) stops the waits growing, but the last
        // one still runs: 2 s after the last request.
        keeper.snapshot("X", &received(snapshot(30), 32_000), &mut parsed);
        assert_eq!(keeper.update("X", &received(message(1, 31, Some(30), &[], &[]), 32_000), &mut parsed), Applied::Applied);
        assert_eq!(keeper.update("X", &received(message(1, 33, Some(32), &[], &[]), 32_001), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 34, Some(33), &[], &[]), 33_600), &mut parsed), Applied::Resync);
        // Then 0.5 s: the waits started over.
        keeper.snapshot("X", &received(snapshot(40), 33_700), &mut parsed);
        assert_eq!(keeper.update("X", &received(message(1, 42, Some(41), &[], &[]), 33_800), &mut parsed), Applied::Dropped);
        assert_eq!(keeper.update("X", &received(message(1, 43, Some(42), &[], &[]), 34_100), &mut parsed), Applied::Resync);
    }

    #[test]
    fn a_reconnect_is_a_break_recorded_by_the_next_snapshot() {
        let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
        let mut parsed = Parsed::default();
        keeper.snapshot("X", &message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]), &mut parsed);
        keeper.update("X", &message(2, 11, Some(10), &[(98.0, 1.0)], &[]), &mut parsed);
        keeper.reset(Timestamp(3_000_000));
        assert!(!keeper.book("X").unwrap().is_synced());
        // Updates before the new snapshot are dropped; the subscription is the request.
        let mut parsed = Parsed::default();
        assert_eq!(keeper.update("X", &received(message(3, 12, Some(11), &[], &[]), 3_100), &mut parsed), Applied::Dropped);
        let mut parsed = Parsed::default();
        assert_eq!(keeper.snapshot("X", &message(4, 40, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed), Applied::Applied);
        assert_eq!(kinds(&parsed), ["gap", "resync"]);
        assert_eq!(parsed.events[0].1["reason"], "reconnect");
        assert_eq!(parsed.events[0].1["at"], Timestamp(2_000_001).to_string(), "just after the last message applied");
        assert_eq!(parsed.events[1].1["at"], Timestamp(4_000_000).to_string());

        // A book never synchronised records no break.
        keeper.reset(Timestamp(5_000_000));
        keeper.reset(Timestamp(5_000_000));
        let mut parsed = Parsed::default();
        keeper.snapshot("X", &message(6, 50, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed);
        assert_eq!(kinds(&parsed), ["gap", "resync"], "the first reset's break, recorded once");
        let mut fresh = BookKeeper::new("v", Rules, 100, 5, 0);
        fresh.reset(Timestamp(0));
        let mut parsed = Parsed::default();
        fresh.snapshot("X", &message(6, 50, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed);
        assert!(kinds(&parsed).is_empty());
    }
}
