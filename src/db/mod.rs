//! Everything that talks to PostgreSQL about structure: connections, numbered
//! migrations, the schema profile, the custom tables of the configuration (created when
//! missing, compared when present), the check that a table has the columns the writers
//! expect, the relational tables' catalog (columns, keys, foreign-key order),
//! partition maintenance for vanilla PostgreSQL, and the throwaway cluster
//! used by the demo and the tests. **Only this module issues DDL.**

pub mod aggregates;
mod custom;
mod migrate;
mod partitions;
mod prepare;
mod profile;
mod relational;
mod schema_check;
pub mod throwaway;
mod timescale;

use std::time::Duration;

pub use migrate::{migrate, MigrationReport};
pub use partitions::{PartitionPlan, Partitions};
pub use prepare::{hypertable_plans, partition_plans, prepare_schema, time_series_tables, SchemaReport};
pub use profile::{detect_profile, Profile};
pub use relational::load_relational_catalog;
pub use schema_check::verify_columns;
pub use timescale::{builtin_segmentby, converge, HypertablePlan};

/// Errors from database work outside the COPY hot path.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("connecting to {target} timed out after {timeout_ms} ms")]
    ConnectTimeout { target: String, timeout_ms: u64 },
    #[error("connecting to {target}: {source}")]
    Connect { target: String, source: tokio_postgres::Error },
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migration {migration} failed: {source}")]
    Migration { migration: &'static str, source: tokio_postgres::Error },
    #[error("{0}")]
    Schema(String),
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

/// Opens one connection and drives it on a background task.
pub async fn connect(url: &str, timeout: Duration) -> Result<tokio_postgres::Client, DbError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|error: tokio_postgres::Error| DbError::InvalidUrl(error.to_string()))?;
    config.connect_timeout(timeout);
    if config.get_application_name().is_none() {
        config.application_name("hypertick");
    }
    if config.get_options().is_none() {
        // NOTICEs ("already exists, skipping") would otherwise reach the log as noise.
        config.options("-c client_min_messages=warning");
    }
    let target = describe_target(&config);
    let connecting = config.connect(tokio_postgres::NoTls);
    let (client, connection) = match tokio::time::timeout(timeout, connecting).await {
        Err(_) => return Err(DbError::ConnectTimeout { target, timeout_ms: timeout.as_millis() as u64 }),
        Ok(Err(source)) => return Err(DbError::Connect { target, source }),
        Ok(Ok(pair)) => pair,
    };
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "database connection ended");
        }
    });
    Ok(client)
}
