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
#[path = "book_tests.rs"]
mod tests;
