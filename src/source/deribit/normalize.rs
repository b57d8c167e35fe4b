//! Deribit messages → records. Trades become ticks, checked against the last
//! `trade_seq` of the instrument: a skip is a `gap` event, a sequence number at or below
//! the last one is dropped as a duplicate. Tickers become quotes from the best bid and
//! ask (`quotes`) and, for option instruments, option quotes (`options`): the contract's
//! parts from its name, prices, greeks and IVs as Deribit publishes them, an IV of 0 on
//! a side without orders as none; an option ticker not newer than the last one of its
//! contract is dropped as a duplicate. The state is one number per instrument, whatever
//! the message rate.
//!
//! Acknowledgements: every request (`public/set_heartbeat`, `public/subscribe`) carries a
//! numeric `id`; the response with that `id` and a `result` acknowledges it, one with an
//! `error` is a refusal. Responses to our `public/test` answers and to the requests
//! resynchronising a book (see `book`) are ignored.
//!
//! Books: `book.{instrument}.100ms` notifications go to the connection's book keeper
//! (`book`); a break is answered with `public/unsubscribe` and `public/subscribe` of the
//! instrument's channel in [`Parsed::replies`].

use std::collections::HashSet;

use serde_json::json;
use serde_json::value::RawValue;

use super::book::{self, DeribitBooks};
use super::derivatives::{self, is_index_name, DeribitDerivatives, PRICE_INDEX};
use super::instruments::{self, DeribitInstruments};
use super::wire::{millis_raw, number, optional_number, whole, Envelope, Params, Ticker, Trade};
use crate::config::Channel;
use crate::record::{Instrument, OptionQuote, Quote, Record, RejectReason, Rejection, Side, Tick, Ticker as TickerRecord, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::contracts::parse_deribit;
use crate::source::feed::book::{Applied, BookSettings};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, OptionQuoteTimes, Parsed, PollSettings, RestSpec, Sequences, Subscription, VenueAdapter};

/// Channels per `public/subscribe` request.
const CHANNELS_PER_REQUEST: usize = 100;
/// Seconds between Deribit's heartbeats (its minimum is 10).
const HEARTBEAT_INTERVAL_S: u64 = 30;

pub struct DeribitAdapter {
    next_request_id: u64,
    /// Requests of this connection not yet answered.
    pending: HashSet<u64>,
    /// `trade_seq` per instrument.
    trade_seqs: Sequences,
    /// What a ticker yields, after the channels of the last [`VenueAdapter::subscriptions`]
    /// call; before any, quotes only.
    quotes: bool,
    tickers: bool,
    options: bool,
    /// The time of the last option quote per contract.
    option_times: OptionQuoteTimes,
    /// Time of the last 24-hour ticker per instrument.
    ticker_times: Sequences,
    /// The `book` channel's books.
    books: DeribitBooks,
    /// Whether trades become ticks (`trades`; the same channel feeds `liquidations`).
    trade_ticks: bool,
    /// The derivatives channels asked for, and the `instruments` poll.
    derivatives: DeribitDerivatives,
    instruments: DeribitInstruments,
}

impl DeribitAdapter {
    pub fn new() -> Self {
        DeribitAdapter {
            next_request_id: 1,
            pending: HashSet::new(),
            trade_seqs: Sequences::new("trades"),
            quotes: true,
            tickers: false,
            options: false,
            option_times: OptionQuoteTimes::new(),
            ticker_times: Sequences::duplicates_only("ticker"),
            books: DeribitBooks::new(&BookSettings::default()),
            trade_ticks: true,
            derivatives: DeribitDerivatives::default(),
            instruments: DeribitInstruments::default(),
        }
    }

    fn request_id(&mut self) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }
}

impl Default for DeribitAdapter {
    fn default() -> Self {
        Self::new()
    }
}

/// One side of the book: (price, amount), or none when the side has no orders (a `null`
/// or zero price).
fn book_side(
    price_field: &str,
    price: Option<&RawValue>,
    amount_field: &str,
    amount: Option<&RawValue>,
) -> Result<Option<(f64, f64)>, Rejection> {
    let Some(price) = optional_number(price_field, price)? else {
        return Ok(None);
    };
    let amount = optional_number(amount_field, amount)?.unwrap_or(0.0);
    Ok((price != 0.0).then_some((price, amount)))
}

/// The IV of one side of the book: none when the side has no orders, or when Deribit
/// writes 0 (what it sends for an empty side).
fn side_iv(field: &str, side: Option<(f64, f64)>, raw: Option<&RawValue>) -> Result<Option<f64>, Rejection> {
    let iv = optional_number(field, raw)?;
    Ok(iv.filter(|iv| side.is_some() && *iv != 0.0))
}

impl DeribitAdapter {
    fn trades(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trades: Vec<Trade> = serde_json::from_str(data).map_err(|error| invalid("trades", error))?;
        // Everything is converted first, so a bad field leaves no state behind.
        let mut ticks = Vec::with_capacity(trades.len());
        for trade in &trades {
            let tick = Tick {
                time: millis_raw("timestamp", trade.timestamp)?,
                received_at,
                venue: ShortText::new(self.venue()),
                symbol: trade.instrument_name.to_compact_string(),
                price: number("price", trade.price)?,
                size: number("amount", trade.amount)?,
                side: match trade.direction {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => Side::Unknown,
                },
                trade_id: Some(trade.trade_id.to_compact_string()),
            };
            let liquidations = self.derivatives.liquidations(trade, received_at)?;
            ticks.push((whole("trade_seq", trade.trade_seq)?, tick, liquidations));
        }
        for (seq, tick, liquidations) in ticks {
            if !self.trade_seqs.admit(&tick.symbol, seq, parsed) {
                continue;
            }
            if self.trade_ticks {
                parsed.records.push(Record::Tick(tick));
            }
            parsed.records.extend(liquidations);
        }
        Ok(())
    }

    fn ticker(&mut self, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let ticker: Ticker = serde_json::from_str(data).map_err(|error| invalid("ticker", error))?;
        let time = millis_raw("timestamp", ticker.timestamp)?;
        let bid = book_side("best_bid_price", ticker.best_bid_price, "best_bid_amount", ticker.best_bid_amount)?;
        let ask = book_side("best_ask_price", ticker.best_ask_price, "best_ask_amount", ticker.best_ask_amount)?;
        // Converted before anything is kept, so a bad field leaves no state behind.
        let option = if self.options { self.option_quote(&ticker, time, received_at, bid, ask)? } else { None };
        let stats = if self.tickers { self.stats(&ticker, time, received_at)? } else { None };
        let derivatives = self.derivatives.ticker(&ticker, time, received_at)?;
        // A side without orders (null or 0 price): no full quote then.
        if let (true, Some((bid_price, bid_size)), Some((ask_price, ask_size))) = (self.quotes, bid, ask) {
            parsed.records.push(Record::Quote(Quote {
                time,
                received_at,
                venue: self.venue().to_string(),
                symbol: ticker.instrument_name.to_string(),
                bid_price,
                bid_size,
                ask_price,
                ask_size,
            }));
        }
        if let Some(option) = option {
            if self.option_times.admit(&option.symbol, option.expiration, option.time, parsed) {
                parsed.records.push(Record::OptionQuote(option));
            }
        }
        if let Some(stats) = stats {
            if self.ticker_times.admit_time(ticker.instrument_name, time, parsed) {
                parsed.records.push(Record::Ticker(stats));
            }
        }
        parsed.records.extend(derivatives);
        Ok(())
    }

    /// The 24-hour statistics of a future's or perpetual's ticker with a last price (an
    /// option's ticker belongs with the option quotes, not here). `stats.price_change` is
    /// already in percent. Deribit sends neither the open price nor the change in the
    /// quote currency, so `open_24h` and `change` stay empty rather than being derived
    /// from the rounded percentage. The quote volume is `volume_notional` (quote
    /// currency), else `volume_usd` (the quote currency of the inverse USD contracts).
    fn stats(&self, ticker: &Ticker, time: Timestamp, received_at: Timestamp) -> Result<Option<TickerRecord>, Rejection> {
        if parse_deribit(ticker.instrument_name).is_ok() {
            return Ok(None);
        }
        let Some(last) = ticker.last_price else { return Ok(None) };
        let last = number("last_price", last)?;
        let stats = ticker.stats.as_ref();
        let field = |name: &str, value: Option<&RawValue>| optional_number(&format!("stats.{name}"), value);
        let volume_notional = field("volume_notional", stats.and_then(|stats| stats.volume_notional))?;
        let volume_usd = field("volume_usd", stats.and_then(|stats| stats.volume_usd))?;
        Ok(Some(TickerRecord {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: ticker.instrument_name.to_string(),
            last,
            open_24h: None,
            high_24h: field("high", stats.and_then(|stats| stats.high))?,
            low_24h: field("low", stats.and_then(|stats| stats.low))?,
            volume_24h: field("volume", stats.and_then(|stats| stats.volume))?,
            quote_volume_24h: volume_notional.or(volume_usd),
            change: None,
            change_pct: field("price_change", stats.and_then(|stats| stats.price_change))?,
        }))
    }

    /// The option quote of a ticker, or none when the instrument is not an option (its
    /// name is no Deribit option name; only option names are subscribed for `options`).
    fn option_quote(
        &self,
        ticker: &Ticker,
        time: Timestamp,
        received_at: Timestamp,
        bid: Option<(f64, f64)>,
        ask: Option<(f64, f64)>,
    ) -> Result<Option<OptionQuote>, Rejection> {
        let Ok(contract) = parse_deribit(ticker.instrument_name) else {
            return Ok(None);
        };
        let greeks = ticker.greeks.as_ref();
        Ok(Some(OptionQuote {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: ticker.instrument_name.to_string(),
            underlying: contract.underlying,
            option_type: contract.kind,
            strike: contract.strike,
            expiration: contract.expiration,
            bid: bid.map(|(price, _)| price),
            ask: ask.map(|(price, _)| price),
            last: optional_number("last_price", ticker.last_price)?,
            mark: optional_number("mark_price", ticker.mark_price)?,
            volume: optional_number("stats.volume", ticker.stats.as_ref().and_then(|stats| stats.volume))?,
            open_interest: optional_number("open_interest", ticker.open_interest)?,
            delta: optional_number("greeks.delta", greeks.and_then(|greeks| greeks.delta))?,
            gamma: optional_number("greeks.gamma", greeks.and_then(|greeks| greeks.gamma))?,
            theta: optional_number("greeks.theta", greeks.and_then(|greeks| greeks.theta))?,
            vega: optional_number("greeks.vega", greeks.and_then(|greeks| greeks.vega))?,
            rho: optional_number("greeks.rho", greeks.and_then(|greeks| greeks.rho))?,
            iv: optional_number("mark_iv", ticker.mark_iv)?,
            bid_iv: side_iv("bid_iv", bid, ticker.bid_iv)?,
            ask_iv: side_iv("ask_iv", ask, ticker.ask_iv)?,
            underlying_price: optional_number("underlying_price", ticker.underlying_price)?,
        }))
    }

    fn subscription(&mut self, params: &Params, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let channel = params.channel.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "subscription: no `params.channel`"))?;
        let data = params.data.ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, format!("{channel}: no `params.data`")))?;
        match channel.split('.').next() {
            Some("trades") => self.trades(data.get(), received_at, parsed),
            Some("ticker") => self.ticker(data.get(), received_at, parsed),
            Some(PRICE_INDEX) => {
                parsed.records.push(derivatives::price_index(data.get(), received_at)?);
                Ok(())
            }
            Some("book") => {
                if self.books.notification(data.get(), received_at, parsed)? == Applied::Resync {
                    let (unsubscribe, subscribe) = (self.request_id(), self.request_id());
                    parsed.replies.extend(book::resync_requests(channel, unsubscribe, subscribe));
                }
                Ok(())
            }
            _ => Err(Rejection::new(RejectReason::UnknownType, format!("Deribit channel `{channel}` is not handled"))),
        }
    }
}

/// The channels this venue offers (`trades.{instrument}.raw`, `ticker.{instrument}.100ms`, of option instruments for `options`, and `book.{instrument}.100ms`).
/// The derivatives channels: `funding`, `open_interest` and `mark_price` from the ticker (and
/// `deribit_price_index`), `liquidations` from the trades, `instruments` from REST.
pub const CHANNELS: &[Channel] = &[
    Channel::Trades,
    Channel::Quotes,
    Channel::Tickers,
    Channel::Options,
    Channel::Book,
    Channel::Funding,
    Channel::OpenInterest,
    Channel::MarkPrice,
    Channel::Liquidations,
    Channel::Instruments,
];

impl VenueAdapter for DeribitAdapter {
    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    fn venue(&self) -> &'static str {
        "deribit"
    }

    fn book_depths(&self) -> &'static [u32] {
        book::DEPTHS
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.books = DeribitBooks::new(&settings);
    }

    fn default_url(&self) -> String {
        "wss://www.deribit.com/ws/api/v2".into()
    }

    /// `public/set_heartbeat` first, then the channels in `public/subscribe` requests of
    /// up to [`CHANNELS_PER_REQUEST`]. `quotes` and `options` share an instrument's
    /// ticker channel, subscribed once.
    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        // A new connection: answers on the previous one no longer count.
        self.pending.clear();
        self.quotes = channels.contains(&Channel::Quotes);
        self.tickers = channels.contains(&Channel::Tickers);
        self.options = channels.contains(&Channel::Options);
        self.books.reset(Timestamp::now());
        self.trade_ticks = channels.contains(&Channel::Trades);
        self.derivatives = DeribitDerivatives {
            funding: channels.contains(&Channel::Funding),
            open_interest: channels.contains(&Channel::OpenInterest),
            mark_price: channels.contains(&Channel::MarkPrice),
            liquidations: channels.contains(&Channel::Liquidations),
        };
        self.instruments.set_symbols(if channels.contains(&Channel::Instruments) { symbols } else { &[] });
        let mut names: Vec<String> = Vec::new();
        for symbol in symbols {
            for channel in channels {
                let name = match channel {
                    // An index name (`btc_usd`) has its price index and nothing else.
                    Channel::MarkPrice if is_index_name(symbol) => format!("{PRICE_INDEX}.{symbol}"),
                    _ if is_index_name(symbol) => continue,
                    Channel::Trades | Channel::Liquidations => format!("trades.{symbol}.raw"),
                    // One ticker channel feeds quotes and tickers: subscribed once, read
                    // for what was asked.
                    Channel::Quotes | Channel::Tickers => format!("ticker.{symbol}.100ms"),
                    // The same ticker, of option instruments only: other names have no
                    // option quotes (their other channels are still subscribed).
                    Channel::Options if parse_deribit(symbol).is_ok() => format!("ticker.{symbol}.100ms"),
                    Channel::Options => continue,
                    Channel::Book => book::channel(symbol),
                    // Not offered (see `SourceKind::channels`).
                    Channel::AggTrades | Channel::Bars => continue,
                    // From the ticker, of futures and perpetuals (an option's ticker is an option quote).
                    Channel::Funding | Channel::OpenInterest | Channel::MarkPrice if parse_deribit(symbol).is_err() => {
                        format!("ticker.{symbol}.100ms")
                    }
                    Channel::Funding | Channel::OpenInterest | Channel::MarkPrice => continue,
                    // A REST poll (see `instruments`), no subscription.
                    Channel::Instruments => continue,
                };
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        let heartbeat_id = self.request_id();
        let mut subscriptions = vec![Subscription {
            id: heartbeat_id,
            message: json!({ "jsonrpc": "2.0", "id": heartbeat_id, "method": "public/set_heartbeat", "params": { "interval": HEARTBEAT_INTERVAL_S } })
                .to_string(),
        }];
        for batch in names.chunks(CHANNELS_PER_REQUEST) {
            let id = self.request_id();
            subscriptions.push(Subscription {
                id,
                message: json!({ "jsonrpc": "2.0", "id": id, "method": "public/subscribe", "params": { "channels": batch } }).to_string(),
            });
        }
        self.pending.extend(subscriptions.iter().map(|subscription| subscription.id));
        subscriptions
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
            return Err(Rejection::new(RejectReason::UnknownType, format!("deribit asked for no fetch `{}`", fetch.path)));
        }
        Ok(self.instruments.fetched(fetch, outcome, received_at))
    }

    /// Instrument names are our symbols already. Option names (`BTC-27DEC24-100000-C`)
    /// are `option`; other names with a dash (`BTC-PERPETUAL`, `BTC-27DEC24`,
    /// `BTC_USDC-PERPETUAL`) `future`; the rest (spot pairs such as `BTC_USDC`) `crypto`.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        let asset_class = if parse_deribit(venue_symbol).is_ok() {
            "option"
        } else if venue_symbol.contains('-') {
            "future"
        } else {
            "crypto"
        };
        Some(Instrument::listed(self.venue(), venue_symbol, venue_symbol, Some(asset_class)))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let mut parsed = Parsed::default();
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Deribit message: {error}")))?;
        match (envelope.method, &envelope.params) {
            (Some("subscription"), Some(params)) => self.subscription(params, received_at, &mut parsed)?,
            (Some("heartbeat"), Some(params)) => match params.kind {
                // Deribit closes the connection unless a `public/test` request answers.
                Some("test_request") => {
                    let id = self.request_id();
                    parsed.replies.push(json!({ "jsonrpc": "2.0", "id": id, "method": "public/test", "params": {} }).to_string());
                }
                Some("heartbeat") => {}
                other => {
                    return Err(Rejection::new(
                        RejectReason::UnknownType,
                        format!("Deribit heartbeat type `{}` is not handled", other.unwrap_or("")),
                    ))
                }
            },
            (Some(method @ ("subscription" | "heartbeat")), None) => {
                return Err(Rejection::new(RejectReason::InvalidRecord, format!("{method}: no `params`")));
            }
            (Some(method), _) => {
                return Err(Rejection::new(RejectReason::UnknownType, format!("Deribit method `{method}` is not handled")))
            }
            (None, _) => match (envelope.id, &envelope.error, envelope.result) {
                (id, Some(error), _) => {
                    return Err(Rejection::new(
                        RejectReason::SubscriptionRefused,
                        format!(
                            "Deribit refused request {}: {} {}",
                            id.map_or("(no id)".to_string(), |id| id.to_string()),
                            error.code,
                            error.message
                        ),
                    ))
                }
                // An answer to one of our requests; those to `public/test` change nothing.
                (Some(id), None, Some(_)) => {
                    if self.pending.remove(&id) {
                        parsed.acknowledged.push(id);
                    }
                }
                _ => return Err(Rejection::new(RejectReason::UnknownType, "a Deribit message with neither `method` nor a response")),
            },
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
