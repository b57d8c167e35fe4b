//! Scale-out over NATS JetStream with real processes: a throwaway PostgreSQL, a
//! throwaway NATS server, two edges (`bus.role = "edge"`, `server.ack = "durable"`,
//! each with its own spool) and two writers (`bus.role = "writer"`). Producers push to
//! both edges in turn; mid-stream one edge and one writer are SIGKILLed and restarted,
//! the NATS server is killed and started again on its store, then killed and left down
//! while the other edge is SIGKILLed and restarted. Every acked record must be in the
//! database exactly once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hypertick::bus::throwaway::ThrowawayNats;
use hypertick::db::throwaway::ThrowawayCluster;

use crate::bus_harness::{merged, reckon, wait_until_settled, Frame, Lane, Progress};
use crate::support;
use crate::support::process::{free_port, tail, DaemonProcess};

/// Records with push ids (resent until acked) and without (sent once).
const WITH_IDS: u64 = 200_000;
const WITHOUT_IDS: u64 = 50_000;
const FRAME_ROWS: u64 = 400;
/// Trade ids of the records without push ids start here.
const WITHOUT_IDS_BASE: u64 = 10_000_000;

fn edge_config(dir: &Path, name: &str, nats: &str, push: SocketAddr) -> PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let path = home.join("hypertick.toml");
    let text = format!(
        r#"
[server]
listen = "{push}"
ack = "durable"

[metrics]
enabled = false

[spool]
dir = "{spool}"
fsync_interval_ms = 5

[bus]
role = "edge"
url = "{nats}"
edge_id = "{name}"
"#,
        spool = home.join("spool").display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn writer_config(dir: &Path, name: &str, nats: &str, cluster: &ThrowawayCluster, metrics: SocketAddr) -> PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let path = home.join("hypertick.toml");
    let text = format!(
        r#"
[database]
url = "{url}"
retry_initial_backoff_ms = 50
retry_max_backoff_ms = 500

[metrics]
listen = "{metrics}"

[schema]
profile = "vanilla"

[bus]
role = "writer"
url = "{nats}"
# A killed writer's messages go to the other writer after this.
ack_wait_secs = 5
"#,
        url = cluster.url("hypertick"),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The frames of one lane: every other frame of the plan, one frame without ids after
/// every four with ids.
fn plan(lane: u64) -> Vec<Frame> {
    let with_ids =
        (0..WITH_IDS).step_by(FRAME_ROWS as usize).map(|start| Frame { ids: (start..start + FRAME_ROWS).collect(), with_ids: true });
    let without_ids = (0..WITHOUT_IDS)
        .step_by(FRAME_ROWS as usize)
        .map(|start| Frame { ids: (WITHOUT_IDS_BASE + start..WITHOUT_IDS_BASE + start + FRAME_ROWS).collect(), with_ids: false });
    let mut without_ids = without_ids.peekable();
    let mut frames = Vec::new();
    for (index, frame) in with_ids.enumerate() {
        frames.push(frame);
        if index % 4 == 3 {
            frames.extend(without_ids.next());
        }
    }
    frames.extend(without_ids);
    frames.into_iter().enumerate().filter(|(index, _)| *index as u64 % 2 == lane).map(|(_, frame)| frame).collect()
}

/// Waits until `acked` reaches `at`, then runs `fault` with the lanes held at `at` plus
/// 8% of the load (so it happens under load, with frames in flight), then lets them on.
async fn at_progress(progress: &Progress, at: u64, what: &str, fault: impl FnOnce()) {
    let total = WITH_IDS + WITHOUT_IDS;
    progress.allowed.store(at + total * 8 / 100, Ordering::Relaxed);
    while progress.acked.load(Ordering::Relaxed) < at {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("{what} at {} acked", progress.acked.load(Ordering::Relaxed));
    tokio::task::block_in_place(fault);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edges_writers_and_the_bus_killed_mid_stream_lose_and_double_nothing_acked() {
    let cluster = support::start_cluster();
    // The schema first, so the two writers do not both create it at once.
    hypertick::app::migrate(&support::config_for(&cluster)).await.expect("migrate");
    let mut nats = tokio::task::block_in_place(ThrowawayNats::start).expect("a throwaway nats-server (.ci/run installs it)");
    let dir = tempfile::Builder::new().prefix("hypertick-bus-test-").tempdir().unwrap();
    println!("logs: {} (edges, writers), {} (NATS)", dir.path().display(), nats.log_path().display());

    let pushes = [free_port(), free_port()];
    let metrics = [free_port(), free_port()];
    let edge_configs =
        [edge_config(dir.path(), "edge-a", &nats.url(), pushes[0]), edge_config(dir.path(), "edge-b", &nats.url(), pushes[1])];
    let writer_configs = [
        writer_config(dir.path(), "writer-1", &nats.url(), &cluster, metrics[0]),
        writer_config(dir.path(), "writer-2", &nats.url(), &cluster, metrics[1]),
    ];
    let (mut edges, mut writers) = tokio::task::block_in_place(|| {
        let writers = [DaemonProcess::start(&writer_configs[0], metrics[0]), DaemonProcess::start(&writer_configs[1], metrics[1])];
        let edges = [DaemonProcess::start(&edge_configs[0], pushes[0]), DaemonProcess::start(&edge_configs[1], pushes[1])];
        (edges, writers)
    });

    let progress = Arc::new(Progress::default());
    let lanes: Vec<_> = (0..2).map(|lane| tokio::spawn(Lane::new(pushes, lane as usize).run(plan(lane), progress.clone()))).collect();

    let total = WITH_IDS + WITHOUT_IDS;
    let pause = Duration::from_millis(300);
    at_progress(&progress, total * 20 / 100, "SIGKILL edge-a", || edges[0].kill_and_restart(pushes[0], pause)).await;
    at_progress(&progress, total * 40 / 100, "SIGKILL writer-1", || writers[0].kill_and_restart(metrics[0], pause)).await;
    at_progress(&progress, total * 60 / 100, "SIGKILL the NATS server", || {
        nats.kill();
        std::thread::sleep(pause);
        nats.start_again().expect("NATS started again on its store");
    })
    .await;
    // The bus gone for longer: edges keep acking into their spools; one of them is
    // SIGKILLed and started again while the NATS server is still down.
    at_progress(&progress, total * 75 / 100, "SIGKILL the NATS server, left down", || nats.kill()).await;
    at_progress(&progress, total * 83 / 100, "SIGKILL edge-b while the NATS server is down", || {
        edges[1].kill();
        let config = edges[1].config().to_path_buf();
        std::thread::scope(|scope| {
            let restart = scope.spawn(|| DaemonProcess::start(&config, pushes[1]));
            std::thread::sleep(Duration::from_secs(2));
            let listening = std::net::TcpStream::connect(pushes[1]).is_ok();
            println!("edge-b restarted while the NATS server is down: push server listening before the bus is back: {listening}");
            nats.start_again().expect("NATS started again on its store");
            edges[1] = restart.join().expect("edge-b restarted");
        });
    })
    .await;
    progress.allowed.store(u64::MAX, Ordering::Relaxed);

    let mut parts = Vec::new();
    for lane in lanes {
        parts.push(lane.await.expect("producer lane"));
    }
    let (with_ids, without_ids) = merged(parts);
    let client = support::sql(&cluster).await;
    let settled = wait_until_settled(&client, with_ids.acked.len(), Duration::from_secs(5), Duration::from_secs(300)).await;
    let ids = reckon(&client, "ID%", &with_ids, "records with ids, resent until acked").await;
    let no_ids = reckon(&client, "NOID%", &without_ids, "records without ids, sent once").await;

    let mut stops = Vec::new();
    for (name, process) in ["edge-a", "edge-b", "writer-1", "writer-2"].into_iter().zip(edges.iter_mut().chain(writers.iter_mut())) {
        let status = tokio::task::block_in_place(|| process.stop());
        stops.push((name, status, process.log()));
    }
    let failed =
        !settled || ids.lost + ids.duplicated + no_ids.lost + no_ids.duplicated > 0 || stops.iter().any(|(_, status, _)| !status.success());
    if failed {
        // Keep the evidence: the processes' logs and configs, and the NATS log.
        let _ = std::fs::copy(nats.log_path(), dir.path().join("nats-server.log"));
        println!("kept for inspection: {}", dir.keep().display());
    }
    let summary = format!(
        "with ids: acked {} present {} duplicated {} lost {}; without ids: acked {} present {} duplicated {} lost {}",
        ids.acked, ids.present, ids.duplicated, ids.lost, no_ids.acked, no_ids.present, no_ids.duplicated, no_ids.lost
    );
    assert!(settled, "the table settled with every acked record with an id present ({summary})");
    assert_eq!((ids.duplicated, ids.lost), (0, 0), "records with ids: every acked one present exactly once ({summary})");
    assert_eq!(ids.acked as u64, WITH_IDS, "with the resends, every record with an id is acked ({summary})");
    assert_eq!(
        (no_ids.duplicated, no_ids.lost),
        (0, 0),
        "records without ids: every acked one present exactly once, none twice ({summary})"
    );
    for (name, status, log) in stops {
        assert!(status.success(), "{name} stops cleanly on SIGTERM ({status}); {} ends with:\n{}", log.display(), tail(&log));
    }
}
