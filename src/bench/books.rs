//! The book part of `hypertick bench` (`--only books`), side by side in one run on the
//! bench's database:
//!
//! - hypertick end to end: the load generator serves OKX `books` pushes (a snapshot per
//!   symbol, then updates of [`CHANGES_PER_PUSH`](super::book_market::CHANGES_PER_PUSH)
//!   level changes) over a loopback websocket; the daemon's OKX adapter parses them, the
//!   book keeper checks continuity and crossing and turns them into rows, and the COPY
//!   writers commit them into `book_deltas`;
//! - raw binary COPY of pre-encoded 10 000-row batches of the same kind of rows into the
//!   same table, on 1 and N connections;
//! - where TimescaleDB is installed, the storage of one symbol's book: a throwaway
//!   TimescaleDB cluster, an hour of one symbol's level changes at 500 a second copied in
//!   and compressed (`compress_chunk`), bytes per row before and after
//!   (`hypertable_columnstore_stats`), and what a symbol-day takes at several rates.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::SinkExt;
use serde::Serialize;

use super::baselines::{self, Method};
use super::book_market::BookMarket;
use super::figures::{cores_text, rate, Baseline, DaemonRun, Ratio};
use super::run::{progress_line, BenchContext, SourceFormat};
use crate::cli::BenchArgs;
use crate::db::throwaway::{timescaledb_installed, ClusterOptions, ThrowawayCluster};
use crate::record::{Table, Timestamp};
use crate::sink::copy_statement;

/// What the book part measured.
#[derive(Debug, Clone, Serialize)]
pub struct BooksRun {
    pub daemon: DaemonRun,
    /// Raw binary COPY of book rows into `book_deltas`, 1 and N connections.
    pub raw_copy: Vec<Baseline>,
    pub ratio: Option<Ratio>,
    pub storage: Option<BookStorage>,
    /// Why storage was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_note: Option<String>,
}

/// One symbol's book rows compressed on TimescaleDB.
#[derive(Debug, Clone, Serialize)]
pub struct BookStorage {
    pub rows: i64,
    /// Venue time the rows span.
    pub span_secs: i64,
    pub before_bytes: i64,
    pub after_bytes: i64,
    pub bytes_per_row: f64,
    pub compressed_bytes_per_row: f64,
    /// (level changes a second, compressed MB per symbol-day).
    pub per_symbol_day_mb: Vec<(u64, f64)>,
}

/// Rows of the storage measurement: an hour at 500 level changes a second.
const STORAGE_ROWS: usize = 1_800_000;
const STORAGE_SPAN_SECS: i64 = 3_600;

pub async fn run(context: &BenchContext, args: &BenchArgs) -> anyhow::Result<BooksRun> {
    println!("\n== order books: OKX book pushes into book_deltas, beside raw COPY of the same rows ==");
    let daemon = context.daemon_run("OKX books, max rate", SourceFormat::OkxBooks, 0).await?;
    let prepared = baselines::prepare_books(args.dataset_rows, args.symbols);
    let (warmup, measure) = (Duration::from_secs(args.warmup), Duration::from_secs(args.measure));
    let mut raw_copy = Vec::new();
    for connections in [1, args.connections] {
        context.reset().await?;
        let label = format!("raw COPY binary into book_deltas, {connections} connection(s)");
        let rows_per_sec = baselines::measure(&context.url, Method::Copy, connections, &prepared, warmup, measure, "", |rows| {
            progress_line(&label, &format!("{rows} rows in the window"));
        })
        .await?;
        println!("\r{label}: {rows_per_sec:.0} rows/s{:30}", "");
        raw_copy.push(Baseline { method: "raw COPY binary (book_deltas)".into(), connections, rows_per_sec });
    }
    let best = raw_copy.iter().map(|baseline| baseline.rows_per_sec).fold(0.0, f64::max);
    let ratio = (best > 0.0).then(|| {
        let value = daemon.committed_per_sec / best;
        Ratio { name: "hypertick (OKX books) / raw COPY into book_deltas".into(), value, target: "≥ 0.8".into(), met: value >= 0.8 }
    });
    let (storage, storage_note) = if args.database_url.is_some() {
        (None, Some("not measured with --database-url (it needs a throwaway TimescaleDB cluster)".to_string()))
    } else if !timescaledb_installed() {
        (None, Some("TimescaleDB is not installed in this PostgreSQL".to_string()))
    } else {
        (Some(storage().await?), None)
    };
    Ok(BooksRun { daemon, raw_copy, ratio, storage, storage_note })
}

/// An hour of one symbol's level changes copied into a throwaway TimescaleDB cluster's
/// `book_deltas` and compressed.
async fn storage() -> anyhow::Result<BookStorage> {
    println!("starting a TimescaleDB throwaway cluster for the book storage figures…");
    let cluster = tokio::task::spawn_blocking(|| ThrowawayCluster::start(ClusterOptions::default().with_timescaledb()))
        .await?
        .context("starting the TimescaleDB throwaway cluster")?;
    let url = cluster.url("hypertick");
    let config = crate::app::load_config_str(&format!("[database]\nurl = \"{url}\"\n"), std::iter::empty())?;
    crate::app::migrate(&config).await.context("preparing the schema")?;
    let mut client = crate::db::connect(&url, Duration::from_secs(10)).await?;
    let symbol = vec!["BTC-USDT".to_string()];
    let rows = BookMarket::new(&symbol, 5).deltas(STORAGE_ROWS, Timestamp::now(), STORAGE_SPAN_SECS * 1_000_000);
    let started = Instant::now();
    for (index, batch) in baselines::copy_batches(&rows).into_iter().enumerate() {
        let transaction = client.transaction().await?;
        let sink = transaction.copy_in::<_, bytes::Bytes>(&copy_statement(Table::BookDeltas)).await?;
        futures_util::pin_mut!(sink);
        sink.send(batch).await?;
        sink.finish().await?;
        transaction.commit().await?;
        if index % 20 == 0 {
            progress_line("book storage", &format!("{} of {STORAGE_ROWS} rows copied", (index + 1) * baselines::COPY_BATCH_ROWS));
        }
    }
    progress_line("book storage", &format!("copied in {:.1} s; compressing", started.elapsed().as_secs_f64()));
    client.batch_execute("SELECT count(compress_chunk(chunk)) FROM show_chunks('book_deltas') AS chunk").await?;
    let row = client
        .query_one(
            "SELECT coalesce(sum(before_compression_total_bytes), 0)::int8, coalesce(sum(after_compression_total_bytes), 0)::int8
               FROM hypertable_columnstore_stats('book_deltas')",
            &[],
        )
        .await?;
    let (before_bytes, after_bytes): (i64, i64) = (row.get(0), row.get(1));
    let count: i64 = client.query_one("SELECT count(*) FROM book_deltas", &[]).await?.get(0);
    let per_row = |bytes: i64| bytes as f64 / count.max(1) as f64;
    let compressed_bytes_per_row = per_row(after_bytes);
    let per_symbol_day_mb =
        [100u64, 1_000, 10_000].iter().map(|rate| (*rate, compressed_bytes_per_row * (*rate * 86_400) as f64 / 1e6)).collect();
    let storage = BookStorage {
        rows: count,
        span_secs: STORAGE_SPAN_SECS,
        before_bytes,
        after_bytes,
        bytes_per_row: per_row(before_bytes),
        compressed_bytes_per_row,
        per_symbol_day_mb,
    };
    println!(
        "\rbook storage: {count} rows, {:.1} → {:.1} bytes per row compressed; a symbol-day at 1 000 changes/s: {:.0} MB{:20}",
        storage.bytes_per_row,
        storage.compressed_bytes_per_row,
        compressed_bytes_per_row * 86_400_000.0 / 1e6,
        ""
    );
    drop(client);
    drop(cluster);
    Ok(storage)
}

/// The part's section of `results.md`.
pub fn markdown(books: &BooksRun) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Order books\n");
    let daemon = &books.daemon;
    let _ = writeln!(
        out,
        "| method | rows/s into `book_deltas` |\n|---|---|\n| hypertick, OKX `books` pushes over a loopback websocket \
         (adapter, book keeper, COPY writers) | {} (sent {}; p99 {:.1} ms; daemon {:.2} cores, load {:.2}, PostgreSQL {}) |",
        rate(daemon.committed_per_sec),
        rate(daemon.sent_per_sec),
        daemon.latency_p99_ms,
        daemon.daemon_cores,
        daemon.load_generator_cores,
        cores_text(daemon.postgres_cores)
    );
    for baseline in &books.raw_copy {
        let _ = writeln!(out, "| raw COPY binary, {} connection(s) | {} |", baseline.connections, rate(baseline.rows_per_sec));
    }
    match (&books.storage, &books.storage_note) {
        (Some(storage), _) => {
            let days: Vec<String> =
                storage.per_symbol_day_mb.iter().map(|(changes, mb)| format!("{}: {mb:.0} MB", rate(*changes as f64))).collect();
            let _ = writeln!(
                out,
                "\nStorage on TimescaleDB: {} level changes of one symbol over {} s, compressed (`compress_chunk`, segmentby \
                 symbol): {:.1} → {:.1} bytes per row (`hypertable_columnstore_stats`). A symbol-day, compressed, at a rate of \
                 level changes of {}. The rows are synthetic (200 levels a side, random sizes and levels): a real book's \
                 changes cluster near the top and will compress differently.",
                storage.rows,
                storage.span_secs,
                storage.bytes_per_row,
                storage.compressed_bytes_per_row,
                days.join("; ")
            );
        }
        (None, Some(note)) => {
            let _ = writeln!(out, "\nStorage on TimescaleDB: not measured ({note}).");
        }
        (None, None) => {}
    }
    out
}
