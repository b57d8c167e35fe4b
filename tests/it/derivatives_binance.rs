//! Binance USDⓈ-M derivatives and instrument reference data against the fake venue: the
//! documented `markPriceUpdate` and `forceOrder` payloads over a real websocket, open
//! interest and exchange information from the fake venue's HTTP side. The open interest
//! poll is refused once with `429` and `Retry-After` (a `rate_limited` event, a wait, then
//! the rows) and repeats; the first exchange information request hangs past
//! `rest_timeout_ms` (an `error` event, then the retry's specs); the funding rows take
//! their interval from `fundingInfo`; the second exchange information answer
//! changes a tick size (a second `instrument_specs` version closing the first, and an
//! `instrument_changed` event). Every row is asserted column by column; the recorded
//! session replayed through `hypertick replay` into a fresh database gives the same rows.
//! Spot `instruments` asks for its pairs only.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};
use serde_json::json;

use crate::fake_rest::{FakeRest, Reply};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, replay_captures, source};
use crate::support::{self, feed_events, wait_for_count};

const QUARTER: &str = "ETHUSDT_260925";
const DELIVERY_MS: i64 = 1_790_928_000_000;

fn subscribed() -> Step {
    Step::Expect("SUBSCRIBE", r#"{"result":null,"id":{id}}"#.into())
}

/// A USDⓈ-M exchange information answer (the documented shape) with BTCUSDT's tick size.
fn exchange_info(btc_tick: &str) -> String {
    let filters = |tick: &str, step: &str, notional: &str| {
        json!([
            { "filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764", "tickSize": tick },
            { "filterType": "LOT_SIZE", "minQty": step, "maxQty": "1000", "stepSize": step },
            { "filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": "120", "stepSize": step },
            { "filterType": "MAX_NUM_ORDERS", "limit": 200 },
            { "filterType": "MIN_NOTIONAL", "notional": notional },
            { "filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4" }
        ])
    };
    json!({
        "timezone": "UTC", "serverTime": 1_795_348_800_000_i64, "futuresType": "U_MARGINED", "rateLimits": [], "exchangeFilters": [],
        "assets": [{ "asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000" }],
        "symbols": [
            { "symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL", "deliveryDate": 4_133_404_800_000_i64,
              "onboardDate": 1_569_398_400_000_i64, "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
              "pricePrecision": 2, "quantityPrecision": 3, "underlyingType": "COIN", "filters": filters(btc_tick, "0.001", "100") },
            { "symbol": QUARTER, "pair": "ETHUSDT", "contractType": "CURRENT_QUARTER", "deliveryDate": DELIVERY_MS,
              "onboardDate": 1_782_979_200_000_i64, "status": "TRADING", "baseAsset": "ETH", "quoteAsset": "USDT", "marginAsset": "USDT",
              "filters": filters("0.01", "0.001", "20") },
            { "symbol": "XRPUSDT", "pair": "XRPUSDT", "contractType": "PERPETUAL", "deliveryDate": 4_133_404_800_000_i64,
              "status": "TRADING", "baseAsset": "XRP", "quoteAsset": "USDT", "marginAsset": "USDT", "filters": filters("0.0001", "0.1", "5") }
        ]
    })
    .to_string()
}

fn open_interest(symbol: &str, contracts: &str, time: i64) -> Reply {
    Reply::ok(json!({ "openInterest": contracts, "symbol": symbol, "time": time }).to_string())
}

/// Each row of `query` as one text (every column, `received_at` included).
async fn rows(client: &tokio_postgres::Client, query: &str) -> Vec<String> {
    client.query(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error}")).iter().map(|row| row.get(0)).collect()
}

/// time (ms), symbol, rate, predicted rate, next funding time (ms), interval.
type FundingRow = (i64, String, f64, Option<f64>, Option<i64>, Option<String>);
/// time (ms), symbol, side, price, quantity, order id.
type LiquidationRow = (i64, String, i16, f64, f64, Option<String>);

const DERIVED: &[(&str, &str)] = &[
    ("mark_prices", "SELECT t::text FROM mark_prices t ORDER BY time, symbol"),
    ("funding_rates", "SELECT t::text FROM funding_rates t ORDER BY time, symbol"),
    ("liquidations", "SELECT t::text FROM liquidations t ORDER BY time, symbol"),
    ("open_interest", "SELECT t::text FROM open_interest t ORDER BY time, symbol"),
    ("instrument_specs", "SELECT t::text FROM instrument_specs t ORDER BY symbol, valid_from"),
    ("instrument_changed", "SELECT detail::text FROM feed_events WHERE kind = 'instrument_changed' ORDER BY time"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_futures_derivatives_polls_rate_limits_timeouts_spec_versions_and_replay() {
    let base_ms = now_ms() / 1_000 * 1_000 - 600_000;
    let mark = |seconds: i64, mark: &str, index: &str, rate: &str| {
        json!({ "e": "markPriceUpdate", "E": base_ms + seconds * 1_000, "s": "BTCUSDT", "p": mark, "i": index,
                "P": "11784.25641265", "r": rate, "T": base_ms + 3_600_000 })
        .to_string()
    };
    let script = vec![
        subscribed(),
        // Time for the funding intervals to be answered first (asked for at connection).
        Step::Sleep(Duration::from_millis(1_500)),
        Step::Send(mark(1, "11794.15000000", "11784.62659091", "0.00038167")),
        // A combined-stream message, as `/stream` sends it.
        Step::Send(json!({ "stream": "btcusdt@markPrice@1s", "data": serde_json::from_str::<serde_json::Value>(&mark(2, "11795.00000000", "11785.10000000", "-0.00001250")).unwrap() }).to_string()),
        Step::Send(
            json!({ "e": "forceOrder", "E": base_ms + 2_500, "o": { "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014",
                    "p": "9910", "ap": "9910", "X": "FILLED", "l": "0.014", "z": "0.014", "T": base_ms + 2_499 } })
            .to_string(),
        ),
        Step::Send(
            json!({ "e": "forceOrder", "E": base_ms + 3_000, "o": { "s": QUARTER, "S": "BUY", "o": "LIMIT", "f": "IOC", "q": "1.5",
                    "p": "3050.25", "ap": "3049.9", "X": "FILLED", "l": "1.5", "z": "1.5", "T": base_ms + 2_990 } })
            .to_string(),
        ),
        Step::Silence,
    ];
    let rest = FakeRest::routed(vec![
        (
            "/fapi/v1/openInterest?symbol=BTCUSDT",
            vec![
                Reply::too_many_requests(1),
                open_interest("BTCUSDT", "10659.509", base_ms + 4_000),
                open_interest("BTCUSDT", "10661.250", base_ms + 5_000),
            ],
        ),
        (&format!("/fapi/v1/openInterest?symbol={QUARTER}"), vec![open_interest(QUARTER, "250.5", base_ms + 4_500)]),
        ("/fapi/v1/exchangeInfo", vec![Reply::hang(), Reply::ok(exchange_info("0.10")), Reply::ok(exchange_info("0.50"))]),
        // The documented shape: only adjusted contracts are listed (BTCUSDT moved to 4h here).
        (
            "/fapi/v1/fundingInfo",
            vec![Reply::ok(
                json!([{ "symbol": "BTCUSDT", "adjustedFundingRateCap": "0.02500000", "adjustedFundingRateFloor": "-0.02500000",
                         "fundingIntervalHours": 4, "disclaimer": false }])
                .to_string(),
            )],
        ),
    ])
    .await;
    let ws = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let captures = tempfile::tempdir().unwrap();
    let channels = [Channel::MarkPrice, Channel::Funding, Channel::Liquidations, Channel::OpenInterest, Channel::Instruments];
    let mut binance = source(SourceKind::BinanceFutures, ws.url(), &["BTCUSDT", QUARTER], &channels);
    binance.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    binance.rest_url = Some(rest.url());
    binance.rest_timeout_ms = std::num::NonZeroU64::new(500).unwrap();
    binance.open_interest_poll_ms = std::num::NonZeroU64::new(300).unwrap();
    binance.instruments_poll_ms = std::num::NonZeroU64::new(1_000).unwrap();
    binance.max_message_bytes = 1 << 20;
    binance.record = Some(captures.path().to_path_buf());
    let mut config = support::config_for(&cluster);
    config.sources = vec![binance];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM instrument_specs", 3).await, 3);
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM open_interest", 3).await, 3);
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM liquidations", 2).await, 2);
    // Polled again after the last rows: every answer after them repeats (duplicates).
    let polls = rest.requests_to("/fapi/v1/openInterest?symbol=BTCUSDT").len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rest.requests_to("/fapi/v1/openInterest?symbol=BTCUSDT").len() < polls + 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.stop().await.expect("clean stop");
    let subscribe = ws.received.lock().unwrap().iter().find(|message| message.contains("SUBSCRIBE")).cloned().unwrap_or_default();
    let subscribe: serde_json::Value = serde_json::from_str(&subscribe).unwrap();
    assert_eq!(
        subscribe["params"],
        json!(["btcusdt@markPrice@1s", "btcusdt@forceOrder", "ethusdt_260925@markPrice@1s", "ethusdt_260925@forceOrder"]),
        "one mark price stream serves mark_price and funding"
    );

    let ms = |offset: i64| base_ms + offset;
    // mark_prices: time, symbol, mark, index.
    let marks: Vec<(i64, String, Option<f64>, Option<f64>)> = live
        .query("SELECT (extract(epoch FROM time) * 1000)::int8, symbol, mark_price, index_price FROM mark_prices WHERE venue = 'binance_futures' ORDER BY time", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(
        marks,
        [
            (ms(1_000), "BTC-USDT".to_string(), Some(11794.15), Some(11784.62659091)),
            (ms(2_000), "BTC-USDT".to_string(), Some(11795.0), Some(11785.1)),
        ]
    );
    let funding: Vec<FundingRow> = live
        .query(
            "SELECT (extract(epoch FROM time) * 1000)::int8, symbol, rate, predicted_rate,
                    (extract(epoch FROM next_funding_time) * 1000)::int8, interval
               FROM funding_rates WHERE venue = 'binance_futures' ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
        .collect();
    assert_eq!(
        funding,
        [
            (ms(1_000), "BTC-USDT".to_string(), 0.00038167, None, Some(ms(3_600_000)), Some("4h".to_string())),
            (ms(2_000), "BTC-USDT".to_string(), -0.0000125, None, Some(ms(3_600_000)), Some("4h".to_string())),
        ],
        "the interval from fundingInfo"
    );
    assert_eq!(rest.requests_to("/fapi/v1/fundingInfo").len(), 1, "asked for once a connection, then hourly");
    let liquidations: Vec<LiquidationRow> = live
        .query(
            "SELECT (extract(epoch FROM time) * 1000)::int8, symbol, side, price, quantity, order_id
               FROM liquidations WHERE venue = 'binance_futures' ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
        .collect();
    assert_eq!(
        liquidations,
        [(ms(2_499), "BTC-USDT".to_string(), -1, 9910.0, 0.014, None), (ms(2_990), QUARTER.to_string(), 1, 3050.25, 1.5, None)],
        "SELL closes a long (-1), BUY a short (1)"
    );
    let interest: Vec<(i64, String, Option<f64>, Option<f64>)> = live
        .query("SELECT (extract(epoch FROM time) * 1000)::int8, symbol, contracts, notional FROM open_interest WHERE venue = 'binance_futures' ORDER BY time", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(
        interest,
        [
            (ms(4_000), "BTC-USDT".to_string(), Some(10659.509), None),
            (ms(4_500), QUARTER.to_string(), Some(250.5), None),
            (ms(5_000), "BTC-USDT".to_string(), Some(10661.25), None),
        ]
    );
    let early = "SELECT count(*) FROM open_interest WHERE received_at < time";
    assert_eq!(support::count(&live, early).await, 0, "open interest received after its time");

    // The 429 first, then the rows; polled at least twice more after the last new answer.
    let btc_polls = rest.requests_to("/fapi/v1/openInterest?symbol=BTCUSDT");
    assert!(btc_polls.len() >= 5, "{btc_polls:?}");
    assert!(rest.requests_to(&format!("/fapi/v1/openInterest?symbol={QUARTER}")).len() >= 2);
    let rate_limited: Vec<serde_json::Value> = live
        .query("SELECT detail FROM feed_events WHERE source = 'binance_futures' AND kind = 'rate_limited'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(rate_limited.len(), 1, "{rate_limited:?}");
    assert_eq!(
        (rate_limited[0]["status"].as_u64(), rate_limited[0]["retry_after_s"].as_u64(), rate_limited[0]["tag"].as_str()),
        (Some(429), Some(1), Some("openInterest BTCUSDT"))
    );
    let before = "SELECT count(*) FROM feed_events e, open_interest o
                   WHERE e.kind = 'rate_limited' AND o.symbol = 'BTC-USDT' AND e.received_at <= o.received_at";
    assert_eq!(support::count(&live, before).await, 2, "the rate limit came before both rows");

    // The hung request: an `error` naming rest_timeout_ms, then the retry's specs.
    let errors: Vec<serde_json::Value> = live
        .query("SELECT detail FROM feed_events WHERE source = 'binance_futures' AND kind = 'error' ORDER BY time", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["tag"], "exchangeInfo");
    assert!(errors[0]["reason"].as_str().unwrap_or("").contains("rest_timeout_ms"), "{errors:?}");
    assert!(rest.requests_to("/fapi/v1/exchangeInfo").len() >= 3);
    let after = "SELECT count(*) FROM feed_events e, instrument_specs s WHERE e.kind = 'error' AND e.received_at <= s.valid_from";
    assert_eq!(support::count(&live, after).await, 3, "every version after the timeout");

    // instrument_specs: every column; BTCUSDT's tick size change closes the first version.
    type Spec = (Vec<Option<String>>, Vec<Option<f64>>, Option<i64>);
    let specs: Vec<Spec> = live
        .query(
            "SELECT symbol, venue_symbol, kind, contract_type, base_currency, quote_currency, settle_currency,
                    tick_size::float8, lot_size::float8, min_size::float8, min_notional::float8, contract_size::float8,
                    (extract(epoch FROM expiry) * 1000)::int8, status, strike::float8
               FROM instrument_specs WHERE venue = 'binance_futures' ORDER BY symbol, valid_from",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let texts = [0, 1, 2, 3, 4, 5, 6, 13].iter().map(|index| row.get(*index)).collect();
            let numbers = [7, 8, 9, 10, 11, 14].iter().map(|index| row.get(*index)).collect();
            (texts, numbers, row.get(12))
        })
        .collect();
    let spec = |symbol: &str, kind: &str, base: &str, tick: f64, notional: f64, expiry: Option<i64>| -> Spec {
        let venue_symbol = if symbol == "BTC-USDT" { "BTCUSDT" } else { symbol };
        let texts = [symbol, venue_symbol, kind, "linear", base, "USDT", "USDT", "trading"].map(|text| Some(text.to_string()));
        (texts.to_vec(), vec![Some(tick), Some(0.001), Some(0.001), Some(notional), Some(1.0), None], expiry)
    };
    assert_eq!(
        specs,
        [
            spec("BTC-USDT", "perpetual", "BTC", 0.1, 100.0, None),
            spec("BTC-USDT", "perpetual", "BTC", 0.5, 100.0, None),
            spec(QUARTER, "future", "ETH", 0.01, 20.0, Some(DELIVERY_MS)),
        ],
        "XRPUSDT is not configured"
    );
    let chained = "SELECT count(*) FROM instrument_specs first, instrument_specs second
                    WHERE first.symbol = 'BTC-USDT' AND second.symbol = 'BTC-USDT' AND first.tick_size = 0.1 AND second.tick_size = 0.5
                      AND first.valid_to = second.valid_from AND second.valid_to IS NULL";
    assert_eq!(support::count(&live, chained).await, 1, "the first version ends where the second begins");
    let as_of = "SELECT tick_size::float8 FROM instrument_spec_at('binance_futures', 'BTC-USDT',
                    (SELECT valid_from FROM instrument_specs WHERE symbol = 'BTC-USDT' AND tick_size = 0.5) - interval '1 microsecond')";
    assert_eq!(live.query_one(as_of, &[]).await.unwrap().get::<_, f64>(0), 0.1);
    let changed: Vec<serde_json::Value> = live
        .query("SELECT detail FROM feed_events WHERE source = 'binance_futures' AND kind = 'instrument_changed'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        changed,
        [json!({ "venue": "binance_futures", "symbol": "BTC-USDT", "changes": { "tick_size": { "from": 0.1, "to": 0.5 } } })]
    );
    assert_eq!(feed_events(&live, "binance_futures", "instrument_changed").await, 1);
    let dead = support::count(&live, "SELECT count(*) FROM dead_letters").await;
    assert_eq!(dead, 0);

    // The capture replayed into a fresh database: the same rows, `received_at` included.
    let names: Vec<&str> = channels.iter().map(|channel| channel.name()).collect();
    let replayed = replay_captures(&cluster, &live, captures.path(), "binance_futures", &["BTCUSDT", QUARTER], &names).await;
    for (table, query) in DERIVED {
        let (live_rows, replayed_rows) = (rows(&live, query).await, rows(&replayed, query).await);
        assert!(!live_rows.is_empty(), "{table}");
        assert_eq!(replayed_rows, live_rows, "{table} replayed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_spot_instruments_ask_for_the_configured_pairs() {
    let answer = json!({ "timezone": "UTC", "serverTime": 1_795_348_800_000_i64, "rateLimits": [], "exchangeFilters": [], "symbols": [
        { "symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "baseAssetPrecision": 8, "quoteAsset": "BTC", "quotePrecision": 8,
          "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": true, "permissions": [],
          "filters": [
            { "filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "100000.00000000", "tickSize": "0.00000100" },
            { "filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000" },
            { "filterType": "NOTIONAL", "minNotional": "0.00010000", "applyMinToMarket": true, "maxNotional": "9000000.00000000",
              "applyMaxToMarket": false, "avgPriceMins": 5 }
          ] }
    ] })
    .to_string();
    let rest = FakeRest::routed(vec![("/api/v3/exchangeInfo", vec![Reply::ok(answer)])]).await;
    let ws = FakeVenue::start(vec![vec![subscribed(), Step::Silence]]).await;
    let cluster = support::start_cluster();
    let mut binance = source(SourceKind::Binance, ws.url(), &["ethbtc"], &[Channel::Trades, Channel::Instruments]);
    binance.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    binance.rest_url = Some(rest.url());
    let mut config = support::config_for(&cluster);
    config.sources = vec![binance];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM instrument_specs", 1).await, 1);
    daemon.stop().await.expect("clean stop");
    assert_eq!(rest.requests_to("/api/v3/exchangeInfo"), ["/api/v3/exchangeInfo?symbols=%5B%22ETHBTC%22%5D"]);
    let row = live
        .query_one(
            "SELECT venue, symbol, venue_symbol, kind, contract_type, base_currency, quote_currency, settle_currency,
                    tick_size::float8, lot_size::float8, min_size::float8, min_notional::float8, contract_size::float8, expiry IS NULL, status
               FROM instrument_specs",
            &[],
        )
        .await
        .unwrap();
    let texts: Vec<Option<String>> = [0, 1, 2, 3, 4, 5, 6, 7, 14].iter().map(|index| row.get(*index)).collect();
    let text = |text: &str| Some(text.to_string());
    assert_eq!(
        texts,
        [text("binance"), text("ETH-BTC"), text("ETHBTC"), text("spot"), None, text("ETH"), text("BTC"), None, text("trading")]
    );
    let numbers: Vec<Option<f64>> = (8..13).map(|index| row.get(index)).collect();
    assert_eq!(numbers, [Some(0.000001), Some(0.001), Some(0.001), Some(0.0001), None]);
    assert!(row.get::<_, bool>(13));
}

#[test]
fn the_commented_binance_futures_example_is_valid() {
    let config = hypertick::app::load_config_str(&crate::feeds::commented_example("binance_futures"), Vec::new())
        .unwrap_or_else(|errors| panic!("the binance_futures example: {errors}"));
    assert_eq!(config.sources[0].kind, SourceKind::BinanceFutures);
    assert_eq!(config.sources[0].channels.len(), 6);
    // The polls alone are refused: a connection with no stream is closed as silent.
    let polled_only = crate::feeds::commented_example("binance_futures")
        .replace(r#""trades", "mark_price", "funding", "liquidations", "open_interest""#, r#""open_interest""#);
    let errors = hypertick::app::load_config_str(&polled_only, Vec::new()).unwrap_err().to_string();
    assert!(errors.contains("channels") && errors.contains("stream channel"), "{errors}");
}
