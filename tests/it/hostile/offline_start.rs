//! A start while the database is down: `hypertick run` as a child process on a spool
//! with `ack = "durable"`, the throwaway cluster stopped before it starts. The daemon
//! listens, spools and acks; `/readyz` names the database; once the cluster is started
//! again every acked tick lands exactly once, new ticks commit, and a restart doubles
//! nothing. Also a fresh install: the schema is created when the database appears.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hypertick::db::throwaway::{StopMode, ThrowawayCluster};
use tokio_tungstenite::tungstenite::Message;

use crate::observed::wait_for_readyz;
use crate::support::process::{free_port, DaemonProcess, SpoolDaemonConfig};
use crate::support::{self, array, read_ack, tick_json};

const PER_FRAME: u64 = 100;

fn write_config(dir: &Path, cluster: &ThrowawayCluster, push: SocketAddr, metrics: SocketAddr) -> PathBuf {
    let config = SpoolDaemonConfig {
        metrics: Some(metrics),
        database_extra: "connect_timeout_ms = 1000",
        server_extra: "dedup_ids = 10000",
        sections: "[health]\ndatabase_check_interval_ms = 200",
        ..SpoolDaemonConfig::default()
    };
    config.write(dir, &cluster.url("hypertick"), push)
}

fn tick_with_id(symbol: &str, trade_id: u64) -> String {
    tick_json(symbol, trade_id, 1.0).replacen('{', &format!(r#"{{"id":"{symbol}/{trade_id}","#), 1)
}

/// Pushes ticks `first..first + count` in frames; every frame must be accepted whole.
async fn push_acked(push: SocketAddr, symbol: &str, first: u64, count: u64) {
    let mut socket = support::connect(push).await;
    let mut next = first;
    while next < first + count {
        let frame: Vec<String> = (next..(next + PER_FRAME).min(first + count)).map(|id| tick_with_id(symbol, id)).collect();
        socket.send(Message::text(array(&frame))).await.expect("send");
        let ack = read_ack(&mut socket).await;
        assert_eq!(ack["accepted"].as_u64(), Some(frame.len() as u64), "every tick acked: {ack}");
        next += frame.len() as u64;
    }
}

/// Waits (60 s at most) until `expected` distinct trade ids of `symbol` are present;
/// returns (distinct, duplicated).
async fn wait_for_ticks(client: &tokio_postgres::Client, symbol: &str, expected: usize) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Until the daemon has created the schema, the table is not there yet.
        let rows = client
            .query("SELECT trade_id::bigint, count(*) FROM ticks WHERE symbol = $1 GROUP BY trade_id", &[&symbol])
            .await
            .unwrap_or_default();
        let present: HashMap<i64, i64> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        let duplicated = present.values().filter(|copies| **copies > 1).count();
        if present.len() >= expected || Instant::now() > deadline {
            return (present.len(), duplicated);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_while_the_database_was_down_at_start_lands_once() {
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let (push, metrics) = (free_port(), free_port());
    let config = write_config(dir.path(), &cluster, push, metrics);

    // An installed daemon: schema prepared, some ticks committed, stopped cleanly.
    let mut daemon = DaemonProcess::start(&config, push);
    push_acked(push, "OFFLINE", 0, 200).await;
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_ticks(&client, "OFFLINE", 200).await, (200, 0));
    assert!(daemon.stop().success(), "clean stop");
    drop(client);

    // The host restarts, the daemon comes up before the database.
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Fast)).expect("stop PostgreSQL");
    let mut daemon = DaemonProcess::start(&config, push);
    push_acked(push, "OFFLINE", 200, 1_000).await;
    // A resend of a tick acked while offline is recognized.
    let mut socket = support::connect(push).await;
    socket.send(Message::text(array(&[tick_with_id("OFFLINE", 900)]))).await.unwrap();
    let ack = read_ack(&mut socket).await;
    assert_eq!(ack["duplicates"].as_u64(), Some(1), "{ack}");
    let readiness = wait_for_readyz(metrics, 503).await;
    assert!(readiness["failing"].to_string().contains("database"), "{readiness}");

    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let client = support::sql(&cluster).await;
    let (present, duplicated) = wait_for_ticks(&client, "OFFLINE", 1_200).await;
    println!("offline start: acked 1200 / present {present} / duplicated {duplicated}");
    assert_eq!(
        (present, duplicated),
        (1_200, 0),
        "every acked tick present exactly once; log:\n{}",
        crate::support::process::tail(&daemon.log())
    );
    wait_for_readyz(metrics, 200).await;

    // New ticks commit; a restart doubles nothing.
    push_acked(push, "OFFLINE", 1_200, 300).await;
    assert_eq!(wait_for_ticks(&client, "OFFLINE", 1_500).await, (1_500, 0));
    assert!(daemon.stop().success(), "clean stop");
    let mut daemon = DaemonProcess::start(&config, push);
    push_acked(push, "OFFLINE", 1_500, 100).await;
    let (present, duplicated) = wait_for_ticks(&client, "OFFLINE", 1_600).await;
    println!("after a restart: acked 1600 / present {present} / duplicated {duplicated}");
    assert_eq!((present, duplicated), (1_600, 0));
    assert!(daemon.stop().success(), "clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_install_started_before_its_database_gets_its_schema_when_it_appears() {
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let (push, metrics) = (free_port(), free_port());
    let config = write_config(dir.path(), &cluster, push, metrics);
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Fast)).expect("stop PostgreSQL");

    let mut daemon = DaemonProcess::start(&config, push);
    push_acked(push, "FRESH", 0, 500).await;
    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL");
    let client = support::sql(&cluster).await;
    let (present, duplicated) = wait_for_ticks(&client, "FRESH", 500).await;
    println!("fresh install: acked 500 / present {present} / duplicated {duplicated}");
    assert_eq!((present, duplicated), (500, 0), "log:\n{}", crate::support::process::tail(&daemon.log()));
    assert!(daemon.stop().success(), "clean stop");
}
