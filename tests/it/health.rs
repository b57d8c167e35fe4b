//! `/healthz` and `/readyz` of a running daemon: ready with every check passing; not
//! ready, naming the database and then the spool, while PostgreSQL is stopped and
//! records pile up in the spool; ready again once it is back and the spool drained; not
//! ready, naming the source, when a venue source stays down past its budget.

use std::time::Duration;

use hypertick::db::throwaway::StopMode;

use crate::observed::{self, http_get, wait_for_readyz, UNREACHABLE_SOURCE};
use crate::support::{self, array, push, tick_json};

fn failing(readiness: &serde_json::Value) -> Vec<String> {
    readiness["failing"].as_array().expect("failing is a list").iter().map(|name| name.as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_and_the_spool() {
    let mut cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let mut config = observed::observed_config(&cluster, spool_dir.path());
    config.sources.clear();
    // 10% of 1 MiB: the 3 000 ticks pushed while the database is away pass it.
    config.health.spool_high_water_percent = 10;
    let daemon = observed::start(&config).await;
    let metrics = daemon.metrics_addr.unwrap();

    let (status, body) = http_get(metrics, "/healthz").await;
    assert_eq!((status, body.trim()), (200, r#"{"status":"up"}"#));
    let ready = wait_for_readyz(metrics, 200).await;
    assert_eq!(ready["ready"], true, "{ready}");
    let names: Vec<&str> = ready["checks"].as_array().unwrap().iter().map(|check| check["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["database", "spool"], "{ready}");

    tokio::task::block_in_place(|| cluster.stop_server(StopMode::Fast)).expect("stop the server");
    let down = wait_for_readyz(metrics, 503).await;
    assert_eq!(failing(&down), ["database"], "{down}");
    assert_eq!(http_get(metrics, "/healthz").await.0, 200, "the process is still up");

    // Records accepted while the database is away wait in the spool.
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    for frame in 0..30 {
        let ticks: Vec<String> = (0..100).map(|i| tick_json("READYZ", frame * 100 + i, 1.0)).collect();
        assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 100);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let spooled = loop {
        let (_, body) = http_get(metrics, "/readyz").await;
        let readiness: serde_json::Value = serde_json::from_str(&body).unwrap();
        if failing(&readiness).contains(&"spool".to_string()) || std::time::Instant::now() > deadline {
            break readiness;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failing(&spooled), ["database", "spool"], "{spooled}");
    let spool_detail = spooled["checks"][1]["detail"].as_str().unwrap();
    assert!(spool_detail.contains("high-water mark 10%"), "{spool_detail}");
    println!("while the database was away: {spool_detail}");

    tokio::task::block_in_place(|| cluster.start_server()).expect("start the server again");
    let back = wait_for_readyz(metrics, 200).await;
    assert_eq!(back["ready"], true, "{back}");
    let client = support::sql(&cluster).await;
    assert_eq!(support::wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'READYZ'", 3_000).await, 3_000);
    assert_eq!(support::metric(metrics, "hypertick_database_up", "").await, 1.0);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_a_source_down_past_its_budget() {
    let cluster = support::start_cluster();
    let spool_dir = tempfile::tempdir().unwrap();
    let mut config = observed::observed_config(&cluster, spool_dir.path());
    config.health.source_down_budget_secs = 2;
    let daemon = observed::start(&config).await;
    let metrics = daemon.metrics_addr.unwrap();

    // Within its budget a source that is still connecting does not count against readiness.
    let ready = wait_for_readyz(metrics, 200).await;
    let source_check = format!("source:{UNREACHABLE_SOURCE}");
    let check = ready["checks"].as_array().unwrap().iter().find(|check| check["name"] == source_check.as_str()).cloned();
    assert_eq!(check.as_ref().map(|check| check["ok"].clone()), Some(serde_json::Value::Bool(true)), "{ready}");

    let not_ready = wait_for_readyz(metrics, 503).await;
    assert_eq!(failing(&not_ready), [source_check.as_str()], "{not_ready}");
    let detail = not_ready["checks"].as_array().unwrap().iter().find(|check| check["name"] == source_check.as_str()).unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.starts_with("connecting for ") && detail.contains("budget 2s"), "{detail}");
    let label = format!("source=\"{UNREACHABLE_SOURCE}\"");
    assert_eq!(support::metric(metrics, "hypertick_source_connected", &label).await, 0.0);
    assert!(support::metric(metrics, "hypertick_source_reconnects_total", &label).await >= 1.0);
    daemon.stop().await.expect("clean stop");
}
