//! Both schema profiles side by side (`--only profiles`): a vanilla throwaway cluster
//! and, where TimescaleDB is installed, a throwaway cluster that preloads it (or only
//! the database of `--database-url`, whatever its profile). On each, into the same
//! `ticks` table:
//!
//! - the raw binary COPY ceiling (pre-encoded 10 000-row batches on N connections, as
//!   `\copy … (FORMAT binary)` sends them) into the row store, without and (TimescaleDB)
//!   with the `(time DESC)` index; the ceiling without it is measured first and again
//!   after the other raw runs, and the ratios take the higher of the two;
//! - each profile's cluster runs only while it is measured, and TimescaleDB's policy
//!   jobs are paused for the whole profile (raw runs and hypertick alike), resumed at
//!   the end;
//! - the cookbook's queries (`docs/queries.md`) on the data that run left, then again on
//!   the same data once the time index is added (TimescaleDB);
//! - hypertick end to end (push, max rate) with `write_mode = "copy"`, measured twice
//!   like the ceiling and its ratio taking the higher of the two, and on
//!   TimescaleDB with `write_mode = "direct_compress"`, then the cookbook on the
//!   columnstore data it wrote;
//! - the compression ratio: the row-store data compressed (`compress_chunk`), read from
//!   `hypertable_columnstore_stats`, and the bytes per row of direct compress.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::Client;

use super::baselines::{self, Method};
use super::run::{progress_line, BenchContext, SourceFormat};
use crate::cli::BenchArgs;
use crate::db::throwaway::{timescaledb_installed, ClusterOptions, ThrowawayCluster};
use crate::db::Profile;

/// One profile's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileRun {
    /// `vanilla` or `timescaledb`.
    pub profile: String,
    /// Where the figures come from: the cluster kind and how it was started.
    pub database: String,
    /// Server settings that shape the figures.
    pub server_settings: Vec<(String, String)>,
    /// Indexes on `ticks` in the measured setup (`pg_indexes.indexdef`).
    pub indexes: Vec<String>,
    /// Raw binary COPY, N connections, into the row store.
    pub raw_copy: Vec<Figure>,
    /// hypertick end to end, push at max rate.
    pub hypertick: Vec<Figure>,
    /// Ratios against the raw COPY ceiling without the time index.
    pub ratios: Vec<super::figures::Ratio>,
    /// Row-store data compressed afterwards: bytes before and after.
    pub compression: Option<Compression>,
    /// The cookbook's queries on the data of a run, in ms (the best of three).
    pub queries: Vec<QuerySet>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub write_mode: String,
    pub time_index: bool,
    pub rows_per_sec: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Compression {
    pub rows: i64,
    pub before_bytes: i64,
    pub after_bytes: i64,
    pub ratio: f64,
    /// Bytes per row of the data direct compress wrote (the whole hypertable).
    pub direct_compress_bytes_per_row: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuerySet {
    /// Which data: the run that wrote it and how it is stored.
    pub data: String,
    pub rows: i64,
    /// (query heading, ms).
    pub times_ms: Vec<(String, f64)>,
}

/// The profiles to measure, in order: the vanilla one, and the TimescaleDB one where
/// the extension is installed.
fn profiles_to_measure() -> Vec<Profile> {
    let mut profiles = vec![Profile::Vanilla];
    if timescaledb_installed() {
        profiles.push(Profile::TimescaleDb);
    }
    profiles
}

/// Starts the throwaway cluster of `profile`; returns it with its description.
fn start_cluster(profile: Profile) -> anyhow::Result<(String, ThrowawayCluster)> {
    if profile == Profile::TimescaleDb {
        println!("starting a TimescaleDB throwaway cluster (timescaledb preloaded, fsync on)…");
        let options = ClusterOptions::default().with_timescaledb();
        let settings: Vec<String> = options.settings.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let cluster = ThrowawayCluster::start(options).context("starting the TimescaleDB throwaway cluster")?;
        let description =
            format!("a throwaway PostgreSQL cluster started by the bench with {} (fsync on, other settings default)", settings.join(", "));
        return Ok((description, cluster));
    }
    println!("starting a vanilla throwaway PostgreSQL cluster (fsync on, default settings)…");
    let cluster = ThrowawayCluster::start(ClusterOptions::default()).context("starting the vanilla throwaway cluster")?;
    Ok(("a throwaway PostgreSQL cluster started by the bench (fsync on, server defaults)".to_string(), cluster))
}

/// Runs the comparison; returns one entry per profile measured and, when TimescaleDB
/// could not be measured, why. Each profile's cluster runs only while that profile is
/// measured: a cluster left running beside it does its own background work (autovacuum
/// of the rows just written, TimescaleDB's jobs) on the same two cores.
pub async fn run(args: &BenchArgs, spool_dir: &std::path::Path) -> anyhow::Result<(Vec<ProfileRun>, Option<String>)> {
    let mut runs = Vec::new();
    if let Some(url) = &args.database_url {
        let description = format!("the database of --database-url ({}), not started by the bench", crate::db::describe_url(url));
        runs.push(measure_profile(args, url, None, description, spool_dir).await?);
        return Ok((runs, None));
    }
    let profiles = tokio::task::spawn_blocking(profiles_to_measure).await?;
    if profiles.len() == 1 {
        println!("TimescaleDB is not installed in this PostgreSQL: measuring the vanilla profile only");
    }
    let missing =
        (profiles.len() == 1).then(|| "TimescaleDB is not installed in this PostgreSQL: only the vanilla profile was measured".to_string());
    for profile in profiles {
        let (description, cluster) = tokio::task::spawn_blocking(move || start_cluster(profile)).await??;
        runs.push(measure_profile(args, &cluster.url("hypertick"), Some(cluster.data_dir()), description, spool_dir).await?);
        tokio::task::spawn_blocking(move || drop(cluster)).await?;
    }
    Ok((runs, missing))
}

/// Raw binary COPY into `ticks` on the bench's connections, one figure at a time.
struct RawCopy<'a> {
    url: &'a str,
    connections: usize,
    warmup: Duration,
    measure: Duration,
}

impl RawCopy<'_> {
    /// Rows per second of `prepared`'s COPY batches, `session` run first on each
    /// connection; progress under `label`, then the figure.
    async fn measure(&self, label: &str, prepared: &baselines::Prepared, session: &str) -> anyhow::Result<f64> {
        let rows_per_sec =
            baselines::measure(self.url, Method::Copy, self.connections, prepared, self.warmup, self.measure, session, |rows| {
                progress_line(label, &format!("{rows} rows in the window"));
            })
            .await?;
        println!("\r{label}: {rows_per_sec:.0} rows/s{:30}", "");
        Ok(rows_per_sec)
    }
}

/// Rows per batch of the direct-compress runs, raw and the daemon's (1000 per symbol of 50).
const DIRECT_COMPRESS_BATCH_ROWS: usize = 50_000;
pub(super) const DIRECT_COMPRESS_TICKS: &str = "[tables.ticks]\nwrite_mode = \"direct_compress\"\nbatch_max_rows = 50000\n\
     linger_ms = 250\nchannel_capacity = 200000\nchannel_max_bytes = 67108864\n";

async fn measure_profile(
    args: &BenchArgs,
    url: &str,
    data_dir: Option<std::path::PathBuf>,
    database: String,
    spool_dir: &std::path::Path,
) -> anyhow::Result<ProfileRun> {
    let mut context = BenchContext::new(url, args, data_dir, spool_dir.to_path_buf()).await?;
    let client = crate::db::connect(url, Duration::from_secs(10)).await?;
    let paused = if context.profile == Profile::TimescaleDb { pause_jobs(&client).await? } else { Vec::new() };
    let result = measure_paused(args, url, &mut context, &client, database).await;
    if let Err(error) = resume_jobs(&client, &paused).await {
        eprintln!(
            "warning: TimescaleDB jobs {paused:?} could not be resumed after the bench ({error:#}); \
             `SELECT alter_job(id, scheduled => true)` resumes each"
        );
    }
    result
}

/// Pauses the TimescaleDB policy jobs (aggregate refresh, columnstore, retention) for the
/// profile's measurements, the raw COPY runs and hypertick's alike, and waits until none
/// is running. A refresh of `ohlcv_1m` fires every minute and, after a window of writes,
/// takes most of a core for tens of seconds: a window it lands in measures the job as
/// much as the writer. The cookbook refreshes the aggregates itself, timed.
async fn pause_jobs(client: &Client) -> anyhow::Result<Vec<i32>> {
    let paused = crate::db::pause_jobs(client).await.context("pausing TimescaleDB's jobs for the measurements")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = crate::db::running_jobs(client).await?;
        if running == 0 || Instant::now() >= deadline {
            println!("paused {} TimescaleDB jobs for the measurements ({running} still running)", paused.len());
            return Ok(paused);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Schedules the paused jobs again; one something else scheduled in the meantime (it
/// should not happen: `migrate` keeps a matching job as it is) is reported.
async fn resume_jobs(client: &Client, paused: &[i32]) -> anyhow::Result<()> {
    let rescheduled = crate::db::resume_jobs(client, paused).await?;
    if rescheduled > 0 {
        eprintln!("warning: {rescheduled} of the paused TimescaleDB jobs were scheduled again during the measurements");
    }
    Ok(())
}

/// The profile's figures, with its jobs paused.
async fn measure_paused(
    args: &BenchArgs,
    url: &str,
    context: &mut BenchContext,
    client: &Client,
    database: String,
) -> anyhow::Result<ProfileRun> {
    let profile = context.profile;
    let timescale = profile == Profile::TimescaleDb;
    println!("\n== {} profile: raw COPY ceiling, hypertick, direct compress, cookbook ==", profile.name());
    let (warmup, measure) = (Duration::from_secs(args.warmup), Duration::from_secs(args.measure));
    let prepared = baselines::prepare(args.dataset_rows, args.symbols);
    let mut raw_copy = Vec::new();
    let mut queries = Vec::new();

    // The row store without the time index: the ceiling, then the cookbook on its data.
    context.reset().await?;
    let indexes = ticks_indexes(client).await?;
    let raw = RawCopy { url, connections: args.connections, warmup, measure };
    let label = format!("{}: raw COPY, {} connections", profile.name(), args.connections);
    let ceiling = raw.measure(&label, &prepared, "").await?;
    raw_copy.push(Figure { name: "raw COPY binary".into(), write_mode: "copy".into(), time_index: false, rows_per_sec: ceiling });
    queries.push(cookbook(client, profile, "raw COPY data, row store, no time index", true).await?);
    if timescale {
        client.batch_execute("CREATE INDEX ticks_time_idx ON ticks (time DESC)").await?;
        queries.push(cookbook(client, profile, "the same data, row store, with the (time DESC) index", false).await?);
        context.reset().await?;
        let label = format!("{}: raw COPY with the time index", profile.name());
        let with_index = raw.measure(&label, &prepared, "").await?;
        raw_copy.push(Figure { name: "raw COPY binary".into(), write_mode: "copy".into(), time_index: true, rows_per_sec: with_index });
        client.batch_execute("DROP INDEX ticks_time_idx").await?;
        // The same COPY with direct compress on, in batches as large as the daemon's
        // direct-compress batches and in its order (the session leaves the order to the
        // client): the ceiling of that write mode.
        context.reset().await?;
        let label = format!("{}: raw COPY with direct compress", profile.name());
        let session = crate::sink::DIRECT_COMPRESS_SETTINGS;
        let large = prepared.with_copy_batches_of(DIRECT_COMPRESS_BATCH_ROWS, true);
        let direct = raw.measure(&label, &large, session).await?;
        raw_copy.push(Figure {
            name: "raw COPY binary".into(),
            write_mode: "direct_compress".into(),
            time_index: false,
            rows_per_sec: direct,
        });
    }

    // The same rows with each batch in the order hypertick sends a high-rate table's
    // batch (by symbol, newest first): what that order alone is worth to the server.
    context.reset().await?;
    let label = format!("{}: raw COPY, batches in hypertick's order", profile.name());
    let ordered = prepared.with_copy_batches_of(baselines::COPY_BATCH_ROWS, true);
    let in_order = raw.measure(&label, &ordered, "").await?;
    raw_copy.push(Figure {
        name: "raw COPY binary, each batch by symbol then newest first".into(),
        write_mode: "copy".into(),
        time_index: false,
        rows_per_sec: in_order,
    });

    // The ceiling again, last; the ratios take the higher of the two. (Before each cluster
    // ran alone with its jobs paused, the first had read under half of the last in some
    // runs: a refresh job or the other cluster's work had shared its window.)
    context.reset().await?;
    let label = format!("{}: raw COPY, {} connections, again", profile.name(), args.connections);
    let again = raw.measure(&label, &prepared, "").await?;
    raw_copy.push(Figure {
        name: "raw COPY binary, measured again last".into(),
        write_mode: "copy".into(),
        time_index: false,
        rows_per_sec: again,
    });
    let ceiling = ceiling.max(again);
    // The daemon runs in this process: the raw runs' rows are let go before it starts.
    drop((prepared, ordered));

    // hypertick with copy, measured twice as the ceiling is, the ratio taking the higher
    // of the two on each side: one window can hold a checkpoint more than another, and a
    // single measurement set against the higher of two reads low by that alone.
    let mut hypertick = Vec::new();
    for (label, name) in [("push, copy", "push, max rate"), ("push, copy, again", "push, max rate, measured again")] {
        let run = context.daemon_run(&format!("{}: {label}", profile.name()), SourceFormat::Push, 0).await?;
        hypertick.push(Figure { name: name.into(), write_mode: "copy".into(), time_index: false, rows_per_sec: run.committed_per_sec });
    }
    let copy = hypertick.iter().map(|figure| figure.rows_per_sec).fold(0.0, f64::max);
    let compression = if timescale { Some(compress_row_store(client).await?) } else { None };
    let mut compression = compression;
    if timescale {
        context.set_ticks_settings(DIRECT_COMPRESS_TICKS)?;
        let run = context.daemon_run(&format!("{}: push, direct compress", profile.name()), SourceFormat::Push, 0).await?;
        hypertick.push(Figure {
            name: "push, max rate".into(),
            write_mode: "direct_compress".into(),
            time_index: false,
            rows_per_sec: run.committed_per_sec,
        });
        let (rows, bytes): (i64, i64) = {
            let row = client.query_one("SELECT (SELECT count(*) FROM ticks), hypertable_size('ticks')", &[]).await?;
            (row.get(0), row.get(1))
        };
        if let Some(compression) = compression.as_mut() {
            compression.direct_compress_bytes_per_row = (rows > 0).then(|| bytes as f64 / rows as f64);
        }
        queries.push(cookbook(client, profile, "hypertick direct compress data, columnstore", true).await?);
        context.set_ticks_settings("")?;
    }

    let ratio =
        |name: String, value: f64, target: f64| super::figures::Ratio {
            name, value, target: format!("≥ {target}"), met: value >= target
        };
    let mut ratios = vec![ratio(format!("{}: hypertick copy / raw COPY ceiling", profile.name()), copy / ceiling, 0.9)];
    if let Some(direct) = hypertick.iter().find(|figure| figure.write_mode == "direct_compress") {
        ratios.push(ratio(format!("{}: hypertick direct compress / raw COPY ceiling", profile.name()), direct.rows_per_sec / ceiling, 2.0));
    }
    Ok(ProfileRun {
        profile: profile.name().to_string(),
        database,
        server_settings: server_settings(client, timescale).await?,
        indexes,
        raw_copy,
        hypertick,
        ratios,
        compression,
        queries,
    })
}

async fn ticks_indexes(client: &Client) -> anyhow::Result<Vec<String>> {
    Ok(client
        .query("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'ticks' ORDER BY indexname", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

async fn server_settings(client: &Client, timescale: bool) -> anyhow::Result<Vec<(String, String)>> {
    let mut settings = Vec::new();
    let mut names =
        vec!["server_version", "fsync", "synchronous_commit", "shared_buffers", "max_wal_size", "work_mem", "shared_preload_libraries"];
    if timescale {
        names.push("timescaledb.max_background_workers");
    }
    for name in names {
        let value: String = client.query_one("SELECT current_setting($1)", &[&name]).await?.get(0);
        settings.push((name.to_string(), value));
    }
    if timescale {
        let version: String = client.query_one("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", &[]).await?.get(0);
        settings.push(("timescaledb".to_string(), version));
    }
    Ok(settings)
}

/// Compresses every chunk of `ticks` and reads the bytes before and after.
async fn compress_row_store(client: &Client) -> anyhow::Result<Compression> {
    println!("compressing the row-store data of the copy run…");
    let rows: i64 = client.query_one("SELECT count(*) FROM ticks", &[]).await?.get(0);
    client.batch_execute("SELECT count(compress_chunk(chunk)) FROM show_chunks('ticks') AS chunk").await?;
    let row = client
        .query_one(
            "SELECT coalesce(sum(before_compression_total_bytes), 0)::int8, coalesce(sum(after_compression_total_bytes), 0)::int8
               FROM hypertable_columnstore_stats('ticks')",
            &[],
        )
        .await?;
    let (before_bytes, after_bytes): (i64, i64) = (row.get(0), row.get(1));
    let ratio = if after_bytes > 0 { before_bytes as f64 / after_bytes as f64 } else { 0.0 };
    println!("compressed {rows} rows: {before_bytes} → {after_bytes} bytes ({ratio:.1}×)");
    Ok(Compression { rows, before_bytes, after_bytes, ratio, direct_compress_bytes_per_row: None })
}

/// The cookbook's queries on the table's data: the aggregates refreshed first (timed as
/// one line), then each query three times, the best kept. The cookbook's day, hour,
/// venue and symbol are replaced by the bench data's.
async fn cookbook(client: &Client, profile: Profile, data: &str, refresh: bool) -> anyhow::Result<QuerySet> {
    let rows: i64 = client.query_one("SELECT count(*) FROM ticks", &[]).await?.get(0);
    let first: Option<chrono::DateTime<chrono::Utc>> = client.query_one("SELECT min(time) FROM ticks", &[]).await?.get(0);
    let first = first.unwrap_or_else(chrono::Utc::now);
    client.batch_execute("SET TIME ZONE 'UTC'").await?;
    let mut times_ms = Vec::new();
    if refresh {
        let started = Instant::now();
        crate::db::aggregates::refresh_ohlcv(client, profile).await?;
        times_ms.push((REFRESH.to_string(), started.elapsed().as_secs_f64() * 1_000.0));
    }
    for (name, sql) in cookbook_queries() {
        let sql = for_bench_data(&sql, first);
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            client.simple_query(&sql).await.with_context(|| format!("cookbook query `{name}`"))?;
            best = best.min(started.elapsed().as_secs_f64() * 1_000.0);
        }
        progress_line(data, &format!("{name}: {best:.1} ms"));
        times_ms.push((name, best));
    }
    println!("\r{data}: {} figures timed on {rows} rows{:40}", times_ms.len(), "");
    Ok(QuerySet { data: data.to_string(), rows, times_ms })
}

const REFRESH: &str = "refresh of ohlcv_1m, ohlcv_1h, ohlcv_1d";

/// Every ```sql block of `docs/queries.md` (built in), with the heading above it: what
/// the bench times and the tests run on both profiles.
pub fn cookbook_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    let mut heading = String::new();
    let mut lines = include_str!("../../docs/queries.md").lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            heading = title.to_string();
        } else if line.trim() == "```sql" {
            let sql: Vec<&str> = lines.by_ref().take_while(|line| line.trim() != "```").collect();
            queries.push((heading.clone(), sql.join("\n")));
        }
    }
    queries
}

/// A cookbook query aimed at the bench data: its day (2026-01-05) becomes the data's,
/// its hour window (01:00–02:00) the data's first hour, venue `binance` → `bench`,
/// symbol `BTC-USDT` → `SYM000USDT`.
fn for_bench_data(sql: &str, first: chrono::DateTime<chrono::Utc>) -> String {
    let day = first.date_naive();
    let hour = first.format("%Y-%m-%d %H:00:00+00").to_string();
    let next_hour = (first + chrono::Duration::hours(1)).format("%Y-%m-%d %H:00:00+00").to_string();
    sql.replace("2026-01-05 01:00:00+00", &hour)
        .replace("2026-01-05 02:00:00+00", &next_hour)
        .replace("2026-01-05", &day.to_string())
        .replace("2026-01-06", &day.succ_opt().unwrap_or(day).to_string())
        .replace("'binance'", "'bench'")
        .replace("'BTC-USDT'", "'SYM000USDT'")
}

#[cfg(test)]
mod tests {
    #[test]
    fn cookbook_queries_are_aimed_at_the_bench_data() {
        let first = chrono::DateTime::parse_from_rfc3339("2026-12-02T23:10:00Z").unwrap().with_timezone(&chrono::Utc);
        let sql = "WHERE venue = 'binance' AND symbol = 'BTC-USDT' AND time >= '2026-01-05 01:00:00+00' \
                   AND time < '2026-01-05 02:00:00+00' AND bucket >= '2026-01-05' AND bucket < '2026-01-06'";
        assert_eq!(
            super::for_bench_data(sql, first),
            "WHERE venue = 'bench' AND symbol = 'SYM000USDT' AND time >= '2026-12-02 23:00:00+00' \
             AND time < '2026-12-03 00:00:00+00' AND bucket >= '2026-12-02' AND bucket < '2026-12-03'"
        );
    }
}
