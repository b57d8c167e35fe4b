//! Amplification and memory bounded in bytes: a frame of a million zeros makes a small
//! ack and one dead letter, oversized records are refused, batches close on bytes,
//! rate-limited frames are sampled, dead letters expire, and big records with the
//! database down make the producer wait instead of memory growing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hypertick::app::Daemon;
use hypertick::config::TableConfig;
use hypertick::db::throwaway::StopMode;
use hypertick::record::{DeadLetter, Table, Timestamp};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, array, count, push, read_ack, tick_json, wait_for_count};

/// The process's resident memory, from /proc/self/status (VmRSS).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("a VmRSS line");
    let kilobytes: u64 = line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).expect("VmRSS in kB");
    kilobytes * 1_024
}

fn signal_json(id: usize, content_bytes: usize) -> String {
    format!(
        r#"{{"type":"signal","source":"amplification","time":"{}","category":"bulk","symbol":"S{id}","content":"{}"}}"#,
        Timestamp::now(),
        "x".repeat(content_bytes)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_of_zeros_makes_a_small_ack_and_one_dead_letter() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    // 524 287 elements in 1 MiB, each refused as not an object.
    let zeros = format!("[{}0]", "0,".repeat(524_286));
    assert!(zeros.len() <= 1 << 20);
    socket.send(Message::text(zeros.clone())).await.expect("send frame");
    let ack = read_ack(&mut socket).await;
    assert_eq!(ack["accepted"], 0, "{}", &ack.to_string()[..200]);
    assert_eq!(ack["rejected"].as_array().unwrap().len(), hypertick::source::push::MAX_ACK_REJECTIONS);
    assert_eq!(ack["rejected_more"], 524_287 - 100);
    assert!(ack.to_string().len() < 16 * 1024, "the ack is {} bytes", ack.to_string().len());

    // Valid ticks after it are committed.
    let ticks: Vec<String> = (0..3).map(|i| tick_json("AFTER-ZEROS", i, 1.0)).collect();
    assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 3);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'AFTER-ZEROS'", 3).await, 3);

    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'frame_rejected'", 1).await, 1);
    // The feed event of the connection is not a dead letter: the frame made exactly one.
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters").await, 1);
    let row = client.query_one("SELECT detail, raw FROM dead_letters", &[]).await.unwrap();
    let (detail, raw): (String, String) = (row.get(0), row.get(1));
    assert!(detail.starts_with("524287 of the frame's 524287 elements were refused (not_an_object × 524287)"), "{detail}");
    assert!(detail.contains(&format!("of {} bytes kept", zeros.len())), "{detail}");
    assert!(raw.starts_with("[0,0,0") && raw.len() < DeadLetter::MAX_RAW_BYTES + 100, "raw of {} bytes", raw.len());
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_over_the_size_cap_are_refused_and_batches_close_on_bytes() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.tables.signals =
        Some(TableConfig { max_record_bytes: Some(65_536), batch_max_bytes: Some(65_536), linger_ms: Some(200), ..TableConfig::default() });
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let mut signals: Vec<String> = (0..30).map(|id| signal_json(id, 20_000)).collect();
    signals.push(signal_json(99, 100_000));
    let ack = push(&mut socket, &array(&signals)).await;
    assert_eq!(ack["accepted"], 30, "{ack}");
    assert_eq!(ack["rejected"][0]["index"], 30, "{ack}");
    let reason = ack["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("record_too_large: the record takes about 100")
            && reason.contains("the limit is 65536 (tables.signals.max_record_bytes)"),
        "{reason}"
    );

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM signals WHERE source = 'amplification'", 30).await, 30);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'record_too_large'", 1).await, 1);
    // 30 rows of about 20 kB in batches closed once they reach 64 KiB: 4 rows each at most.
    let batches = daemon.stats.snapshot(Table::Signals).batches;
    assert!(batches >= 8, "{batches} batches");
    let rows_per_batch = support::metric(daemon.metrics_addr.unwrap(), "hypertick_batch_rows_sum", "table=\"signals\"").await
        / support::metric(daemon.metrics_addr.unwrap(), "hypertick_batch_rows_count", "table=\"signals\"").await;
    assert!(rows_per_batch <= 4.0, "{rows_per_batch} rows per batch");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_frames_make_a_bounded_number_of_dead_letters() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.server.as_mut().unwrap().max_messages_per_sec = 2;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let padded = format!(r#"{{"type":"tick","pad":"{}"}}"#, "p".repeat(60_000));
    let started = Instant::now();
    let mut limited = 0;
    for _ in 0..200 {
        let ack = push(&mut socket, &padded).await;
        if ack["rejected"][0]["reason"].as_str().is_some_and(|reason| reason.starts_with("rate_limited")) {
            limited += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64().ceil() as i64;
    assert!(limited >= 150, "{limited} of 200 frames over 2/s");

    let client = support::sql(&cluster).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let letters = count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rate_limited'").await;
    assert!((1..=seconds + 1).contains(&letters), "{letters} dead letters for {limited} refused frames in {seconds} s");
    let detail: String = client
        .query_one("SELECT detail FROM dead_letters WHERE reason = 'rate_limited' ORDER BY id DESC LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert!(detail.contains("frames refused on this connection since the last sample"), "{detail}");
    let limited_metric = support::metric(daemon.metrics_addr.unwrap(), "hypertick_push_rate_limited_total", "").await;
    assert!(limited_metric >= limited as f64, "every refused frame is counted: {limited_metric}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_past_retention_are_deleted() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.schema.maintenance_interval_secs = std::num::NonZeroU64::new(1).unwrap();
    config.tables.dead_letters = Some(TableConfig { retention_days: Some(7), ..TableConfig::default() });
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    client
        .batch_execute(
            "INSERT INTO dead_letters (received_at, source, reason, detail, raw)
             SELECT now() - make_interval(days => 8 + n), 'test', 'old', '', '' FROM generate_series(1, 25) AS n;
             INSERT INTO dead_letters (received_at, source, reason, detail, raw)
             SELECT now() - make_interval(days => 6), 'test', 'recent', '', '' FROM generate_series(1, 3);",
        )
        .await
        .unwrap();
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'old'", 0).await, 0);
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'recent'").await, 3, "rows inside retention stay");
    let expired = support::metric(daemon.metrics_addr.unwrap(), "hypertick_dead_letters_expired_total", "").await;
    assert!(expired >= 25.0, "{expired}");
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_records_with_the_database_down_wait_within_the_byte_budget() {
    const SIGNALS: usize = 300;
    const CONTENT_BYTES: usize = 900_000;
    const CHANNEL_BYTES: usize = 8 << 20;
    const BATCH_BYTES: usize = 2 << 20;
    let mut cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.tables.signals = Some(TableConfig {
        channel_max_bytes: Some(CHANNEL_BYTES),
        batch_max_bytes: Some(BATCH_BYTES),
        writers: Some(1),
        ..TableConfig::default()
    });
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let addr = daemon.push_addr.unwrap();
    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Immediate)).expect("stop the server");
    let resident_before = resident_bytes();

    let acked = Arc::new(AtomicUsize::new(0));
    let producer = tokio::spawn({
        let acked = acked.clone();
        async move {
            let mut socket = support::connect(addr).await;
            let frame = signal_json(0, CONTENT_BYTES);
            for _ in 0..SIGNALS {
                socket.send(Message::text(frame.clone())).await.expect("send frame");
                // A frame waiting for room is acked once the database is back (within
                // `read_ack`'s 30 s: the outage below is shorter).
                let ack = read_ack(&mut socket).await;
                assert_eq!(ack["accepted"], 1, "{ack}");
                acked.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    // Wait until the producer is held back: no ack for 3 s.
    let mut last = usize::MAX;
    let mut steady_since = Instant::now();
    while steady_since.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = acked.load(Ordering::SeqCst);
        if now != last {
            last = now;
            steady_since = Instant::now();
        }
    }
    let acked_while_down = acked.load(Ordering::SeqCst);
    let resident_growth = resident_bytes().saturating_sub(resident_before);
    // What may be held: the channel, and batches (rows plus their encoding) being built,
    // queued for the one writer and in its hands.
    let budget = (CHANNEL_BYTES + BATCH_BYTES * 2 * 3) as u64;
    assert!(acked_while_down < SIGNALS, "the producer is held back ({acked_while_down} acked)");
    let bound_in_signals = (budget * 2) as usize / CONTENT_BYTES + 4;
    assert!(acked_while_down <= bound_in_signals, "{acked_while_down} signals of 900 kB taken with a budget of {budget} bytes");
    assert!(resident_growth < 3 * budget + 200_000_000, "resident memory grew {resident_growth} bytes with a budget of {budget}");
    eprintln!("900 kB signals, database down: {acked_while_down} acked, resident memory grew {resident_growth} bytes, budget {budget}");
    let held = daemon.rows_held();
    assert!(held.in_channels + held.in_batches > 0, "{held:?}");
    assert!(held.in_channels + held.in_batches <= acked_while_down as u64 + 1, "{held:?} for {acked_while_down} acked");

    tokio::task::block_in_place(|| cluster.start_server()).expect("start the server again");
    tokio::time::timeout(Duration::from_secs(300), producer).await.expect("the producer finishes").expect("producer");
    let client = support::sql(&cluster).await;
    let query = "SELECT count(*) FROM signals WHERE source = 'amplification'";
    assert_eq!(wait_for_count(&client, query, SIGNALS as i64).await, SIGNALS as i64, "every acked signal is committed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.rows_held() != (hypertick::app::RowsHeld { in_channels: 0, in_batches: 0 }) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(daemon.rows_held(), hypertick::app::RowsHeld { in_channels: 0, in_batches: 0 });
    daemon.stop().await.expect("clean stop");
}
