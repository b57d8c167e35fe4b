//! Secrets stay secret: the database password and the push token, given the ways an
//! operator gives them (DATABASE_URL, HYPERTICK_SERVER_TOKEN, password and token
//! files), never show in what the binary prints — `check-config`, a failed
//! `migrate`, or a whole `run` logged at trace level — nor in `/metrics`.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{self, push, tick_json};

const BINARY: &str = env!("CARGO_BIN_EXE_hypertick");
const PASSWORD: &str = "Pw-Redact-7f3a9";
const TOKEN: &str = "Tok-Redact-91bc2";
const FILE_PASSWORD: &str = "FilePw-Redact-44d1";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn run(arguments: &[&str], config: &std::path::Path, environment: &[(&str, String)]) -> Output {
    let mut command = Command::new(BINARY);
    command.args(arguments).arg("--config").arg(config).env("RUST_LOG", "trace");
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [PASSWORD, TOKEN, FILE_PASSWORD] {
        assert!(!text.contains(secret), "{what} shows a secret ({secret}):\n{text}");
    }
}

fn printed(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn check_config_and_a_failed_migrate_never_print_the_password_or_the_token() {
    let closed_port = free_port();
    let url = format!("postgres://ingest:{PASSWORD}@127.0.0.1:{closed_port}/hypertick");
    let environment = [("DATABASE_URL", url.clone()), ("HYPERTICK_SERVER_TOKEN", TOKEN.to_string())];
    let config = config_file("[server]\nlisten = \"0.0.0.0:8765\"\n[metrics]\nlisten = \"127.0.0.1:9187\"\n");

    let output = run(&["check-config"], config.path(), &environment);
    let text = printed(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains(&format!("database: 127.0.0.1:{closed_port}/hypertick (sslmode=prefer)")), "{text}");
    assert!(text.contains("push server: ws://0.0.0.0:8765 (bearer token required)"), "{text}");
    assert!(text.contains("warning: server.listen 0.0.0.0:8765 is not a loopback address") && text.contains("clear text"), "{text}");
    assert_no_secret("check-config", &text);

    // Invalid configurations are reported without the secrets too.
    let broken = config_file("[pipeline]\nbatch_max_rows = 0\n[server]\ntoken_file = \"/nonexistent/token\"\n");
    for url in [
        format!("postgres://ingest:{PASSWORD}@127.0.0.1:notaport/hypertick"),
        format!("postgres://ingest:{PASSWORD}@127.0.0.1/hypertick?sslmode=paranoid"),
        format!("host=127.0.0.1 password='{PASSWORD}"),
    ] {
        let output = run(&["check-config"], broken.path(), &[("DATABASE_URL", url), ("HYPERTICK_SERVER_TOKEN", TOKEN.to_string())]);
        let text = printed(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains("database.url: expected a postgres:// URL: ") && text.contains("batch_max_rows"), "{text}");
        assert_no_secret("check-config of a broken file", &text);
    }

    // migrate against a port nobody listens on: a connection error naming the target only.
    for extra in ["", "?sslmode=require", "?sslmode=verify-full"] {
        let output = run(&["migrate"], config.path(), &[("DATABASE_URL", format!("{url}{extra}"))]);
        let text = printed(&output);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.contains(&format!("connecting to 127.0.0.1:{closed_port}/hypertick")), "{text}");
        assert_no_secret("a failed migrate", &text);
    }

    // The password from database.password_file.
    let password_file = config_file(&format!("{FILE_PASSWORD}\n"));
    let with_file = config_file(&format!(
        "[database]\nurl = \"postgres://ingest@127.0.0.1:{closed_port}/hypertick\"\npassword_file = \"{}\"\n",
        password_file.path().display()
    ));
    for command in ["check-config", "migrate"] {
        let text = printed(&run(&[command], with_file.path(), &[]));
        assert!(text.contains(&format!("127.0.0.1:{closed_port}/hypertick")), "{text}");
        assert_no_secret(command, &text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_logged_at_trace_level_never_shows_the_password_or_the_token() {
    let cluster = support::start_cluster();
    let push_port = free_port();
    let metrics_port = free_port();
    let token_file = config_file(&format!("{TOKEN}\n"));
    let config = config_file(&format!(
        "[server]\nlisten = \"127.0.0.1:{push_port}\"\ntoken_file = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n",
        token_file.path().display()
    ));
    // Trust authentication: the server never asks for the password, but the daemon has it.
    let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/hypertick", cluster.port());
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut daemon = Command::new(BINARY)
        .args(["run", "--config"])
        .arg(config.path())
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();

    let push_addr: std::net::SocketAddr = format!("127.0.0.1:{push_port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(push_addr).await.is_err() {
        assert!(Instant::now() < deadline, "the daemon did not start listening");
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited early:\n{}", std::fs::read_to_string(log.path()).unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = tokio_tungstenite::connect_async(format!("ws://{push_addr}")).await.expect_err("no token, no entry");
    assert!(refused.to_string().contains("401"), "{refused}");
    let mut request = format!("ws://{push_addr}").into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the token from the file lets in");
    assert_eq!(push(&mut socket, &tick_json("REDACT", 1, 1.0)).await["accepted"], 1);
    drop(socket);

    let metrics_addr: std::net::SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    assert!(support::metric(metrics_addr, "hypertick_source_messages_total", "source=\"push\"").await >= 1.0);
    let body = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(metrics_addr).await.unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let mut body = String::new();
        stream.read_to_string(&mut body).await.unwrap();
        body
    };
    assert_no_secret("/metrics", &body);

    let status = support::terminate_and_wait_async(&mut daemon, Duration::from_secs(30), "the daemon").await;
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(text.contains("TRACE") && text.contains("producer connected"), "the log is at trace level and covers the run");
    assert_no_secret("the trace log of a run", &text);
}
