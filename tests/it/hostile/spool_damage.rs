//! A damaged spool: `hypertick run` as a child process fills its spool while the
//! database is down, is killed, and its files are damaged before it starts again. A
//! flipped byte in a sealed segment costs exactly the entry it hit — dead-lettered once,
//! naming the segment, counted — and a record that cannot be replayed is a dead letter
//! that counts as done. Either way the spool frees every segment and takes new records.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hypertick::db::throwaway::{StopMode, ThrowawayCluster};
use hypertick::record::Table;
use hypertick::spool::{Spool, SpoolSettings, DAMAGED_DIR};
use tokio_tungstenite::tungstenite::Message;

use crate::support::process::{free_port, DaemonProcess, SpoolDaemonConfig};
use crate::support::{self, array, count, read_ack, tick_json, wait_for_count};

const PER_FRAME: u64 = 500;

fn write_config(dir: &Path, cluster: &ThrowawayCluster, push: SocketAddr, metrics: SocketAddr) -> PathBuf {
    let config = SpoolDaemonConfig {
        metrics: Some(metrics),
        spool_extra: "max_bytes = 8388608\nsegment_bytes = 1048576",
        ..SpoolDaemonConfig::default()
    };
    config.write(dir, &cluster.url("hypertick"), push)
}

/// The spool's segment files, oldest first.
fn segments(spool: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(spool)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "spool"))
        .collect();
    files.sort();
    files
}

/// Pushes `frames` frames of ticks `symbol`/`first..`, each acked in full.
async fn push_ticks(push: SocketAddr, symbol: &str, first: u64, frames: u64) {
    let mut socket = support::connect(push).await;
    for frame in 0..frames {
        let start = first + frame * PER_FRAME;
        let ticks: Vec<String> = (start..start + PER_FRAME).map(|id| tick_json(symbol, id, 1.0)).collect();
        socket.send(Message::text(array(&ticks))).await.expect("send");
        let ack = read_ack(&mut socket).await;
        assert_eq!(ack["accepted"], PER_FRAME, "{ack}");
    }
}

/// Waits (30 s at most) until the spool is down to its active segment; returns the count.
async fn wait_for_one_segment(spool: &Path) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = segments(spool).len();
        if left == 1 || Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_sealed_segment_costs_only_its_entry_and_the_spool_frees() {
    const FRAMES: u64 = 100;
    const TOTAL: i64 = (FRAMES * PER_FRAME) as i64;
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let (push, metrics) = (free_port(), free_port());
    let config = write_config(dir.path(), &cluster, push, metrics);
    let mut daemon = DaemonProcess::start(&config, push);

    // Acked while only the spool holds them, then the daemon dies.
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop PostgreSQL");
    push_ticks(push, "DAMAGE", 0, FRAMES).await;
    daemon.kill();
    let files = segments(&spool);
    assert!(files.len() >= 3, "the ticks fill several segments: {files:?}");
    let sealed = &files[0];
    let segment_name = sealed.file_name().unwrap().to_str().unwrap().to_string();
    let mut bytes = std::fs::read(sealed).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(sealed, &bytes).unwrap();

    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let mut daemon = DaemonProcess::start(&config, push);
    let client = support::sql(&cluster).await;
    let present = wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'DAMAGE'", TOTAL - 1).await;
    let distinct = count(&client, "SELECT count(DISTINCT trade_id) FROM ticks WHERE symbol = 'DAMAGE'").await;
    println!("a flipped byte in {segment_name}: acked {TOTAL} / present {present} / distinct {distinct}");
    assert_eq!((present, distinct), (TOTAL - 1, TOTAL - 1), "all but the damaged entry, each exactly once");

    let corrupt = "SELECT count(*) FROM dead_letters WHERE reason = 'spool_corrupt'";
    assert_eq!(wait_for_count(&client, corrupt, 1).await, 1, "the loss is one dead letter");
    let naming = format!("SELECT count(*) FROM dead_letters WHERE reason = 'spool_corrupt' AND detail LIKE '%{segment_name}%'");
    assert_eq!(count(&client, &naming).await, 1, "the dead letter names the segment");
    assert_eq!(support::metric(metrics, "hypertick_spool_corrupt_records_total", "").await, 1.0);
    assert!(support::metric(metrics, "hypertick_spool_corrupt_bytes_total", "").await > 0.0);
    assert_eq!(wait_for_one_segment(&spool).await, 1, "every segment freed but the active one");
    let kept = spool.join(DAMAGED_DIR).join(&segment_name);
    assert_eq!(std::fs::read(&kept).unwrap(), bytes, "the damaged segment is kept as found");

    // New records go straight through, and the loss is not reported again on a restart.
    push_ticks(push, "AFTER", 0, 2).await;
    let after = "SELECT count(*) FROM ticks WHERE symbol = 'AFTER'";
    assert_eq!(wait_for_count(&client, after, 2 * PER_FRAME as i64).await, 2 * PER_FRAME as i64);
    assert!(daemon.stop().success(), "clean stop");
    let mut daemon = DaemonProcess::start(&config, push);
    push_ticks(push, "AFTER", 2 * PER_FRAME, 1).await;
    assert_eq!(wait_for_count(&client, after, 3 * PER_FRAME as i64).await, 3 * PER_FRAME as i64);
    assert!(daemon.stop().success(), "clean stop");
    assert_eq!(count(&client, corrupt).await, 1, "reported once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_dead_lettered_on_replay_does_not_pin_the_spool() {
    const FRAMES: u64 = 4;
    const TOTAL: i64 = (FRAMES * PER_FRAME) as i64;
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let (push, metrics) = (free_port(), free_port());
    let config = write_config(dir.path(), &cluster, push, metrics);
    let mut daemon = DaemonProcess::start(&config, push);
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop PostgreSQL");
    push_ticks(push, "REPLAY", 0, FRAMES).await;
    daemon.kill();

    // A ticks entry that no longer decodes (a format this build does not read), between
    // the acked ticks and the ones that come after the restart.
    let settings =
        SpoolSettings { dir: spool.clone(), max_bytes: 1 << 30, segment_bytes: 1 << 20, fsync_interval: Duration::from_millis(5) };
    let (written, recovered) = tokio::task::block_in_place(|| Spool::open(settings, &HashMap::new())).unwrap();
    assert!(recovered.losses.is_empty());
    let (undecodable, _) = written.append(Table::Ticks.spool_stream(), &[0xee, 0, 1, 2, 3]).unwrap();
    written.sync().unwrap();
    drop(written);
    assert!(undecodable > TOTAL as u64);

    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let mut daemon = DaemonProcess::start(&config, push);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'REPLAY'", TOTAL).await, TOTAL);
    let undecodable_letters = "SELECT count(*) FROM dead_letters WHERE reason = 'spool_undecodable'";
    assert_eq!(wait_for_count(&client, undecodable_letters, 1).await, 1, "the undecodable entry is a dead letter");
    assert_eq!(wait_for_one_segment(&spool).await, 1, "the dead-lettered entry does not hold its segment");
    assert_eq!(support::metric(metrics, "hypertick_spool_corrupt_records_total", "").await, 0.0, "nothing was lost");

    push_ticks(push, "AFTER", 0, 1).await;
    let after = "SELECT count(*) FROM ticks WHERE symbol = 'AFTER'";
    assert_eq!(wait_for_count(&client, after, PER_FRAME as i64).await, PER_FRAME as i64);
    assert!(daemon.stop().success(), "clean stop");
    // Its release is in the database: a restart neither replays nor reports it again.
    let mut daemon = DaemonProcess::start(&config, push);
    push_ticks(push, "AFTER", PER_FRAME, 1).await;
    assert_eq!(wait_for_count(&client, after, 2 * PER_FRAME as i64).await, 2 * PER_FRAME as i64);
    assert!(daemon.stop().success(), "clean stop");
    assert_eq!(count(&client, undecodable_letters).await, 1, "dead-lettered once");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'REPLAY'").await, TOTAL, "none doubled");
}
