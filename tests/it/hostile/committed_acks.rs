//! Item 11: with `ack = "committed"`, an ack tells the truth: a row the database refuses
//! (CHECK, foreign key, NOT NULL, a value of the wrong type, a unique index) is listed in
//! that frame's `rejected` with its index and the database's reason, not counted as
//! accepted.

use hypertick::app::Daemon;
use hypertick::config::{AckLevel, SpoolConfig};

use crate::support::{self, connect, count, push, tick_json};

fn order(client_order_id: &str, fields: &str) -> String {
    format!(
        r#"{{"type":"row","table":"orders","op":"insert","row":{{"client_order_id":"{client_order_id}","symbol":"AAPL","order_type":"market"{fields}}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_ack_lists_the_rows_the_database_refused() {
    let cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&cluster);
    config.spool = Some(SpoolConfig::in_dir(spool_dir.path().to_path_buf()));
    config.server.as_mut().unwrap().ack = AckLevel::Committed;
    // A fill whose order is missing is refused at once, not waited for.
    config.relational.wait_ms = 0;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    client
        .batch_execute("CREATE UNIQUE INDEX ticks_trade_unique ON ticks (venue, symbol, trade_id, time)")
        .await
        .expect("a unique index on ticks");
    let mut socket = connect(daemon.push_addr.unwrap()).await;

    let good = r#","venue":"alpaca","side":"buy","quantity":10"#;
    let frame = [
        order("good-1", good),
        order("check-quantity", r#","venue":"alpaca","side":"buy","quantity":-5"#),
        order("good-2", good),
        order("check-side", r#","venue":"alpaca","side":"hold","quantity":1"#),
        order("not-null-venue", r#","side":"buy","quantity":1"#),
        order("bad-number", r#","venue":"alpaca","side":"buy","quantity":"ten""#),
        r#"{"type":"row","table":"trades","op":"insert","row":{"order_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","venue":"alpaca","symbol":"AAPL","side":"buy","quantity":1,"price":"1.00","executed_at":"2026-12-02T08:00:00Z"}}"#.to_string(),
        order("good-3", good),
        order("bad-uuid", r#","venue":"alpaca","side":"buy","quantity":1,"id":"not-a-uuid""#),
    ];
    let ack = push(&mut socket, &support::array(&frame)).await;
    assert_eq!(ack["accepted"], 3, "{ack}");
    let mut rejected: Vec<(u64, String)> = ack["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rejection| (rejection["index"].as_u64().unwrap(), rejection["reason"].as_str().unwrap().to_string()))
        .collect();
    rejected.sort();
    let indices: Vec<u64> = rejected.iter().map(|(index, _)| *index).collect();
    assert_eq!(indices, [1, 3, 4, 5, 6, 8], "{ack}");
    assert!(rejected.iter().all(|(_, reason)| reason.starts_with("rejected_by_database")), "{rejected:?}");
    assert!(rejected[0].1.contains("orders_quantity_positive"), "{rejected:?}");
    assert!(rejected[1].1.contains("orders_side_valid"), "{rejected:?}");
    assert!(rejected[2].1.contains("23502"), "not null: {rejected:?}");
    assert!(rejected[3].1.contains("22P02"), "a bad number: {rejected:?}");
    assert!(rejected[4].1.contains("23503") && rejected[4].1.contains("not waited for"), "a missing parent: {rejected:?}");
    // What the ack says is what the database holds.
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, 3);
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database'").await, 5);
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_parent'").await, 1);

    // The COPY writers too: a tick that repeats a stored key.
    let tick = tick_json("UNIQ", 1, 1.0);
    assert_eq!(push(&mut socket, &tick).await["accepted"], 1);
    let again = push(&mut socket, &support::array(&[tick.clone(), tick_json("UNIQ", 2, 2.0)])).await;
    assert_eq!(again["accepted"], 1, "{again}");
    assert_eq!(again["rejected"][0]["index"], 0, "{again}");
    assert!(again["rejected"][0]["reason"].as_str().unwrap().contains("23505"), "{again}");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'UNIQ'").await, 2);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
