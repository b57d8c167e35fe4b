//! Unit tests of the okx normalization, on the venue's documented payloads.
use super::*;
use crate::record::RejectReason;
use crate::source::okx::subscribe::{ARGS_PER_REQUEST, MAX_REQUEST_BYTES};

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

fn trades(inst_id: &str, trades: &[(&str, &str, &str, &str, &str)]) -> String {
    let data: Vec<String> = trades
        .iter()
        .map(|(id, side, px, sz, ts)| {
            format!(
                r#"{{"instId":"{inst_id}","tradeId":"{id}","px":"{px}","sz":"{sz}","side":"{side}","ts":"{ts}","count":"1","source":"0"}}"#
            )
        })
        .collect();
    format!(r#"{{"arg":{{"channel":"trades","instId":"{inst_id}"}},"data":[{}]}}"#, data.join(","))
}

fn ticker(inst_id: &str, bid: (&str, &str), ask: (&str, &str), ts: &str) -> String {
    format!(
        r#"{{"arg":{{"channel":"tickers","instId":"{inst_id}"}},"data":[{{"instType":"SPOT","instId":"{inst_id}","last":"1","lastSz":"1","askPx":"{}","askSz":"{}","bidPx":"{}","bidSz":"{}","open24h":"1","high24h":"1","low24h":"1","volCcy24h":"1","vol24h":"1","sodUtc0":"1","sodUtc8":"1","ts":"{ts}"}}]}}"#,
        ask.0, ask.1, bid.0, bid.1
    )
}

fn candle(ts: &str, vol: &str, confirm: &str) -> String {
    format!(r#"{{"arg":{{"channel":"candle1m","instId":"ETH-USDT"}},"data":[["{ts}","10","12","9","11","{vol}","21","21","{confirm}"]]}}"#)
}

fn ack(id: &str, channel: &str, inst_id: &str) -> String {
    format!(r#"{{"id":"{id}","event":"subscribe","arg":{{"channel":"{channel}","instId":"{inst_id}"}},"connId":"accb8e21"}}"#)
}

#[test]
fn subscriptions_are_batched_within_the_request_limits() {
    let mut adapter = OkxAdapter::new();
    let symbols: Vec<String> = ["BTC-USDT", "ETH-USDT", "BTC-USDT"].iter().map(|symbol| symbol.to_string()).collect();
    let all = [Channel::Trades, Channel::AggTrades, Channel::Quotes, Channel::Bars];
    let subscriptions = adapter.subscriptions(&symbols, &all);
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(
        subscriptions[0].message,
        r#"{"args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"},{"channel":"candle1m","instId":"BTC-USDT"},{"channel":"trades","instId":"ETH-USDT"},{"channel":"tickers","instId":"ETH-USDT"},{"channel":"candle1m","instId":"ETH-USDT"}],"id":"1","op":"subscribe"}"#,
        "symbols as given, each arg once"
    );
    // Many symbols: no request over the byte limit, none over 50 args, every arg sent once.
    let many: Vec<String> = (0..100).map(|i| format!("COIN{i}-USDT")).collect();
    let subscriptions = adapter.subscriptions(&many, &all);
    let mut sent = 0;
    for (index, subscription) in subscriptions.iter().enumerate() {
        assert!(subscription.message.len() <= MAX_REQUEST_BYTES, "{} bytes", subscription.message.len());
        let request: serde_json::Value = serde_json::from_str(&subscription.message).unwrap();
        let args = request["args"].as_array().unwrap().len();
        assert!(args <= ARGS_PER_REQUEST);
        sent += args;
        assert_eq!((subscription.id, request["id"].as_str()), (2 + index as u64, Some((2 + index).to_string().as_str())));
    }
    assert_eq!(sent, 300);
    assert!(subscriptions.len() >= 6, "{} requests", subscriptions.len());
    assert!(adapter.subscriptions(&symbols, &[Channel::AggTrades]).is_empty(), "OKX has no separate aggregated trades");
}

#[test]
fn a_request_is_acknowledged_once_every_arg_is() {
    let mut adapter = OkxAdapter::new();
    let symbols = vec!["BTC-USDT".to_string()];
    let id = adapter.subscriptions(&symbols, &[Channel::Trades, Channel::Quotes])[0].id;
    assert!(adapter.parse(&ack("1", "trades", "BTC-USDT"), NOW).unwrap().acknowledged.is_empty());
    // The same ack again changes nothing.
    assert!(adapter.parse(&ack("1", "trades", "BTC-USDT"), NOW).unwrap().acknowledged.is_empty());
    // Without an echoed `id`, args are matched by channel and instrument.
    let last = r#"{"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"accb8e21"}"#;
    assert_eq!(adapter.parse(last, NOW).unwrap().acknowledged, vec![id]);
    assert!(adapter.parse(last, NOW).unwrap().acknowledged.is_empty());
    // A reconnect starts over with new ids; acks of args not subscribed are ignored.
    let again = adapter.subscriptions(&symbols, &[Channel::Trades])[0].id;
    assert!(adapter.parse(&ack("9", "tickers", "ETH-USDT"), NOW).unwrap().acknowledged.is_empty());
    assert_eq!(adapter.parse(&ack("2", "trades", "BTC-USDT"), NOW).unwrap().acknowledged, vec![again]);
}

#[test]
fn trades_carry_the_taker_side_and_repeats_are_dropped() {
    let mut adapter = OkxAdapter::new();
    let message = trades(
        "BTC-USDT",
        &[("130639474", "buy", "42219.9", "0.12060306", "1630048897897"), ("130639480", "sell", "42219.8", "0.5", "1630048897898")],
    );
    let parsed = adapter.parse(&message, NOW).unwrap();
    let ticks = parsed.ticks();
    assert_eq!(
        (ticks[0].venue.as_str(), ticks[0].symbol.as_str(), ticks[0].price, ticks[0].size, ticks[0].side, ticks[0].time),
        ("okx", "BTC-USDT", 42219.9, 0.12060306, Side::Buy, Timestamp(1_630_048_897_897_000))
    );
    assert_eq!((ticks[0].trade_id.as_deref(), ticks[0].received_at), (Some("130639474"), NOW));
    assert_eq!((ticks[1].side, ticks[1].trade_id.as_deref()), (Side::Sell, Some("130639480")));
    assert!(parsed.events.is_empty() && parsed.duplicates == 0, "ids are not contiguous on OKX: a skip is no gap");

    // Re-sent after a resubscribe: dropped; a later id in the same push is kept.
    let resent = adapter
        .parse(
            &trades(
                "BTC-USDT",
                &[("130639480", "sell", "42219.8", "0.5", "1630048897898"), ("130639481", "buy", "1", "1", "1630048897899")],
            ),
            NOW,
        )
        .unwrap();
    assert_eq!((resent.records.len(), resent.duplicates, resent.events.len()), (1, 1, 0));
    assert_eq!(adapter.parse(&trades("BTC-USDT", &[("5", "buy", "1", "1", "1")]), NOW).unwrap().duplicates, 1);
    // Instruments have separate series; the state is one id per instrument.
    assert_eq!(adapter.parse(&trades("ETH-USDT", &[("5", "buy", "1", "1", "1")]), NOW).unwrap().records.len(), 1);
    assert_eq!(adapter.trade_ids.len(), 2);
    // The last id kept for BTC-USDT is 130639481: it is a duplicate now, the next one is not.
    let mut probe = Parsed::default();
    assert!(!adapter.trade_ids.admit("BTC-USDT", 130639481, &mut probe));
    assert!(adapter.trade_ids.admit("BTC-USDT", 130639482, &mut probe));
}

#[test]
fn tickers_become_quotes() {
    let mut adapter = OkxAdapter::new();
    let parsed = adapter.parse(&ticker("BTC-USDT", ("8888.88", "5"), ("9999.99", "11"), "1597026383085"), NOW).unwrap();
    let Record::Quote(quote) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
    assert_eq!(
        (quote.venue.as_str(), quote.symbol.as_str(), quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size, quote.time),
        ("okx", "BTC-USDT", 8888.88, 5.0, 9999.99, 11.0, Timestamp(1_597_026_383_085_000))
    );
    // The same ticker re-sent (after a resubscribe) is no new quote; a change is.
    let again = adapter.parse(&ticker("BTC-USDT", ("8888.88", "5"), ("9999.99", "11"), "1597026383085"), NOW).unwrap();
    assert_eq!((again.records.len(), again.duplicates), (0, 1));
    assert_eq!(adapter.parse(&ticker("BTC-USDT", ("8888.88", "4"), ("9999.99", "11"), "1597026383185"), NOW).unwrap().records.len(), 1);
    // An empty side: no quote.
    let empty = adapter.parse(&ticker("BTC-USDT", ("", ""), ("9999.99", "11"), "1597026383285"), NOW).unwrap();
    assert_eq!((empty.records.len(), empty.duplicates), (0, 0));
}

#[test]
fn with_tickers_subscribed_the_documented_ticker_yields_the_24_hour_statistics() {
    let mut adapter = OkxAdapter::new();
    let symbols = vec!["BTC-USDT".to_string()];
    let subscriptions = adapter.subscriptions(&symbols, &[Channel::Quotes, Channel::Tickers]);
    assert_eq!(
        subscriptions[0].message, r#"{"args":[{"channel":"tickers","instId":"BTC-USDT"}],"id":"1","op":"subscribe"}"#,
        "one arg for both"
    );
    let documented = r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11","bidPx":"8888.88","bidSz":"5","open24h":"9000","high24h":"10000","low24h":"8888.88","volCcy24h":"2222","vol24h":"2222","sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}]}"#;
    let parsed = adapter.parse(documented, NOW).unwrap();
    assert!(matches!(&parsed.records[0], Record::Quote(quote) if quote.bid_price == 8888.88));
    assert_eq!(
        parsed.records[1],
        Record::Ticker(TickerRecord {
            time: Timestamp(1_597_026_383_085_000),
            received_at: NOW,
            venue: "okx".into(),
            symbol: "BTC-USDT".into(),
            last: 9999.99,
            open_24h: Some(9000.0),
            high_24h: Some(10000.0),
            low_24h: Some(8888.88),
            volume_24h: Some(2222.0),
            quote_volume_24h: Some(2222.0),
            change: Some(9999.99 - 9000.0),
            change_pct: Some((9999.99 - 9000.0) / 9000.0 * 100.0),
        })
    );
    assert_eq!(parsed.records.len(), 2);
    let again = adapter.parse(documented, NOW).unwrap();
    assert_eq!((again.records.len(), again.duplicates), (0, 2), "the quote and the ticker re-sent after a resubscribe");

    // Tickers alone: no quote. A swap's volume is `volCcy24h` (base), without quote volume.
    adapter.subscriptions(&symbols, &[Channel::Tickers]);
    let swap = documented
        .replace(r#""instType":"SPOT","instId":"BTC-USDT""#, r#""instType":"SWAP","instId":"BTC-USDT-SWAP""#)
        .replace(r#""volCcy24h":"2222""#, r#""volCcy24h":"22.5""#);
    let Record::Ticker(ticker) = &adapter.parse(&swap, NOW).unwrap().records[0] else { panic!() };
    assert_eq!((ticker.symbol.as_str(), ticker.volume_24h, ticker.quote_volume_24h), ("BTC-USDT-SWAP", Some(22.5), None));
    // Options have no 24-hour tickers here; an empty last price is none either.
    let option = documented.replace(r#""instType":"SPOT""#, r#""instType":"OPTION""#).replace("1597026383085", "1597026383185");
    assert!(adapter.parse(&option, NOW).unwrap().records.is_empty());
    let untraded = documented.replace(r#""last":"9999.99""#, r#""last":"""#).replace("1597026383085", "1597026383185");
    assert!(adapter.parse(&untraded, NOW).unwrap().records.is_empty());
    let bad = documented.replace(r#""high24h":"10000""#, r#""high24h":"x""#).replace("1597026383085", "1597026383285");
    let rejection = adapter.parse(&bad, NOW).unwrap_err();
    assert_eq!((rejection.code, rejection.detail.contains("`high24h`")), (RejectReason::InvalidField, true));
}

#[test]
fn instruments_are_instrument_ids_with_their_asset_class() {
    let adapter = OkxAdapter::new();
    for (inst_id, asset_class) in
        [("BTC-USDT", "crypto"), ("BTC-USDT-SWAP", "future"), ("BTC-USD-241227", "future"), ("BTC-USD-241227-100000-C", "option")]
    {
        assert_eq!(adapter.instrument(inst_id), Some(Instrument::listed("okx", inst_id, inst_id, Some(asset_class))), "{inst_id}");
    }
}

#[test]
fn only_confirmed_candles_become_bars() {
    let mut adapter = OkxAdapter::new();
    assert!(adapter.parse(&candle("1795348800000", "2", "0"), NOW).unwrap().records.is_empty());
    let parsed = adapter.parse(&candle("1795348800000", "2", "1"), NOW).unwrap();
    let Record::Bar(bar) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
    assert_eq!(
        (bar.venue.as_str(), bar.symbol.as_str(), bar.interval.as_str(), bar.time),
        ("okx", "ETH-USDT", "1m", Timestamp(1_795_348_800_000_000))
    );
    assert_eq!((bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades), (10.0, 12.0, 9.0, 11.0, 2.0, Some(10.5), None));
    // The confirmed bar again is a duplicate; an empty bar has no VWAP.
    assert_eq!(adapter.parse(&candle("1795348800000", "2", "1"), NOW).unwrap().duplicates, 1);
    let Record::Bar(empty) = &adapter.parse(&candle("1795348860000", "0", "1"), NOW).unwrap().records[0] else { panic!() };
    assert_eq!(empty.vwap, None);
    for (venue, ours) in [("1m", "1m"), ("15m", "15m"), ("1H", "1h"), ("4H", "4h"), ("1D", "1d"), ("1W", "1w"), ("1M", "1M"), ("1s", "1s")]
    {
        assert_eq!(bar_interval(venue).unwrap(), ours);
    }
    for unknown in ["", "m", "0m", "1Dutc", "1x"] {
        assert_eq!(bar_interval(unknown).unwrap_err().code, RejectReason::UnknownType, "{unknown}");
    }
    let short = r#"{"arg":{"channel":"candle1m","instId":"ETH-USDT"},"data":[["1795348800000","10"]]}"#;
    assert_eq!(adapter.parse(short, NOW).unwrap_err().code, RejectReason::InvalidRecord);
}

#[test]
fn errors_pongs_and_garbage() {
    let mut adapter = OkxAdapter::new();
    let error = r#"{"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\", \"argss\":[{ \"channel\" : \"tickers\", \"instId\" : \"BTC-USDT\"}]}","connId":"a4d3ae55"}"#;
    let rejection = adapter.parse(error, NOW).unwrap_err();
    assert_eq!(rejection.code, RejectReason::SubscriptionRefused);
    assert!(rejection.detail.contains("60012") && rejection.detail.contains("Invalid request"), "{}", rejection.detail);
    assert_eq!(adapter.heartbeat().as_deref(), Some("ping"));
    let pong = adapter.parse("pong", NOW).unwrap();
    assert!(pong.records.is_empty() && pong.acknowledged.is_empty() && pong.events.is_empty() && pong.duplicates == 0);

    assert_eq!(adapter.parse("{not json", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(adapter.parse("[1,2]", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(
        adapter.parse(r#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[]}"#, NOW).unwrap_err().code,
        RejectReason::UnknownType
    );
    assert_eq!(adapter.parse(r#"{"event":"notice","code":"64008","msg":"upgrade"}"#, NOW).unwrap_err().code, RejectReason::UnknownType);
    assert_eq!(adapter.parse(r#"{"hello":1}"#, NOW).unwrap_err().code, RejectReason::UnknownType);
    assert_eq!(adapter.parse(r#"{"arg":{"channel":"trades","instId":"BTC-USDT"}}"#, NOW).unwrap_err().code, RejectReason::InvalidRecord);
    for (field, message) in [
        ("`px`", trades("BTC-USDT", &[("1", "buy", "abc", "1", "1")])),
        ("`sz`", trades("BTC-USDT", &[("1", "buy", "1", "", "1")])),
        ("`ts`", trades("BTC-USDT", &[("1", "buy", "1", "1", "soon")])),
        ("`tradeId`", trades("BTC-USDT", &[("x1", "buy", "1", "1", "1")])),
        ("`bidPx`", ticker("BTC-USDT", ("x", "1"), ("1", "1"), "1")),
        ("`vol`", candle("1", "x", "1")),
    ] {
        let rejection = adapter.parse(&message, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.contains(field)), (RejectReason::InvalidField, true), "{}", rejection.detail);
    }
    assert!(adapter.trade_ids.is_empty() && adapter.last_quotes.is_empty() && adapter.last_bars.is_empty(), "rejections leave no state");
    let missing = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","px":"1"}]}"#;
    assert_eq!(adapter.parse(missing, NOW).unwrap_err().code, RejectReason::InvalidRecord);
}
