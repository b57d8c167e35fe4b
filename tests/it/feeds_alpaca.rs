//! The Alpaca adapter against the fake venue over real websockets: the `connected`
//! greeting, the auth request (carrying the credentials from `APCA_API_KEY_ID` /
//! `APCA_API_SECRET_KEY`) and the subscribe request each acknowledged, exact rows for
//! scripted trades (ids neither contiguous nor increasing: no gap), quotes and a minute
//! bar with nanosecond times cut to the microsecond, a good element kept next to a bad
//! one, a dead letter for garbage, and after a drop the same handshake again, a re-sent
//! trade dropped and a new one stored.

use std::sync::Once;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

/// Test-only credentials; no other test reads these variables.
const KEY_ID: &str = "it-alpaca-key-id";
const SECRET: &str = "it-alpaca-secret-key";

fn set_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("APCA_API_KEY_ID", KEY_ID);
        std::env::set_var("APCA_API_SECRET_KEY", SECRET);
    });
}

/// An RFC 3339 time with nanoseconds, as Alpaca writes it: `micros` plus 789 ns.
fn nanos(micros: i64) -> String {
    let time = DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
    format!("{}789Z", time.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

fn trade(id: u64, exchange: &str, price: &str, size: u64, micros: i64) -> String {
    format!(r#"{{"T":"t","S":"AAPL","i":{id},"x":"{exchange}","p":{price},"s":{size},"c":["@"],"z":"C","t":"{}"}}"#, nanos(micros))
}

fn quote(symbol: &str, bid: (&str, u64), ask: (&str, u64), micros: i64) -> String {
    format!(
        r#"{{"T":"q","S":"{symbol}","bx":"V","bp":{},"bs":{},"ax":"V","ap":{},"as":{},"c":["R"],"z":"C","t":"{}"}}"#,
        bid.0,
        bid.1,
        ask.0,
        ask.1,
        nanos(micros)
    )
}

fn handshake() -> Vec<Step> {
    vec![
        Step::Send(r#"[{"T":"success","msg":"connected"}]"#.to_string()),
        Step::Expect("auth", r#"[{"T":"success","msg":"authenticated"}]"#.to_string()),
        Step::Expect(
            "subscribe",
            r#"[{"T":"subscription","trades":["AAPL","MSFT"],"quotes":["AAPL","MSFT"],"bars":["AAPL","MSFT"],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"corrections":["AAPL","MSFT"],"cancelErrors":["AAPL","MSFT"]}]"#
                .to_string(),
        ),
    ]
}

#[test]
fn the_commented_alpaca_example_config_is_valid_with_credentials_in_the_environment() {
    let file = crate::feeds::commented_example("alpaca");
    let credentials = vec![("APCA_API_KEY_ID".to_string(), "id".to_string()), ("APCA_API_SECRET_KEY".to_string(), "secret".to_string())];
    let config = hypertick::app::load_config_str(&file, credentials).expect("the alpaca example is valid");
    let source = &config.sources[0];
    assert_eq!((source.kind, source.name().as_str()), (SourceKind::Alpaca, "alpaca"));
    assert_eq!(source.symbols, ["AAPL", "MSFT"]);
    assert_eq!(source.channels, [Channel::Trades, Channel::Quotes, Channel::Bars]);
    let errors = hypertick::app::load_config_str(&file, Vec::new()).expect_err("no credentials").0;
    let keys: Vec<(&str, bool)> = errors.iter().map(|error| (error.key.as_str(), error.message.contains("APCA_API_"))).collect();
    assert_eq!(keys, [("sources[0].kind", true), ("sources[0].kind", true)], "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_rows_duplicates_garbage_and_resubscribe() {
    set_credentials();
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    // Every time has sub-millisecond digits (µs 456, then 789 ns that are cut).
    let at = |offset_ms: i64| (base + offset_ms) * 1_000 + 456;
    let bar = format!(
        r#"[{{"T":"b","S":"MSFT","o":410.1,"h":410.9,"l":409.8,"c":410.5,"v":12000,"t":"{}","n":95,"vw":410.25}}]"#,
        DateTime::<Utc>::from_timestamp_millis(base).unwrap().format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut first = handshake();
    first.extend([
        // Ids from two exchanges, not increasing: both stored, no gap.
        Step::Send(format!("[{},{}]", trade(52983525029461, "V", "187.31", 100, at(1_000)), trade(71675, "V", "187.32", 5, at(2_000)))),
        Step::Send(format!("[{}]", quote("AAPL", ("187.30", 3), ("187.33", 2), at(3_000)))),
        Step::Send(bar),
        // A good quote next to a bad element: the quote is kept.
        Step::Send(format!(r#"[{},{{"T":"q","S":"MSFT","bp":"x"}}]"#, quote("MSFT", ("410.40", 1), ("410.60", 4), at(4_000)))),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = handshake();
    second.extend([
        Step::Send(format!("[{}]", trade(71675, "V", "187.32", 5, at(2_000)))),
        Step::Send(format!("[{}]", trade(71680, "V", "187.40", 200, at(7_000)))),
    ]);
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Alpaca, venue.url(), &["AAPL", "MSFT"], &[Channel::Trades, Channel::Quotes, Channel::Bars])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'alpaca' AND kind = 'resubscribed'", 1).await, 1);
    let received = venue.received.lock().unwrap().clone();
    let auth = format!(r#"{{"action":"auth","key":"{KEY_ID}","secret":"{SECRET}"}}"#);
    let subscribe = r#"{"action":"subscribe","trades":["AAPL","MSFT"],"quotes":["AAPL","MSFT"],"bars":["AAPL","MSFT"]}"#;
    assert_eq!(received, vec![auth.clone(), subscribe.to_string(), auth, subscribe.to_string()], "auth then subscribe, on each connection");
    daemon.stop().await.expect("clean stop");

    let ticks: Vec<(String, String, String, f64, f64, i16, i64)> = client
        .query(
            "SELECT venue, symbol, trade_id, price, size, side, (extract(epoch FROM time) * 1000000)::bigint
               FROM ticks ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    let tick = |id: &str, price: f64, size: f64, offset: i64| {
        ("alpaca".to_string(), "AAPL".to_string(), id.to_string(), price, size, 0i16, at(offset))
    };
    assert_eq!(
        ticks,
        vec![tick("52983525029461", 187.31, 100.0, 1_000), tick("71675", 187.32, 5.0, 2_000), tick("71680", 187.4, 200.0, 7_000)],
        "side unknown; times cut to the µs; the trade re-sent after the reconnect was dropped"
    );

    let quotes: Vec<(String, String, f64, f64, f64, f64, i64)> = client
        .query(
            "SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, (extract(epoch FROM time) * 1000000)::bigint
               FROM quotes ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    assert_eq!(
        quotes,
        vec![
            ("alpaca".to_string(), "AAPL".to_string(), 187.3, 3.0, 187.33, 2.0, at(3_000)),
            ("alpaca".to_string(), "MSFT".to_string(), 410.4, 1.0, 410.6, 4.0, at(4_000)),
        ],
        "sizes in round lots as sent"
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
        ("alpaca".to_string(), "MSFT".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (410.1, 410.9, 409.8, 410.5, 12000.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), bar.get::<_, i64>(10)), (Some(410.25), Some(95), base));

    assert_eq!(support::feed_events(&client, "alpaca", "gap").await, 0, "ids are not contiguous");
    assert_eq!(support::feed_events(&client, "alpaca", "connected").await, 2);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'alpaca' ORDER BY reason", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        dead_letters,
        vec![
            ("invalid_field".to_string(), r#"{"T":"q","S":"MSFT","bp":"x"}"#.to_string()),
            ("invalid_json".to_string(), "{not json".to_string()),
        ],
        "the bad element next to a good quote is kept on its own"
    );
    let all = client.query("SELECT detail::text FROM feed_events WHERE source = 'alpaca'", &[]).await.unwrap();
    assert!(all.iter().all(|row| !row.get::<_, String>(0).contains(SECRET)), "the secret is in no feed event");
}
