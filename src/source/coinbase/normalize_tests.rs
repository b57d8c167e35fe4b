use super::*;
use serde_json::json;

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

fn matched(kind: &str, trade_id: u64, maker_side: &str) -> String {
    format!(
        r#"{{"type":"{kind}","trade_id":{trade_id},"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2026-11-22T12:00:00.123456Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"{maker_side}"}}"#
    )
}

fn tick(parsed: &Parsed) -> &Tick {
    match &parsed.records[..] {
        [Record::Tick(tick)] => tick,
        other => panic!("expected one tick, got {other:?}"),
    }
}

#[test]
fn the_documented_match_becomes_a_tick() {
    let mut adapter = CoinbaseAdapter::new();
    let documented = r#"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#;
    let parsed = adapter.parse(documented, NOW).unwrap();
    assert_eq!(
        tick(&parsed),
        &Tick {
            time: Timestamp(1_415_348_367_028_459),
            received_at: NOW,
            venue: "coinbase".into(),
            symbol: "BTC-USD".into(),
            price: 400.23,
            size: 5.23512,
            side: Side::Buy,
            trade_id: Some("10".into()),
        }
    );
    assert!(parsed.events.is_empty() && parsed.acknowledged.is_empty() && parsed.duplicates == 0);
}

#[test]
fn side_is_the_takers_the_opposite_of_the_makers() {
    for (kind, trade_id, maker_side, taker_side) in [
        ("match", 1, "sell", Side::Buy),
        ("match", 2, "buy", Side::Sell),
        ("last_match", 3, "sell", Side::Buy),
        ("last_match", 4, "buy", Side::Sell),
    ] {
        let mut adapter = CoinbaseAdapter::new();
        let parsed = adapter.parse(&matched(kind, trade_id, maker_side), NOW).unwrap();
        assert_eq!(tick(&parsed).side, taker_side, "{kind} with maker side {maker_side}");
    }
    let mut adapter = CoinbaseAdapter::new();
    assert_eq!(adapter.parse(&matched("match", 1, "both"), NOW).unwrap_err().code, RejectReason::InvalidField);
}

#[test]
fn trade_id_skips_are_gaps_and_repeats_are_duplicates() {
    let mut adapter = CoinbaseAdapter::new();
    assert_eq!(adapter.parse(&matched("last_match", 100, "buy"), NOW).unwrap().records.len(), 1);
    let next = adapter.parse(&matched("match", 101, "buy"), NOW).unwrap();
    assert_eq!((next.records.len(), next.events.len()), (1, 0));
    let skipped = adapter.parse(&matched("match", 104, "sell"), NOW).unwrap();
    assert_eq!(skipped.records.len(), 1);
    assert_eq!(skipped.events, vec![("gap", json!({ "symbol": "BTC-USD", "stream": "matches", "missing_from": 102, "missing_to": 103 }))]);
    for repeated in [104, 101] {
        let again = adapter.parse(&matched("last_match", repeated, "sell"), NOW).unwrap();
        assert_eq!((again.records.len(), again.duplicates, again.events.len()), (0, 1, 0), "trade {repeated}");
    }
    // Another product has its own series.
    let other = matched("match", 7, "buy").replace("BTC-USD", "ETH-USD");
    let parsed = adapter.parse(&other, NOW).unwrap();
    assert_eq!((parsed.records.len(), parsed.events.len()), (1, 0));
    assert_eq!(adapter.trade_ids.len(), 2);
}

#[test]
fn a_bad_match_does_not_advance_the_sequence() {
    let mut adapter = CoinbaseAdapter::new();
    adapter.parse(&matched("match", 1, "buy"), NOW).unwrap();
    let bad_price = matched("match", 2, "buy").replace("\"400.23\"", "\"abc\"");
    let rejection = adapter.parse(&bad_price, NOW).unwrap_err();
    assert_eq!(rejection.code, RejectReason::InvalidField);
    assert!(rejection.detail.contains("`price`"), "{}", rejection.detail);
    let bad_size = matched("match", 2, "buy").replace("\"5.23512\"", "\"NaN\"");
    assert!(adapter.parse(&bad_size, NOW).unwrap_err().detail.contains("`size`"));
    let bad_time = matched("match", 2, "buy").replace("2026-11-22T12:00:00.123456Z", "yesterday");
    assert!(adapter.parse(&bad_time, NOW).unwrap_err().detail.contains("`time`"));
    let parsed = adapter.parse(&matched("match", 2, "buy"), NOW).unwrap();
    assert_eq!((parsed.records.len(), parsed.events.len()), (1, 0), "trade 2 was never accepted, so it is neither a gap nor a duplicate");
}

#[test]
fn tickers_with_a_best_bid_and_offer_become_quotes() {
    let mut adapter = CoinbaseAdapter::new();
    let documented = r#"{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}"#;
    let parsed = adapter.parse(documented, NOW).unwrap();
    assert_eq!(
        parsed.records,
        vec![Record::Quote(Quote {
            time: Timestamp::parse_rfc3339("2022-10-19T23:28:22.061769Z").unwrap(),
            received_at: NOW,
            venue: "coinbase".into(),
            symbol: "ETH-USD".into(),
            bid_price: 1285.04,
            bid_size: 0.46688654,
            ask_price: 1285.27,
            ask_size: 1.5663704,
        })]
    );
    // The ticker's trade id does not take part in the matches sequence.
    assert!(adapter.trade_ids.is_empty());
    let without_time = r#"{"type":"ticker","product_id":"ETH-USD","best_bid":"1","best_bid_size":"2","best_ask":"3","best_ask_size":"4"}"#;
    let Record::Quote(quote) = &adapter.parse(without_time, NOW).unwrap().records[0] else { panic!() };
    assert_eq!(quote.time, NOW, "no venue time: receipt time stands in");
    let without_book = r#"{"type":"ticker","product_id":"ETH-USD","price":"1285.22","time":"2022-10-19T23:28:22.061769Z"}"#;
    assert!(adapter.parse(without_book, NOW).unwrap().records.is_empty());
    let bad_ask = documented.replace("\"1285.27\"", "\"\"");
    let rejection = adapter.parse(&bad_ask, NOW).unwrap_err();
    assert_eq!(rejection.code, RejectReason::InvalidField);
    assert!(rejection.detail.contains("`best_ask`"), "{}", rejection.detail);
}

#[test]
fn with_tickers_subscribed_a_ticker_also_yields_the_24_hour_statistics() {
    let mut adapter = CoinbaseAdapter::new();
    let symbols = vec!["ETH-USD".to_string()];
    let subscriptions = adapter.subscriptions(&symbols, &[Channel::Quotes, Channel::Tickers, Channel::Trades]);
    assert_eq!(
        subscriptions[0].message, r#"{"type":"subscribe","product_ids":["ETH-USD"],"channels":["ticker","matches"]}"#,
        "`ticker` once for both channels"
    );
    let documented = r#"{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}"#;
    let parsed = adapter.parse(documented, NOW).unwrap();
    let time = Timestamp::parse_rfc3339("2022-10-19T23:28:22.061769Z").unwrap();
    assert!(matches!(&parsed.records[0], Record::Quote(quote) if quote.bid_price == 1285.04 && quote.time == time));
    assert_eq!(
        parsed.records[1],
        Record::Ticker(Ticker {
            time,
            received_at: NOW,
            venue: "coinbase".into(),
            symbol: "ETH-USD".into(),
            last: 1285.22,
            open_24h: Some(1310.79),
            high_24h: Some(1313.8),
            low_24h: Some(1280.52),
            volume_24h: Some(245532.79269678),
            quote_volume_24h: None,
            change: Some(1285.22 - 1310.79),
            change_pct: Some((1285.22 - 1310.79) / 1310.79 * 100.0),
        })
    );
    assert_eq!(parsed.records.len(), 2);
    // Re-sent after a resubscribe: the quote again, the ticker not (same sequence).
    let again = adapter.parse(documented, NOW).unwrap();
    assert_eq!((again.records.len(), again.duplicates), (1, 1));

    // Tickers only: no quotes; no price, no ticker; no open, no change.
    adapter.subscriptions(&symbols, &[Channel::Tickers]);
    let later = documented.replace("23:28:22.061769Z", "23:28:23Z").replace("37475248783", "37475248790");
    let parsed = adapter.parse(&later, NOW).unwrap();
    assert!(matches!(&parsed.records[..], [Record::Ticker(_)]), "{:?}", parsed.records);
    assert!(adapter
        .parse(r#"{"type":"ticker","product_id":"ETH-USD","best_bid":"1","best_bid_size":"2","best_ask":"3","best_ask_size":"4"}"#, NOW)
        .unwrap()
        .records
        .is_empty());
    let without_open = r#"{"type":"ticker","product_id":"BTC-USD","price":"97000.5","time":"2026-11-22T12:00:00Z"}"#;
    let Record::Ticker(ticker) = &adapter.parse(without_open, NOW).unwrap().records[0] else { panic!() };
    assert_eq!((ticker.last, ticker.open_24h, ticker.change, ticker.change_pct), (97000.5, None, None, None));
    let bad = later.replace(r#""open_24h":"1310.79""#, r#""open_24h":"x""#).replace("23:28:23Z", "23:28:24Z");
    let rejection = adapter.parse(&bad, NOW).unwrap_err();
    assert_eq!((rejection.code, rejection.detail.contains("`open_24h`")), (RejectReason::InvalidField, true));
}

#[test]
fn tickers_sharing_a_time_are_told_apart_by_their_sequence() {
    let mut adapter = CoinbaseAdapter::new();
    adapter.subscriptions(&["BTC-USD".to_string()], &[Channel::Tickers]);
    let ticker = |sequence: u64, price: &str| {
        format!(
            r#"{{"type":"ticker","sequence":{sequence},"product_id":"BTC-USD","price":"{price}","open_24h":"97000","best_bid":"1","best_bid_size":"1","best_ask":"2","best_ask_size":"1","time":"2026-11-22T12:00:00.123456Z","trade_id":1}}"#
        )
    };
    // One ticker per match, several matches in one microsecond: all kept.
    let mut kept = Vec::new();
    for (sequence, price) in [(100, "97001"), (101, "97002"), (105, "97003"), (106, "97004")] {
        let parsed = adapter.parse(&ticker(sequence, price), NOW).unwrap();
        assert_eq!((parsed.duplicates, parsed.events.len()), (0, 0), "sequence {sequence}");
        let [Record::Ticker(stats)] = &parsed.records[..] else { panic!("{:?}", parsed.records) };
        kept.push(stats.last);
    }
    assert_eq!(kept, vec![97001.0, 97002.0, 97003.0, 97004.0]);
    // The same or an older sequence (a replay, a reconnect's overlap) is a duplicate,
    // whatever its time.
    for (sequence, time) in [(106, "2026-11-22T12:00:00.123456Z"), (104, "2026-11-22T12:00:01Z")] {
        let text = ticker(sequence, "97005").replace("2026-11-22T12:00:00.123456Z", time);
        let parsed = adapter.parse(&text, NOW).unwrap();
        assert_eq!((parsed.records.len(), parsed.duplicates), (0, 1), "sequence {sequence}");
    }
    // Without a sequence, the time decides.
    let unnumbered = |time: &str| format!(r#"{{"type":"ticker","product_id":"ETH-USD","price":"3000","time":"{time}"}}"#);
    assert_eq!(adapter.parse(&unnumbered("2026-11-22T12:00:00Z"), NOW).unwrap().records.len(), 1);
    assert_eq!(adapter.parse(&unnumbered("2026-11-22T12:00:00Z"), NOW).unwrap().duplicates, 1);
    assert_eq!(adapter.parse(&unnumbered("2026-11-22T12:00:01Z"), NOW).unwrap().records.len(), 1);
}

#[test]
fn instruments_are_product_ids() {
    assert_eq!(CoinbaseAdapter::new().instrument("BTC-USD"), Some(Instrument::listed("coinbase", "BTC-USD", "BTC-USD", Some("crypto"))));
}

#[test]
fn one_subscribe_request_for_the_offered_channels() {
    let mut adapter = CoinbaseAdapter::new();
    let symbols = vec!["BTC-USD".to_string(), "ETH-USD".to_string()];
    let subscriptions =
        adapter.subscriptions(&symbols, &[Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars, Channel::Trades]);
    assert_eq!(
        subscriptions,
        vec![Subscription {
            id: SUBSCRIPTION_ID,
            message: r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches","ticker"]}"#.into(),
        }]
    );
    assert_eq!(
        adapter.subscriptions(&symbols, &[Channel::Trades]),
        adapter.subscriptions(&symbols, &[Channel::Trades]),
        "the same id on every connection"
    );
    assert!(adapter.subscriptions(&symbols, &[Channel::AggTrades, Channel::Bars]).is_empty());
    assert_eq!(
        adapter.subscriptions(&symbols, &[Channel::Book, Channel::Trades])[0].message,
        r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["level2_batch","matches"]}"#
    );
    assert_eq!(adapter.book_depths()[0], 1_000);
}

#[test]
fn acks_heartbeats_errors_unknown_types_and_garbage() {
    let mut adapter = CoinbaseAdapter::new();
    let ack =
        r#"{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]},{"name":"ticker","product_ids":["BTC-USD"]}]}"#;
    let parsed = adapter.parse(ack, NOW).unwrap();
    assert_eq!((parsed.acknowledged, parsed.records.len()), (vec![SUBSCRIPTION_ID], 0));
    assert!(adapter.parse(r#"{"type":"subscriptions","channels":[]}"#, NOW).unwrap().acknowledged.is_empty());
    assert_eq!(adapter.parse(r#"{"type":"subscriptions","channels":7}"#, NOW).unwrap_err().code, RejectReason::InvalidRecord);
    let heartbeat = r#"{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}"#;
    let parsed = adapter.parse(heartbeat, NOW).unwrap();
    assert!(parsed.records.is_empty() && parsed.acknowledged.is_empty());

    let error =
        adapter.parse(r#"{"type":"error","message":"Failed to subscribe","reason":"BTC-USDX is not a valid product"}"#, NOW).unwrap_err();
    assert_eq!(error.code, RejectReason::SubscriptionRefused);
    assert_eq!(error.detail, "Coinbase error: Failed to subscribe: BTC-USDX is not a valid product");
    assert_eq!(adapter.parse(r#"{"type":"error","message":"error message"}"#, NOW).unwrap_err().detail, "Coinbase error: error message");

    let unknown = adapter.parse(r#"{"type":"received","product_id":"BTC-USD"}"#, NOW).unwrap_err();
    assert_eq!((unknown.code, unknown.detail.as_str()), (RejectReason::UnknownType, "Coinbase message type `received` is not handled"));
    assert_eq!(adapter.parse(r#"{"product_id":"BTC-USD"}"#, NOW).unwrap_err().code, RejectReason::UnknownType);
    for garbage in ["{not json", "", "42", "\"match\""] {
        assert_eq!(adapter.parse(garbage, NOW).unwrap_err().code, RejectReason::InvalidJson, "{garbage:?}");
    }
    assert_eq!(adapter.parse(r#"{"type":"match","trade_id":"ten"}"#, NOW).unwrap_err().code, RejectReason::InvalidRecord);
}
