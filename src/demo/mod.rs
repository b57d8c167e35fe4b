//! `hypertick demo`: a throwaway PostgreSQL, the real daemon with its push server on
//! loopback, and a synthetic feed pushing ticks, quotes and 1-minute bars for ~50
//! symbols. Prints progress every second and, at the end, a summary with the answer to
//! sample SQL queries. The database is removed afterwards unless `--keep`.

mod feed;

pub use feed::{FeedCounters, SyntheticMarket};

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::app::Daemon;
use crate::cli::{DemoArgs, DemoProfile};
use crate::config::{Config, ProfileChoice, SpoolConfig};
use crate::db::throwaway::{ClusterOptions, ThrowawayCluster};
use crate::db::Profile;
use crate::metrics::{Stats, TableSnapshot};
use crate::record::Table;
use crate::shutdown;

const SAMPLE_SYMBOL: &str = "BTC-USDT";

/// The profile the demo runs and the cluster settings it needs, from `--profile` and
/// what this machine's PostgreSQL has installed.
fn choose_profile(choice: DemoProfile, timescaledb_installed: bool) -> anyhow::Result<(Profile, ClusterOptions, &'static str)> {
    let timescaledb = || ClusterOptions::default().with_timescaledb();
    match (choice, timescaledb_installed) {
        (DemoProfile::Vanilla, _) => Ok((Profile::Vanilla, ClusterOptions::default(), "vanilla PostgreSQL (--profile vanilla)")),
        (DemoProfile::Timescaledb | DemoProfile::Auto, true) => {
            Ok((Profile::TimescaleDb, timescaledb(), "TimescaleDB (hypertables, columnstore, continuous aggregates)"))
        }
        (DemoProfile::Timescaledb, false) => anyhow::bail!(
            "--profile timescaledb: this machine's PostgreSQL does not have the timescaledb extension installed \
             (its library in the server's lib directory and timescaledb.control in share/extension); \
             install it, or run the demo with --profile vanilla"
        ),
        (DemoProfile::Auto, false) => Ok((
            Profile::Vanilla,
            ClusterOptions::default(),
            "vanilla PostgreSQL (TimescaleDB is not installed on this machine; partitions and materialized aggregates)",
        )),
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let installed = tokio::task::spawn_blocking(crate::db::throwaway::timescaledb_installed).await?;
    let (profile, options, described) = choose_profile(args.profile, installed)?;
    println!("hypertick demo: starting a throwaway PostgreSQL cluster…");
    let cluster = tokio::task::spawn_blocking(move || ThrowawayCluster::start(options))
        .await?
        .context("starting the throwaway PostgreSQL cluster")?;
    let url = cluster.url("hypertick");
    println!("  database: {url} (in {})", cluster.path().display());
    println!("  schema profile: {described}");

    // The demo runs as a deployment would: every record spooled before it is queued,
    // and technical indicators computed from the 1-minute bars.
    let spool_dir = tempfile::Builder::new().prefix("hypertick-spool-").tempdir().context("a spool directory")?;
    let mut config = Config::loopback(&url);
    config.schema.profile = match profile {
        Profile::TimescaleDb => ProfileChoice::Timescaledb,
        Profile::Vanilla => ProfileChoice::Vanilla,
    };
    config.spool = Some(SpoolConfig::in_dir(spool_dir.path().to_path_buf()));
    config.indicators.symbols = vec!["*".to_string()];
    config.indicators.intervals = vec!["1m".to_string()];
    let daemon = Daemon::start(&config).await?;
    let push_addr = daemon.push_addr.context("the demo's push server did not start")?;
    println!(
        "  push websocket: ws://{push_addr}   metrics: http://{}/metrics",
        daemon.metrics_addr.map_or("-".into(), |a: SocketAddr| a.to_string())
    );
    println!(
        "  feed: {} records/s over {} symbols; {}\n",
        args.rate,
        args.symbols,
        match args.duration {
            Some(seconds) => format!("stopping after {seconds}s"),
            None => "Ctrl-C stops".to_string(),
        }
    );

    let counters = Arc::new(FeedCounters::default());
    let feed_stop = CancellationToken::new();
    let feed = tokio::spawn(feed::run(format!("ws://{push_addr}"), args.rate, args.symbols, counters.clone(), feed_stop.clone()));

    let started = Instant::now();
    let until = args.duration.map(|seconds| started + Duration::from_secs(seconds));
    let failed = daemon.failed();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut previous = daemon.stats.snapshots();
    let signal = shutdown::signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            name = &mut signal => { println!("\n{name} received: stopping the feed, draining, committing…"); break; }
            _ = failed.cancelled() => { println!("\nthe daemon reported a failure; stopping"); break; }
        }
        let current = daemon.stats.snapshots();
        print_progress(started.elapsed(), &current, &previous, &counters);
        previous = current;
        if until.is_some_and(|deadline| Instant::now() >= deadline) {
            println!("\n--duration reached: stopping the feed, draining, committing…");
            break;
        }
    }
    feed_stop.cancel();
    match feed.await {
        Ok(Err(error)) => println!("feed ended with an error: {error:#}"),
        Err(error) => println!("feed task failed: {error}"),
        Ok(Ok(())) => {}
    }
    let elapsed = started.elapsed();
    let stats = daemon.stats.clone();
    let stop = daemon.stop().await;
    print_summary(elapsed, &stats, &counters);
    stop?;
    print_sample_queries(&url).await?;
    print_storage(&url, profile).await?;

    if args.keep {
        let stop_command = cluster.keep();
        println!("\nthe database keeps running: psql {url}\nstop and remove it with: {stop_command}");
    } else {
        drop(cluster);
        println!("\nthe throwaway database was removed (use --keep to keep it)");
    }
    Ok(())
}

fn print_progress(elapsed: Duration, current: &[TableSnapshot], previous: &[TableSnapshot], counters: &FeedCounters) {
    let mut line = format!("{:>4}s ", elapsed.as_secs());
    let mut interval_latency: Option<hdrhistogram::Histogram<u64>> = None;
    let mut queued = 0;
    for (now, before) in current.iter().zip(previous) {
        let delta = now.since(before);
        queued += delta.queue_depth;
        if delta.table.is_market_data() && (delta.rows_written > 0 || delta.table == Table::Ticks) {
            line.push_str(&format!(" {} {:>6}/s", delta.table, delta.rows_written));
        }
        match &mut interval_latency {
            Some(histogram) => {
                let _ = histogram.add(&delta.latency_micros);
            }
            None => interval_latency = Some(delta.latency_micros.clone()),
        }
    }
    let percentile = |quantile: f64| {
        interval_latency
            .as_ref()
            .filter(|histogram| !histogram.is_empty())
            .map_or(0.0, |histogram| histogram.value_at_quantile(quantile) as f64 / 1_000.0)
    };
    line.push_str(&format!(
        " | latency p50 {:.1}ms p99 {:.1}ms p999 {:.1}ms | queue {queued} | sent {}",
        percentile(0.5),
        percentile(0.99),
        percentile(0.999),
        counters.records_sent.load(Ordering::Relaxed)
    ));
    println!("{line}");
}

fn print_summary(elapsed: Duration, stats: &Stats, counters: &FeedCounters) {
    println!("\nsummary after {:.1}s", elapsed.as_secs_f64());
    println!(
        "  feed: {} records in {} frames; acked {} accepted, {} rejected",
        counters.records_sent.load(Ordering::Relaxed),
        counters.frames_sent.load(Ordering::Relaxed),
        counters.accepted.load(Ordering::Relaxed),
        counters.rejected.load(Ordering::Relaxed)
    );
    println!("  {:<20} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}", "table", "rows", "rows/s", "batches", "p50 ms", "p99 ms", "p999 ms");
    let mut total = 0;
    for snapshot in stats.snapshots() {
        if snapshot.rows_written == 0 {
            continue;
        }
        total += snapshot.rows_written;
        println!(
            "  {:<20} {:>10} {:>10.0} {:>9} {:>9.2} {:>9.2} {:>9.2}",
            snapshot.table.name(),
            snapshot.rows_written,
            snapshot.rows_written as f64 / elapsed.as_secs_f64(),
            snapshot.batches,
            snapshot.latency_ms(0.5),
            snapshot.latency_ms(0.99),
            snapshot.latency_ms(0.999)
        );
    }
    println!("  {:<20} {:>10} {:>10.0}   (latency: receipt → commit, every row)", "all", total, total as f64 / elapsed.as_secs_f64());
}

async fn print_sample_queries(url: &str) -> anyhow::Result<()> {
    let client = crate::db::connect(url, Duration::from_secs(5)).await?;
    let last_price = "SELECT time, price, size FROM ticks WHERE symbol = $1 ORDER BY time DESC LIMIT 1";
    println!("\n{last_price}   -- $1 = '{SAMPLE_SYMBOL}'");
    if let Some(row) = client.query_opt(last_price, &[&SAMPLE_SYMBOL]).await? {
        let time: chrono::DateTime<chrono::Utc> = row.get(0);
        println!("  {}  price {:.2}  size {:.4}", time.format("%Y-%m-%d %H:%M:%S%.6f"), row.get::<_, f64>(1), row.get::<_, f64>(2));
    } else {
        println!("  (no ticks for {SAMPLE_SYMBOL}; run with more --symbols or a longer --duration)");
    }
    let recent_bars =
        "SELECT time, open, high, low, close, volume FROM bars WHERE symbol = $1 AND \"interval\" = '1m' ORDER BY time DESC LIMIT 5";
    println!("\n{recent_bars}");
    for row in client.query(recent_bars, &[&SAMPLE_SYMBOL]).await? {
        let time: chrono::DateTime<chrono::Utc> = row.get(0);
        println!(
            "  {}  O {:>10.2} H {:>10.2} L {:>10.2} C {:>10.2} V {:>8.2}",
            time.format("%Y-%m-%d %H:%M"),
            row.get::<_, f64>(1),
            row.get::<_, f64>(2),
            row.get::<_, f64>(3),
            row.get::<_, f64>(4),
            row.get::<_, f64>(5)
        );
    }
    let indicators = "SELECT time, sma_20, ema_20, rsi, macd_histogram, bb_width, support_levels, resistance_levels \
                      FROM technical_indicators WHERE symbol = $1 AND \"interval\" = '1m' ORDER BY time DESC LIMIT 3";
    println!("\n{indicators}");
    for row in client.query(indicators, &[&SAMPLE_SYMBOL]).await? {
        let time: chrono::DateTime<chrono::Utc> = row.get(0);
        let value = |index: usize| row.get::<_, Option<f64>>(index).map_or("-".to_string(), |value| format!("{value:.2}"));
        let levels = |index: usize| row.get::<_, Vec<f64>>(index).iter().map(|level| format!("{level:.2}")).collect::<Vec<_>>().join(" ");
        println!(
            "  {}  SMA20 {} EMA20 {} RSI {} MACD-hist {} BB-width {:.6}  support [{}] resistance [{}]",
            time.format("%Y-%m-%d %H:%M"),
            value(1),
            value(2),
            value(3),
            value(4),
            row.get::<_, Option<f64>>(5).unwrap_or(f64::NAN),
            levels(6),
            levels(7)
        );
    }
    Ok(())
}

/// The end of the demo: an OHLCV aggregate brought up to date, and on TimescaleDB the
/// ticks' chunks moved into the columnstore with the bytes before and after.
async fn print_storage(url: &str, profile: Profile) -> anyhow::Result<()> {
    let client = crate::db::connect(url, Duration::from_secs(5)).await?;
    crate::db::aggregates::refresh_ohlcv(&client, profile).await.context("refreshing the OHLCV aggregates")?;
    let aggregate = "SELECT bucket, open, high, low, close, volume, trades FROM ohlcv_1m WHERE symbol = $1 ORDER BY bucket DESC LIMIT 3";
    println!("\n{aggregate}   -- the 1-minute OHLCV aggregate over ticks");
    for row in client.query(aggregate, &[&SAMPLE_SYMBOL]).await? {
        let bucket: chrono::DateTime<chrono::Utc> = row.get(0);
        println!(
            "  {}  O {:>10.2} H {:>10.2} L {:>10.2} C {:>10.2} V {:>10.2}  trades {}",
            bucket.format("%Y-%m-%d %H:%M"),
            row.get::<_, f64>(1),
            row.get::<_, f64>(2),
            row.get::<_, f64>(3),
            row.get::<_, f64>(4),
            row.get::<_, f64>(5),
            row.get::<_, i64>(6)
        );
    }
    if profile != Profile::TimescaleDb {
        println!("\n(vanilla PostgreSQL: ticks stay in the row store; the TimescaleDB profile would compress them)");
        return Ok(());
    }
    let compress = "SELECT count(compress_chunk(chunk, if_not_compressed => true)) FROM show_chunks('ticks') AS chunk";
    let chunks: i64 = client.query_one(compress, &[]).await.context("compressing the ticks' chunks")?.get(0);
    let stats = "SELECT chunk_name::text, before_compression_total_bytes, after_compression_total_bytes \
                 FROM chunk_columnstore_stats('ticks') WHERE compression_status = 'Compressed' ORDER BY chunk_name";
    println!("\n{compress}\n{stats}");
    for row in client.query(stats, &[]).await? {
        let (name, before, after): (String, Option<i64>, Option<i64>) = (row.get(0), row.get(1), row.get(2));
        let (before, after) = (before.unwrap_or(0), after.unwrap_or(0));
        println!(
            "  {name}: {:.1} MB in the row store → {:.1} MB in the columnstore ({:.1}× smaller)",
            before as f64 / 1e6,
            after as f64 / 1e6,
            before as f64 / after.max(1) as f64
        );
    }
    println!("  ({chunks} chunk(s) of ticks compressed; queries read them unchanged)");
    Ok(())
}
