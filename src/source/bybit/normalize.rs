//! Bybit messages → records. Trades become ticks (trade ids are opaque strings, so no gap
//! check is possible); the level-1 order book is kept per symbol (best bid and ask, and
//! the last update id `u`) so that a delta touching one side still yields a full quote;
//! confirmed klines become bars. Deltas must carry `u` = last + 1: a skip is a `gap`
//! feed event with the missing range, and a `u` at or below the last one (re-sent after
//! a resubscribe) is dropped as a duplicate. Spot `tickers` snapshots become 24-hour
//! tickers, dropped when not newer than the last one of their symbol.

use std::collections::HashMap;

use serde_json::json;

use super::wire::{Envelope, Kline, OrderBook, SpotTicker, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Quote, Record, Rejection, Side, Tick, Ticker, Timestamp};
use crate::source::feed::fields::{decimal as number, invalid_record as invalid, millis};
use crate::source::feed::{Parsed, Sequences, Subscription, VenueAdapter};
use crate::source::symbols::split_quote_asset;

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
    next_request_id: u64,
    /// Keyed by the venue's symbol; bounded by the subscribed symbols.
    books: HashMap<String, Book>,
    /// Time of the last 24-hour ticker per venue symbol.
    ticker_times: Sequences,
}

impl BybitAdapter {
    pub fn spot() -> Self {
        BybitAdapter { next_request_id: 1, books: HashMap::new(), ticker_times: Sequences::duplicates_only("tickers") }
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
            _ => return Err(Rejection::new("invalid_field", format!("`interval`: unknown kline interval \"{venue_interval}\""))),
        },
    };
    Ok(interval)
}

/// Parses `[price, size]` pairs before anything is changed, so a bad number leaves the
/// book as it was.
fn levels(field: &str, pairs: &[[&str; 2]]) -> Result<Vec<Level>, Rejection> {
    pairs
        .iter()
        .map(|[price, size]| Ok(Level { price: number(field, price)?, size: number(field, size)? }))
        .collect()
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
        let data = envelope.data.ok_or_else(|| Rejection::new("invalid_record", "publicTrade: no `data`"))?;
        let trades: Vec<Trade> = serde_json::from_str(data.get()).map_err(|error| invalid("publicTrade", error))?;
        parsed.records.reserve(trades.len());
        for trade in &trades {
            parsed.records.push(Record::Tick(Tick {
                time: millis("T", trade.trade_time_ms)?,
                received_at,
                venue: self.venue().to_string(),
                symbol: split_quote_asset(&trade.symbol),
                price: number("p", &trade.price)?,
                size: number("v", &trade.size)?,
                side: match &*trade.taker_side {
                    "Buy" => Side::Buy,
                    "Sell" => Side::Sell,
                    _ => Side::Unknown,
                },
                trade_id: Some(trade.trade_id.to_string()),
            }));
        }
        Ok(())
    }

    fn order_book(&mut self, envelope: &Envelope, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new("invalid_record", "orderbook: no `data`"))?;
        let update: OrderBook = serde_json::from_str(data.get()).map_err(|error| invalid("orderbook", error))?;
        let snapshot = match envelope.kind {
            Some("snapshot") => true,
            Some("delta") => false,
            other => {
                return Err(Rejection::new("invalid_field", format!("`type`: expected snapshot or delta, got {other:?}")));
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
                symbol: split_quote_asset(&update.symbol),
                bid_price: bid.price,
                bid_size: bid.size,
                ask_price: ask.price,
                ask_size: ask.size,
            }));
        }
        Ok(())
    }

    fn klines(&mut self, envelope: &Envelope, symbol: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let data = envelope.data.ok_or_else(|| Rejection::new("invalid_record", "kline: no `data`"))?;
        let klines: Vec<Kline> = serde_json::from_str(data.get()).map_err(|error| invalid("kline", error))?;
        for kline in klines.iter().filter(|kline| kline.confirm) {
            let volume = number("volume", &kline.volume)?;
            let turnover = number("turnover", &kline.turnover)?;
            parsed.records.push(Record::Bar(Bar {
                time: millis("start", kline.start)?,
                received_at,
                venue: self.venue().to_string(),
                symbol: split_quote_asset(symbol),
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
        let data = envelope.data.ok_or_else(|| Rejection::new("invalid_record", "tickers: no `data`"))?;
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
            symbol: split_quote_asset(&ticker.symbol),
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
            "subscribe" => {
                let req_id = envelope.req_id.as_deref().unwrap_or("");
                if envelope.success != Some(true) {
                    return Err(Rejection::new(
                        "subscription_refused",
                        format!("Bybit refused request \"{req_id}\": {}", envelope.ret_msg.as_deref().unwrap_or("(no ret_msg)")),
                    ));
                }
                let id = req_id.parse::<u64>().map_err(|_| {
                    Rejection::new("invalid_field", format!("`req_id`: expected one of our numeric request ids, got \"{req_id}\""))
                })?;
                parsed.acknowledged.push(id);
                Ok(())
            }
            // The answer to the application heartbeat {"op":"ping"}: nothing to record.
            "ping" | "pong" => Ok(()),
            other => Err(Rejection::new("unknown_type", format!("Bybit operation `{other}` is not handled"))),
        }
    }
}

impl VenueAdapter for BybitAdapter {
    fn venue(&self) -> &'static str {
        "bybit"
    }

    fn default_url(&self) -> String {
        "wss://stream.bybit.com/v5/public/spot".into()
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        let mut topics = Vec::new();
        for symbol in symbols {
            let upper = symbol.to_ascii_uppercase();
            for channel in channels {
                match channel {
                    Channel::Trades => topics.push(format!("publicTrade.{upper}")),
                    Channel::Quotes => topics.push(format!("{BOOK_STREAM}.{upper}")),
                    Channel::Bars => topics.push(format!("kline.1.{upper}")),
                    Channel::Tickers => topics.push(format!("tickers.{upper}")),
                    // Bybit publishes no aggregated trade stream.
                    Channel::AggTrades => {}
                    // Options are not on the spot feed (check-config refuses them).
                    Channel::Options => {}
                }
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

    /// `btcusdt` or `BTCUSDT` → `BTC-USDT`; Bybit writes symbols in capitals.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        let venue_symbol = venue_symbol.to_ascii_uppercase();
        Some(Instrument::listed(self.venue(), &split_quote_asset(&venue_symbol), &venue_symbol, Some("crypto")))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new("invalid_json", format!("not a Bybit message: {error}")))?;
        let mut parsed = Parsed::default();
        match (envelope.topic, envelope.op) {
            (Some(topic), _) => {
                if topic.starts_with("publicTrade.") {
                    self.trades(&envelope, received_at, &mut parsed)?;
                } else if topic.strip_prefix(BOOK_STREAM).is_some_and(|rest| rest.starts_with('.')) {
                    self.order_book(&envelope, received_at, &mut parsed)?;
                } else if topic.starts_with("tickers.") {
                    self.ticker(&envelope, received_at, &mut parsed)?;
                } else if let Some(symbol) = topic.strip_prefix("kline.").and_then(|rest| rest.split_once('.')).map(|(_, symbol)| symbol) {
                    self.klines(&envelope, symbol, received_at, &mut parsed)?;
                } else {
                    return Err(Rejection::new("unknown_type", format!("Bybit topic `{topic}` is not handled")));
                }
            }
            (None, Some(op)) => self.operation(op, &envelope, &mut parsed)?,
            (None, None) => return Err(Rejection::new("unknown_type", "a Bybit message with neither `topic` nor `op`")),
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn book(kind: &str, u: u64, bids: &str, asks: &str, cts: i64) -> String {
        format!(
            r#"{{"topic":"orderbook.1.ETHUSDT","type":"{kind}","ts":{ts},"data":{{"s":"ETHUSDT","b":{bids},"a":{asks},"u":{u},"seq":{seq}}},"cts":{cts}}}"#,
            ts = cts + 2,
            seq = 7_000_000 + u
        )
    }

    fn quote(parsed: &Parsed) -> (f64, f64, f64, f64) {
        let Record::Quote(quote) = &parsed.records[0] else { panic!("expected a quote, got {:?}", parsed.records) };
        (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size)
    }

    #[test]
    fn subscriptions_are_batched_by_ten_with_numeric_request_ids() {
        let mut adapter = BybitAdapter::spot();
        let symbols: Vec<String> = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "xrpusdt"].iter().map(|symbol| symbol.to_string()).collect();
        let all = [Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars];
        let subscriptions = adapter.subscriptions(&symbols, &all);
        assert_eq!(subscriptions.iter().map(|subscription| subscription.id).collect::<Vec<_>>(), vec![1, 2]);
        let first: serde_json::Value = serde_json::from_str(&subscriptions[0].message).unwrap();
        assert_eq!((first["op"].as_str(), first["req_id"].as_str()), (Some("subscribe"), Some("1")));
        assert_eq!(first["args"].as_array().unwrap().len(), 10);
        assert_eq!(first["args"].as_array().unwrap()[0..3], [json!("publicTrade.BTCUSDT"), json!("orderbook.1.BTCUSDT"), json!("kline.1.BTCUSDT")]);
        let second: serde_json::Value = serde_json::from_str(&subscriptions[1].message).unwrap();
        assert_eq!(second["args"], json!(["orderbook.1.XRPUSDT", "kline.1.XRPUSDT"]));
        // Ids keep counting on a resubscribe, so a late ack of the old connection is not mistaken.
        assert_eq!(adapter.subscriptions(&symbols[..1], &[Channel::Trades])[0].id, 3);
        assert!(adapter.subscriptions(&symbols, &[Channel::AggTrades]).is_empty(), "Bybit has no aggregated trades");
    }

    #[test]
    fn trades_carry_the_taker_side() {
        let mut adapter = BybitAdapter::spot();
        let message = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false},{"T":1672304486866,"s":"BTCUSDT","S":"Sell","v":"0.25","p":"16578.00","L":"MinusTick","i":"2100000000050000001","BT":false}]}"#;
        let parsed = adapter.parse(message, NOW).unwrap();
        let ticks: Vec<&Tick> = parsed.records.iter().map(|record| match record { Record::Tick(tick) => tick, other => panic!("{other:?}") }).collect();
        assert_eq!(ticks.len(), 2);
        assert_eq!(
            (ticks[0].venue.as_str(), ticks[0].symbol.as_str(), ticks[0].price, ticks[0].size, ticks[0].side),
            ("bybit", "BTC-USDT", 16578.5, 0.001, Side::Buy)
        );
        assert_eq!(ticks[0].time, Timestamp(1_672_304_486_865_000));
        assert_eq!(ticks[0].trade_id.as_deref(), Some("20f43950-d8dd-5b31-9112-a178eb6023af"));
        assert_eq!((ticks[1].side, ticks[1].trade_id.as_deref()), (Side::Sell, Some("2100000000050000001")));
        assert!(parsed.events.is_empty() && parsed.duplicates == 0);
    }

    #[test]
    fn order_book_snapshot_and_deltas_merge_into_full_quotes() {
        let mut adapter = BybitAdapter::spot();
        let parsed = adapter.parse(&book("snapshot", 100, r#"[["3300.10","1.5"]]"#, r#"[["3300.20","2.5"]]"#, 1_795_348_800_000), NOW).unwrap();
        assert_eq!(quote(&parsed), (3300.1, 1.5, 3300.2, 2.5));
        let Record::Quote(first) = &parsed.records[0] else { panic!() };
        assert_eq!((first.symbol.as_str(), first.time), ("ETH-USDT", Timestamp(1_795_348_800_000_000)));
        // A delta touching only the bid keeps the ask.
        let parsed = adapter.parse(&book("delta", 101, r#"[["3300.15","0.8"]]"#, "[]", 1_795_348_800_010), NOW).unwrap();
        assert_eq!(quote(&parsed), (3300.15, 0.8, 3300.2, 2.5));
        // The best ask leaves (size 0) and a new one arrives in the same delta.
        let parsed =
            adapter.parse(&book("delta", 102, "[]", r#"[["3300.20","0"],["3300.30","1.0"]]"#, 1_795_348_800_020), NOW).unwrap();
        assert_eq!(quote(&parsed), (3300.15, 0.8, 3300.3, 1.0));
        // The bid leaves with nothing in its place: no full quote until one arrives.
        let parsed = adapter.parse(&book("delta", 103, r#"[["3300.15","0"]]"#, "[]", 1_795_348_800_030), NOW).unwrap();
        assert!(parsed.records.is_empty());
        // A removal of a level we do not hold changes nothing.
        let parsed = adapter.parse(&book("delta", 104, r#"[["3299.00","0"],["3300.05","3"]]"#, "[]", 1_795_348_800_040), NOW).unwrap();
        assert_eq!(quote(&parsed), (3300.05, 3.0, 3300.3, 1.0));
        // A delta before any snapshot still counts once both sides are known.
        let mut fresh = BybitAdapter::spot();
        assert!(fresh.parse(&book("delta", 7, r#"[["1","1"]]"#, "[]", 1_795_348_800_000), NOW).unwrap().records.is_empty());
        assert_eq!(quote(&fresh.parse(&book("delta", 8, "[]", r#"[["2","1"]]"#, 1_795_348_800_000), NOW).unwrap()), (1.0, 1.0, 2.0, 1.0));
    }

    #[test]
    fn update_id_gaps_and_duplicates() {
        let mut adapter = BybitAdapter::spot();
        adapter.parse(&book("snapshot", 100, r#"[["10","1"]]"#, r#"[["11","1"]]"#, 1_795_348_800_000), NOW).unwrap();
        let parsed = adapter.parse(&book("delta", 104, r#"[["10.5","1"]]"#, "[]", 1_795_348_800_010), NOW).unwrap();
        assert_eq!(parsed.records.len(), 1, "the update after a gap is still applied");
        assert_eq!(
            parsed.events,
            vec![("gap", json!({ "symbol": "ETHUSDT", "stream": "orderbook.1", "missing_from": 101, "missing_to": 103 }))]
        );
        for u in [104, 99] {
            let again = adapter.parse(&book("delta", u, r#"[["1","1"]]"#, "[]", 1_795_348_800_020), NOW).unwrap();
            assert_eq!((again.records.len(), again.duplicates, again.events.len()), (0, 1, 0), "u = {u}");
        }
        let next = adapter.parse(&book("delta", 105, "[]", r#"[["10.9","2"]]"#, 1_795_348_800_030), NOW).unwrap();
        assert_eq!((quote(&next), next.events.len()), ((10.5, 1.0, 10.9, 2.0), 0), "the duplicate left the book alone");
        // An unchanged snapshot re-sent after a resubscribe is not a new quote ...
        let resent = adapter.parse(&book("snapshot", 105, r#"[["10.5","1"]]"#, r#"[["10.9","2"]]"#, 1_795_348_800_040), NOW).unwrap();
        assert_eq!((resent.records.len(), resent.duplicates), (0, 1));
        // ... and a snapshot (here the u = 1 of a venue restart) starts the series over.
        let restarted = adapter.parse(&book("snapshot", 1, r#"[["12","1"]]"#, r#"[["13","1"]]"#, 1_795_348_800_050), NOW).unwrap();
        assert_eq!((quote(&restarted), restarted.events.len(), restarted.duplicates), ((12.0, 1.0, 13.0, 1.0), 0, 0));
        assert_eq!(adapter.parse(&book("delta", 2, "[]", "[]", 1_795_348_800_060), NOW).unwrap().events.len(), 0);
        // Symbols have separate series.
        let other = book("delta", 500, r#"[["1","1"]]"#, "[]", 1_795_348_800_070).replace("ETHUSDT", "BTCUSDT");
        assert!(adapter.parse(&other, NOW).unwrap().events.is_empty());
    }

    #[test]
    fn only_confirmed_klines_become_bars() {
        let mut adapter = BybitAdapter::spot();
        let open = r#"{"topic":"kline.1.ETHUSDT","data":[{"start":1795348800000,"end":1795348859999,"interval":"1","open":"10","close":"11","high":"12","low":"9","volume":"2","turnover":"21","confirm":false,"timestamp":1795348830000}],"ts":1795348830000,"type":"snapshot"}"#;
        assert!(adapter.parse(open, NOW).unwrap().records.is_empty());
        let parsed = adapter.parse(&open.replace("\"confirm\":false", "\"confirm\":true"), NOW).unwrap();
        let Record::Bar(bar) = &parsed.records[0] else { panic!() };
        assert_eq!((bar.symbol.as_str(), bar.interval.as_str(), bar.time), ("ETH-USDT", "1m", Timestamp(1_795_348_800_000_000)));
        assert_eq!((bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades), (10.0, 12.0, 9.0, 11.0, 2.0, Some(10.5), None));
        let empty = open.replace("\"confirm\":false", "\"confirm\":true").replace("\"volume\":\"2\"", "\"volume\":\"0\"");
        let Record::Bar(bar) = &adapter.parse(&empty, NOW).unwrap().records[0] else { panic!() };
        assert_eq!(bar.vwap, None);
        for (venue, ours) in [("1", "1m"), ("15", "15m"), ("60", "1h"), ("720", "12h"), ("D", "1d"), ("W", "1w"), ("M", "1M")] {
            assert_eq!(bar_interval(venue).unwrap(), ours);
        }
        assert_eq!(bar_interval("0").unwrap_err().code, "invalid_field");
    }

    #[test]
    fn the_documented_spot_ticker_with_its_fraction_in_percent() {
        let mut adapter = BybitAdapter::spot();
        let subscriptions = adapter.subscriptions(&["btcusdt".to_string()], &[Channel::Tickers]);
        assert_eq!(subscriptions[0].message, r#"{"args":["tickers.BTCUSDT"],"op":"subscribe","req_id":"1"}"#);
        let documented = r#"{"topic":"tickers.BTCUSDT","ts":1673853746003,"type":"snapshot","cs":2588407389,"data":{"symbol":"BTCUSDT","lastPrice":"21109.77","highPrice24h":"21426.99","lowPrice24h":"20575","prevPrice24h":"20704.93","volume24h":"6780.866843","turnover24h":"141946527.22907118","price24hPcnt":"0.0196","usdIndexPrice":"21120.2400136"}}"#;
        let parsed = adapter.parse(documented, NOW).unwrap();
        assert_eq!(
            parsed.records,
            vec![Record::Ticker(Ticker {
                time: Timestamp(1_673_853_746_003_000),
                received_at: NOW,
                venue: "bybit".into(),
                symbol: "BTC-USDT".into(),
                last: 21109.77,
                open_24h: Some(20704.93),
                high_24h: Some(21426.99),
                low_24h: Some(20575.0),
                volume_24h: Some(6780.866843),
                quote_volume_24h: Some(141946527.22907118),
                change: Some(21109.77 - 20704.93),
                change_pct: Some(1.96),
            })]
        );
        let again = adapter.parse(documented, NOW).unwrap();
        assert_eq!((again.records.len(), again.duplicates), (0, 1), "a ticker not newer than the last is a duplicate");
        for (fraction, percent) in [("0.0196", 1.96), ("-0.017103", -1.7103), ("0", 0.0), ("2.5e-1", 25.0)] {
            assert_eq!(fraction_as_percent("price24hPcnt", fraction).unwrap(), percent, "{fraction}");
        }
        assert_eq!(fraction_as_percent("price24hPcnt", "x").unwrap_err().code, "invalid_field");
        let bad = documented.replace(r#""lastPrice":"21109.77""#, r#""lastPrice":"x""#).replace("1673853746003", "1673853747003");
        let rejection = adapter.parse(&bad, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.contains("`lastPrice`")), ("invalid_field", true));
        assert_eq!(adapter.instrument("ethusdt"), Some(Instrument::listed("bybit", "ETH-USDT", "ETHUSDT", Some("crypto"))));
    }

    #[test]
    fn acks_refusals_pongs_and_garbage() {
        let mut adapter = BybitAdapter::spot();
        let ack = r#"{"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"7","op":"subscribe"}"#;
        assert_eq!(adapter.parse(ack, NOW).unwrap().acknowledged, vec![7]);
        let refused = r#"{"success":false,"ret_msg":"error:handler not found,topic:orderbook.3.BTCUSDT","conn_id":"c","req_id":"8","op":"subscribe"}"#;
        let rejection = adapter.parse(refused, NOW).unwrap_err();
        assert_eq!(rejection.code, "subscription_refused");
        assert!(rejection.detail.contains("\"8\"") && rejection.detail.contains("handler not found"), "{}", rejection.detail);
        assert_eq!(adapter.parse(&ack.replace("\"7\"", "\"abc\""), NOW).unwrap_err().code, "invalid_field");
        assert_eq!(adapter.heartbeat().unwrap(), r#"{"op":"ping","req_id":"1"}"#);
        let pong = adapter.parse(r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#, NOW).unwrap();
        assert!(pong.records.is_empty() && pong.acknowledged.is_empty() && pong.events.is_empty());

        assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, "invalid_json");
        assert_eq!(adapter.parse("[1,2]", NOW).unwrap_err().code, "invalid_json");
        assert_eq!(adapter.parse(r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code, "invalid_record");
        assert_eq!(adapter.parse(r#"{"topic":"liquidation.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"op":"unsubscribe","success":true}"#, NOW).unwrap_err().code, "unknown_type");
        assert_eq!(adapter.parse(r#"{"hello":1}"#, NOW).unwrap_err().code, "unknown_type");
        let bad_price = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"abc","i":"x","BT":false}]}"#;
        let rejection = adapter.parse(bad_price, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.contains("`p`")), ("invalid_field", true));
        let bad_level = book("snapshot", 1, r#"[["1","x"]]"#, "[]", 1);
        assert_eq!(adapter.parse(&bad_level, NOW).unwrap_err().code, "invalid_field");
        assert!(!adapter.books.contains_key("ETHUSDT"), "a rejected update leaves no state behind");
        let missing = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT"}]}"#;
        assert_eq!(adapter.parse(missing, NOW).unwrap_err().code, "invalid_record");
    }
}
