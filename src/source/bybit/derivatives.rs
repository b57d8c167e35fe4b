//! The linear and inverse streams' derivative values: the `tickers.{symbol}` topic and
//! `allLiquidation.{symbol}`.
//!
//! **Tickers.** Source: Bybit V5 "Ticker" (bybit-exchange.github.io/docs/v5/websocket/public/ticker).
//! One topic carries the 24-hour statistics (`tickers`), the funding rate and next funding
//! time (`funding`), open interest (`open_interest`) and the mark and index prices
//! (`mark_price`); it is subscribed once when any of those channels is configured. After
//! subscribing the venue sends a snapshot, then every 100 ms a delta holding only the
//! fields that changed ("If a response param is not found in the message, then its value
//! has not changed"). The last full ticker is kept per symbol ([`TickerState`], a few
//! numbers) and each delta is merged into it; a snapshot replaces it. A row for a table
//! is written only when the message changed one of that table's fields (a value present
//! and different from the one known): a delta holding only `markPrice` gives a
//! `mark_prices` row and no `funding_rates` row; an unchanged snapshot re-sent after a
//! reconnect gives none. The row carries the merged values, timed by the message's `ts`.
//!
//! - `funding_rates`: `fundingRate` → rate, `nextFundingTime` → next funding time,
//!   `fundingIntervalHour` (where sent: `"8"` → `8h`) → interval; Bybit publishes no
//!   predicted rate. Dated futures send `fundingRate` `""` and `nextFundingTime` `"0"`:
//!   no funding, no row.
//! - `open_interest`: `openInterest` → contracts (linear: the base coin; inverse:
//!   contracts of 1 USD), `openInterestValue` → notional (linear: the quote coin;
//!   inverse: the base coin the contract settles in).
//! - `mark_prices`: `markPrice`, `indexPrice`.
//! - `tickers`: as on spot (`price24hPcnt` a fraction, stored in percent; change =
//!   last − `prevPrice24h`). Inverse contracts count `volume24h` in contracts (USD) and
//!   `turnover24h` in the base coin, so there the two are swapped into `volume_24h`
//!   (base) and `quote_volume_24h` (USD).
//!
//! A message is parsed whole before anything is merged: a bad field rejects it and
//! leaves the known ticker as it was.
//!
//! **Liquidations.** Source: Bybit V5 "All Liquidation"
//! (bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation), pushed every
//! 500 ms on the linear and inverse streams. `S` is the side of the liquidated
//! *position* ("When you receive a Buy update, this means that a long position has been
//! liquidated"); the row stores the liquidation order's side, the opposite: `Buy` →
//! `Sell` (-1), `Sell` → `Buy` (1). `v` is the size, `p` the bankruptcy price, `T` the
//! time; Bybit sends no order id. A bad element is dead-lettered alone.

use std::collections::HashMap;

use serde_json::value::RawValue;

use super::category::Category;
use super::wire::{DerivativeTicker, Envelope, LiquidationEvent};
use crate::config::Channel;
use crate::record::{FundingRate, Liquidation, MarkPrice, OpenInterest, Record, RejectReason, Rejection, Side, Ticker, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;
use crate::source::values::{decimal, millis, percent_from_fraction};

/// Symbols whose ticker is kept; a ticker of a further symbol is refused.
pub const MAX_TICKER_SYMBOLS: usize = 10_000;

/// What is known of one symbol's ticker: `None` where the venue has not said or sent an
/// empty value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickerState {
    last: Option<f64>,
    high_24h: Option<f64>,
    low_24h: Option<f64>,
    prev_24h: Option<f64>,
    volume_24h: Option<f64>,
    turnover_24h: Option<f64>,
    change_pct: Option<f64>,
    mark: Option<f64>,
    index: Option<f64>,
    open_interest: Option<f64>,
    open_interest_value: Option<f64>,
    funding_rate: Option<f64>,
    next_funding_time: Option<Timestamp>,
    funding_interval: Option<String>,
}

/// One message's fields, parsed: the outer `None` where the message did not carry the field.
#[derive(Debug, Default)]
struct TickerUpdate {
    last: Option<Option<f64>>,
    high_24h: Option<Option<f64>>,
    low_24h: Option<Option<f64>>,
    prev_24h: Option<Option<f64>>,
    volume_24h: Option<Option<f64>>,
    turnover_24h: Option<Option<f64>>,
    change_pct: Option<Option<f64>>,
    mark: Option<Option<f64>>,
    index: Option<Option<f64>>,
    open_interest: Option<Option<f64>>,
    open_interest_value: Option<Option<f64>>,
    funding_rate: Option<Option<f64>>,
    next_funding_time: Option<Option<Timestamp>>,
    funding_interval: Option<Option<String>>,
}

/// A decimal field: absent, empty (no value) or a number.
fn field(name: &str, text: Option<&str>) -> Result<Option<Option<f64>>, Rejection> {
    match text {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(text) => Ok(Some(Some(decimal(name, text)?))),
    }
}

impl TickerUpdate {
    fn parse(ticker: &DerivativeTicker) -> Result<TickerUpdate, Rejection> {
        let next_funding_time = match ticker.next_funding_time.as_deref() {
            None => None,
            Some("" | "0") => Some(None),
            Some(text) => {
                let ms = text.parse::<i64>().map_err(|_| {
                    Rejection::new(RejectReason::InvalidField, format!("`nextFundingTime`: expected milliseconds, got \"{text}\""))
                })?;
                Some(Some(millis("nextFundingTime", ms)?))
            }
        };
        let funding_interval = match &ticker.funding_interval_hour {
            None => None,
            Some(value) => {
                let hours = match value {
                    serde_json::Value::String(text) => text.parse::<u32>().ok(),
                    serde_json::Value::Number(number) => number.as_u64().and_then(|hours| u32::try_from(hours).ok()),
                    _ => None,
                };
                match hours {
                    Some(hours) if hours > 0 => Some(Some(format!("{hours}h"))),
                    _ => {
                        return Err(Rejection::new(
                            RejectReason::InvalidField,
                            format!("`fundingIntervalHour`: expected a whole number of hours, got {value}"),
                        ))
                    }
                }
            }
        };
        let change_pct = match ticker.price_24h_fraction.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(text) => Some(Some(percent_from_fraction(text, decimal("price24hPcnt", text)?))),
        };
        Ok(TickerUpdate {
            last: field("lastPrice", ticker.last_price.as_deref())?,
            high_24h: field("highPrice24h", ticker.high_price_24h.as_deref())?,
            low_24h: field("lowPrice24h", ticker.low_price_24h.as_deref())?,
            prev_24h: field("prevPrice24h", ticker.prev_price_24h.as_deref())?,
            volume_24h: field("volume24h", ticker.volume_24h.as_deref())?,
            turnover_24h: field("turnover24h", ticker.turnover_24h.as_deref())?,
            change_pct,
            mark: field("markPrice", ticker.mark_price.as_deref())?,
            index: field("indexPrice", ticker.index_price.as_deref())?,
            open_interest: field("openInterest", ticker.open_interest.as_deref())?,
            open_interest_value: field("openInterestValue", ticker.open_interest_value.as_deref())?,
            funding_rate: field("fundingRate", ticker.funding_rate.as_deref())?,
            next_funding_time,
            funding_interval,
        })
    }
}

impl TickerUpdate {
    /// Sets each field the message carried.
    fn apply_to(self, state: &mut TickerState) {
        fn set<T>(known: &mut Option<T>, sent: Option<Option<T>>) {
            if let Some(value) = sent {
                *known = value;
            }
        }
        set(&mut state.last, self.last);
        set(&mut state.high_24h, self.high_24h);
        set(&mut state.low_24h, self.low_24h);
        set(&mut state.prev_24h, self.prev_24h);
        set(&mut state.volume_24h, self.volume_24h);
        set(&mut state.turnover_24h, self.turnover_24h);
        set(&mut state.change_pct, self.change_pct);
        set(&mut state.mark, self.mark);
        set(&mut state.index, self.index);
        set(&mut state.open_interest, self.open_interest);
        set(&mut state.open_interest_value, self.open_interest_value);
        set(&mut state.funding_rate, self.funding_rate);
        set(&mut state.next_funding_time, self.next_funding_time);
        set(&mut state.funding_interval, self.funding_interval);
    }
}

impl TickerState {
    /// The `tickers` fields.
    fn statistics(&self) -> [Option<f64>; 7] {
        [self.last, self.high_24h, self.low_24h, self.prev_24h, self.volume_24h, self.turnover_24h, self.change_pct]
    }

    /// The `funding_rates` fields.
    fn funding(&self) -> (Option<f64>, Option<Timestamp>, Option<&str>) {
        (self.funding_rate, self.next_funding_time, self.funding_interval.as_deref())
    }
}

/// Which of the ticker's tables a source stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickerTables {
    pub tickers: bool,
    pub funding: bool,
    pub open_interest: bool,
    pub mark_price: bool,
}

impl TickerTables {
    pub fn of(channels: &[Channel]) -> TickerTables {
        TickerTables {
            tickers: channels.contains(&Channel::Tickers),
            funding: channels.contains(&Channel::Funding),
            open_interest: channels.contains(&Channel::OpenInterest),
            mark_price: channels.contains(&Channel::MarkPrice),
        }
    }

    /// Whether the `tickers.{symbol}` topic is needed.
    pub fn any(self) -> bool {
        self.tickers || self.funding || self.open_interest || self.mark_price
    }
}

/// The tickers of one linear or inverse source.
#[derive(Debug)]
pub struct DerivativeTickers {
    category: Category,
    tables: TickerTables,
    /// Keyed by the venue's symbol; at most [`MAX_TICKER_SYMBOLS`].
    known: HashMap<String, TickerState>,
}

impl DerivativeTickers {
    pub fn new(category: Category) -> DerivativeTickers {
        DerivativeTickers { category, tables: TickerTables::default(), known: HashMap::new() }
    }

    pub fn set_tables(&mut self, tables: TickerTables) {
        self.tables = tables;
    }

    /// One push of `tickers.{symbol}` (`type` `snapshot` or `delta`).
    pub fn push(&mut self, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "tickers: no `data`"))?;
        let ticker: DerivativeTicker = serde_json::from_str(data.get()).map_err(|error| invalid("tickers", error))?;
        let snapshot = match envelope.kind {
            Some("snapshot") => true,
            Some("delta") => false,
            other => {
                return Err(Rejection::new(RejectReason::InvalidField, format!("`type`: expected snapshot or delta, got {other:?}")));
            }
        };
        let update = TickerUpdate::parse(&ticker)?;
        let time = match envelope.ts {
            Some(ms) => millis("ts", ms)?,
            None => received_at,
        };
        if !self.known.contains_key(&*ticker.symbol) && self.known.len() >= MAX_TICKER_SYMBOLS {
            return Err(Rejection::new(
                RejectReason::InvalidRecord,
                format!("tickers: a ticker of \"{}\" beyond {MAX_TICKER_SYMBOLS} symbols", ticker.symbol),
            ));
        }
        let known = self.known.entry(ticker.symbol.to_string()).or_default();
        let mut state = if snapshot { TickerState::default() } else { known.clone() };
        update.apply_to(&mut state);
        // What changed is the merged ticker against the one known before the message.
        let changed = [
            state.statistics() != known.statistics(),
            state.funding() != known.funding(),
            (state.open_interest, state.open_interest_value) != (known.open_interest, known.open_interest_value),
            (state.mark, state.index) != (known.mark, known.index),
        ];
        *known = state.clone();
        self.rows(&ticker.symbol, &state, time, received_at, changed, parsed);
        Ok(())
    }

    /// The rows of the tables whose fields changed (`[tickers, funding, open interest, mark]`).
    fn rows(
        &self,
        venue_symbol: &str,
        state: &TickerState,
        time: Timestamp,
        received_at: Timestamp,
        [ticker, funding, open_interest, mark]: [bool; 4],
        parsed: &mut Parsed,
    ) {
        let venue = self.category.venue();
        let symbol = self.category.symbol(venue_symbol);
        if let (true, true, Some(last)) = (ticker, self.tables.tickers, state.last) {
            let (volume_24h, quote_volume_24h) = match self.category {
                Category::Inverse => (state.turnover_24h, state.volume_24h),
                Category::Spot | Category::Linear => (state.volume_24h, state.turnover_24h),
            };
            parsed.records.push(Record::Ticker(Ticker {
                time,
                received_at,
                venue: venue.to_string(),
                symbol: symbol.clone(),
                last,
                open_24h: state.prev_24h,
                high_24h: state.high_24h,
                low_24h: state.low_24h,
                volume_24h,
                quote_volume_24h,
                change: state.prev_24h.map(|open| last - open),
                change_pct: state.change_pct,
            }));
        }
        if let (true, true, Some(rate)) = (funding, self.tables.funding, state.funding_rate) {
            parsed.records.push(Record::FundingRate(FundingRate {
                time,
                received_at,
                venue: venue.to_string(),
                symbol: symbol.clone(),
                rate,
                predicted_rate: None,
                next_funding_time: state.next_funding_time,
                interval: state.funding_interval.clone(),
            }));
        }
        if open_interest && self.tables.open_interest && (state.open_interest.is_some() || state.open_interest_value.is_some()) {
            parsed.records.push(Record::OpenInterest(OpenInterest {
                time,
                received_at,
                venue: venue.to_string(),
                symbol: symbol.clone(),
                contracts: state.open_interest,
                notional: state.open_interest_value,
            }));
        }
        if mark && self.tables.mark_price && (state.mark.is_some() || state.index.is_some()) {
            parsed.records.push(Record::MarkPrice(MarkPrice {
                time,
                received_at,
                venue: venue.to_string(),
                symbol,
                mark_price: state.mark,
                index_price: state.index,
            }));
        }
    }
}

/// One push of `allLiquidation.{symbol}`: every good element is a row, every bad one a
/// dead letter of its own.
pub fn liquidations(category: Category, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
    let data = envelope.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "allLiquidation: no `data`"))?;
    let events: Vec<&RawValue> = serde_json::from_str(data.get()).map_err(|error| invalid("allLiquidation", error))?;
    for raw in events {
        match liquidation(category, raw, received_at) {
            Ok(row) => parsed.records.push(Record::Liquidation(row)),
            Err(rejection) => parsed.rejected.push((rejection, raw.get().to_string())),
        }
    }
    Ok(())
}

fn liquidation(category: Category, raw: &RawValue, received_at: Timestamp) -> Result<Liquidation, Rejection> {
    let event: LiquidationEvent = serde_json::from_str(raw.get()).map_err(|error| invalid("allLiquidation", error))?;
    let side = match &*event.position_side {
        // A long position closed by selling, a short one by buying.
        "Buy" => Side::Sell,
        "Sell" => Side::Buy,
        other => {
            return Err(Rejection::new(RejectReason::InvalidField, format!("`S`: expected Buy or Sell, got \"{other}\"")));
        }
    };
    Ok(Liquidation {
        time: millis("T", event.time_ms)?,
        received_at,
        venue: category.venue().to_string(),
        symbol: category.symbol(&event.symbol),
        side,
        price: decimal("p", &event.price)?,
        quantity: decimal("v", &event.size)?,
        order_id: None,
    })
}
