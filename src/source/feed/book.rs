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

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::Parsed;
use crate::config::SourceConfig;
use crate::record::{BookDelta, BookSide, BookSnapshot, Record, SnapshotReason, Timestamp};

mod levels;

use levels::Price;
pub use levels::{BookUpdate, Level};

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
#[path = "book_tests.rs"]
mod tests;
