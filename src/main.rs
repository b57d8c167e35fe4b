//! The `hypertick` binary: parse the command line, set up logging, run, and map the
//! outcome to an exit code (0 success, 1 runtime failure, 2 invalid configuration).

use std::process::ExitCode;

use clap::Parser;
use hypertick::cli::{Cli, Command};
use hypertick::config::{self, ConfigErrors};
use hypertick::{app, demo};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints its own progress; its default log level keeps only problems.
    let default_level = if matches!(cli.command, Command::Demo(_) | Command::Import(_) | Command::BenchImport(_)) { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // At trace level the websocket client logs whole upgrade requests, whose query
    // may hold a feed's key; it logs nothing at info or above, so cap it there,
    // whatever RUST_LOG says.
    let filter = match "tungstenite::handshake::client=info".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();

    // TLS for wss:// feeds uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<ConfigErrors>() {
            Some(config_errors) => {
                eprint!("{config_errors}");
                ExitCode::from(2)
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
        Command::Run(args) => app::run(config::load_file(&args.config)?).await,
        Command::Migrate(args) => {
            let config = config::load_file(&args.config)?;
            let report = app::migrate(&config).await?;
            println!(
                "schema ready ({} profile): {} migration(s) applied, {} already applied",
                report.profile.name(),
                report.migrations.applied.len(),
                report.migrations.already_applied
            );
            for change in &report.converged {
                println!("  {change}");
            }
            if report.converged.is_empty() {
                println!("  every setting already matched the configuration");
            }
            Ok(())
        }
        Command::CheckConfig(args) => {
            let config = config::load_file(&args.config)?;
            println!("{}: configuration is valid", args.config.display());
            if let Some(url) = config.database_url() {
                // Host, port, database and TLS mode only: never the user's password.
                println!("  database: {}", hypertick::db::describe_url(url));
            }
            match &config.server {
                Some(server) => {
                    let scheme = if server.tls_cert.is_some() { "wss" } else { "ws" };
                    let token = if server.token.is_some() || server.token_file.is_some() { "bearer token required" } else { "no token" };
                    println!("  push server: {scheme}://{} ({token})", server.listen);
                }
                None => println!("  push server: off"),
            }
            if config.metrics.enabled {
                println!("  metrics: http://{}/metrics", config.metrics.listen);
            }
            for custom in &config.custom_tables {
                println!("  custom table: {} ({} columns, time column {})", custom.name, custom.columns.len(), custom.time_column);
            }
            for warning in config::warnings(&config) {
                println!("  warning: {warning}");
            }
            Ok(())
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Import(args) => hypertick::import::run(args).await,
        Command::Replay(args) => hypertick::replay::run(args).await,
        Command::BenchImport(args) => hypertick::import::bench(args).await,
    }
}
