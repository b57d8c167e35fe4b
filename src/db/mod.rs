//! Everything that talks to PostgreSQL about structure: connections, numbered
//! migrations, the schema profile, the custom tables of the configuration (created when
//! missing, compared when present), the check that a table has the columns the writers
//! expect, the relational tables' catalog (columns, keys, foreign-key order),
//! partition maintenance for vanilla PostgreSQL, the connection string (`conninfo`) and
//! the early checks of `[database]` (`settings`), TLS to the server and the PEM files it
//! reads (`pem`), and the throwaway cluster used by the demo and the tests. **Only this module issues DDL.**

pub mod aggregates;
pub mod conninfo;
mod custom;
mod dead_letters;
mod identifier;
mod interval_retention;
mod migrate;
mod partitions;
pub mod pem;
mod prepare;
mod profile;
mod relational;
mod retention;
mod schema_check;
mod settings;
mod spool_state;
pub mod throwaway;
mod timescale;
pub mod tls;

use std::time::Duration;

use crate::config::with_causes;
use conninfo::{ConnInfo, SslMode};

pub use dead_letters::delete_expired_dead_letters;
pub use identifier::{quote_identifier, quote_identifiers};
pub use interval_retention::{guard_interval_retention, interval_deletes, IntervalDeletes, IntervalExpiry};
pub use migrate::{migrate, MigrationReport};
pub use partitions::{PartitionPlan, Partitions};
pub use prepare::{
    hypertable_plans, partition_plans, prepare_schema, prepare_schema_with, time_series_tables, SchemaOptions, SchemaReport,
};
pub use profile::{detect_profile, Profile};
pub use relational::load_relational_catalog;
pub use retention::{guard_retention, RetentionDrop, ALLOW_RETENTION_DROP};
pub use schema_check::verify_columns;
pub use settings::{check_settings, connection_warnings, fold_key_files_into_url};
pub use spool_state::{
    commit_spool_ranges, compact_spool_commits, fold_bus_claims, load_recent_ids, load_spool_commits, record_spool_release, trim_ids,
    INSERT_SPOOL_RANGES,
};
pub use timescale::{
    builtin_segmentby, converge, pause_jobs, resume_jobs, running_jobs, worker_check, HypertablePlan, JobStagger, JOB_STAGGER_SECS,
};

/// Errors from database work outside the COPY hot path.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("connecting to {target} timed out after {timeout_ms} ms")]
    ConnectTimeout { target: String, timeout_ms: u64 },
    /// `error` with its causes: tokio-postgres's own message names only the kind
    /// ("error performing TLS handshake"), the cause says what happened.
    #[error("connecting to {target}: {}{hint}", with_causes(.error))]
    Connect { target: String, error: tokio_postgres::Error, hint: String },
    #[error("database TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migration {migration} failed: {source}")]
    Migration { migration: &'static str, source: tokio_postgres::Error },
    #[error("{0}")]
    Schema(String),
}

impl DbError {
    /// The database could not be reached or is not there yet (refused, timed out, reset,
    /// starting up or shutting down, the database not created yet): worth waiting for.
    /// Anything else (a refused password, a bad URL, a migration or schema that does not
    /// fit) is for the operator.
    pub fn is_unreachable(&self) -> bool {
        let waits = |error: &tokio_postgres::Error| match error.as_db_error() {
            // 3D000: the database does not exist yet; 57P0x: shutting down, starting up; 53300: too many connections.
            Some(db_error) => matches!(db_error.code().code(), "3D000" | "57P01" | "57P02" | "57P03" | "53300"),
            None => true,
        };
        match self {
            DbError::ConnectTimeout { .. } => true,
            DbError::Connect { error, .. } | DbError::Postgres(error) => waits(error),
            DbError::InvalidUrl(_) | DbError::Tls(_) | DbError::Migration { .. } | DbError::Schema(_) => false,
        }
    }
}

/// `host:port/dbname` of a URL, for messages: never the password.
pub fn describe_target(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or("");
    format!("{host}:{port}/{database}")
}

/// `host:port/dbname (sslmode=…)` of a connection string, for messages: never the
/// password.
pub fn describe_url(url: &str) -> String {
    match ConnInfo::parse(url).ok().and_then(|info| Some((info.base.parse::<tokio_postgres::Config>().ok()?, info.ssl_mode))) {
        Some((config, ssl_mode)) => format!("{} (sslmode={})", describe_target(&config), ssl_mode.name()),
        None => "(an invalid connection string)".to_string(),
    }
}

/// Opens one connection and drives it on a background task. `url` is a libpq
/// connection string (URL or key/value form); its `sslmode` and `sslrootcert` are
/// read here (see [`tls`]) because tokio-postgres does not know `verify-ca`,
/// `verify-full` or `sslrootcert`, and the rest goes to tokio-postgres.
pub async fn connect(url: &str, timeout: Duration) -> Result<tokio_postgres::Client, DbError> {
    let info = ConnInfo::parse(url).map_err(|error| DbError::InvalidUrl(error.to_string()))?;
    let mut config: tokio_postgres::Config =
        info.base.parse().map_err(|error: tokio_postgres::Error| DbError::InvalidUrl(with_causes(&error)))?;
    config.ssl_mode(match info.ssl_mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    config.connect_timeout(timeout);
    if config.get_application_name().is_none() {
        config.application_name("hypertick");
    }
    if config.get_options().is_none() {
        // NOTICEs ("already exists, skipping") would otherwise reach the log as noise.
        config.options("-c client_min_messages=warning");
    }
    let target = format!("{} (sslmode={})", describe_target(&config), info.ssl_mode.name());
    match tls::connector(&info)? {
        None => finish_connect(config, tokio_postgres::NoTls, target, timeout).await,
        Some(connector) => finish_connect(config, connector, target, timeout).await,
    }
}

async fn finish_connect<Tls>(
    config: tokio_postgres::Config,
    tls: Tls,
    target: String,
    timeout: Duration,
) -> Result<tokio_postgres::Client, DbError>
where
    Tls: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    Tls::Stream: Send + 'static,
{
    let (client, connection) = match tokio::time::timeout(timeout, config.connect(tls)).await {
        Err(_) => return Err(DbError::ConnectTimeout { target, timeout_ms: timeout.as_millis() as u64 }),
        Ok(Err(source)) => {
            let hint = tls::explain(&source).map(|hint| format!(" ({hint})")).unwrap_or_default();
            return Err(DbError::Connect { target, error: source, hint });
        }
        Ok(Ok(pair)) => pair,
    };
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "database connection ended");
        }
    });
    Ok(client)
}
