//! The spool inside a running daemon: with the database down and the ticks channel
//! small, producers keep getting durable acks — the channel spills to the spool instead
//! of making them wait — and when the database returns the spool is read back, every
//! acked tick lands exactly once, and the table stops spilling.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{AckLevel, SpoolConfig};
use hypertick::db::throwaway::StopMode;

use crate::support::{self, array, count, push, tick_json, wait_for_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_channel_spills_to_the_spool_and_is_read_back() {
    const FRAMES: u64 = 40;
    const PER_FRAME: u64 = 500;
    const TOTAL: i64 = (FRAMES * PER_FRAME) as i64;
    let mut cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&cluster);
    config.pipeline.channel_capacity = std::num::NonZeroUsize::new(1_000).expect("1000 is not 0");
    config.spool = Some(SpoolConfig::in_dir(spool_dir.path().to_path_buf()));
    config.server.as_mut().unwrap().ack = AckLevel::Durable;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let metrics = daemon.metrics_addr.unwrap();
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop PostgreSQL");
    // Twenty times the channel's capacity, all acked while nothing can be written.
    for frame in 0..FRAMES {
        let ticks: Vec<String> = (0..PER_FRAME).map(|i| tick_json("SPILL", frame * PER_FRAME + i, 1.0)).collect();
        let ack = tokio::time::timeout(Duration::from_secs(10), push(&mut socket, &array(&ticks)))
            .await
            .expect("acks keep coming while the database is down");
        assert_eq!(ack["accepted"], PER_FRAME, "{ack}");
    }
    assert!(support::metric(metrics, "hypertick_spool_spills_total", "table=\"ticks\"").await >= 1.0, "the ticks channel spilled");
    assert_eq!(support::metric(metrics, "hypertick_spool_spilling", "table=\"ticks\"").await, 1.0);
    assert!(support::metric(metrics, "hypertick_queue_depth", "table=\"ticks\"").await <= 1_000.0, "memory stays at the channel's size");

    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'SPILL'", TOTAL).await, TOTAL);
    assert!(support::metric(metrics, "hypertick_spool_read_back_total", "table=\"ticks\"").await > 0.0);
    // The reader notices it has caught up within its polling interval.
    let mut spilling = 1.0;
    for _ in 0..50 {
        spilling = support::metric(metrics, "hypertick_spool_spilling", "table=\"ticks\"").await;
        if spilling == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spilling, 0.0, "the table queues directly again");
    // And it does: more ticks land at once.
    let more: Vec<String> = (0..PER_FRAME).map(|i| tick_json("AFTER", i, 1.0)).collect();
    assert_eq!(push(&mut socket, &array(&more)).await["accepted"], PER_FRAME);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'AFTER'", PER_FRAME as i64).await, PER_FRAME as i64);
    drop(socket);
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(DISTINCT trade_id) FROM ticks WHERE symbol = 'SPILL'").await, TOTAL, "none doubled");
}
