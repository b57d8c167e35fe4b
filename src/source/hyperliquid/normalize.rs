//! Hyperliquid messages → records, and the adapter: subscriptions, acknowledgements,
//! the heartbeat and the `/info` poll.
//!
//! Trades become ticks; a trade whose `tid` is among the last [`RECENT_TIDS`] of its
//! coin, or older than the newest trade seen of it, is dropped as a duplicate (Hyperliquid
//! re-sends recent trades when a `trades` subscription starts, and documents `tid` as
//! unique, not as increasing). Candles become bars once closed: the venue re-sends the
//! coin's current candle as it changes, and a candle is final when one with a later open
//! time (`t`) arrives; the last version of the earlier one is then stored. A candle still
//! open when the connection ends is not stored (its last updates may have been missed),
//! nor a bar whose open time is not after the last stored one. Every state is a few
//! words (and at most [`RECENT_TIDS`] ids) per subscribed coin; a push for a coin not
//! subscribed is refused.
//!
//! Acknowledgements: each subscribe request is answered by one `subscriptionResponse`
//! echoing the subscription, matched to its request by type, coin and interval.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::json;

use super::book::{HyperliquidBooks, DEPTHS, L2_BOOK};
use super::derivatives::{asset_ctx, CtxChannels, ACTIVE_ASSET_CTX};
use super::instruments::{self, INFO_PATH, META_BODY, META_WEIGHT};
use super::wire::{Candle, Envelope, SubscriptionKey, SubscriptionResponse, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Record, RejectReason, Rejection, Side, Tick, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::book::BookSettings;
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, PollSettings, RestSpec, SpecVersions, Subscription, VenueAdapter};
use crate::source::values::{decimal as number, millis};

const TRADES: &str = "trades";
const CANDLE: &str = "candle";
/// The bar interval subscribed.
const BAR_INTERVAL: &str = "1m";
/// Trade ids remembered per coin for dropping re-sent trades.
pub const RECENT_TIDS: usize = 1_000;
/// The REST base and Hyperliquid's weight per minute and IP ("Rate limits").
const REST_BASE: &str = "https://api.hyperliquid.xyz";
const WEIGHT_PER_MINUTE: u32 = 1_200;
/// What `fetched` recognises the `meta` poll by.
const META_TAG: &str = "meta";

/// The channels this venue offers.
pub const CHANNELS: &[Channel] =
    &[Channel::Trades, Channel::Bars, Channel::Book, Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Instruments];

/// Our symbol for a perpetual's coin: `BTC` → `BTC-USD`.
pub fn symbol_of(coin: &str) -> String {
    format!("{coin}-USD")
}

/// The `coin` of a push whose data is one object.
fn coin_of<'a>(kind: &str, data: &'a str) -> Result<&'a str, Rejection> {
    #[derive(serde::Deserialize)]
    struct Coin<'a> {
        #[serde(borrow)]
        coin: &'a str,
    }
    serde_json::from_str::<Coin>(data).map(|push| push.coin).map_err(|error| invalid(kind, error))
}

/// The trades seen last of one coin.
#[derive(Debug, Default)]
struct RecentTrades {
    newest: i64,
    order: VecDeque<u64>,
    ids: HashSet<u64>,
}

impl RecentTrades {
    /// Whether a trade is new; remembers it if so.
    fn admit(&mut self, tid: u64, time: i64) -> bool {
        if time < self.newest || self.ids.contains(&tid) {
            return false;
        }
        self.newest = time;
        self.ids.insert(tid);
        self.order.push_back(tid);
        if self.order.len() > RECENT_TIDS {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        true
    }
}

pub struct HyperliquidAdapter {
    next_request_id: u64,
    /// This connection's unacknowledged subscriptions.
    pending: HashMap<SubscriptionKey, u64>,
    /// The configured coins, as the last subscription gave them.
    coins: Vec<String>,
    ctx_channels: CtxChannels,
    instruments: bool,
    polls: PollSettings,
    trades: HashMap<String, RecentTrades>,
    /// The current (not yet final) candle per coin, and the open time of the last bar stored.
    open_candles: HashMap<String, Bar>,
    last_bars: HashMap<String, Timestamp>,
    books: HyperliquidBooks,
    specs: SpecVersions,
}

impl HyperliquidAdapter {
    pub fn new() -> Self {
        HyperliquidAdapter {
            next_request_id: 1,
            pending: HashMap::new(),
            coins: Vec::new(),
            ctx_channels: CtxChannels::default(),
            instruments: false,
            polls: PollSettings::default(),
            trades: HashMap::new(),
            open_candles: HashMap::new(),
            last_bars: HashMap::new(),
            books: HyperliquidBooks::new(&BookSettings { depth: 20, ..BookSettings::default() }),
            specs: SpecVersions::default(),
        }
    }

    fn meta_fetch() -> Fetch {
        Fetch::post(META_TAG, INFO_PATH, META_WEIGHT, META_BODY)
    }

    /// A push's coin, refused unless subscribed (a venue sending others cannot grow state).
    fn subscribed(&self, coin: &str) -> Result<(), Rejection> {
        if self.coins.iter().any(|known| known == coin) {
            Ok(())
        } else {
            Err(Rejection::new(RejectReason::InvalidField, format!("`coin`: \"{coin}\" was not subscribed")))
        }
    }

    fn trades(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trades: Vec<Trade> = serde_json::from_str(data).map_err(|error| invalid(TRADES, error))?;
        // Everything is converted first, so a bad field leaves no state behind.
        let mut ticks = Vec::with_capacity(trades.len());
        for trade in &trades {
            self.subscribed(trade.coin)?;
            let side = match trade.side {
                "B" => Side::Buy,
                "A" => Side::Sell,
                other => {
                    return Err(Rejection::new(RejectReason::InvalidField, format!("`side`: expected \"B\" or \"A\", got \"{other}\"")))
                }
            };
            let tick = Tick {
                time: millis("time", trade.time)?,
                received_at,
                venue: ShortText::new(self.venue()),
                symbol: symbol_of(trade.coin).into(),
                price: number("px", trade.px)?,
                size: number("sz", trade.sz)?,
                side,
                trade_id: Some(trade.tid.to_compact_string()),
            };
            ticks.push((trade.coin, trade.tid, trade.time, tick));
        }
        for (coin, tid, time, tick) in ticks {
            if self.trades.entry(coin.to_string()).or_default().admit(tid, time) {
                parsed.records.push(Record::Tick(tick));
            } else {
                parsed.duplicates += 1;
            }
        }
        Ok(())
    }

    /// A `candle` push: one candle (as sent) or an array of them.
    fn candles(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let candles: Vec<Candle> = if data.trim_start().starts_with('[') {
            serde_json::from_str(data).map_err(|error| invalid(CANDLE, error))?
        } else {
            vec![serde_json::from_str(data).map_err(|error| invalid(CANDLE, error))?]
        };
        for candle in &candles {
            self.candle(candle, received_at, parsed)?;
        }
        Ok(())
    }

    fn candle(&mut self, candle: &Candle, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        self.subscribed(candle.s)?;
        if candle.i != BAR_INTERVAL {
            return Err(Rejection::new(RejectReason::InvalidField, format!("`i`: expected \"{BAR_INTERVAL}\", got \"{}\"", candle.i)));
        }
        if candle.n < 0 {
            return Err(Rejection::new(RejectReason::InvalidField, format!("`n`: {} trades", candle.n)));
        }
        let bar = Bar {
            time: millis("t", candle.t)?,
            received_at,
            venue: self.venue().to_string(),
            symbol: symbol_of(candle.s),
            interval: BAR_INTERVAL.into(),
            open: number("o", candle.o)?,
            high: number("h", candle.h)?,
            low: number("l", candle.l)?,
            close: number("c", candle.c)?,
            volume: number("v", candle.v)?,
            vwap: None,
            trades: Some(candle.n),
        };
        match self.open_candles.get(candle.s) {
            // An update of the open candle, or a late one of a candle already replaced.
            Some(open) if bar.time <= open.time => {
                if bar.time == open.time {
                    self.open_candles.insert(candle.s.to_string(), bar);
                }
                return Ok(());
            }
            _ => {}
        }
        // A later candle started: the open one is final.
        if let Some(closed) = self.open_candles.insert(candle.s.to_string(), bar) {
            if self.last_bars.get(candle.s).is_some_and(|last| closed.time <= *last) {
                parsed.duplicates += 1;
            } else {
                self.last_bars.insert(candle.s.to_string(), closed.time);
                parsed.records.push(Record::Bar(closed));
            }
        }
        Ok(())
    }

    fn acknowledgement(&mut self, data: Option<&str>, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "subscriptionResponse: no `data`"))?;
        let response: SubscriptionResponse = serde_json::from_str(data).map_err(|error| invalid("subscriptionResponse", error))?;
        // An answer to an unsubscribe, or one already counted, changes nothing.
        if response.method == "subscribe" {
            if let Some(id) = self.pending.remove(&response.subscription) {
                parsed.acknowledged.push(id);
            }
        }
        Ok(())
    }
}

impl Default for HyperliquidAdapter {
    fn default() -> Self {
        Self::new()
    }
}

impl VenueAdapter for HyperliquidAdapter {
    fn venue(&self) -> &'static str {
        "hyperliquid"
    }

    fn default_url(&self) -> String {
        "wss://api.hyperliquid.xyz/ws".into()
    }

    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    fn book_depths(&self) -> &'static [u32] {
        DEPTHS
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.books = HyperliquidBooks::new(&settings);
    }

    fn set_polls(&mut self, settings: PollSettings) {
        self.polls = settings;
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        // A new connection: acks of the previous one no longer count, and a candle still
        // open then may have missed its last updates.
        self.pending.clear();
        self.open_candles.clear();
        self.books.reset(Timestamp::now());
        self.coins = symbols.to_vec();
        self.ctx_channels = CtxChannels {
            funding: channels.contains(&Channel::Funding),
            open_interest: channels.contains(&Channel::OpenInterest),
            mark_price: channels.contains(&Channel::MarkPrice),
        };
        self.instruments = channels.contains(&Channel::Instruments);
        let mut keys: Vec<SubscriptionKey> = Vec::new();
        for coin in symbols {
            for channel in channels {
                let (kind, interval) = match channel {
                    Channel::Trades => (TRADES, None),
                    Channel::Bars => (CANDLE, Some(BAR_INTERVAL)),
                    Channel::Book => (L2_BOOK, None),
                    // One subscription feeds the three.
                    Channel::Funding | Channel::OpenInterest | Channel::MarkPrice => (ACTIVE_ASSET_CTX, None),
                    // Polled over REST (`initial_fetches`).
                    Channel::Instruments => continue,
                    // Not offered (check-config refuses them).
                    Channel::AggTrades | Channel::Quotes | Channel::Tickers | Channel::Options | Channel::Liquidations => continue,
                };
                let key = SubscriptionKey { kind: kind.into(), coin: Some(coin.clone()), interval: interval.map(Into::into) };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys.into_iter()
            .map(|key| {
                let id = self.next_request_id;
                self.next_request_id += 1;
                let mut subscription = json!({ "type": key.kind, "coin": key.coin });
                if let Some(interval) = &key.interval {
                    subscription["interval"] = json!(interval);
                }
                self.pending.insert(key, id);
                Subscription { id, message: json!({ "method": "subscribe", "subscription": subscription }).to_string() }
            })
            .collect()
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let mut parsed = Parsed::default();
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Hyperliquid message: {error}")))?;
        let data = envelope.data.map(|data| data.get());
        let needs_data = || Rejection::new(RejectReason::InvalidRecord, format!("{}: no `data`", envelope.channel));
        match envelope.channel {
            "subscriptionResponse" => self.acknowledgement(data, &mut parsed)?,
            "pong" => {}
            "error" => {
                return Err(Rejection::new(
                    RejectReason::SubscriptionRefused,
                    format!("Hyperliquid refused a request: {}", data.unwrap_or("(no data)")),
                ))
            }
            TRADES => self.trades(data.ok_or_else(needs_data)?, received_at, &mut parsed)?,
            CANDLE => self.candles(data.ok_or_else(needs_data)?, received_at, &mut parsed)?,
            L2_BOOK => {
                let data = data.ok_or_else(needs_data)?;
                self.subscribed(coin_of(L2_BOOK, data)?)?;
                self.books.push(data, symbol_of, received_at, &mut parsed)?
            }
            ACTIVE_ASSET_CTX => {
                let data = data.ok_or_else(needs_data)?;
                self.subscribed(coin_of(ACTIVE_ASSET_CTX, data)?)?;
                parsed.records.extend(asset_ctx(data, self.ctx_channels, symbol_of, received_at)?);
            }
            other => return Err(Rejection::new(RejectReason::UnknownType, format!("Hyperliquid channel `{other}` is not handled"))),
        }
        Ok(parsed)
    }

    fn rest(&self) -> Option<RestSpec> {
        Some(RestSpec { base_url: REST_BASE.into(), weight_per_minute: WEIGHT_PER_MINUTE })
    }

    fn initial_fetches(&mut self) -> Vec<Fetch> {
        if self.instruments {
            vec![Self::meta_fetch()]
        } else {
            Vec::new()
        }
    }

    /// The `meta` poll: specs of the configured coins, and the next round after
    /// `instruments_poll_ms` whatever the outcome (a failure or a bad answer is
    /// dead-lettered without stopping the poll).
    fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp) -> Result<Parsed, Rejection> {
        if fetch.tag != META_TAG {
            return Err(Rejection::new(RejectReason::UnknownType, format!("hyperliquid asked for no fetch `{}`", fetch.tag)));
        }
        let mut parsed = Parsed::default();
        parsed.fetches.push(fetch.clone().after(self.polls.instruments));
        let body = match outcome {
            Ok(body) => body,
            Err(error) => {
                let rejection = Rejection::new(RejectReason::InvalidRecord, format!("meta: {error}"));
                parsed.rejected.push((rejection, format!("{} {}: {error}", fetch.tag, fetch.path)));
                return Ok(parsed);
            }
        };
        match instruments::specs(body, &self.coins, symbol_of) {
            Ok((specs, rejected)) => {
                for spec in specs {
                    self.specs.observe(spec, received_at, &mut parsed);
                }
                parsed.rejected.extend(rejected);
            }
            Err(rejection) => parsed.rejected.push((rejection, body.chars().take(1_000).collect())),
        }
        Ok(parsed)
    }

    /// Hyperliquid closes a connection to which nothing was sent for 60 s ("Timeouts and
    /// heartbeats"); it answers `{"method":"ping"}` with `{"channel":"pong"}`.
    fn heartbeat(&mut self) -> Option<String> {
        Some(r#"{"method":"ping"}"#.into())
    }

    /// Coins (`BTC`) are stored as `BTC-USD`: perpetuals, asset class `future`.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        Some(Instrument::listed(self.venue(), &symbol_of(venue_symbol), venue_symbol, Some("future")))
    }
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
