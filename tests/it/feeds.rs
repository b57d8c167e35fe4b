//! Venue feeds against the fake venue over real websockets: exact rows for a scripted
//! sequence, reconnect and resubscribe after a drop, gap events, dead letters for
//! garbage and oversized messages, and the silent-feed watchdog.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceConfig, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::support::{self, count, wait_for_count};

pub fn source(kind: SourceKind, url: String, symbols: &[&str], channels: &[Channel]) -> SourceConfig {
    SourceConfig {
        kind,
        name: None,
        url: Some(url),
        rest_url: None,
        symbols: symbols.iter().map(|symbol| symbol.to_string()).collect(),
        channels: channels.to_vec(),
        connect_timeout_ms: std::num::NonZeroU64::new(5_000).unwrap(),
        silence_timeout_ms: std::num::NonZeroU64::new(1_500).unwrap(),
        ping_interval_ms: std::num::NonZeroU64::new(500).unwrap(),
        subscribe_timeout_ms: std::num::NonZeroU64::new(5_000).unwrap(),
        reconnect_initial_ms: std::num::NonZeroU64::new(50).unwrap(),
        reconnect_max_ms: 200,
        max_message_bytes: 64 * 1024,
        book_depth: None,
        book_snapshot_depth: std::num::NonZeroU32::new(20).unwrap(),
        book_snapshot_interval_ms: 10_000,
        open_interest_poll_ms: std::num::NonZeroU64::new(60_000).unwrap(),
        instruments_poll_ms: std::num::NonZeroU64::new(3_600_000).unwrap(),
        rest_timeout_ms: std::num::NonZeroU64::new(2_000).unwrap(),
        json: None,
        record: None,
        record_rotate_bytes: 256 << 20,
        record_rotate_secs: std::num::NonZeroU64::new(3_600).unwrap(),
        record_zstd: false,
    }
}

/// `hypertick replay --max` of every capture file in `captures` into a new database
/// `replayed` of `cluster`, through a `kind` source of `symbols` and `channels` (their
/// configuration names); returns a client of that database.
pub async fn replay_captures(
    cluster: &hypertick::db::throwaway::ThrowawayCluster,
    live: &tokio_postgres::Client,
    captures: &std::path::Path,
    kind: &str,
    symbols: &[&str],
    channels: &[&str],
) -> tokio_postgres::Client {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(captures).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.retain(|path| path.extension().is_none_or(|extension| extension != "toml"));
    files.sort();
    assert!(!files.is_empty(), "the session was recorded");
    live.batch_execute("CREATE DATABASE replayed").await.unwrap();
    let config_path = captures.join("replay.toml");
    let quoted = |names: &[&str]| names.iter().map(|name| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        &config_path,
        format!(
            "[database]\nurl = \"{}\"\n\n[[sources]]\nkind = \"{kind}\"\nsymbols = [{}]\nchannels = [{}]\n",
            cluster.url("replayed"),
            quoted(symbols),
            quoted(channels),
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hypertick"))
        .args(["replay", "--max", "--config"])
        .arg(&config_path)
        .args(&files)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run hypertick replay");
    let printed = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{printed}");
    hypertick::db::connect(&cluster.url("replayed"), Duration::from_secs(10)).await.unwrap()
}

/// The commented `[[sources]]` example of `kind` in `config/hypertick.toml`, uncommented,
/// after a `[database]` section: a whole configuration file. The example runs until the
/// first line that is not a commented key, table header (`[sources.json]` and the like)
/// or comment.
pub fn commented_example(kind: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hypertick.toml")).unwrap();
    let start = text
        .find(&format!("# [[sources]]\n# kind = \"{kind}\""))
        .unwrap_or_else(|| panic!("a commented {kind} example in config/hypertick.toml"));
    let uncommented: Vec<&str> = text[start..]
        .lines()
        .map_while(|line| line.strip_prefix("# "))
        .take_while(|line| line.starts_with('[') || line.starts_with('#') || line.contains(" = "))
        .collect();
    format!("[database]\nurl = \"postgres://u@h/db\"\n{}", uncommented.join("\n"))
}

#[test]
fn every_venue_has_a_commented_example_that_is_valid() {
    use hypertick::source::{alpaca, polygon};
    let credentials: Vec<(String, String)> = [alpaca::KEY_VARIABLE, alpaca::SECRET_VARIABLE, polygon::API_KEY_VARIABLE]
        .iter()
        .map(|name| (name.to_string(), "test-only".to_string()))
        .collect();
    for kind in ["coinbase", "bybit", "kraken", "okx", "deribit", "alpaca", "polygon", "json"] {
        let config = hypertick::app::load_config_str(&commented_example(kind), credentials.clone())
            .unwrap_or_else(|errors| panic!("the {kind} example: {errors}"));
        assert_eq!(config.sources.len(), 1, "{kind}");
        assert_eq!(config.sources[0].kind.name(), kind);
    }
    let json = hypertick::app::load_config_str(&commented_example("json"), Vec::new()).unwrap();
    let feed = json.sources[0].json.as_ref().expect("the json example's [sources.json] section");
    assert_eq!((feed.venue.as_str(), feed.records.len(), feed.ignore.len()), ("binance", 2, 1), "the whole nested example is read");
    hypertick::source::json::JsonAdapter::new(&json.sources[0]).expect("the json example compiles");
}

#[test]
fn the_readme_json_example_is_valid_and_reads_its_sample_message() {
    use hypertick::record::{Record, Side, Timestamp};
    use hypertick::source::feed::VenueAdapter;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```toml\n[[sources]]\nkind = \"json\"").expect("a json example in README.md") + "```toml\n".len();
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let config = hypertick::app::load_config_str(&format!("[database]\nurl = \"postgres://u@h/db\"\n{example}"), Vec::new())
        .unwrap_or_else(|errors| panic!("the README's json example: {errors}"));
    let mut adapter = hypertick::source::json::JsonAdapter::new(&config.sources[0]).unwrap();
    let message = r#"{"channel":"trades","data":[{"pair":"BTC/USD","seq":7,"id":"t-7","side":"s","price":"97000.5","amount":"0.01","time":"2026-11-22T12:00:00.123456Z"}]}"#;
    let parsed = adapter.parse(message, Timestamp(0)).expect("the README's sample message");
    let [Record::Tick(tick)] = &parsed.records[..] else { panic!("{parsed:?}") };
    assert_eq!(
        (tick.venue.as_str(), tick.symbol.as_str(), tick.price, tick.size, tick.side, tick.trade_id.as_deref(), tick.time),
        (
            "examplevenue",
            "BTC-USD",
            97000.5,
            0.01,
            Side::Sell,
            Some("t-7"),
            Timestamp::parse_rfc3339("2026-11-22T12:00:00.123456Z").unwrap()
        )
    );
}

pub fn now_ms() -> i64 {
    hypertick::record::Timestamp::now().micros() / 1_000
}

/// One `tickers` row; `time` in µs since the epoch, `at_receipt` when it equals `received_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerRow {
    pub venue: String,
    pub symbol: String,
    pub last: f64,
    pub open_24h: Option<f64>,
    pub high_24h: Option<f64>,
    pub low_24h: Option<f64>,
    pub volume_24h: Option<f64>,
    pub quote_volume_24h: Option<f64>,
    pub change: Option<f64>,
    pub change_pct: Option<f64>,
    pub time: i64,
    pub at_receipt: bool,
}

/// Every `tickers` row, by venue, symbol and time.
/// Every tick as (venue, symbol, trade_id, price, size, side, time in ms), by `order_by`.
pub async fn tick_rows(client: &tokio_postgres::Client, order_by: &str) -> Vec<(String, String, String, f64, f64, i16, i64)> {
    client
        .query(
            &format!(
                "SELECT venue, symbol, trade_id, price, size, side, (extract(epoch FROM time) * 1000)::bigint
                   FROM ticks ORDER BY {order_by}"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect()
}

/// Every quote as (venue, symbol, bid, bid size, ask, ask size, time in ms), by `order_by`.
pub async fn quote_rows(client: &tokio_postgres::Client, order_by: &str) -> Vec<(String, String, f64, f64, f64, f64, i64)> {
    client
        .query(
            &format!(
                "SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, (extract(epoch FROM time) * 1000)::bigint
                   FROM quotes ORDER BY {order_by}"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect()
}

pub async fn ticker_rows(client: &tokio_postgres::Client) -> Vec<TickerRow> {
    client
        .query(
            "SELECT venue, symbol, last, open_24h, high_24h, low_24h, volume_24h, quote_volume_24h, change, change_pct,
                    time, time = received_at
               FROM tickers ORDER BY venue, symbol, time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| TickerRow {
            venue: row.get(0),
            symbol: row.get(1),
            last: row.get(2),
            open_24h: row.get(3),
            high_24h: row.get(4),
            low_24h: row.get(5),
            volume_24h: row.get(6),
            quote_volume_24h: row.get(7),
            change: row.get(8),
            change_pct: row.get(9),
            time: row.get::<_, chrono::DateTime<chrono::Utc>>(10).timestamp_micros(),
            at_receipt: row.get(11),
        })
        .collect()
}

/// The `instruments` rows of `venue` that carry the venue's symbol, once `expected` of
/// them are there: (symbol, venue_symbol, asset_class), by symbol.
pub async fn listed_instruments(client: &tokio_postgres::Client, venue: &str, expected: i64) -> Vec<(String, String, Option<String>)> {
    let query = format!("SELECT count(*) FROM instruments WHERE venue = '{venue}' AND venue_symbol IS NOT NULL");
    assert_eq!(wait_for_count(client, &query, expected).await, expected, "{venue} instruments with a venue_symbol");
    client
        .query(
            "SELECT symbol, venue_symbol, asset_class FROM instruments WHERE venue = $1 AND venue_symbol IS NOT NULL ORDER BY symbol",
            &[&venue],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

fn binance_trade(symbol: &str, id: u64, price: &str, size: &str, time_ms: i64, buyer_is_maker: bool) -> String {
    format!(
        r#"{{"e":"trade","E":{time_ms},"s":"{symbol}","t":{id},"p":"{price}","q":"{size}","T":{time_ms},"m":{buyer_is_maker},"M":true}}"#
    )
}

const BINANCE_ACK: &str = r#"{"result":null,"id":{id}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_rows_gaps_garbage_and_resubscribe() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let kline = |closed: bool| {
        format!(
            r#"{{"e":"kline","E":{e},"s":"ETHUSDT","k":{{"t":{base},"T":{end},"s":"ETHUSDT","i":"1m","f":1,"L":9,"o":"3300.10","c":"3301.00","h":"3302.50","l":"3299.00","v":"4.0","n":9,"x":{closed},"q":"13202.0","V":"2","Q":"1","B":"0"}}}}"#,
            e = base + 60_000,
            end = base + 59_999
        )
    };
    let first = vec![
        Step::Expect("SUBSCRIBE", BINANCE_ACK.to_string()),
        Step::Send(binance_trade("BTCUSDT", 100, "97000.50", "0.010", base + 1_000, true)),
        Step::Send(binance_trade("BTCUSDT", 101, "97001.00", "0.250", base + 2_000, false)),
        Step::Send(
            r#"{"stream":"ethusdt@bookTicker","data":{"u":400900217,"s":"ETHUSDT","b":"3300.10","B":"1.5","a":"3300.20","A":"2.5"}}"#
                .to_string(),
        ),
        Step::Send(kline(false)),
        Step::Send(kline(true)),
        Step::Send(binance_trade("BTCUSDT", 104, "97002.00", "0.100", base + 3_000, true)),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ];
    let second = vec![
        Step::Expect("SUBSCRIBE", BINANCE_ACK.to_string()),
        Step::Send(binance_trade("BTCUSDT", 104, "97002.00", "0.100", base + 3_000, true)),
        Step::Send(binance_trade("BTCUSDT", 105, "97003.00", "0.500", base + 4_000, false)),
    ];
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources =
        vec![source(SourceKind::Binance, venue.url(), &["BTCUSDT", "ETHUSDT"], &[Channel::Trades, Channel::Quotes, Channel::Bars])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'binance' AND kind = 'resubscribed'", 1).await, 1);
    let subscribe = venue.received.lock().unwrap()[0].clone();
    assert_eq!(
        subscribe,
        r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker","btcusdt@kline_1m","ethusdt@trade","ethusdt@bookTicker","ethusdt@kline_1m"]}"#
    );
    daemon.stop().await.expect("clean stop");

    let ticks = tick_rows(&client, "trade_id").await;
    let tick = |id: &str, price: f64, size: f64, side: i16, offset: i64| {
        ("binance".to_string(), "BTC-USDT".to_string(), id.to_string(), price, size, side, base + offset)
    };
    assert_eq!(
        ticks,
        vec![
            tick("100", 97000.5, 0.01, -1, 1_000),
            tick("101", 97001.0, 0.25, 1, 2_000),
            tick("104", 97002.0, 0.1, -1, 3_000),
            tick("105", 97003.0, 0.5, 1, 4_000),
        ],
        "the duplicate of 104 re-sent after the resubscribe was dropped"
    );
    let quote =
        client.query_one("SELECT symbol, bid_price, bid_size, ask_price, ask_size, time = received_at FROM quotes", &[]).await.unwrap();
    assert_eq!(quote.get::<_, String>(0), "ETH-USDT");
    assert_eq!(
        (quote.get::<_, f64>(1), quote.get::<_, f64>(2), quote.get::<_, f64>(3), quote.get::<_, f64>(4)),
        (3300.1, 1.5, 3300.2, 2.5)
    );
    assert!(quote.get::<_, bool>(5), "spot book tickers carry no time: receipt time stands in");
    let bar = client
        .query_one(
            "SELECT symbol, \"interval\", open, high, low, close, volume, vwap, trades, (extract(epoch FROM time) * 1000)::bigint FROM bars",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((bar.get::<_, String>(0), bar.get::<_, String>(1)), ("ETH-USDT".to_string(), "1m".to_string()));
    assert_eq!(
        (bar.get::<_, f64>(2), bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6)),
        (3300.1, 3302.5, 3299.0, 3301.0, 4.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(7), bar.get::<_, Option<i64>>(8), bar.get::<_, i64>(9)), (Some(3300.5), Some(9), base));

    let gap: serde_json::Value = client.query_one("SELECT detail FROM feed_events WHERE kind = 'gap'", &[]).await.unwrap().get(0);
    assert_eq!((gap["symbol"].as_str(), gap["missing_from"].as_u64(), gap["missing_to"].as_u64()), (Some("BTCUSDT"), Some(102), Some(103)));
    assert_eq!(support::feed_events(&client, "binance", "connected").await, 2);
    assert!(support::feed_events(&client, "binance", "disconnected").await >= 1);
    assert!(support::feed_events(&client, "binance", "reconnecting").await >= 1);
    let garbage: (String, String) = {
        let row = client.query_one("SELECT reason, raw FROM dead_letters WHERE source = 'binance'", &[]).await.unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(garbage, ("invalid_json".to_string(), "{not json".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_and_silence_force_a_reconnect() {
    let base = now_ms() - 60_000;
    let venue = FakeVenue::start(vec![
        vec![Step::Expect("SUBSCRIBE", BINANCE_ACK.to_string()), Step::SendLarge(100 * 1024)],
        vec![
            Step::Expect("SUBSCRIBE", BINANCE_ACK.to_string()),
            Step::Send(binance_trade("BTCUSDT", 1, "1.5", "2", base, false)),
            Step::Silence,
        ],
        vec![Step::Expect("SUBSCRIBE", BINANCE_ACK.to_string()), Step::Send(binance_trade("BTCUSDT", 2, "1.6", "2", base + 1, true))],
    ])
    .await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Binance, venue.url(), &["BTCUSDT"], &[Channel::Trades])];
    // Pings go out every 500 ms and the fake venue answers them: pongs must not hide
    // that no data arrives.
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 2).await, 2);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'frame_too_large'", 1).await,
        1,
        "the oversized message is kept as a dead letter"
    );
    let silent = count(&client, "SELECT count(*) FROM feed_events WHERE kind = 'error' AND detail->>'reason' LIKE 'silent%'").await;
    assert_eq!(silent, 1, "the watchdog noticed the silent connection");
    assert!(venue.connections.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    daemon.stop().await.expect("clean stop");
}

fn binance_ticker(symbol: &str, event_ms: i64, last: &str, open: &str, change: &str, change_pct: &str) -> String {
    format!(
        r#"{{"e":"24hrTicker","E":{event_ms},"s":"{symbol}","p":"{change}","P":"{change_pct}","w":"96000.0","x":"{open}","c":"{last}","Q":"0.01","b":"96999.0","B":"1","a":"97001.0","A":"2","o":"{open}","h":"98000.00","l":"95000.50","v":"1234.5","q":"119000000.25","O":0,"C":86400000,"F":1,"L":100,"n":100}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_tickers_and_instruments() {
    let base = now_ms() / 1_000 * 1_000 - 60_000;
    let script = vec![
        Step::Expect("SUBSCRIBE", BINANCE_ACK.to_string()),
        Step::Send(binance_ticker("BTCUSDT", base + 1_001, "97000.50", "96000.00", "1000.50", "1.042")),
        Step::Send(format!(
            r#"{{"stream":"ethusdt@ticker","data":{}}}"#,
            binance_ticker("ETHUSDT", base + 1_002, "3300.25", "3250.00", "50.25", "1.546")
        )),
        // The same ticker again (as after a resubscribe) is not stored twice.
        Step::Send(binance_ticker("BTCUSDT", base + 1_001, "97000.50", "96000.00", "1000.50", "1.042")),
        Step::Send(binance_ticker("BTCUSDT", base + 2_003, "97001.00", "96000.00", "1001.00", "1.043")),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Binance, venue.url(), &["BTCUSDT", "ETHUSDT"], &[Channel::Tickers])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 3).await, 3);
    let instruments = listed_instruments(&client, "binance", 2).await;
    daemon.stop().await.expect("clean stop");
    assert_eq!(venue.received.lock().unwrap()[0], r#"{"id":1,"method":"SUBSCRIBE","params":["btcusdt@ticker","ethusdt@ticker"]}"#);

    let row = |symbol: &str, last: f64, open: f64, change: f64, change_pct: f64, time_ms: i64| TickerRow {
        venue: "binance".into(),
        symbol: symbol.into(),
        last,
        open_24h: Some(open),
        high_24h: Some(98000.0),
        low_24h: Some(95000.5),
        volume_24h: Some(1234.5),
        quote_volume_24h: Some(119000000.25),
        change: Some(change),
        change_pct: Some(change_pct),
        time: time_ms * 1_000,
        at_receipt: false,
    };
    assert_eq!(
        ticker_rows(&client).await,
        vec![
            row("BTC-USDT", 97000.5, 96000.0, 1000.5, 1.042, base + 1_001),
            row("BTC-USDT", 97001.0, 96000.0, 1001.0, 1.043, base + 2_003),
            row("ETH-USDT", 3300.25, 3250.0, 50.25, 1.546, base + 1_002),
        ],
        "the venue's statistics at its event time E; P is already in percent"
    );
    assert_eq!(
        instruments,
        vec![
            ("BTC-USDT".to_string(), "BTCUSDT".to_string(), Some("crypto".to_string())),
            ("ETH-USDT".to_string(), "ETHUSDT".to_string(), Some("crypto".to_string())),
        ],
        "each configured symbol beside ours, recorded once subscribed"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters").await, 0);
}
