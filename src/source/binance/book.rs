//! Binance `book`: the diff depth stream `<symbol>@depth@100ms` synchronised with the
//! REST depth snapshot by the venue's procedure ("How to manage a local order book
//! correctly": spot, developers.binance.com/docs/binance-spot-api-docs/web-socket-streams;
//! USDⓈ-M futures, .../derivatives/usds-margined-futures/websocket-market-streams/
//! How-to-manage-a-local-order-book-correctly).
//!
//! What is stored: the raw diff stream (every changed level, absolute quantities, 0
//! removes), on top of the REST snapshot of `book_depth` levels per side
//! (`GET /api/v3/depth` spot, `GET /fapi/v1/depth` futures, `limit` = `book_depth`). The
//! diff stream covers the whole book, the keeper keeps `book_depth` levels per side: a
//! level pushed out of that window and later back into it is only known again once the
//! venue changes it (the venue's own caveat for a limited snapshot).
//!
//! The procedure, per symbol and connection: the first diff event asks for a snapshot
//! (a [`Fetch`]) and is buffered, as are the events until the answer (at most
//! [`MAX_BUFFERED_EVENTS`] events and [`MAX_BUFFERED_LEVELS`] levels; beyond, the oldest
//! are dropped and counted, and the continuity check tells whether the snapshot still
//! meets the stream). With the snapshot's `lastUpdateId` (L):
//! - spot: events with `u <= L` are dropped; the first applied has `U <= L+1 <= u`;
//!   each next one's `U` is the previous `u + 1`;
//! - USDⓈ-M: events with `u < L` are dropped; the first applied has `U <= L <= u`
//!   (or `pu = L`); each next one's `pu` is the previous `u`.
//!
//! Anything else is a `gap` (the keeper's event) and a new snapshot fetch (paced by the
//! keeper), the stream buffered again meanwhile. A reconnect starts every symbol over.
//!
//! Times: a diff row carries the event time `E`. The futures snapshot carries `T`, the
//! time of its last transaction, stored as its time. The spot snapshot carries no time:
//! it is stored at the event time of the last buffered event it covers (`u <= L`), or,
//! when it covers none, 1 µs before the first buffered event (the one it must meet) — so
//! the snapshot never sorts after the first delta applied on it, which `book_at` relies
//! on, and a snapshot that does not meet the stream is followed by its `gap`, which
//! `book_verified` relies on.
//!
//! Weights (REST "Order Book" endpoints): spot `limit` 1–100: 5, 101–500: 25,
//! 501–1000: 50, 1001–5000: 250, of 6000 per minute; USDⓈ-M 5, 10, 20, 50: 2, 100: 5,
//! 500: 10, 1000: 20, of 2400 per minute.

use std::collections::{HashMap, VecDeque};

use serde::Deserialize;

use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::feed::book::{Applied, BookKeeper, BookRules, BookSettings, BookUpdate, Level, MAX_BOOKS};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, RestSpec};
use crate::source::symbols::split_quote_asset;
use crate::source::values::millis;

/// Events buffered per symbol while its snapshot is fetched.
pub const MAX_BUFFERED_EVENTS: usize = 4_096;
/// Levels in those events, at most.
pub const MAX_BUFFERED_LEVELS: usize = 200_000;
/// After a snapshot fetch failed for good, the next one is asked no sooner than this.
const FAILED_FETCH_WAIT_MICROS: i64 = 10_000_000;

/// The `book_depth` (REST `limit`) values, the default first.
pub const SPOT_DEPTHS: &[u32] = &[1_000, 100, 500, 5_000];
pub const FUTURES_DEPTHS: &[u32] = &[1_000, 5, 10, 20, 50, 100, 500];

/// Spot REST base and weight per minute.
pub const SPOT_REST: &str = "https://api.binance.com";
pub const SPOT_WEIGHT_PER_MINUTE: u32 = 6_000;
pub const FUTURES_REST: &str = "https://fapi.binance.com";
pub const FUTURES_WEIGHT_PER_MINUTE: u32 = 2_400;

/// The weight of a depth snapshot of `limit` levels.
pub fn depth_weight(futures: bool, limit: u32) -> u32 {
    match (futures, limit) {
        (false, 0..=100) => 5,
        (false, 101..=500) => 25,
        (false, 501..=1_000) => 50,
        (false, _) => 250,
        (true, 0..=50) => 2,
        (true, 51..=100) => 5,
        (true, 101..=500) => 10,
        (true, _) => 20,
    }
}

/// `<symbol>@depth@100ms`. Spot:
/// `{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}`;
/// USDⓈ-M futures add `T` (transaction time) and `pu` (the previous event's `u`):
/// `{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}`.
#[derive(Debug, Deserialize)]
pub struct DepthUpdate<'a> {
    #[serde(rename = "E")]
    pub event_time_ms: i64,
    #[serde(rename = "s")]
    pub symbol: &'a str,
    #[serde(rename = "U")]
    pub first_update_id: i64,
    #[serde(rename = "u")]
    pub final_update_id: i64,
    #[serde(default)]
    pub pu: Option<i64>,
    #[serde(rename = "b", borrow)]
    pub bids: Vec<(&'a str, &'a str)>,
    #[serde(rename = "a", borrow)]
    pub asks: Vec<(&'a str, &'a str)>,
}

/// The REST depth snapshot. Spot:
/// `{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}`;
/// USDⓈ-M futures add `E` (message time) and `T` (transaction time).
#[derive(Debug, Deserialize)]
pub struct DepthSnapshot<'a> {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: i64,
    #[serde(rename = "T", default)]
    pub transaction_time_ms: Option<i64>,
    #[serde(borrow)]
    pub bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    pub asks: Vec<(&'a str, &'a str)>,
}

/// Continuity for the keeper: an event follows the last one applied when it names it as
/// its previous (the adapter sets `previous` by the venue's rule, see the module doc).
pub struct BinanceBookRules;

impl BookRules for BinanceBookRules {
    fn follows(&self, last: i64, update: &BookUpdate) -> bool {
        update.previous == Some(last)
    }
}

/// One diff event as the books keep it.
#[derive(Debug, Clone)]
struct Diff {
    /// `sequence` = `u`; `previous` = `U - 1` (spot) or `pu` (futures).
    update: BookUpdate,
    /// `U`.
    first: i64,
}

impl Diff {
    fn levels(&self) -> usize {
        self.update.bids.len() + self.update.asks.len()
    }
}

/// Where a symbol's book stands on this connection.
#[derive(Debug)]
enum State {
    /// No snapshot asked for yet.
    Fresh,
    /// A fetch failed for good: the next event after this receipt time (µs) asks again.
    Waiting(i64),
    /// A snapshot is being fetched; the events meanwhile.
    Fetching { buffer: VecDeque<Diff>, levels: usize },
    /// Synchronised on the snapshot `snapshot_id`; `first` while no event was applied on it yet.
    Live { snapshot_id: i64, first: bool },
    /// Broken: the keeper says when to ask again.
    Broken,
}

/// The books of one Binance connection.
pub struct BinanceBooks {
    futures: bool,
    limit: u32,
    keeper: BookKeeper<BinanceBookRules>,
    states: HashMap<String, State>,
}

impl BinanceBooks {
    pub fn new(futures: bool, settings: &BookSettings) -> BinanceBooks {
        let venue = if futures { "binance_futures" } else { "binance" };
        BinanceBooks {
            futures,
            limit: settings.depth,
            keeper: BookKeeper::with_settings(venue, BinanceBookRules, settings),
            states: HashMap::new(),
        }
    }

    pub fn rest(&self) -> RestSpec {
        if self.futures {
            RestSpec { base_url: FUTURES_REST.into(), weight_per_minute: FUTURES_WEIGHT_PER_MINUTE }
        } else {
            RestSpec { base_url: SPOT_REST.into(), weight_per_minute: SPOT_WEIGHT_PER_MINUTE }
        }
    }

    /// A new connection subscribes again: every book starts over.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
        self.states.clear();
    }

    /// The snapshot fetch of a venue symbol.
    fn fetch(&self, venue_symbol: &str) -> Fetch {
        let path = if self.futures { "/fapi/v1/depth" } else { "/api/v3/depth" };
        Fetch::get(venue_symbol, format!("{path}?symbol={venue_symbol}&limit={}", self.limit), depth_weight(self.futures, self.limit))
    }

    /// One `depthUpdate` event.
    pub fn event(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let event: DepthUpdate = serde_json::from_str(payload).map_err(|error| invalid("depthUpdate", error))?;
        let previous = if self.futures {
            Some(event.pu.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "depthUpdate: no `pu` in a futures event"))?)
        } else {
            Some(event.first_update_id.saturating_sub(1))
        };
        let diff = Diff {
            update: BookUpdate {
                time: millis("E", event.event_time_ms)?,
                received_at,
                sequence: event.final_update_id,
                previous,
                bids: levels("b", &event.bids)?,
                asks: levels("a", &event.asks)?,
                checksum: None,
            },
            first: event.first_update_id,
        };
        let venue_symbol = event.symbol.to_ascii_uppercase();
        if !self.states.contains_key(&venue_symbol) && self.states.len() >= MAX_BOOKS {
            parsed.book_dropped += diff.levels();
            return Ok(());
        }
        self.diff(&venue_symbol, diff, parsed);
        Ok(())
    }

    fn diff(&mut self, venue_symbol: &str, mut diff: Diff, parsed: &mut Parsed) {
        let symbol = split_quote_asset(venue_symbol);
        let state = self.states.remove(venue_symbol).unwrap_or(State::Fresh);
        let next = match state {
            State::Waiting(until) if diff.update.received_at.micros() < until => {
                parsed.book_dropped += diff.levels();
                State::Waiting(until)
            }
            State::Fresh | State::Waiting(_) => self.ask(venue_symbol, VecDeque::from([diff]), parsed),
            State::Fetching { mut buffer, mut levels } => {
                levels += diff.levels();
                buffer.push_back(diff);
                while buffer.len() > MAX_BUFFERED_EVENTS || levels > MAX_BUFFERED_LEVELS {
                    let Some(oldest) = buffer.pop_front() else { break };
                    levels -= oldest.levels();
                    parsed.book_dropped += oldest.levels();
                }
                State::Fetching { buffer, levels }
            }
            State::Broken => match self.keeper.update(&symbol, &diff.update, parsed) {
                Applied::Resync => self.ask(venue_symbol, VecDeque::from([diff]), parsed),
                _ => State::Broken,
            },
            State::Live { snapshot_id, first } => {
                if first {
                    let (first_id, last_id) = (diff.first, diff.update.sequence);
                    let covered = if self.futures { last_id < snapshot_id } else { last_id <= snapshot_id };
                    if covered {
                        parsed.book_dropped += diff.levels();
                        self.states.insert(venue_symbol.to_string(), State::Live { snapshot_id, first });
                        return;
                    }
                    let meets = if self.futures {
                        (first_id <= snapshot_id && snapshot_id <= last_id) || diff.update.previous == Some(snapshot_id)
                    } else {
                        first_id <= snapshot_id.saturating_add(1) && snapshot_id.saturating_add(1) <= last_id
                    };
                    if meets {
                        diff.update.previous = Some(snapshot_id);
                    }
                }
                match self.keeper.update(&symbol, &diff.update, parsed) {
                    Applied::Applied => State::Live { snapshot_id, first: false },
                    // The event that broke the book may meet the fresh snapshot: kept.
                    Applied::Resync => self.ask(venue_symbol, VecDeque::from([diff]), parsed),
                    Applied::Dropped => State::Broken,
                }
            }
        };
        self.states.insert(venue_symbol.to_string(), next);
    }

    /// Asks for a snapshot; `buffer` is kept meanwhile.
    fn ask(&self, venue_symbol: &str, buffer: VecDeque<Diff>, parsed: &mut Parsed) -> State {
        parsed.fetches.push(self.fetch(venue_symbol));
        let levels = buffer.iter().map(Diff::levels).sum();
        State::Fetching { buffer, levels }
    }

    /// The answer to a snapshot fetch.
    pub fn fetched(
        &mut self,
        fetch: &Fetch,
        outcome: Result<&str, &FetchError>,
        received_at: Timestamp,
        parsed: &mut Parsed,
    ) -> Result<(), Rejection> {
        let venue_symbol = fetch.tag.as_str();
        // An answer for a book no longer waiting for it (a connection ago) is moot.
        let Some(State::Fetching { .. }) = self.states.get(venue_symbol) else { return Ok(()) };
        let Some(State::Fetching { buffer, levels }) = self.states.remove(venue_symbol) else { return Ok(()) };
        let update = match self.snapshot_update(outcome, &buffer, received_at) {
            Ok(update) => update,
            Err(rejection) => {
                parsed.book_dropped += levels;
                let until = received_at.micros().saturating_add(FAILED_FETCH_WAIT_MICROS);
                self.states.insert(venue_symbol.to_string(), State::Waiting(until));
                return Err(Rejection::new(rejection.code, format!("depth snapshot of {venue_symbol}: {}", rejection.detail)));
            }
        };
        let (symbol, snapshot_id) = (split_quote_asset(venue_symbol), update.sequence);
        let next = match self.keeper.snapshot(&symbol, &update, parsed) {
            Applied::Applied => {
                self.states.insert(venue_symbol.to_string(), State::Live { snapshot_id, first: true });
                for diff in buffer {
                    self.diff(venue_symbol, diff, parsed);
                }
                return Ok(());
            }
            Applied::Resync => self.ask(venue_symbol, buffer, parsed),
            Applied::Dropped => {
                parsed.book_dropped += levels;
                State::Broken
            }
        };
        self.states.insert(venue_symbol.to_string(), next);
        Ok(())
    }

    /// The snapshot in a fetch's answer, timed as the module doc says.
    fn snapshot_update(
        &self,
        outcome: Result<&str, &FetchError>,
        buffer: &VecDeque<Diff>,
        received_at: Timestamp,
    ) -> Result<BookUpdate, Rejection> {
        let body = outcome.map_err(|error| Rejection::new(RejectReason::InvalidRecord, error.to_string()))?;
        let snapshot: DepthSnapshot = serde_json::from_str(body).map_err(|error| invalid("depth snapshot", error))?;
        let snapshot_id = snapshot.last_update_id;
        let time = match snapshot.transaction_time_ms {
            Some(ms) if self.futures => millis("T", ms)?,
            _ => buffer
                .iter()
                .rev()
                .find(|diff| diff.update.sequence <= snapshot_id)
                .map(|diff| diff.update.time)
                .or_else(|| buffer.front().map(|diff| diff.update.time.saturating_add_micros(-1)))
                .unwrap_or(received_at),
        };
        Ok(BookUpdate {
            time,
            received_at,
            sequence: snapshot_id,
            previous: None,
            bids: levels("bids", &snapshot.bids)?,
            asks: levels("asks", &snapshot.asks)?,
            checksum: None,
        })
    }
}

fn levels(field: &str, levels: &[(&str, &str)]) -> Result<Vec<Level>, Rejection> {
    levels.iter().map(|(price, size)| Level::parse(field, price, size)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BookSide, Record};

    const MS: i64 = 1_795_348_800_000;

    fn settings() -> BookSettings {
        BookSettings { depth: 1_000, snapshot_depth: 5, snapshot_interval_ms: 0, ..BookSettings::default() }
    }

    fn spot_event(first: i64, last: i64, bids: &str) -> String {
        format!(r#"{{"e":"depthUpdate","E":{},"s":"BTCUSDT","U":{first},"u":{last},"b":{bids},"a":[]}}"#, MS + last)
    }

    fn futures_event(first: i64, last: i64, previous: i64, bids: &str) -> String {
        format!(
            r#"{{"e":"depthUpdate","E":{},"T":{},"s":"BTCUSDT","U":{first},"u":{last},"pu":{previous},"b":{bids},"a":[]}}"#,
            MS + last,
            MS + last
        )
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp((MS + ms) * 1_000)
    }

    /// (sequence, snapshot, side, price, size) of the delta rows.
    fn deltas(parsed: &Parsed) -> Vec<(i64, bool, BookSide, f64, f64)> {
        parsed
            .records
            .iter()
            .filter_map(|record| match record {
                Record::BookDelta(row) => Some((row.sequence, row.snapshot, row.side, row.price, row.size)),
                _ => None,
            })
            .collect()
    }

    fn kinds(parsed: &Parsed) -> Vec<&'static str> {
        parsed.events.iter().map(|(kind, _)| *kind).collect()
    }

    fn answer(books: &mut BinanceBooks, body: &str, ms: i64, parsed: &mut Parsed) -> Result<(), Rejection> {
        let fetch = parsed.fetches.last().cloned().unwrap_or_else(|| books.fetch("BTCUSDT"));
        books.fetched(&fetch, Ok(body), at(ms), parsed)
    }

    #[test]
    fn spot_buffers_until_the_snapshot_drops_what_it_covers_and_refetches_on_a_gap() {
        let mut books = BinanceBooks::new(false, &settings());
        let mut parsed = Parsed::default();
        books.event(&spot_event(101, 103, r#"[["99","1"]]"#), at(1), &mut parsed).unwrap();
        assert_eq!(parsed.fetches, [Fetch::get("BTCUSDT", "/api/v3/depth?symbol=BTCUSDT&limit=1000", 50)]);
        books.event(&spot_event(104, 106, r#"[["98","2"]]"#), at(2), &mut parsed).unwrap();
        assert!(parsed.records.is_empty(), "buffered until the snapshot");

        let mut parsed = Parsed::default();
        let snapshot = r#"{"lastUpdateId":104,"bids":[["99","1"],["97","3"]],"asks":[["101","1"]]}"#;
        answer(&mut books, snapshot, 3, &mut parsed).unwrap();
        assert_eq!(
            deltas(&parsed),
            [
                (104, true, BookSide::Bid, 99.0, 1.0),
                (104, true, BookSide::Bid, 97.0, 3.0),
                (104, true, BookSide::Ask, 101.0, 1.0),
                (106, false, BookSide::Bid, 98.0, 2.0),
            ],
            "101-103 covered by the snapshot, 104-106 meets it"
        );
        let Some(Record::BookDelta(first)) = parsed.records.first() else { panic!() };
        assert_eq!(first.time, Timestamp((MS + 103) * 1_000), "the spot snapshot at the last event it covers");
        assert_eq!(parsed.book_dropped, 1);

        let mut parsed = Parsed::default();
        books.event(&spot_event(107, 107, r#"[["99","0"]]"#), at(4), &mut parsed).unwrap();
        assert_eq!(deltas(&parsed), [(107, false, BookSide::Bid, 99.0, 0.0)]);
        // 108 is lost: 109 is a gap, and a new snapshot is asked for.
        books.event(&spot_event(109, 110, r#"[["96","1"]]"#), at(5), &mut parsed).unwrap();
        assert_eq!(kinds(&parsed), ["gap"]);
        assert_eq!(parsed.fetches.len(), 1);
        books.event(&spot_event(111, 112, r#"[["95","1"]]"#), at(6), &mut parsed).unwrap();
        let mut parsed = Parsed::default();
        answer(&mut books, r#"{"lastUpdateId":110,"bids":[["96","1"]],"asks":[["101","1"]]}"#, 7, &mut parsed).unwrap();
        assert_eq!(kinds(&parsed), ["resync"]);
        assert_eq!(deltas(&parsed).last(), Some(&(112, false, BookSide::Bid, 95.0, 1.0)));
    }

    #[test]
    fn spot_snapshot_that_does_not_meet_the_stream_is_a_gap() {
        let mut books = BinanceBooks::new(false, &settings());
        let mut parsed = Parsed::default();
        books.event(&spot_event(101, 103, r#"[["99","1"]]"#), at(1), &mut parsed).unwrap();
        let mut parsed = Parsed::default();
        // The snapshot is older than the first event buffered: 100 is missing.
        answer(&mut books, r#"{"lastUpdateId":99,"bids":[["99","1"]],"asks":[["101","1"]]}"#, 2, &mut parsed).unwrap();
        assert_eq!(kinds(&parsed), ["gap"]);
        assert_eq!(parsed.fetches.len(), 1, "asked again");
        assert!(deltas(&parsed).iter().all(|delta| delta.0 == 99), "no delta stored on the broken snapshot");
        let Some(Record::BookDelta(first)) = parsed.records.first() else { panic!() };
        assert_eq!(first.time, Timestamp((MS + 103) * 1_000 - 1), "just before the event it had to meet");
        assert_eq!(parsed.events[0].1["at"], Timestamp((MS + 103) * 1_000).to_string(), "the break after it");
    }

    #[test]
    fn futures_follow_pu_and_the_first_event_straddles_the_snapshot() {
        let mut books = BinanceBooks::new(true, &BookSettings { depth: 100, ..settings() });
        let mut parsed = Parsed::default();
        books.event(&futures_event(90, 100, 89, r#"[["99","1"]]"#), at(1), &mut parsed).unwrap();
        assert_eq!(parsed.fetches[0].path, "/fapi/v1/depth?symbol=BTCUSDT&limit=100");
        assert_eq!(parsed.fetches[0].weight, 5);
        books.event(&futures_event(101, 110, 100, r#"[["98","1"]]"#), at(2), &mut parsed).unwrap();
        books.event(&futures_event(111, 120, 110, r#"[["97","1"]]"#), at(3), &mut parsed).unwrap();
        let mut parsed = Parsed::default();
        let snapshot = format!(r#"{{"lastUpdateId":105,"E":{},"T":{},"bids":[["99","1"]],"asks":[["101","1"]]}}"#, MS + 104, MS + 104);
        answer(&mut books, &snapshot, 4, &mut parsed).unwrap();
        let sequences: Vec<i64> = deltas(&parsed).iter().map(|delta| delta.0).collect();
        assert_eq!(sequences, [105, 105, 110, 120], "u < 105 dropped; 101-110 straddles 105; then pu = 110");
        let Some(Record::BookDelta(first)) = parsed.records.first() else { panic!() };
        assert_eq!(first.time, Timestamp((MS + 104) * 1_000), "the futures snapshot at its T");
        // An event whose pu is not the last u: a gap.
        let mut parsed = Parsed::default();
        books.event(&futures_event(125, 130, 122, "[]"), at(5), &mut parsed).unwrap();
        assert_eq!(kinds(&parsed), ["gap"]);
        assert_eq!(parsed.events[0].1["last"], 120);
        assert_eq!(parsed.fetches.len(), 1);
        // A futures event without pu is refused.
        let spot_shaped = spot_event(131, 131, "[]");
        assert_eq!(books.event(&spot_shaped, at(6), &mut Parsed::default()).unwrap_err().code, RejectReason::InvalidRecord);
    }

    #[test]
    fn a_failed_fetch_waits_before_asking_again_and_bad_levels_are_refused() {
        let mut books = BinanceBooks::new(false, &settings());
        let mut parsed = Parsed::default();
        books.event(&spot_event(1, 1, r#"[["99","1"]]"#), at(0), &mut parsed).unwrap();
        let fetch = parsed.fetches[0].clone();
        let refused = FetchError::Status { status: 400, body: "Invalid symbol.".into() };
        let error = books.fetched(&fetch, Err(&refused), at(1), &mut Parsed::default()).unwrap_err();
        assert!(error.detail.contains("BTCUSDT") && error.detail.contains("400"), "{}", error.detail);
        let mut parsed = Parsed::default();
        books.event(&spot_event(2, 2, r#"[["99","1"]]"#), at(5_000), &mut parsed).unwrap();
        assert!(parsed.fetches.is_empty());
        assert_eq!(parsed.book_dropped, 1);
        books.event(&spot_event(3, 3, r#"[["99","1"]]"#), at(11_001), &mut parsed).unwrap();
        assert_eq!(parsed.fetches.len(), 1, "asked again after the wait");
        let bad = r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":4,"u":4,"b":[["99","-1"]],"a":[]}"#;
        assert_eq!(books.event(bad, at(11_002), &mut Parsed::default()).unwrap_err().code, RejectReason::InvalidField);
        // An answer nobody waits for any more is ignored.
        books.reset(at(11_003));
        let mut parsed = Parsed::default();
        answer(&mut books, r#"{"lastUpdateId":1,"bids":[],"asks":[]}"#, 11_004, &mut parsed).unwrap();
        assert!(parsed.records.is_empty());
    }

    #[test]
    fn weights_follow_the_limit() {
        assert_eq!([100, 500, 1_000, 5_000].map(|limit| depth_weight(false, limit)), [5, 25, 50, 250]);
        assert_eq!([5, 50, 100, 500, 1_000].map(|limit| depth_weight(true, limit)), [2, 2, 5, 10, 20]);
    }
}
