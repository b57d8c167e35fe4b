//! Unit tests of the kraken normalization, on the venue's documented payloads.
use super::*;
use crate::record::RejectReason;

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

fn trade(symbol: &str, id: u64, side: &str, price: f64, qty: f64, time: &str) -> String {
    format!(
        r#"{{"symbol":"{symbol}","side":"{side}","price":{price},"qty":{qty},"ord_type":"limit","trade_id":{id},"timestamp":"{time}"}}"#
    )
}

fn message(channel: &str, kind: &str, items: &[String]) -> String {
    format!(r#"{{"channel":"{channel}","type":"{kind}","data":[{}]}}"#, items.join(","))
}

fn candle(begin: &str, open: f64, close: f64, trades: u32) -> String {
    format!(
        r#"{{"symbol":"ETH/USD","open":{open},"high":{high},"low":{low},"close":{close},"trades":{trades},"volume":2.5,"vwap":3300.25,"interval_begin":"{begin}","interval":1,"timestamp":"2026-11-22T12:01:00.000000Z"}}"#,
        high = open.max(close) + 1.0,
        low = open.min(close) - 1.0,
    )
}

fn ticks(parsed: &Parsed) -> Vec<(String, String, f64, f64, Side, i64)> {
    parsed
        .records
        .iter()
        .map(|record| match record {
            Record::Tick(tick) => {
                (tick.symbol.to_string(), tick.trade_id.as_ref().unwrap().to_string(), tick.price, tick.size, tick.side, tick.time.micros())
            }
            other => panic!("expected a tick, got {other:?}"),
        })
        .collect()
}

#[test]
fn symbols_replace_the_slash() {
    for (venue, ours) in [("BTC/USD", "BTC-USD"), ("MATIC/GBP", "MATIC-GBP"), ("XYZ", "XYZ")] {
        assert_eq!(normalize_symbol(venue), ours);
    }
    for (minutes, label) in [(1, "1m"), (5, "5m"), (60, "1h"), (240, "4h"), (1440, "1d"), (10080, "7d"), (21600, "15d")] {
        assert_eq!(interval_label(minutes), label);
    }
}

#[test]
fn times_with_up_to_nine_fractional_digits_truncate_to_microseconds() {
    for (text, micros) in [
        ("2026-11-22T12:00:00Z", 1_795_348_800_000_000),
        ("2026-11-22T12:00:00.1Z", 1_795_348_800_100_000),
        ("2026-11-22T12:00:00.925533Z", 1_795_348_800_925_533),
        ("2026-11-22T12:00:00.000000000Z", 1_795_348_800_000_000),
        ("2026-11-22T12:00:00.524394914Z", 1_795_348_800_524_394),
        ("2026-11-22T12:00:00.999999999Z", 1_795_348_800_999_999),
    ] {
        assert_eq!(time("t", text), Ok(Timestamp(micros)), "{text}");
    }
    assert_eq!(time("data[0].timestamp", "yesterday").unwrap_err().code, RejectReason::InvalidField);
}

#[test]
fn subscriptions_one_per_channel_with_request_ids() {
    let mut adapter = KrakenAdapter::new();
    let symbols = ["BTC/USD".to_string(), "ETH/USD".to_string()];
    let subscriptions =
        adapter.subscriptions(&symbols, &[Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars, Channel::Trades]);
    let messages: Vec<(u64, &str)> = subscriptions.iter().map(|s| (s.id, s.message.as_str())).collect();
    assert_eq!(
        messages,
        vec![
            (1, r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD"]},"req_id":1}"#),
            (2, r#"{"method":"subscribe","params":{"channel":"ticker","event_trigger":"bbo","symbol":["BTC/USD","ETH/USD"]},"req_id":2}"#),
            (3, r#"{"method":"subscribe","params":{"channel":"ohlc","interval":1,"symbol":["BTC/USD","ETH/USD"]},"req_id":3}"#),
        ]
    );
    // A reconnect asks again with fresh ids.
    let again = adapter.subscriptions(&symbols, &[Channel::Trades]);
    assert_eq!(again[0].id, 4);
}

#[test]
fn acks_once_per_request_refusals_and_no_ops() {
    let mut adapter = KrakenAdapter::new();
    adapter.subscriptions(&["BTC/USD".into(), "ETH/USD".into()], &[Channel::Trades]);
    let ack = |symbol: &str| {
        format!(
            r#"{{"method":"subscribe","result":{{"channel":"trade","snapshot":true,"symbol":"{symbol}"}},"success":true,"time_in":"2026-11-22T12:00:00.000001Z","time_out":"2026-11-22T12:00:00.000002Z","req_id":1}}"#
        )
    };
    assert_eq!(adapter.parse(&ack("BTC/USD"), NOW).unwrap().acknowledged, vec![1]);
    assert!(adapter.parse(&ack("ETH/USD"), NOW).unwrap().acknowledged.is_empty(), "the second symbol's ack adds nothing");
    // After a reconnect the same id may be acknowledged again.
    adapter.subscriptions(&["BTC/USD".into()], &[Channel::Trades]);
    assert_eq!(adapter.parse(&ack("BTC/USD").replace(r#""req_id":1"#, r#""req_id":2"#), NOW).unwrap().acknowledged, vec![2]);

    let refusal = r#"{"error":"Currency pair not supported","method":"subscribe","req_id":2,"success":false,"symbol":"ABC/USD","time_in":"2026-11-22T12:00:00.000001Z","time_out":"2026-11-22T12:00:00.000002Z"}"#;
    let rejection = adapter.parse(refusal, NOW).unwrap_err();
    assert_eq!(rejection.code, RejectReason::SubscriptionRefused);
    assert_eq!(rejection.detail, "Kraken refused request 2 for ABC/USD: Currency pair not supported");

    for no_op in [
        r#"{"channel":"heartbeat"}"#,
        r#"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":13834774380200032777,"system":"online","version":"2.0.0"}]}"#,
        r#"{"method":"pong","req_id":101,"time_in":"2026-11-22T12:00:00.000001Z","time_out":"2026-11-22T12:00:00.000002Z"}"#,
    ] {
        let parsed = adapter.parse(no_op, NOW).unwrap();
        assert!(parsed.records.is_empty() && parsed.acknowledged.is_empty() && parsed.events.is_empty(), "{no_op}");
    }
}

#[test]
fn garbage_bad_fields_and_unknown_channels() {
    let mut adapter = KrakenAdapter::new();
    let good = trade("BTC/USD", 1, "buy", 97000.5, 0.01, "2026-11-22T12:00:00.000001Z");
    let cases: Vec<(String, RejectReason, &str)> = vec![
        ("{not json".into(), RejectReason::InvalidJson, "not a Kraken message"),
        (message("trade", "update", &[good.replace("97000.5", "\"abc\"")]), RejectReason::InvalidField, "`data[0].price`"),
        (
            message("trade", "update", &[good.clone(), good.replace(r#""qty":0.01,"#, "")]),
            RejectReason::InvalidField,
            "`data[1]`: missing field `qty`",
        ),
        (message("trade", "update", &[good.replace("\"buy\"", "\"up\"")]), RejectReason::InvalidField, "`data[0].side`"),
        (
            message("trade", "update", &[good.replace("2026-11-22T12:00:00.000001Z", "noon")]),
            RejectReason::InvalidField,
            "`data[0].timestamp`",
        ),
        (r#"{"channel":"trade","type":"update"}"#.into(), RejectReason::InvalidField, "`data`"),
        (r#"{"channel":"trade","type":"update","data":{}}"#.into(), RejectReason::InvalidField, "`trade` `data`"),
        (
            message("ohlc", "update", &[candle("2026-11-22T12:00:00Z", 1.0, 2.0, 3).replace(r#""trades":3"#, r#""trades":2.5"#)]),
            RejectReason::InvalidField,
            "`data[0].trades`",
        ),
        (
            message("ticker", "update", &[r#"{"symbol":"BTC/USD","bid":null,"bid_qty":1,"ask":2,"ask_qty":1}"#.into()]),
            RejectReason::InvalidField,
            "`data[0].bid`",
        ),
        (r#"{"channel":"level3","type":"snapshot","data":[]}"#.into(), RejectReason::UnknownType, "`level3`"),
        (r#"{"channel":"book","type":"delta","data":[]}"#.into(), RejectReason::InvalidField, "`type`"),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"x","qty":1}]}]}"#.into(),
            RejectReason::InvalidField,
            "data[0].bids price",
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","checksum":4294967296}]}"#.into(),
            RejectReason::InvalidField,
            "`data[0].checksum`",
        ),
        (
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","timestamp":"yesterday"}]}"#.into(),
            RejectReason::InvalidField,
            "`data[0].timestamp`",
        ),
        (
            r#"{"method":"unsubscribe","success":false,"error":"Subscription Not Found"}"#.into(),
            RejectReason::SubscriptionRefused,
            "Not Found",
        ),
        (r#"{"method":"edit_order","success":true,"req_id":1}"#.into(), RejectReason::UnknownType, "`edit_order`"),
        (r#"{"error":"Malformed request","success":false}"#.into(), RejectReason::UnknownType, "Malformed request"),
    ];
    for (text, code, detail) in cases {
        let rejection = adapter.parse(&text, NOW).unwrap_err();
        assert_eq!(rejection.code, code, "{text}: {rejection}");
        assert!(rejection.detail.contains(detail), "{text}: {rejection}");
    }
    // None of the refused trades moved the sequence: id 1 is still new.
    assert_eq!(adapter.parse(&message("trade", "update", &[good]), NOW).unwrap().records.len(), 1);
}

#[test]
fn trades_with_gaps_duplicates_and_a_repeated_snapshot() {
    let mut adapter = KrakenAdapter::new();
    let t = |id: u64, side: &str, price: f64| trade("BTC/USD", id, side, price, 0.25, "2026-11-22T12:00:01.925533Z");
    let snapshot = message("trade", "snapshot", &[t(100, "buy", 97000.5), t(101, "sell", 97001.0)]);
    let parsed = adapter.parse(&snapshot, NOW).unwrap();
    assert_eq!(
        ticks(&parsed),
        vec![
            ("BTC-USD".into(), "100".into(), 97000.5, 0.25, Side::Buy, 1_795_348_801_925_533),
            ("BTC-USD".into(), "101".into(), 97001.0, 0.25, Side::Sell, 1_795_348_801_925_533),
        ]
    );
    let Record::Tick(first) = &parsed.records[0] else { panic!() };
    assert_eq!((first.venue.as_str(), first.received_at), ("kraken", NOW));
    assert!(parsed.events.is_empty());

    let parsed = adapter.parse(&message("trade", "update", &[t(104, "buy", 97002.0)]), NOW).unwrap();
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(parsed.events, vec![("gap", json!({ "symbol": "BTC/USD", "stream": "trade", "missing_from": 102, "missing_to": 103 }))]);

    // Another symbol has its own sequence.
    let other = trade("ETH/USD", 7, "sell", 3300.0, 1.0, "2026-11-22T12:00:02Z");
    let parsed = adapter.parse(&message("trade", "update", &[other]), NOW).unwrap();
    assert_eq!((parsed.records.len(), parsed.events.len()), (1, 0));

    // After a resubscribe the snapshot repeats trades already stored, newest last
    // or (sorted here) in any order; only the new one is kept.
    let repeated = message("trade", "snapshot", &[t(105, "sell", 97003.0), t(101, "sell", 97001.0), t(104, "buy", 97002.0)]);
    let parsed = adapter.parse(&repeated, NOW).unwrap();
    assert_eq!(ticks(&parsed).iter().map(|tick| tick.1.as_str()).collect::<Vec<_>>(), vec!["105"]);
    assert_eq!((parsed.duplicates, parsed.events.len()), (2, 0));
}

#[test]
fn tickers_use_their_timestamp_or_the_receipt_time() {
    let mut adapter = KrakenAdapter::new();
    let with_time = r#"{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2026-11-22T12:00:00.742648Z"}]}"#;
    let parsed = adapter.parse(with_time, NOW).unwrap();
    let Record::Quote(quote) = &parsed.records[0] else { panic!() };
    assert_eq!(
        (quote.symbol.as_str(), quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, quote.time),
        ("ALGO-USD", 0.10025, 740.0, 0.10036, 1361.44813783, Timestamp(1_795_348_800_742_648))
    );
    let without_time = with_time.replace(r#","timestamp":"2026-11-22T12:00:00.742648Z""#, "");
    let Record::Quote(quote) = &adapter.parse(&without_time, NOW).unwrap().records[0] else { panic!() };
    assert_eq!(quote.time, NOW);
}

#[test]
fn quotes_and_tickers_share_one_ticker_subscription() {
    let mut adapter = KrakenAdapter::new();
    let symbols = ["BTC/USD".to_string()];
    let both = adapter.subscriptions(&symbols, &[Channel::Tickers, Channel::Quotes]);
    assert_eq!(
        both.iter().map(|s| s.message.as_str()).collect::<Vec<_>>(),
        vec![r#"{"method":"subscribe","params":{"channel":"ticker","event_trigger":"bbo","symbol":["BTC/USD"]},"req_id":1}"#]
    );
    let alone = adapter.subscriptions(&symbols, &[Channel::Tickers]);
    assert_eq!(
        alone.iter().map(|s| s.message.as_str()).collect::<Vec<_>>(),
        vec![r#"{"method":"subscribe","params":{"channel":"ticker","event_trigger":"trades","symbol":["BTC/USD"]},"req_id":2}"#]
    );
}

#[test]
fn the_documented_ticker_yields_the_24_hour_statistics() {
    let mut adapter = KrakenAdapter::new();
    adapter.subscriptions(&["ALGO/USD".to_string()], &[Channel::Tickers]);
    let documented = r#"{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2023-09-25T09:04:31.742648Z"}]}"#;
    let parsed = adapter.parse(documented, NOW).unwrap();
    assert_eq!(
        parsed.records,
        vec![Record::Ticker(TickerRecord {
            time: Timestamp::parse_rfc3339("2023-09-25T09:04:31.742648Z").unwrap(),
            received_at: NOW,
            venue: "kraken".into(),
            symbol: "ALGO-USD".into(),
            last: 0.10035,
            open_24h: Some(0.10035 - -0.00017),
            high_24h: Some(0.10285),
            low_24h: Some(0.09979),
            volume_24h: Some(997038.98383185),
            quote_volume_24h: Some(997038.98383185 * 0.10148),
            change: Some(-0.00017),
            change_pct: Some(-0.17),
        })],
        "tickers alone: no quote"
    );
    // The snapshot again after a resubscribe is not newer: dropped.
    let again = adapter.parse(documented, NOW).unwrap();
    assert_eq!((again.records.len(), again.duplicates), (0, 1));
    // With quotes too, both come from one message; a bad time refuses it whole.
    adapter.subscriptions(&["ALGO/USD".to_string()], &[Channel::Quotes, Channel::Tickers]);
    let later = documented.replace("09:04:31.742648Z", "09:04:32Z");
    let parsed = adapter.parse(&later, NOW).unwrap();
    assert!(matches!(&parsed.records[..], [Record::Quote(_), Record::Ticker(_)]), "{:?}", parsed.records);
    let bad = later.replace("09:04:32Z", "soon");
    assert_eq!(adapter.parse(&bad, NOW).unwrap_err().code, RejectReason::InvalidField);
    // No timestamp: our receipt time; no last price: no ticker.
    let without_time = documented.replace(r#","timestamp":"2023-09-25T09:04:31.742648Z""#, "");
    let Record::Ticker(ticker) = &adapter.parse(&without_time, NOW).unwrap().records[1] else { panic!() };
    assert_eq!(ticker.time, NOW);
    let without_last = without_time.replace(r#""last":0.10035,"#, "");
    assert!(matches!(&adapter.parse(&without_last, Timestamp(NOW.micros() + 1)).unwrap().records[..], [Record::Quote(_)]));
}

#[test]
fn instruments_pair_our_symbol_with_krakens() {
    assert_eq!(KrakenAdapter::new().instrument("BTC/USD"), Some(Instrument::listed("kraken", "BTC-USD", "BTC/USD", Some("crypto"))));
}

#[test]
fn a_bar_is_stored_when_the_next_candle_begins() {
    let mut adapter = KrakenAdapter::new();
    let first = "2026-11-22T12:00:00.000000000Z";
    let second = "2026-11-22T12:01:00.000000000Z";
    let ohlc = |kind: &str, candles: &[String]| message("ohlc", kind, candles);
    assert!(adapter.parse(&ohlc("update", &[candle(first, 3300.0, 3301.0, 1)]), NOW).unwrap().records.is_empty());
    assert!(adapter.parse(&ohlc("update", &[candle(first, 3300.0, 3302.0, 4)]), NOW).unwrap().records.is_empty());
    let parsed = adapter.parse(&ohlc("update", &[candle(second, 3302.0, 3302.5, 1)]), NOW).unwrap();
    let Record::Bar(bar) = &parsed.records[0] else { panic!() };
    assert_eq!(parsed.records.len(), 1);
    assert_eq!(
        (bar.symbol.as_str(), bar.interval.as_str(), bar.time, bar.venue.as_str()),
        ("ETH-USD", "1m", Timestamp(1_795_348_800_000_000), "kraken")
    );
    assert_eq!(
        (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades),
        (3300.0, 3303.0, 3299.0, 3302.0, 2.5, Some(3300.25), Some(4)),
        "the last values of the candle"
    );
    // A late update of the stored candle, and the snapshot after a resubscribe that
    // repeats it, store nothing; the open candle is still completed later.
    assert!(adapter.parse(&ohlc("update", &[candle(first, 3300.0, 3309.0, 9)]), NOW).unwrap().records.is_empty());
    let snapshot = ohlc("snapshot", &[candle(first, 3300.0, 3302.0, 4), candle(second, 3302.0, 3304.0, 3)]);
    assert!(adapter.parse(&snapshot, NOW).unwrap().records.is_empty());
    let third = "2026-11-22T12:02:00Z";
    let parsed = adapter.parse(&ohlc("update", &[candle(third, 3304.0, 3304.0, 1)]), NOW).unwrap();
    let Record::Bar(bar) = &parsed.records[0] else { panic!() };
    assert_eq!((bar.time, bar.close, bar.trades), (Timestamp(1_795_348_860_000_000), 3304.0, Some(3)));
}

#[test]
fn a_snapshot_of_several_candles_stores_all_but_the_open_one() {
    let mut adapter = KrakenAdapter::new();
    let snapshot = message(
        "ohlc",
        "snapshot",
        &[
            candle("2026-11-22T11:58:00Z", 1.0, 2.0, 1),
            candle("2026-11-22T11:59:00Z", 2.0, 3.0, 2),
            candle("2026-11-22T12:00:00Z", 3.0, 4.0, 3),
        ],
    );
    let parsed = adapter.parse(&snapshot, NOW).unwrap();
    let closes: Vec<f64> = parsed.records.iter().map(|record| if let Record::Bar(bar) = record { bar.close } else { panic!() }).collect();
    assert_eq!(closes, vec![2.0, 3.0]);
}

#[test]
fn book_subscription_snapshot_updates_and_a_resync() {
    use crate::record::BookDelta;
    use crate::source::feed::book::Level;
    let mut adapter = KrakenAdapter::new();
    adapter.set_book(BookSettings { depth: 25, snapshot_depth: 5, snapshot_interval_ms: 0, ..BookSettings::default() });
    let subscriptions = adapter.subscriptions(&["BTC/USD".into()], &[Channel::Book]);
    assert_eq!(
        subscriptions[0].message,
        r#"{"method":"subscribe","params":{"channel":"book","depth":25,"snapshot":true,"symbol":["BTC/USD"]},"req_id":1}"#
    );
    let sum = |asks: &[(&str, &str)], bids: &[(&str, &str)]| {
        let level = |(price, size): &(&str, &str)| Level::new(price, size, price.parse().unwrap(), size.parse().unwrap());
        let (asks, bids): (Vec<Level>, Vec<Level>) = (asks.iter().map(level).collect(), bids.iter().map(level).collect());
        super::super::book::checksum(asks.iter(), bids.iter())
    };
    // A snapshot without a time takes its receipt time.
    let snapshot = format!(
        r#"{{"channel":"book","type":"snapshot","data":[{{"symbol":"BTC/USD","bids":[{{"price":97000.0,"qty":1.50000000}}],"asks":[{{"price":97000.5,"qty":0.25000000}}],"checksum":{}}}]}}"#,
        sum(&[("97000.5", "0.25000000")], &[("97000.0", "1.50000000")])
    );
    let parsed = adapter.parse(&snapshot, NOW).unwrap();
    let deltas: Vec<&BookDelta> = parsed.records.iter().filter_map(|r| if let Record::BookDelta(d) = r { Some(d) } else { None }).collect();
    assert_eq!(deltas.len(), 2);
    assert_eq!((deltas[0].symbol.as_str(), deltas[0].time, deltas[0].sequence, deltas[0].snapshot), ("BTC-USD", NOW, 1, true));
    assert!(parsed.events.is_empty() && parsed.replies.is_empty());

    let update = |checksum: u32| {
        format!(
            r#"{{"channel":"book","type":"update","data":[{{"symbol":"BTC/USD","bids":[{{"price":96999.9,"qty":2.00000000}}],"asks":[],"checksum":{checksum},"timestamp":"2026-11-22T12:00:01.000000Z"}}]}}"#
        )
    };
    let good = sum(&[("97000.5", "0.25000000")], &[("97000.0", "1.50000000"), ("96999.9", "2.00000000")]);
    let parsed = adapter.parse(&update(good), NOW).unwrap();
    assert_eq!(parsed.records.len(), 1);
    let Record::BookDelta(row) = &parsed.records[0] else { panic!("{parsed:?}") };
    assert_eq!((row.price, row.size, row.sequence, row.time.micros()), (96999.9, 2.0, 2, 1_795_348_801_000_000));

    // A wrong checksum: the event, no rows, and the venue asked for a fresh snapshot.
    let parsed = adapter.parse(&update(good ^ 1), NOW).unwrap();
    assert!(parsed.records.is_empty());
    assert_eq!(parsed.events.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(), ["checksum_mismatch"]);
    assert_eq!(
        parsed.replies,
        [
            r#"{"method":"unsubscribe","params":{"channel":"book","depth":25,"symbol":["BTC/USD"]}}"#,
            r#"{"method":"subscribe","params":{"channel":"book","depth":25,"snapshot":true,"symbol":["BTC/USD"]}}"#,
        ]
    );
    // The answers to those requests are no data and no refusal.
    for answer in [
        r#"{"method":"unsubscribe","result":{"channel":"book","depth":25,"symbol":"BTC/USD"},"success":true,"time_in":"2026-11-22T12:00:01.000001Z","time_out":"2026-11-22T12:00:01.000002Z"}"#,
        r#"{"method":"subscribe","result":{"channel":"book","depth":25,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2026-11-22T12:00:01.000001Z","time_out":"2026-11-22T12:00:01.000002Z"}"#,
    ] {
        let parsed = adapter.parse(answer, NOW).unwrap();
        assert!(parsed.acknowledged.is_empty() && parsed.records.is_empty());
    }
    let parsed = adapter.parse(&snapshot.replace("{\"symbol\"", "{\"timestamp\":\"2026-11-22T12:00:02Z\",\"symbol\""), NOW).unwrap();
    assert_eq!(parsed.events.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(), ["resync"]);
    assert_eq!(parsed.events[0].1["sequence"], 4);
}
