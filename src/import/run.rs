//! One import from start to end: schema, a lock per table, the plan of each file,
//! then the reader and worker threads feeding the COPY writers, the progress bar,
//! and once every chunk is committed the `…/done` mark of each file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::task::JoinHandle;

use super::args::ImportSettings;
use super::plan::{gaps, FilePlan};
use super::progress::{FileReport, ImportReport, Progress};
use super::work::{FileCounts, Work};
use crate::config::{import_fields, Config};
use crate::db::{self, Partitions};
use crate::metrics::Stats;
use crate::record::{Bar, Quote, Table, Tick, Ticker};
use crate::shutdown;
use crate::sink::{batch_queue, run_writer_on_stream, CopyRow, TableWriteSettings, WriterError, WriterSettings};
use crate::source::file::{fields_of, format_from_name, Compression, FileRecord, ParseSettings};
use crate::source::push::PushRows;

/// Imports `files` into the settings' table; the report says what was committed,
/// and why it stopped early if it did.
pub async fn import(config: &Config, settings: &ImportSettings, files: &[PathBuf]) -> anyhow::Result<ImportReport> {
    let url = config.database_url().context("database.url is not set; give it in the file or in DATABASE_URL")?;
    let schema = db::prepare_schema(config, &PushRows).await.context("preparing the database schema")?;
    let table = settings.table;
    let client = db::connect(url, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
    // One import per table at a time: two would each take a chunk the other has not committed.
    let lock_key = 0x696d_706f_0000_0000_i64 | i64::from(crc32fast::hash(table.name().as_bytes()));
    let locked: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&lock_key]).await?.get(0);
    if !locked {
        bail!("another `hypertick import` into {table} is running on this database; wait for it to finish");
    }
    let mut plans: Vec<FilePlan> = Vec::new();
    for path in files {
        let format = match settings.format.or_else(|| format_from_name(path)) {
            Some(format) => format,
            None => bail!("{}: cannot tell the format from the name; pass --format csv or --format ndjson", path.display()),
        };
        let mut plan = FilePlan::open(path, table, format, settings.delimiter)?;
        if plans.iter().any(|known| known.path == plan.path) {
            tracing::warn!(file = %path.display(), "given twice; imported once");
            continue;
        }
        plan.load_committed(&client, table, settings.allow_changed).await?;
        plans.push(plan);
    }
    let partitions = Arc::new(Partitions::new(db::partition_plans(config, schema.profile)));
    let report = match table {
        Table::Ticks => run_files::<Tick>(config, settings, plans, partitions).await?,
        Table::Quotes => run_files::<Quote>(config, settings, plans, partitions).await?,
        Table::Bars => run_files::<Bar>(config, settings, plans, partitions).await?,
        Table::Tickers => run_files::<Ticker>(config, settings, plans, partitions).await?,
        other => bail!("{other} cannot be imported"),
    };
    // The chunks were committed asynchronously; one synchronous commit that writes
    // flushes the WAL past every one of them before the summary says so.
    client
        .execute(
            "UPDATE ingest_offsets SET updated_at = now() WHERE starts_with(stream, $1)",
            &[&format!("import/{}/writer/", table.name())],
        )
        .await?;
    if report.stopped.is_none() {
        mark_done(&client, &report).await?;
    }
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&lock_key]).await;
    Ok(report)
}

/// Marks the files read to their end as wholly imported.
async fn mark_done(client: &tokio_postgres::Client, report: &ImportReport) -> anyhow::Result<()> {
    for (stream, end) in &report.done_marks {
        client.execute(crate::sink::ADVANCE_OFFSET, &[stream, end]).await?;
    }
    Ok(())
}

async fn run_files<R: FileRecord + CopyRow>(
    config: &Config,
    settings: &ImportSettings,
    plans: Vec<FilePlan>,
    partitions: Arc<Partitions>,
) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    let table = <R as CopyRow>::TABLE;
    let (fields, required) = fields_of(table.name()).context("no fields for this table")?;
    debug_assert_eq!(fields, import_fields(table));
    let mut mappings = Vec::with_capacity(plans.len());
    let mut parse = Vec::with_capacity(plans.len());
    for plan in &plans {
        let header = plan.header.as_ref().map(|header| header.columns.as_slice());
        mappings.push(settings.spec.resolve(table.name(), fields, required, header, &plan.path)?);
        parse.push(ParseSettings { format: plan.format, delimiter: settings.delimiter, time_unit: settings.time_unit });
    }
    let total_bytes: u64 = plans
        .iter()
        .filter(|plan| !plan.done)
        .map(|plan| match plan.compression {
            Compression::None => gaps(&plan.committed, plan.data_start, Some(plan.size)).iter().map(|(from, to)| to - from).sum(),
            _ => plan.size,
        })
        .sum();
    let table_settings = config.table(table);
    let retention_days = table_settings.retention_days;
    let work = Arc::new(Work::<R> {
        table,
        per_file: plans.iter().map(|_| FileCounts::default()).collect(),
        files: plans,
        mappings,
        parse,
        partitions: partitions.clone(),
        retention_micros: crate::pipeline::retention_micros_of_days(retention_days),
        interval_retention: crate::pipeline::IntervalRetention::from_settings(&table_settings),
        max_future_micros: (config.pipeline.max_future_secs.get() as i64).saturating_mul(1_000_000),
        max_errors: settings.max_errors,
        chunk_bytes: settings.chunk_bytes,
        chunk_lines: settings.chunk_lines,
        bytes_done: Arc::new(AtomicU64::new(0)),
        bad_lines: AtomicU64::new(0),
        instruments: Default::default(),
        key_order: crate::sink::key_order(table, table_settings.write_mode),
        stop: AtomicBool::new(false),
        failure: Mutex::new(None),
        rows: std::marker::PhantomData,
    });

    let stats = Stats::new();
    let writers = spawn_writers::<R>(config, settings, partitions, stats.clone(), &work);
    let progress = Progress::new(total_bytes, settings.progress);
    let threads = work.spawn(writers.1, settings.threads);
    let joined = tokio::task::spawn_blocking(move || threads.into_iter().for_each(|thread| drop(thread.join())));
    tokio::pin!(joined);
    let signal = shutdown::signal();
    tokio::pin!(signal);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut interrupted = false;
    loop {
        tokio::select! {
            _ = &mut joined => break,
            name = &mut signal, if !interrupted => {
                interrupted = true;
                work.fail(format!("interrupted by {name}: the chunks committed so far stay, and the same command continues after them"));
            }
            _ = tick.tick() => progress.update(work.bytes_done.load(Ordering::Relaxed), stats.snapshot(table).rows_written),
        }
    }
    // Every batch is handed over; the writers commit what is queued, then end.
    let mut writer_failure = None;
    for writer in writers.0 {
        match writer.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                writer_failure.get_or_insert(error.to_string());
            }
            Err(error) => {
                writer_failure.get_or_insert(format!("a writer task failed: {error}"));
            }
        }
    }
    progress.update(work.bytes_done.load(Ordering::Relaxed), stats.snapshot(table).rows_written);
    progress.finish();
    let stopped = writer_failure.or_else(|| work.failure.lock().unwrap_or_else(|poison| poison.into_inner()).take());
    let mut files = Vec::with_capacity(work.files.len());
    let mut done_marks = Vec::new();
    for (plan, counts) in work.files.iter().zip(&work.per_file) {
        if stopped.is_none() && !plan.done {
            if let Some(end) = *counts.read_to.lock().unwrap_or_else(|poison| poison.into_inner()) {
                done_marks.push((plan.done_stream(), end as i64));
            }
        }
        files.push(FileReport {
            shown: plan.shown.clone(),
            kind: format!("{}, {}", plan.format.name(), plan.compression.name()),
            rows: counts.rows.load(Ordering::Relaxed),
            bad_lines: counts.bad_lines.load(Ordering::Relaxed),
            chunks: counts.chunks.load(Ordering::Relaxed),
            chunks_before: plan.committed.len(),
            skipped: plan.done,
        });
    }
    let bytes = work.bytes_done.load(Ordering::Relaxed);
    Ok(ImportReport { table, files, bytes, elapsed: started.elapsed(), stopped, done_marks })
}

type Writers<R> = (Vec<JoinHandle<Result<(), WriterError>>>, tokio::sync::mpsc::Sender<crate::sink::EncodedBatch<R>>);

/// The COPY writers, one connection each, with their own offset streams.
fn spawn_writers<R: FileRecord + CopyRow>(
    config: &Config,
    settings: &ImportSettings,
    partitions: Arc<Partitions>,
    stats: Arc<Stats>,
    work: &Arc<Work<R>>,
) -> Writers<R> {
    let table = <R as CopyRow>::TABLE;
    let writer_settings = Arc::new(WriterSettings {
        url: config.database_url().unwrap_or_default().to_string(),
        connect_timeout: Duration::from_millis(config.database.connect_timeout_ms.get()),
        initial_backoff: Duration::from_millis(config.database.retry_initial_backoff_ms.get()),
        max_backoff: Duration::from_millis(config.database.retry_max_backoff_ms),
        spool: None,
    });
    let (sender, queue) = batch_queue::<R>(settings.writers);
    let handles = (0..settings.writers)
        .map(|writer_idx| {
            let stream = format!("import/{}/writer/{writer_idx}", table.name());
            let table_settings = TableWriteSettings::for_table(config, table);
            let writer = run_writer_on_stream::<R>(
                stream,
                table,
                writer_idx,
                queue.clone(),
                writer_settings.clone(),
                table_settings,
                partitions.clone(),
                stats.clone(),
            );
            let work = work.clone();
            tokio::spawn(async move {
                let result = writer.await;
                if let Err(error) = &result {
                    work.fail(error.to_string());
                }
                result
            })
        })
        .collect();
    (handles, sender)
}
