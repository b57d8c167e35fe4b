//! The lifecycle of the trading and agent systems' rows: status changes by `update`
//! and by partial `upsert` (NOT NULL columns left out are kept), rows that arrive
//! before what they need (a fill a second before its order, a deliberation before its
//! session, an update before its row) waiting and then landing, self-references in one
//! frame whatever their column sets, rows that wait in vain dead-lettered naming what
//! is missing, and waiting rows surviving a restart — each written exactly once.

use std::time::Duration;

use hypertick::app::Daemon;

use crate::support::{self, array, count, push, wait_for_count};

const ORDER: &str = "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2c";
const SESSION: &str = "5a1d2c3b-0000-4000-8000-00000000a001";

fn row(table: &str, op: &str, row: &str) -> String {
    format!(r#"{{"type":"row","table":"{table}","op":"{op}","row":{row}}}"#)
}

fn order(id: &str, client_order_id: &str) -> String {
    row(
        "orders",
        "insert",
        &format!(
            r#"{{"id":"{id}","client_order_id":"{client_order_id}","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100,"limit_price":"187.50"}}"#
        ),
    )
}

fn fill(order: &str, trade: &str) -> String {
    row(
        "trades",
        "insert",
        &format!(
            r#"{{"order_id":"{order}","venue":"alpaca","symbol":"AAPL","side":"buy","quantity":"40","price":"187.25","venue_trade_id":"{trade}","executed_at":"2026-11-22T14:30:01Z"}}"#
        ),
    )
}

/// The dead letters and the waiting rows, for a failed assertion's message.
async fn letters_and_waiting(client: &tokio_postgres::Client) -> String {
    let letters = client.query("SELECT reason || ': ' || detail FROM dead_letters", &[]).await.unwrap();
    let waiting = client.query("SELECT reason || ': ' || detail FROM relational_waiting", &[]).await.unwrap();
    let texts = |rows: &[tokio_postgres::Row]| rows.iter().map(|row| row.get::<_, String>(0)).collect::<Vec<_>>();
    format!("dead letters {:?}; waiting {:?}", texts(&letters), texts(&waiting))
}

async fn text(client: &tokio_postgres::Client, query: &str) -> String {
    client.query_one(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error}")).get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_sessions_move_through_their_lifecycle_by_update_and_partial_upsert() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&support::config_for(&cluster)).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;

    let opened =
        array(&[order(ORDER, "c-1"), row("agent_sessions", "insert", &format!(r#"{{"id":"{SESSION}","session_name":"morning scan"}}"#))]);
    assert_eq!(push(&mut socket, &opened).await["accepted"], 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders WHERE status = 'new'", 1).await, 1);

    // A partial upsert (no client_order_id, venue, … — all NOT NULL) of an existing row
    // changes what it sends and keeps the rest.
    let partial = row("orders", "upsert", &format!(r#"{{"id":"{ORDER}","status":"partially_filled","filled_quantity":"40"}}"#));
    assert_eq!(push(&mut socket, &partial).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders WHERE status = 'partially_filled'", 1).await, 1);

    // Updates: only the columns sent, by primary key.
    let updates = array(&[
        row("orders", "update", &format!(r#"{{"id":"{ORDER}","status":"canceled","closed_at":"2026-11-22T15:00:00Z"}}"#)),
        row("agent_sessions", "update", &format!(r#"{{"id":"{SESSION}","status":"completed","ended_at":"2099-01-01T00:00:00Z"}}"#)),
    ]);
    assert_eq!(push(&mut socket, &updates).await["accepted"], 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders WHERE status = 'canceled'", 1).await, 1);
    assert_eq!(
        text(
            &client,
            "SELECT concat_ws('|', client_order_id, quantity, limit_price, filled_quantity, closed_at AT TIME ZONE 'UTC') FROM orders"
        )
        .await,
        "c-1|100|187.50|40|2026-11-22 15:00:00"
    );
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM agent_sessions WHERE status = 'completed'", 1).await, 1);
    assert_eq!(text(&client, "SELECT session_name FROM agent_sessions").await, "morning scan");

    // Refused in the ack: an update without its key, or with nothing but its key.
    let refused = array(&[row("orders", "update", r#"{"status":"filled"}"#), row("orders", "update", &format!(r#"{{"id":"{ORDER}"}}"#))]);
    let ack = push(&mut socket, &refused).await;
    assert_eq!(ack["accepted"], 0, "{ack}");
    let reasons: Vec<&str> = ack["rejected"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("missing_field: an update into orders needs its primary key: id missing"), "{reasons:?}");
    assert!(reasons[1].starts_with("invalid_field") && reasons[1].contains("nothing to update"), "{reasons:?}");
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters WHERE source = 'relational'").await, 0);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_sent_before_what_they_need_wait_for_it_and_land_once() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.relational.wait_ms = 3_000;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;

    // A fill and a deliberation one second before their order and session, and an
    // update of an order not sent yet.
    let deliberation = "5a1d2c3b-0000-4000-8000-00000000d001";
    let early = array(&[
        fill(ORDER, "t-1"),
        row(
            "agent_deliberations",
            "insert",
            &format!(
                r#"{{"id":"{deliberation}","session_id":"{SESSION}","agent_type":"analyst","cycle_number":1,"deliberation_step":1,"input_context":{{}},"reasoning":"trend up"}}"#
            ),
        ),
        row("orders", "update", &format!(r#"{{"id":"{ORDER}","status":"partially_filled","filled_quantity":"40"}}"#)),
    ]);
    assert_eq!(push(&mut socket, &early).await["accepted"], 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM relational_waiting", 3).await, 3, "all three wait");
    assert_eq!(count(&client, "SELECT count(*) FROM trades").await, 0);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let parents =
        array(&[order(ORDER, "c-1"), row("agent_sessions", "insert", &format!(r#"{{"id":"{SESSION}","session_name":"morning scan"}}"#))]);
    assert_eq!(push(&mut socket, &parents).await["accepted"], 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM trades", 1).await, 1, "the fill landed after its order");
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM relational_waiting", 0).await, 0);
    assert_eq!(count(&client, "SELECT count(*) FROM agent_deliberations").await, 1);
    assert_eq!(
        text(&client, "SELECT status || '|' || filled_quantity FROM orders").await,
        "partially_filled|40",
        "the early update applied"
    );

    // Self-references in one frame, child first, with different column sets; a
    // deliberation whose parent never comes waits 3 s and is dead-lettered naming it.
    let parent = "5a1d2c3b-0000-4000-8000-00000000d002";
    let child = "5a1d2c3b-0000-4000-8000-00000000d003";
    let orphan = "5a1d2c3b-0000-4000-8000-00000000d004";
    let nested = array(&[
        row(
            "agent_deliberations",
            "insert",
            &format!(
                r#"{{"id":"{child}","session_id":"{SESSION}","parent_deliberation_id":"{parent}","agent_type":"risk","cycle_number":1,"deliberation_step":2,"input_context":{{}},"reasoning":"size ok","decision":{{"approve":true}},"confidence_score":0.9}}"#
            ),
        ),
        row(
            "agent_deliberations",
            "insert",
            &format!(
                r#"{{"id":"{parent}","session_id":"{SESSION}","agent_type":"analyst","cycle_number":1,"deliberation_step":1,"input_context":{{}},"reasoning":"breakout"}}"#
            ),
        ),
        row(
            "agent_deliberations",
            "insert",
            &format!(
                r#"{{"id":"{orphan}","session_id":"{SESSION}","parent_deliberation_id":"5a1d2c3b-0000-4000-8000-00000000dfff","agent_type":"risk","cycle_number":2,"deliberation_step":2,"input_context":{{}},"reasoning":"lost"}}"#
            ),
        ),
    ]);
    assert_eq!(push(&mut socket, &nested).await["accepted"], 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM agent_deliberations", 3).await, 3);
    assert_eq!(
        count(&client, &format!("SELECT count(*) FROM agent_deliberations WHERE id = '{child}' AND parent_deliberation_id = '{parent}'"))
            .await,
        1
    );
    let found = wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_parent'", 1).await;
    assert_eq!(found, 1, "{}", letters_and_waiting(&client).await);
    let detail = text(&client, "SELECT detail FROM dead_letters WHERE reason = 'missing_parent'").await;
    assert!(
        detail.contains("agent_deliberations_parent_deliberation_id_fkey") && detail.contains("5a1d2c3b-0000-4000-8000-00000000dfff"),
        "{detail}"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 0);

    // An update whose row never comes: `missing_row`.
    let never = row("orders", "update", r#"{"id":"00000000-0000-4000-8000-00000000beef","status":"canceled"}"#);
    assert_eq!(push(&mut socket, &never).await["accepted"], 1);
    let found = wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_row'", 1).await;
    assert_eq!(found, 1, "{}", letters_and_waiting(&client).await);
    let detail = text(&client, "SELECT detail FROM dead_letters WHERE reason = 'missing_row'").await;
    assert!(detail.starts_with("update into `orders`: no row with id = \"00000000-0000-4000-8000-00000000beef\" yet"), "{detail}");
    assert_eq!(count(&client, "SELECT count(*) FROM trades").await, 1, "nothing written twice");
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, 1);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_rows_survive_a_restart() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.relational.wait_ms = 60_000;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;
    assert_eq!(push(&mut socket, &fill(ORDER, "t-1")).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM relational_waiting", 1).await, 1);
    drop(socket);
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 1, "still waiting after the stop");

    let daemon = Daemon::start(&config).await.expect("daemon starts again");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    assert_eq!(push(&mut socket, &order(ORDER, "c-1")).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM trades", 1).await, 1, "the fill from before the restart landed");
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 0);
    // Parents written by someone else (plain SQL) release their children too.
    let second = "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2d";
    assert_eq!(push(&mut socket, &fill(second, "t-2")).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM relational_waiting", 1).await, 1);
    client
        .execute(
            &format!(
                "INSERT INTO orders (id, client_order_id, venue, symbol, side, order_type, quantity) VALUES ('{second}', 'c-2', 'alpaca', 'AAPL', 'buy', 'market', 40)"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM trades", 2).await, 2);
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters").await, 0);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_set_is_bounded_and_drops_the_longest_waiting_first() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.relational.wait_ms = 60_000;
    config.relational.wait_max_rows = std::num::NonZeroUsize::new(2).unwrap();
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;
    let orders = ["0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a0001", "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a0002", "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a0003"];
    for (index, order) in orders.iter().enumerate() {
        assert_eq!(push(&mut socket, &fill(order, &format!("t-{index}"))).await["accepted"], 1);
        assert_eq!(
            wait_for_count(&client, "SELECT count(*) FROM relational_waiting", (index + 1).min(2) as i64).await,
            (index + 1).min(2) as i64
        );
    }
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_parent'", 1).await, 1);
    let detail = text(&client, "SELECT detail FROM dead_letters").await;
    assert!(detail.contains(orders[0]) && detail.contains("dropped from the waiting set, full at 2 rows"), "{detail}");
    let waiting = client.query("SELECT row_json FROM relational_waiting ORDER BY id", &[]).await.unwrap();
    let waiting: Vec<String> = waiting.iter().map(|row| row.get(0)).collect();
    assert!(waiting[0].contains(orders[1]) && waiting[1].contains(orders[2]), "{waiting:?}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
