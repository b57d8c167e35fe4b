//! The Grafana dashboard and the Prometheus alert rules read only metrics the daemon
//! exports: every metric name in every PromQL expression of `deploy/grafana/dashboards/`
//! and `deploy/prometheus/*.yml` is found in a scrape of a running daemon that has taken
//! some data (histograms as histograms where `histogram_quantile` reads their buckets),
//! and the dashboard covers what an operator looks at first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::observed::{self, exported, http_get, metric_names};
use crate::support;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every `expr` (panel targets) and templating `query` of a dashboard, nested rows included.
fn dashboard_expressions(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("expr" | "definition", serde_json::Value::String(expr)) => found.push(expr.clone()),
                    ("query", serde_json::Value::String(query)) if query.contains("hypertick_") => found.push(query.clone()),
                    _ => dashboard_expressions(field, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| dashboard_expressions(item, found)),
        _ => {}
    }
}

/// The dashboard files' and the rule files' expressions, each with where it came from.
pub fn deployed_expressions() -> Vec<(String, String)> {
    let mut expressions = Vec::new();
    for entry in std::fs::read_dir(deploy_dir().join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|error| panic!("{} is JSON: {error}", path.display()));
        let mut found = Vec::new();
        dashboard_expressions(&dashboard, &mut found);
        expressions.extend(found.into_iter().map(|expr| (path.display().to_string(), expr)));
    }
    for path in rule_files() {
        let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|error| panic!("{} is YAML: {error}", path.display()));
        for group in rules["groups"].as_sequence().expect("groups") {
            for rule in group["rules"].as_sequence().expect("rules") {
                let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap_or("?");
                let expr = rule["expr"].as_str().unwrap_or_else(|| panic!("rule {name} has an expr"));
                expressions.push((format!("{} ({name})", path.display()), expr.to_string()));
            }
        }
    }
    expressions
}

pub fn rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("prometheus"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "alert rules in deploy/prometheus/*.yml");
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_and_the_alerts_use_is_exported() {
    let expressions = deployed_expressions();
    let used: BTreeSet<String> = expressions.iter().flat_map(|(_, expr)| metric_names(expr)).collect();
    let dashboard_used: BTreeSet<String> =
        expressions.iter().filter(|(origin, _)| origin.ends_with(".json")).flat_map(|(_, expr)| metric_names(expr)).collect();
    // The panels the operations guide promises.
    for wanted in [
        "hypertick_rows_written_total",
        "hypertick_ingest_latency_seconds_bucket",
        "hypertick_batch_rows_bucket",
        "hypertick_queue_depth",
        "hypertick_spool_bytes",
        "hypertick_source_reconnects_total",
        "hypertick_source_gaps_total",
        "hypertick_dead_letters_total",
    ] {
        assert!(dashboard_used.contains(wanted), "the dashboard shows {wanted}");
    }

    let cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let config = observed::observed_config(&cluster, spool_dir.path());
    let daemon = observed::start(&config).await;
    observed::push_traffic(&daemon, "DASHBOARD", 5).await;
    let client = support::sql(&cluster).await;
    assert_eq!(support::wait_for_count(&client, "SELECT count(*) FROM ticks", 500).await, 500);
    assert_eq!(support::wait_for_count(&client, "SELECT count(*) FROM dead_letters", 1).await, 1);
    // The spool gauge moves with the health checks (every 200 ms here).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let (status, scrape) = http_get(daemon.metrics_addr.unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    let (samples, histograms) = exported(&scrape);
    let mut missing = Vec::new();
    for (origin, expr) in &expressions {
        for name in metric_names(expr) {
            if !samples.contains(&name) {
                missing.push(format!("{name} (in {origin})"));
            }
            if expr.contains("histogram_quantile") && name.ends_with("_bucket") {
                let family = name.trim_end_matches("_bucket");
                assert!(histograms.contains(family), "{family} is exported as a histogram (for {origin}):\n{scrape}");
            }
        }
    }
    assert!(missing.is_empty(), "used but not exported:\n  {}\nscrape:\n{scrape}", missing.join("\n  "));
    println!("{} metric names used by the dashboard and the alert rules, all exported", used.len());
    daemon.stop().await.expect("clean stop");
}
