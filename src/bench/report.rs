//! The benchmark's results: what was measured, the ratios against the baselines and
//! the targets, printed as a table and written as JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// Everything one `hypertick bench` run measured.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// The command line that produced this report.
    pub command: String,
    pub machine: Machine,
    pub settings: Settings,
    /// The baselines, rows/s committed.
    pub baselines: Vec<Baseline>,
    /// The daemon's runs, one per source format and offered rate.
    pub daemon: Vec<DaemonRun>,
    pub stall: Option<StallRun>,
    pub ratios: Vec<Ratio>,
    /// Push through the bus (edge → NATS → writer) against the single-process push runs.
    pub bus: Vec<BusComparison>,
    /// Both schema profiles side by side (`--only profiles`).
    pub profiles: Vec<super::profiles::ProfileRun>,
    /// Why a profile was not measured (TimescaleDB not installed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles_note: Option<String>,
}

/// One figure through the bus beside the same figure of the single-process daemon.
#[derive(Debug, Clone, Serialize)]
pub struct BusComparison {
    pub figure: String,
    /// `rows/s` or `ms`.
    pub unit: &'static str,
    pub single_process: Option<f64>,
    pub through_the_bus: f64,
    /// through_the_bus / single_process.
    pub ratio: Option<f64>,
}

/// The bus runs (`source == bus_source`) beside the push runs at the same offered rate:
/// rows/s at max rate, p99 and p999 at fixed rates.
pub fn bus_comparisons(daemon: &[DaemonRun], bus_source: &str) -> Vec<BusComparison> {
    let mut comparisons = Vec::new();
    for bus in daemon.iter().filter(|run| run.source == bus_source) {
        let single = daemon.iter().find(|run| run.source == "push" && run.offered_rate == bus.offered_rate);
        let mut compare = |figure: String, value: fn(&DaemonRun) -> f64| {
            let single_process = single.map(value);
            comparisons.push(BusComparison {
                unit: if figure.starts_with("rows/s") { "rows/s" } else { "ms" },
                figure,
                single_process,
                through_the_bus: value(bus),
                ratio: single_process.filter(|single| *single > 0.0).map(|single| value(bus) / single),
            });
        };
        if bus.offered_rate == 0 {
            compare("rows/s committed, max rate".into(), |run| run.committed_per_sec);
            compare("p99 ms at max rate".into(), |run| run.latency_p99_ms);
        } else {
            let offered = rate(bus.offered_rate as f64);
            compare(format!("rows/s committed at {offered} offered"), |run| run.committed_per_sec);
            compare(format!("p50 ms at {offered} offered"), |run| run.latency_p50_ms);
            compare(format!("p99 ms at {offered} offered"), |run| run.latency_p99_ms);
            compare(format!("p999 ms at {offered} offered"), |run| run.latency_p999_ms);
        }
    }
    comparisons
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub os: String,
    pub kernel: String,
    pub postgres: String,
    /// Server settings that shape the figures.
    pub postgres_settings: Vec<(String, String)>,
    /// The database the parts other than `profiles` ran on.
    pub database: String,
    /// Its indexes on `ticks`.
    pub ticks_indexes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub warmup_secs: u64,
    pub measure_secs: u64,
    /// Connections for the N-connection baselines (= the daemon's writers for ticks).
    pub connections: usize,
    pub batch_max_rows: usize,
    pub linger_ms: u64,
    pub push_frame_rows: usize,
    pub push_connections: usize,
    pub binance_connections: usize,
    pub symbols: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub method: String,
    pub connections: usize,
    pub rows_per_sec: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DaemonRun {
    pub name: String,
    /// `push` or `binance`.
    pub source: String,
    /// Offered rows/s; 0 = as fast as the daemon takes them.
    pub offered_rate: u64,
    /// Rows/s the load generator actually sent over the window.
    pub sent_per_sec: f64,
    /// Rows/s committed over the window, after the warm-up.
    pub committed_per_sec: f64,
    /// Receipt → commit, every row committed in the window, ms.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub latency_max_ms: f64,
    /// Peak resident memory of the daemon's process over the run.
    pub peak_rss_mb: f64,
    /// Cores used on average over the window: the daemon, the load generator, PostgreSQL.
    pub daemon_cores: f64,
    pub load_generator_cores: f64,
    pub postgres_cores: f64,
    /// Runs through the bus: cores the NATS server used (the edge and the writer run in
    /// this process and are counted together as the daemon).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_cores: Option<f64>,
    /// How busy the whole machine was, 0..=1.
    pub machine_busy: f64,
}

/// The database paused (SIGSTOP) while load keeps coming, then resumed.
#[derive(Debug, Clone, Serialize)]
pub struct StallRun {
    pub offered_rate: u64,
    pub stall_secs: u64,
    pub peak_rss_mb: f64,
    /// Rows accepted but not yet committed at the moment the database resumed.
    pub backlog_at_resume: u64,
    /// Seconds from resume until everything accepted before the resume was committed.
    pub drain_secs: Option<f64>,
    /// Rows the load generator had acknowledged, and rows in the table at the end.
    pub acked: u64,
    pub present: u64,
    /// Rows in `ticks` when the daemon stopped; less than `present` when the backlog
    /// outlasted the window and a restart replayed the rest from the spool.
    pub present_at_stop: u64,
    /// Once a second: seconds since load began, RSS, accepted-not-committed rows.
    pub samples: Vec<StallSample>,
    pub stall_began_at: f64,
    pub stall_ended_at: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StallSample {
    pub at_secs: f64,
    pub rss_mb: f64,
    pub backlog_rows: u64,
    pub committed_per_sec: f64,
}

/// One ratio and whether it meets its target.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub name: String,
    pub value: f64,
    /// "≥ 0.8", "≤ 30 ms", …
    pub target: String,
    pub met: bool,
}

pub fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

pub(super) fn rate(rows_per_sec: f64) -> String {
    if rows_per_sec >= 1_000_000.0 {
        format!("{:.2} M/s", rows_per_sec / 1_000_000.0)
    } else if rows_per_sec >= 1_000.0 {
        format!("{:.1} k/s", rows_per_sec / 1_000.0)
    } else {
        format!("{rows_per_sec:.0} /s")
    }
}

impl BenchReport {
    /// The report as a Markdown document: machine, command, tables, ratios.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let _ = writeln!(out, "# hypertick bench\n");
        let _ = writeln!(out, "Command: `{}`\n", self.command);
        let _ = writeln!(
            out,
            "Machine: {} cores ({}), {:.0} GiB, {}, Linux {}; {} ({}: {}).\n",
            machine.cores,
            machine.cpu,
            machine.memory_gib,
            machine.os,
            machine.kernel,
            machine.postgres,
            machine.database,
            machine.postgres_settings.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(", ")
        );
        let settings = &self.settings;
        let _ = writeln!(
            out,
            "Each figure: {} s warm-up, then {} s measured; table `ticks` (8 columns; indexes: {}), \
             truncated and checkpointed before each run; {} symbols; daemon batches of up to {} rows, linger {} ms, \
             {} writers, write mode copy; push frames of {} ticks over {} connection(s); Binance: one message per trade over {} connection(s).\n",
            settings.warmup_secs,
            settings.measure_secs,
            if machine.ticks_indexes.is_empty() { "none".to_string() } else { machine.ticks_indexes.join("; ") },
            settings.symbols,
            settings.batch_max_rows,
            settings.linger_ms,
            settings.connections,
            settings.push_frame_rows,
            settings.push_connections,
            settings.binance_connections
        );
        let _ = writeln!(out, "## Throughput, rows committed per second\n");
        let _ = writeln!(out, "| method | connections | rows/s |\n|---|---|---|");
        for run in self.daemon.iter().filter(|run| run.offered_rate == 0) {
            let _ = writeln!(out, "| hypertick, {} | {} writers | {} |", run.name, settings.connections, rate(run.committed_per_sec));
        }
        for baseline in &self.baselines {
            let _ = writeln!(out, "| {} | {} | {} |", baseline.method, baseline.connections, rate(baseline.rows_per_sec));
        }
        let _ = writeln!(out, "\n## The daemon's runs\n");
        let _ = writeln!(
            out,
            "| run | offered | sent | committed | p50 ms | p99 ms | p999 ms | max ms | peak RSS MB | daemon cores | load gen cores | PostgreSQL cores | NATS cores | machine busy |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for run in &self.daemon {
            let offered = if run.offered_rate == 0 { "max".to_string() } else { rate(run.offered_rate as f64) };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0}% |",
                run.name,
                offered,
                rate(run.sent_per_sec),
                rate(run.committed_per_sec),
                run.latency_p50_ms,
                run.latency_p99_ms,
                run.latency_p999_ms,
                run.latency_max_ms,
                run.peak_rss_mb,
                run.daemon_cores,
                run.load_generator_cores,
                run.postgres_cores,
                run.nats_cores.map_or("—".to_string(), |cores| format!("{cores:.2}")),
                run.machine_busy * 100.0
            );
        }
        if let Some(stall) = &self.stall {
            let _ = writeln!(out, "\n## Database stall\n");
            let _ = writeln!(
                out,
                "{} rows/s offered; PostgreSQL paused (SIGSTOP) for {} s, then resumed. Peak RSS {:.0} MB; backlog at resume \
                 {} rows; drained in {}; acked {} rows, {} present in `ticks` at the end{}{}.\n",
                rate(stall.offered_rate as f64),
                stall.stall_secs,
                stall.peak_rss_mb,
                stall.backlog_at_resume,
                stall.drain_secs.map_or("— (not within the run)".to_string(), |secs| format!("{secs:.1} s")),
                stall.acked,
                stall.present,
                if stall.present_at_stop < stall.present {
                    format!(
                        " ({} when the daemon stopped with the backlog still draining; the rest replayed from the spool by \
                         the next start)",
                        stall.present_at_stop
                    )
                } else {
                    String::new()
                },
                if stall.present == stall.acked { " (every acked row, once)" } else { " (MISMATCH)" }
            );
        }
        if !self.bus.is_empty() {
            let _ = writeln!(out, "\n## Through the bus (edge → NATS JetStream → writer)\n");
            let _ = writeln!(out, "| figure | single process | through the bus | bus / single |\n|---|---|---|---|");
            for comparison in &self.bus {
                let figure = |value: f64| if comparison.unit == "rows/s" { rate(value) } else { format!("{value:.1}") };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    comparison.figure,
                    comparison.single_process.map_or("— (not run)".to_string(), figure),
                    figure(comparison.through_the_bus),
                    comparison.ratio.map_or("—".to_string(), |ratio| format!("{ratio:.2}"))
                );
            }
        }
        if !self.profiles.is_empty() {
            out.push_str(&super::profiles::markdown(&self.profiles, self.profiles_note.as_deref(), settings));
        }
        let _ = writeln!(out, "\n## Ratios and targets\n");
        let _ = writeln!(out, "| ratio | value | target | met |\n|---|---|---|---|");
        for ratio in &self.ratios {
            let _ = writeln!(out, "| {} | {:.2} | {} | {} |", ratio.name, ratio.value, ratio.target, if ratio.met { "yes" } else { "no" });
        }
        out
    }
}
