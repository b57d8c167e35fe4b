//! Item 1: one poison row (an index entry over PostgreSQL's btree limit, SQLSTATE 54000)
//! must not stall its writer. It is dead-lettered with the server's reason and every
//! later row is committed, on the relational writer and on a custom table's COPY writer.

use hypertick::app::load_config_str;
use hypertick::app::Daemon;

use crate::support::{self, connect, count, push, tick_json, wait_for_count};

/// 3,000 characters that do not compress, so the index entry stays over 2,704 bytes.
fn incompressible(length: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..length).map(|_| alphabet[fastrand::usize(..alphabet.len())] as char).collect()
}

fn order(client_order_id: &str) -> String {
    format!(
        r#"{{"type":"row","table":"orders","op":"insert","row":{{"client_order_id":"{client_order_id}","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100,"limit_price":"187.50"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_over_the_index_limit_is_dead_lettered_and_the_relational_writer_goes_on() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;

    assert_eq!(push(&mut socket, &order(&incompressible(3_000))).await["accepted"], 1);
    assert_eq!(push(&mut socket, &order("after-the-poison")).await["accepted"], 1);
    // The later order lands: the writer did not stall on the poison.
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders WHERE client_order_id = 'after-the-poison'", 1).await, 1);
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, 1, "the poison row is not stored");
    let letter: String = client
        .query_one("SELECT detail FROM dead_letters WHERE reason = 'rejected_by_database'", &[])
        .await
        .expect("exactly one dead letter for the poison row")
        .get(0);
    assert!(letter.contains("54000"), "the dead letter names the SQLSTATE: {letter}");
    assert!(letter.contains("index row size"), "and the server's reason: {letter}");

    // And it keeps going: more orders after it.
    for index in 0..5 {
        assert_eq!(push(&mut socket, &order(&format!("later-{index}"))).await["accepted"], 1);
    }
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders WHERE client_order_id LIKE 'later-%'", 5).await, 5);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

const NOTES: &str = r#"
[database]
url = "postgres://hypertick@127.0.0.1:5432/hypertick"

[[custom_tables]]
name = "notes"
time_column = "at"
indexes = [["label"]]
columns = [
  { name = "at",    type = "timestamptz", default = "now" },
  { name = "label", type = "text", nullable = false },
]
"#;

fn note(label: &str) -> String {
    format!(r#"{{"type":"row","table":"notes","op":"insert","row":{{"label":"{label}"}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_table_row_over_the_index_limit_is_dead_lettered_and_its_batch_commits() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.custom_tables = load_config_str(NOTES, Vec::new()).expect("the notes table is valid").custom_tables;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;

    // One frame: good rows around the poison, so they share its COPY batch.
    let mut frame: Vec<String> = (0..20).map(|index| note(&format!("before-{index}"))).collect();
    frame.push(note(&incompressible(3_000)));
    frame.extend((0..20).map(|index| note(&format!("after-{index}"))));
    frame.push(tick_json("POISON", 1, 1.0));
    assert_eq!(push(&mut socket, &support::array(&frame)).await["accepted"], 42);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM notes", 40).await, 40, "every row but the poison is stored");
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database' AND detail LIKE '%54000%'", 1)
            .await,
        1
    );
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'POISON'", 1).await, 1, "other tables are untouched");

    // Rows sent afterwards are committed within seconds.
    assert_eq!(push(&mut socket, &note("later")).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM notes WHERE label = 'later'", 1).await, 1);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
