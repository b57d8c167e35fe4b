//! Preparing a database for the daemon from its configuration: pick the profile, apply
//! the migrations, create the custom tables that are missing, then converge what the
//! configuration decides — partitions (vanilla) or hypertable chunk intervals,
//! columnstore and retention policies (TimescaleDB), for the built-in time series and
//! the custom tables alike — unique keys for insert-mode deduplication, and the OHLCV
//! aggregates. Run by `migrate` and at the start of `run`; a second run changes nothing.

use std::time::Duration;

use tokio_postgres::Client;

use super::timescale::builtin_segmentby;
use super::{
    aggregates, connect, converge, custom, migrate, quote_identifier, quote_identifiers, DbError, HypertablePlan, JobStagger,
    MigrationReport, PartitionPlan, Partitions, Profile, JOB_STAGGER_SECS,
};
use crate::config::{Config, WriteMode};
use crate::record::{RowConverter, Table, Timestamp};

const MICROS_PER_HOUR: i64 = 3_600 * 1_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// What preparing the schema did.
#[derive(Debug)]
pub struct SchemaReport {
    pub profile: Profile,
    pub migrations: MigrationReport,
    /// One line per setting changed to match the configuration.
    pub converged: Vec<String>,
    /// What the operator should know and may want to change (e.g. TimescaleDB installed
    /// but not preloaded, so `auto` chose vanilla; too few background workers).
    pub warnings: Vec<String>,
    /// TimescaleDB: the jobs and the background workers they need against the server's.
    pub jobs: Option<String>,
}

/// The time-series tables: the built-in ones, then the partitioned custom tables of the
/// configuration (a custom table whose definition does not build is left out; the
/// configuration's checks and `prepare_schema` report it; one with `partitioned =
/// false` is a plain table, without partitions, chunks or policies).
pub fn time_series_tables(config: &Config) -> Vec<Table> {
    let custom = config
        .custom_tables
        .iter()
        .filter(|custom| custom.is_partitioned())
        .filter_map(|custom| custom.shape().ok())
        .map(|schema| schema.table);
    Table::ALL.into_iter().filter(|table| table.is_time_partitioned()).chain(custom).collect()
}

/// Vanilla partitioning of each time-series table (none on TimescaleDB, where chunks
/// are the hypertable's business).
pub fn partition_plans(config: &Config, profile: Profile) -> Vec<PartitionPlan> {
    if profile == Profile::TimescaleDb {
        return Vec::new();
    }
    time_series_tables(config)
        .into_iter()
        .map(|table| {
            let settings = config.table(table);
            PartitionPlan {
                table,
                width_micros: i64::from(settings.partition_hours) * MICROS_PER_HOUR,
                // Past the longest retention of the table's rows; rows of intervals kept
                // shorter are deleted by `interval_retention`.
                retention_micros: (settings.drop_retention_days() > 0)
                    .then(|| i64::from(settings.drop_retention_days()).saturating_mul(MICROS_PER_DAY)),
            }
        })
        .collect()
}

pub fn hypertable_plans(config: &Config) -> Vec<HypertablePlan> {
    time_series_tables(config)
        .into_iter()
        .map(|table| {
            let settings = config.table(table);
            let segmentby = match table {
                Table::Custom(custom) => config.custom_table(custom.name).and_then(|custom| custom.segmentby.clone()),
                _ => Some(builtin_segmentby(table).to_string()),
            };
            HypertablePlan {
                table,
                chunk_hours: settings.partition_hours,
                columnstore_after_days: settings.columnstore_after_days,
                retention_days: settings.drop_retention_days(),
                segmentby,
                time_index: settings.time_index,
                direct_compress: settings.write_mode == WriteMode::DirectCompress,
            }
        })
        .collect()
}

/// Choices of the operator that the configuration does not hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaOptions {
    /// Accept a retention that drops existing data at once (`migrate --allow-retention-drop`).
    pub allow_retention_drop: bool,
}

/// Prepares the schema for `config`; `rows` reads custom tables' `default` values for
/// their DDL (the push `row` rules, which the sources own).
pub async fn prepare_schema(config: &Config, rows: &dyn RowConverter) -> Result<SchemaReport, DbError> {
    prepare_schema_with(config, rows, SchemaOptions::default()).await
}

pub async fn prepare_schema_with(config: &Config, rows: &dyn RowConverter, options: SchemaOptions) -> Result<SchemaReport, DbError> {
    let url = config.database_url().ok_or_else(|| DbError::InvalidUrl("database.url is not set".into()))?;
    let mut client = connect(url, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
    let decision = super::detect_profile(&client, config.schema.profile).await?;
    let profile = decision.profile;
    let mut warnings: Vec<String> = decision.warning.into_iter().collect();
    let migrations = migrate(&mut client, profile).await?;
    let mut converged = Vec::new();
    let schemas = config.custom_schemas(rows).map_err(DbError::Schema)?;
    let custom_tables: Vec<_> = config.custom_tables.iter().zip(schemas).collect();
    converged.extend(custom::ensure_custom_tables(&client, profile, &custom_tables).await?);
    let retention: Vec<(Table, u32)> =
        time_series_tables(config).into_iter().map(|table| (table, config.table(table).drop_retention_days())).collect();
    // Per interval first: it compares with the table's retention as recorded before this run.
    let interval_deletes = super::interval_deletes(config, profile);
    converged.extend(super::guard_interval_retention(&client, &interval_deletes, options.allow_retention_drop).await?);
    converged.extend(super::guard_retention(&client, profile, &retention, options.allow_retention_drop).await?);
    let mut stagger = JobStagger::default();
    match profile {
        Profile::TimescaleDb => converged.extend(converge(&client, &hypertable_plans(config), &mut stagger).await?),
        Profile::Vanilla => {
            refuse_direct_compress_on_vanilla(config)?;
            let partitions = Partitions::new(partition_plans(config, profile));
            let (created, _dropped) = partitions.maintain(&mut client, Timestamp::now(), config.schema.partitions_ahead).await?;
            if created > 0 {
                converged.push(format!("{created} partition(s) created ahead"));
            }
        }
    }
    converged.extend(ensure_conflict_keys(&client, config).await?);
    if config.aggregates.ohlcv {
        let ticks_retention_days = config.table(Table::Ticks).retention_days;
        converged.extend(aggregates::ensure_ohlcv(&client, profile, ticks_retention_days).await?);
    } else if profile == Profile::Vanilla {
        aggregates::mark_unmaintained(&client).await?;
    }
    let mut jobs = None;
    if profile == Profile::TimescaleDb {
        if stagger.added() > 1 {
            converged.push(format!(
                "{} new job(s) first run {JOB_STAGGER_SECS} s apart over the next {} s",
                stagger.added(),
                stagger.added() * JOB_STAGGER_SECS
            ));
        }
        let (line, warning) = super::worker_check(&client).await?;
        jobs = Some(line);
        warnings.extend(warning);
    }
    Ok(SchemaReport { profile, migrations, converged, warnings, jobs })
}

/// The unique index behind each table's `conflict_key`.
async fn ensure_conflict_keys(client: &Client, config: &Config) -> Result<Vec<String>, DbError> {
    let mut actions = Vec::new();
    for table in Table::ALL {
        let settings = config.table(table);
        if settings.write_mode != WriteMode::Insert || settings.conflict_key.is_empty() {
            continue;
        }
        let index = format!("{}_conflict_key", table.name());
        let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&index]).await?.get(0);
        if exists {
            continue;
        }
        client
            .batch_execute(&format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
                quote_identifier(&index),
                quote_identifier(table.name()),
                quote_identifiers(&settings.conflict_key)
            ))
            .await?;
        actions.push(format!("{table}: unique key ({})", settings.conflict_key.join(", ")));
    }
    Ok(actions)
}

/// Direct compress writes into TimescaleDB's columnstore, which vanilla PostgreSQL lacks.
fn refuse_direct_compress_on_vanilla(config: &Config) -> Result<(), DbError> {
    let tables: Vec<String> = time_series_tables(config)
        .into_iter()
        .filter(|table| config.table(*table).write_mode == WriteMode::DirectCompress)
        .map(|table| match table {
            Table::Custom(custom) => format!("custom table `{}`", custom.name),
            _ => format!("tables.{}.write_mode", table.name()),
        })
        .collect();
    if tables.is_empty() {
        return Ok(());
    }
    Err(DbError::Schema(format!(
        "{}: \"direct_compress\" needs the TimescaleDB profile (this database is vanilla PostgreSQL); expected \"copy\"",
        tables.join(", ")
    )))
}
