//! Shared test support: a throwaway PostgreSQL per test, a daemon configuration
//! pointing at it, and a websocket producer speaking the push protocol.

pub mod process;
pub mod python;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hypertick::config::Config;
use hypertick::db::throwaway::{ClusterOptions, ThrowawayCluster};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A throwaway vanilla PostgreSQL cluster (TimescaleDB not preloaded, even where it is
/// installed: `auto` picks vanilla on it).
pub fn start_cluster() -> ThrowawayCluster {
    ThrowawayCluster::start(ClusterOptions { fsync: false, settings: Vec::new() })
        .expect("a throwaway PostgreSQL cluster (server binaries are needed; .ci/run installs them)")
}

/// A daemon configuration for `cluster` with the push server and metrics on free
/// ports, and quick reconnects.
pub fn config_for(cluster: &ThrowawayCluster) -> Config {
    let mut config = Config::loopback(&cluster.url("hypertick"));
    config.database.retry_initial_backoff_ms = std::num::NonZeroU64::new(50).unwrap();
    config.database.retry_max_backoff_ms = 500;
    config
}

pub async fn sql(cluster: &ThrowawayCluster) -> tokio_postgres::Client {
    hypertick::db::connect(&cluster.url("hypertick"), Duration::from_secs(10)).await.expect("connect to the test cluster")
}

pub async fn count(client: &tokio_postgres::Client, query: &str) -> i64 {
    client.query_one(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error}")).get(0)
}

/// The first column of every row `query` returns.
pub async fn column<T: tokio_postgres::types::FromSqlOwned>(client: &tokio_postgres::Client, query: &str) -> Vec<T> {
    let rows = client.query(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error}"));
    rows.iter().map(|row| row.get(0)).collect()
}

/// Polls `query` (a count) until it returns `expected` or 30 s pass; returns the last value.
pub async fn wait_for_count(client: &tokio_postgres::Client, query: &str, expected: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = count(client, query).await;
        if value == expected || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn connect(addr: SocketAddr) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}")).await.expect("websocket connect");
    socket
}

/// Sends one text frame and returns the ack as JSON.
pub async fn push(socket: &mut Socket, frame: &str) -> Value {
    socket.send(Message::text(frame.to_string())).await.expect("send frame");
    read_ack(socket).await
}

pub async fn read_ack(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("an ack within 30 s")
            .expect("connection open")
            .expect("websocket message");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("ack is JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected an ack, got {other:?}"),
        }
    }
}

/// The index of every element an ack refused: those listed in `rejected` (with their
/// reasons) and those past the list, named in `rejected_more_ranges` (inclusive ranges).
pub fn refused_indexes(ack: &Value) -> std::collections::HashSet<usize> {
    let listed = ack["rejected"].as_array().into_iter().flatten().filter_map(|item| item["index"].as_u64());
    let ranges = ack["rejected_more_ranges"].as_array().into_iter().flatten().flat_map(|range| {
        let (first, last) = (range[0].as_u64().expect("a range's first index"), range[1].as_u64().expect("a range's last index"));
        first..=last
    });
    listed.chain(ranges).map(|index| index as usize).collect()
}

/// A valid tick as a JSON object string.
pub fn tick_json(symbol: &str, trade_id: u64, price: f64) -> String {
    format!(
        r#"{{"type":"tick","venue":"test","symbol":"{symbol}","time":"{}","price":{price},"size":1.5,"side":"buy","trade_id":"{trade_id}"}}"#,
        hypertick::record::Timestamp::now()
    )
}

pub fn array(objects: &[String]) -> String {
    format!("[{}]", objects.join(","))
}

/// Scrapes `/metrics` and returns the sum of every sample of `name` whose labels contain `label`.
pub async fn metric(addr: SocketAddr, name: &str, label: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("metrics connect");
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await.expect("metrics request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("metrics response");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A throwaway cluster running TimescaleDB natively: the extension preloaded, enough
/// background workers for the policies' jobs, telemetry off. `.ci/run` installs the
/// extension (`../shared/timescaledb/install.sh`); without it this fails and says so.
pub fn start_timescale_cluster() -> ThrowawayCluster {
    assert!(
        hypertick::db::throwaway::timescaledb_installed(),
        "the TimescaleDB tests need the extension installed into the machine's PostgreSQL: run ../shared/timescaledb/install.sh (.ci/run does)"
    );
    ThrowawayCluster::start(ClusterOptions { fsync: false, settings: Vec::new() }.with_timescaledb())
        .expect("a throwaway TimescaleDB cluster")
}

/// How many `feed_events` rows of `kind` the source `source` wrote.
pub async fn feed_events(client: &tokio_postgres::Client, source: &str, kind: &str) -> i64 {
    client
        .query_one("SELECT count(*) FROM feed_events WHERE source = $1 AND kind = $2", &[&source, &kind])
        .await
        .expect("count feed events")
        .get(0)
}

/// Sends SIGTERM to a child process (a daemon's clean stop).
pub fn terminate(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child's pid, not reaped yet; it touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM)
    };
}

/// Sends SIGTERM to a child process and waits for it to exit, failing the test with
/// `what` after `within`.
pub fn terminate_and_wait(child: &mut std::process::Child, within: std::time::Duration, what: &str) -> std::process::ExitStatus {
    let stopping = Stopping::start(child, within, what);
    loop {
        if let Some(status) = stopping.exited(child) {
            return status;
        }
        std::thread::sleep(Stopping::POLL);
    }
}

/// [`terminate_and_wait`] from an async test, without holding its runtime's thread.
pub async fn terminate_and_wait_async(
    child: &mut std::process::Child,
    within: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let stopping = Stopping::start(child, within, what);
    loop {
        if let Some(status) = stopping.exited(child) {
            return status;
        }
        tokio::time::sleep(Stopping::POLL).await;
    }
}

/// A child sent SIGTERM, and how long it has to exit.
struct Stopping<'a> {
    deadline: std::time::Instant,
    within: std::time::Duration,
    what: &'a str,
}

impl<'a> Stopping<'a> {
    const POLL: std::time::Duration = std::time::Duration::from_millis(50);

    fn start(child: &std::process::Child, within: std::time::Duration, what: &'a str) -> Self {
        terminate(child);
        Stopping { deadline: std::time::Instant::now() + within, within, what }
    }

    /// Its status once it has exited; fails the test once the time is up.
    fn exited(&self, child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
        let status = child.try_wait().unwrap();
        assert!(
            status.is_some() || std::time::Instant::now() < self.deadline,
            "{} did not exit within {:?} of SIGTERM",
            self.what,
            self.within
        );
        status
    }
}
