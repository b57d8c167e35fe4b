//! OKX derivatives against the fake venue and its REST side: the documented pushes of
//! `funding-rate`, `open-interest`, `mark-price`, `index-tickers` and `liquidation-orders`
//! (OKX API v5, "WebSocket / Public channel") become exact rows of `funding_rates`,
//! `open_interest`, `mark_prices` (the index's rows under the index name, mark NULL) and
//! `liquidations` (only the configured instruments); the `instruments` poll of
//! `GET /api/v5/public/instruments` makes an `instrument_specs` version, a tick size that
//! changes between two polls a second version (the first closed) and an
//! `instrument_changed` event, and a `400` answer is a dead letter while the poll goes on.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_rest::{FakeRest, Reply};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const SWAP: &str = "BTC-USDT-SWAP";
const FUTURE: &str = "BTC-USD-250328";

/// The acknowledgement of one arg (`key` is `instId` or `instType`).
fn ack(channel: &str, key: &str, value: &str, with_id: bool) -> String {
    let id = if with_id { r#""id":{id},"# } else { "" };
    format!(r#"{{{id}"event":"subscribe","arg":{{"channel":"{channel}","{key}":"{value}"}},"connId":"fake-conn-1"}}"#)
}

fn push(channel: &str, key: &str, value: &str, data: &str) -> String {
    format!(r#"{{"arg":{{"channel":"{channel}","{key}":"{value}"}},"data":[{data}]}}"#)
}

/// One `GET /api/v5/public/instruments` answer for the swap, with this tick size.
fn swap_instrument(tick_size: &str) -> String {
    format!(
        r#"{{"code":"0","msg":"","data":[{{"alias":"","baseCcy":"","category":"1","ctMult":"1","ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","expTime":"","instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","lever":"100","listTime":"1606468572000","lotSz":"1","maxLmtSz":"100000000","minSz":"1","optType":"","quoteCcy":"","settleCcy":"USDT","state":"live","stk":"","tickSz":"{tick_size}","uly":"BTC-USDT"}}]}}"#
    )
}

fn ms(column: &str) -> String {
    format!("(extract(epoch FROM {column}) * 1000)::bigint")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_derivatives_rows_instrument_versions_and_a_refused_poll() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let funding_time = base / 28_800_000 * 28_800_000 + 28_800_000;
    let mut script = vec![Step::Expect("subscribe", ack("funding-rate", "instId", SWAP, true))];
    for (channel, key, value) in [
        ("open-interest", "instId", SWAP),
        ("index-tickers", "instId", "BTC-USDT"),
        ("mark-price", "instId", SWAP),
        ("liquidation-orders", "instType", "SWAP"),
        ("open-interest", "instId", FUTURE),
        ("index-tickers", "instId", "BTC-USD"),
        ("mark-price", "instId", FUTURE),
        ("liquidation-orders", "instType", "FUTURES"),
    ] {
        script.push(Step::Send(ack(channel, key, value, false)));
    }
    script.extend([
        Step::Send(push(
            "funding-rate",
            "instId",
            SWAP,
            &format!(
                r#"{{"formulaType":"noRate","fundingRate":"0.0001875391284828","fundingTime":"{funding_time}","impactValue":"","instId":"BTC-USDT-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"0.00011","nextFundingTime":"{}","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033","settState":"settled","sign":"","ts":"{}"}}"#,
                funding_time + 28_800_000,
                base + 1_000
            ),
        )),
        Step::Send(push(
            "open-interest",
            "instId",
            SWAP,
            &format!(r#"{{"instId":"BTC-USDT-SWAP","instType":"SWAP","oi":"2216113.01","oiCcy":"22161.1301","oiUsd":"2150000000.5","ts":"{}"}}"#, base + 2_000),
        )),
        Step::Send(push(
            "mark-price",
            "instId",
            FUTURE,
            &format!(r#"{{"instType":"FUTURES","instId":"BTC-USD-250328","markPx":"97250.3","ts":"{}"}}"#, base + 3_000),
        )),
        Step::Send(push(
            "index-tickers",
            "instId",
            "BTC-USDT",
            &format!(
                r#"{{"instId":"BTC-USDT","idxPx":"97001.2","high24h":"98000","low24h":"96000","open24h":"96500","sodUtc0":"96600","sodUtc8":"96700","ts":"{}"}}"#,
                base + 4_000
            ),
        )),
        // Every swap's liquidations: the configured one is kept, the other not.
        Step::Send(push(
            "liquidation-orders",
            "instType",
            "SWAP",
            &format!(
                r#"{{"details":[{{"bkLoss":"0","bkPx":"96100.5","ccy":"","posSide":"long","side":"sell","sz":"13","ts":"{}"}},{{"bkLoss":"0","bkPx":"96200","ccy":"","posSide":"short","side":"buy","sz":"2","ts":"{}"}}],"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}},{{"details":[{{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"{}"}}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}}"#,
                base + 5_000,
                base + 5_500,
                base + 5_600
            ),
        )),
        Step::Silence,
    ]);
    let venue = FakeVenue::start(vec![script]).await;
    let swap_path = "/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP";
    let future_path = "/api/v5/public/instruments?instType=FUTURES&instId=BTC-USD-250328";
    let refusal = r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#;
    let rest = FakeRest::routed(vec![
        (swap_path, vec![Reply::ok(swap_instrument("0.1")), Reply::ok(swap_instrument("0.5"))]),
        (future_path, vec![Reply { status: 400, retry_after_s: None, body: refusal.into(), hang: false }]),
    ])
    .await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut okx = source(
        SourceKind::Okx,
        venue.url(),
        &[SWAP, FUTURE],
        &[Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Liquidations, Channel::Instruments],
    );
    okx.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    okx.rest_url = Some(rest.url());
    okx.instruments_poll_ms = std::num::NonZeroU64::new(300).unwrap();
    config.sources = vec![okx];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM liquidations", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM mark_prices", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 2).await, 2);
    assert!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE source = 'okx'", 2).await >= 2);
    // A few more polls: equal observations make no version.
    let polls = rest.requests_to(swap_path).len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rest.requests_to(swap_path).len() < polls + 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.stop().await.expect("clean stop");

    let subscribes: Vec<String> = venue.received.lock().unwrap().iter().filter(|text| text.contains("subscribe")).cloned().collect();
    assert_eq!(
        subscribes,
        [
            r#"{"args":[{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},{"channel":"open-interest","instId":"BTC-USDT-SWAP"},{"channel":"index-tickers","instId":"BTC-USDT"},{"channel":"mark-price","instId":"BTC-USDT-SWAP"},{"channel":"liquidation-orders","instType":"SWAP"},{"channel":"open-interest","instId":"BTC-USD-250328"},{"channel":"index-tickers","instId":"BTC-USD"},{"channel":"mark-price","instId":"BTC-USD-250328"},{"channel":"liquidation-orders","instType":"FUTURES"}],"id":"1","op":"subscribe"}"#
        ],
        "no funding-rate for the dated future"
    );

    let funding = client
        .query_one(
            &format!(
                "SELECT venue, symbol, rate, predicted_rate, {}, \"interval\", {} FROM funding_rates",
                ms("next_funding_time"),
                ms("time")
            ),
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
            funding.get::<_, Option<i64>>(4),
            funding.get::<_, Option<String>>(5),
            funding.get::<_, i64>(6)
        ),
        ("okx".into(), SWAP.into(), 0.0001875391284828, Some(0.00011), Some(funding_time), Some("8h".into()), base + 1_000)
    );

    let interest =
        client.query_one(&format!("SELECT venue, symbol, contracts, notional, {} FROM open_interest", ms("time")), &[]).await.unwrap();
    assert_eq!(
        (
            interest.get::<_, String>(0),
            interest.get::<_, String>(1),
            interest.get::<_, Option<f64>>(2),
            interest.get::<_, Option<f64>>(3),
            interest.get::<_, i64>(4)
        ),
        ("okx".into(), SWAP.into(), Some(2216113.01), Some(2150000000.5), base + 2_000)
    );

    let marks: Vec<(String, Option<f64>, Option<f64>, i64)> = client
        .query(&format!("SELECT symbol, mark_price, index_price, {} FROM mark_prices WHERE venue = 'okx' ORDER BY time", ms("time")), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(
        marks,
        [(FUTURE.to_string(), Some(97250.3), None, base + 3_000), ("BTC-USDT".to_string(), None, Some(97001.2), base + 4_000)],
        "the index's row carries the index name and no mark"
    );

    type LiquidationRow = (String, String, i16, f64, f64, Option<String>, i64);
    let liquidations: Vec<LiquidationRow> = client
        .query(&format!("SELECT venue, symbol, side, price, quantity, order_id, {} FROM liquidations ORDER BY time", ms("time")), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    assert_eq!(
        liquidations,
        [
            ("okx".into(), SWAP.into(), -1, 96100.5, 13.0, None, base + 5_000),
            ("okx".into(), SWAP.into(), 1, 96200.0, 2.0, None, base + 5_500),
        ],
        "`side` is the liquidation order's (a long is closed by a sell); other instruments are not kept"
    );

    type Spec =
        (String, String, String, Option<String>, Option<String>, Option<String>, Option<String>, String, String, String, String, String);
    let specs: Vec<(Spec, bool, bool)> = client
        .query(
            "SELECT symbol, venue_symbol, kind, contract_type, base_currency, quote_currency, settle_currency, tick_size::text, \
             lot_size::text, min_size::text, contract_size::text, status, expiry IS NULL, valid_to IS NULL \
             FROM instrument_specs WHERE venue = 'okx' ORDER BY valid_from",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
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
                ),
                row.get(12),
                row.get(13),
            )
        })
        .collect();
    let spec = |tick: &str| -> Spec {
        (
            SWAP.into(),
            SWAP.into(),
            "perpetual".into(),
            Some("linear".into()),
            Some("BTC".into()),
            Some("USDT".into()),
            Some("USDT".into()),
            tick.into(),
            "1".into(),
            "1".into(),
            "0.01".into(),
            "trading".into(),
        )
    };
    assert_eq!(specs, [(spec("0.1"), true, false), (spec("0.5"), true, true)], "the tick size change closed the first version");
    let closed = client
        .query_one(
            "SELECT count(*) FROM instrument_specs a JOIN instrument_specs b ON a.symbol = b.symbol AND a.valid_to = b.valid_from WHERE a.venue = 'okx'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(closed.get::<_, i64>(0), 1, "the first version ends where the second begins");
    let as_of = client
        .query_one(
            "SELECT tick_size::text FROM instrument_spec_at('okx', 'BTC-USDT-SWAP', (SELECT min(valid_from) FROM instrument_specs))",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(as_of.get::<_, String>(0), "0.1");

    let changes: Vec<serde_json::Value> = client
        .query("SELECT detail FROM feed_events WHERE source = 'okx' AND kind = 'instrument_changed'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (&changes[0]["symbol"], &changes[0]["changes"]),
        (&serde_json::json!(SWAP), &serde_json::json!({ "tick_size": { "from": 0.1, "to": 0.5 } }))
    );

    let refused: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'okx'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(refused.len() >= 2, "{refused:?}");
    assert!(refused.iter().all(|(reason, raw)| reason == "subscription_refused" && raw == &format!("GET {future_path}")), "{refused:?}");
    assert!(rest.requests_to(future_path).len() >= 2, "the refused poll goes on");
}
