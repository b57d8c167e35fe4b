//! The Deribit adapter against the fake venue over real websockets: `public/set_heartbeat`
//! and `public/subscribe` acknowledged by id, exact rows for scripted trades and tickers,
//! a `trade_seq` skip as a gap event, a `test_request` heartbeat answered with
//! `public/test`, a dead letter for garbage, and after a drop the resubscription with a
//! re-sent trade dropped as a duplicate; 24-hour tickers of a perpetual (none of an
//! option) and the instruments' asset classes; and `options`: the tickers of option
//! names only, exact `options_quotes` rows and the contracts' `instruments` rows.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{listed_instruments, now_ms, quote_rows, source, tick_rows, ticker_rows, TickerRow};
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
        Step::Send(deribit_trades(
            "BTC-PERPETUAL",
            &[(30289432, "buy", "97000.5", "10", base + 1_000), (30289433, "sell", "97001", "250", base + 2_000)],
        )),
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
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM feed_events WHERE source = 'deribit' AND kind = 'resubscribed'", 1).await, 1);
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

    let ticks = tick_rows(&client, "time").await;
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

    let quotes = quote_rows(&client, "time").await;
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

/// A ticker notification of an option, in the documented shape; `bid` is
/// (best_bid_price, bid_iv), `None` for a side without orders (`null` price, IV 0).
fn deribit_option_ticker(instrument: &str, ts: i64, bid: Option<(&str, &str)>, mark: &str, delta: &str, mark_iv: &str) -> String {
    let (bid_price, bid_iv) = bid.unwrap_or(("null", "0"));
    format!(
        r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.{instrument}.100ms","data":{{"timestamp":{ts},"state":"open","stats":{{"high":0.0535,"low":0.0490,"price_change":2.5,"volume":12.3,"volume_usd":61500}},"greeks":{{"delta":{delta},"gamma":0.00002,"vega":152.41,"theta":-61.87,"rho":35.2}},"index_price":97001.2,"instrument_name":"{instrument}","last_price":0.0505,"settlement_price":0.0497,"min_price":0.0001,"max_price":0.15,"open_interest":412.5,"mark_price":{mark},"best_bid_price":{bid_price},"mark_iv":{mark_iv},"ask_iv":56.9,"bid_iv":{bid_iv},"underlying_price":98150.25,"underlying_index":"BTC-27DEC26","best_ask_price":0.052,"interest_rate":0,"estimated_delivery_price":97001.2,"best_ask_amount":4.5,"best_bid_amount":3}}}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_options_write_option_quotes_and_option_instruments() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let (call, put) = ("BTC-27DEC26-100000-C", "BTC-27DEC26-90000-P");
    let script = vec![
        Step::Expect("public/set_heartbeat", r#"{"jsonrpc":"2.0","id":{id},"result":"ok"}"#.to_string()),
        Step::Expect(
            "public/subscribe",
            r#"{"jsonrpc":"2.0","id":{id},"result":["ticker.BTC-27DEC26-100000-C.100ms","ticker.BTC-27DEC26-90000-P.100ms"]}"#.to_string(),
        ),
        Step::Send(deribit_option_ticker(call, base + 1_000, Some(("0.051", "55.2")), "0.0515", "0.4213", "56.05")),
        Step::Send(deribit_option_ticker(put, base + 1_500, None, "0.0208", "-0.2405", "58.4")),
        // The same ticker again (as after a resubscribe) is no new row.
        Step::Send(deribit_option_ticker(call, base + 1_000, Some(("0.051", "55.2")), "0.0515", "0.4213", "56.05")),
        Step::Send(deribit_option_ticker(call, base + 2_000, Some(("0.0512", "55.4")), "0.0517", "0.4225", "56.1")),
    ];
    let venue = FakeVenue::start(vec![script]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.sources = vec![source(SourceKind::Deribit, venue.url(), &[call, put, "BTC-PERPETUAL"], &[Channel::Options])];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM options_quotes", 3).await, 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instruments WHERE asset_class = 'option'", 2).await, 2);
    let received = venue.received.lock().unwrap().clone();
    daemon.stop().await.expect("clean stop");

    assert_eq!(
        received.iter().find(|text| text.contains("public/subscribe")).unwrap(),
        r#"{"id":2,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["ticker.BTC-27DEC26-100000-C.100ms","ticker.BTC-27DEC26-90000-P.100ms"]}}"#,
        "options subscribe the tickers of option names only"
    );
    type Row = (String, String, String, String, f64, String, i64, Vec<Option<f64>>);
    let rows: Vec<Row> = client
        .query(
            "SELECT venue, symbol, underlying, option_type, strike, expiration::text, (extract(epoch FROM time) * 1000)::bigint,
                    ARRAY[bid, ask, last, mark, volume, open_interest, delta, gamma, theta, vega, rho, iv, bid_iv, ask_iv, underlying_price]
               FROM options_quotes ORDER BY time",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7)))
        .collect();
    let row = |symbol: &str, kind: &str, strike: f64, offset: i64, values: [Option<f64>; 15]| {
        (
            "deribit".to_string(),
            symbol.to_string(),
            "BTC".to_string(),
            kind.to_string(),
            strike,
            "2026-12-27".to_string(),
            base + offset,
            values.to_vec(),
        )
    };
    let common = |bid: Option<f64>, mark: f64, delta: f64, iv: f64, bid_iv: Option<f64>| {
        [
            bid,
            Some(0.052),
            Some(0.0505),
            Some(mark),
            Some(12.3),
            Some(412.5),
            Some(delta),
            Some(0.00002),
            Some(-61.87),
            Some(152.41),
            Some(35.2),
            Some(iv),
            bid_iv,
            Some(56.9),
            Some(98150.25),
        ]
    };
    assert_eq!(
        rows,
        vec![
            row(call, "call", 100_000.0, 1_000, common(Some(0.051), 0.0515, 0.4213, 56.05, Some(55.2))),
            row(put, "put", 90_000.0, 1_500, common(None, 0.0208, -0.2405, 58.4, None)),
            row(call, "call", 100_000.0, 2_000, common(Some(0.0512), 0.0517, 0.4225, 56.1, Some(55.4))),
        ],
        "prices in BTC and IVs in percent as Deribit sends them; no bid and no bid IV on the put; the repeated ticker dropped"
    );
    assert_eq!(support::count(&client, "SELECT count(*) FROM quotes").await, 0, "`quotes` was not subscribed");

    let instruments: Vec<(String, String, String, String, String, f64, String)> = client
        .query(
            "SELECT venue, symbol, asset_class, underlying, expiration::text, strike, option_type FROM instruments WHERE asset_class = 'option' ORDER BY symbol",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)))
        .collect();
    let instrument = |symbol: &str, strike: f64, kind: &str| {
        (
            "deribit".to_string(),
            symbol.to_string(),
            "option".to_string(),
            "BTC".to_string(),
            "2026-12-27".to_string(),
            strike,
            kind.to_string(),
        )
    };
    assert_eq!(instruments, vec![instrument(call, 100_000.0, "call"), instrument(put, 90_000.0, "put")]);
}

#[test]
fn the_options_examples_of_the_readme_and_the_annotated_config_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let start =
        readme.find("```toml\n[[sources]]\nkind = \"deribit\"\nname = \"deribit-options\"").expect("the options example in README.md")
            + "```toml\n".len();
    let readme_example = readme[start..start + readme[start..].find("```").unwrap()].to_string();
    let annotated = std::fs::read_to_string(format!("{root}/config/hypertick.toml")).unwrap();
    let start = annotated.find("# Option chains").expect("the options example in config/hypertick.toml");
    let annotated_example: Vec<&str> = annotated[start..]
        .lines()
        .take_while(|line| !line.is_empty())
        .filter(|line| !line.starts_with("# ") || line.starts_with("# [") || line.contains(" = "))
        .map(|line| line.strip_prefix("# ").unwrap_or(""))
        .collect();
    for (place, example) in [("README.md", readme_example), ("config/hypertick.toml", annotated_example.join("\n"))] {
        let config = hypertick::app::load_config_str(&format!("[database]\nurl = \"postgres://u@h/db\"\n{example}"), Vec::new())
            .unwrap_or_else(|errors| panic!("the options example of {place}: {errors}"));
        let sources: Vec<(SourceKind, String, Vec<Channel>)> =
            config.sources.iter().map(|source| (source.kind, source.name(), source.channels.clone())).collect();
        assert_eq!(
            sources,
            [
                (SourceKind::Deribit, "deribit-options".to_string(), vec![Channel::Options, Channel::Quotes]),
                (SourceKind::Okx, "okx-options".to_string(), vec![Channel::Options]),
            ],
            "{place}"
        );
    }
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
