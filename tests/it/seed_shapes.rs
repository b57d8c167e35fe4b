//! The seed systems' shapes of data:
//!
//! - `bars` kept per interval (`[tables.bars] retention_by_interval`): on both profiles,
//!   1m bars 40 days old go at the next retention pass while 1d bars of the same age stay
//!   (on TimescaleDB out of a chunk already in the columnstore), and no table-level drop
//!   is set up while an interval keeps everything; a bar is refused past its interval's
//!   retention and accepted past the table's when its interval keeps it longer.
//! - A producer's own `technical_indicators` rows land with the values sent, beside the
//!   engine's rows for the same bar (both kept; the producer's own `venue` tells them apart).

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use hypertick::app::{self, Daemon};
use hypertick::config::{Config, TableConfig};
use hypertick::db::throwaway::ThrowawayCluster;
use hypertick::db::{self, Profile};
use hypertick::record::{Table, Timestamp};

use crate::support::{self, array, count, push, wait_for_count};

const DAY: i64 = 86_400 * 1_000_000;
const OLD_BARS: i64 = 60;

fn bars_config(cluster: &ThrowawayCluster, table_days: u32, by_interval: &[(&str, u32)]) -> Config {
    let mut config = support::config_for(cluster);
    config.schema.maintenance_interval_secs = NonZeroU64::new(1).unwrap();
    let by_interval: BTreeMap<String, u32> = by_interval.iter().map(|(interval, days)| (interval.to_string(), *days)).collect();
    config.tables.bars =
        Some(TableConfig { retention_days: Some(table_days), retention_by_interval: Some(by_interval), ..TableConfig::default() });
    config
}

fn bar_json(symbol: &str, interval: &str, time: Timestamp) -> String {
    format!(
        r#"{{"type":"bar","venue":"test","symbol":"{symbol}","interval":"{interval}","time":"{time}","open":1,"high":2,"low":0.5,"close":1.5,"volume":10}}"#
    )
}

/// `OLD_BARS` 1m and `OLD_BARS` 1d bars 40 days old written straight in SQL before the
/// daemon starts (the daemon would refuse the 1m ones), 1m bars of now pushed; the
/// retention pass removes exactly the old 1m ones.
async fn old_minute_bars_go_and_daily_bars_stay(cluster: &ThrowawayCluster, profile: Profile) {
    let config = bars_config(cluster, 0, &[("1m", 30), ("1d", 0)]);
    let report = app::migrate(&config).await.expect("migrate");
    assert_eq!(report.profile, profile);
    let mut client = support::sql(cluster).await;
    let old = Timestamp::now().micros() - 40 * DAY;
    let partitions = db::Partitions::new(db::partition_plans(&config, profile));
    let slots: Vec<i64> =
        [old, old + OLD_BARS * 60_000_000].into_iter().filter_map(|micros| partitions.slot_start(Table::Bars, Timestamp(micros))).collect();
    partitions.ensure(&mut client, Table::Bars, &slots).await.expect("partitions for the old bars");
    client
        .execute(
            "INSERT INTO bars (time, received_at, venue, symbol, \"interval\", open, high, low, close, volume)
             SELECT 'epoch'::timestamptz + ($1::bigint + i * 60000000) * interval '1 microsecond', now(), 'test', 'OLD', iv, 1, 2, 0.5, 1.5, 10
               FROM generate_series(1, $2::bigint) AS i CROSS JOIN unnest(ARRAY['1m', '1d']) AS iv",
            &[&old, &OLD_BARS],
        )
        .await
        .expect("old bars written");
    if profile == Profile::TimescaleDb {
        client.batch_execute("SELECT compress_chunk(c) FROM show_chunks('bars') c").await.expect("the old chunk into the columnstore");
        let compressed =
            count(&client, "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'bars' AND is_compressed").await;
        assert!(compressed >= 1, "the old bars are in the columnstore");
        assert_eq!(
            count(
                &client,
                "SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_name = 'bars' AND proc_name = 'policy_retention'"
            )
            .await,
            0,
            "1d keeps everything: no chunk of bars is ever dropped"
        );
    }

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let recent: Vec<String> = (1..=5).map(|i| bar_json("NEW", "1m", Timestamp(Timestamp::now().micros() - i * 60_000_000))).collect();
    let ack = push(&mut socket, &array(&recent)).await;
    assert_eq!(ack["accepted"], 5, "{ack}");

    let old_minutes = "SELECT count(*) FROM bars WHERE symbol = 'OLD' AND \"interval\" = '1m'";
    assert_eq!(wait_for_count(&client, old_minutes, 0).await, 0, "1m bars past 30 days are deleted");
    assert_eq!(count(&client, "SELECT count(*) FROM bars WHERE symbol = 'OLD' AND \"interval\" = '1d'").await, OLD_BARS, "1d bars stay");
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars WHERE symbol = 'NEW'", 5).await, 5, "recent 1m bars stay");
    let deleted = support::metric(daemon.metrics_addr.unwrap(), "hypertick_interval_retention_deleted_rows_total", "table=\"bars\"").await;
    // The counter is the process's: other tests of this binary may have added to it.
    assert!(deleted >= OLD_BARS as f64, "every deleted row is counted: {deleted}");
    drop(socket);
    daemon.stop().await.expect("clean stop");

    // The longest retention decides what whole pieces may go: here 400 days.
    let longest = bars_config(cluster, 90, &[("1m", 30), ("1h", 400)]);
    app::migrate(&longest).await.expect("migrate with every interval limited");
    let plans = db::partition_plans(&longest, Profile::Vanilla);
    let bars = plans.iter().find(|plan| plan.table == Table::Bars).expect("a plan for bars");
    assert_eq!(bars.retention_micros, Some(400 * DAY));
    if profile == Profile::TimescaleDb {
        let drop_after: String = client
            .query_one(
                "SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE hypertable_name = 'bars' AND proc_name = 'policy_retention'",
                &[],
            )
            .await
            .expect("a retention job for bars")
            .get(0);
        assert_eq!(drop_after, "400 days");
    }
    assert_eq!(
        count(&client, "SELECT count(*) FROM bars WHERE symbol = 'OLD' AND \"interval\" = '1d'").await,
        OLD_BARS,
        "migrate dropped nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_past_their_intervals_retention_are_deleted_on_vanilla() {
    let cluster = support::start_cluster();
    old_minute_bars_go_and_daily_bars_stay(&cluster, Profile::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_past_their_intervals_retention_are_deleted_on_timescaledb() {
    let cluster = support::start_timescale_cluster();
    old_minute_bars_go_and_daily_bars_stay(&cluster, Profile::TimescaleDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bar_is_refused_past_its_intervals_retention() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&bars_config(&cluster, 10, &[("1m", 30), ("1d", 0)])).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let days_ago = |days: i64| Timestamp(Timestamp::now().micros() - days * DAY);
    let frame = [
        bar_json("KEPT", "1m", days_ago(20)),  // past the table's 10 days, inside 1m's 30
        bar_json("GONE", "1m", days_ago(40)),  // past 1m's 30 days
        bar_json("GONE", "5m", days_ago(20)),  // not listed: the table's 10 days
        bar_json("KEPT", "1d", days_ago(400)), // 1d: kept for good
    ];
    let ack = push(&mut socket, &array(&frame)).await;
    assert_eq!(ack["accepted"], 2, "{ack}");
    let rejected = ack["rejected"].as_array().expect("rejections");
    let refused: Vec<(u64, &str)> =
        rejected.iter().map(|item| (item["index"].as_u64().unwrap(), item["reason"].as_str().unwrap())).collect();
    assert_eq!(refused.len(), 2, "{ack}");
    assert_eq!(refused[0].0, 1);
    assert!(refused[0].1.starts_with("older_than_retention"), "{ack}");
    assert!(refused[0].1.contains("interval 1m") && refused[0].1.contains("tables.bars.retention_by_interval"), "{ack}");
    assert_eq!(refused[1].0, 2);
    assert!(refused[1].1.starts_with("older_than_retention") && refused[1].1.contains("bars's retention"), "{ack}");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 2).await, 2);
    let kept: Vec<String> = client
        .query("SELECT \"interval\" FROM bars WHERE symbol = 'KEPT' ORDER BY \"interval\"", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(kept, ["1d", "1m"]);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'older_than_retention'", 2).await, 2);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_push_their_own_technical_indicators_beside_the_engines() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.indicators.symbols = vec!["BTC-USD".into()];
    config.indicators.intervals = vec!["1d".into()];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    // The engine's row for this bar: venue `test`.
    let bar = r#"{"type":"bar","venue":"test","symbol":"BTC-USD","interval":"1d","time":"2026-11-22T00:00:00Z","open":1,"high":2,"low":0.5,"close":1.5,"volume":10}"#;
    assert_eq!(push(&mut socket, bar).await["accepted"], 1);
    let full = r#"{"type":"technical_indicators","id":"ss-1","venue":"swing-sage","symbol":"BTC-USD","interval":"1d","time":"2026-11-22T00:00:00Z",
        "sma_20":"97000.125","sma_50":96500.5,"ema_20":97010.25,"ema_50":96600,"rsi":"61.5","macd_line":120.5,"macd_signal":100.25,
        "macd_histogram":20.25,"bb_upper":99000,"bb_middle":97000.125,"bb_lower":95000.25,"bb_width":0.04123,"volume_sma_10":"1234.5",
        "volume_ratio":1.25,"support_levels":[95000.5,"94000"],"resistance_levels":[99500.75]}"#;
    // The same key as the engine's row, with the engine's venue: kept beside it.
    let same_key =
        r#"{"type":"technical_indicators","venue":"test","symbol":"BTC-USD","interval":"1d","time":"2026-11-22T00:00:00Z","rsi":55}"#;
    let ack = push(&mut socket, &format!("[{}, {same_key}]", full.replace('\n', " "))).await;
    assert_eq!(ack["accepted"], 2, "{ack}");
    let refused = push(
        &mut socket,
        r#"[{"type":"technical_indicators","venue":"v","symbol":"S","interval":"1d","time":"2026-11-22T00:00:00Z","rsi":50,"adx":20}]"#,
    )
    .await;
    assert_eq!(refused["accepted"], 0, "{refused}");
    assert!(refused["rejected"][0]["reason"].as_str().unwrap().starts_with("unknown_field"), "{refused}");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM technical_indicators", 3).await, 3, "the engine's row and both pushed ones");
    let row = client
        .query_one(
            "SELECT sma_20, sma_50, ema_20, ema_50, rsi, macd_line, macd_signal, macd_histogram, bb_upper, bb_middle, bb_lower, bb_width,
                    volume_sma_10, volume_ratio, support_levels, resistance_levels, time = '2026-11-22T00:00:00Z'
               FROM technical_indicators WHERE venue = 'swing-sage'",
            &[],
        )
        .await
        .unwrap();
    let values: Vec<f64> = (0..14).map(|column| row.get::<_, f64>(column)).collect();
    assert_eq!(
        values,
        [97000.125, 96500.5, 97010.25, 96600.0, 61.5, 120.5, 100.25, 20.25, 99000.0, 97000.125, 95000.25, 0.04123, 1234.5, 1.25]
    );
    assert_eq!(row.get::<_, Vec<f64>>(14), [95000.5, 94000.0]);
    assert_eq!(row.get::<_, Vec<f64>>(15), [99500.75]);
    assert!(row.get::<_, bool>(16));
    // Same (venue, symbol, interval, time) from the engine and a producer: two rows.
    let both: Vec<(Option<f64>, i64)> = client
        .query(
            "SELECT rsi, cardinality(support_levels) FROM technical_indicators
              WHERE venue = 'test' AND symbol = 'BTC-USD' AND \"interval\" = '1d' AND time = '2026-11-22T00:00:00Z' ORDER BY rsi NULLS FIRST",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), i64::from(row.get::<_, i32>(1))))
        .collect();
    assert_eq!(both, [(None, 0), (Some(55.0), 0)], "the engine's row (no RSI after one bar) and the producer's");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_stored_bars_by_interval_needs_consent() {
    let cluster = support::start_cluster();
    let keep_all = bars_config(&cluster, 0, &[]);
    app::migrate(&keep_all).await.expect("migrate, bars kept for good");
    let mut client = support::sql(&cluster).await;
    let old = Timestamp::now().micros() - 40 * DAY;
    let partitions = db::Partitions::new(db::partition_plans(&keep_all, Profile::Vanilla));
    let slot = partitions.slot_start(Table::Bars, Timestamp(old)).expect("bars are partitioned");
    partitions.ensure(&mut client, Table::Bars, &[slot]).await.expect("a partition for the old bars");
    client
        .execute(
            "INSERT INTO bars (time, received_at, venue, symbol, \"interval\", open, high, low, close, volume)
             VALUES ('epoch'::timestamptz + $1::bigint * interval '1 microsecond', now(), 'test', 'OLD', '1m', 1, 2, 0.5, 1.5, 10)",
            &[&old],
        )
        .await
        .expect("an old 1m bar");

    let shortened = bars_config(&cluster, 0, &[("1m", 30), ("1d", 0)]);
    let refused = format!("{:#}", app::migrate(&shortened).await.expect_err("deleting the stored 1m bar needs consent"));
    assert!(refused.contains("bars:1m: retention 30 days (was: keep everything) deletes rows older than"), "{refused}");
    assert!(refused.contains("--allow-retention-drop"), "{refused}");
    let accepted = app::migrate_with(&shortened, db::SchemaOptions { allow_retention_drop: true }).await.expect("accepted");
    assert!(
        accepted
            .converged
            .iter()
            .any(|line| line.starts_with("bars:1m: retention 30 days") && line.ends_with("(accepted with --allow-retention-drop)")),
        "{:?}",
        accepted.converged
    );
    app::migrate(&shortened).await.expect("accepted once, not asked again");
    assert_eq!(count(&client, "SELECT count(*) FROM bars").await, 1, "migrate itself deletes nothing");
}
