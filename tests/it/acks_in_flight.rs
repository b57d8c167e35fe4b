//! Acks in flight: with `ack = "committed"`, a connection reads and routes the next
//! frames while earlier ones wait for their commit, and still answers in frame order.
//! With `acks_in_flight = 1` the same frames go one commit at a time.

use std::time::Duration;

use futures_util::SinkExt;
use hypertick::app::Daemon;
use hypertick::config::{AckLevel, SpoolConfig, TableConfig};
use hypertick::record::Table;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, array, count, read_ack, tick_json};

const FRAMES: u64 = 6;

/// Sends `FRAMES` frames back to back (frame k holds k + 1 ticks, so each ack names its
/// frame), then reads the acks. Returns the ticks' batches and the rows stored.
async fn frames_back_to_back(acks_in_flight: usize, symbol: &str) -> (u64, i64) {
    let cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&cluster);
    config.spool = Some(SpoolConfig::in_dir(spool_dir.path().to_path_buf()));
    let server = config.server.as_mut().unwrap();
    server.ack = AckLevel::Committed;
    server.acks_in_flight = std::num::NonZeroUsize::new(acks_in_flight).unwrap();
    // A batch closes 400 ms after its first row: frames read while one waits share it.
    config.tables.ticks = Some(TableConfig { batch_max_rows: Some(100_000), linger_ms: Some(400), ..TableConfig::default() });
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let mut next_id = 0;
    for frame in 0..FRAMES {
        let ticks: Vec<String> = (0..=frame)
            .map(|_| {
                next_id += 1;
                tick_json(symbol, next_id, 1.0)
            })
            .collect();
        socket.send(Message::text(array(&ticks))).await.unwrap();
    }
    for frame in 0..FRAMES {
        let ack = tokio::time::timeout(Duration::from_secs(30), read_ack(&mut socket)).await.expect("an ack per frame");
        assert_eq!(ack["accepted"], frame + 1, "acks in frame order: {ack}");
    }
    // Every ack says committed: the rows are there before the stop.
    let client = support::sql(&cluster).await;
    let stored = count(&client, &format!("SELECT count(*) FROM ticks WHERE symbol = '{symbol}'")).await;
    let batches = daemon.stats.snapshot(Table::Ticks).batches;
    drop(socket);
    daemon.stop().await.expect("clean stop");
    (batches, stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_acks_overlap_and_keep_frame_order() {
    let expected_rows = (FRAMES * (FRAMES + 1) / 2) as i64;

    let (batches, stored) = frames_back_to_back(64, "INFLIGHT").await;
    println!("acks_in_flight = 64: {FRAMES} frames committed in {batches} batch(es)");
    assert_eq!(stored, expected_rows);
    assert!(batches < FRAMES, "frames read while earlier ones waited share batches ({batches} batches)");

    let (batches, stored) = frames_back_to_back(1, "ONEBYONE").await;
    println!("acks_in_flight = 1: {FRAMES} frames committed in {batches} batch(es)");
    assert_eq!(stored, expected_rows);
    assert_eq!(batches, FRAMES, "one frame at a time: each waits for its own commit");
}
