//! Push `row` records through the relational writer into a real PostgreSQL: rows land
//! in foreign-key order whatever order they arrive in, upserts update by primary key,
//! money keeps every digit, a row that breaks a constraint is dead-lettered with the
//! database's message while the rest of its batch commits, and rows for unknown tables
//! or columns are refused in the ack.

use hypertick::app::Daemon;

use crate::support::{self, array, count, push, wait_for_count};

const ORDER_ID: &str = "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2c";
const SESSION_ID: &str = "5a1d2c3b-0000-4000-8000-00000000a001";

fn row(table: &str, op: &str, row: &str) -> String {
    format!(r#"{{"type":"row","table":"{table}","op":"{op}","row":{row}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_land_in_foreign_key_order_and_refused_rows_are_dead_lettered() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.relational.wait_ms = 1_000;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    // Children before parents, an upsert that moves the order on, a fill for an order
    // that does not exist, an order breaking a CHECK, and exact money.
    let frame = array(&[
        row(
            "trades",
            "insert",
            &format!(
                r#"{{"order_id":"{ORDER_ID}","venue":"alpaca","symbol":"AAPL","side":"buy","quantity":"60","price":"187.123456789","venue_trade_id":"t-1","executed_at":"2026-11-22T14:30:01.5Z","liquidity":"taker"}}"#
            ),
        ),
        row(
            "agent_deliberations",
            "upsert",
            &format!(
                r#"{{"id":"5a1d2c3b-0000-4000-8000-00000000d001","session_id":"{SESSION_ID}","agent_type":"analyst","cycle_number":1,"deliberation_step":1,"input_context":{{"bars":50}},"reasoning":"trend up","confidence_score":0.85}}"#
            ),
        ),
        row(
            "orders",
            "upsert",
            &format!(
                r#"{{"id":"{ORDER_ID}","client_order_id":"c-1","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100,"limit_price":"187.50","status":"new"}}"#
            ),
        ),
        row("agent_sessions", "upsert", &format!(r#"{{"id":"{SESSION_ID}","session_name":"morning scan"}}"#)),
        row(
            "orders",
            "upsert",
            &format!(
                r#"{{"id":"{ORDER_ID}","client_order_id":"c-1","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100,"limit_price":"187.50","status":"partially_filled","filled_quantity":60}}"#
            ),
        ),
        row(
            "trades",
            "insert",
            r#"{"order_id":"00000000-0000-4000-8000-000000000bad","venue":"alpaca","symbol":"AAPL","side":"buy","quantity":1,"price":1,"executed_at":"2026-11-22T14:30:02Z"}"#,
        ),
        row(
            "orders",
            "insert",
            r#"{"client_order_id":"c-2","venue":"alpaca","symbol":"MSFT","side":"sell","order_type":"market","quantity":-5}"#,
        ),
        row(
            "positions",
            "upsert",
            r#"{"portfolio":"main","venue":"alpaca","symbol":"AAPL","quantity":"12345678901234.123456789","average_price":0.123456789012345678901}"#,
        ),
    ]);
    let ack = push(&mut socket, &frame).await;
    assert_eq!(ack["accepted"], 8, "{ack}");

    // Refused at once: unknown table, unknown column, an upsert without its key.
    let refused = array(&[
        row("ingest_offsets", "insert", r#"{"stream":"x","position":1}"#),
        row("orders", "insert", r#"{"client_order_id":"c-3","colour":"red"}"#),
        row("positions", "upsert", r#"{"venue":"alpaca","symbol":"AAPL","quantity":1}"#),
    ]);
    let ack = push(&mut socket, &refused).await;
    assert_eq!(ack["accepted"], 0, "{ack}");
    let reasons: Vec<&str> = ack["rejected"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].starts_with("unknown_table: `ingest_offsets`"), "{reasons:?}");
    assert!(reasons[1].starts_with("unknown_column: `colour`"), "{reasons:?}");
    assert!(reasons[2].starts_with("missing_field") && reasons[2].contains("portfolio"), "{reasons:?}");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database'", 1).await, 1);
    // The fill for an order that never comes waits `wait_ms`, then is dead-lettered.
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_parent'", 1).await, 1);
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 0, "nothing waits any more");
    assert_eq!(count(&client, "SELECT count(*) FROM trades").await, 1, "the good fill landed after its order");
    let order = client
        .query_one(
            "SELECT status, filled_quantity::text, limit_price::text, quantity::text FROM orders WHERE id = $1::text::uuid",
            &[&ORDER_ID],
        )
        .await
        .unwrap();
    assert_eq!(
        (order.get::<_, String>(0), order.get::<_, String>(1), order.get::<_, String>(2), order.get::<_, String>(3)),
        ("partially_filled".into(), "60".into(), "187.50".into(), "100".into()),
        "the later upsert wins"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, 1, "the order breaking a CHECK was refused");
    let fill: String = client.query_one("SELECT price::text FROM trades", &[]).await.unwrap().get(0);
    assert_eq!(fill, "187.123456789");
    let position = client.query_one("SELECT quantity::text, average_price::text FROM positions", &[]).await.unwrap();
    assert_eq!(
        (position.get::<_, String>(0), position.get::<_, String>(1)),
        ("12345678901234.123456789".into(), "0.123456789012345678901".into()),
        "a decimal string and a JSON number both keep every digit"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM session_timeline").await, 1, "the deliberation landed after its session");

    let letters = client
        .query(
            "SELECT source, detail, raw FROM dead_letters WHERE reason IN ('rejected_by_database', 'missing_parent') ORDER BY detail",
            &[],
        )
        .await
        .unwrap();
    let details: Vec<String> = letters.iter().map(|letter| letter.get(1)).collect();
    assert!(
        details.iter().any(|detail| detail.contains("insert into `orders`") && detail.contains("orders_quantity_positive")),
        "{details:?}"
    );
    assert!(details.iter().any(|detail| detail.contains("insert into `trades`") && detail.contains("trades_order_fkey")), "{details:?}");
    for letter in &letters {
        assert_eq!(letter.get::<_, String>(0), "relational");
        let raw: serde_json::Value = serde_json::from_str(&letter.get::<_, String>(2)).expect("the raw row is JSON");
        assert_eq!(raw["type"], "row");
    }

    // A resent upsert changes nothing; a second frame updates the position.
    let again = row("positions", "upsert", r#"{"portfolio":"main","venue":"alpaca","symbol":"AAPL","quantity":"0"}"#);
    assert_eq!(push(&mut socket, &again).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM positions WHERE quantity = 0", 1).await, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM positions WHERE average_price::text = '0.123456789012345678901'").await,
        1,
        "columns not sent are kept"
    );

    let metrics = daemon.metrics_addr.unwrap();
    assert!(support::metric(metrics, "hypertick_rows_written_total", "table=\"relational\"").await >= 7.0);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
