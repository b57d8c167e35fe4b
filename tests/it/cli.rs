//! The `hypertick` binary itself: the annotated example config parses, `check-config`
//! reports every error at once with exit code 2 and lists the custom tables of a valid
//! file, and `run` accepts frames from a
//! websocket client and, on SIGTERM, flushes and commits everything and exits 0; `bench`
//! stopped by SIGTERM stops what it started.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, array, count, push, tick_json};

const BINARY: &str = env!("CARGO_BIN_EXE_hypertick");

#[test]
fn the_annotated_example_config_parses() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hypertick.toml")).unwrap();
    let config = hypertick::app::load_config_str(&text, Vec::new()).expect("config/hypertick.toml is valid");
    assert_eq!(config.server.expect("push server configured").listen.port(), 8765);
    assert_eq!(config.pipeline.full_policy, hypertick::config::FullPolicy::Block);
}

#[test]
fn check_config_reports_every_error_with_exit_code_2() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "[database]\nurl = \"postgres://u@h/db\"\n[pipeline]\nbatch_max_rows = 0\nlinger_ms = \"soon\"\nfull_policy = \"drop\"\n[server]\nlisten = \"127.0.0.1:1\"\nack = \"durable\"\nextra = 1"
    )
    .unwrap();
    let output = Command::new(BINARY).args(["check-config", "--config"]).arg(file.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for key in ["pipeline.linger_ms", "pipeline.full_policy", "server.extra", "server.ack", "tables.ticks.batch_max_rows"] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }

    let mut good = tempfile::NamedTempFile::new().unwrap();
    writeln!(good, "[database]\nurl = \"postgres://u@h/db\"").unwrap();
    let output = Command::new(BINARY).args(["check-config", "--config"]).arg(good.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn check_config_lists_what_each_venue_offers_and_its_derivative_channels() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "[database]\nurl = \"postgres://u@h/db\"\n\
         [[sources]]\nkind = \"bybit_linear\"\nsymbols = [\"BTCUSDT\"]\nchannels = [\"trades\", \"funding\"]\n\
         [[sources]]\nkind = \"coinbase\"\nsymbols = [\"BTC-USD\"]\nchannels = [\"trades\"]"
    )
    .unwrap();
    let output = Command::new(BINARY).args(["check-config", "--config"]).arg(file.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "source: bybit_linear (bybit_linear): trades, funding; the venue offers ",
        "; of them derivatives and reference data: funding, open_interest, mark_price, liquidations, instruments",
        "source: coinbase (coinbase): trades; the venue offers trades, quotes, tickers, book; of them derivatives and reference data: none",
    ] {
        assert!(stdout.contains(line), "{line} missing from:\n{stdout}");
    }
}

#[test]
fn check_config_accepts_the_custom_tables_example_and_lists_its_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples/custom_tables.toml");
    let output = Command::new(BINARY).args(["check-config", "--config", path]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "custom table: price_tracking (7 columns, time column tracked_at)",
        "custom table: system_metrics (11 columns, time column recorded_at)",
        "custom table: market_signals (7 columns, time column timestamp)",
    ] {
        assert!(stdout.contains(line), "{line} missing from:\n{stdout}");
    }
}

#[test]
fn a_reader_that_goes_away_ends_a_report_quietly() {
    // `check-config | head -c 1`: the pipe closes after one byte; the report must not panic.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/hypertick.toml");
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{BINARY}' check-config --config '{config}' | head -c 1 >/dev/null; '{BINARY}' config-reference | head -c 1 >/dev/null"
        ))
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn a_syntax_error_in_the_config_file_never_shows_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[database]\nurl = \"postgres://u:hunter2@db/x\" trailing\n").unwrap();
    for format in ["text", "json"] {
        let output = std::process::Command::new(BINARY)
            .args(["--log-format", format, "check-config", "--config"])
            .arg(&path)
            .output()
            .expect("hypertick runs");
        assert_eq!(output.status.code(), Some(2));
        let everything = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(everything.contains("line 2"), "{everything}");
        assert!(!everything.contains("hunter2"), "the password is echoed: {everything}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_accepts_frames_and_sigterm_flushes_everything() {
    let cluster = support::start_cluster();
    let push_port = free_port();
    let metrics_port = free_port();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    // A long linger: the rows are still in the batcher when SIGTERM arrives.
    writeln!(
        file,
        "[server]\nlisten = \"127.0.0.1:{push_port}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
         [pipeline]\nlinger_ms = 60000\nbatch_max_rows = 100000"
    )
    .unwrap();
    let mut daemon = Command::new(BINARY)
        .args(["run", "--config"])
        .arg(file.path())
        .env("DATABASE_URL", cluster.url("hypertick"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let push_addr = format!("127.0.0.1:{push_port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(push_addr).await.is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start listening");
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut socket = support::connect(push_addr).await;
    let ticks: Vec<String> = (0..1_000).map(|i| tick_json("SIGTERM", i, 1.0)).collect();
    assert_eq!(push(&mut socket, &array(&ticks)).await["accepted"], 1_000);
    let bad = push(&mut socket, r#"{"type":"tick","venue":"x"}"#).await;
    assert_eq!(bad["accepted"], 0);

    let metrics_addr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let sources = support::metric(metrics_addr, "hypertick_source_messages_total", "source=\"push\"").await;
    assert!(sources >= 2.0, "frames counted: {sources}");

    let client = support::sql(&cluster).await;
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 0, "still lingering in the batcher");
    let status = support::terminate_and_wait_async(&mut daemon, Duration::from_secs(30), "the daemon").await;
    let mut stderr = String::new();
    std::io::Read::read_to_string(daemon.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit status {status}; log:\n{stderr}");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 1_000, "SIGTERM flushed every row");
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_field'").await, 1);
}

/// `demo` on this machine, where TimescaleDB is installed but no server preloads it:
/// its throwaway cluster preloads it, the demo says so, ends with the ticks compressed
/// into the columnstore and an aggregate; `--profile vanilla` (or the environment)
/// runs it on vanilla PostgreSQL.
#[test]
fn demo_runs_on_timescaledb_where_installed_and_on_vanilla_when_asked() {
    assert!(hypertick::db::throwaway::timescaledb_installed(), "run ../shared/timescaledb/install.sh (.ci/run does)");
    let run = |profile: Option<&str>| {
        let mut command = Command::new(BINARY);
        command.args(["demo", "--duration", "3", "--rate", "2000", "--symbols", "5"]).env_remove("HYPERTICK_SCHEMA_PROFILE");
        if let Some(profile) = profile {
            command.env("HYPERTICK_SCHEMA_PROFILE", profile);
        }
        let output = command.output().expect("the demo runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        stdout
    };
    let timescaledb = run(None);
    assert!(timescaledb.contains("schema profile: TimescaleDB"), "{timescaledb}");
    assert!(timescaledb.contains("in the columnstore ("), "a compressed chunk is shown:\n{timescaledb}");
    assert!(timescaledb.contains("FROM ohlcv_1m"), "{timescaledb}");
    assert!(timescaledb.contains("trades "), "the aggregate has rows:\n{timescaledb}");

    let vanilla = run(Some("vanilla"));
    assert!(vanilla.contains("schema profile: vanilla PostgreSQL (--profile vanilla)"), "{vanilla}");
    assert!(vanilla.contains("trades "), "the aggregate has rows:\n{vanilla}");
    assert!(!vanilla.contains("in the columnstore ("), "{vanilla}");
}

/// `bench` stopped by SIGTERM leaves nothing behind: a process exiting on a signal drops
/// nothing, so the throwaway cluster and the load generator it started are stopped by
/// the clean-up it registered for that (`shutdown::exit_on_signal`); it exits 143.
#[test]
fn a_bench_stopped_by_sigterm_stops_its_cluster_and_its_load_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bench = start_bench(tmp.path(), &["--only", "push", "--warmup", "1", "--measure", "300"]);
    // The push run under way: the cluster is up and the load generator runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let generator = loop {
        let generator = processes().into_iter().find(|(_, parent, command, _)| *parent == bench.id() && command.contains("bench-load"));
        if let (Some(generator), false) = (generator, clusters_in(tmp.path()).is_empty()) {
            break generator.0;
        }
        assert!(Instant::now() < deadline, "the bench's push run did not start");
        assert!(bench.try_wait().unwrap().is_none(), "the bench ended early");
        std::thread::sleep(Duration::from_millis(200));
    };
    let cluster = clusters_in(tmp.path()).remove(0);
    std::thread::sleep(Duration::from_secs(2));
    stop_and_check_clean_up(bench, tmp.path(), &cluster, Some(generator));
}

/// The same, stopped inside the stall run, while every process of the cluster is paused
/// (SIGSTOP): the clean-up resumes them first, or the server could not stop.
#[test]
fn a_bench_stopped_while_its_database_is_paused_resumes_and_stops_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    // The stall run pauses the server (SIGSTOP) for 300 s; the bench is stopped inside that.
    let mut bench = start_bench(tmp.path(), &["--only", "stall", "--stall-secs", "300", "--warmup", "1", "--measure", "1"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let cluster = loop {
        let paused = clusters_in(tmp.path()).into_iter().find(|cluster| {
            let server = server_processes(cluster);
            server.len() > 1 && server.iter().all(|(_, _, _, state)| state == "T")
        });
        if let Some(cluster) = paused {
            break cluster;
        }
        assert!(Instant::now() < deadline, "the bench's database was not paused");
        assert!(bench.try_wait().unwrap().is_none(), "the bench ended early");
        std::thread::sleep(Duration::from_millis(200));
    };
    stop_and_check_clean_up(bench, tmp.path(), &cluster, None);
}

/// `hypertick bench` with `args` and its own `TMPDIR` (where its cluster and spool go).
fn start_bench(tmp: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(BINARY)
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(tmp.join("out"))
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The throwaway clusters' directories under `tmp`.
fn clusters_in(tmp: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("hypertick-pg-"))
        .collect()
}

/// The server processes of the cluster in `cluster`: its postmaster (whose command line
/// names the directory) and the postmaster's children.
fn server_processes(cluster: &std::path::Path) -> Vec<(u32, u32, String, String)> {
    let all = processes();
    let postmasters: Vec<u32> =
        all.iter().filter(|(_, _, command, _)| command.contains(&*cluster.to_string_lossy())).map(|(pid, ..)| *pid).collect();
    all.into_iter().filter(|(pid, parent, ..)| postmasters.contains(pid) || postmasters.contains(parent)).collect()
}

/// Sends the bench SIGTERM and checks what it leaves: exit 143, the cluster's directory
/// and the spool directory removed, and nothing of the cluster (nor `also`) running.
fn stop_and_check_clean_up(mut bench: std::process::Child, tmp: &std::path::Path, cluster: &std::path::Path, also: Option<u32>) {
    let mut watched: Vec<u32> = server_processes(cluster).into_iter().map(|(pid, ..)| pid).collect();
    assert!(watched.len() > 1, "the cluster's postmaster and its children run");
    watched.extend(also);
    let status = support::terminate_and_wait(&mut bench, Duration::from_secs(90), "the bench");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut bench.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("SIGTERM received: stopping what the bench started"), "{stderr}");
    assert!(clusters_in(tmp).is_empty(), "the cluster's directory is removed: {:?}", clusters_in(tmp));
    let spool_dirs: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("hypertick-bench-spool-"))
        .collect();
    assert!(spool_dirs.is_empty(), "the bench's spool directory is removed: {spool_dirs:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<_> = processes().into_iter().filter(|(pid, ..)| watched.contains(pid)).collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running after the bench exited: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every live process: pid, parent pid, command line, state (from `/proc`; zombies left
/// out; `T` is stopped by a signal).
fn processes() -> Vec<(u32, u32, String, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let state = fields.next()?;
            let parent: u32 = fields.next()?.parse().ok()?;
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let command = String::from_utf8_lossy(&command).replace('\0', " ");
            (state != "Z").then(|| (pid, parent, command, state.to_string()))
        })
        .collect()
}
