//! The push protocol against a running daemon: rows land exactly, every rejection
//! reason is acked and dead-lettered, the token guards the upgrade, oversized and
//! binary frames are refused without ending the connection, and `/metrics` moves.

use futures_util::SinkExt;
use hypertick::app::Daemon;
use hypertick::config::Secret;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, array, count, push, tick_json, wait_for_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_land_exactly_with_the_values_sent() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&support::config_for(&cluster)).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let ticks: Vec<String> = (0..500).map(|i| tick_json("EXACT", i, 100.0 + i as f64 / 8.0)).collect();
    let ack = push(&mut socket, &array(&ticks)).await;
    assert_eq!(ack["accepted"], 500, "{ack}");
    assert_eq!(ack["rejected"].as_array().unwrap().len(), 0);

    let quote = r#"{"type":"quote","venue":"test","symbol":"EXACT","time":"2026-11-22T12:00:00.000001Z","bid_price":"99.5","bid_size":3,"ask_price":100.25,"ask_size":"4.5"}"#;
    let bar = r#"{"type":"bar","venue":"test","symbol":"EXACT","time":1795348800000000000,"interval":"1m","open":1,"high":3,"low":0.5,"close":2,"volume":10,"trades":12}"#;
    assert_eq!(push(&mut socket, quote).await["accepted"], 1);
    assert_eq!(push(&mut socket, bar).await["accepted"], 1);

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'EXACT'", 500).await, 500);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM bars", 1).await, 1);

    let rows = client
        .query("SELECT trade_id, price, size, side, venue FROM ticks WHERE symbol = 'EXACT' ORDER BY trade_id::int", &[])
        .await
        .unwrap();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.get::<_, String>(0), i.to_string());
        assert_eq!(row.get::<_, f64>(1), 100.0 + i as f64 / 8.0);
        assert_eq!(row.get::<_, f64>(2), 1.5);
        assert_eq!(row.get::<_, i16>(3), 1);
        assert_eq!(row.get::<_, String>(4), "test");
    }
    let quote_row = client
        .query_one("SELECT bid_price, bid_size, ask_price, ask_size, time = '2026-11-22T12:00:00.000001Z' FROM quotes", &[])
        .await
        .unwrap();
    assert_eq!((quote_row.get::<_, f64>(0), quote_row.get::<_, f64>(1)), (99.5, 3.0));
    assert_eq!((quote_row.get::<_, f64>(2), quote_row.get::<_, f64>(3)), (100.25, 4.5));
    assert!(quote_row.get::<_, bool>(4), "time kept to the microsecond");
    let bar_row = client.query_one("SELECT \"interval\", close, vwap, trades, time = '2026-11-22T12:00:00Z' FROM bars", &[]).await.unwrap();
    assert_eq!(bar_row.get::<_, String>(0), "1m");
    assert_eq!(bar_row.get::<_, f64>(1), 2.0);
    assert_eq!(bar_row.get::<_, Option<f64>>(2), None);
    assert_eq!(bar_row.get::<_, Option<i64>>(3), Some(12));
    assert!(bar_row.get::<_, bool>(4), "epoch nanoseconds decoded");

    // Ticks, quotes and bars of one instrument make one `instruments` row.
    assert_eq!(count(&client, "SELECT count(*) FROM instruments WHERE venue = 'test' AND symbol = 'EXACT'").await, 1);

    let metrics = daemon.metrics_addr.unwrap();
    assert!(support::metric(metrics, "hypertick_rows_written_total", "table=\"ticks\"").await >= 500.0);
    assert!(support::metric(metrics, "hypertick_batches_total", "table=\"ticks\"").await >= 1.0);
    assert!(support::metric(metrics, "hypertick_ingest_latency_seconds_count", "table=\"ticks\"").await >= 1.0);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickers_option_quotes_indicators_and_signals_land_exactly() {
    let cluster = support::start_cluster();
    let daemon = Daemon::start(&support::config_for(&cluster)).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let frame = array(&[
        r#"{"type":"ticker","venue":"binance","symbol":"BTC-USDT","time":"2026-11-22T12:00:00.25Z","last":"97000.5","open_24h":95000,"high_24h":98000,"low_24h":"94000.125","volume_24h":1234.5,"change":2000.5,"change_pct":2.1058}"#.to_string(),
        r#"{"type":"option_quote","venue":"deribit","symbol":"BTC-27DEC26-100000-C","underlying":"BTC","option_type":"call","strike":100000,"expiration":"2026-12-27","time":"2026-11-22T12:00:01Z","bid":0.0415,"ask":"0.0425","mark":0.042,"open_interest":512.5,"delta":0.4213,"gamma":0.00002,"theta":-85.5,"vega":120.25,"iv":55.5,"bid_iv":54.9,"ask_iv":56.1,"underlying_price":97010}"#.to_string(),
        r#"{"type":"indicator","venue":"binance","symbol":"BTC-USDT","time":"2026-11-22T12:00:00Z","interval":"1h","name":"atr_14","value":"812.75"}"#.to_string(),
        r#"{"type":"signal","source":"momentum-agent","time":"2026-11-22T12:00:02Z","category":"technical","symbol":"BTC-USDT","direction":"long","strength":0.8,"confidence":"0.65","impact":"high","content":"breakout above the 50-bar high","payload":{"lookback":50,"levels":[98000,99000]}}"#.to_string(),
        r#"{"type":"signal","source":"news","time":"2026-11-22T12:00:03Z","category":"macro"}"#.to_string(),
    ]);
    let ack = push(&mut socket, &frame).await;
    assert_eq!(ack["accepted"], 5, "{ack}");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM tickers", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM options_quotes", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM indicator_values", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM signals", 2).await, 2);

    let ticker = client
        .query_one(
            "SELECT time = '2026-11-22T12:00:00.25Z', last, open_24h, high_24h, low_24h, volume_24h, quote_volume_24h, change, change_pct FROM tickers",
            &[],
        )
        .await
        .unwrap();
    assert!(ticker.get::<_, bool>(0));
    let values: Vec<Option<f64>> = (1..9).map(|index| ticker.get(index)).collect();
    assert_eq!(values, [Some(97000.5), Some(95000.0), Some(98000.0), Some(94000.125), Some(1234.5), None, Some(2000.5), Some(2.1058)]);

    let option = client
        .query_one(
            "SELECT symbol, underlying, option_type, strike, expiration::text, bid, ask, last, mark, volume, open_interest,
                    delta, gamma, theta, vega, rho, iv, bid_iv, ask_iv, underlying_price FROM options_quotes",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            option.get::<_, String>(0),
            option.get::<_, String>(1),
            option.get::<_, String>(2),
            option.get::<_, f64>(3),
            option.get::<_, String>(4)
        ),
        ("BTC-27DEC26-100000-C".to_string(), "BTC".to_string(), "call".to_string(), 100000.0, "2026-12-27".to_string())
    );
    let values: Vec<Option<f64>> = (5..20).map(|index| option.get(index)).collect();
    assert_eq!(
        values,
        [
            Some(0.0415),
            Some(0.0425),
            None,
            Some(0.042),
            None,
            Some(512.5),
            Some(0.4213),
            Some(0.00002),
            Some(-85.5),
            Some(120.25),
            None,
            Some(55.5),
            Some(54.9),
            Some(56.1),
            Some(97010.0)
        ]
    );

    let indicator = client.query_one("SELECT venue, symbol, \"interval\", name, value FROM indicator_values", &[]).await.unwrap();
    assert_eq!(
        (indicator.get::<_, Option<String>>(0), indicator.get::<_, String>(2), indicator.get::<_, String>(3), indicator.get::<_, f64>(4)),
        (Some("binance".to_string()), "1h".to_string(), "atr_14".to_string(), 812.75)
    );

    let signals = client
        .query("SELECT source, category, symbol, direction, strength, confidence, impact, content, payload FROM signals ORDER BY time", &[])
        .await
        .unwrap();
    let full = &signals[0];
    assert_eq!((full.get::<_, String>(0), full.get::<_, String>(1)), ("momentum-agent".to_string(), "technical".to_string()));
    assert_eq!((full.get::<_, Option<String>>(2), full.get::<_, Option<String>>(3)), (Some("BTC-USDT".into()), Some("long".into())));
    assert_eq!((full.get::<_, Option<f64>>(4), full.get::<_, Option<f64>>(5)), (Some(0.8), Some(0.65)));
    assert_eq!(full.get::<_, Option<String>>(6).as_deref(), Some("high"));
    assert_eq!(full.get::<_, Option<String>>(7).as_deref(), Some("breakout above the 50-bar high"));
    assert_eq!(full.get::<_, Option<serde_json::Value>>(8), Some(serde_json::json!({"lookback": 50, "levels": [98000, 99000]})));
    let bare = &signals[1];
    assert_eq!((bare.get::<_, Option<String>>(2), bare.get::<_, Option<serde_json::Value>>(8)), (None, None));

    // The option contract and the ticker's pair are instruments of their venues.
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM instruments WHERE (venue, symbol) IN (('deribit', 'BTC-27DEC26-100000-C'), ('binance', 'BTC-USDT'))"
        )
        .await,
        2
    );
    let contract = client
        .query_one(
            "SELECT asset_class, underlying, expiration::text, strike, option_type FROM instruments WHERE symbol = 'BTC-27DEC26-100000-C'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            contract.get::<_, String>(0),
            contract.get::<_, String>(1),
            contract.get::<_, String>(2),
            contract.get::<_, f64>(3),
            contract.get::<_, String>(4)
        ),
        ("option".to_string(), "BTC".to_string(), "2026-12-27".to_string(), 100000.0, "call".to_string())
    );
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_is_acked_and_dead_lettered() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.server.as_mut().unwrap().max_frame_bytes = 16 * 1024;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let metrics = daemon.metrics_addr.unwrap();
    let dead_before = support::metric(metrics, "hypertick_dead_letters_total", "").await;
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let old = hypertick::record::Timestamp::now().saturating_sub_micros(800 * 86_400 * 1_000_000);
    let future = hypertick::record::Timestamp::now().saturating_add_micros(3 * 86_400 * 1_000_000);
    let elements = vec![
        tick_json("GOOD", 1, 10.0),
        r#"{"type":"tick","venue":"test","symbol":"BAD","time":"2026-11-22T12:00:00Z","size":1}"#.to_string(),
        r#"{"type":"nope"}"#.to_string(),
        r#"{"type":"row","table":"orders"}"#.to_string(),
        r#""a string""#.to_string(),
        r#"{"type":"tick","venue":"test","symbol":"BAD","time":"2026-11-22T12:00:00Z","price":"NaN","size":1}"#.to_string(),
        format!(r#"{{"type":"tick","venue":"test","symbol":"BAD","time":"{old}","price":1,"size":1}}"#),
        format!(r#"{{"type":"tick","venue":"test","symbol":"BAD","time":"{future}","price":1,"size":1}}"#),
        r#"{"type":"tick","venue":"test","symbol":"BAD","time":"2026-11-22T12:00:00Z","price":1,"size":1,"colour":"red"}"#.to_string(),
        tick_json("GOOD", 2, 11.0),
    ];
    let ack = push(&mut socket, &array(&elements)).await;
    assert_eq!(ack["accepted"], 2, "{ack}");
    let rejected = ack["rejected"].as_array().unwrap();
    let expected = [
        (1, "missing_field"),
        (2, "unknown_type"),
        (3, "missing_field"),
        (4, "not_an_object"),
        (5, "nan_or_infinite"),
        (6, "older_than_retention"),
        (7, "time_out_of_range"),
        (8, "unknown_field"),
    ];
    assert_eq!(rejected.len(), expected.len(), "{ack}");
    for ((index, code), rejection) in expected.iter().zip(rejected) {
        assert_eq!(rejection["index"], *index, "{rejection}");
        let reason = rejection["reason"].as_str().unwrap();
        assert!(reason.starts_with(code), "index {index}: {reason}");
    }

    // Frame-level problems: malformed JSON, an empty frame, a binary frame.
    let ack = push(&mut socket, "{\"type\": \"tick\", oops").await;
    assert_eq!(ack["accepted"], 0);
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().starts_with("invalid_json"), "{ack}");
    let ack = push(&mut socket, "[{\"type\":\"tick\"},").await;
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().starts_with("invalid_json"), "{ack}");
    let ack = push(&mut socket, "   ").await;
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().starts_with("empty_frame"), "{ack}");
    socket.send(Message::binary(b"[1,2,3]".to_vec())).await.unwrap();
    let ack = support::read_ack(&mut socket).await;
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().starts_with("binary_frame"), "{ack}");

    // Oversized (over max_frame_bytes = 16 KiB) but under the websocket layer's hard
    // limit (4×): refused with an ack, connection kept.
    let big: Vec<String> = (0..200).map(|i| tick_json("BIG", i, 1.0)).collect();
    let big_frame = array(&big);
    assert!(big_frame.len() > 16 * 1024 && big_frame.len() < 64 * 1024, "{}", big_frame.len());
    let ack = push(&mut socket, &big_frame).await;
    assert_eq!(ack["accepted"], 0);
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().starts_with("frame_too_large"), "{ack}");

    // The connection still works after all of that.
    assert_eq!(push(&mut socket, &tick_json("GOOD", 3, 12.0)).await["accepted"], 1);

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'GOOD'", 3).await, 3);
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol IN ('BAD', 'BIG')").await, 0);
    let dead_letters = wait_for_count(&client, "SELECT count(*) FROM dead_letters", 13).await;
    assert_eq!(dead_letters, 13, "8 records + 5 frames");
    // Several writers commit dead letters, so their order in the table is not the order sent.
    let reasons: Vec<String> =
        client.query("SELECT reason FROM dead_letters ORDER BY reason", &[]).await.unwrap().iter().map(|row| row.get(0)).collect();
    let mut expected_reasons: Vec<&str> = expected.iter().map(|(_, code)| *code).collect();
    expected_reasons.extend(["invalid_json", "invalid_json", "empty_frame", "binary_frame", "frame_too_large"]);
    expected_reasons.sort_unstable();
    assert_eq!(reasons, expected_reasons);
    let raw: String = client.query_one("SELECT raw FROM dead_letters WHERE reason = 'unknown_type'", &[]).await.unwrap().get(0);
    assert_eq!(raw, r#"{"type":"nope"}"#, "the raw element text is kept");
    let sample: String = client.query_one("SELECT raw FROM dead_letters WHERE reason = 'frame_too_large'", &[]).await.unwrap().get(0);
    assert!(sample.len() < big_frame.len() + 100 && sample.starts_with("[{\"type\":\"tick\""));

    let dead_after = support::metric(metrics, "hypertick_dead_letters_total", "").await;
    assert!(dead_after - dead_before >= 13.0, "dead letter counter moved by {}", dead_after - dead_before);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_guards_the_upgrade() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.server.as_mut().unwrap().token = Some(Secret("s3cret-token".into()));
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let url = format!("ws://{}", daemon.push_addr.unwrap());

    let refused = tokio_tungstenite::connect_async(url.as_str()).await.expect_err("no token is refused");
    assert!(refused.to_string().contains("401"), "{refused}");

    let mut wrong = url.as_str().into_client_request().unwrap();
    wrong.headers_mut().insert("Authorization", "Bearer s3cret-tokeN".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(wrong).await.expect_err("a wrong token is refused");
    assert!(refused.to_string().contains("401"), "{refused}");

    let mut right = url.as_str().into_client_request().unwrap();
    right.headers_mut().insert("Authorization", "Bearer s3cret-token".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(right).await.expect("the right token is let in");
    assert_eq!(push(&mut socket, &tick_json("AUTH", 1, 1.0)).await["accepted"], 1);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_ids_are_acknowledged_once_stored_and_remembered_across_a_restart() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    let with_id = |i: u64| tick_json("IDS", i, 1.0).replacen('{', &format!(r#"{{"id":"producer-7/{i}","#), 1);
    let frame = array(&(0..100).map(with_id).collect::<Vec<_>>());

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let first = push(&mut socket, &frame).await;
    assert_eq!((first["accepted"].as_u64(), first.get("duplicates")), (Some(100), None), "{first}");
    let again = push(&mut socket, &frame).await;
    assert_eq!((again["accepted"].as_u64(), again["duplicates"].as_u64()), (Some(100), Some(100)), "{again}");
    // Half new, half resent, and records without an id are never deduplicated.
    let mixed: Vec<String> = (50..150).map(with_id).chain([tick_json("IDS", 1_000, 1.0), tick_json("IDS", 1_000, 1.0)]).collect();
    let mixed = push(&mut socket, &array(&mixed)).await;
    assert_eq!((mixed["accepted"].as_u64(), mixed["duplicates"].as_u64()), (Some(102), Some(50)), "{mixed}");
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'IDS'", 152).await, 152);
    assert_eq!(support::metric(daemon.metrics_addr.unwrap(), "hypertick_duplicate_records_total", "").await, 150.0);
    drop(socket);
    daemon.stop().await.expect("clean stop");

    // A new daemon knows the committed ids from the database.
    let daemon = Daemon::start(&config).await.expect("daemon starts again");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let after_restart = push(&mut socket, &frame).await;
    assert_eq!(after_restart["duplicates"].as_u64(), Some(100), "{after_restart}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'IDS'").await, 152, "nothing stored twice");
    assert_eq!(count(&client, "SELECT count(*) FROM ingest_ids").await, 150);
}
