//! Schema behaviour: partitions on demand for old data, retention refusal and drop,
//! a schema mismatch as a clear fatal error, rows the server refuses isolated and
//! dead-lettered while the rest of their batch lands, and idempotent migrations.

use std::time::Duration;

use hypertick::app::{self, Daemon};
use hypertick::db::{PartitionPlan, Partitions};
use hypertick::record::{Table, Timestamp};

use crate::support::{self, array, count, push, wait_for_count};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

fn tick_at(symbol: &str, time: Timestamp, price: f64) -> String {
    format!(r#"{{"type":"tick","venue":"test","symbol":"{symbol}","time":"{time}","price":{price},"size":1}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rows_inside_retention_get_partitions_on_demand() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&support::config_for(&cluster)).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let now = Timestamp::now();
    let frame = array(&[
        tick_at("BACKFILL", now.saturating_sub_micros(400 * DAY_MICROS), 1.0),
        tick_at("BACKFILL", now.saturating_sub_micros(100 * DAY_MICROS), 2.0),
        tick_at("BACKFILL", now, 3.0),
    ]);
    assert_eq!(push(&mut socket, &frame).await["accepted"], 3);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'BACKFILL'", 3).await, 3);
    let partitions = count(&client, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ticks'::regclass").await;
    assert!(partitions >= 3 + 3, "ahead partitions plus the two backfilled days, got {partitions}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_past_retention_are_dropped() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    app::migrate(&config).await.expect("migrate");
    let mut client = support::sql(&cluster).await;
    let partitions =
        Partitions::new([PartitionPlan { table: Table::Ticks, width_micros: DAY_MICROS, retention_micros: Some(10 * DAY_MICROS) }]);
    let now = Timestamp::now();
    let old_slot = partitions.slot_start(Table::Ticks, now.saturating_sub_micros(20 * DAY_MICROS)).unwrap();
    let recent_slot = partitions.slot_start(Table::Ticks, now.saturating_sub_micros(5 * DAY_MICROS)).unwrap();
    partitions.ensure(&mut client, Table::Ticks, &[old_slot, recent_slot]).await.expect("create");
    let (_, dropped) = partitions.maintain(&mut client, now, 1).await.expect("maintain");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    let old_name = &dropped[0];
    assert!(old_name.starts_with("ticks_p"));
    let remaining = count(&client, &format!("SELECT count(*) FROM pg_class WHERE relname = '{old_name}'")).await;
    assert_eq!(remaining, 0);
    let recent = count(&client, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ticks'::regclass").await;
    assert!(recent >= 2, "the recent and current partitions stay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_mismatch_is_fatal_and_names_table_and_column() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    app::migrate(&config).await.expect("migrate");
    let client = support::sql(&cluster).await;
    client.batch_execute("ALTER TABLE quotes ALTER COLUMN bid_price TYPE numeric").await.unwrap();
    let daemon = Daemon::start(&config).await.expect("the daemon starts; its quotes writer fails");
    let failed = daemon.failed();
    tokio::time::timeout(Duration::from_secs(30), failed.cancelled()).await.expect("the failure is reported");
    let error = daemon.stop().await.expect_err("stop reports the failure").to_string();
    assert!(error.contains("`quotes` column `bid_price` is numeric; expected double precision"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_database_refuses_are_isolated_and_dead_lettered() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    app::migrate(&config).await.expect("migrate");
    let client = support::sql(&cluster).await;
    client.batch_execute("ALTER TABLE ticks ADD CONSTRAINT sane_price CHECK (price < 1000000)").await.unwrap();
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let now = Timestamp::now();
    let ticks: Vec<String> = (0..40).map(|i| tick_at("REFUSED", now, if i == 7 || i == 31 { 5e6 } else { i as f64 })).collect();
    assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 40, "accepted by the protocol");
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database'", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 38).await, 38);
    let detail: String =
        client.query_one("SELECT detail FROM dead_letters WHERE reason = 'rejected_by_database' LIMIT 1", &[]).await.unwrap().get(0);
    assert!(detail.contains("sane_price"), "{detail}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE price >= 1000000").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_twice_changes_nothing() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    let first = app::migrate(&config).await.expect("first migrate");
    let second = app::migrate(&config).await.expect("second migrate");
    assert_eq!(first.profile, hypertick::db::Profile::Vanilla);
    assert!(!first.migrations.applied.is_empty());
    assert!(first.converged.iter().any(|change| change == "created ohlcv_1m"), "{:?}", first.converged);
    assert!(second.migrations.applied.is_empty());
    assert_eq!(second.migrations.already_applied, first.migrations.applied.len());
    assert!(second.converged.is_empty(), "{:?}", second.converged);
    let client = support::sql(&cluster).await;
    let collation = count(
        &client,
        "SELECT count(*) FROM information_schema.columns WHERE table_name IN ('ticks','quotes','bars') \
         AND column_name IN ('venue','symbol') AND collation_name = 'C'",
    )
    .await;
    assert_eq!(collation, 6, "text keys use COLLATE \"C\"");
}
