//! `hypertick import` as a user runs it (the built binary) against a throwaway
//! PostgreSQL: every format and compression, mappings and constants, bad lines in
//! `dead_letters`, `--max-errors`, a file already imported or changed since, and a
//! SIGKILL in the middle of a file followed by a re-run that completes it without a
//! duplicate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hypertick::db::throwaway::ThrowawayCluster;
use hypertick::record::Timestamp;

use crate::support::{self, count};

/// The first tick's time: a day ago, whole seconds.
fn base_micros() -> i64 {
    (Timestamp::now().micros() / 1_000_000 - 86_400) * 1_000_000
}

/// Tick `index` as its CSV line: time, venue, symbol, price, size, side, trade_id.
fn tick_csv(index: u64, base: i64) -> String {
    let time = Timestamp(base + index as i64 * 1_000);
    let side = if index.is_multiple_of(2) { "buy" } else { "sell" };
    format!("{time},test,SYM-{},{}.25,{}.5,{side},t{index}\n", index % 7, 100 + index % 1000, index % 10)
}

fn tick_ndjson(index: u64, base: i64) -> String {
    let time_ns = (base + index as i64 * 1_000) * 1_000;
    format!(
        "{{\"ts\":{time_ns},\"venue\":\"test\",\"symbol\":\"SYM-{}\",\"price\":{}.25,\"size\":\"{}.5\",\"side\":\"{}\",\"trade_id\":\"t{index}\"}}\n",
        index % 7,
        100 + index % 1000,
        index % 10,
        if index.is_multiple_of(2) { "b" } else { "s" }
    )
}

const TICK_HEADER: &str = "time,venue,symbol,price,size,side,trade_id\n";

fn write_file(path: &Path, text: &str) {
    let file = std::fs::File::create(path).unwrap();
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
    } else if name.ends_with(".zst") {
        let mut encoder = zstd::stream::write::Encoder::new(file, 3).unwrap();
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
    } else {
        std::io::BufWriter::new(file).write_all(text.as_bytes()).unwrap();
    }
}

/// A configuration file for `cluster` in `dir`.
fn config_file(dir: &Path, cluster: &ThrowawayCluster) -> PathBuf {
    let path = dir.join("hypertick.toml");
    std::fs::write(&path, format!("[database]\nurl = \"{}\"\n", cluster.url("hypertick"))).unwrap();
    path
}

fn import_command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hypertick"));
    command.arg("import").arg("--config").arg(config).args(args).env_remove("RUST_LOG");
    command
}

fn import(config: &Path, args: &[&str]) -> Output {
    let output = import_command(config, args).output().expect("run hypertick import");
    println!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

async fn duplicates(client: &tokio_postgres::Client) -> i64 {
    count(client, "SELECT count(*) FROM (SELECT trade_id FROM ticks GROUP BY trade_id HAVING count(*) > 1) AS doubled").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_ndjson_gzip_and_zstd_files_land_exactly() {
    let cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &cluster);
    let base = base_micros();
    let csv = |range: std::ops::Range<u64>| format!("{TICK_HEADER}{}", range.map(|index| tick_csv(index, base)).collect::<String>());
    let ndjson = |range: std::ops::Range<u64>| range.map(|index| tick_ndjson(index, base)).collect::<String>();
    let files = [
        ("plain.csv", csv(0..1_000)),
        ("gzip.csv.gz", csv(1_000..2_000)),
        ("zstd.csv.zst", csv(2_000..3_000)),
        ("plain.ndjson", ndjson(3_000..4_000)),
        ("gzip.jsonl.gz", ndjson(4_000..5_000)),
        ("zstd.ndjson.zst", ndjson(5_000..6_000)),
    ];
    for (name, content) in &files {
        write_file(&dir.path().join(name), content);
    }
    let client = support::sql(&cluster).await;
    // CSV files with the default names, then NDJSON with `ts` for the time.
    let paths = |names: &[&str]| names.iter().map(|name| dir.path().join(name).display().to_string()).collect::<Vec<_>>();
    let csv_paths = paths(&["plain.csv", "gzip.csv.gz", "zstd.csv.zst"]);
    let mut args = vec!["--table", "ticks", "--chunk-bytes", "4096", "--chunk-lines", "97", "--writers", "2"];
    args.extend(csv_paths.iter().map(String::as_str));
    let output = import(&config, &args);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("imported: 3000 rows into ticks from 3 file(s)"), "{}", text(&output));
    let ndjson_paths = paths(&["plain.ndjson", "gzip.jsonl.gz", "zstd.ndjson.zst"]);
    let mut args = vec!["--table", "ticks", "--mapping", "time=ts", "--time-unit", "ns", "--chunk-lines", "250"];
    args.extend(ndjson_paths.iter().map(String::as_str));
    let output = import(&config, &args);
    assert!(output.status.success(), "{}", text(&output));

    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 6_000);
    assert_eq!(duplicates(&client).await, 0);
    let rows = client
        .query(
            "SELECT trade_id, symbol, price, size, side, (extract(epoch FROM time) * 1000000)::int8 FROM ticks
              WHERE trade_id IN ('t0', 't1999', 't2500', 't3001', 't4444', 't5999') ORDER BY time",
            &[],
        )
        .await
        .unwrap();
    let found: Vec<(String, String, f64, f64, i16, i64)> =
        rows.iter().map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5))).collect();
    let expected: Vec<(String, String, f64, f64, i16, i64)> = [0u64, 1999, 2500, 3001, 4444, 5999]
        .iter()
        .map(|&index| {
            let side = if index.is_multiple_of(2) { 1 } else { -1 };
            let price = (100 + index % 1000) as f64 + 0.25;
            (format!("t{index}"), format!("SYM-{}", index % 7), price, (index % 10) as f64 + 0.5, side, base + index as i64 * 1_000)
        })
        .collect();
    assert_eq!(found, expected);
    let marks = count(&client, "SELECT count(*) FROM ingest_offsets WHERE stream LIKE 'import/ticks/%/done'").await;
    assert_eq!(marks, 6, "every file is marked done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bars_with_mapped_columns_and_constants() {
    let cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &cluster);
    let base = base_micros() / 60_000_000 * 60_000_000;
    let mut content = String::from("ts;o;h;l;c;v\n");
    for minute in 0..500i64 {
        let open = 100.0 + minute as f64;
        content.push_str(&format!(
            "{};{open};{};{};{};{minute}\n",
            (base + minute * 60_000_000) / 1_000,
            open + 2.0,
            open - 1.0,
            open + 1.0
        ));
    }
    let path = dir.path().join("bars.csv.gz");
    write_file(&path, &content);
    let path = path.display().to_string();
    let args = [
        "--table",
        "bars",
        "--delimiter",
        ";",
        "--mapping",
        "time=ts,open=o,high=h,low=l,close=c,volume=v",
        "--set",
        "venue=vendor,symbol=BTC-USD",
        "--set",
        "interval=1m",
        "--time-unit",
        "ms",
        path.as_str(),
    ];
    let output = import(&config, &args);
    assert!(output.status.success(), "{}", text(&output));
    let client = support::sql(&cluster).await;
    let row = client
        .query_one(
            "SELECT count(*), sum(volume)::int8, min(open), max(close), count(DISTINCT venue || symbol || interval)
               FROM bars WHERE venue = 'vendor' AND symbol = 'BTC-USD' AND interval = '1m'",
            &[],
        )
        .await
        .unwrap();
    let summary: (i64, i64, f64, f64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(summary, (500, (0..500).sum::<i64>(), 100.0, 600.0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_dead_lettered_with_file_and_line() {
    let cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &cluster);
    let base = base_micros();
    let mut content = String::from(TICK_HEADER);
    for index in 0..10 {
        content.push_str(&tick_csv(index, base));
    }
    // Lines 12 to 15: a price that is no number, a time that is none, a missing
    // column, and a time older than the ticks' retention (two years).
    content.push_str("2026-01-01T00:00:00Z,test,SYM,abc,1,buy,bad1\n");
    content.push_str("yesterday,test,SYM,1,1,buy,bad2\n");
    content.push_str("2026-01-01T00:00:00Z,test,SYM\n");
    content.push_str("2001-01-01T00:00:00Z,test,SYM,1,1,buy,bad4\n");
    content.push_str(&tick_csv(10, base));
    let path = dir.path().join("some bad.csv");
    write_file(&path, &content);
    let shown = path.display().to_string();
    let output = import(&config, &["--table", "ticks", shown.as_str()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("11 rows, 4 bad line(s)"), "{}", text(&output));
    let client = support::sql(&cluster).await;
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 11);
    let letters: Vec<(String, String, String)> = client
        .query("SELECT reason, detail, raw FROM dead_letters WHERE source = 'import' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let reasons: Vec<&str> = letters.iter().map(|(reason, _, _)| reason.as_str()).collect();
    assert_eq!(reasons, ["invalid_field", "invalid_field", "missing_field", "older_than_retention"]);
    for (offset, (_, detail, _)) in letters.iter().enumerate() {
        assert!(detail.starts_with(&format!("{shown} line {}: ", 12 + offset)), "{detail}");
    }
    assert!(letters[0].1.contains("`price`"), "{}", letters[0].1);
    assert_eq!(letters[1].2, "yesterday,test,SYM,1,1,buy,bad2");

    // Past --max-errors the import stops cleanly, saying why, and keeps what it committed.
    let mut many_bad = String::from(TICK_HEADER);
    for index in 0..30 {
        many_bad.push_str(&format!("never,test,SYM,1,1,buy,x{index}\n"));
    }
    let path = dir.path().join("all bad.csv");
    write_file(&path, &many_bad);
    let shown = path.display().to_string();
    let output = import(&config, &["--table", "ticks", "--max-errors", "5", shown.as_str()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("more than 5 lines were refused (--max-errors)"), "{}", text(&output));
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_file_is_skipped_and_a_changed_one_refused() {
    let cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &cluster);
    let base = base_micros();
    let path = dir.path().join("ticks.csv");
    let mut content = format!("{TICK_HEADER}{}", (0..500).map(|index| tick_csv(index, base)).collect::<String>());
    write_file(&path, &content);
    let shown = path.display().to_string();
    let args = ["--table", "ticks", "--chunk-bytes", "4096", shown.as_str()];
    assert!(import(&config, &args).status.success());
    let again = import(&config, &args);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("already imported, skipped"), "{}", text(&again));
    let client = support::sql(&cluster).await;
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 500);

    content.push_str(&tick_csv(500, base));
    write_file(&path, &content);
    let changed = import(&config, &args);
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed));
    assert!(text(&changed).contains("changed since it was imported into ticks"), "{}", text(&changed));
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_import_resumes_without_duplicates() {
    let cluster = support::start_cluster();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &cluster);
    let base = base_micros();
    let total: i64 = 400_000;
    let path = dir.path().join("big.csv");
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        file.write_all(TICK_HEADER.as_bytes()).unwrap();
        for index in 0..total as u64 {
            file.write_all(tick_csv(index, base).as_bytes()).unwrap();
        }
    }
    let shown = path.display().to_string();
    let args = ["--table", "ticks", "--chunk-bytes", "65536", "--writers", "2", shown.as_str()];
    let client = support::sql(&cluster).await;
    let mut child = import_command(&config, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Killed once a few chunks are committed, while most of the file is still to come.
    let marks = "SELECT count(*) FROM ingest_offsets WHERE stream LIKE 'import/ticks/%' AND stream NOT LIKE 'import/ticks/writer/%'";
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let committed = client.query_one(marks, &[]).await.map(|row| row.get::<_, i64>(0)).unwrap_or(0);
        if committed >= 25 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal, not finished");
    // A COMMIT the killed import had sent may still be finishing on its server process:
    // counted before those processes end, a chunk committed after the count is missed.
    let others = "SELECT count(*) FROM pg_stat_activity \
                  WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&client, others).await > 0 {
        assert!(Instant::now() < deadline, "the killed import's server processes did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after_kill = count(&client, "SELECT count(*) FROM ticks").await;
    let chunks_after_kill = count(&client, marks).await;
    assert!(after_kill > 0 && after_kill < total, "killed mid-file: {after_kill} of {total} rows present");

    let output = import(&config, &args);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains(&format!("resumed after {chunks_after_kill} chunk(s) committed earlier")), "{}", text(&output));
    let after_resume = count(&client, "SELECT count(*) FROM ticks").await;
    let doubled = duplicates(&client).await;
    let distinct = count(&client, "SELECT count(DISTINCT trade_id) FROM ticks").await;
    println!(
        "resume without duplicates: rows in file {total}; present after SIGKILL {after_kill} ({chunks_after_kill} chunks committed); \
         after resume {after_resume}; distinct trade ids {distinct}; duplicates {doubled}"
    );
    assert_eq!((after_resume, distinct, doubled), (total, total, 0));
}
