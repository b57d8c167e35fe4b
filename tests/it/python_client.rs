//! The Python producer library (`clients/python`) against the real daemon: a venv is
//! made, the package is installed into it with pip (with `websockets` from PyPI), its
//! `unittest` suite runs against a daemon child process (`ack = "committed"`, a spool, a
//! bearer token, `wss://` with a certificate of a test CA, 100 frames per second per
//! connection), and the rows it sent are checked
//! here, exactly. Then a Python producer sends 10 000 ticks through the blocking client
//! while the daemon is SIGKILLed and started again on the same spool: every tick is
//! accepted and stored once. Python 3 with `venv` and pip is required: without them the
//! test fails saying what to install (`.ci/run` installs them).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::TestPki;
use crate::support::process::{free_port, tail, DaemonProcess};
use crate::support::python::{checkout_client, run, venv_with_client};
use crate::support::{self, count};

const TOKEN: &str = "py-client-test-token-5d1e";
const RECONNECT_TICKS: i64 = 10_000;

fn write_config(dir: &Path, database_url: &str, push: SocketAddr, pki: &TestPki) -> PathBuf {
    let token_file = dir.join("push.token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let text = format!(
        "[database]\nurl = \"{database_url}\"\nretry_initial_backoff_ms = 50\nretry_max_backoff_ms = 500\n\n\
         [server]\nlisten = \"{push}\"\nack = \"committed\"\ntoken_file = \"{}\"\nmax_messages_per_sec = 100\n\
         tls_cert = \"{}\"\ntls_key = \"{}\"\n\n\
         [metrics]\nenabled = false\n\n\
         [spool]\ndir = \"{}\"\nfsync_interval_ms = 5\n\n\
         [schema]\nprofile = \"vanilla\"\n",
        token_file.display(),
        pki.cert_path().display(),
        pki.key_path().display(),
        dir.join("spool").display(),
    );
    let path = dir.join("hypertick.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The rows `market_records(symbol)` of `test_daemon.py` sent, read back exactly.
async fn assert_market_rows(client: &tokio_postgres::Client, symbol: &str) {
    let ticks: Vec<(f64, f64, i32, String, String)> = client
        .query("SELECT price, size, side::int, trade_id, to_char(time, 'US') FROM ticks WHERE symbol = $1 ORDER BY trade_id", &[&symbol])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    assert_eq!(
        ticks,
        [(97001.0, 0.000000001, -1, "2".to_string(), "000000".to_string()), (97000.5, 0.25, 1, "t-1".to_string(), "123456".to_string())],
        "{symbol} ticks"
    );
    let quote =
        client.query_one("SELECT bid_price, bid_size, ask_price, ask_size FROM quotes WHERE symbol = $1", &[&symbol]).await.unwrap();
    assert_eq!(
        (quote.get::<_, f64>(0), quote.get::<_, f64>(1), quote.get::<_, f64>(2), quote.get::<_, f64>(3)),
        (97000.4, 1.2, 97000.6, 0.8)
    );
    let bar = client
        .query_one("SELECT interval, open, high, low, close, volume, vwap, trades FROM bars WHERE symbol = $1", &[&symbol])
        .await
        .unwrap();
    assert_eq!(bar.get::<_, String>(0), "1m");
    let prices: Vec<f64> = (1..7).map(|column| bar.get(column)).collect();
    assert_eq!(prices, [97000.0, 97100.0, 96950.0, 97050.0, 12.5, 97020.1]);
    assert_eq!(bar.get::<_, i64>(7), 345);
    let ticker = client.query_one("SELECT last, open_24h, change_pct FROM tickers WHERE symbol = $1", &[&symbol]).await.unwrap();
    assert_eq!((ticker.get::<_, f64>(0), ticker.get::<_, f64>(1), ticker.get::<_, f64>(2)), (97000.5, 95000.0, 2.1058));
    let option = client
        .query_one(
            "SELECT symbol, option_type::text, strike::float8, expiration::text, bid, ask, iv FROM options_quotes WHERE underlying = $1",
            &[&symbol],
        )
        .await
        .unwrap();
    assert_eq!(option.get::<_, String>(0), format!("{symbol}-27DEC26-100000-C"));
    assert_eq!(
        (option.get::<_, String>(1), option.get::<_, f64>(2), option.get::<_, String>(3)),
        ("call".into(), 100000.0, "2026-12-27".into())
    );
    assert_eq!((option.get::<_, f64>(4), option.get::<_, f64>(5), option.get::<_, f64>(6)), (0.0415, 0.0425, 55.5));
    let indicator =
        client.query_one("SELECT name, value::float8, interval FROM indicator_values WHERE symbol = $1", &[&symbol]).await.unwrap();
    assert_eq!(
        (indicator.get::<_, String>(0), indicator.get::<_, f64>(1), indicator.get::<_, String>(2)),
        ("atr_14".into(), 812.75, "1h".into())
    );
    let signal = client
        .query_one(
            "SELECT source, category, direction, strength::float8, confidence::float8, content, payload->>'lookback', payload->'levels'->>1 \
             FROM signals WHERE symbol = $1",
            &[&symbol],
        )
        .await
        .unwrap();
    let texts: Vec<String> = [0, 1, 2, 5, 6, 7].iter().map(|&column| signal.get(column)).collect();
    assert_eq!(texts, ["pytest-agent", "technical", "long", "breakout", "50", "99000"]);
    assert_eq!((signal.get::<_, f64>(3), signal.get::<_, f64>(4)), (0.8, 0.65));
}

async fn text(client: &tokio_postgres::Client, query: &str) -> Vec<String> {
    client.query(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error}")).iter().map(|row| row.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_installs_and_its_records_land_exactly_once() {
    let started = Instant::now();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let python = tokio::task::block_in_place(|| venv_with_client(dir.path()));
    let installed = started.elapsed();

    let cluster = support::start_cluster();
    let push = free_port();
    let pki = TestPki::new(&["localhost"]);
    let config = write_config(dir.path(), &cluster.url("hypertick"), push, &pki);
    let mut daemon = DaemonProcess::start(&config, push);
    let url = format!("wss://localhost:{}", push.port());

    // The Python suite, against the daemon.
    let suite = tokio::task::block_in_place(|| {
        run(
            Command::new(&python)
                .args(["-m", "unittest", "discover", "-v", "-s"])
                .arg(checkout_client().join("tests"))
                .current_dir(dir.path())
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("HYPERTICK_TEST_PUSH_URL", &url)
                .env("HYPERTICK_TEST_TOKEN", TOKEN)
                .env("HYPERTICK_TEST_CA", pki.ca_path()),
            "python -m unittest discover clients/python/tests",
            "",
        )
    });
    let report = String::from_utf8_lossy(&suite.stderr).to_string();
    assert!(report.contains("\nOK") && !report.contains("skipped"), "every Python test ran and passed:\n{report}");

    let client = support::sql(&cluster).await;
    for symbol in ["PY-ASYNC", "PY-SYNC"] {
        assert_market_rows(&client, symbol).await;
    }
    // 30 significant digits into `numeric`, from both clients, digit for digit.
    assert_eq!(
        text(&client, "SELECT client_order_id || ' ' || quantity::text FROM orders WHERE venue = 'pytest' ORDER BY client_order_id").await,
        ["py-async-1 123456789012345678901.123456789", "py-sync-1 123456789012345678901.123456789"],
    );
    assert_eq!(text(&client, "SELECT limit_price::text FROM orders WHERE client_order_id = 'py-async-1'").await, ["187.50"]);
    // An order's lifecycle through `update`, its fill sent before it: waited and landed.
    let trades = "SELECT count(*) FROM trades WHERE venue = 'pytest-life'";
    assert_eq!(support::wait_for_count(&client, trades, 1).await, 1);
    assert_eq!(
        text(&client, "SELECT concat_ws(' ', status, quantity, filled_quantity, closed_at AT TIME ZONE 'UTC') FROM orders WHERE venue = 'pytest-life'").await,
        ["canceled 100 0 2026-11-22 15:00:00"]
    );
    // The later upsert of the position won.
    assert_eq!(
        text(
            &client,
            "SELECT quantity::text || ' ' || average_price::text || ' ' || market_price::text FROM positions WHERE portfolio = 'py'"
        )
        .await,
        ["10 187.123456789 191.25"],
    );
    // What the acks refused is not stored, and the database's refusal is a dead letter.
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'PY-ASYNC-FUTURE'").await, 0);
    assert_eq!(
        count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database' AND raw LIKE '%py-async-negative%'").await,
        1
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'unknown_column' AND raw LIKE '%py-async-colour%'").await,
        1
    );
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'unknown_table' AND raw LIKE '%no_such_table%'").await, 1);
    // The resent id once; the rate-limited frames, sent again, each once.
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'PY-DUP'").await, 1);
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'PY-LOG'").await, 1);
    assert_eq!(count(&client, "SELECT count(DISTINCT trade_id) FROM ticks WHERE symbol = 'PY-RATE'").await, 300);
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'PY-RATE'").await, 300);
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol LIKE 'PY-SYNC-%'").await, 0);

    // A producer mid-stream while the daemon is SIGKILLed and started again.
    let mut producer = Command::new(&python)
        .arg(checkout_client().join("tests/reconnect_producer.py"))
        .args([url.as_str(), TOKEN, "PY-RECONNECT", &RECONNECT_TICKS.to_string()])
        .arg(pki.ca_path())
        .current_dir(dir.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reconnect_producer.py");
    let mut lines = BufReader::new(producer.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let mut killed = false;
    tokio::task::block_in_place(|| {
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.starts_with("acked") && !killed {
                daemon.kill_and_restart(push, Duration::from_millis(300));
                killed = true;
            }
            printed.push(line);
        }
    });
    let status = tokio::task::block_in_place(|| producer.wait()).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut producer.stderr.take().unwrap(), &mut stderr).unwrap();
    let last = printed.last().cloned().unwrap_or_default();
    assert!(killed, "the daemon was killed while the producer sent: {printed:?}\n{stderr}");
    assert!(
        status.success() && last.starts_with(&format!("done sent={RECONNECT_TICKS} accepted={RECONNECT_TICKS} rejected=0 duplicates=")),
        "every tick accepted across the restart ({status}): {printed:?}\n{stderr}\ndaemon log:\n{}",
        tail(&daemon.log())
    );
    let field = |name: &str| -> u64 {
        let value = last.split(' ').find_map(|part| part.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {last}"));
        value.parse().unwrap()
    };
    let (duplicates, mixed, reconnects) = (field("duplicates="), field("mixed="), field("reconnects="));
    assert!(reconnects >= 1, "{last}");
    let stored = count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'PY-RECONNECT'").await;
    let distinct = count(&client, "SELECT count(DISTINCT trade_id) FROM ticks WHERE symbol = 'PY-RECONNECT'").await;
    println!(
        "python client: venv and pip install {:.1} s; across a SIGKILL: sent {RECONNECT_TICKS} / accepted {RECONNECT_TICKS} / \
         stored {stored} / distinct {distinct} / acked as duplicates {duplicates} (+ {mixed} in frames of new and resent records) / reconnects {reconnects}; whole test {:.1} s",
        installed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("the producer's log:\n{stderr}");
    assert_eq!((stored, distinct), (RECONNECT_TICKS, RECONNECT_TICKS), "every tick stored exactly once");
    assert!(daemon.stop().success(), "clean stop");
}
