//! `--log-format json`: the real binary runs, takes frames (one of them refused), has a
//! venue source that cannot connect, logs its per-table summary, and stops on SIGTERM;
//! every line it wrote on stdout and stderr is one JSON object with a timestamp, a level
//! and a message, and the lines about a source or a table carry its name.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, array, push, tick_json};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_naming_sources_and_tables() {
    let cluster = support::start_cluster();
    let (push_port, metrics_port, dead_port) = (free_port(), free_port(), free_port());
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "[server]\nlisten = \"127.0.0.1:{push_port}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\nsummary_interval_secs = 1\n\
         [[sources]]\nkind = \"binance\"\nname = \"deadfeed\"\nurl = \"ws://127.0.0.1:{dead_port}\"\nsymbols = [\"BTCUSDT\"]\n\
         channels = [\"trades\"]\nreconnect_initial_ms = 100\nreconnect_max_ms = 200"
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_hypertick"))
        .args(["--log-format", "json", "run", "--config"])
        .arg(file.path())
        .env("DATABASE_URL", cluster.url("hypertick"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let push_addr = format!("127.0.0.1:{push_port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(push_addr).await.is_err() {
        assert!(Instant::now() < deadline && daemon.try_wait().unwrap().is_none(), "the daemon did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut socket = support::connect(push_addr).await;
    let ticks: Vec<String> = (0..500).map(|i| tick_json("LOGS", i, 1.0)).collect();
    assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 500);
    assert_eq!(push(&mut socket, r#"{"type":"tick","venue":"x"}"#).await["accepted"], 0);
    // Long enough for a summary line and a few reconnect attempts.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    drop(socket);
    let status = support::terminate_and_wait_async(&mut daemon, Duration::from_secs(30), "the daemon").await;
    let (mut stdout, mut stderr) = (String::new(), String::new());
    daemon.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    daemon.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "exit {status}:\n{stderr}");

    let mut lines = Vec::new();
    for line in stdout.lines().chain(stderr.lines()).filter(|line| !line.trim().is_empty()) {
        let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("not a JSON log line ({error}): {line}"));
        for field in ["timestamp", "level", "message"] {
            assert!(object[field].is_string(), "{field} missing: {line}");
        }
        for field in ["source", "table"] {
            if let Some(name) = object.get(field) {
                assert!(name.as_str().is_some_and(|name| !name.is_empty()), "{field} empty: {line}");
            }
        }
        lines.push(object);
    }
    let find = |message: &str, field: &str, value: &str| {
        lines.iter().any(|line| line["message"].as_str().is_some_and(|text| text.starts_with(message)) && line[field] == value)
    };
    assert!(find("feed reconnecting", "source", "deadfeed"), "a reconnect line naming the source:\n{stderr}");
    assert!(find("dead letter", "source", "push"), "a dead-letter line naming the source:\n{stderr}");
    assert!(find("producer connected", "source", "push"), "{stderr}");
    assert!(find("summary", "table", "ticks"), "a summary line naming the table:\n{stderr}");
    // Every line about a feed, a producer or a writer names what it is about.
    for line in &lines {
        let message = line["message"].as_str().unwrap();
        if message.starts_with("feed ") || message.contains("producer") || message.contains("push server") {
            assert!(line.get("source").is_some(), "no source: {line}");
        }
        if message.starts_with("summary") || message.contains("writer") || message.contains("batch write") || message.contains("partition")
        {
            assert!(line.get("table").is_some(), "no table: {line}");
        }
    }
    println!("{} JSON log lines", lines.len());
}
