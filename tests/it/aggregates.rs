//! The OHLCV aggregates stay equal to the direct `GROUP BY` over `ticks` on both
//! profiles, with the whole daemon running (two COPY writers for ticks): live ticks,
//! ticks from 10 days ago, late ticks (seconds, minutes, hours and days old) pushed
//! after a refresh already ran, and a file of ticks from 20 days ago imported. The
//! refresh is what runs in production: on TimescaleDB each refresh policy's job
//! (`CALL run_job`), on vanilla PostgreSQL the daemon's refresher
//! (`db::aggregates::refresh_vanilla`, and the daemon's own periodic task in a test of
//! its own). On vanilla a refresh with nothing new does no work.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hypertick::app::Daemon;
use hypertick::config::{Config, TableConfig};
use hypertick::db::throwaway::ThrowawayCluster;
use hypertick::db::{self, Profile};
use hypertick::import::{ImportArgs, ImportSettings};
use hypertick::record::Timestamp;
use tokio_postgres::Client;

use crate::support::{self, array, count, push};

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

const SYMBOLS: [&str; 3] = ["AGG-A", "AGG-B", "AGG-C"];

fn config_for(cluster: &ThrowawayCluster) -> Config {
    let mut config = support::config_for(cluster);
    config.tables.ticks = Some(TableConfig { writers: Some(2), batch_max_rows: Some(64), ..TableConfig::default() });
    // The tests run the refresher themselves, at the moments they choose.
    config.aggregates.refresh_interval_secs = std::num::NonZeroU64::new(3_600).unwrap();
    config
}

/// `count` ticks per symbol from `start` on, `step` apart; `phase` (1..) shifts every
/// time by that many microseconds so no two ticks of a symbol share a time (open and
/// close are then defined). Prices and sizes vary, some sizes are 0.
fn ticks(start: i64, step: i64, count: usize, phase: i64) -> Vec<(i64, String, f64, f64)> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (phase as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rows = Vec::new();
    for index in 0..count {
        for symbol in SYMBOLS {
            let time = start + index as i64 * step + phase;
            let price = (100.0 + random() * 10.0 * 64.0).round() / 64.0;
            let size = if index % 17 == 3 { 0.0 } else { (random() * 5.0 * 8.0).round() / 8.0 };
            rows.push((time, symbol.to_string(), price, size));
        }
    }
    rows
}

fn tick_json((time, symbol, price, size): &(i64, String, f64, f64)) -> String {
    format!(r#"{{"type":"tick","venue":"test","symbol":"{symbol}","time":{},"price":{price},"size":{size},"side":"buy"}}"#, time * 1_000)
}

/// Pushes `rows` in frames of 50 and waits until they are committed.
async fn push_ticks(daemon: &Daemon, client: &Client, rows: &[(i64, String, f64, f64)]) {
    let before = count(client, "SELECT count(*) FROM ticks").await;
    let mut socket = support::connect(daemon.push_addr.expect("push server")).await;
    for frame in rows.chunks(50) {
        let objects: Vec<String> = frame.iter().map(tick_json).collect();
        let ack = push(&mut socket, &array(&objects)).await;
        assert_eq!(ack["accepted"], frame.len(), "{ack}");
    }
    let expected = before + rows.len() as i64;
    assert_eq!(support::wait_for_count(client, "SELECT count(*) FROM ticks", expected).await, expected, "every tick committed");
}

/// Imports `rows` as a CSV file with two writers, as `hypertick import` does.
async fn import_ticks(config: &Config, dir: &std::path::Path, rows: &[(i64, String, f64, f64)]) {
    let path = dir.join("old-ticks.csv");
    let mut text = String::from("time,venue,symbol,price,size,side,trade_id\n");
    for (index, (time, symbol, price, size)) in rows.iter().enumerate() {
        text.push_str(&format!("{},test,{symbol},{price},{size},buy,imported-{index}\n", Timestamp(*time)));
    }
    std::fs::write(&path, text).unwrap();
    let args = ImportArgs {
        config: PathBuf::from("unused.toml"),
        table: "ticks".into(),
        format: None,
        mapping: Vec::new(),
        set: Vec::new(),
        writers: Some(2),
        threads: Some(2),
        chunk_bytes: None,
        chunk_lines: None,
        max_errors: None,
        time_unit: None,
        delimiter: None,
        allow_changed: false,
        no_progress: true,
        files: vec![path.clone()],
    };
    let settings = ImportSettings::resolve(&args, config).expect("import settings");
    let report = hypertick::import::import(config, &settings, &[path]).await.expect("import");
    assert!(report.stopped.is_none(), "{report}");
}

/// Runs what keeps the aggregates true, as production runs it.
async fn refresh(client: &Client, profile: Profile) -> db::aggregates::RefreshReport {
    match profile {
        Profile::TimescaleDb => {
            for (name, job) in refresh_jobs(client).await {
                let started = Instant::now();
                // The scheduler may be running the same policy at this moment: TimescaleDB
                // then refuses a second refresh of the window, and this waits for it.
                let mut attempts = 0;
                loop {
                    match client.batch_execute(&format!("CALL run_job({job})")).await {
                        Ok(()) => break,
                        Err(error) if db::aggregates::is_concurrent_refresh(&error) && attempts < 100 => {
                            attempts += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        Err(error) => panic!("{name}: {error:?}"),
                    }
                }
                println!("{name}: refresh job {job} took {:?}", started.elapsed());
            }
            db::aggregates::RefreshReport::default()
        }
        Profile::Vanilla => {
            let started = Instant::now();
            let report = db::aggregates::refresh_vanilla(client).await.expect("refresh");
            println!("vanilla refresh: {report:?} in {:?}", started.elapsed());
            report
        }
    }
}

async fn refresh_jobs(client: &Client) -> Vec<(String, i32)> {
    client
        .query(
            "SELECT hypertable_name::text, job_id FROM timescaledb_information.jobs
              WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY 1 DESC",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

type OhlcvRow = (String, String, String, f64, f64, f64, f64, f64, i64, Option<f64>);

async fn ohlcv_rows(client: &Client, query: &str) -> Vec<OhlcvRow> {
    client
        .query(query, &[])
        .await
        .unwrap_or_else(|error| panic!("{query}: {error}"))
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7), row.get(8), row.get(9)))
        .collect()
}

fn close_enough(left: f64, right: f64) -> bool {
    left == right || (left - right).abs() <= 1e-9 * left.abs().max(right.abs())
}

/// Each aggregate equals the direct GROUP BY over `ticks`, row for row.
async fn assert_aggregates_match_ticks(client: &Client) {
    for (name, width) in [("ohlcv_1m", "1 minute"), ("ohlcv_1h", "1 hour"), ("ohlcv_1d", "1 day")] {
        let stored = ohlcv_rows(
            client,
            &format!(
                "SELECT bucket::text, venue, symbol, open, high, low, close, volume, trades, vwap
                   FROM {name} ORDER BY symbol, venue, bucket"
            ),
        )
        .await;
        let direct = ohlcv_rows(
            client,
            &format!(
                "SELECT date_bin(INTERVAL '{width}', time, TIMESTAMPTZ '2000-01-01 00:00:00+00')::text AS bucket, venue, symbol,
                        (array_agg(price ORDER BY time))[1], max(price), min(price),
                        (array_agg(price ORDER BY time DESC))[1], sum(size), count(*),
                        sum(price * size) / NULLIF(sum(size), 0)
                   FROM ticks GROUP BY 1, venue, symbol ORDER BY symbol, venue, bucket"
            ),
        )
        .await;
        assert!(direct.len() >= SYMBOLS.len(), "{name}: a bucket per symbol at least ({})", direct.len());
        assert_eq!(stored.len(), direct.len(), "{name}: as many rows as buckets of ticks");
        for (stored, direct) in stored.iter().zip(&direct) {
            let same = stored.0 == direct.0
                && stored.1 == direct.1
                && stored.2 == direct.2
                && (stored.3, stored.4, stored.5, stored.6) == (direct.3, direct.4, direct.5, direct.6)
                && close_enough(stored.7, direct.7)
                && stored.8 == direct.8
                && match (stored.9, direct.9) {
                    (Some(left), Some(right)) => close_enough(left, right),
                    (left, right) => left == right,
                };
            assert!(same, "{name}: stored {stored:?}\n   direct {direct:?}");
        }
    }
}

/// Rows of every aggregate with the transaction that wrote them: unchanged when a
/// refresh did no work.
async fn versions(client: &Client) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for name in ["ohlcv_1m", "ohlcv_1h", "ohlcv_1d"] {
        let rows = client.query(&format!("SELECT symbol || ' ' || bucket::text, xmin::text FROM {name} ORDER BY 1"), &[]).await.unwrap();
        all.extend(rows.iter().map(|row| (format!("{name} {}", row.get::<_, String>(0)), row.get(1))));
    }
    all
}

async fn aggregates_stay_true(cluster: &ThrowawayCluster, profile: Profile) {
    let config = config_for(cluster);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(cluster).await;
    let now = Timestamp::now().micros();

    // Live ticks (the last few seconds) and ticks from 10 days ago, over several buckets.
    let live = ticks(now - 20 * SECOND, 100_000, 150, 1);
    let ten_days_ago = ticks(now - 10 * DAY - 3 * HOUR, 7 * MINUTE, 60, 2);
    push_ticks(&daemon, &client, &live).await;
    push_ticks(&daemon, &client, &ten_days_ago).await;
    refresh(&client, profile).await;
    assert_aggregates_match_ticks(&client).await;

    // Late ticks, after that refresh: seconds, minutes, hours and days old.
    let late: Vec<_> = [
        ticks(now - 30 * SECOND, 250_000, 40, 3),
        ticks(now - 7 * MINUTE, 3 * SECOND, 40, 4),
        ticks(now - 3 * HOUR, MINUTE, 40, 5),
        ticks(now - 2 * DAY, 11 * MINUTE, 40, 6),
        ticks(now - 10 * DAY - 3 * HOUR, 7 * MINUTE, 60, 7),
    ]
    .concat();
    push_ticks(&daemon, &client, &late).await;
    // A file of ticks from 20 days ago.
    let dir = tempfile::tempdir().unwrap();
    let imported = ticks(now - 20 * DAY, 5 * MINUTE, 400, 8);
    import_ticks(&config, dir.path(), &imported).await;

    let expected = (live.len() + ten_days_ago.len() + late.len() + imported.len()) as i64;
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, expected);
    let report = refresh(&client, profile).await;
    assert_aggregates_match_ticks(&client).await;

    if profile == Profile::Vanilla {
        assert!(report.ranges >= 4 && report.rows > 0, "the late and imported ranges were taken: {report:?}");
        assert_eq!(count(&client, "SELECT count(*) FROM ohlcv_invalidations").await, 0, "nothing left pending");
        let before = versions(&client).await;
        let again = refresh(&client, profile).await;
        assert_eq!(again, db::aggregates::RefreshReport::default(), "nothing new, nothing done");
        assert_eq!(versions(&client).await, before, "no aggregate row rewritten");
    } else {
        // A run with nothing new (the live minute may close meanwhile and be materialized).
        refresh(&client, profile).await;
        assert_aggregates_match_ticks(&client).await;
    }
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanilla_aggregates_equal_the_ticks_after_live_late_and_imported_rows() {
    let cluster = support::start_cluster();
    aggregates_stay_true(&cluster, Profile::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescaledb_aggregates_equal_the_ticks_after_live_late_and_imported_rows() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    aggregates_stay_true(&cluster, Profile::TimescaleDb).await;
}

/// The daemon's own refresher (every `aggregates.refresh_interval_secs`) brings the
/// aggregates to the ticks and leaves nothing pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vanilla_daemon_refreshes_the_aggregates_on_its_own() {
    let cluster = support::start_cluster();
    let mut config = config_for(&cluster);
    config.aggregates.refresh_interval_secs = std::num::NonZeroU64::new(1).unwrap();
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    let now = Timestamp::now().micros();
    push_ticks(&daemon, &client, &[ticks(now - 5 * DAY, 13 * MINUTE, 30, 1), ticks(now - 10 * SECOND, 50_000, 30, 2)].concat()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let minutes = "SELECT count(DISTINCT date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00')::text || symbol) FROM ticks";
    let expected_minutes = count(&client, minutes).await;
    while (count(&client, "SELECT count(*) FROM ohlcv_1m").await != expected_minutes
        || count(&client, "SELECT count(*) FROM ohlcv_invalidations").await != 0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_aggregates_match_ticks(&client).await;
    daemon.stop().await.expect("clean stop");
}

/// Ticks written by another client, straight into the table: `count` per symbol, one
/// second apart, from `seconds_ago` seconds before now.
async fn insert_ticks_directly(client: &Client, seconds_ago: i64, count: i64) {
    client
        .execute(
            "INSERT INTO ticks (time, received_at, venue, symbol, price, size)
             SELECT now() - $1::int8 * interval '1 second' + i * interval '1 second' + s * interval '1 microsecond',
                    now(), 'test', 'AGG-' || s, 100 + (i * 7 + s) % 13, 1 + (i + s) % 3
               FROM generate_series(0, $2::int8 - 1) AS i, generate_series(1, 3) AS s",
            &[&seconds_ago, &count],
        )
        .await
        .expect("insert ticks");
}

/// What an earlier version created: an aggregate refreshed by a policy over the last
/// days only, or a materialized view refreshed whole.
fn earlier_definition(profile: Profile) -> &'static str {
    match profile {
        Profile::TimescaleDb => {
            "CREATE MATERIALIZED VIEW ohlcv_1m WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
             SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, venue, symbol,
                    first(price, time) AS open, max(price) AS high, min(price) AS low,
                    last(price, time) AS close, sum(size) AS volume, count(*) AS trades,
                    sum(price * size) / NULLIF(sum(size), 0) AS vwap
               FROM ticks GROUP BY 1, venue, symbol WITH NO DATA;
             SELECT add_continuous_aggregate_policy('ohlcv_1m', start_offset => INTERVAL '2 hours',
                    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');"
        }
        Profile::Vanilla => {
            "CREATE MATERIALIZED VIEW ohlcv_1m AS
             SELECT date_bin(INTERVAL '1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, venue, symbol,
                    (array_agg(price ORDER BY time))[1] AS open, max(price) AS high, min(price) AS low,
                    (array_agg(price ORDER BY time DESC))[1] AS close, sum(size) AS volume, count(*) AS trades,
                    sum(price * size) / NULLIF(sum(size), 0) AS vwap
               FROM ticks GROUP BY 1, venue, symbol;
             CREATE UNIQUE INDEX ohlcv_1m_key ON ohlcv_1m (symbol, venue, bucket);"
        }
    }
}

/// A database an earlier version prepared converges on `migrate`, and the aggregates
/// then cover the ticks it already held, old ones included. On vanilla PostgreSQL,
/// ticks written while the aggregates were turned off are covered once they are back on.
async fn earlier_aggregates_converge(cluster: &ThrowawayCluster, profile: Profile) {
    let mut config = config_for(cluster);
    config.aggregates.ohlcv = false;
    let report = hypertick::app::migrate(&config).await.expect("migrate without aggregates");
    assert_eq!(report.profile, profile);
    let client = support::sql(cluster).await;
    client.batch_execute(earlier_definition(profile)).await.expect("the earlier aggregate");
    // Within the partitions vanilla creates ahead (the current one on).
    insert_ticks_directly(&client, 600, 200).await;
    if profile == Profile::TimescaleDb {
        insert_ticks_directly(&client, 10 * 86_400, 100).await;
    }

    config.aggregates.ohlcv = true;
    let report = hypertick::app::migrate(&config).await.expect("migrate converges");
    let expected_change = match profile {
        Profile::TimescaleDb => "real-time aggregation for ohlcv_1m",
        Profile::Vanilla => "ohlcv_1m: materialized view replaced by an incrementally refreshed table",
    };
    assert!(report.converged.iter().any(|change| change == expected_change), "{:?}", report.converged);
    if profile == Profile::TimescaleDb {
        let offsets: Vec<Option<String>> = support::column(
            &client,
            "SELECT config->>'start_offset' FROM timescaledb_information.jobs
              WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY hypertable_name",
        )
        .await;
        assert_eq!(offsets, vec![Some("730 days".to_string()); 3], "every policy starts at the ticks' retention");
    } else {
        let kind: i8 =
            client.query_one("SELECT relkind::\"char\" FROM pg_class WHERE oid = 'ohlcv_1m'::regclass", &[]).await.unwrap().get(0);
        assert_eq!(kind, b'r' as i8, "a table now");
    }
    refresh(&client, profile).await;
    assert_aggregates_match_ticks(&client).await;
    assert!(hypertick::app::migrate(&config).await.expect("migrate again").converged.is_empty(), "nothing left to change");

    if profile == Profile::Vanilla {
        config.aggregates.ohlcv = false;
        hypertick::app::migrate(&config).await.expect("aggregates off");
        insert_ticks_directly(&client, 300, 50).await;
        config.aggregates.ohlcv = true;
        hypertick::app::migrate(&config).await.expect("aggregates back on");
        refresh(&client, profile).await;
        assert_aggregates_match_ticks(&client).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanilla_materialized_views_of_earlier_versions_converge() {
    let cluster = support::start_cluster();
    earlier_aggregates_converge(&cluster, Profile::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescaledb_aggregates_of_earlier_versions_converge() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    earlier_aggregates_converge(&cluster, Profile::TimescaleDb).await;
}
