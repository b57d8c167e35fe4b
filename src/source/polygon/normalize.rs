//! Polygon messages → records. Each element of an array is converted first; only when
//! every element is good are duplicates dropped, state updated and acknowledgements
//! counted, so a rejected message leaves nothing behind (see the module doc of
//! `polygon`). Trades and quotes whose `q` is at or below the last one of their ticker
//! are duplicates (no gap check: `q` is not contiguous); bars whose start is not after
//! the last stored one are. All of this state is a few words per ticker.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use serde_json::value::RawValue;

use super::wire::{Aggregate, Head, Quote as WireQuote, Status, Trade};
use crate::config::Channel;
use crate::record::{Bar, Instrument, Quote, Record, RejectReason, Rejection, Side, Tick, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Parsed, Sequences, Subscription, VenueAdapter};
use crate::source::values::{decimal, millis};

/// The environment variable the API key is read from.
pub const API_KEY_VARIABLE: &str = "POLYGON_API_KEY";

const SUBSCRIBED: &str = "subscribed to: ";

pub struct PolygonAdapter {
    /// Never logged, never in an error or in `Debug` output.
    api_key: String,
    next_request_id: u64,
    /// The auth request of this connection, until `auth_success`.
    pending_auth: Option<u64>,
    /// Unconfirmed topics of this connection's subscribe request (`T.AAPL`), and its id.
    pending_topics: HashSet<String>,
    pending_subscribe: Option<u64>,
    /// Per ticker; all bounded by the subscribed tickers.
    trade_seqs: Sequences,
    quote_seqs: Sequences,
    last_bars: HashMap<String, Timestamp>,
}

impl std::fmt::Debug for PolygonAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolygonAdapter")
            .field("api_key", &"<redacted>")
            .field("pending_auth", &self.pending_auth)
            .field("pending_subscribe", &self.pending_subscribe)
            .field("pending_topics", &self.pending_topics.len())
            .finish()
    }
}

impl PolygonAdapter {
    pub fn new(api_key: impl Into<String>) -> Self {
        PolygonAdapter {
            api_key: api_key.into(),
            next_request_id: 1,
            pending_auth: None,
            pending_topics: HashSet::new(),
            pending_subscribe: None,
            trade_seqs: Sequences::duplicates_only("trades"),
            quote_seqs: Sequences::duplicates_only("quotes"),
            last_bars: HashMap::new(),
        }
    }

    /// The key from `POLYGON_API_KEY`. check-config refuses a polygon source when it is
    /// not set; should it be missing anyway, the key is empty and Polygon's
    /// `auth_failed` is dead-lettered on each connect.
    pub fn from_env() -> Self {
        Self::new(std::env::var(API_KEY_VARIABLE).unwrap_or_default())
    }
}

/// A JSON number (raw text) as a finite `f64`.
fn number(field: &str, raw: &RawValue) -> Result<f64, Rejection> {
    decimal(field, raw.get())
}

/// A JSON number (raw text) as a non-negative integer.
fn integer(field: &str, raw: &RawValue) -> Result<u64, Rejection> {
    raw.get()
        .parse::<u64>()
        .map_err(|_| Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected a non-negative integer, got {}", raw.get())))
}

/// Milliseconds since the Unix epoch as a JSON integer.
fn time(field: &str, raw: &RawValue) -> Result<Timestamp, Rejection> {
    let ms = raw.get().parse::<i64>().map_err(|_| {
        Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected milliseconds as an integer, got {}", raw.get()))
    })?;
    millis(field, ms)
}

/// One converted array element, not yet checked against the state.
enum Event {
    Tick(u64, Tick),
    Quote(u64, Quote),
    Bar(Bar),
    AuthSuccess,
    Subscribed(Vec<String>),
    Nothing,
}

impl PolygonAdapter {
    fn convert(&self, element: &RawValue, received_at: Timestamp) -> Result<Event, Rejection> {
        let head: Head = serde_json::from_str(element.get()).map_err(|error| invalid("event", error))?;
        Ok(match head.ev.as_ref() {
            "T" => {
                let trade: Trade = serde_json::from_str(element.get()).map_err(|error| invalid("T", error))?;
                let seq = integer("q", trade.q)?;
                Event::Tick(
                    seq,
                    Tick {
                        time: time("t", trade.t)?,
                        received_at,
                        venue: ShortText::new(self.venue()),
                        symbol: trade.sym.to_compact_string(),
                        price: number("p", trade.p)?,
                        size: number("s", trade.s)?,
                        side: Side::Unknown,
                        trade_id: Some(trade.i.into_owned().into()),
                    },
                )
            }
            "Q" => {
                let quote: WireQuote = serde_json::from_str(element.get()).map_err(|error| invalid("Q", error))?;
                let seq = integer("q", quote.q)?;
                Event::Quote(
                    seq,
                    Quote {
                        time: time("t", quote.t)?,
                        received_at,
                        venue: self.venue().to_string(),
                        symbol: quote.sym.to_string(),
                        bid_price: number("bp", quote.bp)?,
                        bid_size: number("bs", quote.bs)?,
                        ask_price: number("ap", quote.ap)?,
                        ask_size: number("as", quote.ask_size)?,
                    },
                )
            }
            "AM" => {
                let bar: Aggregate = serde_json::from_str(element.get()).map_err(|error| invalid("AM", error))?;
                Event::Bar(Bar {
                    time: time("s", bar.s)?,
                    received_at,
                    venue: self.venue().to_string(),
                    symbol: bar.sym.to_string(),
                    interval: "1m".to_string(),
                    open: number("o", bar.o)?,
                    high: number("h", bar.h)?,
                    low: number("l", bar.l)?,
                    close: number("c", bar.c)?,
                    volume: number("v", bar.v)?,
                    vwap: Some(number("vw", bar.vw)?),
                    trades: None,
                })
            }
            "status" => {
                let status: Status = serde_json::from_str(element.get()).map_err(|error| invalid("status", error))?;
                let message = status.message.as_deref().unwrap_or("");
                match status.status.as_ref() {
                    "connected" => Event::Nothing,
                    "auth_success" => Event::AuthSuccess,
                    "success" => match message.strip_prefix(SUBSCRIBED) {
                        // One status per topic, or (as some examples show) a list of them.
                        Some(topics) => Event::Subscribed(topics.split(',').map(|topic| topic.trim().to_string()).collect()),
                        // `unsubscribed to: …` and other confirmations change nothing.
                        None => Event::Nothing,
                    },
                    refused @ ("auth_failed" | "auth_timeout" | "error" | "max_connections") => {
                        return Err(Rejection::new(RejectReason::SubscriptionRefused, format!("Polygon status `{refused}`: {message}")))
                    }
                    other => return Err(Rejection::new(RejectReason::UnknownType, format!("Polygon status `{other}` is not handled"))),
                }
            }
            other => return Err(Rejection::new(RejectReason::UnknownType, format!("Polygon event `{other}` is not handled"))),
        })
    }
}

/// The channels this venue offers (`T`, `Q`, `AM`: the stock stream carries no 24-hour statistics).
pub const CHANNELS: &[Channel] = &[Channel::Trades, Channel::Quotes, Channel::Bars];

impl VenueAdapter for PolygonAdapter {
    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    fn credential_variables(&self) -> &'static [&'static str] {
        &[API_KEY_VARIABLE]
    }

    fn venue(&self) -> &'static str {
        "polygon"
    }

    fn default_url(&self) -> String {
        "wss://socket.polygon.io/stocks".into()
    }

    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        // A new connection: it must authenticate and subscribe again.
        let mut topics: Vec<String> = Vec::new();
        for symbol in symbols {
            for channel in channels {
                let prefix = match channel {
                    Channel::Trades => "T",
                    Channel::Quotes => "Q",
                    Channel::Bars => "AM",
                    // Polygon has no aggregated-trade stream and no 24-hour tickers on
                    // this one (check-config refuses both).
                    Channel::AggTrades | Channel::Tickers => continue,
                    // Option chains are not on the stocks feed (check-config refuses them).
                    Channel::Options => continue,
                    // No order book on this stream (check-config refuses it).
                    Channel::Book => continue,
                    // No derivatives or reference data on this stream (check-config refuses them).
                    Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations | Channel::Instruments => {
                        continue
                    }
                };
                let topic = format!("{prefix}.{symbol}");
                if !topics.contains(&topic) {
                    topics.push(topic);
                }
            }
        }
        let auth = self.next_request_id;
        let subscribe = auth + 1;
        self.next_request_id += 2;
        self.pending_auth = Some(auth);
        self.pending_subscribe = Some(subscribe);
        self.pending_topics = topics.iter().cloned().collect();
        vec![
            Subscription { id: auth, message: json!({ "action": "auth", "params": self.api_key }).to_string() },
            Subscription { id: subscribe, message: json!({ "action": "subscribe", "params": topics.join(",") }).to_string() },
        ]
    }

    /// Stock tickers (`AAPL`) are stored as they are.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        Some(Instrument::listed(self.venue(), venue_symbol, venue_symbol, Some("equity")))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let elements: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Polygon message: {error}")))?;
        let mut events = Vec::new();
        let mut rejected = Vec::new();
        for element in &elements {
            match self.convert(element, received_at) {
                Ok(event) => events.push(event),
                Err(rejection) => rejected.push((rejection, element.get().to_string())),
            }
        }
        // Nothing good in it: the message is dead-lettered whole. Otherwise the good
        // elements are kept and each bad one is dead-lettered on its own.
        if events.is_empty() {
            if let Some((rejection, _)) = rejected.into_iter().next() {
                return Err(rejection);
            }
            return Ok(Parsed::default());
        }
        let mut parsed = Parsed { rejected, ..Parsed::default() };
        for event in events {
            match event {
                Event::Tick(seq, tick) => {
                    // `q` increases per ticker but may skip: only duplicates are dropped.
                    if !self.trade_seqs.admit(&tick.symbol, seq, &mut parsed) {
                        continue;
                    }
                    parsed.records.push(Record::Tick(tick));
                }
                Event::Quote(seq, quote) => {
                    // `q` increases per ticker but may skip: only duplicates are dropped.
                    if !self.quote_seqs.admit(&quote.symbol, seq, &mut parsed) {
                        continue;
                    }
                    parsed.records.push(Record::Quote(quote));
                }
                Event::Bar(bar) => {
                    if self.last_bars.get(&bar.symbol).is_some_and(|last| bar.time <= *last) {
                        parsed.duplicates += 1;
                        continue;
                    }
                    self.last_bars.insert(bar.symbol.clone(), bar.time);
                    parsed.records.push(Record::Bar(bar));
                }
                Event::AuthSuccess => {
                    if let Some(id) = self.pending_auth.take() {
                        parsed.acknowledged.push(id);
                    }
                }
                Event::Subscribed(topics) => {
                    // A topic we are not waiting for (already confirmed) changes nothing.
                    for topic in &topics {
                        self.pending_topics.remove(topic);
                    }
                    if self.pending_topics.is_empty() {
                        if let Some(id) = self.pending_subscribe.take() {
                            parsed.acknowledged.push(id);
                        }
                    }
                }
                Event::Nothing => {}
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn trade(sym: &str, id: &str, price: &str, size: &str, t: i64, q: u64) -> String {
        format!(r#"{{"ev":"T","sym":"{sym}","x":4,"i":"{id}","z":3,"p":{price},"s":{size},"c":[0,12],"t":{t},"q":{q}}}"#)
    }

    fn quote(sym: &str, bid: (&str, &str), ask: (&str, &str), t: i64, q: u64) -> String {
        format!(
            r#"{{"ev":"Q","sym":"{sym}","bx":4,"bp":{},"bs":{},"ax":7,"ap":{},"as":{},"c":0,"t":{t},"q":{q}}}"#,
            bid.0, bid.1, ask.0, ask.1
        )
    }

    fn aggregate(sym: &str, start: i64, volume: &str) -> String {
        format!(
            r#"{{"ev":"AM","sym":"{sym}","v":{volume},"av":9470157,"op":0.4372,"vw":0.4488,"o":0.4488,"c":0.4486,"h":0.4489,"l":0.4486,"a":0.4352,"z":685,"s":{start},"e":{}}}"#,
            start + 60_000
        )
    }

    fn status(status: &str, message: &str) -> String {
        format!(r#"[{{"ev":"status","status":"{status}","message":"{message}"}}]"#)
    }

    fn array(elements: &[String]) -> String {
        format!("[{}]", elements.join(","))
    }

    #[test]
    fn auth_then_subscribe_acknowledged_topic_by_topic() {
        let mut adapter = PolygonAdapter::new("test-key");
        let symbols: Vec<String> = ["AAPL", "MSFT", "AAPL"].iter().map(|symbol| symbol.to_string()).collect();
        let subscriptions = adapter.subscriptions(&symbols, &[Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars]);
        assert_eq!(subscriptions.len(), 2);
        assert_eq!((subscriptions[0].id, subscriptions[0].message.as_str()), (1, r#"{"action":"auth","params":"test-key"}"#));
        assert_eq!(
            (subscriptions[1].id, subscriptions[1].message.as_str()),
            (2, r#"{"action":"subscribe","params":"T.AAPL,Q.AAPL,AM.AAPL,T.MSFT,Q.MSFT,AM.MSFT"}"#),
            "symbols as given, each topic once"
        );
        assert!(adapter.parse(&status("connected", "Connected Successfully"), NOW).unwrap().acknowledged.is_empty());
        assert_eq!(adapter.parse(&status("auth_success", "authenticated"), NOW).unwrap().acknowledged, vec![1]);
        assert!(adapter.parse(&status("auth_success", "authenticated"), NOW).unwrap().acknowledged.is_empty());
        for topic in ["T.AAPL", "Q.AAPL", "AM.AAPL", "T.MSFT"] {
            assert!(adapter.parse(&status("success", &format!("subscribed to: {topic}")), NOW).unwrap().acknowledged.is_empty());
        }
        // A repeat and an unrelated confirmation change nothing.
        assert!(adapter.parse(&status("success", "subscribed to: T.AAPL"), NOW).unwrap().acknowledged.is_empty());
        assert!(adapter.parse(&status("success", "unsubscribed to: T.IBM"), NOW).unwrap().acknowledged.is_empty());
        let last = array(&[
            r#"{"ev":"status","status":"success","message":"subscribed to: Q.MSFT"}"#.to_string(),
            r#"{"ev":"status","status":"success","message":"subscribed to: AM.MSFT"}"#.to_string(),
        ]);
        assert_eq!(adapter.parse(&last, NOW).unwrap().acknowledged, vec![2]);
        assert!(adapter.parse(&last, NOW).unwrap().acknowledged.is_empty());

        // A reconnect starts over with new ids; a list of topics in one status counts too.
        let again = adapter.subscriptions(&symbols[..1], &[Channel::Trades, Channel::Quotes]);
        assert_eq!(again.iter().map(|subscription| subscription.id).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(adapter.parse(&status("auth_success", "authenticated"), NOW).unwrap().acknowledged, vec![3]);
        assert_eq!(adapter.parse(&status("success", "subscribed to: T.AAPL,Q.AAPL"), NOW).unwrap().acknowledged, vec![4]);
    }

    #[test]
    fn refusals_name_the_status_but_never_the_key() {
        let mut adapter = PolygonAdapter::new("secret-key-123");
        adapter.subscriptions(&["AAPL".to_string()], &[Channel::Trades]);
        for (code, message) in [
            ("auth_failed", "authentication failed"),
            ("error", "not authorized"),
            ("max_connections", "Maximum number of connections exceeded."),
        ] {
            let rejection = adapter.parse(&status(code, message), NOW).unwrap_err();
            assert_eq!(rejection.code, RejectReason::SubscriptionRefused);
            assert!(rejection.detail.contains(code) && rejection.detail.contains(message), "{}", rejection.detail);
            assert!(!rejection.detail.contains("secret-key-123"));
        }
        assert_eq!(adapter.pending_auth, Some(1), "a refusal acknowledges nothing");
        assert_eq!(adapter.parse(&status("weird", "?"), NOW).unwrap_err().code, RejectReason::UnknownType);
        let debug = format!("{adapter:?}");
        assert!(!debug.contains("secret-key-123") && debug.contains("redacted"), "{debug}");
    }

    #[test]
    fn trades_become_ticks_and_repeats_are_dropped() {
        let mut adapter = PolygonAdapter::new("k");
        let message = array(&[
            trade("MSFT", "12345", "114.125", "100", 1536036818784, 3681328),
            trade("MSFT", "12346", "114.13", "5", 1536036818785, 3681340),
        ]);
        let parsed = adapter.parse(&message, NOW).unwrap();
        let ticks = parsed.ticks();
        assert_eq!(
            (ticks[0].venue.as_str(), ticks[0].symbol.as_str(), ticks[0].price, ticks[0].size, ticks[0].side, ticks[0].time),
            ("polygon", "MSFT", 114.125, 100.0, Side::Unknown, Timestamp(1_536_036_818_784_000))
        );
        assert_eq!((ticks[0].trade_id.as_deref(), ticks[0].received_at), (Some("12345"), NOW));
        assert_eq!(ticks[1].trade_id.as_deref(), Some("12346"));
        assert!(parsed.events.is_empty() && parsed.duplicates == 0, "`q` is not contiguous: a skip is no gap");

        let resent = adapter
            .parse(
                &array(&[
                    trade("MSFT", "12346", "114.13", "5", 1536036818785, 3681340),
                    trade("MSFT", "12350", "114.2", "1", 1536036818790, 3681341),
                ]),
                NOW,
            )
            .unwrap();
        assert_eq!((resent.records.len(), resent.duplicates, resent.events.len()), (1, 1, 0));
        assert_eq!(
            adapter.parse(&array(&[trade("AAPL", "1", "1", "1", 1, 5)]), NOW).unwrap().records.len(),
            1,
            "tickers have separate series"
        );
        assert_eq!(adapter.trade_seqs.len(), 2);
        // The last `q` kept for MSFT is 3681341: it is a duplicate now, the next one is not.
        let mut probe = Parsed::default();
        assert!(!adapter.trade_seqs.admit("MSFT", 3681341, &mut probe));
        assert!(adapter.trade_seqs.admit("MSFT", 3681342, &mut probe));
    }

    #[test]
    fn quotes_and_minute_aggregates() {
        let mut adapter = PolygonAdapter::new("k");
        let parsed = adapter.parse(&array(&[quote("MSFT", ("114.125", "100"), ("114.128", "160"), 1536036818784, 50)]), NOW).unwrap();
        let Record::Quote(q) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
        assert_eq!(
            (q.venue.as_str(), q.symbol.as_str(), q.bid_price, q.bid_size, q.ask_price, q.ask_size, q.time),
            ("polygon", "MSFT", 114.125, 100.0, 114.128, 160.0, Timestamp(1_536_036_818_784_000))
        );
        assert_eq!(adapter.parse(&array(&[quote("MSFT", ("1", "1"), ("2", "1"), 1, 50)]), NOW).unwrap().duplicates, 1);

        let parsed = adapter.parse(&array(&[aggregate("GTE", 1610144640000, "4110")]), NOW).unwrap();
        let Record::Bar(bar) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
        assert_eq!(
            (bar.venue.as_str(), bar.symbol.as_str(), bar.interval.as_str(), bar.time),
            ("polygon", "GTE", "1m", Timestamp(1_610_144_640_000_000))
        );
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades),
            (0.4488, 0.4489, 0.4486, 0.4486, 4110.0, Some(0.4488), None)
        );
        assert_eq!(adapter.parse(&array(&[aggregate("GTE", 1610144640000, "4110")]), NOW).unwrap().duplicates, 1);
        assert_eq!(adapter.parse(&array(&[aggregate("GTE", 1610144700000, "1")]), NOW).unwrap().records.len(), 1);
    }

    #[test]
    fn garbage_bad_fields_and_unknown_events() {
        let mut adapter = PolygonAdapter::new("k");
        assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
        assert_eq!(adapter.parse(r#"{"ev":"T"}"#, NOW).unwrap_err().code, RejectReason::InvalidJson, "not an array");
        assert_eq!(adapter.parse(r#"[{"ev":"LULD","T":"MSFT"}]"#, NOW).unwrap_err().code, RejectReason::UnknownType);
        assert_eq!(adapter.parse(r#"[{"sym":"MSFT"}]"#, NOW).unwrap_err().code, RejectReason::InvalidRecord);
        assert_eq!(adapter.parse(r#"[{"ev":"T","sym":"MSFT","p":1}]"#, NOW).unwrap_err().code, RejectReason::InvalidRecord);
        for (field, element) in [
            ("`p`", trade("MSFT", "1", r#""abc""#, "1", 1, 1)),
            ("`s`", trade("MSFT", "1", "1", "null", 1, 1)),
            ("`t`", trade("MSFT", "1", "1", "1", 1, 1).replace(r#""t":1"#, r#""t":"soon""#)),
            ("`q`", trade("MSFT", "1", "1", "1", 1, 1).replace(r#""q":1"#, r#""q":-1"#)),
            ("`bp`", quote("MSFT", ("[]", "1"), ("1", "1"), 1, 1)),
            ("`as`", quote("MSFT", ("1", "1"), ("1", "true"), 1, 1)),
            ("`v`", aggregate("GTE", 1, r#""x""#)),
        ] {
            let rejection = adapter.parse(&array(&[element]), NOW).unwrap_err();
            assert_eq!((rejection.code, rejection.detail.contains(field)), (RejectReason::InvalidField, true), "{}", rejection.detail);
        }
        assert!(
            adapter.trade_seqs.is_empty() && adapter.quote_seqs.is_empty() && adapter.last_bars.is_empty(),
            "rejections leave no state"
        );
        // One bad element does not lose the good one: it is kept, the bad one handed back
        // with its raw text to be dead-lettered.
        let mixed = array(&[trade("MSFT", "1", "1", "1", 1, 1), aggregate("GTE", 1, r#""x""#)]);
        let parsed = adapter.parse(&mixed, NOW).unwrap();
        assert_eq!((parsed.records.len(), parsed.rejected.len(), parsed.rejected[0].0.code), (1, 1, RejectReason::InvalidField));
        assert!(parsed.rejected[0].1.contains(r#""ev":"AM""#), "{}", parsed.rejected[0].1);
        assert!(adapter.parse("[]", NOW).unwrap().records.is_empty());
    }
}
