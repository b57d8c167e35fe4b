//! `hypertick bench-import`: how fast `hypertick import` loads a large CSV compared
//! with `psql \copy … (format csv)` of the same file into the same table, side by side
//! in one run (these machines are shared and noisy).
//!
//! It writes a CSV of ticks, starts a throwaway PostgreSQL, creates the partitions the
//! data needs (so that no method pays for them), then measures, truncating `ticks`
//! between runs: `\copy` on one connection; `\copy` of the file split into N parts on
//! N connections at once; `hypertick import` with 1 writer, and with N. Every run is
//! checked to leave exactly the file's rows. The table goes to stdout and, with the
//! command and the machine, to `<out>/import.md` and `<out>/import.json`.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use super::args::ImportSettings;
use super::run::import;
use crate::config::{Config, TimeUnit};
use crate::db::throwaway::{find_bindir, ClusterOptions, ThrowawayCluster};
use crate::db::{self, Partitions};
use crate::record::{Table, Timestamp};
use crate::source::file::{FileFormat, MappingSpec};
use crate::source::push::PushRows;

#[derive(Debug, Args)]
pub struct BenchImportArgs {
    /// Rows in the generated CSV of ticks.
    #[arg(long, value_name = "N", default_value_t = 5_000_000)]
    pub rows: u64,
    /// Connections of the parallel runs (psql processes; import writers).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub connections: usize,
    /// Rounds of the four runs; the fastest run of each method counts.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub repeat: usize,
    /// Directory for the generated files (default: a temporary one; removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where `import.md` and `import.json` are written.
    #[arg(long, value_name = "DIR", default_value = "docs/bench")]
    pub out: PathBuf,
}

const COLUMNS: &str = "time, received_at, venue, symbol, price, size, side, trade_id";

/// One measured run.
#[derive(Debug, Clone, serde::Serialize)]
struct Measurement {
    method: &'static str,
    connections: usize,
    rows: u64,
    seconds: f64,
    rows_per_sec: f64,
}

pub async fn run(args: BenchImportArgs) -> anyhow::Result<()> {
    // Stopped on SIGINT or SIGTERM with its throwaway cluster (whose `Drop` would not run).
    tokio::spawn(crate::shutdown::exit_on_signal("the import bench"));
    if args.rows == 0 || args.connections == 0 || args.repeat == 0 {
        bail!("--rows, --connections and --repeat must be above 0");
    }
    let bindir = find_bindir().context("PostgreSQL server binaries are needed (see `hypertick demo`)")?;
    let psql = bindir.join("psql");
    if !psql.is_file() {
        bail!("{} is missing; the benchmark compares with psql's \\copy", psql.display());
    }
    let temporary =
        tempfile::Builder::new().prefix("hypertick-bench-import-").tempdir_in(args.dir.as_deref().unwrap_or(&std::env::temp_dir()))?;
    let file = temporary.path().join("ticks.csv");
    let (rows, connections) = (args.rows, args.connections);
    println!("writing {rows} ticks to {} …", file.display());
    let (first, last) = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || generate(&file, rows)).await??
    };
    let bytes = std::fs::metadata(&file)?.len();
    let parts = {
        let (file, dir) = (file.clone(), temporary.path().to_path_buf());
        tokio::task::spawn_blocking(move || split(&file, &dir, connections)).await??
    };
    println!("starting a throwaway PostgreSQL …");
    let options = ClusterOptions { fsync: true, settings: vec![("max_wal_size".into(), "2GB".into())] };
    let cluster = tokio::task::spawn_blocking(move || ThrowawayCluster::start(options)).await??;
    let url = cluster.url("hypertick");
    let mut config = Config::loopback(&url);
    config.server = None;
    config.metrics.enabled = false;
    let schema = db::prepare_schema(&config, &PushRows).await?;
    let mut client = db::connect(&url, Duration::from_secs(10)).await?;
    let partitions = Partitions::new(db::partition_plans(&config, schema.profile));
    if let Some(plan) = partitions.plan(Table::Ticks).copied() {
        let slots: Vec<i64> = (first.micros().div_euclid(plan.width_micros)..=last.micros().div_euclid(plan.width_micros))
            .map(|slot| slot * plan.width_micros)
            .collect();
        partitions.ensure(&mut client, Table::Ticks, &slots).await?;
    }
    let server_version: String = client.query_one("SHOW server_version", &[]).await?.get(0);

    let mut measured: Vec<Measurement> = Vec::new();
    for round in 1..=args.repeat {
        println!("round {round} of {}", args.repeat);
        for (method, connections) in
            [("psql \\copy", 1), ("psql \\copy", args.connections), ("hypertick import", 1), ("hypertick import", args.connections)]
        {
            client.batch_execute("TRUNCATE ticks; DELETE FROM ingest_offsets WHERE stream LIKE 'import/%'; CHECKPOINT").await?;
            let started = Instant::now();
            if method == "hypertick import" {
                let report = import(&config, &settings(connections), std::slice::from_ref(&file)).await?;
                if let Some(reason) = report.stopped {
                    bail!("the import stopped: {reason}");
                }
            } else {
                let files = if connections == 1 { vec![file.clone()] } else { parts.clone() };
                let (psql, url) = (psql.clone(), url.clone());
                tokio::task::spawn_blocking(move || copy_in_parallel(&psql, &url, &files)).await??;
            }
            let seconds = started.elapsed().as_secs_f64();
            let stored: i64 = client.query_one("SELECT count(*) FROM ticks", &[]).await?.get(0);
            if stored as u64 != rows {
                bail!("{method} on {connections} connection(s) left {stored} rows, not {rows}");
            }
            let measurement = Measurement { method, connections, rows, seconds, rows_per_sec: rows as f64 / seconds };
            println!("  {method:<17} {connections:>2} connection(s): {seconds:>7.2} s  {:>10.0} rows/s", measurement.rows_per_sec);
            measured.push(measurement);
        }
    }
    let best = fastest(&measured, args.connections);
    let command = format!("hypertick bench-import --rows {} --connections {} --repeat {}", args.rows, args.connections, args.repeat);
    let machine = machine(&server_version);
    let markdown = report_markdown(&best, &measured, &command, &machine, bytes);
    println!("\n{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("import.md"), &markdown)?;
    let json = serde_json::json!({
        "command": command,
        "machine": machine,
        "rows": rows,
        "file_bytes": bytes,
        "connections": args.connections,
        "results": best,
        "all_runs": measured,
    });
    std::fs::write(args.out.join("import.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    println!("written: {} and {}", args.out.join("import.md").display(), args.out.join("import.json").display());
    Ok(())
}

fn settings(writers: usize) -> ImportSettings {
    ImportSettings {
        table: Table::Ticks,
        format: Some(FileFormat::Csv),
        spec: MappingSpec::default(),
        writers,
        threads: std::thread::available_parallelism().map_or(2, usize::from),
        chunk_bytes: crate::config::ImportConfig::default().chunk_bytes,
        chunk_lines: crate::config::ImportConfig::default().chunk_lines.get(),
        max_errors: 0,
        time_unit: TimeUnit::Auto,
        delimiter: b',',
        allow_changed: true,
        progress: false,
    }
}

/// Writes `rows` ticks over the last day (50 symbols, random walks); returns the
/// first and last times.
fn generate(path: &Path, rows: u64) -> anyhow::Result<(Timestamp, Timestamp)> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "{}", COLUMNS.replace(' ', ""))?;
    let now = Timestamp::now().micros();
    let first = now - 86_400_000_000;
    let step = (86_000_000_000 / rows as i64).max(1);
    let mut random = fastrand::Rng::with_seed(7);
    let mut prices: Vec<f64> = (0..50).map(|symbol| 10.0 + symbol as f64 * 37.5).collect();
    let mut time = first;
    for index in 0..rows {
        let symbol = random.usize(..prices.len());
        prices[symbol] = (prices[symbol] * (1.0 + (random.f64() - 0.5) * 0.001)).max(0.01);
        let side = if random.bool() { 1 } else { -1 };
        let size = (random.f64() * 10_000.0).round() / 1_000.0;
        writeln!(out, "{},{},bench,SYM-{symbol:02},{:.2},{size},{side},{index}", Timestamp(time), Timestamp(time + 1_500), prices[symbol])?;
        time += step;
    }
    out.flush()?;
    Ok((Timestamp(first), Timestamp(time - step)))
}

/// The file cut into `parts` files of whole lines, each with the header.
fn split(path: &Path, dir: &Path, parts: usize) -> anyhow::Result<Vec<PathBuf>> {
    let size = std::fs::metadata(path)?.len();
    let mut input = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut header = String::new();
    input.read_line(&mut header)?;
    let mut paths = Vec::with_capacity(parts);
    let mut line = Vec::new();
    for part in 0..parts {
        let part_path = dir.join(format!("part-{part}.csv"));
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&part_path)?);
        out.write_all(header.as_bytes())?;
        let mut written = 0u64;
        let share = size / parts as u64;
        while part + 1 == parts || written < share {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            out.write_all(&line)?;
            written += line.len() as u64;
        }
        out.flush()?;
        paths.push(part_path);
    }
    Ok(paths)
}

/// One `psql \copy` per file, all at once; waits for every one.
fn copy_in_parallel(psql: &Path, url: &str, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut children = Vec::with_capacity(files.len());
    for file in files {
        let quoted = file.display().to_string().replace('\'', "''");
        let copy = format!("\\copy ticks ({COLUMNS}) FROM '{quoted}' WITH (FORMAT csv, HEADER true)");
        let child = Command::new(psql).args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", &copy]).spawn()?;
        children.push(child);
    }
    for mut child in children {
        let status = child.wait()?;
        if !status.success() {
            bail!("psql \\copy failed: {status}");
        }
    }
    Ok(())
}

/// The fastest run of each method and connection count, in the table's order.
fn fastest(measured: &[Measurement], connections: usize) -> Vec<Measurement> {
    let mut best = Vec::new();
    for (method, count) in [("psql \\copy", 1), ("psql \\copy", connections), ("hypertick import", 1), ("hypertick import", connections)] {
        let runs = measured.iter().filter(|run| run.method == method && run.connections == count);
        if let Some(run) = runs.min_by(|left, right| left.seconds.total_cmp(&right.seconds)) {
            if !best.iter().any(|known: &Measurement| known.method == method && known.connections == count) {
                best.push(run.clone());
            }
        }
    }
    best
}

fn machine(server_version: &str) -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").ok().and_then(|text| text.split_whitespace().next().map(str::to_string));
    let load = load.map_or(String::new(), |load| format!(", load average {load} at the end"));
    format!("{cores} cores ({cpu}), shared{load}; PostgreSQL {server_version} (throwaway cluster, fsync on, max_wal_size 2GB)")
}

fn report_markdown(best: &[Measurement], measured: &[Measurement], command: &str, machine: &str, bytes: u64) -> String {
    let baseline = best.first().map_or(1.0, |run| run.rows_per_sec);
    let parallel_copy = best.get(1).map_or(1.0, |run| run.rows_per_sec);
    let rows = best.first().map_or(0, |run| run.rows);
    let mut text = format!(
        "# Import benchmark\n\n`{command}`\n\nA generated CSV of {rows} ticks ({:.0} MiB) loaded into `ticks` (vanilla profile; the \
         partitions the data needs are created first), truncated between runs, every run checked to leave exactly \
         {rows} rows. `psql \\copy … (format csv)` reads the file on one connection, or the file split into parts \
         on one connection each, all at once; `hypertick import` parses and encodes on every core and writes binary \
         COPY through its writers. Fastest run of each.\n\nMachine: {machine}.\n\n\
         | method | connections | seconds | rows/s | vs `\\copy` on 1 | vs `\\copy` on {} |\n|---|---:|---:|---:|---:|---:|\n",
        bytes as f64 / (1u64 << 20) as f64,
        best.get(1).map_or(0, |run| run.connections)
    );
    for run in best {
        text.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.2}× | {:.2}× |\n",
            run.method,
            run.connections,
            run.seconds,
            run.rows_per_sec,
            run.rows_per_sec / baseline,
            run.rows_per_sec / parallel_copy
        ));
    }
    if let Some(ours) = best.iter().filter(|run| run.method == "hypertick import").map(|run| run.rows_per_sec).reduce(f64::max) {
        let verdict = |met: bool| if met { "met" } else { "not met" };
        text.push_str(&format!(
            "\nGoals: at least 1.5× `\\copy` on one connection — {} ({:.2}×); at least `\\copy` on several connections — {} ({:.2}×).\n",
            verdict(ours >= 1.5 * baseline),
            ours / baseline,
            verdict(ours >= parallel_copy),
            ours / parallel_copy
        ));
    }
    let connections = best.get(1).map_or(0, |run| run.connections);
    text.push_str(&format!(
        "\nEvery run, rows/s:\n\n| round | `\\copy` on 1 | `\\copy` on {connections} | import, 1 writer | import, {connections} writers |\n|---:|---:|---:|---:|---:|\n"
    ));
    for (round, runs) in measured.chunks(4).enumerate() {
        let cells: Vec<String> = runs.iter().map(|run| format!("{:.0}", run.rows_per_sec)).collect();
        text.push_str(&format!("| {} | {} |\n", round + 1, cells.join(" | ")));
    }
    text
}
