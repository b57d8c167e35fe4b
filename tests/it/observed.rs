//! Shared by the operations tests (health, dashboard, Prometheus): a daemon with a spool
//! and a venue source that can never connect (so every per-source series exists), plain
//! HTTP GETs to its metrics listener, and the metric names a PromQL expression reads.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hypertick::app::Daemon;
use hypertick::config::{Channel, Config, SourceKind, SpoolConfig};
use hypertick::db::throwaway::ThrowawayCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::feeds::source;
use crate::support::{self, array, push, tick_json};

/// The name of the venue source that never connects.
pub const UNREACHABLE_SOURCE: &str = "binance";

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `config_for(cluster)` with a spool in `spool_dir`, quick health checks, and a Binance
/// source pointed at a closed loopback port.
pub fn observed_config(cluster: &ThrowawayCluster, spool_dir: &std::path::Path) -> Config {
    let mut config = support::config_for(cluster);
    let mut spool = SpoolConfig::in_dir(spool_dir.to_path_buf());
    spool.segment_bytes = 16 * 1024;
    spool.max_bytes = 1 << 20;
    config.spool = Some(spool);
    config.health.database_check_interval_ms = std::num::NonZeroU64::new(200).unwrap();
    config.sources = vec![source(SourceKind::Binance, format!("ws://127.0.0.1:{}", closed_port()), &["BTCUSDT"], &[Channel::Trades])];
    config
}

pub async fn start(config: &Config) -> Daemon {
    Daemon::start(config).await.expect("daemon starts")
}

/// Pushes `frames` frames of 100 ticks and one frame that is dead-lettered.
pub async fn push_traffic(daemon: &Daemon, symbol: &str, frames: u64) {
    let mut socket = support::connect(daemon.push_addr.expect("push server")).await;
    for frame in 0..frames {
        let ticks: Vec<String> = (0..100).map(|i| tick_json(symbol, frame * 100 + i, 1.0)).collect();
        assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 100);
    }
    assert_eq!(push(&mut socket, r#"{"type":"tick","venue":"x"}"#).await["accepted"], 0);
}

/// GET `path` over HTTP/1.0 (so that no server answers in chunks): status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap_or_else(|error| panic!("connect {addr}: {error}"));
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await.expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response.as_str(), ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

/// Polls `/readyz` until its status is `expected` (30 s at most); returns its JSON.
pub async fn wait_for_readyz(metrics: SocketAddr, expected: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(metrics, "/readyz").await;
        if status == expected {
            return serde_json::from_str(&body).unwrap_or_else(|error| panic!("/readyz body is JSON ({error}): {body}"));
        }
        assert!(Instant::now() < deadline, "/readyz stayed {status}, expected {expected}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The metric names a PromQL expression reads: identifiers starting with `hypertick_`
/// outside label matchers and strings (functions, `by (…)` labels, durations and
/// `$variables` are not metric names).
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut depth_in_braces = 0usize;
    let mut in_string: Option<char> = None;
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        if current.starts_with("hypertick_") {
            names.insert(std::mem::take(current));
        }
        current.clear();
    };
    for character in expr.chars() {
        if let Some(quote) = in_string {
            if character == quote {
                in_string = None;
            }
            continue;
        }
        match character {
            '"' | '\'' | '`' => in_string = Some(character),
            '{' => depth_in_braces += 1,
            '}' => depth_in_braces = depth_in_braces.saturating_sub(1),
            _ => {}
        }
        if depth_in_braces == 0 && (character.is_ascii_alphanumeric() || character == '_' || character == ':') {
            current.push(character);
        } else {
            flush(&mut current);
        }
    }
    flush(&mut current);
    names
}

/// The names of the samples in a `/metrics` text, and the histogram families.
pub fn exported(scrape: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let samples = scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect();
    let histograms = scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" histogram"))
        .map(str::to_string)
        .collect();
    (samples, histograms)
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (table, le) (rate(hypertick_ingest_latency_seconds_bucket{instance=~"$instance", x="hypertick_not_a_name"}[5m]))) / on(instance) hypertick_spool_max_bytes > 1"#,
    );
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["hypertick_ingest_latency_seconds_bucket", "hypertick_spool_max_bytes"]);
}
