//! Binance messages → records. Trades and aggregate trades carry contiguous ids per
//! symbol: a skip is a `gap` feed event with the missing range, and ids at or below the
//! last one seen (re-sent after a resubscribe) are dropped. 24-hour tickers are kept
//! when newer than the last one of their symbol.

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::book::{BinanceBooks, FUTURES_DEPTHS, SPOT_DEPTHS};
use super::derivatives::BinanceDerivatives;
use super::instruments::{BinanceInstruments, FUTURES_PATH, SPOT_PATH};
use super::wire::{AggTrade, BookTicker, Kline, Response, Ticker24h, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Quote, Record, RejectReason, Rejection, Side, Tick, Ticker, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::book::BookSettings;
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, PollSettings, RestSpec, Sequences, Subscription, VenueAdapter};
use crate::source::symbols::split_quote_asset;
use crate::source::values::{decimal as number, millis};

/// Streams per SUBSCRIBE request; Binance allows 1024 streams per connection.
const STREAMS_PER_REQUEST: usize = 200;

pub struct BinanceAdapter {
    futures: bool,
    next_request_id: u64,
    trade_ids: Sequences,
    aggregate_ids: Sequences,
    /// Event time of the last 24-hour ticker per symbol.
    ticker_times: Sequences,
    /// The `book` channel's books.
    books: BinanceBooks,
    /// USDⓈ-M mark price, funding, liquidations and open interest.
    derivatives: BinanceDerivatives,
    /// The `instruments` channel.
    instruments: BinanceInstruments,
}

impl BinanceAdapter {
    pub fn spot() -> Self {
        Self::new(false)
    }

    pub fn futures() -> Self {
        Self::new(true)
    }

    fn new(futures: bool) -> Self {
        BinanceAdapter {
            futures,
            next_request_id: 1,
            trade_ids: Sequences::new("trade"),
            aggregate_ids: Sequences::new("aggTrade"),
            ticker_times: Sequences::duplicates_only("ticker"),
            books: BinanceBooks::new(futures, &BookSettings::default()),
            derivatives: BinanceDerivatives::new(venue(futures)),
            instruments: BinanceInstruments::new(futures, venue(futures)),
        }
    }
}

fn venue(futures: bool) -> &'static str {
    if futures {
        "binance_futures"
    } else {
        "binance"
    }
}

/// Just enough of any message to route it.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    e: Option<&'a str>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    u: Option<u64>,
}

impl BinanceAdapter {
    fn trade(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trade: Trade = serde_json::from_str(payload).map_err(|error| invalid("trade", error))?;
        let tick = Tick {
            time: millis("T", trade.trade_time_ms)?,
            received_at,
            venue: ShortText::new(self.venue()),
            symbol: split_quote_asset(trade.symbol).into(),
            price: number("p", trade.price)?,
            size: number("q", trade.quantity)?,
            side: if trade.buyer_is_maker { Side::Sell } else { Side::Buy },
            trade_id: Some(trade.trade_id.to_compact_string()),
        };
        if self.trade_ids.admit(trade.symbol, trade.trade_id, parsed) {
            parsed.records.push(Record::Tick(tick));
        }
        Ok(())
    }

    fn agg_trade(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trade: AggTrade = serde_json::from_str(payload).map_err(|error| invalid("aggTrade", error))?;
        let tick = Tick {
            time: millis("T", trade.trade_time_ms)?,
            received_at,
            venue: ShortText::new(self.venue()),
            symbol: split_quote_asset(trade.symbol).into(),
            price: number("p", trade.price)?,
            size: number("q", trade.quantity)?,
            side: if trade.buyer_is_maker { Side::Sell } else { Side::Buy },
            trade_id: Some(format!("a{}", trade.aggregate_id).into()),
        };
        if self.aggregate_ids.admit(trade.symbol, trade.aggregate_id, parsed) {
            parsed.records.push(Record::Tick(tick));
        }
        Ok(())
    }

    fn book_ticker(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let book: BookTicker = serde_json::from_str(payload).map_err(|error| invalid("bookTicker", error))?;
        let time = match book.transaction_time_ms {
            Some(ms) => millis("T", ms)?,
            None => received_at,
        };
        parsed.records.push(Record::Quote(Quote {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: split_quote_asset(book.symbol),
            bid_price: number("b", book.bid_price)?,
            bid_size: number("B", book.bid_quantity)?,
            ask_price: number("a", book.ask_price)?,
            ask_size: number("A", book.ask_quantity)?,
        }));
        Ok(())
    }

    /// `24hrTicker`: every field is the venue's own, `P` already in percent.
    fn ticker(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let ticker: Ticker24h = serde_json::from_str(payload).map_err(|error| invalid("24hrTicker", error))?;
        let record = Ticker {
            time: millis("E", ticker.event_time_ms)?,
            received_at,
            venue: self.venue().to_string(),
            symbol: split_quote_asset(ticker.symbol),
            last: number("c", ticker.last_price)?,
            open_24h: Some(number("o", ticker.open_price)?),
            high_24h: Some(number("h", ticker.high_price)?),
            low_24h: Some(number("l", ticker.low_price)?),
            volume_24h: Some(number("v", ticker.volume)?),
            quote_volume_24h: Some(number("q", ticker.quote_volume)?),
            change: Some(number("p", ticker.price_change)?),
            change_pct: Some(number("P", ticker.price_change_percent)?),
        };
        if self.ticker_times.admit_time(ticker.symbol, record.time, parsed) {
            parsed.records.push(Record::Ticker(record));
        }
        Ok(())
    }

    fn kline(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let kline: Kline = serde_json::from_str(payload).map_err(|error| invalid("kline", error))?;
        let bar = &kline.bar;
        if !bar.closed {
            return Ok(());
        }
        let volume = number("v", bar.volume)?;
        let quote_volume = number("q", bar.quote_volume)?;
        parsed.records.push(Record::Bar(Bar {
            time: millis("t", bar.open_time_ms)?,
            received_at,
            venue: self.venue().to_string(),
            symbol: split_quote_asset(kline.symbol),
            interval: bar.interval.to_string(),
            open: number("o", bar.open)?,
            high: number("h", bar.high)?,
            low: number("l", bar.low)?,
            close: number("c", bar.close)?,
            volume,
            vwap: (volume > 0.0).then(|| quote_volume / volume),
            trades: Some(bar.trades),
        }));
        Ok(())
    }
}

/// The channels of spot (`@trade`, `@aggTrade`, `@bookTicker`, `@kline_1m`, `@ticker`,
/// `@depth@100ms` with the REST depth snapshot; `instruments` from REST exchange information).
pub const CHANNELS: &[Channel] =
    &[Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars, Channel::Tickers, Channel::Book, Channel::Instruments];
/// USDⓈ-M futures add `@markPrice@1s` (mark price, funding), `@forceOrder` and the open
/// interest poll.
pub const FUTURES_CHANNELS: &[Channel] = &[
    Channel::Trades,
    Channel::AggTrades,
    Channel::Quotes,
    Channel::Bars,
    Channel::Tickers,
    Channel::Book,
    Channel::Instruments,
    Channel::MarkPrice,
    Channel::Funding,
    Channel::Liquidations,
    Channel::OpenInterest,
];

impl VenueAdapter for BinanceAdapter {
    fn channels(&self) -> &'static [Channel] {
        if self.futures {
            FUTURES_CHANNELS
        } else {
            CHANNELS
        }
    }

    fn venue(&self) -> &'static str {
        venue(self.futures)
    }

    /// The REST polls run while a connection is open, and a connection that receives no
    /// message is closed as silent: they need a stream beside them.
    fn channels_conflict(&self, channels: &[Channel]) -> Option<String> {
        let polled_only =
            !channels.is_empty() && channels.iter().all(|channel| matches!(channel, Channel::OpenInterest | Channel::Instruments));
        polled_only.then(|| {
            "`open_interest` and `instruments` are polled over REST while the websocket is connected, and a connection that receives \
             no message is closed after `silence_timeout_ms`: add a stream channel beside them (`mark_price`, `trades`, …)"
                .to_string()
        })
    }

    fn default_url(&self) -> String {
        if self.futures {
            "wss://fstream.binance.com/ws".into()
        } else {
            "wss://stream.binance.com:9443/ws".into()
        }
    }

    fn book_depths(&self) -> &'static [u32] {
        if self.futures {
            FUTURES_DEPTHS
        } else {
            SPOT_DEPTHS
        }
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.books = BinanceBooks::new(self.futures, &settings);
    }

    fn rest(&self) -> Option<RestSpec> {
        Some(self.books.rest())
    }

    fn set_polls(&mut self, settings: PollSettings) {
        self.derivatives.set_poll_interval(settings.open_interest);
        self.instruments.set_poll_interval(settings.instruments);
    }

    fn initial_fetches(&mut self) -> Vec<Fetch> {
        let mut fetches = self.instruments.initial_fetches();
        fetches.extend(self.derivatives.initial_fetches());
        fetches
    }

    fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let mut parsed = Parsed::default();
        if BinanceDerivatives::asked_for(&fetch.path) {
            self.derivatives.fetched(fetch, outcome, received_at, &mut parsed);
        } else if fetch.path.starts_with(FUTURES_PATH) || fetch.path.starts_with(SPOT_PATH) {
            self.instruments.fetched(fetch, outcome, received_at, &mut parsed);
        } else {
            self.books.fetched(fetch, outcome, received_at, &mut parsed)?;
        }
        Ok(parsed)
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        self.books.reset(Timestamp::now());
        let futures = self.futures;
        let has = |channel: Channel| futures && channels.contains(&channel);
        let (mark_price, funding, liquidations) = (has(Channel::MarkPrice), has(Channel::Funding), has(Channel::Liquidations));
        self.derivatives.configure(mark_price, funding, liquidations, symbols, has(Channel::OpenInterest));
        self.instruments.configure(if channels.contains(&Channel::Instruments) { symbols } else { &[] });
        let mut streams = Vec::new();
        for symbol in symbols {
            let lower = symbol.to_ascii_lowercase();
            // One stream serves both `mark_price` and `funding`.
            if mark_price || funding {
                streams.push(format!("{lower}@markPrice@1s"));
            }
            for channel in channels {
                streams.push(match channel {
                    Channel::Trades => format!("{lower}@trade"),
                    Channel::AggTrades => format!("{lower}@aggTrade"),
                    Channel::Quotes => format!("{lower}@bookTicker"),
                    Channel::Bars => format!("{lower}@kline_1m"),
                    // No options on Binance spot or USDⓈ-M futures (check-config refuses them).
                    Channel::Options => continue,
                    Channel::Book => format!("{lower}@depth@100ms"),
                    Channel::Tickers => format!("{lower}@ticker"),
                    Channel::Liquidations if self.futures => format!("{lower}@forceOrder"),
                    // Above; REST polls; or not on spot (check-config refuses them there).
                    Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations | Channel::Instruments => {
                        continue
                    }
                });
            }
        }
        streams
            .chunks(STREAMS_PER_REQUEST)
            .map(|chunk| {
                let id = self.next_request_id;
                self.next_request_id += 1;
                Subscription { id, message: json!({ "method": "SUBSCRIBE", "params": chunk, "id": id }).to_string() }
            })
            .collect()
    }

    /// `btcusdt` or `BTCUSDT` → `BTC-USDT`; Binance writes symbols in capitals. USDⓈ-M
    /// futures contracts are `future`, spot pairs `crypto`.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        let venue_symbol = venue_symbol.to_ascii_uppercase();
        let asset_class = if self.futures { "future" } else { "crypto" };
        Some(Instrument::listed(self.venue(), &split_quote_asset(&venue_symbol), &venue_symbol, Some(asset_class)))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let probe: Probe = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Binance message: {error}")))?;
        let mut parsed = Parsed::default();
        // Combined streams wrap the payload: {"stream": "...", "data": {...}}.
        let (payload, probe) = match probe.data {
            Some(data) => {
                let inner: Probe = serde_json::from_str(data.get())
                    .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("combined stream data: {error}")))?;
                (data.get(), inner)
            }
            None => (text, probe),
        };
        match probe.e {
            Some("trade") => self.trade(payload, received_at, &mut parsed)?,
            Some("aggTrade") => self.agg_trade(payload, received_at, &mut parsed)?,
            Some("kline") => self.kline(payload, received_at, &mut parsed)?,
            Some("bookTicker") => self.book_ticker(payload, received_at, &mut parsed)?,
            Some("24hrTicker") => self.ticker(payload, received_at, &mut parsed)?,
            Some("depthUpdate") => self.books.event(payload, received_at, &mut parsed)?,
            Some("markPriceUpdate") if self.futures => self.derivatives.mark_price(payload, received_at, &mut parsed)?,
            Some("forceOrder") if self.futures => self.derivatives.force_order(payload, received_at, &mut parsed)?,
            None if probe.u.is_some() => self.book_ticker(payload, received_at, &mut parsed)?,
            None if probe.id.is_some() => {
                let response: Response = serde_json::from_str(payload).map_err(|error| invalid("response", error))?;
                match (response.id, response.error) {
                    (Some(id), None) => parsed.acknowledged.push(id),
                    (_, Some(error)) => {
                        return Err(Rejection::new(
                            RejectReason::SubscriptionRefused,
                            format!("Binance refused request {:?}: {} {}", response.id, error.code, error.msg),
                        ))
                    }
                    (None, None) => {}
                }
            }
            Some(other) => {
                return Err(Rejection::new(RejectReason::UnknownType, format!("Binance event `{other}` is not handled")));
            }
            None => return Err(Rejection::new(RejectReason::UnknownType, "a Binance message with no event type")),
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    #[test]
    fn trades_in_both_forms_with_gaps_and_duplicates() {
        let mut adapter = BinanceAdapter::spot();
        let raw = r#"{"e":"trade","E":1795348800001,"s":"BTCUSDT","t":100,"p":"97000.50","q":"0.010","T":1795348800000,"m":true,"M":true}"#;
        let parsed = adapter.parse(raw, NOW).unwrap();
        let Record::Tick(tick) = &parsed.records[0] else { panic!() };
        assert_eq!((tick.symbol.as_str(), tick.price, tick.size, tick.side), ("BTC-USDT", 97000.5, 0.01, Side::Sell));
        assert_eq!(tick.time, Timestamp(1_795_348_800_000_000));
        let combined = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":103,"p":"1","q":"1","T":1795348800005,"m":false,"M":true}}"#;
        let parsed = adapter.parse(combined, NOW).unwrap();
        assert_eq!(parsed.records.len(), 1);
        assert_eq!(parsed.events[0].0, "gap");
        assert_eq!(parsed.events[0].1["missing_from"], 101);
        assert_eq!(parsed.events[0].1["missing_to"], 102);
        let again = adapter.parse(combined, NOW).unwrap();
        assert_eq!((again.records.len(), again.duplicates), (0, 1));
    }

    #[test]
    fn acks_errors_and_garbage() {
        let mut adapter = BinanceAdapter::spot();
        let subscriptions = adapter.subscriptions(&["BTCUSDT".into()], &[Channel::Trades, Channel::Quotes]);
        assert_eq!(subscriptions[0].message, r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker"]}"#);
        assert_eq!(adapter.parse(r#"{"result":null,"id":1}"#, NOW).unwrap().acknowledged, vec![1]);
        assert_eq!(
            adapter.parse(r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#, NOW).unwrap_err().code,
            RejectReason::SubscriptionRefused
        );
        assert_eq!(adapter.parse("not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
        let bad_price = r#"{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"abc","q":"1","T":1,"m":true}"#;
        assert_eq!(adapter.parse(bad_price, NOW).unwrap_err().code, RejectReason::InvalidField);
    }

    #[test]
    fn the_documented_24hr_ticker_in_both_forms() {
        let mut adapter = BinanceAdapter::spot();
        let subscriptions = adapter.subscriptions(&["BNBBTC".into()], &[Channel::Tickers]);
        assert_eq!(subscriptions[0].message, r#"{"id":1,"method":"SUBSCRIBE","params":["bnbbtc@ticker"]}"#);
        let documented = r#"{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}"#;
        let parsed = adapter.parse(documented, NOW).unwrap();
        assert_eq!(
            parsed.records,
            vec![Record::Ticker(Ticker {
                time: Timestamp(1_672_515_782_136_000),
                received_at: NOW,
                venue: "binance".into(),
                symbol: "BNB-BTC".into(),
                last: 0.0025,
                open_24h: Some(0.001),
                high_24h: Some(0.0025),
                low_24h: Some(0.001),
                volume_24h: Some(10000.0),
                quote_volume_24h: Some(18.0),
                change: Some(0.0015),
                change_pct: Some(250.0),
            })]
        );
        // The same ticker again (combined form) is not newer: dropped; a later one is kept.
        let combined = format!(r#"{{"stream":"bnbbtc@ticker","data":{documented}}}"#);
        let again = adapter.parse(&combined, NOW).unwrap();
        assert_eq!((again.records.len(), again.duplicates), (0, 1));
        let later = combined.replace("1672515782136", "1672515783136");
        let Record::Ticker(ticker) = &adapter.parse(&later, NOW).unwrap().records[0] else { panic!() };
        assert_eq!(ticker.time, Timestamp(1_672_515_783_136_000));
        let futures = r#"{"e":"24hrTicker","E":123456789,"s":"BTCUSDT","p":"0.0015","P":"250.00","w":"0.0018","c":"0.0025","Q":"10","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}"#;
        let Record::Ticker(ticker) = &BinanceAdapter::futures().parse(futures, NOW).unwrap().records[0] else { panic!() };
        assert_eq!(
            (ticker.venue.as_str(), ticker.symbol.as_str(), ticker.time),
            ("binance_futures", "BTC-USDT", Timestamp(123_456_789_000))
        );
        let bad = documented.replace(r#""P":"250.00""#, r#""P":"x""#);
        let rejection = BinanceAdapter::spot().parse(&bad, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.contains("`P`")), (RejectReason::InvalidField, true));
    }

    #[test]
    fn instruments_pair_our_symbol_with_binances() {
        let listed = BinanceAdapter::spot().instrument("btcusdt").unwrap();
        assert_eq!(listed, Instrument::listed("binance", "BTC-USDT", "BTCUSDT", Some("crypto")));
        let listed = BinanceAdapter::futures().instrument("ETHUSDT").unwrap();
        assert_eq!(listed, Instrument::listed("binance_futures", "ETH-USDT", "ETHUSDT", Some("future")));
    }

    #[test]
    fn only_closed_klines_become_bars() {
        let mut adapter = BinanceAdapter::spot();
        let open = r#"{"e":"kline","E":1,"s":"ETHUSDT","k":{"t":1795348800000,"T":1795348859999,"s":"ETHUSDT","i":"1m","f":1,"L":2,"o":"10","c":"11","h":"12","l":"9","v":"2","n":3,"x":false,"q":"21","V":"1","Q":"1","B":"0"}}"#;
        assert!(adapter.parse(open, NOW).unwrap().records.is_empty());
        let closed = open.replace("\"x\":false", "\"x\":true");
        let parsed = adapter.parse(&closed, NOW).unwrap();
        let Record::Bar(bar) = &parsed.records[0] else { panic!() };
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades),
            (10.0, 12.0, 9.0, 11.0, 2.0, Some(10.5), Some(3))
        );
        assert_eq!(bar.symbol, "ETH-USDT");
    }
}
