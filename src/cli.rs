//! The command line: subcommands and their flags (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "hypertick", version, about = "Market data from websocket feeds into PostgreSQL / TimescaleDB with binary COPY")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: migrate, start writers, metrics and sources; stop on SIGINT/SIGTERM.
    Run(ConfigArg),
    /// Apply the schema migrations and create partitions ahead, then exit.
    Migrate(ConfigArg),
    /// Validate a configuration file (with environment overrides) and report every problem.
    CheckConfig(ConfigArg),
    /// A self-contained demo: throwaway PostgreSQL, synthetic live feed on loopback.
    Demo(DemoArgs),
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
pub struct ConfigArg {
    /// The TOML configuration file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
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
}
