//! Unit tests of the bybit normalization, on the venue's documented payloads.
use super::*;
use crate::record::RejectReason;

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
    assert_eq!(
        first["args"].as_array().unwrap()[0..3],
        [json!("publicTrade.BTCUSDT"), json!("orderbook.1.BTCUSDT"), json!("kline.1.BTCUSDT")]
    );
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
    let ticks = parsed.ticks();
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
    let parsed = adapter.parse(&book("delta", 102, "[]", r#"[["3300.20","0"],["3300.30","1.0"]]"#, 1_795_348_800_020), NOW).unwrap();
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
    assert_eq!(bar_interval("0").unwrap_err().code, RejectReason::InvalidField);
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
    assert_eq!(fraction_as_percent("price24hPcnt", "x").unwrap_err().code, RejectReason::InvalidField);
    let bad = documented.replace(r#""lastPrice":"21109.77""#, r#""lastPrice":"x""#).replace("1673853746003", "1673853747003");
    let rejection = adapter.parse(&bad, NOW).unwrap_err();
    assert_eq!((rejection.code, rejection.detail.contains("`lastPrice`")), (RejectReason::InvalidField, true));
    assert_eq!(adapter.instrument("ethusdt"), Some(Instrument::listed("bybit", "ETH-USDT", "ETHUSDT", Some("crypto"))));
}

#[test]
fn acks_refusals_pongs_and_garbage() {
    let mut adapter = BybitAdapter::spot();
    let ack = r#"{"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"7","op":"subscribe"}"#;
    assert_eq!(adapter.parse(ack, NOW).unwrap().acknowledged, vec![7]);
    let refused =
        r#"{"success":false,"ret_msg":"error:handler not found,topic:orderbook.3.BTCUSDT","conn_id":"c","req_id":"8","op":"subscribe"}"#;
    let rejection = adapter.parse(refused, NOW).unwrap_err();
    assert_eq!(rejection.code, RejectReason::SubscriptionRefused);
    assert!(rejection.detail.contains("\"8\"") && rejection.detail.contains("handler not found"), "{}", rejection.detail);
    assert_eq!(adapter.parse(&ack.replace("\"7\"", "\"abc\""), NOW).unwrap_err().code, RejectReason::InvalidField);
    assert_eq!(adapter.heartbeat().unwrap(), r#"{"op":"ping","req_id":"1"}"#);
    let pong =
        adapter.parse(r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#, NOW).unwrap();
    assert!(pong.records.is_empty() && pong.acknowledged.is_empty() && pong.events.is_empty());

    assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(adapter.parse("[1,2]", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(
        adapter.parse(r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code,
        RejectReason::InvalidRecord
    );
    assert_eq!(
        adapter.parse(r#"{"topic":"liquidation.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code,
        RejectReason::UnknownType
    );
    assert_eq!(
        adapter.parse(r#"{"topic":"orderbook.200.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code,
        RejectReason::UnknownType,
        "not the subscribed depth"
    );
    assert_eq!(
        adapter.parse(r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code,
        RejectReason::InvalidRecord
    );
    assert_eq!(adapter.parse(r#"{"op":"unsubscribe","success":true}"#, NOW).unwrap_err().code, RejectReason::UnknownType);
    assert_eq!(adapter.parse(r#"{"hello":1}"#, NOW).unwrap_err().code, RejectReason::UnknownType);
    let bad_price = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"abc","i":"x","BT":false}]}"#;
    let rejection = adapter.parse(bad_price, NOW).unwrap_err();
    assert_eq!((rejection.code, rejection.detail.contains("`p`")), (RejectReason::InvalidField, true));
    let bad_level = book("snapshot", 1, r#"[["1","x"]]"#, "[]", 1);
    assert_eq!(adapter.parse(&bad_level, NOW).unwrap_err().code, RejectReason::InvalidField);
    assert!(!adapter.books.contains_key("ETHUSDT"), "a rejected update leaves no state behind");
    let missing = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT"}]}"#;
    assert_eq!(adapter.parse(missing, NOW).unwrap_err().code, RejectReason::InvalidRecord);
}

#[test]
fn book_topics_beside_quotes_snapshots_deltas_gaps_and_restarts() {
    use crate::record::BookDelta;
    let mut adapter = BybitAdapter::spot();
    adapter.set_book(BookSettings { depth: 200, snapshot_depth: 5, snapshot_interval_ms: 0, ..BookSettings::default() });
    let subscriptions = adapter.subscriptions(&["btcusdt".into()], &[Channel::Quotes, Channel::Book]);
    let message: serde_json::Value = serde_json::from_str(&subscriptions[0].message).unwrap();
    assert_eq!(message["args"], json!(["orderbook.1.BTCUSDT", "orderbook.200.BTCUSDT"]));

    let push = |kind: &str, u: u64, bids: &str, asks: &str| {
        format!(
            r#"{{"topic":"orderbook.200.BTCUSDT","type":"{kind}","ts":1795348800002,"data":{{"s":"BTCUSDT","b":{bids},"a":{asks},"u":{u},"seq":9}},"cts":1795348800001}}"#
        )
    };
    let deltas = |parsed: &Parsed| -> Vec<(f64, f64, i64, bool)> {
        parsed
            .records
            .iter()
            .filter_map(|record| {
                if let Record::BookDelta(BookDelta { price, size, sequence, snapshot, .. }) = record {
                    Some((*price, *size, *sequence, *snapshot))
                } else {
                    None
                }
            })
            .collect()
    };
    let parsed = adapter.parse(&push("snapshot", 10, r#"[["100.0","1"]]"#, r#"[["100.5","2"]]"#), NOW).unwrap();
    assert_eq!(deltas(&parsed), [(100.0, 1.0, 10, true), (100.5, 2.0, 10, true)]);
    let Record::BookDelta(row) = &parsed.records[0] else { panic!() };
    assert_eq!((row.symbol.as_str(), row.time.micros()), ("BTC-USDT", 1_795_348_800_001_000), "cts is the time");
    // The quotes' level-1 topic is still read as quotes.
    let quote = r#"{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1"]],"a":[["100.5","2"]],"u":5,"seq":9},"cts":1}"#;
    assert!(matches!(adapter.parse(quote, NOW).unwrap().records[..], [Record::Quote(_)]));

    let parsed = adapter.parse(&push("delta", 11, r#"[["100.0","0"],["99.5","3"]]"#, "[]"), NOW).unwrap();
    assert_eq!(deltas(&parsed), [(100.0, 0.0, 11, false), (99.5, 3.0, 11, false)]);
    // 12 is lost: 13 is a gap, answered by unsubscribing and subscribing the topic.
    let parsed = adapter.parse(&push("delta", 13, "[]", r#"[["101","1"]]"#), NOW).unwrap();
    assert!(deltas(&parsed).is_empty());
    assert_eq!(parsed.events.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(), ["gap"]);
    assert_eq!(
        parsed.replies,
        [
            r#"{"args":["orderbook.200.BTCUSDT"],"op":"unsubscribe","req_id":"book"}"#,
            r#"{"args":["orderbook.200.BTCUSDT"],"op":"subscribe","req_id":"book"}"#,
        ]
    );
    for answer in [
        r#"{"success":true,"ret_msg":"","conn_id":"c","req_id":"book","op":"unsubscribe"}"#,
        r#"{"success":true,"ret_msg":"subscribe","conn_id":"c","req_id":"book","op":"subscribe"}"#,
    ] {
        let parsed = adapter.parse(answer, NOW).unwrap();
        assert!(parsed.acknowledged.is_empty());
    }
    let refused = r#"{"success":false,"ret_msg":"error:handler not found","conn_id":"c","req_id":"book","op":"subscribe"}"#;
    assert_eq!(adapter.parse(refused, NOW).unwrap_err().code, RejectReason::SubscriptionRefused);
    let parsed = adapter.parse(&push("snapshot", 20, r#"[["99.5","3"]]"#, r#"[["101","1"]]"#), NOW).unwrap();
    assert_eq!(parsed.events.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(), ["resync"]);
    // A service restart: `u` 1 replaces the book, even as a delta.
    let parsed = adapter.parse(&push("delta", 1, r#"[["99.0","1"]]"#, r#"[["99.2","1"]]"#), NOW).unwrap();
    assert_eq!(deltas(&parsed), [(99.0, 1.0, 1, true), (99.2, 1.0, 1, true)]);
    assert!(parsed.events.is_empty());
    let parsed = adapter.parse(&push("delta", 2, r#"[["99.1","1"]]"#, "[]"), NOW).unwrap();
    assert_eq!(deltas(&parsed), [(99.1, 1.0, 2, false)]);
}
