//! The push server's guards beyond the token: TLS (wss://) with a certificate from
//! the configuration, and the per-connection frame rate limit.

use std::time::{Duration, Instant};

use hypertick::app::Daemon;
use tokio::net::TcpStream;
use tokio_tungstenite::Connector;

use crate::pki::TestPki;
use crate::support::{self, count, push, tick_json, wait_for_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_server_speaks_wss_with_the_configured_certificate() {
    let pki = TestPki::new(&["localhost"]);
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let server = config.server.as_mut().unwrap();
    server.tls_cert = Some(pki.cert_path());
    server.tls_key = Some(pki.key_path());
    let daemon = Daemon::start(&config).await.expect("daemon starts with TLS");
    let addr = daemon.push_addr.unwrap();
    let wss_url = format!("wss://localhost:{}", addr.port());

    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut socket, _) =
        tokio_tungstenite::client_async_tls_with_config(wss_url.as_str(), tcp, None, Some(Connector::Rustls(pki.client_config())))
            .await
            .expect("a wss client trusting the test CA connects");
    assert_eq!(push(&mut socket, &tick_json("WSS", 1, 1.0)).await["accepted"], 1);

    // A plain websocket client gets an error, promptly, and the server goes on.
    let plain = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(format!("ws://{addr}")))
        .await
        .expect("a plain client is answered within 10 s, not left hanging");
    assert!(plain.is_err(), "a plain ws client cannot talk to the TLS listener");

    // A client that does not trust the certificate refuses the server.
    let stranger = TestPki::new(&["localhost"]);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let untrusted =
        tokio_tungstenite::client_async_tls_with_config(wss_url.as_str(), tcp, None, Some(Connector::Rustls(stranger.client_config())))
            .await;
    let error = untrusted.expect_err("the test certificate is not signed by the stranger's CA").to_string();
    assert!(error.contains("invalid peer certificate"), "{error}");

    // The first connection is untouched by the failed ones.
    assert_eq!(push(&mut socket, &tick_json("WSS", 2, 2.0)).await["accepted"], 1);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'WSS'", 2).await, 2);
    let refused = support::metric(daemon.metrics_addr.unwrap(), "hypertick_push_refused_total", "reason=\"tls_handshake\"").await;
    assert!(refused >= 2.0, "failed TLS handshakes are counted: {refused}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_the_rate_are_refused_and_sampled_as_dead_letters_and_the_connection_survives() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.server.as_mut().unwrap().max_messages_per_sec = 2;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let metrics = daemon.metrics_addr.unwrap();
    let limited_before = support::metric(metrics, "hypertick_push_rate_limited_total", "").await;
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;

    let started = Instant::now();
    let (mut accepted, mut limited) = (0, 0);
    for trade_id in 0..30 {
        let ack = push(&mut socket, &tick_json("RATE", trade_id, 1.0)).await;
        if ack["accepted"] == 1 {
            accepted += 1;
        } else {
            let reason = ack["rejected"][0]["reason"].as_str().unwrap();
            assert!(reason.starts_with("rate_limited") && reason.contains("server.max_messages_per_sec"), "{ack}");
            assert_eq!(ack["rejected"][0]["index"], 0, "{ack}");
            limited += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A burst of one second's worth (2), then 2 per second.
    assert!(accepted as f64 <= 2.0 + (elapsed * 2.0).ceil(), "{accepted} accepted in {elapsed:.2} s");
    assert!(limited > 0, "{limited} refused in {elapsed:.2} s");

    // Still open: after a pause the next frame is taken.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(push(&mut socket, &tick_json("RATE", 100, 1.0)).await["accepted"], 1);
    accepted += 1;

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'RATE'", accepted).await, accepted);
    // Sampled: at most one dead letter per connection per second, counting the others.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dead = count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rate_limited'").await;
    let seconds = started.elapsed().as_secs_f64().ceil() as i64;
    assert!((1..=seconds + 1).contains(&dead), "{dead} dead letters for {limited} refused frames in {seconds} s");
    let with_text =
        count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rate_limited' AND raw LIKE '{\"type\":\"tick\"%RATE%'").await;
    assert_eq!(with_text, dead, "with the frame's text");
    let limited_after = support::metric(metrics, "hypertick_push_rate_limited_total", "").await;
    assert!(limited_after - limited_before >= limited as f64, "counted: {limited_before} → {limited_after}");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
