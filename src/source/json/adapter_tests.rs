//! Unit tests of the json adapter: subscriptions, acknowledgements, message shapes
//! (one object, an array, records under `each`), ignored and unmatched messages,
//! partial rejections and sequence checks.
use serde_json::json;

use super::*;
use crate::record::RejectReason;
use crate::record::{Record, Side};

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

/// A json source's adapter from the TOML of its `[sources.json]` section and what follows.
fn adapter(symbols: &str, json_section: &str) -> JsonAdapter {
    let text = format!(
        "[database]\nurl = \"postgres://u@h/db\"\n[[sources]]\nkind = \"json\"\nurl = \"wss://feed.example.net/ws\"\nsymbols = {symbols}\n{json_section}"
    );
    let config = crate::config::load_str(&text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
    JsonAdapter::new(&config.sources[0]).unwrap()
}

const BINANCE_LIKE: &str = r#"
[sources.json]
venue = "binance_json"
subscribe = ['{"method":"SUBSCRIBE","params":["{symbol}@trade"],"id":{id}}']
ack = { present = ["/result"], id = "/id" }
[[sources.json.records]]
table = "ticks"
match = { "/e" = "trade" }
fields = { symbol = "/s", price = "/p", size = "/q", side = "/m", trade_id = "/t", time = "/T" }
time_format = "ms"
side = { buy = false, sell = true }
symbol_rewrite = { split_quote = true }
sequence = "/t"
"#;

fn trade(id: u64, maker: bool) -> String {
    format!(r#"{{"e":"trade","E":1,"s":"BTCUSDT","t":{id},"p":"97000.50","q":"0.010","T":1795348800000,"m":{maker},"M":true}}"#)
}

fn ticks(parsed: &Parsed) -> Vec<(String, Option<String>, Side)> {
    parsed
        .records
        .iter()
        .map(|record| match record {
            Record::Tick(tick) => (tick.symbol.to_string(), tick.trade_id.as_ref().map(ToString::to_string), tick.side),
            other => panic!("expected a tick, got {other:?}"),
        })
        .collect()
}

#[test]
fn subscriptions_and_acknowledgements_by_echoed_id() {
    let mut adapter = adapter(r#"["btcusdt", "ethusdt"]"#, BINANCE_LIKE);
    assert_eq!(adapter.venue(), "binance_json");
    assert_eq!(adapter.default_url(), "wss://feed.example.net/ws");
    assert!(adapter.acknowledges_subscriptions());
    let subscriptions = adapter.subscriptions(&["btcusdt".into(), "ethusdt".into()], &[]);
    assert_eq!(
        subscriptions,
        vec![
            Subscription { id: 1, message: r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#.into() },
            Subscription { id: 2, message: r#"{"method":"SUBSCRIBE","params":["ethusdt@trade"],"id":2}"#.into() },
        ]
    );
    assert_eq!(adapter.parse(r#"{"result":null,"id":2}"#, NOW).unwrap().acknowledged, vec![2]);
    assert_eq!(adapter.parse(r#"{"result":null,"id":"1"}"#, NOW).unwrap().acknowledged, vec![1]);
    let refused = adapter.parse(r#"{"result":null,"id":"x"}"#, NOW).unwrap_err();
    assert_eq!(
        (refused.code, refused.detail.as_str()),
        (RejectReason::InvalidField, r#"ack.id: /id is "x", expected the request id of a subscribe message"#)
    );
    // A reconnect subscribes with new ids.
    assert_eq!(adapter.subscriptions(&["btcusdt".into()], &[])[0].id, 3);
}

#[test]
fn acknowledgements_in_order_or_none_at_all() {
    let section = |ack: &str| {
        format!(
            r#"
            [sources.json]
            venue = "v"
            subscribe = ['{{"op":"subscribe","args":{{symbols}}}}', '{{"op":"auth"}}']
            {ack}
            [[sources.json.records]]
            table = "ticks"
            match = {{ "/e" = "trade" }}
            fields = {{ symbol = "/s", price = "/p", size = "/q", time = "/T" }}
            time_format = "ms"
            "#
        )
    };
    let mut in_order = adapter(r#"["A", "B"]"#, &section(r#"ack = { match = { "/op" = "subscribed" } }"#));
    let subscriptions = in_order.subscriptions(&["A".into(), "B".into()], &[]);
    assert_eq!(subscriptions[0].message, r#"{"op":"subscribe","args":["A","B"]}"#);
    let ack = r#"{"op":"subscribed"}"#;
    assert_eq!(in_order.parse(ack, NOW).unwrap().acknowledged, vec![1]);
    assert_eq!(in_order.parse(ack, NOW).unwrap().acknowledged, vec![2]);
    assert!(in_order.parse(ack, NOW).unwrap().acknowledged.is_empty(), "an extra ack is harmless");

    let mut unacknowledged = adapter(r#"["A"]"#, &section(""));
    assert!(!unacknowledged.acknowledges_subscriptions(), "without an ack rule, subscriptions count as acknowledged once sent");
    assert_eq!(unacknowledged.subscriptions(&["A".into()], &[]).len(), 2);
    let unmatched = unacknowledged.parse(ack, NOW).unwrap_err();
    assert_eq!(unmatched.code, RejectReason::Unmatched);
}

#[test]
fn sequences_gaps_and_duplicates_per_symbol() {
    let mut adapter = adapter(r#"["btcusdt"]"#, BINANCE_LIKE);
    let parsed = adapter.parse(&trade(100, true), NOW).unwrap();
    assert_eq!(ticks(&parsed), vec![("BTC-USDT".to_string(), Some("100".to_string()), Side::Sell)]);
    let parsed = adapter.parse(&trade(103, false), NOW).unwrap();
    assert_eq!(ticks(&parsed), vec![("BTC-USDT".to_string(), Some("103".to_string()), Side::Buy)]);
    assert_eq!(parsed.events, vec![("gap", json!({ "symbol": "BTCUSDT", "stream": "ticks", "missing_from": 101, "missing_to": 102 }))]);
    let again = adapter.parse(&trade(103, false), NOW).unwrap();
    assert_eq!((again.records.len(), again.duplicates), (0, 1));
}

const DATA_ARRAY: &str = r#"
[sources.json]
venue = "arrayfeed"
ignore = [{ match = { "/type" = ["heartbeat", "status"] } }]
ignore_text = ["pong"]
[[sources.json.records]]
table = "quotes"
match = { "/channel" = "book", "/type" = ["snapshot", "update"] }
each = "/data"
fields = { symbol = "/pair", bid_price = "/bid/0", bid_size = "/bid/1", ask_price = "/ask/0", ask_size = "/ask/1", time = "/ts" }
time_format = "rfc3339"
symbol_rewrite = { separator = "/" }
"#;

fn book(items: &[&str]) -> String {
    format!(r#"{{"channel":"book","type":"update","data":[{}]}}"#, items.join(","))
}

const GOOD_ITEM: &str = r#"{"pair":"BTC/USD","bid":["97000.1","0.5"],"ask":[97000.2,1.25],"ts":"2026-11-22T12:00:00.123456Z"}"#;
const BAD_ITEM: &str = r#"{"pair":"ETH/USD","bid":["3300.1"],"ask":["3300.2","2"],"ts":"2026-11-22T12:00:00Z"}"#;

#[test]
fn records_under_each_keep_the_good_and_refuse_the_bad() {
    let mut adapter = adapter("[]", DATA_ARRAY);
    assert!(adapter.subscriptions(&[], &[]).is_empty());
    let parsed = adapter.parse(&book(&[GOOD_ITEM, BAD_ITEM]), NOW).unwrap();
    let [Record::Quote(quote)] = &parsed.records[..] else { panic!("{:?}", parsed.records) };
    assert_eq!(
        (quote.symbol.as_str(), quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, quote.time),
        ("BTC-USD", 97000.1, 0.5, 97000.2, 1.25, Timestamp(1_795_348_800_123_456))
    );
    assert_eq!(parsed.rejected.len(), 1);
    let (rejection, raw) = &parsed.rejected[0];
    assert_eq!(rejection.detail, "quotes.bid_size: /bid/1 is missing");
    assert_eq!(serde_json::from_str::<Value>(raw).unwrap(), serde_json::from_str::<Value>(BAD_ITEM).unwrap(), "the refused element alone");

    // Nothing good: the message is refused whole.
    let refused = adapter.parse(&book(&[BAD_ITEM]), NOW).unwrap_err();
    assert_eq!(refused.detail, "quotes.bid_size: /bid/1 is missing");
    let missing = adapter.parse(r#"{"channel":"book","type":"update"}"#, NOW).unwrap_err();
    assert_eq!((missing.code, missing.detail.as_str()), (RejectReason::MissingField, "quotes.each: /data is missing"));
    let single = adapter.parse(&format!(r#"{{"channel":"book","type":"snapshot","data":{GOOD_ITEM}}}"#), NOW).unwrap();
    assert_eq!(single.records.len(), 1, "an object under `each` is one record");
}

#[test]
fn ignored_unmatched_and_garbage() {
    let mut adapter = adapter("[]", DATA_ARRAY);
    for ignored in ["pong", r#"{"type":"heartbeat"}"#, r#"{"type":"status","x":1}"#, "[]"] {
        let parsed = adapter.parse(ignored, NOW).unwrap();
        assert!(parsed.records.is_empty() && parsed.rejected.is_empty(), "{ignored}");
    }
    for unmatched in [r#"{"type":"trade"}"#, r#"{"channel":"book","type":"delete","data":[]}"#, "42", r#""pong""#] {
        assert_eq!(adapter.parse(unmatched, NOW).unwrap_err().code, RejectReason::Unmatched, "{unmatched}");
    }
    assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(adapter.parse("ping", NOW).unwrap_err().code, RejectReason::InvalidJson);
}

#[test]
fn a_top_level_array_is_split_into_messages() {
    let mut adapter = adapter("[]", DATA_ARRAY);
    let message = format!(r#"[{},{{"type":"heartbeat"}},{{"what":1}}]"#, book(&[GOOD_ITEM]));
    let parsed = adapter.parse(&message, NOW).unwrap();
    assert_eq!(parsed.records.len(), 1);
    let refused: Vec<(RejectReason, &str)> = parsed.rejected.iter().map(|(rejection, raw)| (rejection.code, raw.as_str())).collect();
    assert_eq!(refused, vec![(RejectReason::Unmatched, r#"{"what":1}"#)]);
    assert_eq!(adapter.parse(r#"[{"what":1},{"what":2}]"#, NOW).unwrap_err().code, RejectReason::Unmatched, "nothing good: refused whole");
}

#[test]
fn heartbeat_is_sent_as_configured() {
    let section = BINANCE_LIKE.replace("venue = \"binance_json\"", "venue = \"v\"\nheartbeat = '{\"op\":\"ping\"}'");
    let mut with = adapter(r#"["btcusdt"]"#, &section);
    assert_eq!(with.heartbeat().as_deref(), Some(r#"{"op":"ping"}"#));
    let mut without = adapter(r#"["btcusdt"]"#, BINANCE_LIKE);
    assert_eq!(without.heartbeat(), None);
}

#[test]
fn acks_and_ignore_rules_come_before_records_rules() {
    let mut adapter = adapter(
        r#"["BTC/USD"]"#,
        r#"
        [sources.json]
        venue = "v"
        subscribe = ['{"op":"subscribe","channel":"trades","pairs":{symbols}}']
        ack = { match = { "/op" = "subscribed" } }
        ignore = [{ match = { "/op" = "unsubscribed" } }]
        [[sources.json.records]]
        table = "ticks"
        match = { "/channel" = "trades" }
        each = "/data"
        fields = { symbol = "/pair", price = "/price", size = "/amount", time = "/time" }
        time_format = "rfc3339"
        "#,
    );
    adapter.subscriptions(&["BTC/USD".into()], &[]);
    let ack = adapter.parse(r#"{"op":"subscribed","channel":"trades"}"#, NOW).unwrap();
    assert_eq!((ack.acknowledged, ack.rejected.len()), (vec![1], 0));
    let ignored = adapter.parse(r#"{"op":"unsubscribed","channel":"trades"}"#, NOW).unwrap();
    assert!(ignored.records.is_empty() && ignored.rejected.is_empty());
}

#[test]
fn instruments_are_the_venue_symbols_of_the_messages() {
    let mut binance_like = adapter(r#"["btcusdt"]"#, BINANCE_LIKE);
    assert_eq!(binance_like.instrument("btcusdt"), None, "the configured spelling is a subscribe template's, not the messages'");
    let parsed = binance_like.parse(&trade(1, true), NOW).unwrap();
    assert_eq!(parsed.instruments, vec![Instrument::listed("binance_json", "BTC-USDT", "BTCUSDT", None)]);
    assert!(binance_like.parse(&trade(2, true), NOW).unwrap().instruments.is_empty(), "each symbol once");
    let mut separated = adapter(r#"["BTC/USD"]"#, DATA_ARRAY);
    let parsed = separated.parse(&book(&[GOOD_ITEM, BAD_ITEM]), NOW).unwrap();
    assert_eq!(parsed.instruments, vec![Instrument::listed("arrayfeed", "BTC-USD", "BTC/USD", None)], "only records that were kept");
}
