//! Connections as an attack: idle sockets on the push port, many connections sharing
//! one token's frame budget, slow clients on the metrics port, frames that cannot be
//! read (invalid UTF-8, far over the size limit), and a producer that never reads its
//! acks. Each test checks that the daemon bounds what the attacker holds, closes what
//! it should, and that an honest producer's records are still committed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hypertick::app::Daemon;
use hypertick::config::{Config, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, array, count, push, tick_json, wait_for_count, Socket};

const TOKEN: &str = "connections-test-token";

fn config_with_token(cluster: &hypertick::db::throwaway::ThrowawayCluster) -> Config {
    let mut config = support::config_for(cluster);
    config.server.as_mut().unwrap().token = Some(Secret(TOKEN.to_string()));
    config
}

/// A producer presenting `TOKEN`; `None` when the server refused or closed the socket.
async fn try_connect_with_token(addr: SocketAddr) -> Option<Socket> {
    let mut request = format!("ws://{addr}").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let connecting = tokio_tungstenite::connect_async(request);
    match tokio::time::timeout(Duration::from_secs(10), connecting).await {
        Ok(Ok((socket, _))) => Some(socket),
        _ => None,
    }
}

/// Retries until the producer is admitted, 20 s at most.
async fn connect_with_token(addr: SocketAddr) -> Socket {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(socket) = try_connect_with_token(addr).await {
            return socket;
        }
        assert!(Instant::now() < deadline, "an authorized producer could not connect within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the server closes `stream` (EOF or reset); false if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Open TCP sockets whose local port is `port` (established, or closed by the peer
/// and not yet by us): on the metrics port, the daemon's ends.
/// The connected sockets the daemon holds on its local `port` (established, or closed by
/// the peer and not yet by the daemon). Connections the kernel completed that wait in the
/// listener's accept queue look the same in `/proc/net/tcp` but are not the daemon's
/// yet: the listening socket's receive queue counts them, and they are left out.
fn sockets_on_local_port(port: u16) -> usize {
    let lines: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| table.lines().skip(1).map(str::to_string).collect::<Vec<_>>())
        .collect();
    let on_port = |fields: &[&str]| {
        fields.get(1).and_then(|local| local.rsplit(':').next()).and_then(|hex| u16::from_str_radix(hex, 16).ok()) == Some(port)
    };
    let (mut connected, mut queued) = (0, 0);
    for line in &lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !on_port(&fields) {
            continue;
        }
        match fields.get(3) {
            Some(&"01") | Some(&"08") => connected += 1,
            // `tx_queue:rx_queue`; for a listener, rx_queue is its accept queue.
            Some(&"0A") => {
                queued += fields
                    .get(4)
                    .and_then(|queues| queues.split(':').nth(1))
                    .and_then(|hex| usize::from_str_radix(hex, 16).ok())
                    .unwrap_or(0)
            }
            _ => {}
        }
    }
    connected - queued.min(connected)
}

fn open_file_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|entries| entries.count()).unwrap_or(0)
}

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|line| line.strip_prefix("VmRSS:")).and_then(|value| value.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_take_the_producers_slots_and_are_closed_after_the_handshake_timeout() {
    let cluster = support::start_cluster();
    let mut config = config_with_token(&cluster);
    let server = config.server.as_mut().unwrap();
    server.max_connections = std::num::NonZeroUsize::new(2).unwrap();
    server.max_pending_handshakes = std::num::NonZeroUsize::new(64).unwrap();
    server.handshake_timeout_ms = 1_500;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let addr = daemon.push_addr.unwrap();
    let metrics = daemon.metrics_addr.unwrap();

    // 60 sockets that never start a handshake: more than the producers' slots (2).
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(addr).await.expect("an idle socket connects"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let mut first = try_connect_with_token(addr).await.expect("an authorized producer is admitted while 60 sockets idle");
    let mut second = try_connect_with_token(addr).await.expect("both producer slots are free for producers");
    assert!(try_connect_with_token(addr).await.is_none(), "a third producer is over server.max_connections = 2");
    println!("two producers admitted {:.2} s after 60 idle sockets", started.elapsed().as_secs_f64());
    assert_eq!(push(&mut first, &tick_json("IDLE", 1, 1.0)).await["accepted"], 1);
    assert_eq!(push(&mut second, &tick_json("IDLE", 2, 1.0)).await["accepted"], 1);

    // Over the pending-handshake limit, new sockets are closed at once.
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut closed_at_once = 0;
    for stream in &mut flood {
        closed_at_once += usize::from(closed_within(stream, Duration::from_millis(300)).await);
    }
    assert!(closed_at_once >= 30, "sockets over the 64 pending handshakes are closed at once: {closed_at_once} of 40");

    // Every idle socket is closed by the handshake deadline.
    for stream in idle.iter_mut().chain(flood.iter_mut()) {
        assert!(closed_within(stream, Duration::from_secs(10)).await, "an idle socket was left open past the handshake timeout");
    }
    let timed_out = support::metric(metrics, "hypertick_push_refused_total", "reason=\"handshake_timeout\"").await;
    let over_limit = support::metric(metrics, "hypertick_push_refused_total", "reason=\"too_many_handshakes\"").await;
    assert!(timed_out >= 60.0, "{timed_out}");
    assert!(over_limit >= closed_at_once as f64, "{over_limit}");

    // The producers went on throughout.
    assert_eq!(push(&mut first, &tick_json("IDLE", 3, 1.0)).await["accepted"], 1);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'IDLE'", 3).await, 3);
    drop((first, second));
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_presenting_one_token_share_its_frame_rate() {
    let cluster = support::start_cluster();
    let mut config = config_with_token(&cluster);
    let server = config.server.as_mut().unwrap();
    server.max_messages_per_sec = 1_000;
    server.max_messages_per_sec_per_token = 5;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let addr = daemon.push_addr.unwrap();

    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(connect_with_token(addr).await);
    }
    let started = Instant::now();
    let (mut accepted, mut limited) = (0i64, 0i64);
    for round in 0..10 {
        for (index, socket) in sockets.iter_mut().enumerate() {
            let ack = push(socket, &tick_json("SHARED", (round * 10 + index) as u64, 1.0)).await;
            if ack["accepted"] == 1 {
                accepted += 1;
            } else {
                let reason = ack["rejected"][0]["reason"].as_str().unwrap();
                assert!(reason.starts_with("rate_limited") && reason.contains("server.max_messages_per_sec_per_token"), "{ack}");
                limited += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(accepted + limited, 40);
    // One second's worth (5) at once, then 5 per second, whatever the number of connections.
    assert!(accepted as f64 <= 5.0 + (elapsed * 5.0).ceil(), "{accepted} accepted in {elapsed:.2} s over 4 connections");
    assert!(limited > 0, "{limited} refused");
    println!("4 connections, one token: {accepted} of 40 frames accepted in {elapsed:.2} s at 5/s per token");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'SHARED'", accepted).await, accepted);
    // Rate-limited frames are sampled: at most one dead letter per connection per second.
    let sampled = "SELECT count(*) FROM dead_letters WHERE reason = 'rate_limited'";
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&client, sampled).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dead = count(&client, sampled).await;
    let most = 4 * (elapsed.ceil() as i64 + 1);
    assert!(dead >= 1 && dead <= most.min(limited), "{dead} rate_limited dead letters for {limited} refused frames");
    let token_scope = support::metric(daemon.metrics_addr.unwrap(), "hypertick_push_rate_limited_total", "scope=\"token\"").await;
    assert!(token_scope >= limited as f64, "{token_scope}");
    drop(sockets);
    daemon.stop().await.expect("clean stop");
}

/// `GET path` with HTTP/1.1 and no `Connection: close`; `None` when the connection was
/// closed without an answer.
async fn try_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.ok()?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await.ok()?.ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_on_the_metrics_port_are_bounded_and_closed_by_the_deadline() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.metrics.max_connections = std::num::NonZeroUsize::new(64).unwrap();
    config.metrics.request_timeout_ms = 1_500;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let metrics = daemon.metrics_addr.unwrap();
    assert_eq!(try_get(metrics, "/healthz").await.map(|(status, _)| status), Some(200));
    let (fds_before, rss_before) = (open_file_descriptors(), resident_kib());

    // 300 clients send half a request head and stall.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(metrics).await.expect("connect");
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: slow").await.expect("half a request");
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fds_during, rss_during) = (open_file_descriptors(), resident_kib());
    // This process holds the 300 client ends too (and other tests run beside it): the
    // daemon's ends are the sockets whose local port is the metrics port.
    let daemon_sockets = sockets_on_local_port(metrics.port());
    println!(
        "300 slow metrics clients: process fds {fds_before} -> {fds_during}, daemon-side sockets {daemon_sockets}, RSS {rss_before} -> {rss_during} KiB"
    );
    assert!(daemon_sockets <= 64, "the daemon holds at most metrics.max_connections sockets: {daemon_sockets}");

    // The push server still accepts and commits meanwhile.
    let mut producer = support::connect(daemon.push_addr.unwrap()).await;
    assert_eq!(push(&mut producer, &tick_json("SLOWMETRICS", 1, 1.0)).await["accepted"], 1);
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'SLOWMETRICS'", 1).await, 1);

    // A normal scrape is answered, at the latest once the deadline freed the slots.
    let started = Instant::now();
    let answered = loop {
        if let Some((status, body)) = try_get(metrics, "/metrics").await {
            break (status, body);
        }
        assert!(started.elapsed() < Duration::from_secs(15), "/metrics was not answered within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answered.0, 200);
    assert!(answered.1.contains("hypertick_"), "{}", answered.1);
    println!("a normal scrape was answered after {:.2} s", started.elapsed().as_secs_f64());

    // Every stalled client was closed: over the cap at once, the others at the deadline.
    for stream in &mut slow {
        assert!(closed_within(stream, Duration::from_secs(10)).await, "a stalled metrics client was left open");
    }
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fds_after, daemon_sockets_after) = (open_file_descriptors(), sockets_on_local_port(metrics.port()));
    println!("after the deadline: process fds {fds_after}, daemon-side sockets {daemon_sockets_after}");
    assert_eq!(daemon_sockets_after, 0, "every stalled connection was closed");
    let over_cap = support::metric(metrics, "hypertick_metrics_refused_total", "reason=\"too_many_connections\"").await;
    let timed_out = support::metric(metrics, "hypertick_metrics_refused_total", "reason=\"timeout\"").await;
    assert!(over_cap >= 200.0 && timed_out >= 1.0, "over the cap {over_cap}, timed out {timed_out}");
    drop(producer);
    daemon.stop().await.expect("clean stop");
}

/// The close frame the server ends the connection with (30 s at most).
async fn close_frame(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next()).await.expect("an answer within 30 s");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_frames_close_the_connection_with_1007_and_1009() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    config.server.as_mut().unwrap().max_frame_bytes = 1_024;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let addr = daemon.push_addr.unwrap();

    let mut socket = support::connect(addr).await;
    assert_eq!(push(&mut socket, &tick_json("UNREADABLE", 1, 1.0)).await["accepted"], 1);
    let invalid = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    socket.send(Message::Frame(invalid)).await.expect("send a text frame with invalid UTF-8");
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Invalid, "{reason}");
    assert!(reason.contains("UTF-8"), "{reason}");

    let mut socket = support::connect(addr).await;
    let oversized = format!("\"{}\"", "x".repeat(5_000));
    socket.send(Message::text(oversized)).await.expect("send a frame over 4x server.max_frame_bytes");
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Size, "{reason}");
    assert!(reason.contains("server.max_frame_bytes"), "{reason}");

    // Counted and dead-lettered like the other refusals; the server goes on.
    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'invalid_utf8'", 1).await, 1);
    let too_large = "SELECT count(*) FROM dead_letters WHERE reason = 'frame_too_large' AND detail LIKE '%closed%'";
    assert_eq!(wait_for_count(&client, too_large, 1).await, 1);
    let metrics = daemon.metrics_addr.unwrap();
    assert_eq!(support::metric(metrics, "hypertick_push_protocol_closes_total", "reason=\"invalid_utf8\"").await, 1.0);
    assert_eq!(support::metric(metrics, "hypertick_push_protocol_closes_total", "reason=\"frame_too_large\"").await, 1.0);
    let mut socket = support::connect(addr).await;
    assert_eq!(push(&mut socket, &tick_json("UNREADABLE", 2, 1.0)).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'UNREADABLE'", 2).await, 2);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_never_reads_its_acks_is_no_longer_read_and_others_go_on() {
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let server = config.server.as_mut().unwrap();
    server.acks_in_flight_bytes = 64 * 1024;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let addr = daemon.push_addr.unwrap();
    let rss_before = resident_kib();

    // A small receive buffer, so that unread acks fill it soon.
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4_096).unwrap();
    let tcp = tcp.connect(addr).await.expect("connect");
    let (mut deaf, _) = tokio_tungstenite::client_async(format!("ws://{addr}"), tcp).await.expect("upgrade");
    let metrics = daemon.metrics_addr.unwrap();
    let frames_read = || support::metric(metrics, "hypertick_source_messages_total", "source=\"push\"");
    let read_before = frames_read().await;
    // Each frame's ack lists 100 rejections (about 8 KiB): the acks outgrow the frames,
    // and 3 000 frames' acks are far more than the socket buffers hold.
    let frame = array(&vec!["1".to_string(); 100]);
    let mut sent = 0u32;
    while sent < 3_000 {
        match tokio::time::timeout(Duration::from_secs(3), deaf.send(Message::text(frame.clone()))).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(error)) => panic!("the server dropped the deaf producer instead of not reading it: {error}"),
            Err(_) => break,
        }
    }
    // The server reads until the unsent acks reach the socket buffers and its own bounds, then stops.
    let mut read = frames_read().await - read_before;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = frames_read().await - read_before;
        if now == read {
            break;
        }
        read = now;
    }
    let rss_stalled = resident_kib();
    println!("a producer that never reads: {sent} frames sent, {read} read before the server stopped reading; RSS {rss_before} -> {rss_stalled} KiB");
    assert!(read < f64::from(sent), "the server read all {sent} frames of a client that reads no acks");
    let client = support::sql(&cluster).await;

    // Another producer is unaffected.
    let mut other = support::connect(addr).await;
    let ticks: Vec<String> = (0..100).map(|i| tick_json("DEAFNEIGHBOUR", i, 1.0)).collect();
    assert_eq!(push(&mut other, &array(&ticks)).await["accepted"], 100);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'DEAFNEIGHBOUR'", 100).await, 100);
    drop(other);
    // The stop does not wait for the deaf producer's blocked acks.
    let stopping = Instant::now();
    daemon.stop().await.expect("clean stop");
    println!("stopped {:.2} s after asking, a deaf producer connected", stopping.elapsed().as_secs_f64());
    drop(deaf);
}
