//! The Polygon.io stocks adapter against the fake venue over real websockets: the
//! `connected` status, auth with the key from `POLYGON_API_KEY`, one subscribe request
//! acknowledged topic by topic, exact rows for scripted trades (non-contiguous `q` is no
//! gap), an NBBO quote and a minute aggregate, a dead letter for garbage, and after a
//! drop the same handshake with a re-sent trade dropped as a duplicate.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source, tick_rows};
use crate::support::{self, wait_for_count};

/// A value only this test uses; no real key is needed against the fake venue.
const TEST_KEY: &str = "it-polygon-test-key";

const CONNECTED: &str = r#"[{"ev":"status","status":"connected","message":"Connected Successfully"}]"#;
const AUTH_SUCCESS: &str = r#"[{"ev":"status","status":"auth_success","message":"authenticated"}]"#;

fn subscribed(topic: &str) -> String {
    format!(r#"{{"ev":"status","status":"success","message":"subscribed to: {topic}"}}"#)
}

/// The handshake of one connection: AAPL and MSFT on trades, quotes and minute bars.
/// The first three topics are confirmed in one array, the others one message each.
fn handshake() -> Vec<Step> {
    let mut steps = vec![
        Step::Send(CONNECTED.to_string()),
        Step::Expect(r#""action":"auth""#, AUTH_SUCCESS.to_string()),
        Step::Expect(r#""action":"subscribe""#, format!("[{},{},{}]", subscribed("T.AAPL"), subscribed("Q.AAPL"), subscribed("AM.AAPL"))),
    ];
    for topic in ["T.MSFT", "Q.MSFT", "AM.MSFT"] {
        steps.push(Step::Send(format!("[{}]", subscribed(topic))));
    }
    steps
}

/// One trade element: (trade id, price, size, time ms, sequence number).
fn trade(sym: &str, id: &str, price: &str, size: u32, t: i64, q: u64) -> String {
    format!(r#"{{"ev":"T","sym":"{sym}","x":4,"i":"{id}","z":3,"p":{price},"s":{size},"c":[0,12],"t":{t},"q":{q}}}"#)
}

#[test]
fn the_commented_polygon_example_config_is_valid_with_the_key_in_the_environment() {
    let file = crate::feeds::commented_example("polygon");
    let errors = hypertick::app::load_config_str(&file, Vec::new()).expect_err("no key in the environment").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "sources[0].kind");
    assert!(errors[0].message.contains("POLYGON_API_KEY"), "{}", errors[0].message);
    let environment = vec![("POLYGON_API_KEY".to_string(), TEST_KEY.to_string())];
    let config = hypertick::app::load_config_str(&file, environment).expect("the polygon example is valid");
    let source = &config.sources[0];
    assert_eq!((source.kind, source.name().as_str()), (SourceKind::Polygon, "polygon"));
    assert_eq!(source.symbols, ["AAPL", "MSFT"]);
    assert_eq!(source.channels, [Channel::Trades, Channel::Quotes, Channel::Bars]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polygon_rows_duplicates_garbage_and_resubscribe() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let mut first = handshake();
    first.extend([
        Step::Send(format!(
            "[{},{}]",
            trade("AAPL", "52983525029461", "187.25", 100, base + 1_000, 1_001),
            trade("AAPL", "52983525029470", "187.3", 25, base + 2_000, 1_005)
        )),
        Step::Send(format!(
            r#"[{{"ev":"Q","sym":"MSFT","bx":4,"bp":414.12,"bs":2,"ax":7,"ap":414.15,"as":3,"c":0,"t":{},"q":2001}}]"#,
            base + 3_000
        )),
        Step::Send(format!(
            r#"[{{"ev":"AM","sym":"MSFT","v":4110,"av":9470157,"op":413.5,"vw":414.125,"o":414.0,"c":414.2,"h":414.5,"l":413.75,"a":413.9,"z":685,"s":{base},"e":{}}}]"#,
            base + 60_000
        )),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = handshake();
    second.push(Step::Send(format!(
        "[{},{}]",
        trade("AAPL", "52983525029470", "187.3", 25, base + 2_000, 1_005),
        trade("AAPL", "52983525029480", "187.5", 10, base + 7_000, 1_009)
    )));
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Polygon, venue.url(), &["AAPL", "MSFT"], &[Channel::Trades, Channel::Quotes, Channel::Bars])];
    // The adapter reads its key from the environment when it is built.
    std::env::set_var("POLYGON_API_KEY", TEST_KEY);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'polygon' AND kind = 'resubscribed'", 1).await, 1);
    let received = venue.received.lock().unwrap().clone();
    let auth = format!(r#"{{"action":"auth","params":"{TEST_KEY}"}}"#);
    let subscribe = r#"{"action":"subscribe","params":"T.AAPL,Q.AAPL,AM.AAPL,T.MSFT,Q.MSFT,AM.MSFT"}"#;
    // A later renewal by the watchdog would only repeat the same pair.
    assert!(received.len() >= 4, "{received:?}");
    assert_eq!(received[..4], [auth.clone(), subscribe.to_string(), auth, subscribe.to_string()], "auth, then subscribe, on each connect");
    daemon.stop().await.expect("clean stop");

    let ticks = tick_rows(&client, "trade_id").await;
    let tick = |id: &str, price: f64, size: f64, offset: i64| {
        ("polygon".to_string(), "AAPL".to_string(), id.to_string(), price, size, 0, base + offset)
    };
    assert_eq!(
        ticks,
        vec![
            tick("52983525029461", 187.25, 100.0, 1_000),
            tick("52983525029470", 187.3, 25.0, 2_000),
            tick("52983525029480", 187.5, 10.0, 7_000)
        ],
        "side unknown (0); the trade re-sent after the reconnect was dropped"
    );

    let quote = client
        .query_one(
            "SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, (extract(epoch FROM time) * 1000)::bigint FROM quotes",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((quote.get::<_, String>(0), quote.get::<_, String>(1)), ("polygon".to_string(), "MSFT".to_string()));
    assert_eq!(
        (quote.get::<_, f64>(2), quote.get::<_, f64>(3), quote.get::<_, f64>(4), quote.get::<_, f64>(5), quote.get::<_, i64>(6)),
        (414.12, 2.0, 414.15, 3.0, base + 3_000)
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
        ("polygon".to_string(), "MSFT".to_string(), "1m".to_string())
    );
    assert_eq!(
        (bar.get::<_, f64>(3), bar.get::<_, f64>(4), bar.get::<_, f64>(5), bar.get::<_, f64>(6), bar.get::<_, f64>(7)),
        (414.0, 414.5, 413.75, 414.2, 4110.0)
    );
    assert_eq!((bar.get::<_, Option<f64>>(8), bar.get::<_, Option<i64>>(9), bar.get::<_, i64>(10)), (Some(414.125), None, base));

    assert_eq!(support::feed_events(&client, "polygon", "gap").await, 0, "`q` may skip");
    assert_eq!(support::feed_events(&client, "polygon", "connected").await, 2);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'polygon'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(dead_letters, vec![("invalid_json".to_string(), "{not json".to_string())], "statuses are no dead letters");
    let events: Vec<String> = client
        .query("SELECT detail::text FROM feed_events WHERE source = 'polygon'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(events.iter().all(|detail| !detail.contains(TEST_KEY)), "the key is in no feed event: {events:?}");
}
