//! The Bybit adapter against the fake venue over real websockets: batched subscriptions
//! and their acks, exact rows for scripted trades, a level-1 order book (snapshot and
//! deltas merged into full quotes) and a confirmed kline, an update-id gap, a pong, a
//! dead letter for garbage, and after a drop the resubscription with a re-sent delta
//! dropped as a duplicate; spot 24-hour tickers with the change fraction in percent.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, now_ms, quote_rows, source, tick_rows, ticker_rows, TickerRow};
use crate::support::{self, wait_for_count};

const BYBIT_ACK: &str = r#"{"success":true,"ret_msg":"subscribe","conn_id":"fake-conn-1","req_id":{id},"op":"subscribe"}"#;

/// One `publicTrade` message; each trade is (id, taker side, price, size, time ms).
fn bybit_trades(symbol: &str, trades: &[(&str, &str, &str, &str, i64)]) -> String {
    let data: Vec<String> = trades
        .iter()
        .map(|(id, side, price, size, time_ms)| {
            format!(r#"{{"T":{time_ms},"s":"{symbol}","S":"{side}","v":"{size}","p":"{price}","L":"PlusTick","i":"{id}","BT":false}}"#)
        })
        .collect();
    let ts = trades.last().map_or(0, |trade| trade.4 + 1);
    format!(r#"{{"topic":"publicTrade.{symbol}","type":"snapshot","ts":{ts},"data":[{}]}}"#, data.join(","))
}

fn bybit_book(symbol: &str, kind: &str, u: u64, bids: &str, asks: &str, cts: i64) -> String {
    format!(
        r#"{{"topic":"orderbook.1.{symbol}","type":"{kind}","ts":{ts},"data":{{"s":"{symbol}","b":{bids},"a":{asks},"u":{u},"seq":{seq}}},"cts":{cts}}}"#,
        ts = cts + 1,
        seq = 50_000 + u
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_rows_gaps_garbage_and_resubscribe() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let kline = |confirm: bool| {
        format!(
            r#"{{"topic":"kline.1.ETHUSDT","data":[{{"start":{base},"end":{end},"interval":"1","open":"3300.10","close":"3301.00","high":"3302.50","low":"3299.00","volume":"4.0","turnover":"13202.0","confirm":{confirm},"timestamp":{end}}}],"ts":{end},"type":"snapshot"}}"#,
            end = base + 59_999
        )
    };
    // Four symbols with three channels each are twelve topics: two subscribe requests.
    let first = vec![
        Step::Expect("subscribe", BYBIT_ACK.to_string()),
        Step::Expect("subscribe", BYBIT_ACK.to_string()),
        Step::Send(bybit_trades(
            "BTCUSDT",
            &[
                ("2100000000000000101", "Buy", "97000.50", "0.010", base + 1_000),
                ("2100000000000000102", "Sell", "97001.00", "0.250", base + 2_000),
            ],
        )),
        Step::Send(r#"{"success":true,"ret_msg":"pong","conn_id":"fake-conn-1","op":"ping"}"#.to_string()),
        Step::Send(bybit_book("ETHUSDT", "snapshot", 100, r#"[["3300.10","1.5"]]"#, r#"[["3300.20","2.5"]]"#, base + 3_000)),
        Step::Send(bybit_book("ETHUSDT", "delta", 101, r#"[["3300.15","0.8"]]"#, "[]", base + 4_000)),
        Step::Send(bybit_book("ETHUSDT", "delta", 104, "[]", r#"[["3300.20","0"],["3300.30","1.0"]]"#, base + 5_000)),
        Step::Send(kline(false)),
        Step::Send(kline(true)),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ];
    let second = vec![
        Step::Expect("subscribe", BYBIT_ACK.to_string()),
        Step::Expect("subscribe", BYBIT_ACK.to_string()),
        Step::Send(bybit_book("ETHUSDT", "delta", 104, "[]", r#"[["3300.20","0"],["3300.30","1.0"]]"#, base + 5_000)),
        Step::Send(bybit_book("ETHUSDT", "delta", 105, r#"[["3300.15","0"],["3300.12","0.4"]]"#, "[]", base + 6_000)),
        Step::Send(bybit_trades("BTCUSDT", &[("2100000000000000103", "Buy", "97003.00", "0.500", base + 7_000)])),
    ];
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(
        SourceKind::Bybit,
        venue.url(),
        &["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"],
        &[Channel::Trades, Channel::Quotes, Channel::Bars],
    )];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'bybit' AND kind = 'resubscribed'", 1).await, 1);
    let received = venue.received.lock().unwrap().clone();
    assert_eq!(
        received[0],
        r#"{"args":["publicTrade.BTCUSDT","orderbook.1.BTCUSDT","kline.1.BTCUSDT","publicTrade.ETHUSDT","orderbook.1.ETHUSDT","kline.1.ETHUSDT","publicTrade.SOLUSDT","orderbook.1.SOLUSDT","kline.1.SOLUSDT","publicTrade.XRPUSDT"],"op":"subscribe","req_id":"1"}"#
    );
    assert_eq!(received[1], r#"{"args":["orderbook.1.XRPUSDT","kline.1.XRPUSDT"],"op":"subscribe","req_id":"2"}"#);
    assert!(received[2].contains(r#""req_id":"3""#) && received[3].contains(r#""req_id":"4""#), "{received:?}");
    daemon.stop().await.expect("clean stop");

    let ticks = tick_rows(&client, "trade_id").await;
    let tick = |id: &str, price: f64, size: f64, side: i16, offset: i64| {
        ("bybit".to_string(), "BTC-USDT".to_string(), id.to_string(), price, size, side, base + offset)
    };
    assert_eq!(
        ticks,
        vec![
            tick("2100000000000000101", 97000.5, 0.01, 1, 1_000),
            tick("2100000000000000102", 97001.0, 0.25, -1, 2_000),
            tick("2100000000000000103", 97003.0, 0.5, 1, 7_000),
        ],
        "`S` is the taker's side"
    );

    let quotes = quote_rows(&client, "time").await;
    let quote = |bid: f64, bid_size: f64, ask: f64, ask_size: f64, offset: i64| {
        ("bybit".to_string(), "ETH-USDT".to_string(), bid, bid_size, ask, ask_size, base + offset)
    };
    assert_eq!(
        quotes,
        vec![
            quote(3300.1, 1.5, 3300.2, 2.5, 3_000),
            quote(3300.15, 0.8, 3300.2, 2.5, 4_000),
            quote(3300.15, 0.8, 3300.3, 1.0, 5_000),
            quote(3300.12, 0.4, 3300.3, 1.0, 6_000),
        ],
        "one-sided deltas keep the other side; the delta re-sent after the resubscribe was dropped"
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
        ("bybit".to_string(), "ETH-USDT".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (3300.1, 3302.5, 3299.0, 3301.0, 4.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), bar.get::<_, i64>(10)), (Some(3300.5), None, base));

    let gap: serde_json::Value =
        client.query_one("SELECT detail FROM feed_events WHERE source = 'bybit' AND kind = 'gap'", &[]).await.unwrap().get(0);
    assert_eq!(gap, serde_json::json!({ "symbol": "ETHUSDT", "stream": "orderbook.1", "missing_from": 102, "missing_to": 103 }));
    assert_eq!(support::feed_events(&client, "bybit", "connected").await, 2);
    assert!(support::feed_events(&client, "bybit", "reconnecting").await >= 1);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'bybit'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(dead_letters, vec![("invalid_json".to_string(), "{not json".to_string())], "the pong is no dead letter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_tickers_in_percent() {
    let ts = now_ms() - 60_000;
    let ticker = |ts: i64| {
        format!(
            r#"{{"topic":"tickers.BTCUSDT","ts":{ts},"type":"snapshot","cs":2588407389,"data":{{"symbol":"BTCUSDT","lastPrice":"97000.5","highPrice24h":"98000","lowPrice24h":"95000.25","prevPrice24h":"95136.7","volume24h":"6780.866843","turnover24h":"651234567.89","price24hPcnt":"0.0196","usdIndexPrice":"97010.2"}}}}"#
        )
    };
    let script = vec![Step::Expect("subscribe", BYBIT_ACK.to_string()), Step::Send(ticker(ts)), Step::Send(ticker(ts))];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Bybit, venue.url(), &["BTCUSDT"], &[Channel::Tickers])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 1).await, 1);
    let instruments = listed_instruments(&client, "bybit", 1).await;
    daemon.stop().await.expect("clean stop");
    assert_eq!(venue.received.lock().unwrap()[0], r#"{"args":["tickers.BTCUSDT"],"op":"subscribe","req_id":"1"}"#);
    assert_eq!(
        ticker_rows(&client).await,
        vec![TickerRow {
            venue: "bybit".into(),
            symbol: "BTC-USDT".into(),
            last: 97000.5,
            open_24h: Some(95136.7),
            high_24h: Some(98000.0),
            low_24h: Some(95000.25),
            volume_24h: Some(6780.866843),
            quote_volume_24h: Some(651234567.89),
            change: Some(97000.5 - 95136.7),
            change_pct: Some(1.96),
            time: ts * 1_000,
            at_receipt: false,
        }],
        "price24hPcnt 0.0196 (a fraction) is 1.96 %; the repeated snapshot is stored once"
    );
    assert_eq!(instruments, vec![("BTC-USDT".to_string(), "BTCUSDT".to_string(), Some("crypto".to_string()))]);
}
