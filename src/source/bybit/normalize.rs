//! Bybit messages → records. Trades become ticks (trade ids are opaque strings, so no gap
//! check is possible); the level-1 order book is kept per symbol (best bid and ask, and
//! the last update id `u`) so that a delta touching one side still yields a full quote;
//! confirmed klines become bars. Deltas must carry `u` = last + 1: a skip is a `gap`
//! feed event with the missing range, and a `u` at or below the last one (re-sent after
//! a resubscribe) is dropped as a duplicate. Spot `tickers` snapshots become 24-hour
//! tickers, dropped when not newer than the last one of their symbol. The `book`
//! channel's deeper `orderbook.{depth}` topics go to the book keeper (see `book`).

use std::collections::HashMap;

use serde_json::json;

use super::book::{BybitBooks, DEPTHS, RESYNC_REQUEST};
use super::category::Category;
use super::derivatives::{self, DerivativeTickers, TickerTables};
use super::instruments::Instruments;
use super::wire::{Envelope, Kline, OrderBook, SpotTicker, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Quote, Record, RejectReason, Rejection, Side, Tick, Ticker, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::book::BookSettings;
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, PollSettings, RestSpec, Sequences, Subscription, VenueAdapter};
use crate::source::values::{decimal as number, millis};

/// Topics per subscribe request. Bybit v5 "Connect" (bybit-exchange.github.io/docs/v5/ws/connect):
/// spot accepts at most 10 args in one subscription request.
const ARGS_PER_REQUEST: usize = 10;

/// The order book depth subscribed to for quotes: level 1, pushed every 10 ms
/// (bybit-exchange.github.io/docs/v5/websocket/public/orderbook).
const BOOK_STREAM: &str = "orderbook.1";

#[derive(Debug, Clone, Copy, PartialEq)]
struct Level {
    price: f64,
    size: f64,
}

/// What is known of one symbol's level-1 book: a few words per symbol, whatever the
/// message rate.
#[derive(Debug, Default)]
struct Book {
    last_update_id: Option<u64>,
    bid: Option<Level>,
    ask: Option<Level>,
}

pub struct BybitAdapter {
    category: Category,
    next_request_id: u64,
    /// Keyed by the venue's symbol; bounded by the subscribed symbols.
    books: HashMap<String, Book>,
    /// Time of the last 24-hour ticker per venue symbol.
    ticker_times: Sequences,
    /// The `book` channel's books.
    depth_books: BybitBooks,
    /// Linear and inverse: the merged `tickers` of each symbol (see `derivatives`).
    derivative_tickers: DerivativeTickers,
    /// Linear and inverse: the `instruments` poll.
    instruments: Instruments,
}

impl BybitAdapter {
    pub fn spot() -> Self {
        Self::new(Category::Spot)
    }

    /// USDT and USDC perpetuals and futures (`bybit_linear`).
    pub fn linear() -> Self {
        Self::new(Category::Linear)
    }

    /// Inverse perpetuals and futures (`bybit_inverse`).
    pub fn inverse() -> Self {
        Self::new(Category::Inverse)
    }

    fn new(category: Category) -> Self {
        BybitAdapter {
            category,
            next_request_id: 1,
            books: HashMap::new(),
            ticker_times: Sequences::duplicates_only("tickers"),
            depth_books: BybitBooks::new(category, &BookSettings { depth: DEPTHS[0], ..BookSettings::default() }),
            derivative_tickers: DerivativeTickers::new(category),
            instruments: Instruments::new(category),
        }
    }
}

/// A decimal fraction as a percentage, `"0.0196"` → 1.96, by moving the decimal point
/// (parsing `0.0196e2`) rather than multiplying, so that the result is the percentage
/// as written, rounded once.
fn fraction_as_percent(field: &str, text: &str) -> Result<f64, Rejection> {
    let fraction = number(field, text)?;
    match format!("{text}e2").parse::<f64>() {
        Ok(percent) if percent.is_finite() => Ok(percent),
        // A fraction written with its own exponent: multiply.
        _ => Ok(fraction * 100.0),
    }
}

impl Default for BybitAdapter {
    fn default() -> Self {
        Self::spot()
    }
}

/// Bybit's kline interval (minutes, or `D`, `W`, `M`) in the form bars are stored with.
fn bar_interval(venue_interval: &str) -> Result<String, Rejection> {
    let interval = match venue_interval {
        "D" => "1d".to_string(),
        "W" => "1w".to_string(),
        "M" => "1M".to_string(),
        minutes => match minutes.parse::<u32>() {
            Ok(minutes) if minutes > 0 && minutes % 60 == 0 => format!("{}h", minutes / 60),
            Ok(minutes) if minutes > 0 => format!("{minutes}m"),
            _ => {
                return Err(Rejection::new(RejectReason::InvalidField, format!("`interval`: unknown kline interval \"{venue_interval}\"")))
            }
        },
    };
    Ok(interval)
}

/// Parses `[price, size]` pairs before anything is changed, so a bad number leaves the
/// book as it was.
fn levels(field: &str, pairs: &[[&str; 2]]) -> Result<Vec<Level>, Rejection> {
    pairs.iter().map(|[price, size]| Ok(Level { price: number(field, price)?, size: number(field, size)? })).collect()
}

/// Applies updates to one side of a level-1 book: any level with a size is the new best;
/// a size of zero removes the level if it is the one we hold.
fn apply(best: &mut Option<Level>, updates: &[Level]) {
    for update in updates {
        if update.size == 0.0 {
            if best.is_some_and(|level| level.price == update.price) {
                *best = None;
            }
        } else {
            *best = Some(*update);
        }
    }
}

impl BybitAdapter {
    fn trades(&mut self, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "publicTrade: no `data`"))?;
        let trades: Vec<Trade> = serde_json::from_str(data.get()).map_err(|error| invalid("publicTrade", error))?;
        parsed.records.reserve(trades.len());
        for trade in &trades {
            parsed.records.push(Record::Tick(Tick {
                time: millis("T", trade.trade_time_ms)?,
                received_at,
                venue: ShortText::new(self.venue()),
                symbol: self.category.symbol(&trade.symbol).into(),
                price: number("p", &trade.price)?,
                size: number("v", &trade.size)?,
                side: match &*trade.taker_side {
                    "Buy" => Side::Buy,
                    "Sell" => Side::Sell,
                    _ => Side::Unknown,
                },
                trade_id: Some(trade.trade_id.to_compact_string()),
            }));
        }
        Ok(())
    }

    fn order_book(&mut self, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "orderbook: no `data`"))?;
        let update: OrderBook = serde_json::from_str(data.get()).map_err(|error| invalid("orderbook", error))?;
        let snapshot = match envelope.kind {
            Some("snapshot") => true,
            Some("delta") => false,
            other => {
                return Err(Rejection::new(RejectReason::InvalidField, format!("`type`: expected snapshot or delta, got {other:?}")));
            }
        };
        let bids = levels("b", &update.bids)?;
        let asks = levels("a", &update.asks)?;
        let time = match envelope.cts.or(envelope.ts) {
            Some(ms) => millis(if envelope.cts.is_some() { "cts" } else { "ts" }, ms)?,
            None => received_at,
        };

        let book = match self.books.get_mut(&*update.symbol) {
            Some(book) => book,
            None => self.books.entry(update.symbol.to_string()).or_default(),
        };
        let before = (book.last_update_id, book.bid, book.ask);
        if snapshot {
            // A snapshot replaces the book and starts the update-id series over (Bybit
            // also sends one with u = 1 after restarting its service).
            book.bid = None;
            book.ask = None;
        } else {
            match book.last_update_id {
                Some(last) if update.u <= last => {
                    parsed.duplicates += 1;
                    return Ok(());
                }
                Some(last) if update.u > last + 1 => parsed.events.push((
                    "gap",
                    json!({
                        "symbol": &*update.symbol,
                        "stream": BOOK_STREAM,
                        "missing_from": last + 1,
                        "missing_to": update.u - 1,
                    }),
                )),
                _ => {}
            }
        }
        book.last_update_id = Some(update.u);
        apply(&mut book.bid, &bids);
        apply(&mut book.ask, &asks);
        // The snapshot Bybit re-sends after a resubscribe, unchanged, is not a new quote.
        if snapshot && before == (book.last_update_id, book.bid, book.ask) {
            parsed.duplicates += 1;
            return Ok(());
        }
        if let (Some(bid), Some(ask)) = (book.bid, book.ask) {
            parsed.records.push(Record::Quote(Quote {
                time,
                received_at,
                venue: self.venue().to_string(),
                symbol: self.category.symbol(&update.symbol),
                bid_price: bid.price,
                bid_size: bid.size,
                ask_price: ask.price,
                ask_size: ask.size,
            }));
        }
        Ok(())
    }

    fn klines(&mut self, envelope: &Envelope, symbol: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "kline: no `data`"))?;
        let klines: Vec<Kline> = serde_json::from_str(data.get()).map_err(|error| invalid("kline", error))?;
        for kline in klines.iter().filter(|kline| kline.confirm) {
            let volume = number("volume", &kline.volume)?;
            let turnover = number("turnover", &kline.turnover)?;
            parsed.records.push(Record::Bar(Bar {
                time: millis("start", kline.start)?,
                received_at,
                venue: self.venue().to_string(),
                symbol: self.category.symbol(symbol),
                interval: bar_interval(&kline.interval)?,
                open: number("open", &kline.open)?,
                high: number("high", &kline.high)?,
                low: number("low", &kline.low)?,
                close: number("close", &kline.close)?,
                volume,
                vwap: (volume > 0.0).then(|| turnover / volume),
                trades: None,
            }));
        }
        Ok(())
    }

    /// Spot `tickers`: `price24hPcnt` is a fraction, stored in percent; `change` is
    /// `lastPrice − prevPrice24h`, the same change in the quote currency.
    fn ticker(&mut self, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "tickers: no `data`"))?;
        let ticker: SpotTicker = serde_json::from_str(data.get()).map_err(|error| invalid("tickers", error))?;
        let time = match envelope.ts {
            Some(ms) => millis("ts", ms)?,
            None => received_at,
        };
        let last = number("lastPrice", &ticker.last_price)?;
        let open_24h = number("prevPrice24h", &ticker.prev_price_24h)?;
        let record = Ticker {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: self.category.symbol(&ticker.symbol),
            last,
            open_24h: Some(open_24h),
            high_24h: Some(number("highPrice24h", &ticker.high_price_24h)?),
            low_24h: Some(number("lowPrice24h", &ticker.low_price_24h)?),
            volume_24h: Some(number("volume24h", &ticker.volume_24h)?),
            quote_volume_24h: Some(number("turnover24h", &ticker.turnover_24h)?),
            change: Some(last - open_24h),
            change_pct: Some(fraction_as_percent("price24hPcnt", &ticker.price_24h_fraction)?),
        };
        if self.ticker_times.admit_time(&ticker.symbol, time, parsed) {
            parsed.records.push(Record::Ticker(record));
        }
        Ok(())
    }

    fn operation(&mut self, op: &str, envelope: &Envelope, parsed: &mut Parsed) -> Result<(), Rejection> {
        match op {
            // The answers to a book's resynchronisation (see `book`).
            "subscribe" | "unsubscribe" if envelope.req_id.as_deref() == Some(RESYNC_REQUEST) => {
                if envelope.success == Some(true) {
                    Ok(())
                } else {
                    Err(Rejection::new(
                        RejectReason::SubscriptionRefused,
                        format!("Bybit refused to {op} a book: {}", envelope.ret_msg.as_deref().unwrap_or("(no ret_msg)")),
                    ))
                }
            }
            "subscribe" => {
                let req_id = envelope.req_id.as_deref().unwrap_or("");
                if envelope.success != Some(true) {
                    return Err(Rejection::new(
                        RejectReason::SubscriptionRefused,
                        format!("Bybit refused request \"{req_id}\": {}", envelope.ret_msg.as_deref().unwrap_or("(no ret_msg)")),
                    ));
                }
                let id = req_id.parse::<u64>().map_err(|_| {
                    Rejection::new(
                        RejectReason::InvalidField,
                        format!("`req_id`: expected one of our numeric request ids, got \"{req_id}\""),
                    )
                })?;
                parsed.acknowledged.push(id);
                Ok(())
            }
            // The answer to the application heartbeat {"op":"ping"}: nothing to record.
            "ping" | "pong" => Ok(()),
            other => Err(Rejection::new(RejectReason::UnknownType, format!("Bybit operation `{other}` is not handled"))),
        }
    }
}

impl VenueAdapter for BybitAdapter {
    /// Spot: `publicTrade`, the top of the book, `kline.1`, `tickers`, `orderbook.{depth}`
    /// (no aggregated trades); linear and inverse add funding, open interest, mark
    /// prices, liquidations and instruments (see `category`).
    fn channels(&self) -> &'static [Channel] {
        self.category.channels()
    }

    fn venue(&self) -> &'static str {
        self.category.venue()
    }

    fn book_depths(&self) -> &'static [u32] {
        DEPTHS
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.depth_books = BybitBooks::new(self.category, &settings);
    }

    fn set_polls(&mut self, settings: PollSettings) {
        self.instruments.set_interval(settings.instruments);
    }

    fn default_url(&self) -> String {
        self.category.default_url().into()
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        self.depth_books.reset(Timestamp::now());
        let derivatives = self.category != Category::Spot;
        let tables = TickerTables::of(channels);
        self.derivative_tickers.set_tables(tables);
        let upper: Vec<String> = symbols.iter().map(|symbol| symbol.to_ascii_uppercase()).collect();
        let polled = derivatives && channels.contains(&Channel::Instruments);
        self.instruments.set_symbols(if polled { upper.clone() } else { Vec::new() });
        let mut topics = Vec::new();
        for upper in &upper {
            for channel in channels {
                match channel {
                    Channel::Trades => topics.push(format!("publicTrade.{upper}")),
                    Channel::Quotes => topics.push(format!("{BOOK_STREAM}.{upper}")),
                    Channel::Bars => topics.push(format!("kline.1.{upper}")),
                    Channel::Tickers if !derivatives => topics.push(format!("tickers.{upper}")),
                    // Bybit publishes no aggregated trade stream.
                    Channel::AggTrades => {}
                    // Options are not on these feeds (check-config refuses them).
                    Channel::Options => {}
                    Channel::Book => topics.push(self.depth_books.topic(upper)),
                    Channel::Liquidations if derivatives => topics.push(format!("allLiquidation.{upper}")),
                    // One `tickers` topic carries all four (subscribed below); the spot
                    // feed has none of the derivative channels (check-config refuses them).
                    Channel::Tickers | Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations => {}
                    // Over REST (`initial_fetches`).
                    Channel::Instruments => {}
                }
            }
            if derivatives && tables.any() {
                topics.push(format!("tickers.{upper}"));
            }
        }
        topics
            .chunks(ARGS_PER_REQUEST)
            .map(|chunk| {
                let id = self.next_request_id;
                self.next_request_id += 1;
                Subscription { id, message: json!({ "req_id": id.to_string(), "op": "subscribe", "args": chunk }).to_string() }
            })
            .collect()
    }

    /// Bybit closes connections that send no `{"op":"ping"}` for a while (its docs
    /// advise one every 20 s); the connector sends it with each websocket ping.
    fn heartbeat(&mut self) -> Option<String> {
        let id = self.next_request_id;
        self.next_request_id += 1;
        Some(json!({ "req_id": id.to_string(), "op": "ping" }).to_string())
    }

    fn rest(&self) -> Option<RestSpec> {
        self.instruments.rest()
    }

    fn initial_fetches(&mut self) -> Vec<Fetch> {
        self.instruments.initial_fetches()
    }

    fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp) -> Result<Parsed, Rejection> {
        if !Instruments::owns(fetch) {
            return Err(Rejection::new(RejectReason::UnknownType, format!("{} asked for no fetch `{}`", self.venue(), fetch.tag)));
        }
        let mut parsed = Parsed::default();
        self.instruments.fetched(fetch, outcome, received_at, &mut parsed);
        Ok(parsed)
    }

    /// `btcusdt` or `BTCUSDT` → `BTC-USDT` (see `category` for futures and inverse
    /// contracts); Bybit writes symbols in capitals. Spot pairs are `crypto`, linear and
    /// inverse contracts `future`.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        let venue_symbol = venue_symbol.to_ascii_uppercase();
        Some(Instrument::listed(self.venue(), &self.category.symbol(&venue_symbol), &venue_symbol, Some(self.category.asset_class())))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Bybit message: {error}")))?;
        let mut parsed = Parsed::default();
        match (envelope.topic, envelope.op) {
            (Some(topic), _) => {
                if topic.starts_with("publicTrade.") {
                    self.trades(&envelope, received_at, &mut parsed)?;
                } else if self.depth_books.owns(topic) {
                    self.depth_books.push(&envelope, received_at, &mut parsed)?;
                } else if topic.strip_prefix(BOOK_STREAM).is_some_and(|rest| rest.starts_with('.')) {
                    self.order_book(&envelope, received_at, &mut parsed)?;
                } else if topic.starts_with("tickers.") {
                    if self.category == Category::Spot {
                        self.ticker(&envelope, received_at, &mut parsed)?;
                    } else {
                        self.derivative_tickers.push(&envelope, received_at, &mut parsed)?;
                    }
                } else if topic.starts_with("allLiquidation.") && self.category != Category::Spot {
                    derivatives::liquidations(self.category, &envelope, received_at, &mut parsed)?;
                } else if let Some(symbol) = topic.strip_prefix("kline.").and_then(|rest| rest.split_once('.')).map(|(_, symbol)| symbol) {
                    self.klines(&envelope, symbol, received_at, &mut parsed)?;
                } else {
                    return Err(Rejection::new(RejectReason::UnknownType, format!("Bybit topic `{topic}` is not handled")));
                }
            }
            (None, Some(op)) => self.operation(op, &envelope, &mut parsed)?,
            (None, None) => return Err(Rejection::new(RejectReason::UnknownType, "a Bybit message with neither `topic` nor `op`")),
        }
        Ok(parsed)
    }
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
