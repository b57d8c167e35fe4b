//! The OKX adapter against the fake venue over real websockets: one subscribe request
//! acknowledged arg by arg, exact rows for scripted trades (non-contiguous trade ids are
//! no gap), a ticker and a confirmed candle (the unconfirmed one is no bar), the text
//! `pong`, the text `ping` heartbeat, a dead letter for garbage, and after a drop the
//! resubscription with a re-sent trade and ticker dropped as duplicates; 24-hour tickers
//! of a spot pair and a swap; and `options`: `opt-summary` of an instrument family,
//! exact `options_quotes` rows (IVs in percent), the contracts' `instruments` rows and a
//! bad contract dead-lettered on its own.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, now_ms, quote_rows, source, tick_rows, ticker_rows, TickerRow};
use crate::support::{self, wait_for_count};

/// The acknowledgement of one arg; only the first carries the echoed request id.
fn okx_ack(channel: &str, inst_id: &str, with_id: bool) -> String {
    let id = if with_id { r#""id":{id},"# } else { "" };
    format!(r#"{{{id}"event":"subscribe","arg":{{"channel":"{channel}","instId":"{inst_id}"}},"connId":"fake-conn-1"}}"#)
}

/// The six acks of a BTC-USDT + ETH-USDT subscription to trades, tickers and candle1m.
fn okx_acks() -> Vec<Step> {
    let mut steps = vec![Step::Expect("subscribe", okx_ack("trades", "BTC-USDT", true))];
    for (channel, inst_id) in
        [("tickers", "BTC-USDT"), ("candle1m", "BTC-USDT"), ("trades", "ETH-USDT"), ("tickers", "ETH-USDT"), ("candle1m", "ETH-USDT")]
    {
        steps.push(Step::Send(okx_ack(channel, inst_id, false)));
    }
    steps
}

/// One `trades` push; each trade is (trade id, taker side, price, size, time ms).
fn okx_trades(inst_id: &str, trades: &[(&str, &str, &str, &str, i64)]) -> String {
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

fn okx_ticker(inst_id: &str, bid: (&str, &str), ask: (&str, &str), ts: i64) -> String {
    format!(
        r#"{{"arg":{{"channel":"tickers","instId":"{inst_id}"}},"data":[{{"instType":"SPOT","instId":"{inst_id}","last":"3300.2","lastSz":"0.1","askPx":"{}","askSz":"{}","bidPx":"{}","bidSz":"{}","open24h":"3250","high24h":"3310","low24h":"3240","volCcy24h":"1000000","vol24h":"300","sodUtc0":"3260","sodUtc8":"3270","ts":"{ts}"}}]}}"#,
        ask.0, ask.1, bid.0, bid.1
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_rows_duplicates_garbage_and_resubscribe() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let candle = |confirm: &str| {
        format!(
            r#"{{"arg":{{"channel":"candle1m","instId":"ETH-USDT"}},"data":[["{base}","3300.10","3302.50","3299.00","3301.00","4.0","13202.0","13202.0","{confirm}"]]}}"#
        )
    };
    let mut first = okx_acks();
    first.extend([
        Step::Send(okx_trades(
            "BTC-USDT",
            &[("130639474", "buy", "97000.50", "0.010", base + 1_000), ("130639479", "sell", "97001.00", "0.250", base + 2_000)],
        )),
        Step::Send("pong".to_string()),
        Step::Send(okx_ticker("ETH-USDT", ("3300.10", "1.5"), ("3300.20", "2.5"), base + 3_000)),
        Step::Send(candle("0")),
        Step::Send(candle("1")),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = okx_acks();
    second.extend([
        Step::Send(okx_trades("BTC-USDT", &[("130639479", "sell", "97001.00", "0.250", base + 2_000)])),
        Step::Send(okx_ticker("ETH-USDT", ("3300.10", "1.5"), ("3300.20", "2.5"), base + 3_000)),
        Step::Send(okx_ticker("ETH-USDT", ("3300.15", "0.8"), ("3300.30", "1.0"), base + 6_000)),
        Step::Send(okx_trades("BTC-USDT", &[("130639483", "buy", "97003.00", "0.500", base + 7_000)])),
    ]);
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources =
        vec![source(SourceKind::Okx, venue.url(), &["BTC-USDT", "ETH-USDT"], &[Channel::Trades, Channel::Quotes, Channel::Bars])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'okx' AND kind = 'resubscribed'", 1).await, 1);
    // The text heartbeat goes out with the websocket pings (every 500 ms here).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !venue.received.lock().unwrap().iter().any(|text| text == "ping") && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = venue.received.lock().unwrap().clone();
    let subscribes: Vec<&String> = received.iter().filter(|text| text.contains("subscribe")).collect();
    assert_eq!(
        subscribes[0],
        r#"{"args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"},{"channel":"candle1m","instId":"BTC-USDT"},{"channel":"trades","instId":"ETH-USDT"},{"channel":"tickers","instId":"ETH-USDT"},{"channel":"candle1m","instId":"ETH-USDT"}],"id":"1","op":"subscribe"}"#
    );
    assert_eq!(subscribes.len(), 2, "{received:?}");
    assert!(subscribes[1].contains(r#""id":"2""#), "{received:?}");
    assert!(received.iter().any(|text| text == "ping"), "the text heartbeat: {received:?}");
    daemon.stop().await.expect("clean stop");

    let ticks = tick_rows(&client, "trade_id").await;
    let tick = |id: &str, price: f64, size: f64, side: i16, offset: i64| {
        ("okx".to_string(), "BTC-USDT".to_string(), id.to_string(), price, size, side, base + offset)
    };
    assert_eq!(
        ticks,
        vec![
            tick("130639474", 97000.5, 0.01, 1, 1_000),
            tick("130639479", 97001.0, 0.25, -1, 2_000),
            tick("130639483", 97003.0, 0.5, 1, 7_000),
        ],
        "`side` is the taker's side; the trade re-sent after the resubscribe was dropped"
    );

    let quotes = quote_rows(&client, "time").await;
    let quote = |bid: f64, bid_size: f64, ask: f64, ask_size: f64, offset: i64| {
        ("okx".to_string(), "ETH-USDT".to_string(), bid, bid_size, ask, ask_size, base + offset)
    };
    assert_eq!(
        quotes,
        vec![quote(3300.1, 1.5, 3300.2, 2.5, 3_000), quote(3300.15, 0.8, 3300.3, 1.0, 6_000)],
        "the ticker re-sent after the resubscribe was dropped"
    );

    let bar = client
        .query_one(
            "SELECT venue, symbol, \"interval\", open, high, low, close, volume, vwap, trades, (extract(epoch FROM time) * 1000)::bigint FROM bars",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (bar.get::<_, String>(0), bar.get::<_, String>(1), bar.get::<_, String>(2)),
        ("okx".to_string(), "ETH-USDT".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (3300.1, 3302.5, 3299.0, 3301.0, 4.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), bar.get::<_, i64>(10)), (Some(3300.5), None, base));

    assert_eq!(support::feed_events(&client, "okx", "gap").await, 0, "trade ids may skip on OKX");
    assert_eq!(support::feed_events(&client, "okx", "connected").await, 2);
    assert!(support::feed_events(&client, "okx", "reconnecting").await >= 1);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'okx'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(dead_letters, vec![("invalid_json".to_string(), "{not json".to_string())], "the pong is no dead letter");
}

/// One `opt-summary` element in the documented shape; `vols` are (markVol, bidVol, askVol).
fn okx_option_summary(inst_id: &str, ts: i64, delta_bs: &str, vols: (&str, &str, &str)) -> String {
    format!(
        r#"{{"instType":"OPTION","instId":"{inst_id}","uly":"BTC-USD","delta":"0.4011","gamma":"1.12","vega":"0.00151","theta":"-0.00063","lever":"18.2","markVol":"{}","bidVol":"{}","askVol":"{}","realVol":"","deltaBS":"{delta_bs}","gammaBS":"0.0000201","thetaBS":"-61.3","vegaBS":"151.72","ts":"{ts}","fwdPx":"98210.5","volLv":"0.55"}}"#,
        vols.0, vols.1, vols.2
    )
}

fn okx_option_push(elements: &[String]) -> String {
    format!(r#"{{"arg":{{"channel":"opt-summary","instFamily":"BTC-USD"}},"data":[{}]}}"#, elements.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_options_write_option_quotes_and_option_instruments() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let (call, put, later) = ("BTC-USD-261225-100000-C", "BTC-USD-261225-90000-P", "BTC-USD-270326-120000-C");
    let bad = okx_option_summary("BTC-USD-SWAP", base + 3_000, "0.5", ("0.5", "0.5", "0.5"));
    let script = vec![
        Step::Expect(
            "subscribe",
            r#"{"id":{id},"event":"subscribe","arg":{"channel":"opt-summary","instFamily":"BTC-USD"},"connId":"fake-conn-1"}"#.to_string(),
        ),
        Step::Send(okx_option_push(&[
            okx_option_summary(call, base + 1_000, "0.4213", ("0.5605", "0.552", "0.569")),
            okx_option_summary(put, base + 1_000, "-0.2405", ("0.584", "0", "0.6")),
        ])),
        // The whole family again: the put unchanged (no new row), the call updated.
        Step::Send(okx_option_push(&[
            okx_option_summary(call, base + 2_000, "0.4225", ("0.561", "0.554", "0.5695")),
            okx_option_summary(put, base + 1_000, "-0.2405", ("0.584", "0", "0.6")),
        ])),
        // A contract that is no option is dead-lettered on its own.
        Step::Send(okx_option_push(&[bad.clone(), okx_option_summary(later, base + 3_000, "0.3", ("0.61", "", "0.63"))])),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Okx, venue.url(), &["BTC-USD"], &[Channel::Options])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM options_quotes", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instruments WHERE asset_class = 'option'", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE source = 'okx'", 1).await, 1);
    let received = venue.received.lock().unwrap().clone();
    daemon.stop().await.expect("clean stop");

    assert_eq!(
        received.iter().find(|text| text.contains("subscribe")).unwrap(),
        r#"{"args":[{"channel":"opt-summary","instFamily":"BTC-USD"}],"id":"1","op":"subscribe"}"#
    );
    type Row = (String, String, String, String, f64, String, i64, Vec<Option<f64>>);
    let rows: Vec<Row> = client
        .query(
            "SELECT venue, symbol, underlying, option_type, strike, expiration::text, (extract(epoch FROM time) * 1000)::bigint,
                    ARRAY[bid, ask, last, mark, volume, open_interest, delta, gamma, theta, vega, rho, iv, bid_iv, ask_iv, underlying_price]
               FROM options_quotes ORDER BY time, symbol",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7)))
        .collect();
    let row = |symbol: &str, kind: &str, strike: f64, expiration: &str, offset: i64, delta: f64, ivs: [Option<f64>; 3]| {
        let values = [
            None,
            None,
            None,
            None,
            None,
            None,
            Some(delta),
            Some(0.0000201),
            Some(-61.3),
            Some(151.72),
            None,
            ivs[0],
            ivs[1],
            ivs[2],
            Some(98210.5),
        ];
        (
            "okx".to_string(),
            symbol.to_string(),
            "BTC-USD".to_string(),
            kind.to_string(),
            strike,
            expiration.to_string(),
            base + offset,
            values.to_vec(),
        )
    };
    assert_eq!(
        rows,
        vec![
            row(call, "call", 100_000.0, "2026-12-25", 1_000, 0.4213, [Some(56.05), Some(55.2), Some(56.9)]),
            row(put, "put", 90_000.0, "2026-12-25", 1_000, -0.2405, [Some(58.4), None, Some(60.0)]),
            row(call, "call", 100_000.0, "2026-12-25", 2_000, 0.4225, [Some(56.1), Some(55.4), Some(56.95)]),
            row(later, "call", 120_000.0, "2027-03-26", 3_000, 0.3, [Some(61.0), None, Some(63.0)]),
        ],
        "IVs in percent (OKX's fractions × 100), the Black-Scholes greeks, fwdPx as the underlying price, no prices; the unchanged put not repeated"
    );

    let instruments: Vec<(String, String, String, String, String, f64, String)> = client
        .query(
            "SELECT venue, symbol, asset_class, underlying, expiration::text, strike, option_type FROM instruments WHERE asset_class = 'option' ORDER BY symbol",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    let instrument = |symbol: &str, expiration: &str, strike: f64, kind: &str| {
        (
            "okx".to_string(),
            symbol.to_string(),
            "option".to_string(),
            "BTC-USD".to_string(),
            expiration.to_string(),
            strike,
            kind.to_string(),
        )
    };
    assert_eq!(
        instruments,
        vec![
            instrument(call, "2026-12-25", 100_000.0, "call"),
            instrument(put, "2026-12-25", 90_000.0, "put"),
            instrument(later, "2027-03-26", 120_000.0, "call"),
        ]
    );
    let dead_letter: (String, String) = {
        let row = client.query_one("SELECT reason, raw FROM dead_letters WHERE source = 'okx'", &[]).await.unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(dead_letter, ("invalid_field".to_string(), bad), "the bad contract alone, with its raw text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_tickers_of_spot_and_swap() {
    let ts = now_ms() - 60_000;
    let swap = format!(
        r#"{{"arg":{{"channel":"tickers","instId":"BTC-USDT-SWAP"}},"data":[{{"instType":"SWAP","instId":"BTC-USDT-SWAP","last":"97000.5","lastSz":"1","askPx":"97001","askSz":"10","bidPx":"97000","bidSz":"12","open24h":"96000","high24h":"98000","low24h":"95000","volCcy24h":"1234.5","vol24h":"123450","sodUtc0":"96500","sodUtc8":"96600","ts":"{}"}}]}}"#,
        ts + 1
    );
    let script = vec![
        Step::Expect("subscribe", okx_ack("tickers", "ETH-USDT", true)),
        Step::Send(okx_ack("tickers", "BTC-USDT-SWAP", false)),
        Step::Send(okx_ticker("ETH-USDT", ("3300.10", "1.5"), ("3300.20", "2.5"), ts)),
        Step::Send(okx_ticker("ETH-USDT", ("3300.10", "1.5"), ("3300.20", "2.5"), ts)),
        Step::Send(swap),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Okx, venue.url(), &["ETH-USDT", "BTC-USDT-SWAP"], &[Channel::Tickers])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 2).await, 2);
    let instruments = listed_instruments(&client, "okx", 2).await;
    daemon.stop().await.expect("clean stop");
    assert_eq!(support::count(&client, "SELECT count(*) FROM quotes").await, 0, "quotes were not asked for");
    assert_eq!(
        ticker_rows(&client).await,
        vec![
            TickerRow {
                venue: "okx".into(),
                symbol: "BTC-USDT-SWAP".into(),
                last: 97000.5,
                open_24h: Some(96000.0),
                high_24h: Some(98000.0),
                low_24h: Some(95000.0),
                volume_24h: Some(1234.5),
                quote_volume_24h: None,
                change: Some(97000.5 - 96000.0),
                change_pct: Some((97000.5 - 96000.0) / 96000.0 * 100.0),
                time: (ts + 1) * 1_000,
                at_receipt: false,
            },
            TickerRow {
                venue: "okx".into(),
                symbol: "ETH-USDT".into(),
                last: 3300.2,
                open_24h: Some(3250.0),
                high_24h: Some(3310.0),
                low_24h: Some(3240.0),
                volume_24h: Some(300.0),
                quote_volume_24h: Some(1000000.0),
                change: Some(3300.2 - 3250.0),
                change_pct: Some((3300.2 - 3250.0) / 3250.0 * 100.0),
                time: ts * 1_000,
                at_receipt: false,
            },
        ],
        "a swap's volume is volCcy24h (base currency); the re-sent spot ticker is stored once"
    );
    assert_eq!(
        instruments,
        vec![
            ("BTC-USDT-SWAP".to_string(), "BTC-USDT-SWAP".to_string(), Some("future".to_string())),
            ("ETH-USDT".to_string(), "ETH-USDT".to_string(), Some("crypto".to_string())),
        ]
    );
}
