//! The Hyperliquid adapter against the fake venue over real websockets and its REST side:
//! one subscribe request per coin and subscription, each acknowledged by a
//! `subscriptionResponse`; exact rows for trades (`B` a buy, `A` a sell), a candle stored
//! once the next one starts, `l2Book` pushes stored as a snapshot and then as changes
//! (the stored book equals the last push), `activeAssetCtx` into `funding_rates`,
//! `open_interest` and `mark_prices`; the `meta` poll (a POST, first answered 429) into
//! `instrument_specs` versions for the configured coins, a tick size change making a new
//! version and an `instrument_changed` event; garbage dead-lettered; after a drop the
//! resubscription, a re-sent trade dropped, the open candle forgotten, the book's
//! reconnect `gap`; the recorded session replayed into a fresh database gives the same
//! rows. A second test: a `meta` request that times out is retried.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::book_feed::{book_at_ms, book_events, stored_book, BookLevel};
use crate::fake_rest::{FakeRest, Reply};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{commented_example, now_ms, replay_captures, source, tick_rows};
use crate::support::{self, wait_for_count};

const CHANNELS: &[Channel] =
    &[Channel::Trades, Channel::Bars, Channel::Book, Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Instruments];

/// The acknowledgements of the BTC and ETH subscriptions, in the order they are sent.
fn acks() -> Vec<Step> {
    let mut steps = Vec::new();
    for coin in ["BTC", "ETH"] {
        for subscription in [
            format!(r#"{{"coin":"{coin}","type":"trades"}}"#),
            format!(r#"{{"coin":"{coin}","interval":"1m","type":"candle"}}"#),
            format!(r#"{{"coin":"{coin}","type":"l2Book"}}"#),
            format!(r#"{{"coin":"{coin}","type":"activeAssetCtx"}}"#),
        ] {
            let needle: &'static str = Box::leak(subscription.clone().into_boxed_str());
            steps.push(Step::Expect(
                needle,
                format!(r#"{{"channel":"subscriptionResponse","data":{{"method":"subscribe","subscription":{subscription}}}}}"#),
            ));
        }
    }
    steps
}

/// A `trades` push of BTC: (side, px, sz, time, tid).
fn trades(trades: &[(&str, &str, &str, i64, u64)]) -> String {
    let data: Vec<String> = trades
        .iter()
        .map(|(side, px, sz, time, tid)| {
            format!(
                r#"{{"coin":"BTC","side":"{side}","px":"{px}","sz":"{sz}","hash":"0x9a6e","time":{time},"tid":{tid},"users":["0xa1","0xb2"]}}"#
            )
        })
        .collect();
    format!(r#"{{"channel":"trades","data":[{}]}}"#, data.join(","))
}

fn candle(t: i64, close: &str, volume: &str, n: i64) -> String {
    format!(
        r#"{{"channel":"candle","data":{{"t":{t},"T":{},"s":"BTC","i":"1m","o":"97000.0","c":"{close}","h":"97050.0","l":"96950.0","v":"{volume}","n":{n}}}}}"#,
        t + 59_999
    )
}

fn l2_book(time: i64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    let side = |levels: &[(&str, &str)]| {
        levels.iter().map(|(px, sz)| format!(r#"{{"px":"{px}","sz":"{sz}","n":2}}"#)).collect::<Vec<_>>().join(",")
    };
    format!(r#"{{"channel":"l2Book","data":{{"coin":"BTC","levels":[[{}],[{}]],"time":{time}}}}}"#, side(bids), side(asks))
}

const ASSET_CTX: &str = r#"{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"dayNtlVlm":"1169046.29406","prevDayPx":"96500.0","markPx":"97012.5","midPx":"97012.0","funding":"0.0000125","openInterest":"24123.456","oraclePx":"97001.0","premium":"0.00012","impactPxs":["97011.0","97013.0"]}}}"#;

fn meta(btc_sz_decimals: u32) -> String {
    format!(
        r#"{{"universe":[{{"name":"BTC","szDecimals":{btc_sz_decimals},"maxLeverage":40}},{{"name":"ETH","szDecimals":4,"maxLeverage":25}},{{"name":"SOL","szDecimals":2,"maxLeverage":20}}],"marginTables":[[50,{{"description":"","marginTiers":[{{"lowerBound":"0.0","maxLeverage":50}}]}}]]}}"#
    )
}

/// symbol, interval, time ms, open, high, low, close, volume, vwap, trades.
type BarRow = (String, String, i64, f64, f64, f64, f64, f64, Option<f64>, Option<i64>);
/// symbol, venue_symbol, kind, contract_type, base, quote, settle, tick, lot, status, contract_size, current.
type SpecRow = (String, String, String, String, String, String, String, String, String, String, Option<String>, bool);

fn levels(rows: &[(&str, f64, f64)]) -> Vec<BookLevel> {
    let mut out = Vec::new();
    let mut counts = std::collections::HashMap::new();
    for (side, price, size) in rows {
        let level = counts.entry(*side).or_insert(0);
        *level += 1;
        out.push((side.to_string(), *level, *price, *size));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperliquid_rows_book_specs_and_reconnect() {
    let base = now_ms() / 60_000 * 60_000 - 240_000;
    let mut first = acks();
    first.extend([
        Step::Send(trades(&[("B", "97000.5", "0.01", base + 1_000, 1_001), ("A", "96999.0", "0.25", base + 2_000, 1_002)])),
        Step::Send(candle(base, "97010.0", "1.5", 10)),
        Step::Send(candle(base, "97020.0", "2.25", 12)),
        Step::Send(candle(base + 60_000, "97030.0", "0.5", 1)),
        Step::Send(l2_book(base + 3_000, &[("97000", "1"), ("96999", "2")], &[("97001", "1"), ("97002", "3")])),
        Step::Send(l2_book(base + 3_500, &[("97000", "1.5")], &[("97001", "1"), ("97002", "3"), ("97003", "4")])),
        Step::Send(ASSET_CTX.to_string()),
        Step::Send(r#"{"channel":"pong"}"#.to_string()),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(300)),
        Step::Drop,
    ]);
    let mut second = acks();
    second.extend([
        Step::Send(trades(&[("A", "96999.0", "0.25", base + 2_000, 1_002), ("B", "97004.0", "0.5", base + 6_000, 1_003)])),
        Step::Send(l2_book(base + 5_000, &[("97005", "0.7")], &[("97006", "0.9")])),
        Step::Send(candle(base + 120_000, "97040.0", "3.0", 7)),
        Step::Send(candle(base + 180_000, "97050.0", "1.0", 2)),
        Step::Silence,
    ]);
    let rest = FakeRest::routed(vec![("/info", vec![Reply::too_many_requests(1), Reply::ok(meta(5)), Reply::ok(meta(4))])]).await;
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut hyperliquid = source(SourceKind::Hyperliquid, venue.url(), &["BTC", "ETH"], CHANNELS);
    hyperliquid.rest_url = Some(rest.url());
    hyperliquid.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    hyperliquid.instruments_poll_ms = std::num::NonZeroU64::new(300).unwrap();
    let captures = tempfile::tempdir().unwrap();
    hyperliquid.record = Some(captures.path().to_path_buf());
    config.sources = vec![hyperliquid];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 2).await, 2);
    let last_book = format!("SELECT count(*) FROM book_deltas WHERE sequence = {}", base + 5_000);
    assert_eq!(wait_for_count(&client, &last_book, 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE kind = 'instrument_changed'", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM mark_prices", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters", 1).await, 1);
    // A few more polls: equal observations make no version.
    tokio::time::sleep(Duration::from_millis(800)).await;
    daemon.stop().await.expect("clean stop");

    let received = venue.received.lock().unwrap().clone();
    let subscribes: Vec<&String> = received.iter().filter(|text| text.contains("subscribe")).collect();
    assert_eq!(subscribes.len(), 16, "8 a connection: {received:?}");
    assert_eq!(subscribes[0], r#"{"method":"subscribe","subscription":{"coin":"BTC","type":"trades"}}"#);

    let posts = rest.posts.lock().unwrap().clone();
    assert!(posts.len() >= 4, "{posts:?}");
    assert!(posts.iter().all(|post| *post == ("/info".to_string(), r#"{"type":"meta"}"#.to_string())), "{posts:?}");

    let tick = |id: &str, price: f64, size: f64, side: i16, offset: i64| {
        ("hyperliquid".to_string(), "BTC-USD".to_string(), id.to_string(), price, size, side, base + offset)
    };
    assert_eq!(
        tick_rows(&client, "trade_id").await,
        vec![tick("1001", 97000.5, 0.01, 1, 1_000), tick("1002", 96999.0, 0.25, -1, 2_000), tick("1003", 97004.0, 0.5, 1, 6_000)],
        "B is a buy, A a sell; the trade re-sent after the reconnect was dropped"
    );

    let bars: Vec<BarRow> = client
        .query(
            "SELECT symbol, \"interval\", (extract(epoch FROM time) * 1000)::bigint, open, high, low, close, volume, vwap, trades
               FROM bars WHERE venue = 'hyperliquid' ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7), row.get(8), row.get(9)))
        .collect();
    let bar = |offset: i64, close: f64, volume: f64, trades: i64| {
        ("BTC-USD".to_string(), "1m".to_string(), base + offset, 97000.0, 97050.0, 96950.0, close, volume, None, Some(trades))
    };
    assert_eq!(
        bars,
        vec![bar(0, 97020.0, 2.25, 12), bar(120_000, 97040.0, 3.0, 7)],
        "the last version of each closed candle; the one open at the drop is not stored"
    );

    // The book: the last push, and in between the first connection's second push.
    assert_eq!(stored_book(&client, "hyperliquid", "BTC-USD", 20).await, levels(&[("bid", 97005.0, 0.7), ("ask", 97006.0, 0.9)]));
    assert_eq!(
        book_at_ms(&client, "hyperliquid", "BTC-USD", base + 4_000, 20).await,
        levels(&[("bid", 97000.0, 1.5), ("ask", 97001.0, 1.0), ("ask", 97002.0, 3.0), ("ask", 97003.0, 4.0)])
    );
    let deltas: Vec<(String, f64, f64, bool)> = client
        .query(
            "SELECT side::text, price, size, snapshot FROM book_deltas WHERE venue = 'hyperliquid' AND sequence = $1 ORDER BY side, price",
            &[&(base + 3_500)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(deltas.len(), 3, "only the changes of the second push: {deltas:?}");
    assert!(deltas.iter().all(|(_, _, _, snapshot)| !snapshot));
    let events = book_events(&client, "hyperliquid").await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["gap", "resync"], "{events:?}");
    assert_eq!(events[0].1["reason"], "reconnect");

    let funding = client
        .query_one(
            "SELECT venue, symbol, rate, predicted_rate, interval, time = received_at,
                    next_funding_time = date_trunc('hour', received_at) + interval '1 hour' FROM funding_rates",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            funding.get::<_, String>(0),
            funding.get::<_, String>(1),
            funding.get::<_, f64>(2),
            funding.get::<_, Option<f64>>(3),
            funding.get::<_, Option<String>>(4),
            funding.get::<_, bool>(5),
            funding.get::<_, bool>(6)
        ),
        ("hyperliquid".into(), "BTC-USD".into(), 0.0000125, None, Some("1h".into()), true, true)
    );
    let oi = client.query_one("SELECT symbol, contracts, notional, time = received_at FROM open_interest", &[]).await.unwrap();
    assert_eq!(
        (oi.get::<_, String>(0), oi.get::<_, Option<f64>>(1), oi.get::<_, Option<f64>>(2), oi.get::<_, bool>(3)),
        ("BTC-USD".into(), Some(24123.456), None, true)
    );
    let mark = client.query_one("SELECT symbol, mark_price, index_price FROM mark_prices", &[]).await.unwrap();
    assert_eq!(
        (mark.get::<_, String>(0), mark.get::<_, Option<f64>>(1), mark.get::<_, Option<f64>>(2)),
        ("BTC-USD".into(), Some(97012.5), Some(97001.0))
    );

    // Versions: BTC's tick (and lot) size changed once; ETH's never; SOL is not configured.
    let specs: Vec<SpecRow> = client
        .query(
            "SELECT symbol, venue_symbol, kind, contract_type, base_currency, quote_currency, settle_currency,
                    tick_size::text, lot_size::text, status, contract_size::text, valid_to IS NULL
               FROM instrument_specs WHERE venue = 'hyperliquid' ORDER BY symbol, valid_from",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
                row.get(6),
                row.get(7),
                row.get(8),
                row.get(9),
                row.get(10),
                row.get(11),
            )
        })
        .collect();
    let spec = |symbol: &str, coin: &str, tick: &str, lot: &str, current: bool| {
        (
            symbol.to_string(),
            coin.to_string(),
            "perpetual".to_string(),
            "linear".to_string(),
            coin.to_string(),
            "USDC".to_string(),
            "USDC".to_string(),
            tick.to_string(),
            lot.to_string(),
            "trading".to_string(),
            Some("1".to_string()),
            current,
        )
    };
    assert_eq!(
        specs,
        vec![
            spec("BTC-USD", "BTC", "0.1", "0.00001", false),
            spec("BTC-USD", "BTC", "0.01", "0.0001", true),
            spec("ETH-USD", "ETH", "0.01", "0.0001", true),
        ]
    );
    let joined: bool = client
        .query_one(
            "SELECT (SELECT valid_to FROM instrument_specs WHERE symbol = 'BTC-USD' AND valid_to IS NOT NULL)
                  = (SELECT valid_from FROM instrument_specs WHERE symbol = 'BTC-USD' AND valid_to IS NULL)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(joined, "the new version starts where the old one ends");
    let changed: serde_json::Value =
        client.query_one("SELECT detail FROM feed_events WHERE kind = 'instrument_changed'", &[]).await.unwrap().get(0);
    assert_eq!(changed["symbol"], "BTC-USD");
    assert_eq!(changed["changes"]["tick_size"], serde_json::json!({ "from": 0.1, "to": 0.01 }));
    assert_eq!(changed["changes"]["lot_size"], serde_json::json!({ "from": 0.00001, "to": 0.0001 }));
    let rate_limited: i64 = client.query_one("SELECT count(*) FROM feed_events WHERE kind = 'rate_limited'", &[]).await.unwrap().get(0);
    assert_eq!(rate_limited, 1);
    let dead: Vec<String> = client.query("SELECT reason FROM dead_letters", &[]).await.unwrap().iter().map(|row| row.get(0)).collect();
    assert_eq!(dead, ["invalid_json"]);

    // The recorded session, both connections and the `meta` answers, replayed into a
    // fresh database gives the same rows, `received_at` included.
    let channels: Vec<&str> = CHANNELS.iter().map(|channel| channel.name()).collect();
    let replayed = replay_captures(&cluster, &client, captures.path(), "hyperliquid", &["BTC", "ETH"], &channels).await;
    for table in ["ticks", "bars", "book_deltas", "book_snapshots", "funding_rates", "open_interest", "mark_prices", "instrument_specs"] {
        let query = format!("SELECT t::text FROM {table} t ORDER BY t::text");
        let (live_rows, replayed_rows) =
            (support::column::<String>(&client, &query).await, support::column::<String>(&replayed, &query).await);
        assert!(!live_rows.is_empty(), "{table}");
        assert_eq!(replayed_rows, live_rows, "{table} replayed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperliquid_meta_poll_retries_a_timeout() {
    let rest = FakeRest::routed(vec![("/info", vec![Reply::hang(), Reply::ok(meta(5))])]).await;
    let venue = FakeVenue::start(vec![vec![Step::Silence]]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut hyperliquid = source(SourceKind::Hyperliquid, venue.url(), &["BTC"], &[Channel::Instruments]);
    hyperliquid.rest_url = Some(rest.url());
    hyperliquid.rest_timeout_ms = std::num::NonZeroU64::new(300).unwrap();
    hyperliquid.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    config.sources = vec![hyperliquid];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 1).await, 1);
    daemon.stop().await.expect("clean stop");
    let errors: i64 =
        client.query_one("SELECT count(*) FROM feed_events WHERE source = 'hyperliquid' AND kind = 'error'", &[]).await.unwrap().get(0);
    assert!(errors >= 1, "the timed-out request is an error event");
    assert_eq!(rest.requests_to("/info").len(), 2, "the timed-out request and its retry");
    let tick: String = client.query_one("SELECT tick_size::text FROM instrument_specs", &[]).await.unwrap().get(0);
    assert_eq!(tick, "0.1");
}

#[test]
fn the_hyperliquid_example_is_valid() {
    let config = hypertick::app::load_config_str(&commented_example("hyperliquid"), Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.sources[0].kind.name(), "hyperliquid");
    assert_eq!(config.sources[0].channels.len(), 7);
}
