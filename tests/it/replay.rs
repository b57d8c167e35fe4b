//! Record and replay: a Binance source recording (`record`) what the fake venue sends —
//! trades, a book ticker, bars, garbage, a dropped connection and a resubscribe that
//! re-sends a trade — then `hypertick replay` of the capture into fresh databases, at
//! full speed and at the recorded pace, giving the same rows as the live run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const ACK: &str = r#"{"result":null,"id":{id}}"#;

fn trade(id: u64, price: &str, time_ms: i64) -> String {
    format!(
        r#"{{"e":"trade","E":{time_ms},"s":"BTCUSDT","t":{id},"p":"{price}","q":"0.5","T":{time_ms},"m":{},"M":true}}"#,
        id.is_multiple_of(2)
    )
}

fn kline(start: i64, closed: bool) -> String {
    format!(
        r#"{{"e":"kline","E":{e},"s":"ETHUSDT","k":{{"t":{start},"T":{end},"s":"ETHUSDT","i":"1m","f":1,"L":9,"o":"3300.10","c":"3301.00","h":"3302.50","l":"3299.00","v":"4.0","n":9,"x":{closed},"q":"13202.0","V":"2","Q":"1","B":"0"}}}}"#,
        e = start + 60_000,
        end = start + 59_999
    )
}

/// Every row of the market tables and the source's dead letters, as text, in order.
async fn market_rows(client: &tokio_postgres::Client) -> Vec<String> {
    let mut rows = Vec::new();
    for query in [
        "SELECT 'ticks ' || t::text FROM ticks t ORDER BY t::text",
        "SELECT 'quotes ' || q::text FROM quotes q ORDER BY q::text",
        "SELECT 'bars ' || b::text FROM bars b ORDER BY b::text",
        "SELECT 'dead letter ' || reason || ' ' || raw FROM dead_letters WHERE source = 'binance' ORDER BY raw",
    ] {
        rows.extend(client.query(query, &[]).await.unwrap().iter().map(|row| row.get::<_, String>(0)));
    }
    rows
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_feed_replays_into_the_same_rows() {
    let base = now_ms() / 60_000 * 60_000 - 120_000;
    let first = vec![
        Step::Expect("SUBSCRIBE", ACK.to_string()),
        Step::Send(trade(100, "97000.50", base + 1_000)),
        Step::Send(trade(101, "97001.00", base + 2_000)),
        Step::Send(
            r#"{"stream":"ethusdt@bookTicker","data":{"u":400900217,"s":"ETHUSDT","b":"3300.10","B":"1.5","a":"3300.20","A":"2.5"}}"#
                .to_string(),
        ),
        Step::Send(kline(base, false)),
        Step::Send(kline(base, true)),
        Step::Send(trade(104, "97002.00", base + 3_000)),
        Step::Send("{not json".to_string()),
        Step::Sleep(Duration::from_millis(100)),
        Step::Drop,
    ];
    let second = vec![
        Step::Expect("SUBSCRIBE", ACK.to_string()),
        Step::Send(trade(104, "97002.00", base + 3_000)),
        Step::Send(trade(105, "97003.00", base + 4_000)),
    ];
    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let capture_dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&cluster);
    let mut recording =
        source(SourceKind::Binance, venue.url(), &["BTCUSDT", "ETHUSDT"], &[Channel::Trades, Channel::Quotes, Channel::Bars]);
    recording.record = Some(capture_dir.path().join("captures"));
    recording.record_zstd = true;
    config.sources = vec![recording];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM ticks", 4).await, 4);
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM bars", 1).await, 1);
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM feed_events WHERE kind = 'resubscribed'", 1).await, 1);
    daemon.stop().await.expect("clean stop");
    let live_rows = market_rows(&live).await;
    let files = captures(&capture_dir.path().join("captures"));
    assert!(!files.is_empty() && files.iter().all(|path| path.to_string_lossy().ends_with(".ndjson.zst")), "{files:?}");

    for (database, pace) in [("replayed_max", vec!["--max"]), ("replayed_paced", vec!["--speed", "1"])] {
        live.batch_execute(&format!("CREATE DATABASE {database}")).await.unwrap();
        let config_path = capture_dir.path().join(format!("{database}.toml"));
        std::fs::write(
            &config_path,
            format!(
                "[database]\nurl = \"{}\"\n\n[[sources]]\nkind = \"binance\"\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nchannels = [\"trades\", \"quotes\", \"bars\"]\n",
                cluster.url(database)
            ),
        )
        .unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hypertick"))
            .arg("replay")
            .arg("--config")
            .arg(&config_path)
            .args(&pace)
            .args(&files)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run hypertick replay");
        let printed = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{printed}");
        let replayed_client = hypertick::db::connect(&cluster.url(database), Duration::from_secs(10)).await.unwrap();
        let replayed_rows = market_rows(&replayed_client).await;
        println!("{pace:?}: {}", printed.trim());
        println!(
            "{pace:?}: live run {} rows, replay {} rows ({} ticks, {} quotes, {} bars, {} dead letters); identical: {}",
            live_rows.len(),
            replayed_rows.len(),
            replayed_rows.iter().filter(|row| row.starts_with("ticks ")).count(),
            replayed_rows.iter().filter(|row| row.starts_with("quotes ")).count(),
            replayed_rows.iter().filter(|row| row.starts_with("bars ")).count(),
            replayed_rows.iter().filter(|row| row.starts_with("dead letter ")).count(),
            live_rows == replayed_rows
        );
        assert_eq!(replayed_rows, live_rows, "replay ({pace:?}) gives the live run's rows, receipt times included");
        assert!(printed.contains("2 connection(s)"), "{printed}");
    }
    assert_eq!(live_rows.len(), 4 + 1 + 1 + 1);
}
