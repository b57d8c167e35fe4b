//! Alpaca messages → records, element by element. Trades become ticks (side unknown),
//! dropping one whose (exchange, id) is among the last [`RECENT_TRADES`] of its symbol;
//! quotes become quotes; minute bars become `1m` bars. `success`/`subscription` control
//! messages acknowledge the auth and subscribe requests; `error` is a refusal.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::wire::{Auth, Bar as WireBar, Envelope, Error, Quote as WireQuote, Subscribe, Success, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Quote, Record, RejectReason, Rejection, Side, Tick, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::{Parsed, Subscription, VenueAdapter};
use crate::source::values::rfc3339 as time;

/// The environment variables the credentials are read from (Alpaca's own names, from
/// its market data authentication docs).
pub const KEY_VARIABLE: &str = "APCA_API_KEY_ID";
pub const SECRET_VARIABLE: &str = "APCA_API_SECRET_KEY";

/// Ids of the two requests sent on every connection.
const AUTH_ID: u64 = 1;
const SUBSCRIBE_ID: u64 = 2;

/// Trades remembered per symbol to drop re-sent ones. Ids are per reporting exchange
/// and not ordered across exchanges, so a window of recent ones is kept rather than a
/// last id; a few hundred covers what a reconnect may re-send.
pub const RECENT_TRADES: usize = 512;

/// The last [`RECENT_TRADES`] trades of one symbol, as (exchange code, trade id).
#[derive(Default)]
struct RecentTrades {
    order: VecDeque<(u32, u64)>,
    seen: HashSet<(u32, u64)>,
}

impl RecentTrades {
    /// False when the trade was already seen; otherwise remembers it.
    fn insert(&mut self, key: (u32, u64)) -> bool {
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT_TRADES {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        true
    }
}

/// An exchange code (one letter, e.g. `V` for IEX) packed into a number: its first four bytes.
fn exchange_key(code: &str) -> u32 {
    code.bytes().take(4).fold(0, |packed, byte| packed << 8 | u32::from(byte))
}

pub struct AlpacaAdapter {
    key: String,
    secret: String,
    /// Per symbol; bounded by the subscribed symbols times [`RECENT_TRADES`].
    recent_trades: HashMap<String, RecentTrades>,
}

/// Never shows the credentials.
impl std::fmt::Debug for AlpacaAdapter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AlpacaAdapter")
            .field("credentials", &if self.key.is_empty() { "(missing)" } else { "(set)" })
            .field("symbols_with_trades", &self.recent_trades.len())
            .finish()
    }
}

impl AlpacaAdapter {
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        AlpacaAdapter { key: key.into(), secret: secret.into(), recent_trades: HashMap::new() }
    }

    /// Credentials from `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`. A missing variable
    /// (which `check-config` reports) leaves that credential empty: Alpaca then refuses
    /// the auth request, which is dead-lettered as `subscription_refused`.
    pub fn from_env() -> Self {
        let read = |name: &str| std::env::var(name).unwrap_or_default();
        Self::new(read(KEY_VARIABLE), read(SECRET_VARIABLE))
    }
}

/// Deserializes one element; a failure names the field (`invalid_field`), or says the
/// element is not an object of the expected shape (`invalid_record`).
fn element<'a, T: Deserialize<'a>>(kind: &str, text: &'a str) -> Result<T, Rejection> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) => {
            // The slow path only for bad input: find where it failed.
            let mut deserializer = serde_json::Deserializer::from_str(text);
            match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
                Ok(value) => Ok(value),
                Err(error) => {
                    let path = error.path().to_string();
                    let inner = error.into_inner();
                    let message = inner.to_string();
                    if path != "." {
                        Err(Rejection::new(RejectReason::InvalidField, format!("{kind}: `{path}`: {message}")))
                    } else if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
                        Err(Rejection::new(RejectReason::InvalidField, format!("{kind}: `{field}` is missing")))
                    } else {
                        Err(Rejection::new(RejectReason::InvalidRecord, format!("{kind}: {message}")))
                    }
                }
            }
        }
    }
}

impl AlpacaAdapter {
    fn element(&mut self, text: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let envelope: Envelope = element("message", text)?;
        match envelope.message_type {
            "t" => {
                let trade: Trade = element("trade", text)?;
                let tick = Tick {
                    time: time("t", trade.t)?,
                    received_at,
                    venue: ShortText::new(self.venue()),
                    symbol: trade.symbol.to_compact_string(),
                    price: trade.p,
                    size: trade.s,
                    side: Side::Unknown,
                    trade_id: Some(trade.i.to_compact_string()),
                };
                let recent = match self.recent_trades.get_mut(trade.symbol) {
                    Some(recent) => recent,
                    None => self.recent_trades.entry(trade.symbol.to_string()).or_default(),
                };
                if recent.insert((exchange_key(trade.x), trade.i)) {
                    parsed.records.push(Record::Tick(tick));
                } else {
                    parsed.duplicates += 1;
                }
            }
            "q" => {
                let quote: WireQuote = element("quote", text)?;
                parsed.records.push(Record::Quote(Quote {
                    time: time("t", quote.t)?,
                    received_at,
                    venue: self.venue().to_string(),
                    symbol: quote.symbol.to_string(),
                    bid_price: quote.bp,
                    bid_size: quote.bs,
                    ask_price: quote.ap,
                    ask_size: quote.ask_size,
                }));
            }
            "b" => {
                let bar: WireBar = element("bar", text)?;
                parsed.records.push(Record::Bar(Bar {
                    time: time("t", bar.t)?,
                    received_at,
                    venue: self.venue().to_string(),
                    symbol: bar.symbol.to_string(),
                    interval: "1m".to_string(),
                    open: bar.o,
                    high: bar.h,
                    low: bar.l,
                    close: bar.c,
                    volume: bar.v,
                    vwap: bar.vw,
                    trades: bar.n,
                }));
            }
            "success" => {
                let success: Success = element("success", text)?;
                match success.msg.as_ref() {
                    "authenticated" => parsed.acknowledged.push(AUTH_ID),
                    "connected" => {}
                    other => {
                        return Err(Rejection::new(RejectReason::UnknownType, format!("Alpaca success message \"{other}\" is not handled")))
                    }
                }
            }
            "subscription" => parsed.acknowledged.push(SUBSCRIBE_ID),
            "error" => {
                let error: Error = element("error", text)?;
                let code = error.code.map_or("(no code)".to_string(), |code| code.to_string());
                return Err(Rejection::new(
                    RejectReason::SubscriptionRefused,
                    format!("{code} {}", error.msg.as_deref().unwrap_or("(no msg)")),
                ));
            }
            other => return Err(Rejection::new(RejectReason::UnknownType, format!("Alpaca message type `{other}` is not handled"))),
        }
        Ok(())
    }
}

/// The channels this venue offers (`trades`, `quotes`, `bars`: the stock stream carries no 24-hour statistics).
pub const CHANNELS: &[Channel] = &[Channel::Trades, Channel::Quotes, Channel::Bars];

impl VenueAdapter for AlpacaAdapter {
    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    fn credential_variables(&self) -> &'static [&'static str] {
        &[KEY_VARIABLE, SECRET_VARIABLE]
    }

    fn venue(&self) -> &'static str {
        "alpaca"
    }

    fn default_url(&self) -> String {
        "wss://stream.data.alpaca.markets/v2/iex".into()
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        let auth = Auth { action: "auth", key: &self.key, secret: &self.secret };
        let mut subscribe = Subscribe { action: "subscribe", trades: Vec::new(), quotes: Vec::new(), bars: Vec::new() };
        for channel in channels {
            let list = match channel {
                Channel::Trades => &mut subscribe.trades,
                Channel::Quotes => &mut subscribe.quotes,
                Channel::Bars => &mut subscribe.bars,
                // Alpaca has no aggregated trades and no 24-hour tickers on this stream.
                Channel::AggTrades | Channel::Tickers => continue,
                // Option chains are not on the stock feed (check-config refuses them).
                Channel::Options => continue,
                // No order book on this stream (check-config refuses it).
                Channel::Book => continue,
                // No derivatives or reference data on this stream (check-config refuses them).
                Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations | Channel::Instruments => continue,
            };
            for symbol in symbols {
                if !list.contains(&symbol.as_str()) {
                    list.push(symbol.as_str());
                }
            }
        }
        let mut requests = vec![Subscription { id: AUTH_ID, message: serde_json::to_string(&auth).expect("strings always serialize") }];
        if !(subscribe.trades.is_empty() && subscribe.quotes.is_empty() && subscribe.bars.is_empty()) {
            requests.push(Subscription { id: SUBSCRIBE_ID, message: serde_json::to_string(&subscribe).expect("strings always serialize") });
        }
        requests
    }

    /// Stock tickers (`AAPL`) are stored as they are.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        Some(Instrument::listed(self.venue(), venue_symbol, venue_symbol, Some("equity")))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let elements: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not an Alpaca message (a JSON array): {error}")))?;
        let mut parsed = Parsed::default();
        let mut rejected = Vec::new();
        for element in &elements {
            if let Err(rejection) = self.element(element.get(), received_at, &mut parsed) {
                rejected.push((rejection, element.get().to_string()));
            }
        }
        // A message with nothing good in it is dead-lettered whole; otherwise the good
        // elements are kept and each bad one is dead-lettered on its own.
        let kept_something = !parsed.records.is_empty() || !parsed.acknowledged.is_empty() || parsed.duplicates > 0;
        if !kept_something {
            if let Some((rejection, _)) = rejected.into_iter().next() {
                return Err(rejection);
            }
        } else {
            parsed.rejected = rejected;
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn trade(symbol: &str, id: u64, exchange: &str, price: &str, size: &str, t: &str) -> String {
        format!(r#"{{"T":"t","S":"{symbol}","i":{id},"x":"{exchange}","p":{price},"s":{size},"c":["@"],"z":"C","t":"{t}"}}"#)
    }

    #[test]
    fn auth_then_subscribe_each_acknowledged_by_its_answer() {
        let mut adapter = AlpacaAdapter::new("KEY-ID", "S3CRET");
        let symbols: Vec<String> = ["AAPL", "MSFT", "AAPL"].iter().map(|symbol| symbol.to_string()).collect();
        let requests = adapter.subscriptions(&symbols, &[Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars]);
        assert_eq!(
            requests,
            vec![
                Subscription { id: AUTH_ID, message: r#"{"action":"auth","key":"KEY-ID","secret":"S3CRET"}"#.into() },
                Subscription {
                    id: SUBSCRIBE_ID,
                    message: r#"{"action":"subscribe","trades":["AAPL","MSFT"],"quotes":["AAPL","MSFT"],"bars":["AAPL","MSFT"]}"#.into()
                },
            ]
        );
        assert_eq!(adapter.subscriptions(&symbols, &[Channel::AggTrades]).len(), 1, "nothing to subscribe: auth only");
        let connected = adapter.parse(r#"[{"T":"success","msg":"connected"}]"#, NOW).unwrap();
        assert!(connected.acknowledged.is_empty() && connected.records.is_empty());
        assert_eq!(adapter.parse(r#"[{"T":"success","msg":"authenticated"}]"#, NOW).unwrap().acknowledged, vec![AUTH_ID]);
        let subscription = r#"[{"T":"subscription","trades":["AAPL"],"quotes":["AAPL"],"bars":["AAPL"],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]"#;
        assert_eq!(adapter.parse(subscription, NOW).unwrap().acknowledged, vec![SUBSCRIBE_ID]);

        let refused = adapter.parse(r#"[{"T":"error","code":402,"msg":"auth failed"}]"#, NOW).unwrap_err();
        assert_eq!((refused.code, refused.detail.as_str()), (RejectReason::SubscriptionRefused, "402 auth failed"));
    }

    #[test]
    fn the_secret_is_in_no_debug_output() {
        let adapter = AlpacaAdapter::new("KEY-ID", "S3CRET");
        let debug = format!("{adapter:?}");
        assert!(!debug.contains("S3CRET") && !debug.contains("KEY-ID"), "{debug}");
    }

    #[test]
    fn trades_quotes_and_bars() {
        let mut adapter = AlpacaAdapter::new("k", "s");
        let message = format!(
            "[{},{}]",
            trade("AAPL", 52983525029461, "V", "187.31", "100", "2024-02-26T14:30:00.123456789Z"),
            r#"{"T":"q","S":"AAPL","bx":"V","bp":187.30,"bs":3,"ax":"V","ap":187.32,"as":2,"c":["R"],"z":"C","t":"2024-02-26T14:30:00.223456789Z"}"#
        );
        let parsed = adapter.parse(&message, NOW).unwrap();
        let Record::Tick(tick) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
        assert_eq!(
            (
                tick.venue.as_str(),
                tick.symbol.as_str(),
                tick.price,
                tick.size,
                tick.side,
                tick.trade_id.as_deref(),
                tick.time,
                tick.received_at
            ),
            ("alpaca", "AAPL", 187.31, 100.0, Side::Unknown, Some("52983525029461"), Timestamp(1_708_957_800_123_456), NOW)
        );
        let Record::Quote(quote) = &parsed.records[1] else { panic!("{:?}", parsed.records) };
        assert_eq!(
            (quote.symbol.as_str(), quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, quote.time),
            ("AAPL", 187.30, 3.0, 187.32, 2.0, Timestamp(1_708_957_800_223_456))
        );
        let bar =
            r#"[{"T":"b","S":"AAPL","o":187.1,"h":187.4,"l":187.0,"c":187.31,"v":12000,"t":"2024-02-26T14:30:00Z","n":95,"vw":187.25}]"#;
        let parsed = adapter.parse(bar, NOW).unwrap();
        let Record::Bar(bar) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
        assert_eq!(
            (bar.venue.as_str(), bar.symbol.as_str(), bar.interval.as_str(), bar.time),
            ("alpaca", "AAPL", "1m", Timestamp(1_708_957_800_000_000))
        );
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades),
            (187.1, 187.4, 187.0, 187.31, 12000.0, Some(187.25), Some(95))
        );
    }

    #[test]
    fn repeated_trades_are_dropped_and_ids_need_not_increase() {
        let mut adapter = AlpacaAdapter::new("k", "s");
        let t = "2024-02-26T14:30:00Z";
        let first = format!("[{},{}]", trade("AAPL", 100, "V", "1", "1", t), trade("AAPL", 7, "V", "1", "1", t));
        let parsed = adapter.parse(&first, NOW).unwrap();
        assert_eq!((parsed.ticks().len(), parsed.duplicates, parsed.events.len()), (2, 0, 0), "no gap, no order check");
        // The same id from another exchange, or for another symbol, is another trade.
        let other = format!(
            "[{},{},{}]",
            trade("AAPL", 100, "V", "1", "1", t),
            trade("AAPL", 100, "Q", "1", "1", t),
            trade("MSFT", 100, "V", "1", "1", t)
        );
        let parsed = adapter.parse(&other, NOW).unwrap();
        assert_eq!((parsed.records.len(), parsed.duplicates), (2, 1));
        // Bounded: only the last RECENT_TRADES per symbol are remembered.
        for id in 1_000..1_000 + RECENT_TRADES as u64 {
            adapter.parse(&format!("[{}]", trade("AAPL", id, "V", "1", "1", t)), NOW).unwrap();
        }
        assert_eq!(adapter.recent_trades["AAPL"].order.len(), RECENT_TRADES);
        assert_eq!(adapter.recent_trades["AAPL"].seen.len(), RECENT_TRADES);
        assert_eq!(adapter.parse(&format!("[{}]", trade("AAPL", 7, "V", "1", "1", t)), NOW).unwrap().records.len(), 1, "forgotten");
        assert_eq!(
            adapter.parse(&format!("[{}]", trade("AAPL", 1_000 + RECENT_TRADES as u64 - 1, "V", "1", "1", t)), NOW).unwrap().duplicates,
            1
        );
    }

    #[test]
    fn garbage_bad_fields_and_unknown_types() {
        let mut adapter = AlpacaAdapter::new("k", "s");
        assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
        assert_eq!(adapter.parse(r#"{"T":"t"}"#, NOW).unwrap_err().code, RejectReason::InvalidJson, "not an array");
        assert_eq!(adapter.parse(r#"[{"T":"x","S":"AAPL"}]"#, NOW).unwrap_err().code, RejectReason::UnknownType);
        assert_eq!(adapter.parse(r#"[{"T":"success","msg":"hello"}]"#, NOW).unwrap_err().code, RejectReason::UnknownType);
        assert_eq!(adapter.parse("[1]", NOW).unwrap_err().code, RejectReason::InvalidRecord);
        assert!(adapter.parse("[]", NOW).unwrap().records.is_empty());
        for (field, message) in [
            ("`p`", r#"[{"T":"t","S":"AAPL","i":1,"x":"V","p":"187.31","s":100,"t":"2024-02-26T14:30:00Z"}]"#),
            ("`i`", r#"[{"T":"t","S":"AAPL","i":-1,"x":"V","p":1,"s":100,"t":"2024-02-26T14:30:00Z"}]"#),
            ("`t`", r#"[{"T":"t","S":"AAPL","i":1,"x":"V","p":1,"s":100,"t":"soon"}]"#),
            ("`s`", r#"[{"T":"t","S":"AAPL","i":1,"x":"V","p":1,"t":"2024-02-26T14:30:00Z"}]"#),
            ("`as`", r#"[{"T":"q","S":"AAPL","bp":1,"bs":1,"ap":1,"as":null,"t":"2024-02-26T14:30:00Z"}]"#),
            ("`v`", r#"[{"T":"b","S":"AAPL","o":1,"h":1,"l":1,"c":1,"v":"x","t":"2024-02-26T14:30:00Z"}]"#),
        ] {
            let rejection = adapter.parse(message, NOW).unwrap_err();
            assert_eq!((rejection.code, rejection.detail.contains(field)), (RejectReason::InvalidField, true), "{}", rejection.detail);
        }
        assert!(adapter.recent_trades.is_empty(), "rejections leave no state");

        // One bad element does not lose the good ones: they are kept and the bad one is
        // handed back, with its raw text, to be dead-lettered.
        let mixed = format!(
            "[{},{}]",
            trade("AAPL", 1, "V", "1", "1", "2024-02-26T14:30:00Z"),
            r#"{"T":"t","S":"AAPL","i":2,"x":"V","p":"x","s":1,"t":"2024-02-26T14:30:00Z"}"#
        );
        let parsed = adapter.parse(&mixed, NOW).unwrap();
        assert_eq!(parsed.records.len(), 1);
        assert!(parsed.events.is_empty());
        let (rejection, raw) = &parsed.rejected[0];
        assert_eq!((parsed.rejected.len(), rejection.code), (1, RejectReason::InvalidField));
        assert!(raw.contains(r#""p":"x""#), "{raw}");
    }
}
