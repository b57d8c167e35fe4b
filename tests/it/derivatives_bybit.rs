//! Bybit linear and inverse against the fake venue and its REST side: exact
//! `funding_rates`, `open_interest` and `mark_prices` rows from a `tickers` snapshot and
//! the deltas merged into it (a delta of the mark price alone writes a mark row and no
//! funding row), liquidations stored with the liquidation order's side (the opposite of
//! the position side Bybit sends), trades on the linear stream, instrument
//! specifications as versions (a tick size change closes one and opens the next, with an
//! `instrument_changed` event), the recorded linear session replayed into the same rows,
//! and an instruments request that times out (an `error` event) then succeeds. The
//! commented examples of both kinds pass check-config.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_rest::{FakeRest, Reply};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{commented_example, now_ms, replay_captures, source, tick_rows};
use crate::support::{self, wait_for_count};

const BYBIT_ACK: &str = r#"{"success":true,"ret_msg":"subscribe","conn_id":"fake-conn-1","req_id":{id},"op":"subscribe"}"#;
const INSTRUMENTS_PATH: &str = "/v5/market/instruments-info";

/// The documented linear ticker snapshot (bybit-exchange.github.io/docs/v5/websocket/public/ticker), at `ts`.
fn linear_snapshot(ts: i64) -> String {
    format!(
        r#"{{"topic":"tickers.BTCUSDT","type":"snapshot","data":{{"symbol":"BTCUSDT","tickDirection":"PlusTick","price24hPcnt":"0.017103","lastPrice":"17216.00","prevPrice24h":"16926.50","highPrice24h":"17281.50","lowPrice24h":"16915.00","prevPrice1h":"17238.00","markPrice":"17217.33","indexPrice":"17227.36","openInterest":"68744.761","openInterestValue":"1183601235.91","turnover24h":"1570383121.943499","volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"}},"cs":24987956059,"ts":{ts}}}"#
    )
}

fn ticker_delta(symbol: &str, ts: i64, fields: &str) -> String {
    format!(r#"{{"topic":"tickers.{symbol}","type":"delta","data":{{"symbol":"{symbol}",{fields}}},"cs":24987956060,"ts":{ts}}}"#)
}

/// The documented `allLiquidation` message shape; each event is (position side, size, price, time).
fn liquidations(symbol: &str, events: &[(&str, &str, &str, i64)]) -> String {
    let data: Vec<String> = events
        .iter()
        .map(|(side, size, price, time)| format!(r#"{{"T":{time},"s":"{symbol}","S":"{side}","v":"{size}","p":"{price}"}}"#))
        .collect();
    let ts = events.last().map_or(0, |event| event.3 + 200);
    format!(r#"{{"topic":"allLiquidation.{symbol}","type":"snapshot","ts":{ts},"data":[{}]}}"#, data.join(","))
}

/// The documented instruments-info answer (bybit-exchange.github.io/docs/v5/market/instrument).
fn instruments_answer(
    category: &str,
    symbol: &str,
    contract_type: &str,
    coins: (&str, &str, &str),
    tick: &str,
    min_notional: &str,
) -> String {
    let (base, quote, settle) = coins;
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"{category}","list":[{{"symbol":"{symbol}","contractType":"{contract_type}","status":"Trading","baseCoin":"{base}","quoteCoin":"{quote}","launchTime":"1585526400000","deliveryTime":"0","deliveryFeeRate":"","priceScale":"2","leverageFilter":{{"minLeverage":"1","maxLeverage":"100.00","leverageStep":"0.01"}},"priceFilter":{{"minPrice":"0.10","maxPrice":"1999999.80","tickSize":"{tick}"}},"lotSizeFilter":{{"maxOrderQty":"1190.000","minOrderQty":"0.001","qtyStep":"0.001","postOnlyMaxOrderQty":"1190.000","maxMktOrderQty":"500.000"{min_notional}}},"unifiedMarginTrade":true,"fundingInterval":480,"settleCoin":"{settle}","copyTrading":"both","upperFundingRate":"0.00375","lowerFundingRate":"-0.00375"}}],"nextPageCursor":""}},"retExtInfo":{{}},"time":1735809771618}}"#
    )
}

type FundingRow = (String, String, f64, Option<f64>, Option<i64>, Option<String>, i64);

async fn funding_rows(client: &tokio_postgres::Client) -> Vec<FundingRow> {
    let query = "SELECT venue, symbol, rate, predicted_rate, (extract(epoch FROM next_funding_time) * 1000)::bigint, interval,
                        (extract(epoch FROM time) * 1000)::bigint FROM funding_rates ORDER BY time";
    client
        .query(query, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect()
}

/// (venue, symbol, first value, second value, time ms) of `open_interest` (contracts,
/// notional) or `mark_prices` (mark, index).
async fn pair_rows(client: &tokio_postgres::Client, table: &str, columns: &str) -> Vec<(String, String, Option<f64>, Option<f64>, i64)> {
    let query = format!("SELECT venue, symbol, {columns}, (extract(epoch FROM time) * 1000)::bigint FROM {table} ORDER BY time");
    client.query(&query, &[]).await.unwrap().iter().map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))).collect()
}

async fn liquidation_rows(client: &tokio_postgres::Client) -> Vec<(String, String, i16, f64, f64, Option<String>, i64)> {
    let query =
        "SELECT venue, symbol, side, price, quantity, order_id, (extract(epoch FROM time) * 1000)::bigint FROM liquidations ORDER BY time";
    client
        .query(query, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect()
}

/// Every version of an instrument: (kind, contract type, base, quote, settle, tick, lot,
/// min size, min notional, contract size, status, valid_to = the next's valid_from).
type SpecRow = (String, Option<String>, Option<String>, Option<String>, Option<String>, f64, f64, Option<f64>, Option<f64>, f64, String);

async fn spec_versions(client: &tokio_postgres::Client, venue: &str, symbol: &str) -> (Vec<SpecRow>, Vec<(i64, Option<i64>)>) {
    let rows = client
        .query(
            "SELECT kind, contract_type, base_currency, quote_currency, settle_currency, tick_size::float8, lot_size::float8,
                    min_size::float8, min_notional::float8, contract_size::float8, status,
                    (extract(epoch FROM valid_from) * 1000000)::bigint, (extract(epoch FROM valid_to) * 1000000)::bigint
               FROM instrument_specs WHERE venue = $1 AND symbol = $2 ORDER BY valid_from",
            &[&venue, &symbol],
        )
        .await
        .unwrap();
    let specs = rows
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
            )
        })
        .collect();
    let validity = rows.iter().map(|row| (row.get(11), row.get(12))).collect();
    (specs, validity)
}

async fn event_details(client: &tokio_postgres::Client, source: &str, kind: &str) -> Vec<serde_json::Value> {
    client
        .query("SELECT detail FROM feed_events WHERE source = $1 AND kind = $2 ORDER BY time", &[&source, &kind])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_linear_merged_tickers_liquidations_trades_and_instrument_versions() {
    let base = now_ms() - 60_000;
    let script = vec![
        Step::Expect("subscribe", BYBIT_ACK.to_string()),
        Step::Send(linear_snapshot(base)),
        // The mark price alone: a mark row, no funding row.
        Step::Send(ticker_delta("BTCUSDT", base + 100, r#""markPrice":"17217.40","bid1Price":"17215.00""#)),
        // The funding rate and its interval: a funding row with the known next funding time.
        Step::Send(ticker_delta("BTCUSDT", base + 200, r#""fundingRate":"-0.000215","fundingIntervalHour":"8""#)),
        // Open interest and the index.
        Step::Send(ticker_delta(
            "BTCUSDT",
            base + 300,
            r#""openInterest":"68750.001","openInterestValue":"1183700000.00","indexPrice":"17227.50""#,
        )),
        // Only a field no table stores.
        Step::Send(ticker_delta("BTCUSDT", base + 400, r#""ask1Size":"80.000""#)),
        Step::Send(format!(
            r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":{ts},"data":[{{"T":{t},"s":"BTCUSDT","S":"Sell","v":"0.010","p":"17216.00","L":"MinusTick","i":"9f1e8b6e-0001","BT":false}}]}}"#,
            ts = base + 501,
            t = base + 500
        )),
        Step::Send(liquidations("BTCUSDT", &[("Buy", "0.500", "17100.10", base + 600), ("Sell", "1.250", "17350.00", base + 700)])),
        Step::Silence,
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let rest = FakeRest::routed(vec![(
        INSTRUMENTS_PATH,
        vec![
            Reply::ok(instruments_answer(
                "linear",
                "BTCUSDT",
                "LinearPerpetual",
                ("BTC", "USDT", "USDT"),
                "0.10",
                r#","minNotionalValue":"5""#,
            )),
            Reply::ok(instruments_answer(
                "linear",
                "BTCUSDT",
                "LinearPerpetual",
                ("BTC", "USDT", "USDT"),
                "0.50",
                r#","minNotionalValue":"5""#,
            )),
        ],
    )])
    .await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut linear = source(
        SourceKind::BybitLinear,
        venue.url(),
        &["BTCUSDT"],
        &[Channel::Trades, Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Liquidations, Channel::Instruments],
    );
    linear.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    linear.rest_url = Some(rest.url());
    linear.instruments_poll_ms = std::num::NonZeroU64::new(300).unwrap();
    let captures = tempfile::tempdir().unwrap();
    linear.record = Some(captures.path().to_path_buf());
    config.sources = vec![linear];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM liquidations", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE kind = 'instrument_changed'", 1).await, 1);
    // A few more polls, answered with the same spec: no new version.
    while rest.requests_to(INSTRUMENTS_PATH).len() < 4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM mark_prices", 3).await, 3);
    daemon.stop().await.expect("clean stop");

    assert_eq!(
        venue.received.lock().unwrap()[0],
        r#"{"args":["publicTrade.BTCUSDT","allLiquidation.BTCUSDT","tickers.BTCUSDT"],"op":"subscribe","req_id":"1"}"#
    );
    let (venue_name, symbol) = ("bybit_linear".to_string(), "BTC-USDT".to_string());
    assert_eq!(
        funding_rows(&client).await,
        vec![
            (venue_name.clone(), symbol.clone(), -0.000212, None, Some(1_673_280_000_000), None, base),
            (venue_name.clone(), symbol.clone(), -0.000215, None, Some(1_673_280_000_000), Some("8h".to_string()), base + 200),
        ],
        "the snapshot's funding, then the delta's merged with the known next funding time"
    );
    assert_eq!(
        pair_rows(&client, "mark_prices", "mark_price, index_price").await,
        vec![
            (venue_name.clone(), symbol.clone(), Some(17217.33), Some(17227.36), base),
            (venue_name.clone(), symbol.clone(), Some(17217.40), Some(17227.36), base + 100),
            (venue_name.clone(), symbol.clone(), Some(17217.40), Some(17227.50), base + 300),
        ]
    );
    assert_eq!(
        pair_rows(&client, "open_interest", "contracts, notional").await,
        vec![
            (venue_name.clone(), symbol.clone(), Some(68744.761), Some(1183601235.91), base),
            (venue_name.clone(), symbol.clone(), Some(68750.001), Some(1183700000.0), base + 300),
        ]
    );
    assert_eq!(
        liquidation_rows(&client).await,
        vec![
            (venue_name.clone(), symbol.clone(), -1, 17100.10, 0.5, None, base + 600),
            (venue_name.clone(), symbol.clone(), 1, 17350.0, 1.25, None, base + 700),
        ],
        "a long liquidated (S = Buy) is a sell order, a short (S = Sell) a buy"
    );
    assert_eq!(
        tick_rows(&client, "time").await,
        vec![(venue_name.clone(), symbol.clone(), "9f1e8b6e-0001".to_string(), 17216.0, 0.01, -1, base + 500)]
    );
    assert_eq!(support::count(&client, "SELECT count(*) FROM tickers").await, 0, "`tickers` is not configured");

    let (specs, validity) = spec_versions(&client, "bybit_linear", "BTC-USDT").await;
    let spec = |tick: f64| {
        (
            "perpetual".to_string(),
            Some("linear".to_string()),
            Some("BTC".to_string()),
            Some("USDT".to_string()),
            Some("USDT".to_string()),
            tick,
            0.001,
            Some(0.001),
            Some(5.0),
            1.0,
            "trading".to_string(),
        )
    };
    assert_eq!(specs, vec![spec(0.1), spec(0.5)], "the tick size change is a new version; equal polls after it are not");
    assert_eq!((validity[0].1, validity[1].1), (Some(validity[1].0), None), "the first version ends where the second begins");
    let at = |micros: i64| {
        let client = &client;
        async move {
            let query = "SELECT tick_size::float8 FROM instrument_spec_at('bybit_linear', 'BTC-USDT', to_timestamp($1::float8 / 1e6))";
            client.query(query, &[&(micros as f64)]).await.unwrap().iter().map(|row| row.get::<_, f64>(0)).collect::<Vec<_>>()
        }
    };
    assert_eq!((at(validity[0].0).await, at(validity[1].0 - 1).await, at(validity[1].0).await), (vec![0.1], vec![0.1], vec![0.5]));
    let changed = event_details(&client, "bybit_linear", "instrument_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0],
        serde_json::json!({ "venue": "bybit_linear", "symbol": "BTC-USDT", "changes": { "tick_size": { "from": 0.1, "to": 0.5 } } })
    );
    assert!(rest.requests_to(INSTRUMENTS_PATH).iter().all(|path| path == "/v5/market/instruments-info?category=linear&symbol=BTCUSDT"));
    assert_eq!(support::count(&client, "SELECT count(*) FROM dead_letters").await, 0);
    let asset_class: String =
        client.query_one("SELECT asset_class FROM instruments WHERE venue = 'bybit_linear'", &[]).await.unwrap().get(0);
    assert_eq!(asset_class, "future");

    // The recorded session, websocket messages and REST answers, replayed into a fresh
    // database gives the same rows and versions.
    let replayed = replay_captures(
        &cluster,
        &client,
        captures.path(),
        "bybit_linear",
        &["BTCUSDT"],
        &["trades", "funding", "open_interest", "mark_price", "liquidations", "instruments"],
    )
    .await;
    assert_eq!(funding_rows(&replayed).await, funding_rows(&client).await);
    assert_eq!(
        pair_rows(&replayed, "mark_prices", "mark_price, index_price").await,
        pair_rows(&client, "mark_prices", "mark_price, index_price").await
    );
    assert_eq!(
        pair_rows(&replayed, "open_interest", "contracts, notional").await,
        pair_rows(&client, "open_interest", "contracts, notional").await
    );
    assert_eq!(liquidation_rows(&replayed).await, liquidation_rows(&client).await);
    assert_eq!(tick_rows(&replayed, "time").await, tick_rows(&client, "time").await);
    let live_versions = spec_versions(&client, "bybit_linear", "BTC-USDT").await;
    assert_eq!(spec_versions(&replayed, "bybit_linear", "BTC-USDT").await, live_versions);
    assert_eq!(event_details(&replayed, "bybit_linear", "instrument_changed").await, changed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_inverse_rows_and_an_instruments_request_that_times_out_then_succeeds() {
    let base = now_ms() - 60_000;
    let snapshot = format!(
        r#"{{"topic":"tickers.BTCUSD","type":"snapshot","data":{{"symbol":"BTCUSD","tickDirection":"ZeroMinusTick","price24hPcnt":"0.0005","lastPrice":"17000.5","prevPrice24h":"16992.0","highPrice24h":"17100.0","lowPrice24h":"16900.0","prevPrice1h":"16999.0","markPrice":"17001.10","indexPrice":"17002.20","openInterest":"500000000","openInterestValue":"29410.66","turnover24h":"1176.47","volume24h":"20000000","nextFundingTime":"1673280000000","fundingRate":"0.0001","bid1Price":"17000.0","bid1Size":"1000","ask1Price":"17000.5","ask1Size":"2000"}},"cs":1,"ts":{base}}}"#
    );
    let script = vec![
        Step::Expect("subscribe", BYBIT_ACK.to_string()),
        Step::Send(snapshot),
        Step::Send(ticker_delta("BTCUSD", base + 100, r#""fundingRate":"0.00012""#)),
        Step::Send(liquidations("BTCUSD", &[("Sell", "3000", "17500.5", base + 200)])),
        Step::Silence,
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let rest = FakeRest::routed(vec![(
        INSTRUMENTS_PATH,
        vec![Reply::hang(), Reply::ok(instruments_answer("inverse", "BTCUSD", "InversePerpetual", ("BTC", "USD", "BTC"), "0.50", ""))],
    )])
    .await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut inverse = source(
        SourceKind::BybitInverse,
        venue.url(),
        &["BTCUSD"],
        &[Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Liquidations, Channel::Instruments],
    );
    inverse.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    inverse.rest_url = Some(rest.url());
    inverse.rest_timeout_ms = std::num::NonZeroU64::new(300).unwrap();
    config.sources = vec![inverse];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM liquidations", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM funding_rates", 2).await, 2);
    daemon.stop().await.expect("clean stop");

    let errors = event_details(&client, "bybit_inverse", "error").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["tag"], "instruments BTCUSD");
    assert!(errors[0]["reason"].as_str().unwrap().starts_with("fetch failed"), "{errors:?}");
    assert_eq!(rest.requests_to(INSTRUMENTS_PATH), vec!["/v5/market/instruments-info?category=inverse&symbol=BTCUSD".to_string(); 2]);
    let (specs, validity) = spec_versions(&client, "bybit_inverse", "BTC-USD").await;
    assert_eq!(
        specs,
        vec![(
            "perpetual".to_string(),
            Some("inverse".to_string()),
            Some("BTC".to_string()),
            Some("USD".to_string()),
            Some("BTC".to_string()),
            0.5,
            0.001,
            Some(0.001),
            None,
            1.0,
            "trading".to_string()
        )]
    );
    assert_eq!(validity[0].1, None);

    let (venue_name, symbol) = ("bybit_inverse".to_string(), "BTC-USD".to_string());
    assert_eq!(
        funding_rows(&client).await,
        vec![
            (venue_name.clone(), symbol.clone(), 0.0001, None, Some(1_673_280_000_000), None, base),
            (venue_name.clone(), symbol.clone(), 0.00012, None, Some(1_673_280_000_000), None, base + 100),
        ]
    );
    assert_eq!(
        pair_rows(&client, "open_interest", "contracts, notional").await,
        vec![(venue_name.clone(), symbol.clone(), Some(500000000.0), Some(29410.66), base)],
        "contracts of 1 USD, valued in the settlement coin"
    );
    assert_eq!(
        pair_rows(&client, "mark_prices", "mark_price, index_price").await,
        vec![(venue_name.clone(), symbol.clone(), Some(17001.1), Some(17002.2), base)]
    );
    assert_eq!(liquidation_rows(&client).await, vec![(venue_name, symbol, 1, 17500.5, 3000.0, None, base + 200)]);
    assert_eq!(support::count(&client, "SELECT count(*) FROM dead_letters").await, 0);
}

#[test]
fn the_commented_linear_and_inverse_examples_are_valid() {
    for kind in ["bybit_linear", "bybit_inverse"] {
        let config = hypertick::app::load_config_str(&commented_example(kind), Vec::new())
            .unwrap_or_else(|errors| panic!("the {kind} example: {errors}"));
        assert_eq!(config.sources.len(), 1, "{kind}");
        assert_eq!(config.sources[0].kind.name(), kind);
        assert!(config.sources[0].channels.contains(&Channel::Funding), "{kind}: the example shows the derivative channels");
    }
    // The spot source refuses them, naming the key.
    let spot = commented_example("bybit").replace(r#"channels = ["trades""#, r#"channels = ["funding", "trades""#);
    let errors = hypertick::app::load_config_str(&spot, Vec::new()).expect_err("spot has no funding");
    assert!(errors.to_string().contains("channels"), "{errors}");
}
