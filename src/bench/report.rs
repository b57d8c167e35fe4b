//! The benchmark's results: what was measured, the ratios against the baselines and
//! the targets, printed as a table and written as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::figures::{cores_text, rate, Baseline, BusComparison, DaemonRun, Machine, Ratio, Settings, StallRun};

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
    /// Order books (`--only books`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub books: Option<super::books::BooksRun>,
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
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0}% |",
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
                cores_text(run.postgres_cores),
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
        if let Some(books) = &self.books {
            out.push_str(&super::books::markdown(books));
        }
        if !self.profiles.is_empty() {
            out.push_str(&super::profiles_report::markdown(&self.profiles, self.profiles_note.as_deref(), settings));
        }
        let _ = writeln!(out, "\n## Ratios and targets\n");
        let _ = writeln!(out, "| ratio | value | target | met |\n|---|---|---|---|");
        for ratio in &self.ratios {
            let _ = writeln!(out, "| {} | {:.2} | {} | {} |", ratio.name, ratio.value, ratio.target, if ratio.met { "yes" } else { "no" });
        }
        out
    }
}
