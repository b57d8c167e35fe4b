//! `hypertick replay`: capture files recorded by sources with `record = "dir"` fed
//! through the same adapters, router and writers as a live run, into the configured
//! database. The daemon starts without its sources, push server, metrics listener or
//! spool (so it can run beside a live daemon of the same configuration); each capture
//! goes through the `[[sources]]` entry that recorded it (by name), and each message
//! keeps its recorded receipt time, so the rows are those of the live run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Context};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::app::Daemon;
use crate::config::{ConfigError, ConfigErrors};
use crate::shutdown;
use crate::source::feed::{FeedSource, Pace, ReplaySource};
use crate::source::{adapter_from_config, Source, SourceContext};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The TOML configuration file: the database, and the `[[sources]]` that recorded.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Pace: 1 replays at the recorded pace, 10 ten times faster, 0.5 at half speed.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0, conflicts_with = "max")]
    pub speed: f64,
    /// As fast as the pipeline takes the records.
    #[arg(long)]
    pub max: bool,
    /// Replay every capture through this `[[sources]]` entry, rather than the one
    /// named in each capture file.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Capture files (`<source>-<start>-<n>.ndjson[.zst]`), replayed in the order of
    /// their file names, which is the order they were recorded in.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
}

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        let message = format!("expected a factor above 0, got {}", args.speed);
        return Err(ConfigErrors(vec![ConfigError { key: "--speed".into(), message }]).into());
    }
    let config = crate::app::load_config(&args.config)?;
    let mut feeds = Vec::with_capacity(config.sources.len());
    for source in &config.sources {
        let mut source = source.clone();
        // The replay is not recorded again.
        source.record = None;
        feeds.push(FeedSource::new(source.clone(), adapter_from_config(&source)?));
    }
    if let Some(name) = &args.source {
        if !config.sources.iter().any(|source| &source.name() == name) {
            let message = format!("no [[sources]] entry is named `{name}`");
            return Err(ConfigErrors(vec![ConfigError { key: "--source".into(), message }]).into());
        }
    }
    let mut captures = args.captures.clone();
    captures.sort_by(|left, right| left.file_name().cmp(&right.file_name()));
    let pace = if args.max { Pace::Max } else { Pace::Scaled(args.speed) };

    let mut daemon_config = config.clone();
    daemon_config.sources.clear();
    daemon_config.server = None;
    daemon_config.spool = None;
    daemon_config.metrics.enabled = false;
    let started = Instant::now();
    let daemon = Daemon::start(&daemon_config).await?;
    let router = daemon.router().context("the daemon started without a router")?;
    let replay = ReplaySource::new(feeds, captures, pace, args.source.clone());
    let counts = replay.counts.clone();
    let context = SourceContext { router, health: daemon.health.clone(), shutdown: CancellationToken::new() };
    let failed = daemon.failed();
    let replayed = tokio::select! {
        result = Box::new(replay).run(context) => result,
        name = shutdown::signal() => {
            eprintln!("{name} received: stopping the replay, committing what was read");
            Ok(())
        }
        _ = failed.cancelled() => Err(anyhow!("a writer failed; stopping")),
    };
    let stopped = daemon.stop().await;
    println!(
        "replayed {} message(s) ({} record(s), {} connection(s)) from {} capture file(s) in {:.1} s",
        counts.frames.load(std::sync::atomic::Ordering::Relaxed),
        counts.records.load(std::sync::atomic::Ordering::Relaxed),
        counts.connections.load(std::sync::atomic::Ordering::Relaxed),
        counts.files.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    replayed?;
    stopped.map(|_| ())
}
