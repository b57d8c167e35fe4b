use super::*;
use std::time::Duration;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap()
}

fn adapter(channels: &[Channel]) -> (HyperliquidAdapter, Vec<Subscription>) {
    let mut adapter = HyperliquidAdapter::new();
    let subscriptions = adapter.subscriptions(&["BTC".to_string(), "ETH".to_string()], channels);
    (adapter, subscriptions)
}

fn ack(subscription: &str) -> String {
    format!(r#"{{"channel":"subscriptionResponse","data":{{"method":"subscribe","subscription":{subscription}}}}}"#)
}

#[test]
fn one_request_per_coin_and_subscription_each_acknowledged() {
    let (mut adapter, subscriptions) =
        adapter(&[Channel::Trades, Channel::Bars, Channel::Funding, Channel::MarkPrice, Channel::Instruments]);
    let messages: Vec<&str> = subscriptions.iter().map(|s| s.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            r#"{"method":"subscribe","subscription":{"coin":"BTC","type":"trades"}}"#,
            r#"{"method":"subscribe","subscription":{"coin":"BTC","interval":"1m","type":"candle"}}"#,
            r#"{"method":"subscribe","subscription":{"coin":"BTC","type":"activeAssetCtx"}}"#,
            r#"{"method":"subscribe","subscription":{"coin":"ETH","type":"trades"}}"#,
            r#"{"method":"subscribe","subscription":{"coin":"ETH","interval":"1m","type":"candle"}}"#,
            r#"{"method":"subscribe","subscription":{"coin":"ETH","type":"activeAssetCtx"}}"#,
        ],
        "one activeAssetCtx for funding and mark_price; instruments is a REST poll"
    );
    let parsed = adapter.parse(&ack(r#"{"type":"candle","coin":"ETH","interval":"1m"}"#), at(1)).unwrap();
    assert_eq!(parsed.acknowledged, [subscriptions[4].id]);
    let again = adapter.parse(&ack(r#"{"type":"candle","coin":"ETH","interval":"1m"}"#), at(1)).unwrap();
    assert!(again.acknowledged.is_empty(), "counted once");
    assert!(adapter.parse(r#"{"channel":"pong"}"#, at(1)).unwrap().records.is_empty());
    assert_eq!(adapter.heartbeat().as_deref(), Some(r#"{"method":"ping"}"#));
    let refused = adapter.parse(r#"{"channel":"error","data":"Invalid subscription {\"type\":\"trades\",\"coin\":\"NOPE\"}"}"#, at(1));
    assert_eq!(refused.unwrap_err().code, RejectReason::SubscriptionRefused);
    assert_eq!(adapter.parse("{not json", at(1)).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(adapter.parse(r#"{"channel":"allMids","data":{}}"#, at(1)).unwrap_err().code, RejectReason::UnknownType);
    let instrument = adapter.instrument("BTC").unwrap();
    assert_eq!((instrument.symbol.as_str(), instrument.venue_symbol.as_deref()), ("BTC-USD", Some("BTC")));
}

#[test]
fn trades_take_the_aggressor_side_and_drop_re_sent_ones() {
    let (mut adapter, _) = adapter(&[Channel::Trades]);
    let push = r#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"97000.5","sz":"0.01","hash":"0x1","time":1700000000000,"tid":901,"users":["0xa","0xb"]},{"coin":"BTC","side":"A","px":"96999","sz":"0.2","hash":"0x2","time":1700000000500,"tid":77,"users":["0xa","0xb"]}]}"#;
    let parsed = adapter.parse(push, at(1_700_000_001_000)).unwrap();
    let ticks = parsed.ticks();
    assert_eq!(ticks.len(), 2);
    assert_eq!((ticks[0].symbol.as_str(), ticks[0].side, ticks[0].price, ticks[0].size), ("BTC-USD", Side::Buy, 97000.5, 0.01));
    assert_eq!((ticks[1].side, ticks[1].trade_id.as_deref(), ticks[1].time), (Side::Sell, Some("77"), at(1_700_000_000_500)));
    let resent = adapter.parse(push, at(1_700_000_002_000)).unwrap();
    assert_eq!((resent.records.len(), resent.duplicates), (0, 2));

    let bad_side = push.replace(r#""side":"B""#, r#""side":"X""#).replace("901", "902");
    assert!(adapter.parse(&bad_side, at(1)).unwrap_err().detail.contains("`side`"));
    let other = push.replace(r#""coin":"BTC""#, r#""coin":"DOGE""#);
    assert!(adapter.parse(&other, at(1)).unwrap_err().detail.contains("DOGE"));
}

fn candle(t: i64, close: &str, n: i64) -> String {
    format!(
        r#"{{"channel":"candle","data":{{"t":{t},"T":{},"s":"ETH","i":"1m","o":"3400.0","c":"{close}","h":"3405.5","l":"3399.0","v":"12.5","n":{n}}}}}"#,
        t + 59_999
    )
}

#[test]
fn a_candle_is_stored_when_the_next_one_starts() {
    let (mut adapter, _) = adapter(&[Channel::Bars]);
    let minute = 1_700_000_040_000;
    assert!(adapter.parse(&candle(minute, "3401.0", 10), at(minute + 1_000)).unwrap().records.is_empty());
    assert!(adapter.parse(&candle(minute, "3402.0", 11), at(minute + 2_000)).unwrap().records.is_empty());
    let parsed = adapter.parse(&candle(minute + 60_000, "3403.0", 1), at(minute + 61_000)).unwrap();
    let [Record::Bar(bar)] = parsed.records.as_slice() else { panic!("{:?}", parsed.records) };
    assert_eq!((bar.symbol.as_str(), bar.interval.as_str(), bar.time, bar.received_at), ("ETH-USD", "1m", at(minute), at(minute + 2_000)));
    assert_eq!(
        (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades),
        (3400.0, 3405.5, 3399.0, 3402.0, 12.5, None, Some(11))
    );
    // A late update of the closed candle changes nothing.
    assert!(adapter.parse(&candle(minute, "3409.0", 12), at(minute + 62_000)).unwrap().records.is_empty());

    // A reconnect forgets the open candle: its last updates may be missing.
    adapter.subscriptions(&["ETH".to_string()], &[Channel::Bars]);
    assert!(adapter.parse(&candle(minute + 120_000, "3404.0", 1), at(minute + 121_000)).unwrap().records.is_empty());
    let wrong = candle(minute, "1", 1).replace(r#""i":"1m""#, r#""i":"5m""#);
    assert!(adapter.parse(&wrong, at(1)).unwrap_err().detail.contains("`i`"));
}

#[test]
fn the_asset_context_feeds_the_subscribed_tables() {
    let (mut adapter, _) = adapter(&[Channel::Funding, Channel::OpenInterest]);
    let push = r#"{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"dayNtlVlm":"1.0","prevDayPx":"96000","markPx":"97000.0","midPx":"97000.5","funding":"0.0000125","openInterest":"12345.6","oraclePx":"96990.0"}}}"#;
    let parsed = adapter.parse(push, at(1_700_000_000_000)).unwrap();
    assert!(matches!(parsed.records.as_slice(), [Record::FundingRate(_), Record::OpenInterest(_)]), "{:?}", parsed.records);
    let other = push.replace(r#""coin":"BTC""#, r#""coin":"SOL""#);
    assert!(adapter.parse(&other, at(1)).is_err());
}

#[test]
fn the_meta_poll_observes_specs_and_always_asks_again() {
    let (mut adapter, _) = adapter(&[Channel::Instruments]);
    adapter.set_polls(PollSettings { open_interest: Duration::from_secs(60), instruments: Duration::from_secs(600) });
    let fetches = adapter.initial_fetches();
    assert_eq!(fetches, [Fetch::post("meta", "/info", 20, r#"{"type":"meta"}"#)]);
    let next = fetches[0].clone().after(Duration::from_secs(600));

    let body = r#"{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},{"name":"SOL","szDecimals":2,"maxLeverage":20}]}"#;
    let parsed = adapter.fetched(&fetches[0], Ok(body), at(1)).unwrap();
    assert_eq!(parsed.fetches, std::slice::from_ref(&next));
    assert_eq!(parsed.records.len(), 1, "BTC only: SOL is not configured");
    let changed = body.replace(r#""szDecimals":5"#, r#""szDecimals":4"#);
    let parsed = adapter.fetched(&fetches[0], Ok(&changed), at(2)).unwrap();
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.events[0].1["changes"]["tick_size"], json!({ "from": 0.1, "to": 0.01 }));

    let failed = adapter.fetched(&fetches[0], Err(&FetchError::Status { status: 400, body: "bad".into() }), at(3)).unwrap();
    assert_eq!((failed.fetches.len(), failed.rejected.len(), failed.records.len()), (1, 1, 0));
    let garbage = adapter.fetched(&fetches[0], Ok("<html>"), at(4)).unwrap();
    assert_eq!((garbage.fetches, garbage.rejected.len()), (vec![next], 1));
}
