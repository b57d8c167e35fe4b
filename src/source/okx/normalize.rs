//! OKX messages → records. Trades become ticks, dropping any `tradeId` at or below the
//! last one seen for the instrument (no gap check: OKX does not promise contiguous ids,
//! see the module doc of `okx`); tickers become quotes (with `quotes` subscribed),
//! dropping one identical to the previous quote of the instrument (OKX re-sends the
//! current ticker after a resubscribe), and 24-hour tickers (with `tickers` subscribed;
//! not for options), dropping one not newer than the last; confirmed candles become
//! bars, dropping a bar whose open time is not after the last stored one; each contract
//! of an `opt-summary` push becomes an option quote (greeks and IVs, no prices),
//! dropping one not newer than the last of its contract (OKX pushes the whole family
//! each time). All of this state is a few words per instrument.
//!
//! Subscribe requests and their acknowledgements: `subscribe`.

use std::collections::HashMap;

use serde_json::value::RawValue;

use super::book::{OkxBooks, BOOKS, DEPTHS};
use super::derivatives::OkxDerivatives;
use super::instruments::{self, OkxInstruments};
use super::subscribe::{self, Requests, OPTION_SUMMARY, TICKERS, TRADES};
use super::wire::{millis_text, Candle, Envelope, OptionSummary, Ticker, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, OptionQuote, Quote, Record, RejectReason, Rejection, Side, Tick, Ticker as TickerRecord, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::contracts::{self, parse_okx};
use crate::source::feed::book::BookSettings;
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, OptionQuoteTimes, Parsed, PollSettings, RestSpec, Sequences, Subscription, VenueAdapter};
use crate::source::values::{self, decimal as number};

/// The last quote stored for an instrument: `(ts µs, bidPx, bidSz, askPx, askSz)`.
type LastQuote = (i64, f64, f64, f64, f64);

pub struct OkxAdapter {
    /// This connection's subscribe requests waiting for their acks.
    requests: Requests,
    /// Per instrument id; all bounded by the subscribed instruments.
    trade_ids: Sequences,
    last_quotes: HashMap<String, LastQuote>,
    last_bars: HashMap<String, Timestamp>,
    /// The time of the last option quote per contract.
    option_times: OptionQuoteTimes,
    /// Time of the last 24-hour ticker per instrument.
    ticker_times: Sequences,
    /// What a `tickers` push yields, as the last subscription asked: quotes (until a
    /// subscription says otherwise, as before tickers existed) and/or 24-hour tickers.
    ticker_quotes: bool,
    ticker_stats: bool,
    /// The `book` channel's books.
    books: OkxBooks,
    /// The derivatives channels and the `instruments` poll.
    derivatives: OkxDerivatives,
    instruments: OkxInstruments,
}

impl OkxAdapter {
    pub fn new() -> Self {
        OkxAdapter {
            requests: Requests::new(),
            trade_ids: Sequences::duplicates_only("trades"),
            last_quotes: HashMap::new(),
            last_bars: HashMap::new(),
            option_times: OptionQuoteTimes::new(),
            ticker_times: Sequences::duplicates_only(TICKERS),
            ticker_quotes: true,
            ticker_stats: false,
            books: OkxBooks::new(&BookSettings::default()),
            derivatives: OkxDerivatives::default(),
            instruments: OkxInstruments::default(),
        }
    }
}

impl Default for OkxAdapter {
    fn default() -> Self {
        Self::new()
    }
}

/// An optional decimal string: empty, or `"0"` where `zero_is_none`, is none.
fn optional_number(field: &str, text: &str, zero_is_none: bool) -> Result<Option<f64>, Rejection> {
    if text.is_empty() {
        return Ok(None);
    }
    let value = number(field, text)?;
    Ok((!(zero_is_none && value == 0.0)).then_some(value))
}

/// An OKX volatility (a fraction, `0.3675503331`) in percent (`36.75503331`), as every
/// venue's IVs are stored; empty or `"0"` (no quote on that side) is none.
fn volatility_percent(field: &str, text: &str) -> Result<Option<f64>, Rejection> {
    let Some(fraction) = optional_number(field, text, true)? else {
        return Ok(None);
    };
    Ok(Some(values::percent_from_fraction(text, fraction)))
}

/// OKX's bar name after `candle` (`1m`, `1H`, `1D`, …) in the form bars are stored with.
fn bar_interval(bar: &str) -> Result<String, Rejection> {
    let unknown = || Rejection::new(RejectReason::UnknownType, format!("OKX candle channel `candle{bar}` is not handled"));
    let split = bar.find(|c: char| !c.is_ascii_digit()).ok_or_else(unknown)?;
    let (count, unit) = bar.split_at(split);
    if count.is_empty() || count.starts_with('0') {
        return Err(unknown());
    }
    let unit = match unit {
        "s" => "s",
        "m" => "m",
        "H" => "h",
        "D" => "d",
        "W" => "w",
        "M" => "M",
        "Y" => "y",
        // The `utc` variants (`candle1Dutc`) and anything else.
        _ => return Err(unknown()),
    };
    Ok(format!("{count}{unit}"))
}

impl OkxAdapter {
    fn trades(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trades: Vec<Trade> = serde_json::from_str(data).map_err(|error| invalid(TRADES, error))?;
        // Everything is converted first, so a bad field leaves no state behind.
        let mut ticks = Vec::with_capacity(trades.len());
        for trade in &trades {
            let id = trade.trade_id.parse::<u64>().map_err(|_| {
                Rejection::new(RejectReason::InvalidField, format!("`tradeId`: expected a numeric string, got \"{}\"", trade.trade_id))
            })?;
            let tick = Tick {
                time: millis_text("ts", trade.ts)?,
                received_at,
                venue: ShortText::new(self.venue()),
                symbol: trade.inst_id.to_compact_string(),
                price: number("px", trade.px)?,
                size: number("sz", trade.sz)?,
                side: match trade.side {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => Side::Unknown,
                },
                trade_id: Some(trade.trade_id.to_compact_string()),
            };
            ticks.push((id, tick));
        }
        for (id, tick) in ticks {
            if !self.trade_ids.admit(&tick.symbol, id, parsed) {
                continue;
            }
            parsed.records.push(Record::Tick(tick));
        }
        Ok(())
    }

    fn tickers(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let tickers: Vec<Ticker> = serde_json::from_str(data).map_err(|error| invalid(TICKERS, error))?;
        for ticker in &tickers {
            let time = millis_text("ts", ticker.ts)?;
            let stats = if self.ticker_stats { self.stats(ticker, time, received_at)? } else { None };
            if self.ticker_quotes {
                self.quote(ticker, time, received_at, parsed)?;
            }
            if let Some(stats) = stats {
                if self.ticker_times.admit_time(ticker.inst_id, time, parsed) {
                    parsed.records.push(Record::Ticker(stats));
                }
            }
        }
        Ok(())
    }

    fn quote(&mut self, ticker: &Ticker, time: Timestamp, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        // A side without orders is sent as empty strings: no full quote then.
        if [ticker.bid_px, ticker.bid_sz, ticker.ask_px, ticker.ask_sz].iter().any(|text| text.is_empty()) {
            return Ok(());
        }
        let quote = (
            time.micros(),
            number("bidPx", ticker.bid_px)?,
            number("bidSz", ticker.bid_sz)?,
            number("askPx", ticker.ask_px)?,
            number("askSz", ticker.ask_sz)?,
        );
        if self.last_quotes.get(ticker.inst_id) == Some(&quote) {
            parsed.duplicates += 1;
            return Ok(());
        }
        self.last_quotes.insert(ticker.inst_id.to_string(), quote);
        parsed.records.push(Record::Quote(Quote {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: ticker.inst_id.to_string(),
            bid_price: quote.1,
            bid_size: quote.2,
            ask_price: quote.3,
            ask_size: quote.4,
        }));
        Ok(())
    }

    /// The 24-hour statistics of a ticker with a last price; none for options (their
    /// tickers belong with the option quotes). OKX sends no change fields: `change` is
    /// `last − open24h` and `change_pct` that change in percent of `open24h`. Volumes
    /// by instrument type: spot `vol24h` (base) and `volCcy24h` (quote); swaps and
    /// futures `volCcy24h` (base; their `vol24h` counts contracts) and no quote volume.
    fn stats(&self, ticker: &Ticker, time: Timestamp, received_at: Timestamp) -> Result<Option<TickerRecord>, Rejection> {
        if ticker.inst_type == Some("OPTION") {
            return Ok(None);
        }
        let optional = |field: &str, text: Option<&str>| text.filter(|text| !text.is_empty()).map(|text| number(field, text)).transpose();
        let Some(last) = optional("last", ticker.last)? else { return Ok(None) };
        let open_24h = optional("open24h", ticker.open_24h)?;
        let (volume_24h, quote_volume_24h) = match ticker.inst_type {
            Some("SWAP" | "FUTURES") => (optional("volCcy24h", ticker.vol_ccy_24h)?, None),
            _ => (optional("vol24h", ticker.vol_24h)?, optional("volCcy24h", ticker.vol_ccy_24h)?),
        };
        Ok(Some(TickerRecord {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: ticker.inst_id.to_string(),
            last,
            open_24h,
            high_24h: optional("high24h", ticker.high_24h)?,
            low_24h: optional("low24h", ticker.low_24h)?,
            volume_24h,
            quote_volume_24h,
            change: open_24h.map(|open| last - open),
            change_pct: open_24h.filter(|open| *open != 0.0).map(|open| (last - open) / open * 100.0),
        }))
    }

    fn candles(&mut self, bar: &str, inst_id: &str, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let interval = bar_interval(bar)?;
        let rows: Vec<Vec<&str>> = serde_json::from_str(data).map_err(|error| invalid("candle", error))?;
        for row in &rows {
            let candle = Candle::from_row(row)
                .ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, format!("candle: expected 9 fields, got {}", row.len())))?;
            if candle.confirm != "1" {
                continue;
            }
            let time = millis_text("ts", candle.ts)?;
            let volume = number("vol", candle.vol)?;
            let quote_volume = number("volCcyQuote", candle.vol_ccy_quote)?;
            let record = Bar {
                time,
                received_at,
                venue: self.venue().to_string(),
                symbol: inst_id.to_string(),
                interval: interval.clone(),
                open: number("o", candle.open)?,
                high: number("h", candle.high)?,
                low: number("l", candle.low)?,
                close: number("c", candle.close)?,
                volume,
                vwap: (volume > 0.0).then(|| quote_volume / volume),
                trades: None,
            };
            if self.last_bars.get(inst_id).is_some_and(|last| time <= *last) {
                parsed.duplicates += 1;
                continue;
            }
            self.last_bars.insert(inst_id.to_string(), time);
            parsed.records.push(Record::Bar(record));
        }
        Ok(())
    }

    /// Every element is one contract; a bad one is dead-lettered on its own and the
    /// others kept, unless none is good (then the message is rejected whole).
    fn option_summaries(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let elements: Vec<&RawValue> = serde_json::from_str(data).map_err(|error| invalid(OPTION_SUMMARY, error))?;
        let mut rejected = Vec::new();
        let mut kept = 0;
        for element in &elements {
            match self.option_summary(element.get(), received_at) {
                Ok(quote) => {
                    kept += 1;
                    if self.option_times.admit(&quote.symbol, quote.expiration, quote.time, parsed) {
                        parsed.records.push(Record::OptionQuote(quote));
                    }
                }
                Err(rejection) => rejected.push((rejection, element.get().to_string())),
            }
        }
        if kept == 0 {
            if let Some((rejection, _)) = rejected.into_iter().next() {
                return Err(rejection);
            }
        } else {
            parsed.rejected.extend(rejected);
        }
        Ok(())
    }

    /// One contract of an `opt-summary` push: its parts from the instId, the
    /// Black-Scholes greeks, the IVs in percent and the forward price as the underlying
    /// price; OKX sends no prices, open interest or volume here, nor a rho.
    fn option_summary(&self, element: &str, received_at: Timestamp) -> Result<OptionQuote, Rejection> {
        let summary: OptionSummary = serde_json::from_str(element).map_err(|error| invalid(OPTION_SUMMARY, error))?;
        let contract =
            parse_okx(summary.inst_id).map_err(|error| Rejection::new(RejectReason::InvalidField, format!("`instId`: {error}")))?;
        Ok(OptionQuote {
            time: millis_text("ts", summary.ts)?,
            received_at,
            venue: self.venue().to_string(),
            symbol: summary.inst_id.to_string(),
            underlying: contract.underlying,
            option_type: contract.kind,
            strike: contract.strike,
            expiration: contract.expiration,
            bid: None,
            ask: None,
            last: None,
            mark: None,
            volume: None,
            open_interest: None,
            delta: optional_number("deltaBS", summary.delta_bs, false)?,
            gamma: optional_number("gammaBS", summary.gamma_bs, false)?,
            theta: optional_number("thetaBS", summary.theta_bs, false)?,
            vega: optional_number("vegaBS", summary.vega_bs, false)?,
            rho: None,
            iv: volatility_percent("markVol", summary.mark_vol)?,
            bid_iv: volatility_percent("bidVol", summary.bid_vol)?,
            ask_iv: volatility_percent("askVol", summary.ask_vol)?,
            underlying_price: optional_number("fwdPx", summary.fwd_px, false)?,
        })
    }

    fn event(&mut self, event: &str, envelope: &Envelope, parsed: &mut Parsed) -> Result<(), Rejection> {
        match event {
            "subscribe" => {
                let arg = envelope.arg.as_ref().ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "subscribe event: no `arg`"))?;
                let id = arg.inst_id.or(arg.inst_family).or(arg.inst_type).unwrap_or("");
                parsed.acknowledged.extend(self.requests.acked(arg.channel, id));
                Ok(())
            }
            // The first half of a resynchronisation (see `book`).
            "unsubscribe" => Ok(()),
            "error" => Err(Rejection::new(
                RejectReason::SubscriptionRefused,
                format!(
                    "OKX refused request \"{}\": {} {}",
                    envelope.id.as_deref().unwrap_or(""),
                    envelope.code.as_deref().unwrap_or("(no code)"),
                    envelope.msg.as_deref().unwrap_or("(no msg)")
                ),
            )),
            other => Err(Rejection::new(RejectReason::UnknownType, format!("OKX event `{other}` is not handled"))),
        }
    }
}

/// The channels this venue offers (`trades`, `tickers` for quotes and tickers, `candle1m`, `opt-summary`, `books`,
/// `funding-rate`, `open-interest`, `mark-price` with `index-tickers`, `liquidation-orders`, REST instruments; no
/// aggregated trades).
pub const CHANNELS: &[Channel] = &[
    Channel::Trades,
    Channel::Quotes,
    Channel::Bars,
    Channel::Tickers,
    Channel::Options,
    Channel::Book,
    Channel::Funding,
    Channel::OpenInterest,
    Channel::MarkPrice,
    Channel::Liquidations,
    Channel::Instruments,
];

impl VenueAdapter for OkxAdapter {
    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    // `options` symbols are instrument families, the other channels' instrument ids:
    // one list cannot hold both.
    fn channels_conflict(&self, channels: &[Channel]) -> Option<String> {
        (channels.contains(&Channel::Options) && channels.len() > 1).then(|| {
            "okx `options` takes instrument families (BTC-USD) as symbols, the other channels instrument ids; give `options` a [[sources]] entry of its own".into()
        })
    }

    fn venue(&self) -> &'static str {
        "okx"
    }

    fn book_depths(&self) -> &'static [u32] {
        DEPTHS
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.books = OkxBooks::new(&settings);
    }

    fn default_url(&self) -> String {
        "wss://ws.okx.com:8443/ws/v5/public".into()
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        self.ticker_quotes = channels.contains(&Channel::Quotes);
        self.ticker_stats = channels.contains(&Channel::Tickers);
        self.books.reset(Timestamp::now());
        self.derivatives.set_symbols(symbols);
        self.instruments.set_symbols(if channels.contains(&Channel::Instruments) { symbols.to_vec() } else { Vec::new() });
        // A new connection: acks of the previous one no longer count.
        self.requests.subscribe(&subscribe::args(symbols, channels))
    }

    /// Instrument ids (`BTC-USDT`) are our symbols already. Option ids are `option`,
    /// swaps (`-SWAP`) and dated futures (`BTC-USD-241227`) `future`, the rest `crypto`.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        let parts: Vec<&str> = venue_symbol.split('-').collect();
        let asset_class = if contracts::parse_okx(venue_symbol).is_ok() {
            "option"
        } else if parts.len() == 3 && (parts[2] == "SWAP" || (parts[2].len() == 6 && parts[2].bytes().all(|b| b.is_ascii_digit()))) {
            "future"
        } else {
            "crypto"
        };
        Some(Instrument::listed(self.venue(), venue_symbol, venue_symbol, Some(asset_class)))
    }

    fn set_polls(&mut self, settings: PollSettings) {
        self.instruments.set_polls(settings);
    }

    fn rest(&self) -> Option<RestSpec> {
        Some(instruments::rest())
    }

    fn initial_fetches(&mut self) -> Vec<Fetch> {
        self.instruments.initial_fetches()
    }

    fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp) -> Result<Parsed, Rejection> {
        if !fetch.tag.starts_with(instruments::TAG) {
            return Err(Rejection::new(RejectReason::UnknownType, format!("okx asked for no fetch `{}`", fetch.path)));
        }
        Ok(self.instruments.fetched(fetch, outcome, received_at))
    }

    /// OKX closes a connection that receives nothing for 30 s; it answers the text `ping`
    /// with `pong`. The connector sends it with each websocket ping.
    fn heartbeat(&mut self) -> Option<String> {
        Some("ping".into())
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let mut parsed = Parsed::default();
        if text == "pong" {
            return Ok(parsed);
        }
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not an OKX message: {error}")))?;
        match (envelope.event, &envelope.arg, envelope.data) {
            (Some(event), _, _) => self.event(event, &envelope, &mut parsed)?,
            (None, Some(arg), Some(data)) => match arg.channel {
                TRADES => self.trades(data.get(), received_at, &mut parsed)?,
                TICKERS => self.tickers(data.get(), received_at, &mut parsed)?,
                OPTION_SUMMARY => self.option_summaries(data.get(), received_at, &mut parsed)?,
                BOOKS => {
                    let inst_id = arg.inst_id.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "books: no `arg.instId`"))?;
                    self.books.push(inst_id, envelope.action, data.get(), received_at, &mut parsed)?
                }
                channel if self.derivatives.push(channel, data.get(), received_at, &mut parsed)? => {}
                channel => match channel.strip_prefix("candle") {
                    Some(bar) => {
                        let inst_id = arg.inst_id.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "candle: no `arg.instId`"))?;
                        self.candles(bar, inst_id, data.get(), received_at, &mut parsed)?
                    }
                    None => return Err(Rejection::new(RejectReason::UnknownType, format!("OKX channel `{channel}` is not handled"))),
                },
            },
            (None, Some(arg), None) => {
                return Err(Rejection::new(RejectReason::InvalidRecord, format!("{}: no `data`", arg.channel)));
            }
            (None, None, _) => return Err(Rejection::new(RejectReason::UnknownType, "an OKX message with neither `event` nor `arg`")),
        }
        Ok(parsed)
    }
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "options_tests.rs"]
mod options_tests;
