//! Numbers and units end to end through a running daemon: a signal's payload reaches
//! jsonb digit for digit, a relational row's time column takes integer epoch
//! nanoseconds (and refuses a count that looks like seconds), option types are read in
//! any case, and implied volatilities are stored in percent whichever unit was declared.

use hypertick::app::Daemon;

use crate::support::{self, array, push, wait_for_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_digits_epoch_times_option_types_and_volatility_units_land_exactly() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&support::config_for(&cluster)).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let frame = array(&[
        // 0: digits a float would lose.
        r#"{"type":"signal","source":"agent","category":"model","time":"2026-11-22T12:00:00Z","payload":{"a":0.30000000000000004441,"b":123456789012345678901234567890}}"#.to_string(),
        // 1: an order whose created_at is epoch nanoseconds, beside an exact number.
        r#"{"type":"row","table":"orders","op":"insert","row":{"client_order_id":"epoch-ns","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"market","quantity":12345678901234.123456789,"created_at":1795348800123456789}}"#.to_string(),
        // 2: epoch seconds where nanoseconds are expected.
        r#"{"type":"row","table":"orders","op":"insert","row":{"client_order_id":"epoch-s","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"market","quantity":1,"created_at":1795348800}}"#.to_string(),
        // 3: an upper-case option type and volatilities declared as fractions.
        r#"{"type":"option_quote","venue":"test","symbol":"ACME-PUT-1","underlying":"ACME","option_type":"PUT","strike":10,"expiration":"2026-12-18","time":"2026-11-22T12:00:01Z","iv_unit":"fraction","iv":0.2612,"bid_iv":"0.3675503331","ask_iv":1.1669998535}"#.to_string(),
        // 4: an OCC letter and volatilities in percent (the default).
        r#"{"type":"option_quote","venue":"test","symbol":"ACME-CALL-1","underlying":"ACME","option_type":"c","strike":10,"expiration":"2026-12-18","time":"2026-11-22T12:00:02Z","iv":55.5}"#.to_string(),
        // 5: a fraction sent as percent.
        r#"{"type":"option_quote","venue":"test","symbol":"ACME-CALL-2","underlying":"ACME","option_type":"Call","strike":10,"expiration":"2026-12-18","time":"2026-11-22T12:00:03Z","iv":0.2612}"#.to_string(),
    ]);
    let ack = push(&mut socket, &frame).await;
    assert_eq!(ack["accepted"], 4, "{ack}");
    let rejected = ack["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{ack}");
    assert_eq!(rejected[0]["index"], 2);
    assert_eq!(
        rejected[0]["reason"],
        "time_out_of_range: `created_at`: 1795348800 as epoch nanoseconds is 1970-01-01T00:00:01.795348Z; send nanoseconds (this looks like seconds, milliseconds or microseconds)"
    );
    assert_eq!(rejected[1]["index"], 5);
    assert_eq!(
        rejected[1]["reason"],
        "invalid_field: `iv`: 0.2612 looks like a fraction; implied volatilities are in percent (55.5 is 55.5 %): send 26.12 or set \"iv_unit\": \"fraction\""
    );

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM signals", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM orders", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM options_quotes", 2).await, 2);

    let payload = client.query_one("SELECT payload::text FROM signals", &[]).await.unwrap();
    assert_eq!(payload.get::<_, String>(0), r#"{"a": 0.30000000000000004441, "b": 123456789012345678901234567890}"#);

    let order = client
        .query_one("SELECT client_order_id, quantity::text, created_at = '2026-11-22T12:00:00.123456Z' FROM orders", &[])
        .await
        .unwrap();
    assert_eq!(order.get::<_, String>(0), "epoch-ns");
    assert_eq!(order.get::<_, String>(1), "12345678901234.123456789");
    assert!(order.get::<_, bool>(2), "epoch nanoseconds kept to the microsecond");

    let quotes = client.query("SELECT symbol, option_type, iv, bid_iv, ask_iv FROM options_quotes ORDER BY time", &[]).await.unwrap();
    type Volatilities = (Option<f64>, Option<f64>, Option<f64>);
    let read: Vec<(String, String, Volatilities)> =
        quotes.iter().map(|row| (row.get(0), row.get(1), (row.get(2), row.get(3), row.get(4)))).collect();
    assert_eq!(
        read,
        [
            ("ACME-PUT-1".to_string(), "put".to_string(), (Some(26.12), Some(36.75503331), Some(116.69998535))),
            ("ACME-CALL-1".to_string(), "call".to_string(), (Some(55.5), None, None)),
        ]
    );
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
