//! The Kraken adapter against the fake venue over real websockets: per-symbol
//! acknowledgements, exact rows for a scripted sequence (trades, tickers with and
//! without a time, a candle completed by the next one), a gap event, a dead letter for
//! garbage, and a resubscribe whose snapshot repeats trades already stored; 24-hour
//! tickers (with and without a time) and the instruments with Kraken's symbols.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceConfig, SourceKind};
use hypertick::record::Timestamp;

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, ticker_rows, TickerRow};
use crate::support::{self, count, wait_for_count};

fn kraken_source(url: String, symbols: &[&str], channels: &[Channel]) -> SourceConfig {
    crate::feeds::source(SourceKind::Kraken, url, symbols, channels)
}

/// RFC 3339 with `digits` fractional digits, as Kraken writes times (6, or 9 for
/// candle starts).
fn rfc3339(micros: i64, digits: usize) -> String {
    let time = DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
    match digits {
        9 => time.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        _ => time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    }
}

fn ack(channel: &str, symbol: &str, id: &str) -> String {
    format!(
        r#"{{"method":"subscribe","result":{{"channel":"{channel}","snapshot":true,"symbol":"{symbol}"}},"success":true,"time_in":"2026-11-22T12:00:00.000001Z","time_out":"2026-11-22T12:00:00.000002Z","req_id":{id}}}"#
    )
}

fn trade(id: u64, side: &str, price: &str, qty: &str, micros: i64) -> String {
    format!(
        r#"{{"symbol":"BTC/USD","side":"{side}","price":{price},"qty":{qty},"ord_type":"limit","trade_id":{id},"timestamp":"{}"}}"#,
        rfc3339(micros, 6)
    )
}

fn trades(kind: &str, items: &[String]) -> String {
    format!(r#"{{"channel":"trade","type":"{kind}","data":[{}]}}"#, items.join(","))
}

fn candle(kind: &str, begin_micros: i64, close: &str, high: &str, trades: u32, volume: &str) -> String {
    format!(
        r#"{{"channel":"ohlc","type":"{kind}","timestamp":"{now}","data":[{{"symbol":"ETH/USD","open":3300.1,"high":{high},"low":3299.0,"close":{close},"trades":{trades},"volume":{volume},"vwap":3300.5,"interval_begin":"{begin}","interval":1,"timestamp":"{end}"}}]}}"#,
        now = rfc3339(Timestamp::now().micros(), 9),
        begin = rfc3339(begin_micros, 9),
        end = rfc3339(begin_micros + 60_000_000, 6),
    )
}

const STATUS: &str = r#"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":13834774380200032777,"system":"online","version":"2.0.0"}]}"#;
const HEARTBEAT: &str = r#"{"channel":"heartbeat"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_rows_gaps_garbage_and_resubscribe() {
    // A whole minute, a few minutes ago: the candle of `minute` is completed by the
    // first update of the next one.
    let minute = Timestamp::now().micros() / 60_000_000 * 60_000_000 - 180_000_000;
    let next_minute = minute + 60_000_000;
    let ticker_time = minute + 5_123_456;
    let connect = || {
        vec![
            Step::Send(STATUS.to_string()),
            Step::Expect(r#""channel":"trade""#, ack("trade", "BTC/USD", "{id}")),
            Step::Expect(r#""channel":"ticker""#, ack("ticker", "BTC/USD", "{id}")),
            Step::Expect(r#""channel":"ohlc""#, ack("ohlc", "BTC/USD", "{id}")),
        ]
    };
    let mut first = connect();
    first.extend([
        // Kraken acknowledges once per symbol, with the same req_id.
        Step::Send(ack("trade", "ETH/USD", "1")),
        Step::Send(ack("ticker", "ETH/USD", "2")),
        Step::Send(ack("ohlc", "ETH/USD", "3")),
        Step::Send(trades("snapshot", &[trade(100, "buy", "97000.5", "0.01", minute + 1_000_001), trade(101, "sell", "97001.0", "0.25", minute + 2_000_002)])),
        Step::Send(HEARTBEAT.to_string()),
        Step::Send(trades("update", &[trade(104, "buy", "97002.0", "0.1", minute + 3_000_003)])),
        Step::Send(format!(
            r#"{{"channel":"ticker","type":"snapshot","data":[{{"symbol":"ETH/USD","bid":3300.1,"bid_qty":1.5,"ask":3300.2,"ask_qty":2.5,"last":3300.15,"volume":1000.0,"vwap":3290.0,"low":3200.0,"high":3400.0,"change":10.0,"change_pct":0.3,"timestamp":"{}"}}]}}"#,
            rfc3339(ticker_time, 6)
        )),
        Step::Send(
            r#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":97000.0,"bid_qty":0.5,"ask":97000.5,"ask_qty":0.75,"last":97000.5,"volume":10.0,"vwap":96000.0,"low":95000.0,"high":98000.0,"change":100.0,"change_pct":0.1}]}"#
                .to_string(),
        ),
        Step::Send(candle("update", minute, "3300.5", "3301.0", 3, "1.5")),
        Step::Send(candle("update", minute, "3301.0", "3302.5", 9, "4.0")),
        Step::Send(candle("update", next_minute, "3301.5", "3301.5", 1, "0.5")),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = connect();
    second.extend([
        // The snapshot after the resubscribe repeats stored trades and candles.
        Step::Send(candle("snapshot", minute, "3301.0", "3302.5", 9, "4.0")),
        Step::Send(trades(
            "snapshot",
            &[
                trade(101, "sell", "97001.0", "0.25", minute + 2_000_002),
                trade(104, "buy", "97002.0", "0.1", minute + 3_000_003),
                trade(105, "sell", "97003.0", "0.5", minute + 4_000_004),
            ],
        )),
    ]);
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![kraken_source(venue.url(), &["BTC/USD", "ETH/USD"], &[Channel::Trades, Channel::Quotes, Channel::Bars])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'kraken' AND kind = 'resubscribed'", 1).await, 1);
    let subscribes = venue.received.lock().unwrap().clone();
    assert_eq!(
        subscribes[..3],
        [
            r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD"]},"req_id":1}"#,
            r#"{"method":"subscribe","params":{"channel":"ticker","event_trigger":"bbo","symbol":["BTC/USD","ETH/USD"]},"req_id":2}"#,
            r#"{"method":"subscribe","params":{"channel":"ohlc","interval":1,"symbol":["BTC/USD","ETH/USD"]},"req_id":3}"#,
        ]
    );
    assert!(subscribes[3].ends_with(r#""req_id":4}"#) && subscribes[5].ends_with(r#""req_id":6}"#), "{subscribes:?}");
    daemon.stop().await.expect("clean stop");

    let micros = |time: DateTime<Utc>| time.timestamp_micros();
    let ticks: Vec<(String, String, String, f64, f64, i16, i64)> = client
        .query("SELECT venue, symbol, trade_id, price, size, side, time FROM ticks ORDER BY trade_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), micros(row.get(6))))
        .collect();
    let tick = |id: &str, price: f64, size: f64, side: i16, offset: i64| {
        ("kraken".to_string(), "BTC-USD".to_string(), id.to_string(), price, size, side, minute + offset)
    };
    assert_eq!(
        ticks,
        vec![
            tick("100", 97000.5, 0.01, 1, 1_000_001),
            tick("101", 97001.0, 0.25, -1, 2_000_002),
            tick("104", 97002.0, 0.1, 1, 3_000_003),
            tick("105", 97003.0, 0.5, -1, 4_000_004),
        ],
        "101 and 104, re-sent in the snapshot after the resubscribe, were dropped"
    );

    // venue, symbol, bid, bid size, ask, ask size, time (µs), time = received_at
    type QuoteRow = (String, String, f64, f64, f64, f64, i64, bool);
    let quotes: Vec<QuoteRow> = client
        .query("SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, time, time = received_at FROM quotes ORDER BY symbol", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), micros(row.get(6)), row.get(7)))
        .collect();
    assert_eq!(quotes.len(), 2);
    let (btc, eth) = (&quotes[0], &quotes[1]);
    assert_eq!((btc.0.as_str(), btc.1.as_str(), btc.2, btc.3, btc.4, btc.5), ("kraken", "BTC-USD", 97000.0, 0.5, 97000.5, 0.75));
    assert!(btc.7, "a ticker without a timestamp is stored at its receipt time");
    assert_eq!(
        (eth.0.as_str(), eth.1.as_str(), eth.2, eth.3, eth.4, eth.5, eth.6),
        ("kraken", "ETH-USD", 3300.1, 1.5, 3300.2, 2.5, ticker_time)
    );

    let bar = client
        .query_one("SELECT venue, symbol, \"interval\", open, high, low, close, volume, vwap, trades, time FROM bars", &[])
        .await
        .unwrap();
    assert_eq!(
        (bar.get::<_, String>(0), bar.get::<_, String>(1), bar.get::<_, String>(2)),
        ("kraken".to_string(), "ETH-USD".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (3300.1, 3302.5, 3299.0, 3301.0, 4.0),
        "the candle's last values before the next one began"
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), micros(bar.get(10))), (Some(3300.5), Some(9), minute));

    let gaps: Vec<serde_json::Value> = client
        .query("SELECT detail FROM feed_events WHERE source = 'kraken' AND kind = 'gap'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(gaps, vec![serde_json::json!({ "symbol": "BTC/USD", "stream": "trade", "missing_from": 102, "missing_to": 103 })]);
    assert_eq!(support::feed_events(&client, "kraken", "connected").await, 2);
    assert!(support::feed_events(&client, "kraken", "disconnected").await >= 1);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'kraken'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        dead_letters,
        vec![("invalid_json".to_string(), "{not json".to_string())],
        "acks, status, heartbeats and snapshots are not dead letters"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_tickers_and_instruments() {
    let ticker_time = Timestamp::now().micros() / 1_000_000 * 1_000_000 - 60_000_000 + 742_648;
    let with_time = format!(
        r#"{{"channel":"ticker","type":"snapshot","data":[{{"symbol":"ETH/USD","bid":3300.1,"bid_qty":1.5,"ask":3300.2,"ask_qty":2.5,"last":3300.15,"volume":1000.5,"vwap":3290.25,"low":3200.0,"high":3400.0,"change":-10.5,"change_pct":-0.32,"timestamp":"{}"}}]}}"#,
        rfc3339(ticker_time, 6)
    );
    let script = vec![
        Step::Send(STATUS.to_string()),
        Step::Expect(r#""channel":"ticker""#, ack("ticker", "BTC/USD", "{id}")),
        Step::Send(ack("ticker", "ETH/USD", "1")),
        Step::Send(with_time.clone()),
        // Repeated (as after a resubscribe): not newer, not stored again.
        Step::Send(with_time),
        Step::Send(
            r#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":97000.0,"bid_qty":0.5,"ask":97000.5,"ask_qty":0.75,"last":97000.5,"volume":10.0,"vwap":96000.0,"low":95000.0,"high":98000.0,"change":100.0,"change_pct":0.1}]}"#
                .to_string(),
        ),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![kraken_source(venue.url(), &["BTC/USD", "ETH/USD"], &[Channel::Tickers])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 2).await, 2);
    let instruments = listed_instruments(&client, "kraken", 2).await;
    daemon.stop().await.expect("clean stop");
    assert_eq!(
        venue.received.lock().unwrap()[0],
        r#"{"method":"subscribe","params":{"channel":"ticker","event_trigger":"trades","symbol":["BTC/USD","ETH/USD"]},"req_id":1}"#,
        "tickers alone: an update on every trade"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM quotes").await, 0, "quotes were not asked for");

    let rows = ticker_rows(&client).await;
    assert_eq!(
        rows[1],
        TickerRow {
            venue: "kraken".into(),
            symbol: "ETH-USD".into(),
            last: 3300.15,
            open_24h: Some(3300.15 - -10.5),
            high_24h: Some(3400.0),
            low_24h: Some(3200.0),
            volume_24h: Some(1000.5),
            quote_volume_24h: Some(1000.5 * 3290.25),
            change: Some(-10.5),
            change_pct: Some(-0.32),
            time: ticker_time,
            at_receipt: false,
        },
        "open = last − change and quote volume = volume × vwap; change_pct is Kraken's, in percent"
    );
    let btc = &rows[0];
    assert_eq!((btc.symbol.as_str(), btc.last, btc.open_24h, btc.change_pct), ("BTC-USD", 97000.5, Some(96900.5), Some(0.1)));
    assert!(btc.at_receipt, "a ticker without a timestamp is stored at its receipt time");
    assert_eq!(
        instruments,
        vec![
            ("BTC-USD".to_string(), "BTC/USD".to_string(), Some("crypto".to_string())),
            ("ETH-USD".to_string(), "ETH/USD".to_string(), Some("crypto".to_string())),
        ]
    );
}
