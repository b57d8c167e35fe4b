//! The figures a benchmark run measures: the machine and settings, baselines, the
//! daemon's runs, the stall run, ratios against their targets. `report` renders them.

use serde::Serialize;

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
    /// `None` where the bench did not start the server (`--database-url`): it does not
    /// know that server's processes.
    pub postgres_cores: Option<f64>,
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

pub fn rate(rows_per_sec: f64) -> String {
    if rows_per_sec >= 1_000_000.0 {
        format!("{:.2} M/s", rows_per_sec / 1_000_000.0)
    } else if rows_per_sec >= 1_000.0 {
        format!("{:.1} k/s", rows_per_sec / 1_000.0)
    } else {
        format!("{rows_per_sec:.0} /s")
    }
}

/// Cores as a figure's text: two decimals, or "not measured".
pub fn cores_text(cores: Option<f64>) -> String {
    cores.map_or_else(|| "not measured".to_string(), |cores| format!("{cores:.2}"))
}
