//! The indicator engine inside the daemon: bars pushed over the websocket produce
//! `technical_indicators` rows whose values match the independent reference values of
//! `tests/reference/indicators_expected.json` (computed by `tests/reference/indicators.py`
//! from the TA-Lib definitions), to 1e-9 relative, for a 1m and a 5m series fed
//! interleaved. The reference feed includes a
//! repeated bar and a bar out of order: both are stored in `bars`, neither yields a row.

use hypertick::app::Daemon;
use serde_json::Value;

use crate::support::{self, array, count, push, wait_for_count};

const BARS_PUSHED: usize = 200;

fn close_enough(expected: f64, actual: f64) -> bool {
    let tolerance = 1e-9 * expected.abs().max(actual.abs());
    (expected - actual).abs() <= tolerance.max(1e-12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_bars_yield_the_reference_indicator_values() {
    let reference: Vec<Value> = serde_json::from_str(include_str!("../reference/indicators_expected.json")).expect("reference values");
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.indicators.symbols = vec!["AAA-USD".into()];
    // The reference feed interleaves a 1m and a 5m series of one symbol.
    config.indicators.intervals = vec!["1m".into(), "5m".into()];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let entries = &reference[..BARS_PUSHED];
    for chunk in entries.chunks(50) {
        let frame: Vec<String> = chunk
            .iter()
            .map(|entry| {
                let bar = &entry["bar"];
                serde_json::json!({
                    "type": "bar", "venue": bar["venue"], "symbol": bar["symbol"], "interval": bar["interval"],
                    "time": bar["time"].as_i64().unwrap() * 1_000,
                    "open": bar["open"], "high": bar["high"], "low": bar["low"], "close": bar["close"], "volume": bar["volume"],
                })
                .to_string()
            })
            .collect();
        let ack = push(&mut socket, &array(&frame)).await;
        assert_eq!(ack["accepted"], chunk.len(), "{ack}");
    }
    let computed: Vec<&Value> = entries.iter().filter(|entry| entry["expected"].is_object()).collect();
    assert_eq!(computed.len(), BARS_PUSHED - 2, "the reference feed repeats one bar and sends one out of order");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", BARS_PUSHED as i64).await, BARS_PUSHED as i64);
    let rows_expected = computed.len() as i64;
    let landed = wait_for_count(&client, "SELECT count(*) FROM technical_indicators", rows_expected).await;
    assert_eq!(landed, rows_expected);

    let columns = [
        "sma_20",
        "sma_50",
        "ema_20",
        "ema_50",
        "rsi",
        "macd_line",
        "macd_signal",
        "macd_histogram",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "bb_width",
        "volume_sma_10",
        "volume_ratio",
    ];
    let rows = client
        .query(
            &format!(
                "SELECT (extract(epoch FROM time) * 1000000)::bigint, venue, symbol, \"interval\", {}, support_levels, resistance_levels
                   FROM technical_indicators ORDER BY time",
                columns.join(", ")
            ),
            &[],
        )
        .await
        .unwrap();
    let mut by_bar: std::collections::HashMap<(i64, String), &tokio_postgres::Row> = std::collections::HashMap::new();
    for row in &rows {
        assert_eq!((row.get::<_, String>(1), row.get::<_, String>(2)), ("test".into(), "AAA-USD".into()));
        assert!(by_bar.insert((row.get(0), row.get(3)), row).is_none(), "one row per bar");
    }
    let mut compared = 0;
    for entry in computed {
        let time = entry["bar"]["time"].as_i64().unwrap();
        let interval = entry["bar"]["interval"].as_str().unwrap().to_string();
        let row = by_bar.get(&(time, interval)).unwrap_or_else(|| panic!("no indicators row for bar {time}"));
        let expected = &entry["expected"];
        for (offset, column) in columns.iter().enumerate() {
            let reference_name = if *column == "rsi" { "rsi_14" } else { column };
            let actual: Option<f64> = row.get(4 + offset);
            match (expected[reference_name].as_f64(), actual) {
                (None, None) => {}
                (Some(want), Some(got)) => assert!(close_enough(want, got), "bar {time} {column}: expected {want}, got {got}"),
                (want, got) => panic!("bar {time} {column}: expected {want:?}, got {got:?}"),
            }
            compared += 1;
        }
        for (index, name) in [(4 + columns.len(), "support_levels"), (5 + columns.len(), "resistance_levels")] {
            let actual: Vec<f64> = row.get(index);
            let want: Vec<f64> = expected[name].as_array().unwrap().iter().map(|level| level.as_f64().unwrap()).collect();
            assert_eq!(actual.len(), want.len(), "bar {time} {name}");
            assert!(want.iter().zip(&actual).all(|(want, got)| close_enough(*want, *got)), "bar {time} {name}: {want:?} vs {actual:?}");
        }
    }
    assert_eq!(compared, rows_expected as usize * columns.len());
    assert!(count(&client, "SELECT count(*) FROM technical_indicators WHERE macd_signal IS NOT NULL").await > 100);

    let metrics = daemon.metrics_addr.unwrap();
    // The repeated bar comes after later bars of its series, so both are out of order.
    assert_eq!(support::metric(metrics, "hypertick_indicator_bars_skipped_total", "reason=\"out_of_order_bar\"").await, 2.0);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
