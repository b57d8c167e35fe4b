//! Unit tests of the deribit normalization, on the venue's documented payloads.
use super::*;
use crate::record::RejectReason;

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
        .map(|subscription| {
            serde_json::from_str::<serde_json::Value>(&subscription.message).unwrap()["params"]["channels"].as_array().unwrap().len()
        })
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
    assert_eq!(rejection.code, RejectReason::SubscriptionRefused);
    assert!(
        rejection.detail.contains("-32602") && rejection.detail.contains("Invalid params") && rejection.detail.contains('3'),
        "{}",
        rejection.detail
    );
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
    let parsed = adapter
        .parse(
            &trades(
                "BTC-PERPETUAL",
                &[(30289432, "sell", "8950", "10", "1590484156350"), (30289433, "buy", "8950.5", "20", "1590484156351")],
            ),
            NOW,
        )
        .unwrap();
    let first = parsed.ticks();
    assert_eq!(
        (first[0].venue.as_str(), first[0].symbol.as_str(), first[0].price, first[0].size, first[0].side, first[0].time),
        ("deribit", "BTC-PERPETUAL", 8950.0, 10.0, Side::Sell, Timestamp(1_590_484_156_350_000))
    );
    assert_eq!((first[0].trade_id.as_deref(), first[0].received_at), (Some("78289432"), NOW));
    assert_eq!((first[1].side, first[1].price, first[1].size), (Side::Buy, 8950.5, 20.0));
    assert!(parsed.events.is_empty() && parsed.duplicates == 0);

    // A skip is a gap; a re-sent trade is a duplicate.
    let skipped =
        adapter.parse(&trades("BTC-PERPETUAL", &[(30289433, "buy", "1", "1", "1"), (30289436, "buy", "1", "1", "1")]), NOW).unwrap();
    assert_eq!((skipped.records.len(), skipped.duplicates), (1, 1));
    assert_eq!(
        skipped.events,
        vec![("gap", json!({ "symbol": "BTC-PERPETUAL", "stream": "trades", "missing_from": 30289434, "missing_to": 30289435 }))]
    );
    // Instruments have separate series (option names kept as they are).
    let option = adapter.parse(&trades("BTC-27DEC24-100000-C", &[(5, "buy", "0.05", "1.5", "1")]), NOW).unwrap();
    assert_eq!((option.ticks()[0].symbol.as_str(), option.events.len()), ("BTC-27DEC24-100000-C", 0));
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
    assert!(adapter
        .parse(&ticker("BTC-27DEC24-100000-C", ("0.05", "5"), ("0.051", "3"), "1623060194501"), NOW)
        .unwrap()
        .records
        .is_empty());
    // No trade yet: no ticker. A bad last price refuses the message.
    let untraded = later.replace(r#""last_price":36457.5"#, r#""last_price":null"#).replace("1623060194401", "1623060194601");
    assert!(adapter.parse(&untraded, NOW).unwrap().records.is_empty());
    let bad = untraded.replace(r#""last_price":null"#, r#""last_price":"x""#);
    let rejection = adapter.parse(&bad, NOW).unwrap_err();
    assert_eq!((rejection.code, rejection.detail.contains("`last_price`")), (RejectReason::InvalidField, true));
}

#[test]
fn instruments_are_instrument_names_with_their_asset_class() {
    let adapter = DeribitAdapter::new();
    for (name, asset_class) in [
        ("BTC-PERPETUAL", "future"),
        ("BTC-27DEC24", "future"),
        ("BTC_USDC-PERPETUAL", "future"),
        ("BTC-27DEC24-100000-C", "option"),
        ("BTC_USDC", "crypto"),
    ] {
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
    assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(adapter.parse("[1,2]", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(
        adapter
            .parse(r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"perpetual.BTC-PERPETUAL.100ms","data":{}}}"#, NOW)
            .unwrap_err()
            .code,
        RejectReason::UnknownType
    );
    assert_eq!(
        adapter
            .parse(r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{}}}"#, NOW)
            .unwrap_err()
            .code,
        RejectReason::InvalidRecord
    );
    assert_eq!(
        adapter.parse(r#"{"jsonrpc":"2.0","method":"announcements","params":{}}"#, NOW).unwrap_err().code,
        RejectReason::UnknownType
    );
    assert_eq!(
        adapter.parse(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"other"}}"#, NOW).unwrap_err().code,
        RejectReason::UnknownType
    );
    assert_eq!(adapter.parse(r#"{"hello":1}"#, NOW).unwrap_err().code, RejectReason::UnknownType);
    assert_eq!(
        adapter
            .parse(r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw"}}"#, NOW)
            .unwrap_err()
            .code,
        RejectReason::InvalidRecord
    );
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
        assert_eq!((rejection.code, rejection.detail.contains(field)), (RejectReason::InvalidField, true), "{}", rejection.detail);
    }
    assert!(adapter.trade_seqs.is_empty(), "rejections leave no state");
    let missing = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"instrument_name":"BTC-PERPETUAL","price":1}]}}"#;
    assert_eq!(adapter.parse(missing, NOW).unwrap_err().code, RejectReason::InvalidRecord);
}

#[test]
fn books_subscribe_the_100ms_channel_and_a_gap_resubscribes_it() {
    let mut adapter = DeribitAdapter::new();
    let subscriptions = adapter.subscriptions(&["BTC-PERPETUAL".to_string()], &[Channel::Book, Channel::Trades]);
    assert_eq!(
        subscriptions[1].message,
        r#"{"id":2,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["book.BTC-PERPETUAL.100ms","trades.BTC-PERPETUAL.raw"]}}"#
    );
    let book = |data: &str| {
        format!(r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"book.BTC-PERPETUAL.100ms","data":{data}}}}}"#)
    };
    let snapshot = book(
        r#"{"type":"snapshot","timestamp":1795348800000,"instrument_name":"BTC-PERPETUAL","change_id":10,"bids":[["new",97000.5,100]],"asks":[["new",97001,200]]}"#,
    );
    assert_eq!(adapter.parse(&snapshot, NOW).unwrap().records.len(), 3, "two levels and a picture");
    let gap = book(
        r#"{"type":"change","timestamp":1795348800100,"prev_change_id":11,"instrument_name":"BTC-PERPETUAL","change_id":12,"bids":[],"asks":[["change",97001,150]]}"#,
    );
    let parsed = adapter.parse(&gap, NOW).unwrap();
    assert_eq!((parsed.records.len(), parsed.events[0].0), (0, "gap"));
    assert_eq!(
        parsed.replies,
        [
            r#"{"id":3,"jsonrpc":"2.0","method":"public/unsubscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}"#,
            r#"{"id":4,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}"#
        ]
    );
    // Their responses acknowledge nothing and are not refusals.
    for id in [3, 4] {
        let parsed = adapter.parse(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":["book.BTC-PERPETUAL.100ms"]}}"#), NOW).unwrap();
        assert!(parsed.acknowledged.is_empty() && parsed.records.is_empty() && parsed.events.is_empty());
    }
    assert_eq!(adapter.book_depths()[0], 1_000);
}
