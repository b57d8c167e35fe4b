//! Item 9: words PostgreSQL takes as values that are not data — `NaN` and `Infinity` for
//! numbers (`NaN` passes `quantity > 0`), `yesterday`, `epoch`, `infinity` for times —
//! are refused in the ack and dead-lettered, never stored on the relational side.

use hypertick::app::Daemon;

use crate::support::{self, connect, count, push, wait_for_count};

fn order(client_order_id: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"row","table":"orders","op":"insert","row":{{"client_order_id":"{client_order_id}","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100{extra}}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_numbers_and_times_are_refused_on_the_relational_side() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&support::config_for(&cluster)).await.expect("daemon starts");
    let mut socket = connect(daemon.push_addr.unwrap()).await;
    let client = support::sql(&cluster).await;

    let hostile = [
        order("nan", r#","limit_price":"NaN""#).replace(r#""quantity":100"#, r#""quantity":"NaN""#),
        order("inf", r#","limit_price":"Infinity""#),
        order("minus-inf", r#","limit_price":"-infinity""#),
        order("yesterday", r#","submitted_at":"yesterday""#),
        order("epoch", r#","submitted_at":"epoch""#),
        order("infinity-time", r#","closed_at":"infinity""#),
    ];
    let mut frame: Vec<String> = hostile.to_vec();
    frame.push(order("good", r#","limit_price":"187.50","submitted_at":"2026-12-02T08:00:00Z""#));
    let ack = push(&mut socket, &support::array(&frame)).await;
    assert_eq!(ack["accepted"], 1, "{ack}");
    let reasons: Vec<&str> = ack["rejected"].as_array().unwrap().iter().map(|rejection| rejection["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), hostile.len(), "{ack}");
    assert!(reasons[..3].iter().all(|reason| reason.starts_with("nan_or_infinite")), "{reasons:?}");
    assert!(reasons[3..].iter().all(|reason| reason.starts_with("invalid_field") && reason.contains("special value")), "{reasons:?}");

    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders WHERE client_order_id = 'good'", 1).await, 1);
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, 1, "no special value stored");
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason IN ('nan_or_infinite', 'invalid_field')", 6).await,
        6
    );
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
