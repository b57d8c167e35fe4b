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
//! `error` is a refusal. Responses to our `public/test` answers are ignored.

use std::collections::HashSet;

use serde_json::json;
use serde_json::value::RawValue;

use super::wire::{Envelope, Params, Ticker, Trade};
use crate::config::Channel;
use crate::record::{Instrument, OptionQuote, Quote, Record, Rejection, Side, Tick, Ticker as TickerRecord, Timestamp};
use crate::source::contracts::parse_deribit;
use crate::source::feed::fields::{decimal, invalid_record as invalid, millis};
use crate::source::feed::{OptionQuoteTimes, Parsed, Sequences, Subscription, VenueAdapter};

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

/// A JSON number kept raw, as a finite `f64`.
fn number(field: &str, raw: &RawValue) -> Result<f64, Rejection> {
    decimal(field, raw.get())
}

/// An optional JSON number kept raw (`null` and absent are none), as a finite `f64`.
fn optional_number(field: &str, raw: Option<&RawValue>) -> Result<Option<f64>, Rejection> {
    raw.map(|raw| number(field, raw)).transpose()
}

/// One side of the book: (price, amount), or none when the side has no orders (a `null`
/// or zero price).
fn book_side(price_field: &str, price: Option<&RawValue>, amount_field: &str, amount: Option<&RawValue>) -> Result<Option<(f64, f64)>, Rejection> {
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

/// A JSON number kept raw, as a whole number.
fn whole(field: &str, raw: &RawValue) -> Result<u64, Rejection> {
    raw.get()
        .parse::<u64>()
        .map_err(|_| Rejection::new("invalid_field", format!("`{field}`: expected a whole number, got {}", raw.get())))
}

/// A JSON number of milliseconds since the Unix epoch, kept raw.
fn millis_raw(field: &str, raw: &RawValue) -> Result<Timestamp, Rejection> {
    let ms = raw
        .get()
        .parse::<i64>()
        .map_err(|_| Rejection::new("invalid_field", format!("`{field}`: expected milliseconds, got {}", raw.get())))?;
    millis(field, ms)
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
                venue: self.venue().to_string(),
                symbol: trade.instrument_name.to_string(),
                price: number("price", trade.price)?,
                size: number("amount", trade.amount)?,
                side: match trade.direction {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => Side::Unknown,
                },
                trade_id: Some(trade.trade_id.to_string()),
            };
            ticks.push((whole("trade_seq", trade.trade_seq)?, tick));
        }
        for (seq, tick) in ticks {
            if !self.trade_seqs.admit(&tick.symbol, seq, parsed) {
                continue;
            }
            parsed.records.push(Record::Tick(tick));
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
        let channel = params.channel.ok_or_else(|| Rejection::new("invalid_record", "subscription: no `params.channel`"))?;
        let data = params.data.ok_or_else(|| Rejection::new("invalid_record", format!("{channel}: no `params.data`")))?;
        match channel.split('.').next() {
            Some("trades") => self.trades(data.get(), received_at, parsed),
            Some("ticker") => self.ticker(data.get(), received_at, parsed),
            _ => Err(Rejection::new("unknown_type", format!("Deribit channel `{channel}` is not handled"))),
        }
    }
}

impl VenueAdapter for DeribitAdapter {
    fn venue(&self) -> &'static str {
        "deribit"
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
        let mut names: Vec<String> = Vec::new();
        for symbol in symbols {
            for channel in channels {
                let name = match channel {
                    Channel::Trades => format!("trades.{symbol}.raw"),
                    // One ticker channel feeds quotes and tickers: subscribed once, read
                    // for what was asked.
                    Channel::Quotes | Channel::Tickers => format!("ticker.{symbol}.100ms"),
                    // The same ticker, of option instruments only: other names have no
                    // option quotes (their other channels are still subscribed).
                    Channel::Options if parse_deribit(symbol).is_ok() => format!("ticker.{symbol}.100ms"),
                    Channel::Options => continue,
                    // Not offered (see `SourceKind::channels`).
                    Channel::AggTrades | Channel::Bars => continue,
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
        let envelope: Envelope =
            serde_json::from_str(text).map_err(|error| Rejection::new("invalid_json", format!("not a Deribit message: {error}")))?;
        match (envelope.method, &envelope.params) {
            (Some("subscription"), Some(params)) => self.subscription(params, received_at, &mut parsed)?,
            (Some("heartbeat"), Some(params)) => match params.kind {
                // Deribit closes the connection unless a `public/test` request answers.
                Some("test_request") => {
                    let id = self.request_id();
                    parsed.replies.push(json!({ "jsonrpc": "2.0", "id": id, "method": "public/test", "params": {} }).to_string());
                }
                Some("heartbeat") => {}
                other => return Err(Rejection::new("unknown_type", format!("Deribit heartbeat type `{}` is not handled", other.unwrap_or("")))),
            },
            (Some(method @ ("subscription" | "heartbeat")), None) => {
                return Err(Rejection::new("invalid_record", format!("{method}: no `params`")));
            }
            (Some(method), _) => return Err(Rejection::new("unknown_type", format!("Deribit method `{method}` is not handled"))),
            (None, _) => match (envelope.id, &envelope.error, envelope.result) {
                (id, Some(error), _) => {
                    return Err(Rejection::new(
                        "subscription_refused",
                        format!("Deribit refused request {}: {} {}", id.map_or("(no id)".to_string(), |id| id.to_string()), error.code, error.message),
                    ))
                }
                // An answer to one of our requests; those to `public/test` change nothing.
                (Some(id), None, Some(_)) => {
                    if self.pending.remove(&id) {
                        parsed.acknowledged.push(id);
                    }
                }
                _ => return Err(Rejection::new("unknown_type", "a Deribit message with neither `method` nor a response")),
            },
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    /// A `trades` notification; each trade is (trade_seq, direction, price, amount, time ms).
    fn trades(instrument: &str, trades: &[(u64, &str, &str, &str, &str)]) -> String {
        let data: Vec<String> = trades
            .iter()
            .map(|(seq, direction, price, amount, ts)| {
                format!(
                    r#"{{"trade_seq":{seq},"trade_id":"{}","timestamp":{ts},"tick_direction":0,"price":{price},"mark_price":8948.9,"instrument_name":"{instrument}","index_price":8955.88,"direction":"{direction}","amount":{amount}}}"#,
                    48_000_000 + seq
                )
            })
            .collect();
        format!(r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"trades.{instrument}.raw","data":[{}]}}}}"#, data.join(","))
    }

    fn ticker(instrument: &str, bid: (&str, &str), ask: (&str, &str), ts: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.{instrument}.100ms","data":{{"timestamp":{ts},"instrument_name":"{instrument}","best_bid_price":{},"best_bid_amount":{},"best_ask_price":{},"best_ask_amount":{},"mark_price":0.05,"index_price":36000.5,"open_interest":1.2,"mark_iv":98.6,"bid_iv":95.1,"ask_iv":101.2,"underlying_price":36100.2,"greeks":{{"delta":0.45,"gamma":0.00005,"theta":-2.4,"vega":1.53,"rho":0.8}},"state":"open"}}}}}}"#,
            bid.0, bid.1, ask.0, ask.1
        )
    }

    fn ticks(parsed: &Parsed) -> Vec<&Tick> {
        parsed.records.iter().map(|record| match record { Record::Tick(tick) => tick, other => panic!("{other:?}") }).collect()
    }

    #[test]
    fn subscriptions_enable_the_heartbeat_and_are_batched() {
        let mut adapter = DeribitAdapter::new();
        let symbols: Vec<String> = ["BTC-PERPETUAL", "BTC-27DEC24-100000-C", "BTC-PERPETUAL"].iter().map(|symbol| symbol.to_string()).collect();
        let subscriptions = adapter.subscriptions(&symbols, &[Channel::Trades, Channel::Quotes, Channel::AggTrades]);
        assert_eq!(
            subscriptions,
            vec![
                Subscription { id: 1, message: r#"{"id":1,"jsonrpc":"2.0","method":"public/set_heartbeat","params":{"interval":30}}"#.into() },
                Subscription {
                    id: 2,
                    message: r#"{"id":2,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["trades.BTC-PERPETUAL.raw","ticker.BTC-PERPETUAL.100ms","trades.BTC-27DEC24-100000-C.raw","ticker.BTC-27DEC24-100000-C.100ms"]}}"#.into()
                },
            ],
            "instrument names as given, each channel once"
        );
        let many: Vec<String> = (0..120).map(|i| format!("BTC-{i}-C")).collect();
        let subscriptions = adapter.subscriptions(&many, &[Channel::Trades, Channel::Quotes]);
        let sizes: Vec<usize> = subscriptions[1..]
            .iter()
            .map(|subscription| serde_json::from_str::<serde_json::Value>(&subscription.message).unwrap()["params"]["channels"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![100, 100, 40]);
        assert_eq!(subscriptions.iter().map(|subscription| subscription.id).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
    }

    #[test]
    fn responses_acknowledge_requests_and_errors_are_refusals() {
        let mut adapter = DeribitAdapter::new();
        let ids: Vec<u64> = adapter.subscriptions(&["BTC-PERPETUAL".to_string()], &[Channel::Trades]).iter().map(|s| s.id).collect();
        assert_eq!(adapter.parse(r#"{"jsonrpc":"2.0","id":1,"result":"ok"}"#, NOW).unwrap().acknowledged, vec![ids[0]]);
        assert_eq!(adapter.parse(r#"{"jsonrpc":"2.0","id":2,"result":["trades.BTC-PERPETUAL.raw"]}"#, NOW).unwrap().acknowledged, vec![ids[1]]);
        // Again, or an answer to a request of ours that is no subscription: nothing.
        assert!(adapter.parse(r#"{"jsonrpc":"2.0","id":2,"result":[]}"#, NOW).unwrap().acknowledged.is_empty());
        let test = adapter.parse(r#"{"jsonrpc":"2.0","id":9,"result":{"version":"1.2.26"}}"#, NOW).unwrap();
        assert!(test.acknowledged.is_empty() && test.records.is_empty() && test.replies.is_empty());
        let error = r#"{"jsonrpc":"2.0","id":3,"error":{"message":"Invalid params","data":{"reason":"wrong format","param":"channels"},"code":-32602}}"#;
        let rejection = adapter.parse(error, NOW).unwrap_err();
        assert_eq!(rejection.code, "subscription_refused");
        assert!(rejection.detail.contains("-32602") && rejection.detail.contains("Invalid params") && rejection.detail.contains('3'), "{}", rejection.detail);
    }

    #[test]
    fn a_test_request_is_answered_and_heartbeats_are_nothing() {
        let mut adapter = DeribitAdapter::new();
        let parsed = adapter.parse(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#, NOW).unwrap();
        assert_eq!(parsed.replies, vec![r#"{"id":1,"jsonrpc":"2.0","method":"public/test","params":{}}"#.to_string()]);
        assert!(parsed.records.is_empty() && parsed.acknowledged.is_empty());
        let again = adapter.parse(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#, NOW).unwrap();
        assert!(again.replies[0].contains(r#""id":2"#), "each answer has its own id");
        let beat = adapter.parse(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}"#, NOW).unwrap();
        assert!(beat.replies.is_empty() && beat.records.is_empty() && beat.events.is_empty());
        assert_eq!(adapter.heartbeat(), None);
    }

    #[test]
    fn trades_carry_the_taker_side_gaps_and_duplicates() {
        let mut adapter = DeribitAdapter::new();
        let parsed = adapter.parse(&trades("BTC-PERPETUAL", &[(30289432, "sell", "8950", "10", "1590484156350"), (30289433, "buy", "8950.5", "20", "1590484156351")]), NOW).unwrap();
        let first = ticks(&parsed);
        assert_eq!(
            (first[0].venue.as_str(), first[0].symbol.as_str(), first[0].price, first[0].size, first[0].side, first[0].time),
            ("deribit", "BTC-PERPETUAL", 8950.0, 10.0, Side::Sell, Timestamp(1_590_484_156_350_000))
        );
        assert_eq!((first[0].trade_id.as_deref(), first[0].received_at), (Some("78289432"), NOW));
        assert_eq!((first[1].side, first[1].price, first[1].size), (Side::Buy, 8950.5, 20.0));
        assert!(parsed.events.is_empty() && parsed.duplicates == 0);

        // A skip is a gap; a re-sent trade is a duplicate.
        let skipped = adapter.parse(&trades("BTC-PERPETUAL", &[(30289433, "buy", "1", "1", "1"), (30289436, "buy", "1", "1", "1")]), NOW).unwrap();
        assert_eq!((skipped.records.len(), skipped.duplicates), (1, 1));
        assert_eq!(
            skipped.events,
            vec![("gap", json!({ "symbol": "BTC-PERPETUAL", "stream": "trades", "missing_from": 30289434, "missing_to": 30289435 }))]
        );
        // Instruments have separate series (option names kept as they are).
        let option = adapter.parse(&trades("BTC-27DEC24-100000-C", &[(5, "buy", "0.05", "1.5", "1")]), NOW).unwrap();
        assert_eq!((ticks(&option)[0].symbol.as_str(), option.events.len()), ("BTC-27DEC24-100000-C", 0));
        assert_eq!(adapter.trade_seqs.len(), 2);
        // The last number kept for BTC-PERPETUAL is 30289436: it is a duplicate now, the next one is not.
        let mut probe = Parsed::default();
        assert!(!adapter.trade_seqs.admit("BTC-PERPETUAL", 30289436, &mut probe));
        assert!(adapter.trade_seqs.admit("BTC-PERPETUAL", 30289437, &mut probe));
    }

    #[test]
    fn the_documented_perpetual_ticker_yields_the_24_hour_statistics() {
        let mut adapter = DeribitAdapter::new();
        let subscriptions = adapter.subscriptions(&["BTC-PERPETUAL".to_string()], &[Channel::Quotes, Channel::Tickers]);
        assert_eq!(
            subscriptions[1].message,
            r#"{"id":2,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["ticker.BTC-PERPETUAL.100ms"]}}"#,
            "one ticker channel for both"
        );
        let documented = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.raw","data":{"timestamp":1623060194301,"stats":{"volume_usd":284061480,"volume":7871.02139035,"price_change":0.7229,"low":35213.5,"high":36824.5},"state":"open","settlement_price":36169.49,"open_interest":502097590,"min_price":35898.37,"max_price":36991.72,"mark_price":36446.51,"last_price":36457.5,"interest_value":1.7362511643080387,"instrument_name":"BTC-PERPETUAL","index_price":36441.64,"funding_8h":0.0000211,"estimated_delivery_price":36441.64,"current_funding":0,"best_bid_price":36442.5,"best_bid_amount":5000,"best_ask_price":36443,"best_ask_amount":100}}}"#;
        let parsed = adapter.parse(documented, NOW).unwrap();
        assert!(matches!(&parsed.records[0], Record::Quote(quote) if quote.bid_price == 36442.5 && quote.ask_size == 100.0));
        assert_eq!(
            parsed.records[1],
            Record::Ticker(TickerRecord {
                time: Timestamp(1_623_060_194_301_000),
                received_at: NOW,
                venue: "deribit".into(),
                symbol: "BTC-PERPETUAL".into(),
                last: 36457.5,
                open_24h: None,
                high_24h: Some(36824.5),
                low_24h: Some(35213.5),
                volume_24h: Some(7871.02139035),
                quote_volume_24h: Some(284061480.0),
                change: None,
                change_pct: Some(0.7229),
            })
        );
        let again = adapter.parse(documented, NOW).unwrap();
        assert_eq!((again.records.len(), again.duplicates), (1, 1), "the quote again, the ticker not newer");

        // Tickers alone: no quote; an option's ticker yields nothing here.
        adapter.subscriptions(&["BTC-PERPETUAL".to_string()], &[Channel::Tickers]);
        let later = documented.replace("1623060194301", "1623060194401");
        assert!(matches!(&adapter.parse(&later, NOW).unwrap().records[..], [Record::Ticker(_)]));
        assert!(adapter.parse(&ticker("BTC-27DEC24-100000-C", ("0.05", "5"), ("0.051", "3"), "1623060194501"), NOW).unwrap().records.is_empty());
        // No trade yet: no ticker. A bad last price refuses the message.
        let untraded = later.replace(r#""last_price":36457.5"#, r#""last_price":null"#).replace("1623060194401", "1623060194601");
        assert!(adapter.parse(&untraded, NOW).unwrap().records.is_empty());
        let bad = untraded.replace(r#""last_price":null"#, r#""last_price":"x""#);
        let rejection = adapter.parse(&bad, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.contains("`last_price`")), ("invalid_field", true));
    }

    #[test]
    fn instruments_are_instrument_names_with_their_asset_class() {
        let adapter = DeribitAdapter::new();
        for (name, asset_class) in [("BTC-PERPETUAL", "future"), ("BTC-27DEC24", "future"), ("BTC_USDC-PERPETUAL", "future"), ("BTC-27DEC24-100000-C", "option"), ("BTC_USDC", "crypto")] {
            assert_eq!(adapter.instrument(name), Some(Instrument::listed("deribit", name, name, Some(asset_class))), "{name}");
        }
    }

    #[test]
    fn tickers_become_quotes_when_both_sides_have_a_price() {
        let mut adapter = DeribitAdapter::new();
        let parsed = adapter.parse(&ticker("BTC-PERPETUAL", ("36000.5", "1200"), ("36001", "3400"), "1795348800123"), NOW).unwrap();
        let Record::Quote(quote) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
        assert_eq!(
            (quote.venue.as_str(), quote.symbol.as_str(), quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, quote.time),
            ("deribit", "BTC-PERPETUAL", 36000.5, 1200.0, 36001.0, 3400.0, Timestamp(1_795_348_800_123_000))
        );
        for (bid, ask) in [(("null", "0"), ("36001", "1")), (("0", "0"), ("36001", "1")), (("36000", "1"), ("null", "null"))] {
            let empty = adapter.parse(&ticker("BTC-PERPETUAL", bid, ask, "1795348800123"), NOW).unwrap();
            assert!(empty.records.is_empty(), "{bid:?} {ask:?}");
        }
    }

    #[test]
    fn garbage_bad_fields_and_unknown_messages() {
        let mut adapter = DeribitAdapter::new();
        assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, "invalid_json");
        assert_eq!(adapter.parse("[1,2]", NOW).unwrap_err().code, "invalid_json");
        assert_eq!(adapter.parse(r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{}}}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"jsonrpc":"2.0","method":"announcements","params":{}}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"other"}}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"hello":1}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw"}}"#, NOW).unwrap_err().code, "invalid_record");
        for (field, message) in [
            ("`price`", trades("BTC-PERPETUAL", &[(1, "buy", "\"abc\"", "1", "1")])),
            ("`amount`", trades("BTC-PERPETUAL", &[(1, "buy", "1", "null", "1")])),
            ("`timestamp`", trades("BTC-PERPETUAL", &[(1, "buy", "1", "1", "\"soon\"")])),
            ("`trade_seq`", trades("BTC-PERPETUAL", &[(1, "buy", "1", "1", "1")]).replace(r#""trade_seq":1"#, r#""trade_seq":-1"#)),
            ("`best_bid_price`", ticker("BTC-PERPETUAL", ("\"x\"", "1"), ("1", "1"), "1")),
            ("`best_ask_amount`", ticker("BTC-PERPETUAL", ("1", "1"), ("1", "\"x\""), "1")),
            ("`timestamp`", ticker("BTC-PERPETUAL", ("1", "1"), ("1", "1"), "1.5")),
        ] {
            let rejection = adapter.parse(&message, NOW).unwrap_err();
            assert_eq!((rejection.code, rejection.detail.contains(field)), ("invalid_field", true), "{}", rejection.detail);
        }
        assert!(adapter.trade_seqs.is_empty(), "rejections leave no state");
        let missing = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"instrument_name":"BTC-PERPETUAL","price":1}]}}"#;
        assert_eq!(adapter.parse(missing, NOW).unwrap_err().code, "invalid_record");
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod options_tests;
