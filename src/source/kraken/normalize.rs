//! Kraken messages → records.
//!
//! Trades carry a `trade_id` that is contiguous per symbol: a skip is a `gap` feed event
//! with the missing range, and ids at or below the last one seen (the snapshot re-sent
//! after a resubscribe) are dropped as duplicates.
//!
//! Kraken's `ohlc` channel re-sends the candle of the current interval on every trade
//! while it is still open, and never says that a candle has closed. A bar is therefore
//! stored only once it is complete: the latest candle of each symbol is held, and
//! emitted when a candle with a later `interval_begin` arrives. The last bar of a quiet
//! market is stored at its next trade; candles at or before one already stored (the
//! snapshot after a resubscribe) are ignored.
//!
//! The `ticker` channel feeds both quotes (best bid and offer) and 24-hour tickers; it is
//! subscribed once for either, and each message yields what was asked. A ticker not newer
//! than the last one of its symbol (the snapshot after a resubscribe) is dropped.
//!
//! `book` messages go to the book keeper (see `book`).

use std::collections::{HashMap, HashSet};

use serde_json::json;
use serde_json::value::RawValue;

use super::book::{KrakenBooks, BOOK, DEPTHS};
use super::wire::{items, normalize_symbol, Candle, Envelope, Response, Ticker, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Quote, Record, RejectReason, Rejection, Side, Tick, Ticker as TickerRecord, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::book::BookSettings;
use crate::source::feed::{Parsed, Sequences, Subscription, VenueAdapter};
use crate::source::values::rfc3339 as time;

/// Sequence and candle state is kept for at most this many symbols (one id, one candle
/// each); symbols beyond it, which a subscription never asks for, go unchecked.
const MAX_TRACKED_SYMBOLS: usize = 10_000;

/// The `ohlc` interval subscribed to, in minutes (one of 1, 5, 15, 30, 60, 240, 1440,
/// 10080, 21600 in the `ohlc` reference).
const BAR_INTERVAL_MINUTES: u32 = 1;

/// A candle length in minutes as our bars write it: `1m`, `4h`, `1d`, `7d`.
fn interval_label(minutes: u32) -> String {
    if minutes.is_multiple_of(1440) {
        format!("{}d", minutes / 1440)
    } else if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The candle of one symbol and interval that is still open, and the start of the last
/// one stored.
#[derive(Debug, Default)]
struct CandleState {
    open: Option<Bar>,
    stored_through: Option<Timestamp>,
}

pub struct KrakenAdapter {
    next_request_id: u64,
    /// Request ids of the current connection already acknowledged (Kraken answers once
    /// per symbol); reset on every (re)connect.
    acknowledged_requests: HashSet<u64>,
    /// Last trade id per venue symbol.
    trade_ids: Sequences,
    /// Candle being built per (venue symbol, interval in minutes).
    candles: HashMap<(String, u32), CandleState>,
    /// Time of the last 24-hour ticker per venue symbol.
    ticker_times: Sequences,
    /// What a `ticker` message yields, as the last subscription asked: quotes (until a
    /// subscription says otherwise, as before tickers existed) and/or tickers.
    ticker_quotes: bool,
    ticker_stats: bool,
    /// The `book` channel's books.
    books: KrakenBooks,
}

impl Default for KrakenAdapter {
    fn default() -> Self {
        Self::new()
    }
}

impl KrakenAdapter {
    pub fn new() -> Self {
        KrakenAdapter {
            next_request_id: 1,
            acknowledged_requests: HashSet::new(),
            trade_ids: Sequences::new("trade"),
            candles: HashMap::new(),
            ticker_times: Sequences::duplicates_only("ticker"),
            ticker_quotes: true,
            ticker_stats: false,
            books: KrakenBooks::new(&BookSettings { depth: DEPTHS[0], ..BookSettings::default() }),
        }
    }
}

impl KrakenAdapter {
    fn trades(&mut self, data: Option<&RawValue>, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trades: Vec<Trade> = items("trade", data)?;
        // Every trade is checked before any sequence state changes: a refused message
        // must not move the last seen ids.
        let mut ticks = Vec::with_capacity(trades.len());
        for (index, trade) in trades.iter().enumerate() {
            let side = match trade.side {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                other => {
                    return Err(Rejection::new(
                        RejectReason::InvalidField,
                        format!("`data[{index}].side`: expected \"buy\" or \"sell\", got \"{other}\""),
                    ))
                }
            };
            let tick = Tick {
                time: time(format_args!("data[{index}].timestamp"), trade.timestamp)?,
                received_at,
                venue: ShortText::new(self.venue()),
                symbol: normalize_symbol(trade.symbol).into(),
                price: trade.price,
                size: trade.qty,
                side,
                trade_id: Some(trade.trade_id.to_compact_string()),
            };
            ticks.push((trade.symbol, trade.trade_id, tick));
        }
        // Kraken lists trades oldest first; sorting (stable, usually a no-op) keeps the
        // sequence check right for a snapshot in any order.
        if !ticks.windows(2).all(|pair| pair[0].1 <= pair[1].1) {
            ticks.sort_by_key(|(_, id, _)| *id);
        }
        for (symbol, id, tick) in ticks {
            if self.trade_ids.admit(symbol, id, parsed) {
                parsed.records.push(Record::Tick(tick));
            }
        }
        Ok(())
    }

    fn tickers(&mut self, data: Option<&RawValue>, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let tickers: Vec<Ticker> = items("ticker", data)?;
        // Every time is checked before any ticker is kept: a refused message must not
        // move the last ticker times.
        let times = tickers
            .iter()
            .enumerate()
            .map(|(index, ticker)| match ticker.timestamp {
                Some(text) => time(format_args!("data[{index}].timestamp"), text),
                None => Ok(received_at),
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (ticker, time) in tickers.iter().zip(times) {
            if self.ticker_quotes {
                parsed.records.push(Record::Quote(Quote {
                    time,
                    received_at,
                    venue: self.venue().to_string(),
                    symbol: normalize_symbol(ticker.symbol),
                    bid_price: ticker.bid,
                    bid_size: ticker.bid_qty,
                    ask_price: ticker.ask,
                    ask_size: ticker.ask_qty,
                }));
            }
            if let Some(stats) = self.ticker_stats.then(|| self.stats(ticker, time, received_at)).flatten() {
                if self.ticker_times.admit_time(ticker.symbol, time, parsed) {
                    parsed.records.push(Record::Ticker(stats));
                }
            }
        }
        Ok(())
    }

    /// The 24-hour statistics of a ticker that carries a last price. Kraken sends no open
    /// price and no quote volume: `open_24h` is `last − change` and `quote_volume_24h` is
    /// `volume × vwap` (the traded value, by the definition of the VWAP). `change_pct` is
    /// Kraken's own, already in percent.
    fn stats(&self, ticker: &Ticker, time: Timestamp, received_at: Timestamp) -> Option<TickerRecord> {
        let last = ticker.last?;
        Some(TickerRecord {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: normalize_symbol(ticker.symbol),
            last,
            open_24h: ticker.change.map(|change| last - change),
            high_24h: ticker.high,
            low_24h: ticker.low,
            volume_24h: ticker.volume,
            quote_volume_24h: ticker.volume.zip(ticker.vwap).map(|(volume, vwap)| volume * vwap),
            change: ticker.change,
            change_pct: ticker.change_pct,
        })
    }

    fn candles(&mut self, data: Option<&RawValue>, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let candles: Vec<Candle> = items("ohlc", data)?;
        let mut bars = Vec::with_capacity(candles.len());
        for (index, candle) in candles.iter().enumerate() {
            let trades = match candle.trades {
                Some(count) if count >= 0.0 && count.fract() == 0.0 && count <= i64::MAX as f64 => Some(count as i64),
                Some(count) => {
                    return Err(Rejection::new(
                        RejectReason::InvalidField,
                        format!("`data[{index}].trades`: expected a whole number, got {count}"),
                    ))
                }
                None => None,
            };
            if candle.interval == 0 {
                return Err(Rejection::new(RejectReason::InvalidField, format!("`data[{index}].interval`: expected minutes above 0")));
            }
            let bar = Bar {
                time: time(format_args!("data[{index}].interval_begin"), candle.interval_begin)?,
                received_at,
                venue: self.venue().to_string(),
                symbol: normalize_symbol(candle.symbol),
                interval: interval_label(candle.interval),
                open: candle.open,
                high: candle.high,
                low: candle.low,
                close: candle.close,
                volume: candle.volume,
                vwap: candle.vwap,
                trades,
            };
            bars.push((candle.symbol, candle.interval, bar));
        }
        for (symbol, interval, bar) in bars {
            if let Some(complete) = self.hold_candle(symbol, interval, bar) {
                parsed.records.push(Record::Bar(complete));
            }
        }
        Ok(())
    }

    /// Keeps `bar` as the open candle of its symbol; returns the candle it completes.
    fn hold_candle(&mut self, symbol: &str, interval: u32, bar: Bar) -> Option<Bar> {
        let key = (symbol.to_string(), interval);
        if !self.candles.contains_key(&key) && self.candles.len() >= MAX_TRACKED_SYMBOLS {
            return None;
        }
        let state = self.candles.entry(key).or_default();
        if state.stored_through.is_some_and(|stored| bar.time <= stored) {
            return None;
        }
        match state.open.take() {
            Some(open) if open.time < bar.time => {
                state.stored_through = Some(open.time);
                state.open = Some(bar);
                Some(open)
            }
            // An older candle than the one held arrives late: the held one stays.
            Some(open) if open.time > bar.time => {
                state.open = Some(open);
                None
            }
            // The open candle again, with newer values, or the first candle seen.
            _ => {
                state.open = Some(bar);
                None
            }
        }
    }

    fn response(&mut self, text: &str, parsed: &mut Parsed) -> Result<(), Rejection> {
        let response: Response = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidField, format!("a Kraken response: {error}")))?;
        match response.method {
            Some("subscribe") => match response.success {
                Some(true) => {
                    if let Some(id) = response.req_id {
                        if self.acknowledged_requests.insert(id) {
                            parsed.acknowledged.push(id);
                        }
                    }
                    Ok(())
                }
                Some(false) => {
                    let symbol =
                        response.symbol.as_deref().or(response.result.as_ref().and_then(|result| result.symbol.as_deref())).unwrap_or("?");
                    let request = response.req_id.map_or("without an id".to_string(), |id| id.to_string());
                    Err(Rejection::new(
                        RejectReason::SubscriptionRefused,
                        format!(
                            "Kraken refused request {request} for {symbol}: {}",
                            response.error.as_deref().unwrap_or("no reason given")
                        ),
                    ))
                }
                None => Err(Rejection::new(RejectReason::InvalidField, "`success`: missing from a subscribe response")),
            },
            Some("pong") => Ok(()),
            // The first half of a book's resynchronisation (see `book`).
            Some("unsubscribe") => match response.success {
                Some(false) => Err(Rejection::new(
                    RejectReason::SubscriptionRefused,
                    format!("Kraken refused to unsubscribe: {}", response.error.as_deref().unwrap_or("no reason given")),
                )),
                _ => Ok(()),
            },
            Some(other) => Err(Rejection::new(RejectReason::UnknownType, format!("Kraken method `{other}` is not handled"))),
            None => Err(Rejection::new(
                RejectReason::UnknownType,
                format!(
                    "a Kraken message with neither channel nor method{}",
                    response.error.map(|error| format!(": {error}")).unwrap_or_default()
                ),
            )),
        }
    }
}

/// The channels this venue offers (`trade`, `ticker` for quotes and tickers, `ohlc`, `book`; no aggregated trades).
pub const CHANNELS: &[Channel] = &[Channel::Trades, Channel::Quotes, Channel::Bars, Channel::Tickers, Channel::Book];

impl VenueAdapter for KrakenAdapter {
    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    fn venue(&self) -> &'static str {
        "kraken"
    }

    fn book_depths(&self) -> &'static [u32] {
        DEPTHS
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.books = KrakenBooks::new(&settings);
    }

    fn default_url(&self) -> String {
        "wss://ws.kraken.com/v2".into()
    }

    /// One request per channel for all symbols, symbols as configured (`BTC/USD`).
    /// Kraken offers no aggregate trades: `agg_trades` is skipped. `quotes` and `tickers`
    /// share one `ticker` subscription.
    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        self.acknowledged_requests.clear();
        self.ticker_quotes = channels.contains(&Channel::Quotes);
        self.ticker_stats = channels.contains(&Channel::Tickers);
        self.books.reset(Timestamp::now());
        let mut requested = HashSet::new();
        let mut subscriptions = Vec::new();
        for channel in channels {
            let shared = if *channel == Channel::Tickers { Channel::Quotes } else { *channel };
            if !requested.insert(shared) {
                continue;
            }
            let params = match channel {
                Channel::Trades => json!({ "channel": "trade", "symbol": symbols }),
                // Updates on every change of the best bid or offer, not only on trades;
                // tickers, when also asked for, come with them.
                Channel::Quotes | Channel::Tickers if self.ticker_quotes => {
                    json!({ "channel": "ticker", "symbol": symbols, "event_trigger": "bbo" })
                }
                // Tickers alone: an update on every trade (Kraken's default trigger).
                Channel::Quotes | Channel::Tickers => json!({ "channel": "ticker", "symbol": symbols, "event_trigger": "trades" }),
                Channel::Bars => json!({ "channel": "ohlc", "symbol": symbols, "interval": BAR_INTERVAL_MINUTES }),
                Channel::Book => self.books.params(symbols),
                Channel::AggTrades | Channel::Options => continue,
                // Spot only (check-config refuses them).
                Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations | Channel::Instruments => continue,
            };
            let id = self.next_request_id;
            self.next_request_id += 1;
            subscriptions.push(Subscription { id, message: json!({ "method": "subscribe", "params": params, "req_id": id }).to_string() });
        }
        subscriptions
    }

    /// `BTC/USD` → `BTC-USD`, as the records are stored.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        Some(Instrument::listed(self.venue(), &normalize_symbol(venue_symbol), venue_symbol, Some("crypto")))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Kraken message: {error}")))?;
        let mut parsed = Parsed::default();
        match envelope.channel {
            Some("trade") => self.trades(envelope.data, received_at, &mut parsed)?,
            Some("ticker") => self.tickers(envelope.data, received_at, &mut parsed)?,
            Some("ohlc") => self.candles(envelope.data, received_at, &mut parsed)?,
            Some(BOOK) => self.books.message(envelope.kind, envelope.data, received_at, &mut parsed)?,
            Some("heartbeat" | "status") => {}
            Some(other) => return Err(Rejection::new(RejectReason::UnknownType, format!("Kraken channel `{other}` is not handled"))),
            None => self.response(text, &mut parsed)?,
        }
        Ok(parsed)
    }
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
