//! The Deribit adapter against the fake venue over real websockets: `public/set_heartbeat`
//! and `public/subscribe` acknowledged by id, exact rows for scripted trades and tickers,
//! a `trade_seq` skip as a gap event, a `test_request` heartbeat answered with
//! `public/test`, a dead letter for garbage, and after a drop the resubscription with a
//! re-sent trade dropped as a duplicate; 24-hour tickers of a perpetual (none of an
//! option) and the instruments' asset classes.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, now_ms, source, ticker_rows, TickerRow};
use crate::support::{self, wait_for_count};

/// The answers to `public/set_heartbeat` and `public/subscribe`.
fn deribit_acks() -> Vec<Step> {
    vec![
        Step::Expect("public/set_heartbeat", r#"{"jsonrpc":"2.0","id":{id},"result":"ok"}"#.to_string()),
        Step::Expect(
            "public/subscribe",
            r#"{"jsonrpc":"2.0","id":{id},"result":["trades.BTC-PERPETUAL.raw","ticker.BTC-PERPETUAL.100ms","trades.BTC-27DEC24-100000-C.raw","ticker.BTC-27DEC24-100000-C.100ms"]}"#.to_string(),
        ),
    ]
}

/// One `trades` notification; each trade is (trade_seq, direction, price, amount, time ms).
fn deribit_trades(instrument: &str, trades: &[(u64, &str, &str, &str, i64)]) -> String {
    let data: Vec<String> = trades
        .iter()
        .map(|(seq, direction, price, amount, ts)| {
            format!(
                r#"{{"trade_seq":{seq},"trade_id":"{}","timestamp":{ts},"tick_direction":1,"price":{price},"mark_price":97000.1,"instrument_name":"{instrument}","index_price":97001.2,"direction":"{direction}","amount":{amount}}}"#,
                48_079_000 + seq
            )
        })
        .collect();
    format!(r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"trades.{instrument}.raw","data":[{}]}}}}"#, data.join(","))
}

fn deribit_ticker(instrument: &str, bid: (&str, &str), ask: (&str, &str), ts: i64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.{instrument}.100ms","data":{{"timestamp":{ts},"state":"open","instrument_name":"{instrument}","best_bid_price":{},"best_bid_amount":{},"best_ask_price":{},"best_ask_amount":{},"mark_price":0.0505,"index_price":97001.2,"open_interest":12.5,"mark_iv":55.1,"bid_iv":54.0,"ask_iv":56.3,"underlying_price":97100.5,"greeks":{{"delta":0.45,"gamma":0.00002,"theta":-120.5,"vega":90.1,"rho":10.2}}}}}}}}"#,
        bid.0, bid.1, ask.0, ask.1
    )
}

const TEST_REQUEST: &str = r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_rows_gap_heartbeat_duplicates_garbage_and_resubscribe() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let option = "BTC-27DEC24-100000-C";
    let mut first = deribit_acks();
    first.extend([
        Step::Send(deribit_trades("BTC-PERPETUAL", &[(30289432, "buy", "97000.5", "10", base + 1_000), (30289433, "sell", "97001", "250", base + 2_000)])),
        Step::Send(deribit_trades("BTC-PERPETUAL", &[(30289436, "buy", "97002.5", "40", base + 3_000)])),
        Step::Send(deribit_ticker("BTC-PERPETUAL", ("97000", "1200"), ("97000.5", "3400"), base + 4_000)),
        Step::Send(deribit_ticker(option, ("null", "0"), ("0.051", "3"), base + 4_500)),
        Step::Send(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}"#.to_string()),
        Step::Send(TEST_REQUEST.to_string()),
        Step::Expect("public/test", r#"{"jsonrpc":"2.0","id":{id},"result":{"version":"1.2.26"}}"#.to_string()),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(200)),
        Step::Drop,
    ]);
    let mut second = deribit_acks();
    second.extend([
        Step::Send(deribit_trades("BTC-PERPETUAL", &[(30289436, "buy", "97002.5", "40", base + 3_000)])),
        Step::Send(deribit_trades(option, &[(7, "sell", "0.0505", "1.5", base + 5_000)])),
        Step::Send(deribit_ticker(option, ("0.05", "5"), ("0.051", "3"), base + 6_000)),
        Step::Send(deribit_trades("BTC-PERPETUAL", &[(30289437, "sell", "97003", "20", base + 7_000)])),
    ]);
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Deribit, venue.url(), &["BTC-PERPETUAL", option], &[Channel::Trades, Channel::Quotes])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 5).await, 5);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 2).await, 2);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'deribit' AND kind = 'resubscribed'", 1).await,
        1
    );
    let received = venue.received.lock().unwrap().clone();
    daemon.stop().await.expect("clean stop");

    assert_eq!(
        received.iter().filter(|text| text.contains("public/set_heartbeat")).collect::<Vec<_>>(),
        vec![
            r#"{"id":1,"jsonrpc":"2.0","method":"public/set_heartbeat","params":{"interval":30}}"#,
            r#"{"id":4,"jsonrpc":"2.0","method":"public/set_heartbeat","params":{"interval":30}}"#
        ],
        "the heartbeat is enabled on every connection: {received:?}"
    );
    assert_eq!(
        received.iter().find(|text| text.contains("public/subscribe")).unwrap(),
        r#"{"id":2,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["trades.BTC-PERPETUAL.raw","ticker.BTC-PERPETUAL.100ms","trades.BTC-27DEC24-100000-C.raw","ticker.BTC-27DEC24-100000-C.100ms"]}}"#
    );
    assert_eq!(
        received.iter().filter(|text| text.contains("public/test")).collect::<Vec<_>>(),
        vec![r#"{"id":3,"jsonrpc":"2.0","method":"public/test","params":{}}"#],
        "the test_request was answered, and only it: {received:?}"
    );

    let ticks: Vec<(String, String, String, f64, f64, i16, i64)> = client
        .query(
            "SELECT venue, symbol, trade_id, price, size, side, (extract(epoch FROM time) * 1000)::bigint
               FROM ticks ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    let tick = |symbol: &str, seq: u64, price: f64, size: f64, side: i16, offset: i64| {
        ("deribit".to_string(), symbol.to_string(), (48_079_000 + seq).to_string(), price, size, side, base + offset)
    };
    assert_eq!(
        ticks,
        vec![
            tick("BTC-PERPETUAL", 30289432, 97000.5, 10.0, 1, 1_000),
            tick("BTC-PERPETUAL", 30289433, 97001.0, 250.0, -1, 2_000),
            tick("BTC-PERPETUAL", 30289436, 97002.5, 40.0, 1, 3_000),
            tick(option, 7, 0.0505, 1.5, -1, 5_000),
            tick("BTC-PERPETUAL", 30289437, 97003.0, 20.0, -1, 7_000),
        ],
        "`side` is the taker's direction; the trade re-sent after the resubscribe was dropped"
    );

    let quotes: Vec<(String, String, f64, f64, f64, f64, i64)> = client
        .query(
            "SELECT venue, symbol, bid_price, bid_size, ask_price, ask_size, (extract(epoch FROM time) * 1000)::bigint
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
            ("deribit".to_string(), "BTC-PERPETUAL".to_string(), 97000.0, 1200.0, 97000.5, 3400.0, base + 4_000),
            ("deribit".to_string(), option.to_string(), 0.05, 5.0, 0.051, 3.0, base + 6_000),
        ],
        "the ticker without a bid is no quote"
    );

    let gaps: Vec<serde_json::Value> = client
        .query("SELECT detail FROM feed_events WHERE source = 'deribit' AND kind = 'gap'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        gaps,
        vec![serde_json::json!({ "symbol": "BTC-PERPETUAL", "stream": "trades", "missing_from": 30289434, "missing_to": 30289435 })]
    );
    assert_eq!(support::feed_events(&client, "deribit", "connected").await, 2);
    assert!(support::feed_events(&client, "deribit", "reconnecting").await >= 1);
    let dead_letters: Vec<(String, String)> = client
        .query("SELECT reason, raw FROM dead_letters WHERE source = 'deribit'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        dead_letters,
        vec![("invalid_json".to_string(), "{not json".to_string())],
        "heartbeats and the public/test result are no dead letters"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_tickers_of_a_perpetual_not_of_an_option() {
    let ts = now_ms() - 60_000;
    let option = "BTC-27DEC24-100000-C";
    let ticker = |instrument: &str, last: &str, ts: i64| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.{instrument}.100ms","data":{{"timestamp":{ts},"stats":{{"volume_usd":284061480,"volume":7871.02139035,"price_change":0.7229,"low":95213.5,"high":97824.5}},"state":"open","settlement_price":96169.49,"open_interest":502097590,"min_price":95898.37,"max_price":97991.72,"mark_price":96446.51,"last_price":{last},"instrument_name":"{instrument}","index_price":96441.64,"best_bid_price":96442.5,"best_bid_amount":5000,"best_ask_price":96443,"best_ask_amount":100}}}}}}"#
        )
    };
    let script = vec![
        Step::Expect("public/set_heartbeat", r#"{"jsonrpc":"2.0","id":{id},"result":"ok"}"#.to_string()),
        Step::Expect(
            "public/subscribe",
            r#"{"jsonrpc":"2.0","id":{id},"result":["ticker.BTC-PERPETUAL.100ms","ticker.BTC-27DEC24-100000-C.100ms"]}"#.to_string(),
        ),
        Step::Send(ticker("BTC-PERPETUAL", "96457.5", ts)),
        Step::Send(ticker(option, "0.05", ts + 1)),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Deribit, venue.url(), &["BTC-PERPETUAL", option], &[Channel::Tickers])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 1).await, 1);
    let instruments = listed_instruments(&client, "deribit", 2).await;
    daemon.stop().await.expect("clean stop");
    assert_eq!(
        ticker_rows(&client).await,
        vec![TickerRow {
            venue: "deribit".into(),
            symbol: "BTC-PERPETUAL".into(),
            last: 96457.5,
            open_24h: None,
            high_24h: Some(97824.5),
            low_24h: Some(95213.5),
            volume_24h: Some(7871.02139035),
            quote_volume_24h: Some(284061480.0),
            change: None,
            change_pct: Some(0.7229),
            time: ts * 1_000,
            at_receipt: false,
        }],
        "stats.price_change is already in percent; Deribit sends no open price; the option's ticker is no 24-hour ticker"
    );
    assert_eq!(support::count(&client, "SELECT count(*) FROM quotes").await, 0, "quotes were not asked for");
    assert_eq!(
        instruments,
        vec![
            (option.to_string(), option.to_string(), Some("option".to_string())),
            ("BTC-PERPETUAL".to_string(), "BTC-PERPETUAL".to_string(), Some("future".to_string())),
        ]
    );
}
