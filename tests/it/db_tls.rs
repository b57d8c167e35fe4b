//! TLS to PostgreSQL, against a throwaway server with `ssl = on` and a certificate
//! made by the test: each `sslmode` does what libpq does, a wrong root or host name
//! is refused with an error that says so, a server without TLS is refused when TLS
//! is required, and the whole daemon writes over verified TLS.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::db::throwaway::{ClusterOptions, ThrowawayCluster};

use crate::pki::TestPki;
use crate::support::{self, push, tick_json, wait_for_count};

/// A server whose certificate, signed by `pki`'s CA, names `localhost` only (not
/// 127.0.0.1), so that connecting by address tells verify-ca from verify-full.
fn start_tls_cluster(pki: &TestPki) -> ThrowawayCluster {
    let settings = [("ssl", "on"), ("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key")];
    ThrowawayCluster::start_with_files(
        ClusterOptions { fsync: false, settings: settings.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect() },
        &[("server.crt", pki.server_cert_pem.as_bytes()), ("server.key", pki.server_key_pem.as_bytes())],
    )
    .expect("a throwaway PostgreSQL cluster with ssl = on")
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    hypertick::db::connect(url, Duration::from_secs(10)).await.map_err(|error| error.to_string())
}

/// Whether this session is encrypted, as the server sees it.
async fn encrypted(client: &tokio_postgres::Client) -> bool {
    client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_connections_follow_sslmode_against_a_tls_server() {
    let pki = TestPki::new(&["localhost"]);
    let stranger = TestPki::new(&["localhost"]);
    let cluster = start_tls_cluster(&pki);
    let port = cluster.port();
    // The password is never asked for (trust authentication); it must not show in errors.
    let url = |host: &str, parameters: &str| format!("postgres://postgres:pw-never-shown@{host}:{port}/hypertick?{parameters}");
    let root = format!("sslrootcert={}", pki.ca_path().display());
    let wrong_root = format!("sslrootcert={}", stranger.ca_path().display());

    let plain = connect(&url("127.0.0.1", "sslmode=disable")).await.expect("disable connects");
    assert!(!encrypted(&plain).await, "disable: no TLS");
    let preferred = connect(&url("127.0.0.1", "application_name=prefer")).await.expect("prefer (the default) connects");
    assert!(encrypted(&preferred).await, "prefer: TLS when the server offers it");
    let required = connect(&url("127.0.0.1", "sslmode=require")).await.expect("require connects without verifying");
    assert!(encrypted(&required).await, "require: TLS");

    // verify-ca checks the chain only: the address is not in the certificate, and that is fine.
    let chain_only = connect(&url("127.0.0.1", &format!("sslmode=verify-ca&{root}"))).await.expect("verify-ca with the right root");
    assert!(encrypted(&chain_only).await);
    // libpq: require with a root certificate file verifies the chain as verify-ca does.
    let required_with_root = connect(&url("127.0.0.1", &format!("sslmode=require&{wrong_root}"))).await;
    assert!(required_with_root.expect_err("require + a wrong root file is refused").contains("trusted root"));

    let full = connect(&url("localhost", &format!("sslmode=verify-full&{root}"))).await.expect("verify-full by the certificate's name");
    assert!(encrypted(&full).await);

    let refusals = [
        (url("127.0.0.1", &format!("sslmode=verify-full&{root}")), "does not name the host"),
        (url("localhost", &format!("sslmode=verify-full&{wrong_root}")), "does not lead to a trusted root"),
        (url("localhost", &format!("sslmode=verify-ca&{wrong_root}")), "does not lead to a trusted root"),
        // Without sslrootcert, the built-in public roots: a private CA is not among them.
        (url("localhost", "sslmode=verify-full"), "does not lead to a trusted root"),
    ];
    for (url, expected) in refusals {
        let error = connect(&url).await.expect_err(&url);
        assert!(error.contains(expected), "{url}: {error}");
        assert!(error.contains("sslmode=verify-") && error.contains("certificate"), "{error}");
        assert!(!error.contains("pw-never-shown"), "{error}");
    }

    // database.ssl_root_cert is the same as sslrootcert in the URL.
    let text = format!(
        "[database]\nurl = \"postgres://postgres@localhost:{port}/hypertick?sslmode=verify-full\"\nssl_root_cert = \"{}\"\n",
        pki.ca_path().display()
    );
    let config = hypertick::app::load_config_str(&text, Vec::new()).expect("valid");
    let from_key = connect(config.database_url().unwrap()).await.expect("verify-full with database.ssl_root_cert");
    assert!(encrypted(&from_key).await);

    // The daemon: migrations, writers and maintenance all connect with verify-full.
    let mut config = support::config_for(&cluster);
    config.database.url =
        Some(hypertick::config::Secret(format!("postgres://postgres@localhost:{port}/hypertick?sslmode=verify-full&{root}")));
    let daemon = Daemon::start(&config).await.expect("daemon starts over verified TLS");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    assert_eq!(push(&mut socket, &tick_json("TLS", 1, 1.0)).await["accepted"], 1);
    assert_eq!(wait_for_count(&full, "SELECT count(*) FROM ticks WHERE symbol = 'TLS'", 1).await, 1);
    let (sessions, plain_sessions): (i64, i64) = {
        let row = full
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE NOT s.ssl)
                   FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                  WHERE a.application_name = 'hypertick' AND a.pid <> pg_backend_pid() AND a.datname = 'hypertick'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    // Our own sessions above: disable, prefer (named otherwise), and the rest over TLS.
    assert!(sessions > 5, "the daemon's writers are connected: {sessions}");
    assert_eq!(plain_sessions, 1, "only the sslmode=disable session is unencrypted");
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_refused_when_tls_is_required() {
    let cluster = support::start_cluster();
    let port = cluster.port();
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!("postgres://postgres:pw-never-shown@127.0.0.1:{port}/hypertick?sslmode={mode}");
        let error = connect(&url).await.expect_err(mode);
        assert!(error.contains("server does not support TLS"), "{mode}: {error}");
        assert!(error.contains(&format!("sslmode={mode}")) && !error.contains("pw-never-shown"), "{error}");
    }
    let client = connect(&format!("postgres://postgres@127.0.0.1:{port}/hypertick")).await.expect("prefer falls back to plain");
    assert!(!encrypted(&client).await);
}
