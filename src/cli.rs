//! The command line: subcommands and their flags (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "hypertick", version, about = "Market data from websocket feeds into PostgreSQL / TimescaleDB with binary COPY")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as human-readable text or as one JSON object per line (on stderr).
    #[arg(long, global = true, value_enum, default_value_t = crate::logging::LogFormat::Text)]
    pub log_format: crate::logging::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: migrate, start writers, metrics and sources; stop on SIGINT/SIGTERM.
    Run(ConfigArg),
    /// Apply the schema migrations and converge the schema on the configuration (partitions
    /// ahead, hypertable policies, aggregates), then exit. Refuses a retention that would
    /// drop existing data unless --allow-retention-drop.
    Migrate(MigrateArgs),
    /// Validate a configuration file (with environment overrides) and report every problem.
    CheckConfig(ConfigArg),
    /// A self-contained demo: throwaway PostgreSQL, synthetic live feed on loopback.
    Demo(DemoArgs),
    /// The end-to-end benchmark: the daemon against raw COPY, multi-row INSERT and per-row
    /// INSERT into the same table, latency by offered rate, a database stall; writes
    /// results.json, results.md and chart.png.
    Bench(BenchArgs),
    /// The benchmark's load generator (started by `bench` as a separate process).
    #[command(hide = true)]
    BenchLoad(BenchLoadArgs),
    /// Print the configuration reference (Markdown) generated from the config structs' docs.
    ConfigReference,
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page hypertick(1) (roff).
    Manpage,
    /// Backfill files (CSV or NDJSON; plain, .gz or .zst) into a table, exactly once;
    /// re-run the same command to continue an import that stopped.
    Import(crate::import::ImportArgs),
    /// Feed capture files (recorded with a source's `record`) through the same adapters
    /// into the configured database, at the recorded pace, faster, or at full speed.
    Replay(crate::replay::ReplayArgs),
    /// Benchmark `import` against `psql \copy` of the same generated CSV (throwaway database).
    BenchImport(crate::import::BenchImportArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The TOML configuration file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The TOML configuration file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Accept a shortened (or newly set) retention that drops data already stored;
    /// without it such a migrate names what would be dropped and changes nothing.
    #[arg(long)]
    pub allow_retention_drop: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Records per second the synthetic feed offers.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub rate: u64,
    /// Number of symbols in the synthetic market.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub symbols: usize,
    /// Keep the throwaway database running afterwards and print how to reach and stop it.
    #[arg(long)]
    pub keep: bool,
    /// The schema profile: `auto` runs TimescaleDB when this machine's PostgreSQL has it
    /// installed (the demo's cluster preloads it), vanilla PostgreSQL otherwise.
    #[arg(long, value_enum, env = "HYPERTICK_SCHEMA_PROFILE", default_value = "auto")]
    pub profile: DemoProfile,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measure this database instead of starting throwaway clusters: its schema is
    /// migrated to the bench configuration (on TimescaleDB that drops the `ticks`
    /// `(time DESC)` index, see `[tables.ticks] time_index`), `ticks`, `feed_events`
    /// and `dead_letters` are truncated before each run, and only its own profile is
    /// measured; the stall run (which pauses the server) is skipped.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Where results.json, results.md and chart.png go.
    #[arg(long, value_name = "DIR", default_value = "docs/bench")]
    pub out: PathBuf,
    /// Seconds of load before each measured window.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub warmup: u64,
    /// Seconds each figure is measured over.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    pub measure: u64,
    /// Offered rates (rows/s) for the latency runs, comma-separated.
    #[arg(long, value_name = "N,N", value_delimiter = ',', default_value = "10000,50000,100000,200000")]
    pub rates: Vec<u64>,
    /// The daemon's writers for `ticks`, and the connections of the N-connection baselines.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub connections: usize,
    /// Push websocket connections the load generator opens.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub push_connections: usize,
    /// Binance sources (one websocket each) the symbols are split over.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub binance_connections: usize,
    /// Ticks per push frame.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub frame_rows: usize,
    /// Symbols in the synthetic market.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub symbols: usize,
    /// Distinct rows the baselines cycle through.
    #[arg(long, value_name = "N", default_value_t = 500_000)]
    pub dataset_rows: usize,
    /// Seconds the database is paused in the stall run (0 skips it).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub stall_secs: u64,
    /// Offered rows/s during the stall run.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub stall_rate: u64,
    /// Offered rates (rows/s) for the latency runs through the bus, comma-separated.
    #[arg(long, value_name = "N,N", value_delimiter = ',', default_value = "50000")]
    pub bus_rates: Vec<u64>,
    /// Run only these parts, comma-separated: push (the push max-rate run), binance,
    /// rates (the fixed offered rates), bus (push through edge, NATS and writer), stall,
    /// baselines, profiles (vanilla and TimescaleDB side by side: raw COPY ceiling with
    /// and without the time index, hypertick with copy and with direct compress,
    /// compression ratio, the cookbook's query times), books (OKX book pushes into
    /// `book_deltas` beside raw COPY of the same rows, and their compressed storage on
    /// TimescaleDB), chaos (the fault soak: `--chaos-secs` of load, hostile frames,
    /// PostgreSQL and daemon kills; writes chaos.md and chaos.json). Default: all of
    /// them but chaos, which runs only when named here (it lasts 10 minutes by default).
    #[arg(long, value_name = "PART,PART", value_delimiter = ',', value_enum)]
    pub only: Vec<BenchPart>,
    /// Chaos: seconds of load under faults before everything drains and is counted.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub chaos_secs: u64,
    /// Chaos: rows/s offered by the valid producers together.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub chaos_rate: u64,
    /// Chaos: valid producer connections (each with its own symbol and ledger).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub chaos_producers: usize,
    /// Chaos: PostgreSQL is stopped (`pg_ctl stop -m immediate`) every SECS seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 47)]
    pub chaos_db_every: u64,
    /// Chaos: seconds PostgreSQL stays down each time.
    #[arg(long, value_name = "SECS", default_value_t = 6)]
    pub chaos_db_down: u64,
    /// Chaos: the daemon is SIGKILLed and restarted every SECS seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 71)]
    pub chaos_daemon_every: u64,
    /// Chaos: one hostile input (of the rotation) is sent every SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    pub chaos_hostile_every: u64,
}

/// The demo's schema profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoProfile {
    Auto,
    Vanilla,
    Timescaledb,
}

/// A part of `hypertick bench`, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPart {
    Push,
    Binance,
    Rates,
    Bus,
    Stall,
    Baselines,
    Profiles,
    /// Order books: OKX `books` pushes through the adapter and book keeper into
    /// `book_deltas`, beside raw COPY of the same rows; compressed storage on TimescaleDB.
    Books,
    Chaos,
}

impl BenchArgs {
    /// Whether `part` runs (every part but chaos does without `--only`).
    pub fn runs(&self, part: BenchPart) -> bool {
        self.only.contains(&part) || (self.only.is_empty() && part != BenchPart::Chaos)
    }

    /// Whether only the chaos soak was asked for (nothing else needs setting up).
    pub fn only_chaos(&self) -> bool {
        !self.only.is_empty() && self.only.iter().all(|part| *part == BenchPart::Chaos)
    }
}

#[derive(Debug, Args)]
pub struct BenchLoadArgs {
    /// `push` (connect to --url), `binance` or `okx-books` (listen on --listen).
    #[arg(value_name = "MODE")]
    pub mode: String,
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Rows per second offered in all; 0 = as fast as they are taken.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    #[arg(long, default_value_t = 500)]
    pub frame_rows: usize,
    #[arg(long, default_value_t = 50)]
    pub symbols: usize,
    /// Stop after this many seconds (otherwise at SIGTERM).
    #[arg(long)]
    pub seconds: Option<u64>,
}
