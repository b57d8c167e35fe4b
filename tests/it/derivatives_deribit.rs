//! Deribit derivatives against the fake venue and its REST side: documented
//! `ticker.{instrument}.100ms` notifications (Deribit API v2, "Subscriptions") become exact
//! `funding_rates` (`funding_8h` with `current_funding` as the predicted rate),
//! `open_interest` (USD notional for the inverse perpetual, base-currency units for the
//! linear one) and `mark_prices` rows, `deribit_price_index.btc_usd` a row under the index
//! name, trades carrying `liquidation` the liquidation orders' rows (no ticks: `trades`
//! is not asked for), and `public/get_instrument` an `instrument_specs` version while a
//! `400` answer is a dead letter and the poll goes on.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_rest::{FakeRest, Reply};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const INVERSE: &str = "BTC-PERPETUAL";
const LINEAR: &str = "BTC_USDC-PERPETUAL";

fn notification(channel: &str, data: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"{channel}","data":{data}}}}}"#)
}

fn ticker(instrument: &str, open_interest: &str, funding_8h: &str, current_funding: &str, ts: i64) -> String {
    notification(
        &format!("ticker.{instrument}.100ms"),
        &format!(
            r#"{{"timestamp":{ts},"stats":{{"volume_usd":1206540.0,"volume":32.55,"price_change":0.26,"low":36644.5,"high":37005.0}},"state":"open","settlement_price":36727.78,"open_interest":{open_interest},"min_price":36361.23,"max_price":37468.2,"mark_price":36922.4,"last_price":36930.0,"interest_value":1.63,"instrument_name":"{instrument}","index_price":36914.47,"funding_8h":{funding_8h},"estimated_delivery_price":36914.47,"current_funding":{current_funding},"best_bid_price":36926.5,"best_bid_amount":1000.0,"best_ask_price":36927.0,"best_ask_amount":10.0}}"#
        ),
    )
}

fn trade(seq: u64, direction: &str, price: &str, amount: &str, liquidation: &str, ts: i64) -> String {
    format!(
        r#"{{"trade_seq":{seq},"trade_id":"{}","timestamp":{ts},"tick_direction":0,"price":{price},"mark_price":36922.4,"instrument_name":"BTC-PERPETUAL","index_price":36914.47,"direction":"{direction}","amount":{amount}{liquidation}}}"#,
        48_079_000 + seq
    )
}

fn ms(column: &str) -> String {
    format!("(extract(epoch FROM {column}) * 1000)::bigint")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_derivatives_rows_and_instrument_polls() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let channels = r#"["ticker.BTC-PERPETUAL.100ms","trades.BTC-PERPETUAL.raw","ticker.BTC_USDC-PERPETUAL.100ms","trades.BTC_USDC-PERPETUAL.raw","deribit_price_index.btc_usd"]"#;
    let trades = [
        trade(1, "buy", "36930", "100", "", base + 4_000),
        trade(2, "sell", "36900.5", "2000", r#","liquidation":"T""#, base + 4_100),
        trade(3, "buy", "36950", "500", r#","liquidation":"M""#, base + 4_200),
        trade(4, "buy", "36960", "70", r#","liquidation":"MT""#, base + 4_300),
    ];
    let script = vec![
        Step::Expect("public/set_heartbeat", r#"{"jsonrpc":"2.0","id":{id},"result":"ok"}"#.to_string()),
        Step::Expect("public/subscribe", format!(r#"{{"jsonrpc":"2.0","id":{{id}},"result":{channels}}}"#)),
        Step::Send(ticker(INVERSE, "502097590", "0.00017", "0.00003", base + 1_000)),
        Step::Send(ticker(LINEAR, "12.3456", "-0.0001", "0", base + 2_000)),
        Step::Send(notification(
            "deribit_price_index.btc_usd",
            &format!(r#"{{"timestamp":{},"price":36914.47,"index_name":"btc_usd"}}"#, base + 3_000),
        )),
        Step::Send(notification("trades.BTC-PERPETUAL.raw", &format!("[{}]", trades.join(",")))),
        Step::Silence,
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let inverse_path = "/api/v2/public/get_instrument?instrument_name=BTC-PERPETUAL";
    let linear_path = "/api/v2/public/get_instrument?instrument_name=BTC_USDC-PERPETUAL";
    let perpetual = r#"{"jsonrpc":"2.0","result":{"tick_size":0.5,"tick_size_steps":[],"taker_commission":0.0005,"settlement_period":"perpetual","settlement_currency":"BTC","quote_currency":"USD","price_index":"btc_usd","min_trade_amount":10,"maker_commission":0,"kind":"future","is_active":true,"instrument_name":"BTC-PERPETUAL","instrument_type":"reversed","expiration_timestamp":32503708800000,"creation_timestamp":1534242287000,"counter_currency":"USD","contract_size":10,"base_currency":"BTC"},"usIn":1,"usOut":2,"usDiff":1,"testnet":false}"#;
    let refusal = r#"{"jsonrpc":"2.0","error":{"message":"Invalid params","data":{"reason":"instrument not found","param":"instrument_name"},"code":-32602},"testnet":false}"#;
    let rest = FakeRest::routed(vec![
        (inverse_path, vec![Reply::ok(perpetual.into())]),
        (linear_path, vec![Reply { status: 400, retry_after_s: None, body: refusal.into(), hang: false }]),
    ])
    .await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut deribit = source(
        SourceKind::Deribit,
        venue.url(),
        &[INVERSE, LINEAR, "btc_usd"],
        &[Channel::Funding, Channel::OpenInterest, Channel::MarkPrice, Channel::Liquidations, Channel::Instruments],
    );
    deribit.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    deribit.rest_url = Some(rest.url());
    deribit.instruments_poll_ms = std::num::NonZeroU64::new(300).unwrap();
    config.sources = vec![deribit];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM liquidations", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM mark_prices", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 1).await, 1);
    assert!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE source = 'deribit'", 2).await >= 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rest.requests_to(inverse_path).len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.stop().await.expect("clean stop");

    type FundingRow = (String, f64, Option<f64>, Option<i64>, Option<String>, i64);
    let funding: Vec<FundingRow> = client
        .query(
            &format!(
                "SELECT symbol, rate, predicted_rate, {}, \"interval\", {} FROM funding_rates ORDER BY time",
                ms("next_funding_time"),
                ms("time")
            ),
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
            (INVERSE.to_string(), 0.00017, Some(0.00003), None, Some("8h".to_string()), base + 1_000),
            (LINEAR.to_string(), -0.0001, Some(0.0), None, Some("8h".to_string()), base + 2_000),
        ]
    );

    let interest: Vec<(String, Option<f64>, Option<f64>, i64)> = client
        .query(&format!("SELECT symbol, contracts, notional, {} FROM open_interest ORDER BY time", ms("time")), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    assert_eq!(
        interest,
        [(INVERSE.to_string(), None, Some(502097590.0), base + 1_000), (LINEAR.to_string(), Some(12.3456), None, base + 2_000)],
        "USD (notional) for the inverse perpetual, base-currency units for the linear one"
    );

    type MarkRow = (String, String, Option<f64>, Option<f64>, i64);
    let marks: Vec<MarkRow> = client
        .query(&format!("SELECT venue, symbol, mark_price, index_price, {} FROM mark_prices ORDER BY time", ms("time")), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    assert_eq!(
        marks,
        [
            ("deribit".into(), INVERSE.into(), Some(36922.4), Some(36914.47), base + 1_000),
            ("deribit".into(), LINEAR.into(), Some(36922.4), Some(36914.47), base + 2_000),
            ("deribit".into(), "btc_usd".into(), None, Some(36914.47), base + 3_000),
        ]
    );

    let liquidations: Vec<(String, i16, f64, f64, Option<String>, i64)> = client
        .query(&format!("SELECT symbol, side, price, quantity, order_id, {} FROM liquidations ORDER BY time, side", ms("time")), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5)))
        .collect();
    let row = |side: i16, price: f64, quantity: f64, offset: i64| (INVERSE.to_string(), side, price, quantity, None, base + offset);
    assert_eq!(
        liquidations,
        [row(-1, 36900.5, 2000.0, 4_100), row(-1, 36950.0, 500.0, 4_200), row(-1, 36960.0, 70.0, 4_300), row(1, 36960.0, 70.0, 4_300)],
        "T: the taker's side; M: the maker's (opposite the taker's buy); MT: both"
    );
    assert_eq!(support::count(&client, "SELECT count(*) FROM ticks").await, 0, "`trades` was not asked for");
    assert_eq!(support::count(&client, "SELECT count(*) FROM quotes").await, 0, "`quotes` was not asked for");

    let spec = client
        .query_one(
            "SELECT symbol, kind, contract_type, base_currency, quote_currency, settle_currency, tick_size::text, lot_size::text, \
             min_size::text, contract_size::text, expiry IS NULL, status, valid_to IS NULL FROM instrument_specs",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            spec.get::<_, String>(0),
            spec.get::<_, String>(1),
            spec.get::<_, Option<String>>(2),
            spec.get::<_, Option<String>>(3),
            spec.get::<_, Option<String>>(4),
            spec.get::<_, Option<String>>(5),
        ),
        (INVERSE.into(), "perpetual".into(), Some("inverse".into()), Some("BTC".into()), Some("USD".into()), Some("BTC".into()))
    );
    assert_eq!(
        (
            spec.get::<_, String>(6),
            spec.get::<_, String>(7),
            spec.get::<_, String>(8),
            spec.get::<_, String>(9),
            spec.get::<_, bool>(10),
            spec.get::<_, String>(11),
            spec.get::<_, bool>(12)
        ),
        ("0.5".into(), "10".into(), "10".into(), "10".into(), true, "trading".into(), true),
        "repeated equal observations make no new version"
    );

    let refused: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'deribit'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(refused.iter().all(|(reason, raw)| reason == "subscription_refused" && raw == &format!("GET {linear_path}")), "{refused:?}");
    assert!(rest.requests_to(linear_path).len() >= 2, "the refused poll goes on");
}
