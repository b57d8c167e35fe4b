//! Batching by size and by linger, and a stop that flushes every queued row.

use hypertick::app::Daemon;
use hypertick::config::TableConfig;
use hypertick::record::Table;

use crate::support::{self, array, count, push, tick_json, wait_for_count};

fn ticks_table(batch_max_rows: usize, linger_ms: u64) -> Option<TableConfig> {
    Some(TableConfig { writers: Some(1), batch_max_rows: Some(batch_max_rows), linger_ms: Some(linger_ms), ..TableConfig::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_close_on_size_and_stop_flushes_the_rest() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    // A linger far longer than the test: only the size can close a batch.
    config.tables.ticks = ticks_table(100, 60_000);
    config.shutdown.deadline_secs = std::num::NonZeroU64::new(30).unwrap();
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let ticks: Vec<String> = (0..250).map(|i| tick_json("SIZE", i, 1.0)).collect();
    assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 250);

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 200).await, 200);
    let snapshot = daemon.stats.snapshot(Table::Ticks);
    assert_eq!((snapshot.rows_written, snapshot.batches), (200, 2), "two full batches of 100");

    drop(socket);
    let stats = daemon.stats.clone();
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 250, "the stop flushed the partial batch");
    assert_eq!(count(&client, "SELECT count(DISTINCT trade_id) FROM ticks").await, 250);
    assert_eq!(stats.snapshot(Table::Ticks).batches, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_close_on_linger() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    // A size no test reaches: only the linger can close a batch.
    config.tables.ticks = ticks_table(1_000_000, 200);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let ticks: Vec<String> = (0..10).map(|i| tick_json("LINGER", i, 1.0)).collect();
    assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 10);

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 10).await, 10);
    let snapshot = daemon.stats.snapshot(Table::Ticks);
    assert_eq!((snapshot.rows_written, snapshot.batches), (10, 1), "one batch closed by linger");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

/// The transaction ids of the rows of `ticks` and of the ticks writer's stream position.
async fn transactions(client: &tokio_postgres::Client) -> (Vec<String>, Vec<String>) {
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|row| row.get(0)).collect::<Vec<String>>();
    let rows = client.query("SELECT DISTINCT xmin::text FROM ticks", &[]).await.unwrap();
    let positions = client.query("SELECT xmin::text FROM ingest_offsets WHERE stream LIKE 'ticks/%'", &[]).await.unwrap();
    (ids(rows), ids(positions))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_and_its_stream_position_commit_in_one_transaction() {
    // The writer sends a batch's statements in two flights (BEGIN, position and COPY;
    // rows, end of COPY and COMMIT): a position sent after COMMIT would commit apart
    // from its rows, and a restart between the two would send the batch again.
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.tables.ticks = ticks_table(100, 60_000);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;
    for batch in 1..=2i64 {
        let ticks: Vec<String> = (0..100).map(|i| tick_json("ONE-TX", batch as u64 * 1_000 + i, 1.0)).collect();
        assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 100);
        // The rows of the batch before were deleted: only this batch's are counted.
        assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 100).await, 100);
        let position: i64 = client.query_one("SELECT position FROM ingest_offsets WHERE stream LIKE 'ticks/%'", &[]).await.unwrap().get(0);
        assert_eq!(position, batch, "one position a batch");
        let (rows, positions) = transactions(&client).await;
        assert_eq!(rows.len(), 1, "batch {batch}'s 100 rows in one transaction: {rows:?}");
        assert_eq!(positions, rows, "batch {batch}: its position in its rows' transaction");
        client.batch_execute("DELETE FROM ticks").await.unwrap();
    }
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_a_frame_over_the_hard_limit() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.server.as_mut().unwrap().max_frame_bytes = 4 * 1024;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let addr = daemon.push_addr.unwrap();
    let mut socket = support::connect(addr).await;
    // Over four times max_frame_bytes: the websocket layer ends this connection.
    let huge = "x".repeat(64 * 1024);
    use futures_util::{SinkExt, StreamExt};
    let _ = socket.send(tokio_tungstenite::tungstenite::Message::text(huge)).await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the oversized connection was closed");
    // Other and later producers are unaffected.
    let mut next = support::connect(addr).await;
    assert_eq!(push(&mut next, &tick_json("AFTER", 1, 1.0)).await["accepted"], 1);
    drop(next);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_mode_with_a_conflict_key_skips_resent_rows() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.tables.ticks = Some(TableConfig {
        write_mode: Some(hypertick::config::WriteMode::Insert),
        conflict_key: Some(vec!["venue".into(), "trade_id".into(), "time".into()]),
        ..TableConfig::default()
    });
    config.tables.quotes = Some(TableConfig { write_mode: Some(hypertick::config::WriteMode::Insert), ..TableConfig::default() });
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let metrics = daemon.metrics_addr.unwrap();
    let skipped_before = support::metric(metrics, "hypertick_rows_skipped_total", "table=\"ticks\"").await;
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let ticks: Vec<String> = (0..300).map(|i| tick_json("DEDUP", i, 10.0 + i as f64)).collect();
    let frame = array(&ticks);
    assert_eq!(push(&mut socket, &frame).await["accepted"], 300);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 300).await, 300);
    // The producer resends the same frame (same times, same trade ids): nothing doubles.
    assert_eq!(push(&mut socket, &frame).await["accepted"], 300);
    let quote = r#"{"type":"quote","venue":"test","symbol":"DEDUP","time":"2026-11-22T12:00:00Z","bid_price":1,"bid_size":2,"ask_price":3,"ask_size":4}"#;
    assert_eq!(push(&mut socket, quote).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    drop(socket);
    let stats = daemon.stats.clone();
    let skipped_after_resend = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let skipped = support::metric(metrics, "hypertick_rows_skipped_total", "table=\"ticks\"").await - skipped_before;
            if skipped >= 300.0 || std::time::Instant::now() > deadline {
                return skipped;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    .await;
    assert_eq!(skipped_after_resend, 300.0);
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 300, "the resend added nothing");
    assert_eq!(stats.snapshot(Table::Ticks).rows_written, 600, "both batches were committed");
    let quote_row = client.query_one("SELECT bid_price, ask_size FROM quotes", &[]).await.unwrap();
    assert_eq!((quote_row.get::<_, f64>(0), quote_row.get::<_, f64>(1)), (1.0, 4.0));
}

/// With `full_policy = "reject"`, frames of ticks that meet a full ticks lane are
/// accepted as far as there is room and refused (`queue_full`) past it, tick by tick
/// (a frame's ticks travel in runs, and a run that does not fit is routed tick by tick),
/// and exactly the ticks the acks accepted are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_lane_under_reject_stores_exactly_the_ticks_acked() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.pipeline.full_policy = hypertick::config::FullPolicy::Reject;
    config.tables.ticks = Some(TableConfig {
        writers: Some(1),
        batch_max_rows: Some(100),
        linger_ms: Some(5),
        channel_capacity: std::num::NonZeroUsize::new(700),
        ..TableConfig::default()
    });
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    // The writer stalls on the lock, so the lane fills.
    let locker = support::sql(&cluster).await;
    locker.batch_execute("BEGIN; LOCK TABLE ticks IN ACCESS EXCLUSIVE MODE").await.unwrap();

    let mut accepted = std::collections::BTreeSet::new();
    let (mut frames, mut refused) = (0u64, 0usize);
    while refused == 0 && frames < 100 {
        let ticks: Vec<String> = (0..500).map(|i| tick_json("FULL", frames * 500 + i, 1.0)).collect();
        let ack = push(&mut socket, &array(&ticks)).await;
        let refusals = support::refused_indexes(&ack);
        for listed in ack["rejected"].as_array().unwrap() {
            assert!(listed["reason"].as_str().unwrap().starts_with("queue_full"), "{listed}");
        }
        assert_eq!(ack["accepted"].as_u64().unwrap() as usize + refusals.len(), 500, "{ack}");
        accepted.extend((0..500).filter(|index| !refusals.contains(index)).map(|index| frames * 500 + index as u64));
        refused += refusals.len();
        frames += 1;
    }
    assert!(refused > 0, "the lane never filled in {frames} frames");
    assert!(!accepted.is_empty());

    locker.batch_execute("COMMIT").await.unwrap();
    let client = support::sql(&cluster).await;
    let expected = accepted.len() as i64;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'FULL'", expected).await, expected);
    let stored: std::collections::BTreeSet<u64> = client
        .query("SELECT trade_id FROM ticks WHERE symbol = 'FULL'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0).parse().unwrap())
        .collect();
    assert_eq!(stored, accepted, "stored: exactly the ticks acked");
    daemon.stop().await.expect("clean stop");
}
