//! The `hypertick` binary: parse the command line, set up logging, run, and map the
//! outcome to an exit code (0 success, 1 runtime failure, 2 invalid configuration).

use std::process::ExitCode;

use clap::Parser;
use hypertick::cli::{Cli, Command};
use hypertick::config::{self, ConfigErrors};
use hypertick::logging::LogFormat;
use hypertick::{app, bench, demo};

// mimalloc returns freed memory to the system and does not fragment into per-thread
// arenas as glibc's malloc does when rows are allocated on the source tasks and freed on
// the writer threads (measured: peak RSS at the maximum rate, `hypertick bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes a line of a command's report to stdout. A reader that went away (`hypertick
/// check-config | head -1`) ends the process quietly rather than with a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        say_raw(&format!("{}\n", format_args!($($arg)*)))
    };
}

fn say_raw(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own progress; its default log level keeps only problems.
    let default_level = if matches!(cli.command, Command::Demo(_) | Command::Import(_) | Command::BenchImport(_)) {
        "warn"
    } else if matches!(cli.command, Command::Bench(_) | Command::BenchLoad(_)) {
        "error"
    } else {
        "info"
    };
    hypertick::logging::init(cli.log_format, default_level);

    // TLS for wss:// feeds uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json_logs = cli.log_format == LogFormat::Json;
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<ConfigErrors>() {
            // With JSON logs every line on stderr is a JSON object, the last words too.
            Some(config_errors) if json_logs => {
                for config_error in &config_errors.0 {
                    tracing::error!(key = %config_error.key, "configuration error: {}", config_error.message);
                }
                ExitCode::from(2)
            }
            Some(config_errors) => {
                eprint!("{config_errors}");
                ExitCode::from(2)
            }
            None if json_logs => {
                tracing::error!(error = %format!("{error:#}"), "exiting on error");
                ExitCode::FAILURE
            }
            None => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => app::run(app::load_config(&args.config)?).await,
        Command::Migrate(args) => {
            let config = app::load_config(&args.config)?;
            let options = hypertick::db::SchemaOptions { allow_retention_drop: args.allow_retention_drop };
            let report = app::migrate_with(&config, options).await?;
            say!(
                "schema ready ({} profile): {} migration(s) applied, {} already applied",
                report.profile.name(),
                report.migrations.applied.len(),
                report.migrations.already_applied
            );
            for change in &report.converged {
                say!("  {change}");
            }
            if report.converged.is_empty() {
                say!("  every setting already matched the configuration");
            }
            if let Some(jobs) = &report.jobs {
                say!("  {jobs}");
            }
            for warning in &report.warnings {
                say!("warning: {warning}");
            }
            Ok(())
        }
        Command::CheckConfig(args) => {
            let config = app::load_config(&args.config)?;
            say!("{}: configuration is valid", args.config.display());
            let bus = &config.bus;
            match bus.role {
                config::BusRole::All => {}
                config::BusRole::Edge => say!(
                    "  role: edge {} publishing to stream {} at {}",
                    bus.edge_id.as_deref().unwrap_or("-"),
                    bus.stream,
                    hypertick::config::redact_url(&bus.url)
                ),
                config::BusRole::Writer => say!(
                    "  role: writer consuming stream {} at {} (consumers {}-<table>)",
                    bus.stream,
                    hypertick::config::redact_url(&bus.url),
                    bus.consumer
                ),
            }
            if let Some(url) = config.database_url() {
                // Host, port, database and TLS mode only: never the user's password.
                say!("  database: {}", hypertick::db::describe_url(url));
            }
            match &config.server {
                Some(server) => {
                    let scheme = if server.tls_cert.is_some() { "wss" } else { "ws" };
                    let token = if server.token.is_some() || server.token_file.is_some() { "bearer token required" } else { "no token" };
                    say!("  push server: {scheme}://{} ({token})", server.listen);
                }
                None => say!("  push server: off"),
            }
            if config.metrics.enabled {
                say!("  metrics: http://{}/metrics", config.metrics.listen);
            }
            for source in &config.sources {
                let Ok(adapter) = hypertick::source::adapter_from_config(source) else { continue };
                let names = |channels: Vec<config::Channel>| -> String {
                    let names: Vec<&str> = channels.into_iter().map(config::Channel::name).collect();
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                };
                say!(
                    "  source: {} ({}): {}; the venue offers {}; of them derivatives and reference data: {}",
                    source.name(),
                    source.kind.name(),
                    names(source.channels.clone()),
                    names(adapter.channels().to_vec()),
                    names(adapter.channels().iter().copied().filter(|channel| channel.is_derivative()).collect())
                );
            }
            for custom in &config.custom_tables {
                let keyed = if custom.is_keyed() { ", keyed: written by the relational writer" } else { "" };
                say!("  custom table: {} ({} columns, time column {}{keyed})", custom.name, custom.columns.len(), custom.time_column);
            }
            for warning in app::warnings(&config) {
                say!("  warning: {warning}");
            }
            Ok(())
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchLoad(args) => {
            let mode = match (args.mode.as_str(), args.url, args.listen) {
                ("push", Some(url), _) => bench::LoadMode::Push { url },
                ("binance", _, Some(listen)) => bench::LoadMode::Binance { listen },
                ("okx-books", _, Some(listen)) => bench::LoadMode::OkxBooks { listen },
                (mode, _, _) => {
                    anyhow::bail!("bench-load: mode `{mode}` needs `push --url URL`, `binance --listen ADDR` or `okx-books --listen ADDR`")
                }
            };
            let plan = bench::LoadPlan {
                mode,
                rate: args.rate,
                connections: args.connections,
                frame_rows: args.frame_rows,
                symbols: args.symbols,
                seconds: args.seconds,
            };
            bench::loadgen::run(plan).await
        }
        Command::ConfigReference => {
            say_raw(&hypertick::docs::config_reference());
            Ok(())
        }
        Command::Completions(args) => {
            hypertick::docs::write_completions(args.shell, &mut std::io::stdout());
            Ok(())
        }
        Command::Manpage => Ok(hypertick::docs::write_manpage(&mut std::io::stdout())?),
        Command::Import(args) => hypertick::import::run(args).await,
        Command::Replay(args) => hypertick::replay::run(args).await,
        Command::BenchImport(args) => hypertick::import::bench(args).await,
    }
}
