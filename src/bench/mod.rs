//! `hypertick bench`: the end-to-end benchmark. One run measures, side by side on the
//! same machine, into the same `ticks` table with the same indexes:
//!
//! - the daemon (its real configuration, `Daemon::start`) fed by a load generator in a
//!   separate process over loopback websockets: push-protocol frames and Binance trade
//!   messages, as fast as it takes them and at fixed offered rates (receipt → commit
//!   latency percentiles, peak RSS, CPU of the daemon, the generator and PostgreSQL);
//! - the baselines (`baselines.rs`): raw binary COPY on 1 and N connections — the
//!   database's ceiling — multi-row INSERT and one INSERT per row;
//! - the database paused for a while under load, with the spool taking the backlog;
//! - both schema profiles side by side (`profiles.rs`): a vanilla and a TimescaleDB
//!   throwaway cluster, the raw COPY ceiling with and without the time index, the
//!   daemon with `copy` and with `direct_compress`, compression, the cookbook's times;
//! - order books (`books.rs`): OKX book pushes through the adapter and book keeper into
//!   `book_deltas` beside raw COPY of the same rows, and their compressed storage;
//! - only when asked for (`--only chaos`), a fault soak (`chaos.rs`): the daemon as a
//!   child process under valid and hostile load while PostgreSQL and the daemon are
//!   killed and restarted, every acked row counted back (`chaos.md`, `chaos.json`).
//!
//! It prints progress every second and a table at the end, and writes `results.json`,
//! `results.md` and `chart.png` into `--out`.

mod baselines;
mod book_market;
mod books;
mod bus_run;
mod chaos;
mod chaos_faults;
mod chaos_hostile;
mod chaos_producer;
mod chaos_report;
mod chart;
mod dataset;
mod figures;
mod load_process;
pub mod loadgen;
mod measure;
mod profiles;
mod profiles_report;
mod report;
mod run;

pub use dataset::{push_frame, Market};
pub use loadgen::{LoadMode, LoadPlan};
pub use profiles::cookbook_queries;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{BenchArgs, BenchPart};
use crate::db::throwaway::{ClusterOptions, ThrowawayCluster};
use baselines::Method;
use figures::{Baseline, Machine, Ratio, Settings};
use report::BenchReport;
use run::{BenchContext, SourceFormat};

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    // Stopped on SIGINT or SIGTERM with the throwaway clusters, NATS servers and load
    // generators it started (their `Drop` would not run).
    tokio::spawn(crate::shutdown::exit_on_signal("the bench"));
    if args.only_chaos() {
        return chaos::run(&args).await;
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let (warmup, measure) = (Duration::from_secs(args.warmup), Duration::from_secs(args.measure));
    let mut cluster = match &args.database_url {
        Some(_) => None,
        None => {
            println!("starting a throwaway PostgreSQL cluster (fsync on, default settings)…");
            Some(
                tokio::task::spawn_blocking(|| ThrowawayCluster::start(ClusterOptions::default()))
                    .await?
                    .context("starting the throwaway PostgreSQL cluster")?,
            )
        }
    };
    let url = match (&args.database_url, &cluster) {
        (Some(url), _) => url.clone(),
        (None, Some(cluster)) => cluster.url("hypertick"),
        (None, None) => unreachable!("a cluster is started when no URL is given"),
    };
    let spool_dir = tempfile::Builder::new().prefix("hypertick-bench-spool-").tempdir().context("a spool directory")?;
    let _spool_dir_on_abort = {
        let path = spool_dir.path().to_path_buf();
        crate::shutdown::on_abort(move || {
            let _ = std::fs::remove_dir_all(path);
        })
    };
    let context = BenchContext::new(&url, &args, cluster.as_ref().map(ThrowawayCluster::data_dir), spool_dir.path().to_path_buf()).await?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    let mut daemon_runs = Vec::new();
    if args.runs(BenchPart::Push) || args.runs(BenchPart::Binance) {
        println!("\n== hypertick, as fast as it takes rows ==");
    }
    if args.runs(BenchPart::Push) {
        daemon_runs.push(context.daemon_run("push, max rate", SourceFormat::Push, 0).await?);
    }
    if args.runs(BenchPart::Binance) {
        daemon_runs.push(context.daemon_run("Binance trades, max rate", SourceFormat::Binance, 0).await?);
    }
    if args.runs(BenchPart::Rates) {
        println!("\n== hypertick at fixed offered rates (push) ==");
        for &rate in &args.rates {
            daemon_runs.push(context.daemon_run(&format!("push, {} k/s offered", rate / 1_000), SourceFormat::Push, rate).await?);
        }
    }
    if args.runs(BenchPart::Bus) {
        println!("\n== push through the bus (edge → NATS → writer) ==");
        daemon_runs.push(context.bus_run("push through the bus, max rate", 0).await?);
        for &rate in &args.bus_rates {
            daemon_runs.push(context.bus_run(&format!("push through the bus, {} k/s offered", rate / 1_000), rate).await?);
        }
    }

    let stall = if !args.runs(BenchPart::Stall) {
        None
    } else if args.stall_secs > 0 && context.can_pause_database() {
        println!("\n== database paused under load ==");
        Some(context.stall_run(args.stall_rate, args.stall_secs).await?)
    } else {
        if args.stall_secs > 0 {
            println!("\nskipping the stall run: the database is not a throwaway cluster this process can pause");
        }
        None
    };

    let mut baseline_results = Vec::new();
    if args.runs(BenchPart::Baselines) {
        println!("\n== baselines into the same table ==");
        let prepared = baselines::prepare(args.dataset_rows, args.symbols);
        for method in [Method::Copy, Method::MultiRowInsert, Method::RowInsert] {
            for connections in [1, args.connections] {
                context.reset().await?;
                let label = format!("{}, {connections} connection(s)", method.label());
                let rows_per_sec = baselines::measure(&url, method, connections, &prepared, warmup, measure, "", |rows| {
                    run::progress_line(&label, &format!("{rows} rows in the window"));
                })
                .await?;
                println!("\r{label}: {:.0} rows/s{:30}", rows_per_sec, "");
                baseline_results.push(Baseline { method: method.label().to_string(), connections, rows_per_sec });
            }
        }
    }

    let books = if args.runs(BenchPart::Books) { Some(books::run(&context, &args).await?) } else { None };

    let machine = machine(&url, cluster.is_some()).await?;
    // The profiles start their own clusters: this one is stopped first, or its background
    // work on what the runs above wrote (autovacuum) would share their cores.
    if args.runs(BenchPart::Profiles) {
        if let Some(cluster) = cluster.take() {
            tokio::task::spawn_blocking(move || drop(cluster)).await?;
        }
    }
    let (profile_runs, profiles_note) =
        if args.runs(BenchPart::Profiles) { profiles::run(&args, spool_dir.path()).await? } else { (Vec::new(), None) };

    let report = BenchReport {
        command,
        machine,
        settings: Settings {
            warmup_secs: args.warmup,
            measure_secs: args.measure,
            connections: args.connections,
            batch_max_rows: context.config_sample.pipeline.batch_max_rows,
            linger_ms: context.config_sample.pipeline.linger_ms,
            push_frame_rows: args.frame_rows,
            push_connections: args.push_connections,
            binance_connections: args.binance_connections,
            symbols: args.symbols,
        },
        ratios: ratios(&daemon_runs, &baseline_results, stall.as_ref())
            .into_iter()
            .chain(profile_runs.iter().flat_map(|run| run.ratios.iter().cloned()))
            .chain(books.iter().filter_map(|run| run.ratio.clone()))
            .collect(),
        bus: figures::bus_comparisons(&daemon_runs, bus_run::BUS_SOURCE),
        baselines: baseline_results,
        daemon: daemon_runs,
        stall,
        profiles: profile_runs,
        profiles_note,
        books,
    };
    let markdown = report.markdown();
    println!("\n{markdown}");
    let json_path = args.out.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", json_path.display()))?;
    let markdown_path = args.out.join("results.md");
    let mut configuration = format!("{markdown}\n## Daemon configuration\n\n```toml\n{}```\n", context.config_text_for_report());
    if args.runs(BenchPart::Bus) {
        configuration.push_str(&format!("\nThrough the bus:\n\n```toml\n{}```\n", context.bus_config_text_for_report()));
    }
    std::fs::write(&markdown_path, configuration).with_context(|| format!("writing {}", markdown_path.display()))?;
    let chart_path = args.out.join("chart.png");
    chart::draw(&report, &chart_path)?;
    println!("wrote {}, {} and {}", json_path.display(), markdown_path.display(), chart_path.display());
    drop(cluster);
    if args.runs(BenchPart::Chaos) {
        chaos::run(&args).await?;
    }
    Ok(())
}

/// The ratios the performance targets are stated in.
fn ratios(daemon: &[figures::DaemonRun], baselines: &[Baseline], stall: Option<&figures::StallRun>) -> Vec<Ratio> {
    let best = |method: Method| {
        baselines.iter().filter(|baseline| baseline.method == method.label()).map(|baseline| baseline.rows_per_sec).fold(0.0, f64::max)
    };
    let mut ratios = Vec::new();
    let ratio = |name: String, value: f64, target: f64| Ratio { name, value, target: format!("≥ {target}"), met: value >= target };
    // Without the baselines (`--only`) there is nothing to divide by.
    for run in daemon.iter().filter(|run| run.offered_rate == 0 && !baselines.is_empty()) {
        ratios.push(ratio(format!("hypertick ({}) / raw COPY ceiling", run.name), run.committed_per_sec / best(Method::Copy), 0.8));
        ratios.push(ratio(
            format!("hypertick ({}) / multi-row INSERT", run.name),
            run.committed_per_sec / best(Method::MultiRowInsert),
            3.0,
        ));
        ratios.push(ratio(format!("hypertick ({}) / INSERT per row", run.name), run.committed_per_sec / best(Method::RowInsert), 20.0));
    }
    if let Some(run) = daemon.iter().find(|run| run.offered_rate == 50_000 && run.source == "push") {
        ratios.push(Ratio {
            name: "p99 at 50 k/s offered, ms".into(),
            value: run.latency_p99_ms,
            target: "≤ 30".into(),
            met: run.latency_p99_ms <= 30.0,
        });
        ratios.push(Ratio {
            name: "p999 at 50 k/s offered, ms".into(),
            value: run.latency_p999_ms,
            target: "≤ 100".into(),
            met: run.latency_p999_ms <= 100.0,
        });
    }
    // A bus run holds an edge and a writer in one process: its RSS is not one daemon's.
    let single_process_max = daemon.iter().filter(|run| run.offered_rate == 0 && run.source != bus_run::BUS_SOURCE);
    if let Some(peak) = single_process_max.map(|run| run.peak_rss_mb).reduce(f64::max) {
        ratios.push(Ratio { name: "peak RSS at max rate, MB".into(), value: peak, target: "≤ 150".into(), met: peak <= 150.0 });
    }
    if let Some(stall) = stall {
        ratios.push(Ratio {
            name: "peak RSS through the database stall, MB".into(),
            value: stall.peak_rss_mb,
            target: "≤ 150".into(),
            met: stall.peak_rss_mb <= 150.0,
        });
    }
    ratios
}

async fn machine(url: &str, throwaway: bool) -> anyhow::Result<Machine> {
    let client = crate::db::connect(url, Duration::from_secs(10)).await?;
    let postgres: String = client.query_one("SELECT version()", &[]).await?.get(0);
    let mut postgres_settings = Vec::new();
    for setting in ["fsync", "synchronous_commit", "shared_buffers", "max_wal_size", "wal_level"] {
        let row = client.query_one("SELECT current_setting($1)", &[&setting]).await?;
        postgres_settings.push((setting.to_string(), row.get::<_, String>(0)));
    }
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:").map(|rest| rest.trim().trim_end_matches("kB").trim().parse().unwrap_or(0.0)))
        .unwrap_or(0.0);
    let os = read("/etc/os-release")
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME=").map(|name| name.trim_matches('"').to_string()))
        .unwrap_or_else(|| "Linux".into());
    Ok(Machine {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        cpu,
        memory_gib: memory_kib / 1_048_576.0,
        os,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        postgres: postgres.split(" on ").next().unwrap_or(&postgres).to_string(),
        postgres_settings,
        database: if throwaway {
            "a throwaway vanilla PostgreSQL cluster started by the bench".to_string()
        } else {
            format!("the database of --database-url ({}), not started by the bench", crate::db::describe_url(url))
        },
        ticks_indexes: client
            .query("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'ticks' ORDER BY indexname", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect(),
    })
}

/// Where `hypertick bench` writes by default.
pub fn default_out() -> PathBuf {
    PathBuf::from("docs/bench")
}
