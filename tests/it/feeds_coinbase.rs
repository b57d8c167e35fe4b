//! The Coinbase adapter against the fake venue over real websockets: exact rows for a
//! scripted sequence (sides flipped from the maker's to the taker's), the gap event, the
//! dead letter for garbage, and the duplicate `last_match` dropped after a resubscribe;
//! one `ticker` subscription yielding both quotes and 24-hour tickers, every ticker of a run
//! sharing one microsecond kept (told apart by `sequence`) and a repeated sequence dropped.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};
use hypertick::record::Timestamp;

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, source, ticker_rows, TickerRow};
use crate::support::{self, wait_for_count};

const COINBASE_ACK: &str = r#"{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD","ETH-USD"]},{"name":"ticker","product_ids":["BTC-USD","ETH-USD"]}]}"#;

fn coinbase_match(kind: &str, trade_id: u64, price: &str, size: &str, maker_side: &str, time: Timestamp) -> String {
    format!(
        r#"{{"type":"{kind}","trade_id":{trade_id},"sequence":{sequence},"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"{time}","product_id":"BTC-USD","size":"{size}","price":"{price}","side":"{maker_side}"}}"#,
        sequence = trade_id * 10
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_rows_gaps_garbage_and_resubscribe() {
    // Whole seconds a minute ago plus distinct microseconds, to check them exactly.
    let base = Timestamp(Timestamp::now().micros() / 1_000_000 * 1_000_000 - 60_000_000);
    let at = |micros: i64| Timestamp(base.micros() + micros);
    let ticker = format!(
        r#"{{"type":"ticker","sequence":5015,"product_id":"ETH-USD","price":"3300.15","open_24h":"3250.00","volume_24h":"1200.5","low_24h":"3240.00","high_24h":"3310.00","volume_30d":"40000.1","best_bid":"3300.10","best_bid_size":"1.5","best_ask":"3300.20","best_ask_size":"2.5","side":"buy","time":"{time}","trade_id":77,"last_size":"0.1"}}"#,
        time = at(2_500_001)
    );
    let first = vec![
        Step::Expect("subscribe", COINBASE_ACK.to_string()),
        Step::Send(coinbase_match("last_match", 500, "97000.50", "0.010", "sell", at(1_000_001))),
        Step::Send(coinbase_match("match", 501, "97001.00", "0.250", "buy", at(2_000_002))),
        Step::Send(ticker),
        Step::Send(coinbase_match("match", 504, "97002.00", "0.100", "sell", at(3_000_003))),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ];
    let second = vec![
        Step::Expect("subscribe", COINBASE_ACK.to_string()),
        Step::Send(coinbase_match("last_match", 504, "97002.00", "0.100", "sell", at(3_000_003))),
        Step::Send(coinbase_match("match", 505, "97003.00", "0.500", "buy", at(4_000_004))),
    ];
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources =
        vec![source(SourceKind::Coinbase, venue.url(), &["BTC-USD", "ETH-USD"], &[Channel::Trades, Channel::Quotes, Channel::Bars])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'coinbase' AND kind = 'resubscribed'", 1).await, 1);
    let subscribe = venue.received.lock().unwrap()[0].clone();
    assert_eq!(
        subscribe, r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches","ticker"]}"#,
        "bars are not offered by Coinbase and left out"
    );
    daemon.stop().await.expect("clean stop");

    let micros = |row: &tokio_postgres::Row, index: usize| row.get::<_, chrono::DateTime<chrono::Utc>>(index).timestamp_micros();
    let ticks: Vec<(String, String, String, f64, f64, i16, i64)> = client
        .query("SELECT venue, symbol, trade_id, price, size, side, time FROM ticks ORDER BY trade_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), micros(row, 6)))
        .collect();
    let tick = |id: &str, price: f64, size: f64, side: i16, time: Timestamp| {
        ("coinbase".to_string(), "BTC-USD".to_string(), id.to_string(), price, size, side, time.micros())
    };
    assert_eq!(
        ticks,
        vec![
            tick("500", 97000.5, 0.01, 1, at(1_000_001)),
            tick("501", 97001.0, 0.25, -1, at(2_000_002)),
            tick("504", 97002.0, 0.1, 1, at(3_000_003)),
            tick("505", 97003.0, 0.5, -1, at(4_000_004)),
        ],
        "maker side `sell` is a taker buy (1); the last_match of 504 re-sent after the resubscribe was dropped"
    );
    let quote = client.query_one("SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, time FROM quotes", &[]).await.unwrap();
    assert_eq!((quote.get::<_, String>(0), quote.get::<_, String>(1)), ("coinbase".to_string(), "ETH-USD".to_string()));
    assert_eq!(
        (quote.get::<_, f64>(2), quote.get::<_, f64>(3), quote.get::<_, f64>(4), quote.get::<_, f64>(5)),
        (3300.1, 1.5, 3300.2, 2.5)
    );
    assert_eq!(micros(&quote, 6), at(2_500_001).micros());

    let gap: serde_json::Value =
        client.query_one("SELECT detail FROM feed_events WHERE source = 'coinbase' AND kind = 'gap'", &[]).await.unwrap().get(0);
    assert_eq!(gap, serde_json::json!({ "symbol": "BTC-USD", "stream": "matches", "missing_from": 502, "missing_to": 503 }));
    assert_eq!(support::feed_events(&client, "coinbase", "connected").await, 2);
    assert!(support::feed_events(&client, "coinbase", "disconnected").await >= 1);
    let garbage: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'coinbase'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(garbage, vec![("invalid_json".to_string(), "{not json".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_ticker_yields_quotes_and_tickers() {
    let time = Timestamp(Timestamp::now().micros() / 1_000_000 * 1_000_000 - 60_000_000 + 61_769);
    let ticker = |sequence: u64, price: &str, best_bid: &str| {
        format!(
            r#"{{"type":"ticker","sequence":{sequence},"product_id":"ETH-USD","price":"{price}","open_24h":"3250.00","volume_24h":"245532.79269678","low_24h":"3240.00","high_24h":"3313.80","volume_30d":"9788783.60117027","best_bid":"{best_bid}","best_bid_size":"0.46688654","best_ask":"3300.20","best_ask_size":"1.56637040","side":"buy","time":"{time}","trade_id":370843401,"last_size":"11.4396987"}}"#
        )
    };
    // One ticker per match: four matches in one microsecond, rising sequences, and a
    // repeat of an earlier sequence in between (a replay), which is dropped.
    let script = vec![
        Step::Expect("subscribe", r#"{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["ETH-USD"]}]}"#.to_string()),
        Step::Send(ticker(37475248783, "3300.15", "3300.10")),
        Step::Send(ticker(37475248784, "3300.25", "3300.11")),
        Step::Send(ticker(37475248790, "3300.35", "3300.12")),
        Step::Send(ticker(37475248784, "3300.99", "3300.13")),
        Step::Send(ticker(37475248791, "3300.45", "3300.14")),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Coinbase, venue.url(), &["ETH-USD"], &[Channel::Quotes, Channel::Tickers])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes WHERE bid_price = 3300.14", 1).await, 1);
    let instruments = listed_instruments(&client, "coinbase", 1).await;
    daemon.stop().await.expect("clean stop");
    assert_eq!(
        venue.received.lock().unwrap()[0],
        r#"{"type":"subscribe","product_ids":["ETH-USD"],"channels":["ticker"]}"#,
        "`ticker` once for quotes and tickers"
    );
    let mut rows = ticker_rows(&client).await;
    rows.sort_by(|a, b| a.last.total_cmp(&b.last));
    let row = |last: f64| TickerRow {
        venue: "coinbase".into(),
        symbol: "ETH-USD".into(),
        last,
        open_24h: Some(3250.0),
        high_24h: Some(3313.8),
        low_24h: Some(3240.0),
        volume_24h: Some(245532.79269678),
        quote_volume_24h: None,
        change: Some(last - 3250.0),
        change_pct: Some((last - 3250.0) / 3250.0 * 100.0),
        time: time.micros(),
        at_receipt: false,
    };
    assert_eq!(
        rows,
        vec![row(3300.15), row(3300.25), row(3300.35), row(3300.45)],
        "change and change_pct computed from price and open_24h; every ticker of the run kept, the repeated sequence dropped"
    );
    let quote = client.query_one("SELECT bid_price, ask_size, time FROM quotes WHERE bid_price = 3300.10", &[]).await.unwrap();
    assert_eq!((quote.get::<_, f64>(0), quote.get::<_, f64>(1)), (3300.1, 1.5663704));
    assert_eq!(quote.get::<_, chrono::DateTime<chrono::Utc>>(2).timestamp_micros(), time.micros());
    assert_eq!(instruments, vec![("ETH-USD".to_string(), "ETH-USD".to_string(), Some("crypto".to_string()))]);
}
