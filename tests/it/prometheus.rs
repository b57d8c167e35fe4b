//! A real Prometheus server (Debian's `prometheus` package) scrapes a running daemon on
//! loopback every second with the alert rules of `deploy/prometheus/` loaded: its query
//! API sees the ingest counters move while data flows, it accepts every query of the
//! Grafana dashboard, its target is up, and every rule is loaded and evaluates with
//! health "ok".

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dashboard::{deployed_expressions, rule_files};
use crate::observed::{self, http_get};
use crate::support::{self, array, push, tick_json};

const INSTALL_HINT: &str = "the Prometheus test needs the `prometheus` binary (Debian: apt-get install prometheus; .ci/run installs it)";

fn prometheus_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("prometheus"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{INSTALL_HINT}"))
}

/// A Prometheus server we started, stopped on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let rules: Vec<String> = rule_files().iter().map(|path| format!("  - {}\n", path.display())).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{}scrape_configs:\n  - job_name: hypertick\n    static_configs:\n      - targets: [\"{target}\"]\n",
            rules.concat()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("starting prometheus: {error}; {INSTALL_HINT}"));
        Prometheus { child, addr, _dir: dir }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Ok((200, _))) = tokio::time::timeout(Duration::from_secs(2), try_get(self.addr, "/-/ready")).await {
                return;
            }
            assert!(self.child.try_wait().unwrap().is_none(), "prometheus exited during start-up");
            assert!(Instant::now() < deadline, "prometheus was not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET /api/v1/<path>`'s `data`, asserting status success.
    async fn api(&self, path: &str) -> serde_json::Value {
        let (status, body) = http_get(self.addr, &format!("/api/v1/{path}")).await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("{path}: {error}: {body}"));
        assert_eq!((status, answer["status"].as_str()), (200, Some("success")), "{path}: {body}");
        answer["data"].clone()
    }

    /// The value of a query whose result is one sample, if it has one.
    async fn scalar(&self, query: &str) -> Option<f64> {
        let data = self.api(&format!("query?query={}", percent_encode(query))).await;
        data["result"].get(0)?["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        crate::support::terminate(&self.child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn try_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    tokio::net::TcpStream::connect(addr).await?;
    Ok(http_get(addr, path).await)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The alert and recording rule names of the rule files.
fn rule_names() -> Vec<String> {
    let mut names = Vec::new();
    for path in rule_files() {
        let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for group in rules["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                names.push(rule["alert"].as_str().or(rule["record"].as_str()).unwrap().to_string());
            }
        }
    }
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_daemon_and_loads_the_alert_rules() {
    let cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let config = observed::observed_config(&cluster, spool_dir.path());
    let daemon = observed::start(&config).await;
    let mut prometheus = Prometheus::start(daemon.metrics_addr.unwrap());
    prometheus.wait_ready().await;

    // Data flows: a frame of 100 ticks every 200 ms, while Prometheus is asked what the
    // rows-written counter says, until it has gone up twice.
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let query = r#"sum(hypertick_rows_written_total{job="hypertick", table="ticks"})"#;
    let mut seen: Vec<f64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut frame = 0;
    while seen.len() < 3 {
        assert!(Instant::now() < deadline, "the ingest counter did not move in Prometheus: {seen:?}");
        let ticks: Vec<String> = (0..100).map(|i| tick_json("PROMETHEUS", frame * 100 + i, 1.0)).collect();
        assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 100);
        frame += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some(value) = prometheus.scalar(query).await {
            if seen.last().is_none_or(|last| value > *last) {
                seen.push(value);
            }
        }
    }
    println!("{query} as Prometheus saw it rise: {seen:?} ({frame} frames of 100 ticks pushed)");
    let rate = prometheus.scalar(r#"sum(rate(hypertick_rows_written_total{table="ticks"}[5s]))"#).await;
    assert!(rate.is_some_and(|rate| rate > 0.0), "rows/s of ticks in Prometheus: {rate:?}");
    let latency = prometheus
        .scalar(r#"histogram_quantile(0.99, sum by (le) (rate(hypertick_ingest_latency_seconds_bucket{table="ticks"}[30s])))"#)
        .await;
    assert!(latency.is_some_and(|seconds| seconds > 0.0 && seconds < 30.0), "ticks latency p99 in Prometheus: {latency:?}");

    // Every dashboard query is valid PromQL to this Prometheus, with Grafana's variables
    // filled in as Grafana would.
    for (origin, expr) in deployed_expressions().into_iter().filter(|(origin, _)| origin.ends_with(".json")) {
        let expr = expr.replace("$__rate_interval", "1m").replace("$instance", ".*");
        let query = if expr.starts_with("label_values(") { "up".to_string() } else { expr };
        let (status, body) = http_get(prometheus.addr, &format!("/api/v1/query?query={}", percent_encode(&query))).await;
        assert_eq!(status, 200, "{origin}: {query}: {body}");
    }

    let targets = prometheus.api("targets").await;
    let target = &targets["activeTargets"][0];
    assert_eq!(target["health"], "up", "{targets}");

    // Every rule of the files is loaded, and each has been evaluated without error.
    let expected = rule_names();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = prometheus.api("rules").await;
        let rules: Vec<&serde_json::Value> =
            data["groups"].as_array().unwrap().iter().flat_map(|group| group["rules"].as_array().unwrap()).collect();
        let mut names: Vec<String> = rules.iter().map(|rule| rule["name"].as_str().unwrap().to_string()).collect();
        names.sort();
        assert_eq!(names, expected, "the rules Prometheus loaded");
        let unhealthy: Vec<String> = rules
            .iter()
            .filter(|rule| rule["health"] != "ok")
            .map(|rule| format!("{} {} {}", rule["name"], rule["health"], rule["lastError"]))
            .collect();
        if unhealthy.is_empty() {
            println!("{} alert rules loaded and evaluated, health ok", names.len());
            break;
        }
        assert!(Instant::now() < deadline, "rules not healthy: {unhealthy:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(prometheus);
    daemon.stop().await.expect("clean stop");
}
