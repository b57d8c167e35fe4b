//! The generic json adapter against the fake venue over real websockets, configured in
//! TOML as a user would: a Binance-like feed (acks echoing the request id, millisecond
//! times, a "buyer is maker" flag, a gap, a duplicate after the reconnect, garbage and
//! an unmatched message dead-lettered), and a differently shaped feed (records in a
//! `/data` array, RFC 3339 and decimal-second times, string numbers, no acks, a
//! heartbeat, one bad element dead-lettered while the rest of its message is kept).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hypertick::app::Daemon;
use hypertick::config::SourceConfig;

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, now_ms};
use crate::support::{self, wait_for_count};

/// The one source of a configuration file's `[[sources]]` section, as check-config reads it.
fn json_source(sources_toml: &str) -> SourceConfig {
    let text = format!("[database]\nurl = \"postgres://u@h/db\"\n{sources_toml}");
    let config = hypertick::app::load_config_str(&text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
    config.sources.into_iter().next().expect("one source")
}

/// Connection settings for a quick test: fast pings, reconnects and watchdog.
const QUICK: &str =
    "silence_timeout_ms = 1500\nping_interval_ms = 500\nsubscribe_timeout_ms = 5000\nreconnect_initial_ms = 50\nreconnect_max_ms = 200";

fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn binance_trade(id: u64, price: &str, size: &str, time_ms: i64, buyer_is_maker: bool) -> String {
    format!(
        r#"{{"e":"trade","E":{time_ms},"s":"BTCUSDT","t":{id},"p":"{price}","q":"{size}","T":{time_ms},"m":{buyer_is_maker},"M":true}}"#
    )
}

const BINANCE_ACK: &str = r#"{"result":null,"id":{id}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_like_feed_rows_gap_dead_letters_and_resubscribe() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let kline = |closed: bool| {
        format!(
            r#"{{"e":"kline","E":{e},"s":"ETHUSDT","k":{{"t":{base},"T":{end},"s":"ETHUSDT","i":"1m","f":1,"L":9,"o":"3300.10","c":"3301.00","h":"3302.50","l":"3299.00","v":"4.0","n":9,"x":{closed},"q":"13202.0"}}}}"#,
            e = base + 60_000,
            end = base + 59_999
        )
    };
    let subscribe = || vec![Step::Expect("btcusdt@trade", BINANCE_ACK.to_string()), Step::Expect("ethusdt@trade", BINANCE_ACK.to_string())];
    let unmatched =
        r#"{"e":"24hrMiniTicker","E":1,"s":"BTCUSDT","c":"97000.00","o":"96000.00","h":"98000.00","l":"95000.00","v":"10","q":"970000"}"#;
    let mut first = subscribe();
    first.extend([
        Step::Send(binance_trade(100, "97000.50", "0.010", base + 1_000, true)),
        Step::Send(binance_trade(101, "97001.00", "0.250", base + 2_000, false)),
        Step::Send(r#"{"u":400900217,"s":"ETHUSDT","b":"3300.10","B":"1.5","a":"3300.20","A":"2.5"}"#.to_string()),
        Step::Send(kline(false)),
        Step::Send(kline(true)),
        Step::Send(binance_trade(104, "97002.00", "0.100", base + 3_000, true)),
        Step::Send("{not json".to_string()),
        Step::Send(unmatched.to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = subscribe();
    second.extend([
        Step::Send(binance_trade(104, "97002.00", "0.100", base + 3_000, true)),
        Step::Send(binance_trade(105, "97003.00", "0.500", base + 4_000, false)),
    ]);
    let venue = FakeVenue::start(vec![first, second]).await;
    let source = json_source(&format!(
        r#"
[[sources]]
kind = "json"
name = "binance_like"
url = "{url}"
symbols = ["btcusdt", "ethusdt"]
{QUICK}
[sources.json]
venue = "binance_json"
subscribe = ['{{"method":"SUBSCRIBE","params":["{{symbol}}@trade","{{symbol}}@bookTicker","{{symbol}}@kline_1m"],"id":{{id}}}}']
ack = {{ present = ["/result"], id = "/id" }}
ignore = [{{ match = {{ "/e" = "kline", "/k/x" = false }} }}]

[[sources.json.records]]
table = "ticks"
name = "trades"
match = {{ "/e" = "trade" }}
fields = {{ symbol = "/s", price = "/p", size = "/q", side = "/m", trade_id = "/t", time = "/T" }}
time_format = "ms"
side = {{ buy = false, sell = true }}
symbol_rewrite = {{ split_quote = true }}
sequence = "/t"

[[sources.json.records]]
table = "quotes"
present = ["/u", "/b", "/a"]
fields = {{ symbol = "/s", bid_price = "/b", bid_size = "/B", ask_price = "/a", ask_size = "/A" }}
time_format = "received"
symbol_rewrite = {{ split_quote = true }}

[[sources.json.records]]
table = "bars"
match = {{ "/e" = "kline", "/k/x" = true }}
fields = {{ symbol = "/s", time = "/k/t", interval = "/k/i", open = "/k/o", high = "/k/h", low = "/k/l", close = "/k/c", volume = "/k/v", trades = "/k/n" }}
time_format = "ms"
symbol_rewrite = {{ split_quote = true }}
"#,
        url = venue.url()
    ));
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'binance_like' AND kind = 'resubscribed'", 1).await,
        1
    );
    let received = venue.received.lock().unwrap().clone();
    assert_eq!(
        received[..4],
        [
            r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker","btcusdt@kline_1m"],"id":1}"#,
            r#"{"method":"SUBSCRIBE","params":["ethusdt@trade","ethusdt@bookTicker","ethusdt@kline_1m"],"id":2}"#,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker","btcusdt@kline_1m"],"id":3}"#,
            r#"{"method":"SUBSCRIBE","params":["ethusdt@trade","ethusdt@bookTicker","ethusdt@kline_1m"],"id":4}"#,
        ],
        "one message per symbol, with fresh ids on the reconnect"
    );
    daemon.stop().await.expect("clean stop");
    assert_eq!(
        listed_instruments(&client, "binance_json", 2).await,
        vec![("BTC-USDT".to_string(), "BTCUSDT".to_string(), None), ("ETH-USDT".to_string(), "ETHUSDT".to_string(), None)],
        "the venue symbols as the messages spell them, not as the subscribe templates do (btcusdt)"
    );

    let ticks: Vec<(String, String, String, f64, f64, i16, i64)> = client
        .query("SELECT venue, symbol, trade_id, price, size, side, time FROM ticks ORDER BY trade_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), micros(row.get(6))))
        .collect();
    let tick = |id: &str, price: f64, size: f64, side: i16, offset_ms: i64| {
        ("binance_json".to_string(), "BTC-USDT".to_string(), id.to_string(), price, size, side, (base + offset_ms) * 1_000)
    };
    assert_eq!(
        ticks,
        vec![
            tick("100", 97000.5, 0.01, -1, 1_000),
            tick("101", 97001.0, 0.25, 1, 2_000),
            tick("104", 97002.0, 0.1, -1, 3_000),
            tick("105", 97003.0, 0.5, 1, 4_000),
        ],
        "buyer is maker → a selling taker; 104 re-sent after the reconnect was dropped"
    );
    let quote = client
        .query_one("SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, time = received_at FROM quotes", &[])
        .await
        .unwrap();
    assert_eq!((quote.get::<_, String>(0), quote.get::<_, String>(1)), ("binance_json".to_string(), "ETH-USDT".to_string()));
    assert_eq!(
        (quote.get::<_, f64>(2), quote.get::<_, f64>(3), quote.get::<_, f64>(4), quote.get::<_, f64>(5)),
        (3300.1, 1.5, 3300.2, 2.5)
    );
    assert!(quote.get::<_, bool>(6), "time_format = \"received\" stores the receipt time");
    let bar = client
        .query_one("SELECT venue, symbol, \"interval\", open, high, low, close, volume, vwap, trades, time FROM bars", &[])
        .await
        .unwrap();
    assert_eq!(
        (bar.get::<_, String>(0), bar.get::<_, String>(1), bar.get::<_, String>(2)),
        ("binance_json".to_string(), "ETH-USDT".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (3300.1, 3302.5, 3299.0, 3301.0, 4.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), micros(bar.get(10))), (None, Some(9), base * 1_000));

    let gaps: Vec<serde_json::Value> = client
        .query("SELECT detail FROM feed_events WHERE source = 'binance_like' AND kind = 'gap'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(gaps, vec![serde_json::json!({ "symbol": "BTCUSDT", "stream": "trades", "missing_from": 102, "missing_to": 103 })]);
    assert_eq!(support::feed_events(&client, "binance_like", "connected").await, 2);
    assert!(support::feed_events(&client, "binance_like", "disconnected").await >= 1);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'binance_like' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        dead_letters,
        vec![("invalid_json".to_string(), "{not json".to_string()), ("unmatched".to_string(), unmatched.to_string())],
        "acks and the open kline (an ignore rule) are no dead letters"
    );
}

/// RFC 3339 with microseconds.
fn rfc3339(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn trades(items: &[(&str, &str, &str, &str, i64)]) -> String {
    let data: Vec<String> = items
        .iter()
        .map(|(id, side, price, amount, micros)| {
            format!(
                r#"{{"pair":"BTC/USD","id":"{id}","side":"{side}","price":"{price}","amount":"{amount}","time":"{}"}}"#,
                rfc3339(*micros)
            )
        })
        .collect();
    format!(r#"{{"channel":"trades","data":[{}]}}"#, data.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_feed_without_acks_rows_heartbeat_bad_element_and_resubscribe() {
    let minute = now_ms() / 60_000 * 60_000 * 1_000 - 180_000_000;
    let subscribed = |channel: &str| format!(r#"{{"op":"subscribed","channel":"{channel}"}}"#);
    let subscribe =
        || vec![Step::Expect(r#""channel":"trades""#, subscribed("trades")), Step::Expect(r#""channel":"book""#, subscribed("book"))];
    let bad_quote = format!(r#"{{"pair":"ETH/USD","ask":{{"price":"3300.2","size":"2"}},"time":"{}"}}"#, rfc3339(minute + 6_000_000));
    let refused = r#"{"op":"error","message":"unknown pair XRP/USD"}"#;
    let mut first = subscribe();
    first.extend([
        Step::Send(trades(&[("t-1", "b", "97000.5", "0.01", minute + 1_000_001), ("t-2", "s", "97001", "0.25", minute + 2_000_002)])),
        Step::Send("pong".to_string()),
        Step::Send(format!(
            r#"{{"channel":"book","data":[{{"pair":"BTC/USD","bid":{{"price":"97000.0","size":"0.5"}},"ask":{{"price":"97000.5","size":"0.75"}},"time":"{}"}},{bad_quote}]}}"#,
            rfc3339(minute + 5_123_456)
        )),
        Step::Send(format!(
            r#"{{"channel":"candles","closed":true,"data":[{{"pair":"ETH/USD","interval":"1m","start":"{}.000000","o":"3300.1","h":"3302.5","l":"3299","c":"3301","v":"4","vwap":"3300.5","n":"9"}}]}}"#,
            minute / 1_000_000
        )),
        Step::Send(refused.to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = subscribe();
    second.push(Step::Send(trades(&[("t-3", "b", "97002", "1", minute + 3_000_003)])));
    let venue = FakeVenue::start(vec![first, second]).await;
    let source = json_source(&format!(
        r#"
[[sources]]
kind = "json"
name = "arrayfeed"
url = "{url}"
symbols = ["BTC/USD", "ETH/USD"]
{QUICK}
[sources.json]
venue = "arrayvenue"
subscribe = ['{{"op":"subscribe","channel":"trades","pairs":{{symbols}}}}', '{{"op":"subscribe","channel":"book","pairs":{{symbols}}}}']
heartbeat = '{{"op":"ping"}}'
ignore_text = ["pong"]
ignore = [{{ match = {{ "/op" = "subscribed" }} }}]

[[sources.json.records]]
table = "ticks"
match = {{ "/channel" = "trades" }}
each = "/data"
fields = {{ symbol = "/pair", price = "/price", size = "/amount", side = "/side", trade_id = "/id", time = "/time" }}
time_format = "rfc3339"
side = {{ buy = "b", sell = "s" }}
symbol_rewrite = {{ separator = "/" }}

[[sources.json.records]]
table = "quotes"
match = {{ "/channel" = "book" }}
each = "/data"
fields = {{ symbol = "/pair", bid_price = "/bid/price", bid_size = "/bid/size", ask_price = "/ask/price", ask_size = "/ask/size", time = "/time" }}
time_format = "rfc3339"
symbol_rewrite = {{ separator = "/" }}

[[sources.json.records]]
table = "bars"
match = {{ "/channel" = "candles", "/closed" = true }}
each = "/data"
fields = {{ symbol = "/pair", time = "/start", interval = "/interval", open = "/o", high = "/h", low = "/l", close = "/c", volume = "/v", vwap = "/vwap", trades = "/n" }}
time_format = "s"
symbol_rewrite = {{ separator = "/" }}
"#,
        url = venue.url()
    ));
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'arrayfeed' AND kind = 'resubscribed'", 1).await,
        1,
        "without acks the source is resubscribed once its messages are sent"
    );
    // The second connection stays open: its pings carry the heartbeat.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !venue.received.lock().unwrap().iter().any(|message| message == r#"{"op":"ping"}"#) {
        assert!(std::time::Instant::now() < deadline, "a heartbeat within 10 s: {:?}", venue.received.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = venue.received.lock().unwrap().clone();
    let subscribes: Vec<&String> = received.iter().filter(|message| message.contains("subscribe")).collect();
    assert_eq!(
        subscribes[..4],
        [
            r#"{"op":"subscribe","channel":"trades","pairs":["BTC/USD","ETH/USD"]}"#,
            r#"{"op":"subscribe","channel":"book","pairs":["BTC/USD","ETH/USD"]}"#,
            r#"{"op":"subscribe","channel":"trades","pairs":["BTC/USD","ETH/USD"]}"#,
            r#"{"op":"subscribe","channel":"book","pairs":["BTC/USD","ETH/USD"]}"#,
        ]
    );
    daemon.stop().await.expect("clean stop");

    let ticks: Vec<(String, String, String, f64, f64, i16, i64)> = client
        .query("SELECT venue, symbol, trade_id, price, size, side, time FROM ticks ORDER BY trade_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), micros(row.get(6))))
        .collect();
    let tick = |id: &str, price: f64, size: f64, side: i16, offset: i64| {
        ("arrayvenue".to_string(), "BTC-USD".to_string(), id.to_string(), price, size, side, minute + offset)
    };
    assert_eq!(
        ticks,
        vec![tick("t-1", 97000.5, 0.01, 1, 1_000_001), tick("t-2", 97001.0, 0.25, -1, 2_000_002), tick("t-3", 97002.0, 1.0, 1, 3_000_003)]
    );
    let quote = client.query_one("SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, time FROM quotes", &[]).await.unwrap();
    assert_eq!((quote.get::<_, String>(0), quote.get::<_, String>(1)), ("arrayvenue".to_string(), "BTC-USD".to_string()));
    assert_eq!(
        (quote.get::<_, f64>(2), quote.get::<_, f64>(3), quote.get::<_, f64>(4), quote.get::<_, f64>(5), micros(quote.get(6))),
        (97000.0, 0.5, 97000.5, 0.75, minute + 5_123_456),
        "the good element of the book message is kept"
    );
    let bar = client
        .query_one("SELECT venue, symbol, \"interval\", open, high, low, close, volume, vwap, trades, time FROM bars", &[])
        .await
        .unwrap();
    assert_eq!(
        (bar.get::<_, String>(0), bar.get::<_, String>(1), bar.get::<_, String>(2)),
        ("arrayvenue".to_string(), "ETH-USD".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (3300.1, 3302.5, 3299.0, 3301.0, 4.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), micros(bar.get(10))), (Some(3300.5), Some(9), minute));

    assert_eq!(support::feed_events(&client, "arrayfeed", "connected").await, 2);
    let dead_letters: Vec<(String, String, String)> = client
        .query("SELECT reason, detail, raw FROM dead_letters WHERE source = 'arrayfeed' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let bad_quote_as_stored = serde_json::from_str::<serde_json::Value>(&bad_quote).unwrap().to_string();
    assert_eq!(
        dead_letters,
        vec![
            ("missing_field".to_string(), "quotes.bid_price: /bid/price is missing".to_string(), bad_quote_as_stored),
            (
                "unmatched".to_string(),
                "the message matches no records rule, ack or ignore rule of this json source".to_string(),
                refused.to_string()
            ),
        ],
        "the text pong and the subscribed replies are ignored"
    );
}
