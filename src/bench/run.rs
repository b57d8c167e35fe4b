//! One daemon run of the benchmark: a fresh table, the daemon started from its TOML
//! configuration, the load generator as a child process, a warm-up, the measured
//! window (rows committed, latency histogram difference, CPU, peak RSS), and the stop.
//! Also the database stall run.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::figures::{cores_text, megabytes, DaemonRun, StallRun, StallSample};
use super::load_process::LoadGenerator;
use super::measure::{cluster_processes, reset_peak_rss, signal_all, status_bytes, CpuMeter};
use crate::app::Daemon;
use crate::cli::BenchArgs;
use crate::config::Config;
use crate::db::Profile;
use crate::metrics::{Stats, TableSnapshot};
use crate::record::Table;

/// Which feed format the load generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Push,
    Binance,
    /// OKX `books` pushes into `book_deltas`.
    OkxBooks,
}

impl SourceFormat {
    /// The `source` named in the report.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Push => "push",
            SourceFormat::Binance => "binance",
            SourceFormat::OkxBooks => "okx books",
        }
    }

    /// The table its rows go to.
    pub fn table(self) -> Table {
        match self {
            SourceFormat::OkxBooks => Table::BookDeltas,
            SourceFormat::Push | SourceFormat::Binance => Table::Ticks,
        }
    }
}

pub struct BenchContext {
    pub(super) url: String,
    warmup: Duration,
    measure: Duration,
    pub(super) writers: usize,
    pub(super) push_connections: usize,
    binance_connections: usize,
    pub(super) frame_rows: usize,
    pub(super) symbols: usize,
    data_dir: Option<PathBuf>,
    spool_dir: PathBuf,
    /// The push configuration, parsed: what the report quotes for batch size and linger.
    pub config_sample: Config,
    /// The schema profile `migrate` chose for the database.
    pub profile: Profile,
    /// A `[tables.ticks]` section appended to the daemon's configuration (empty: none).
    ticks_settings: String,
}

/// Prints a progress line in place.
pub fn progress_line(label: &str, detail: &str) {
    print!("\r{label}: {detail}{:20}", "");
    let _ = std::io::stdout().flush();
}

/// What one measured window saw.
pub(super) struct Window {
    seconds: f64,
    rows: TableSnapshot,
    sent: u64,
    peak_rss_mb: f64,
    daemon_cores: f64,
    load_generator_cores: f64,
    postgres_cores: Option<f64>,
    /// The further processes given to `measure_window`, together.
    pub other_cores: f64,
    machine_busy: f64,
}

impl Window {
    pub(super) fn run(&self, name: &str, source: &str, rate: u64) -> DaemonRun {
        DaemonRun {
            name: name.to_string(),
            source: source.to_string(),
            offered_rate: rate,
            sent_per_sec: self.sent as f64 / self.seconds,
            committed_per_sec: self.rows.rows_written as f64 / self.seconds,
            latency_p50_ms: self.rows.latency_ms(0.5),
            latency_p99_ms: self.rows.latency_ms(0.99),
            latency_p999_ms: self.rows.latency_ms(0.999),
            latency_max_ms: self.rows.latency_ms(1.0),
            peak_rss_mb: self.peak_rss_mb,
            daemon_cores: self.daemon_cores,
            load_generator_cores: self.load_generator_cores,
            postgres_cores: self.postgres_cores,
            nats_cores: None,
            machine_busy: self.machine_busy,
        }
    }
}

impl BenchContext {
    pub async fn new(url: &str, args: &BenchArgs, data_dir: Option<PathBuf>, spool_dir: PathBuf) -> anyhow::Result<BenchContext> {
        let mut context = BenchContext {
            url: url.to_string(),
            warmup: Duration::from_secs(args.warmup),
            measure: Duration::from_secs(args.measure),
            writers: args.connections,
            push_connections: args.push_connections,
            binance_connections: args.binance_connections,
            frame_rows: args.frame_rows,
            symbols: args.symbols,
            data_dir,
            spool_dir,
            config_sample: Config::default(),
            profile: Profile::Vanilla,
            ticks_settings: String::new(),
        };
        context.config_sample = context.config(None, false)?;
        let report = crate::app::migrate(&context.config_sample).await.context("preparing the schema")?;
        context.profile = report.profile;
        println!("schema ready ({} profile)", report.profile.name());
        Ok(context)
    }

    /// Sets the `[tables.ticks]` section of the daemon's configuration for the runs
    /// that follow (checked now).
    pub fn set_ticks_settings(&mut self, section: &str) -> anyhow::Result<()> {
        self.ticks_settings = section.to_string();
        self.config(None, false).map(|_| ())
    }

    /// The daemon's configuration as a deployment would write it.
    /// `feed`: a venue source of that format served at that address (none: push only).
    fn config_text(&self, feed: Option<(SourceFormat, &str)>, spool: bool) -> String {
        let mut text = format!(
            "[database]\nurl = \"{}\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nack = \"received\"\nmax_connections = 64\n\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\nsummary_interval_secs = 0\n\n[pipeline]\nwriters_per_table = {}\n",
            self.url, self.writers
        );
        if !self.ticks_settings.is_empty() {
            text.push('\n');
            text.push_str(&self.ticks_settings);
        }
        if spool {
            text.push_str(&format!("\n[spool]\ndir = \"{}\"\nmax_bytes = {}\n", self.spool_dir.display(), 8u64 << 30));
        }
        if let Some((SourceFormat::OkxBooks, address)) = feed {
            let symbols: Vec<String> = (0..self.symbols).map(|index| format!("\"SYM{index:03}-USDT\"")).collect();
            text.push_str(&format!(
                "\n[[sources]]\nkind = \"okx\"\nurl = \"ws://{address}/ws\"\nsymbols = [{}]\nchannels = [\"book\"]\n",
                symbols.join(", ")
            ));
        }
        if let Some((SourceFormat::Binance, address)) = feed {
            let symbols: Vec<String> = (0..self.symbols).map(|index| format!("\"SYM{index:03}USDT\"")).collect();
            let per_source = symbols.len().div_ceil(self.binance_connections.max(1));
            for (index, chunk) in symbols.chunks(per_source.max(1)).enumerate() {
                text.push_str(&format!(
                    "\n[[sources]]\nkind = \"binance\"\nname = \"binance-{index}\"\nurl = \"ws://{address}/ws\"\nsymbols = [{}]\nchannels = [\"trades\"]\n",
                    chunk.join(", ")
                ));
            }
        }
        text
    }

    fn config(&self, feed: Option<(SourceFormat, &str)>, spool: bool) -> anyhow::Result<Config> {
        Ok(crate::app::load_config_str(&self.config_text(feed, spool), std::iter::empty())?)
    }

    /// The push configuration with the database address left out.
    pub fn config_text_for_report(&self) -> String {
        let database = if self.data_dir.is_some() { "postgres://…the throwaway cluster…" } else { "postgres://…--database-url…" };
        self.config_text(None, false).replace(&self.url, database)
    }

    pub fn can_pause_database(&self) -> bool {
        self.data_dir.is_some()
    }

    /// An empty `ticks` table and a checkpoint, so every run starts alike.
    pub async fn reset(&self) -> anyhow::Result<()> {
        let client = crate::db::connect(&self.url, Duration::from_secs(10)).await?;
        client
            .batch_execute("TRUNCATE ticks, book_deltas, book_snapshots, feed_events, dead_letters; CHECKPOINT")
            .await
            .context("resetting the table")?;
        Ok(())
    }

    fn postgres_processes(&self) -> Vec<u32> {
        self.data_dir.as_deref().map(cluster_processes).unwrap_or_default()
    }

    pub async fn daemon_run(&self, name: &str, format: SourceFormat, rate: u64) -> anyhow::Result<DaemonRun> {
        self.reset().await?;
        let (daemon, mut load) = self.start(format, rate, false).await?;
        let label = format!("{name:<28}");
        let window = self.measure_window(&label, format.table(), &daemon.stats, &load, &[]).await;
        let result = window.run(name, format.name(), rate);
        load.stop().await;
        daemon.stop().await?;
        println!(
            "\r{label}: {:.0} rows/s committed (sent {:.0}/s), p50 {:.1} p99 {:.1} p999 {:.1} ms, peak RSS {:.0} MB, cores: daemon {:.2} load {:.2} postgres {}",
            result.committed_per_sec,
            result.sent_per_sec,
            result.latency_p50_ms,
            result.latency_p99_ms,
            result.latency_p999_ms,
            result.peak_rss_mb,
            result.daemon_cores,
            result.load_generator_cores,
            cores_text(result.postgres_cores)
        );
        Ok(result)
    }

    /// The warm-up, then the measured window over the commits counted in `stats`, with
    /// a progress line every second. `others` are further processes whose CPU is measured
    /// (the NATS server of a bus run).
    pub(super) async fn measure_window(&self, label: &str, table: Table, stats: &Stats, load: &LoadGenerator, others: &[u32]) -> Window {
        let ticks = |stats: &Stats| rows_of(stats, table);
        let warmup_end = Instant::now() + self.warmup;
        while Instant::now() < warmup_end {
            tokio::time::sleep(Duration::from_millis(500)).await;
            progress_line(label, &format!("warming up, {} rows committed", ticks(stats).rows_written));
        }
        reset_peak_rss();
        let (before, sent_before) = (ticks(stats), load.sent());
        let daemon_cpu = CpuMeter::start(&[std::process::id()]);
        let load_cpu = CpuMeter::start(&[load.pid]);
        // Only a server the bench started has processes it knows.
        let postgres_cpu = self.data_dir.is_some().then(|| CpuMeter::start(&self.postgres_processes()));
        let others_cpu = CpuMeter::start(others);
        let started = Instant::now();
        let mut previous = before.clone();
        while started.elapsed() < self.measure {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = ticks(stats);
            let second = now.since(&previous);
            progress_line(
                label,
                &format!(
                    "{:>3}s committed {:>7}/s p99 {:>6.1} ms rss {:>4.0} MB",
                    started.elapsed().as_secs(),
                    second.rows_written,
                    second.latency_ms(0.99),
                    megabytes(status_bytes(std::process::id(), "VmRSS").unwrap_or(0))
                ),
            );
            previous = now;
        }
        Window {
            seconds: started.elapsed().as_secs_f64(),
            rows: ticks(stats).since(&before),
            sent: load.sent() - sent_before,
            peak_rss_mb: megabytes(status_bytes(std::process::id(), "VmHWM").unwrap_or(0)),
            daemon_cores: daemon_cpu.cores(),
            load_generator_cores: load_cpu.cores(),
            postgres_cores: postgres_cpu.map(|meter| meter.cores()),
            other_cores: others_cpu.cores(),
            machine_busy: daemon_cpu.machine_busy(),
        }
    }

    /// Starts the load generator and the daemon, in the order the format needs.
    async fn start(&self, format: SourceFormat, rate: u64, spool: bool) -> anyhow::Result<(Daemon, LoadGenerator)> {
        match format {
            SourceFormat::Push => {
                let daemon = Daemon::start(&self.config(None, spool)?).await?;
                let address = daemon.push_addr.context("the push server did not start")?;
                let mode = vec!["push".to_string(), "--url".into(), format!("ws://{address}")];
                let load = LoadGenerator::spawn(mode, rate, self.push_connections, self.frame_rows, self.symbols).await?;
                Ok((daemon, load))
            }
            SourceFormat::Binance | SourceFormat::OkxBooks => {
                let (mode, connections) = match format {
                    SourceFormat::Binance => ("binance", self.binance_connections),
                    _ => ("okx-books", 1),
                };
                let mode = vec![mode.to_string(), "--listen".into(), "127.0.0.1:0".into()];
                let load = LoadGenerator::spawn(mode, rate, connections, self.frame_rows, self.symbols).await?;
                let address = load.listening.clone().context("the load generator did not say where it listens")?;
                let daemon = Daemon::start(&self.config(Some((format, &address)), spool)?).await?;
                Ok((daemon, load))
            }
        }
    }

    /// Load at `rate` with the spool on; the database paused for `stall_secs` after a
    /// warm-up, then resumed; runs until the backlog has drained (or 3 minutes), then
    /// checks that every acked row is in the table once.
    pub async fn stall_run(&self, rate: u64, stall_secs: u64) -> anyhow::Result<StallRun> {
        self.reset().await?;
        let _ = std::fs::remove_dir_all(&self.spool_dir);
        std::fs::create_dir_all(&self.spool_dir)?;
        reset_peak_rss();
        let (daemon, mut load) = self.start(SourceFormat::Push, rate, true).await?;
        let began = Instant::now();
        let stall_begins = self.warmup.max(Duration::from_secs(5));
        let stall_ends = stall_begins + Duration::from_secs(stall_secs);
        let give_up = stall_ends + Duration::from_secs(180);
        let (mut paused, mut resumed) = (None, None);
        let mut postgres = Vec::new();
        let mut backlog_at_resume = 0;
        let mut acked_at_resume = 0;
        let mut drain_secs = None;
        let mut samples = Vec::new();
        let mut previous = ticks(&daemon.stats).rows_written;
        let label = "stall run";
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let at = began.elapsed();
            let committed = ticks(&daemon.stats).rows_written;
            let acked = load.acked();
            let sample = StallSample {
                at_secs: at.as_secs_f64(),
                rss_mb: megabytes(status_bytes(std::process::id(), "VmRSS").unwrap_or(0)),
                backlog_rows: acked.saturating_sub(committed),
                committed_per_sec: (committed - previous) as f64,
            };
            previous = committed;
            let state = match (paused, resumed) {
                (None, _) => "warming up",
                (Some(_), None) => "database PAUSED",
                _ => "draining",
            };
            progress_line(
                label,
                &format!(
                    "{:>4.0}s {state:<16} rss {:>4.0} MB backlog {:>9} rows committed {:>7}/s",
                    sample.at_secs, sample.rss_mb, sample.backlog_rows, sample.committed_per_sec
                ),
            );
            samples.push(sample);
            if paused.is_none() && at >= stall_begins {
                postgres = self.postgres_processes();
                if postgres.is_empty() {
                    bail!("found no PostgreSQL processes to pause");
                }
                signal_all(&postgres, libc::SIGSTOP);
                paused = Some(at);
            } else if paused.is_some() && resumed.is_none() && at >= stall_ends {
                signal_all(&postgres, libc::SIGCONT);
                resumed = Some(at);
                backlog_at_resume = acked.saturating_sub(committed);
                acked_at_resume = acked;
            } else if let Some(resumed_at) = resumed {
                if drain_secs.is_none() && committed >= acked_at_resume {
                    drain_secs = Some((at - resumed_at).as_secs_f64());
                }
                // A few seconds of steady state after the drain, for the chart.
                let settled = drain_secs.is_some_and(|drain| (at - resumed_at).as_secs_f64() >= drain + 5.0);
                if settled || at >= give_up {
                    break;
                }
            }
        }
        if resumed.is_none() {
            signal_all(&postgres, libc::SIGCONT);
        }
        let peak_rss_mb = megabytes(status_bytes(std::process::id(), "VmHWM").unwrap_or(0));
        let (_, acked) = load.stop().await;
        // Everything acked is committed or kept in the spool when the stop returns.
        daemon.stop().await?;
        let client = crate::db::connect(&self.url, Duration::from_secs(10)).await?;
        let mut present: i64 = client.query_one("SELECT count(*) FROM ticks", &[]).await?.get(0);
        let present_at_stop = present;
        if (present as u64) < acked {
            // The backlog outlasted the window: what the stop left in the spool is
            // replayed by the next start, as in production. Start the daemon again on
            // the same spool, without load, until the table holds every acked row.
            println!(
                "\r{label}: {} acked rows still in the spool at the stop; restarting the daemon to replay them…",
                acked - present as u64
            );
            let daemon = Daemon::start(&self.config(None, true)?).await?;
            let deadline = Instant::now() + Duration::from_secs(600);
            while (present as u64) < acked && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(2)).await;
                present = client.query_one("SELECT count(*) FROM ticks", &[]).await?.get(0);
            }
            daemon.stop().await?;
            present = client.query_one("SELECT count(*) FROM ticks", &[]).await?.get(0);
        }
        println!(
            "\r{label}: peak RSS {peak_rss_mb:.0} MB, backlog at resume {backlog_at_resume} rows, drained in {}, acked {acked}, present {present}{:20}",
            drain_secs.map_or("-".to_string(), |secs| format!("{secs:.1} s")),
            ""
        );
        Ok(StallRun {
            offered_rate: rate,
            stall_secs,
            peak_rss_mb,
            backlog_at_resume,
            drain_secs,
            acked,
            present: present as u64,
            present_at_stop: present_at_stop as u64,
            samples,
            stall_began_at: paused.map_or(0.0, |at| at.as_secs_f64()),
            stall_ended_at: resumed.map_or(0.0, |at| at.as_secs_f64()),
        })
    }
}

pub(super) fn ticks(stats: &Stats) -> TableSnapshot {
    rows_of(stats, Table::Ticks)
}

/// The commit statistics of one table.
pub(super) fn rows_of(stats: &Stats, table: Table) -> TableSnapshot {
    stats.snapshots().into_iter().find(|snapshot| snapshot.table == table).expect("the statistics cover every built-in table")
}
