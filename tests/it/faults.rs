//! The writer against a database restarted mid-stream: every row present exactly once.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::db::throwaway::StopMode;
use hypertick::record::Table;

use crate::support::{self, array, count, push, tick_json, wait_for_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_survive_a_database_restart_exactly_once() {
    const FRAMES: u64 = 60;
    const PER_FRAME: u64 = 500;
    const TOTAL: i64 = (FRAMES * PER_FRAME) as i64;
    let mut cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let metrics = daemon.metrics_addr.unwrap();
    let reconnects_before = support::metric(metrics, "hypertick_writer_reconnects_total", "").await;
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let mut committed_before_restart = 0;
    for frame in 0..FRAMES {
        let ticks: Vec<String> = (0..PER_FRAME).map(|i| tick_json("RESTART", frame * PER_FRAME + i, 1.0)).collect();
        let ack = push(&mut socket, &array(&ticks)).await;
        assert_eq!(ack["accepted"], PER_FRAME, "{ack}");
        if frame == FRAMES / 3 {
            // Let some batches commit, then kill the server without a checkpoint.
            tokio::time::sleep(Duration::from_millis(200)).await;
            committed_before_restart = daemon.stats.snapshot(Table::Ticks).rows_written;
            tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop the server");
        }
        if frame == FRAMES / 3 + 10 {
            tokio::task::block_in_place(|| cluster.start_server()).expect("start the server again");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(committed_before_restart > 0, "rows were committed before the restart");
    assert!((committed_before_restart as i64) < TOTAL, "the restart happened mid-stream");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", TOTAL).await, TOTAL);
    let reconnects = support::metric(metrics, "hypertick_writer_reconnects_total", "").await - reconnects_before;
    assert!(reconnects >= 1.0, "writers reconnected ({reconnects})");
    drop(socket);
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, TOTAL, "none lost, none doubled");
    assert_eq!(count(&client, "SELECT count(DISTINCT trade_id) FROM ticks").await, TOTAL);
}
