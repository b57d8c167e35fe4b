//! Fault injection with real processes: `hypertick run` started as a child process on
//! a spool, a producer pushing ticks with `ack = "durable"`, and the daemon or the
//! database killed mid-load. Each test prints sent / acked / present / duplicated / lost
//! and requires every acked record present exactly once.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hypertick::db::throwaway::{StopMode, ThrowawayCluster};
use tokio_tungstenite::tungstenite::Message;

use crate::support::process::{free_port, DaemonProcess, SpoolDaemonConfig};
use crate::support::{self, array, tick_json};

fn write_config(dir: &Path, cluster: &ThrowawayCluster, push: SocketAddr, spool_extra: &str) -> PathBuf {
    let sections = if spool_extra.contains("custom") { custom_tables() } else { "" };
    SpoolDaemonConfig { spool_extra, sections, ..SpoolDaemonConfig::default() }.write(dir, &cluster.url("hypertick"), push)
}

/// The seed custom tables of the example configuration (its `[[custom_tables]]` part).
fn custom_tables() -> &'static str {
    let example = include_str!("../../config/examples/custom_tables.toml");
    &example[example.find("[[custom_tables]]").expect("custom tables in the example")..]
}

/// What a producer sent and what the daemon acknowledged, by trade id.
#[derive(Default)]
struct Ledger {
    sent: u64,
    acked: HashSet<u64>,
    refused: HashMap<String, u64>,
}

/// Pushes frames of `per_frame` ticks numbered from `next` until `stop` says so or the
/// connection ends; records what was acked.
async fn produce(
    push: SocketAddr,
    symbol: &str,
    mut next: u64,
    per_frame: u64,
    ledger: &mut Ledger,
    stop: impl Fn(&Ledger) -> bool,
) -> u64 {
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(format!("ws://{push}")).await else { return next };
    while !stop(ledger) {
        let ids: Vec<u64> = (next..next + per_frame).collect();
        next += per_frame;
        let ticks: Vec<String> = ids.iter().map(|id| tick_with_id(symbol, *id)).collect();
        ledger.sent += per_frame;
        if socket.send(Message::text(array(&ticks))).await.is_err() {
            break;
        }
        let ack = match tokio::time::timeout(Duration::from_secs(30), async { read_ack_or_none(&mut socket).await }).await {
            Ok(Some(ack)) => ack,
            _ => break,
        };
        let refused = support::refused_indexes(&ack);
        for item in ack["rejected"].as_array().into_iter().flatten() {
            let code = item["reason"].as_str().unwrap_or("").split(':').next().unwrap_or("").to_string();
            *ledger.refused.entry(code).or_default() += 1;
        }
        // Refusals past the listed ones come without reasons.
        if let Some(more) = ack["rejected_more"].as_u64().filter(|more| *more > 0) {
            *ledger.refused.entry("(past the listed)".to_string()).or_default() += more;
        }
        for (index, id) in ids.iter().enumerate() {
            if !refused.contains(&index) {
                ledger.acked.insert(*id);
            }
        }
    }
    next
}

/// A tick whose `id` makes a resend harmless.
fn tick_with_id(symbol: &str, trade_id: u64) -> String {
    tick_json(symbol, trade_id, 1.0).replacen('{', &format!(r#"{{"id":"{symbol}/{trade_id}","#), 1)
}

/// Sends again every tick below `next` that was not acked (the producer's retry after
/// a lost connection); returns how many the daemon took as resends of stored ones.
async fn resend_unacked(push: SocketAddr, symbol: &str, next: u64, ledger: &mut Ledger) -> u64 {
    let unacked: Vec<u64> = (0..next).filter(|id| !ledger.acked.contains(id)).collect();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{push}")).await.expect("connect");
    let mut duplicates = 0;
    for chunk in unacked.chunks(500) {
        let ticks: Vec<String> = chunk.iter().map(|id| tick_with_id(symbol, *id)).collect();
        socket.send(Message::text(array(&ticks))).await.expect("send");
        let ack = read_ack_or_none(&mut socket).await.expect("an ack");
        assert_eq!(ack["accepted"].as_u64(), Some(chunk.len() as u64), "{ack}");
        duplicates += ack["duplicates"].as_u64().unwrap_or(0);
        ledger.acked.extend(chunk);
    }
    duplicates
}

/// An ack, or `None` when the connection ended (the daemon was killed).
async fn read_ack_or_none(socket: &mut support::Socket) -> Option<serde_json::Value> {
    use futures_util::StreamExt;
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            _ => return None,
        }
    }
}

/// Compares the ledger with the table; prints the counts and returns (lost, duplicated).
async fn reckon(client: &tokio_postgres::Client, symbol: &str, ledger: &Ledger, what: &str) -> (usize, usize) {
    let rows = client.query("SELECT trade_id::bigint, count(*) FROM ticks WHERE symbol = $1 GROUP BY trade_id", &[&symbol]).await.unwrap();
    let present: HashMap<i64, i64> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let duplicated = present.values().filter(|copies| **copies > 1).count();
    let lost = ledger.acked.iter().filter(|id| !present.contains_key(&(**id as i64))).count();
    println!(
        "{what}: sent {} / acked {} / present {} / duplicated {duplicated} / lost {lost} / refused {:?}",
        ledger.sent,
        ledger.acked.len(),
        present.len(),
        ledger.refused
    );
    (lost, duplicated)
}

/// Waits until every acked tick is in the table (or 60 s pass).
async fn wait_for_acked(client: &tokio_postgres::Client, symbol: &str, ledger: &Ledger) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let present: i64 =
            client.query_one("SELECT count(DISTINCT trade_id) FROM ticks WHERE symbol = $1", &[&symbol]).await.unwrap().get(0);
        if present as usize >= ledger.acked.len() || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_load_loses_and_doubles_nothing_acked() {
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let push = free_port();
    let config = write_config(dir.path(), &cluster, push, "");
    let mut ledger = Ledger::default();

    let mut daemon = DaemonProcess::start(&config, push);
    // Load while the database takes it.
    let next = produce(push, "CRASH", 0, 500, &mut ledger, |ledger| ledger.acked.len() >= 10_000).await;
    // The database goes away: what is acked now is only in the spool...
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop PostgreSQL");
    let acked_before_outage = ledger.acked.len();
    let next = produce(push, "CRASH", next, 500, &mut ledger, |ledger| ledger.acked.len() >= acked_before_outage + 5_000).await;
    let acked_only_in_spool = ledger.acked.len() - acked_before_outage;
    // ...and the daemon is killed with frames in flight.
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        daemon.kill();
    });
    let next = produce(push, "CRASH", next, 500, &mut ledger, |_| false).await;
    killer.await.unwrap();
    assert!(acked_only_in_spool >= 5_000, "ticks were acked while only the spool held them");

    // The database back, the same spool, a new process: it replays what the database lacks.
    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let mut daemon = DaemonProcess::start(&config, push);
    // The producer resends what was never acked: the frames in flight at the kill. Those
    // the spool had kept are recognized by id and not stored twice.
    let unacked_at_kill = next as usize - ledger.acked.len();
    let resent_duplicates = resend_unacked(push, "CRASH", next, &mut ledger).await;
    let acked_before_restart = ledger.acked.len();
    let next = produce(push, "CRASH", next, 500, &mut ledger, |ledger| ledger.acked.len() >= acked_before_restart + 5_000).await;
    let client = support::sql(&cluster).await;
    wait_for_acked(&client, "CRASH", &ledger).await;
    let status = daemon.stop();
    assert!(status.success(), "clean stop: {status}");
    // Text logs written to a file (not a terminal) carry no colour escapes.
    let log = std::fs::read_to_string(daemon.log()).unwrap();
    assert!(log.contains(" INFO "), "the daemon logged at info:\n{log}");
    assert!(!log.contains('\x1b'), "ANSI escapes in a log written to a file:\n{log}");
    let (lost, duplicated) = reckon(&client, "CRASH", &ledger, "SIGKILL with the database down, unacked frames resent").await;
    println!(
        "acked while only the spool held them: {acked_only_in_spool}; unacked at the kill and resent: {unacked_at_kill}, \
         of which already stored (recognized by id): {resent_duplicates}"
    );
    assert_eq!((lost, duplicated), (0, 0), "every acked tick present exactly once");
    assert_eq!(ledger.acked.len() as u64, next, "with the resends, every tick sent is acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fills_the_spool_and_nothing_acked_is_lost() {
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let push = free_port();
    // A small spool that refuses when full, so the outage reaches its cap.
    let config = write_config(dir.path(), &cluster, push, "max_bytes = 2097152\nsegment_bytes = 262144\nfull_policy = \"reject\"");
    let mut ledger = Ledger::default();
    let mut daemon = DaemonProcess::start(&config, push);

    let next = produce(push, "OUTAGE", 0, 200, &mut ledger, |ledger| ledger.acked.len() >= 2_000).await;
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop PostgreSQL");
    // Keep pushing into the outage until the spool refuses.
    let next = produce(push, "OUTAGE", next, 200, &mut ledger, |ledger| ledger.refused.contains_key("spool_full")).await;
    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let acked_so_far = ledger.acked.len();
    produce(push, "OUTAGE", next, 200, &mut ledger, |ledger| ledger.acked.len() >= acked_so_far + 2_000).await;

    let client = support::sql(&cluster).await;
    wait_for_acked(&client, "OUTAGE", &ledger).await;
    let status = daemon.stop();
    assert!(status.success(), "clean stop: {status}");
    let (lost, duplicated) = reckon(&client, "OUTAGE", &ledger, "database outage, spool full").await;
    let segments = std::fs::read_dir(dir.path().join("spool"))
        .unwrap()
        .filter(|entry| entry.as_ref().is_ok_and(|entry| entry.path().extension().is_some_and(|extension| extension == "spool")))
        .count();
    assert!(segments <= 2, "committed segments are deleted ({segments} left)");
    assert!(ledger.refused.get("spool_full").copied().unwrap_or(0) > 0, "the spool filled and said so");
    assert_eq!((lost, duplicated), (0, 0), "every acked tick present exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_table_and_relational_rows_acked_while_the_database_is_down_survive_a_sigkill() {
    const ROWS: usize = 300;
    let mut cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let push = free_port();
    let config = write_config(dir.path(), &cluster, push, "# with the example's custom tables");
    let mut daemon = DaemonProcess::start(&config, push);
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop PostgreSQL");

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{push}")).await.expect("connect");
    let now = hypertick::record::Timestamp::now();
    for chunk in 0..(ROWS / 50) {
        let rows: Vec<String> = (chunk * 50..chunk * 50 + 50)
            .flat_map(|i| {
                [
                    format!(
                        r#"{{"type":"row","table":"price_tracking","op":"insert","row":{{"id":"00000000-0000-4000-8000-{i:012}","deal_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","price":"{}.99","source":"amazon","tracked_at":"{now}"}}}}"#,
                        i % 100
                    ),
                    format!(
                        r#"{{"type":"row","table":"orders","op":"upsert","row":{{"id":"00000000-0000-4000-9000-{i:012}","client_order_id":"c-{i}","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"market","quantity":"1.5"}}}}"#
                    ),
                ]
            })
            .collect();
        socket.send(Message::text(array(&rows))).await.unwrap();
        let ack = read_ack_or_none(&mut socket).await.expect("an ack while the database is down");
        assert_eq!(ack["accepted"], 100, "{ack}");
    }
    daemon.kill();

    tokio::task::block_in_place(|| cluster.start_server()).expect("start PostgreSQL again");
    let mut daemon = DaemonProcess::start(&config, push);
    let client = support::sql(&cluster).await;
    let expected = ROWS as i64;
    let prices = support::wait_for_count(&client, "SELECT count(*) FROM price_tracking", expected).await;
    let orders = support::wait_for_count(&client, "SELECT count(*) FROM orders", expected).await;
    let status = daemon.stop();
    assert!(status.success(), "clean stop: {status}");
    let distinct_prices = support::count(&client, "SELECT count(DISTINCT id) FROM price_tracking").await;
    println!(
        "custom and relational rows across a SIGKILL: acked {ROWS} + {ROWS} / present {prices} + {orders} / distinct {distinct_prices}"
    );
    assert_eq!((prices, distinct_prices, orders), (expected, expected, expected), "every acked row present exactly once");
    assert_eq!(support::count(&client, "SELECT count(*) FROM price_tracking WHERE price = 42.99").await, 3, "numeric kept exactly");
}
