//! Numbered SQL migrations from `sql/`, embedded in the binary. `common/` applies to
//! every profile, then the profile's own folder. Each runs once, recorded in
//! `schema_migrations`; the pending ones of a run apply in one transaction, so a
//! failing migration leaves the database as it was before the run, never half
//! migrated. A transaction-scoped advisory lock keeps two daemons from migrating at
//! once. Running `migrate` again changes nothing.

use tokio_postgres::Client;

use super::{DbError, Profile};

struct Migration {
    id: &'static str,
    sql: &'static str,
}

const COMMON: &[Migration] = &[
    Migration { id: "common/0001_core", sql: include_str!("../../sql/common/0001_core.sql") },
    Migration { id: "common/0002_instruments", sql: include_str!("../../sql/common/0002_instruments.sql") },
    Migration { id: "common/0003_relational", sql: include_str!("../../sql/common/0003_relational.sql") },
    Migration { id: "common/0004_spool", sql: include_str!("../../sql/common/0004_spool.sql") },
    Migration { id: "common/0005_ids", sql: include_str!("../../sql/common/0005_ids.sql") },
    Migration { id: "common/0006_bus", sql: include_str!("../../sql/common/0006_bus.sql") },
    Migration { id: "common/0007_isolation", sql: include_str!("../../sql/common/0007_isolation.sql") },
    Migration { id: "common/0008_retention", sql: include_str!("../../sql/common/0008_retention.sql") },
    Migration { id: "common/0009_waiting", sql: include_str!("../../sql/common/0009_waiting.sql") },
    Migration { id: "common/0010_books", sql: include_str!("../../sql/common/0010_books.sql") },
    Migration { id: "common/0011_instrument_specs", sql: include_str!("../../sql/common/0011_instrument_specs.sql") },
    Migration { id: "common/0012_waiting_key", sql: include_str!("../../sql/common/0012_waiting_key.sql") },
];

const TIMESCALEDB: &[Migration] = &[
    Migration { id: "timescaledb/0001_market", sql: include_str!("../../sql/timescaledb/0001_market.sql") },
    Migration { id: "timescaledb/0002_analytics", sql: include_str!("../../sql/timescaledb/0002_analytics.sql") },
    Migration { id: "timescaledb/0003_relational", sql: include_str!("../../sql/timescaledb/0003_relational.sql") },
    Migration { id: "timescaledb/0004_books", sql: include_str!("../../sql/timescaledb/0004_books.sql") },
    Migration { id: "timescaledb/0005_derivatives", sql: include_str!("../../sql/timescaledb/0005_derivatives.sql") },
];

const VANILLA: &[Migration] = &[
    Migration { id: "vanilla/0001_market", sql: include_str!("../../sql/vanilla/0001_market.sql") },
    Migration { id: "vanilla/0002_analytics", sql: include_str!("../../sql/vanilla/0002_analytics.sql") },
    Migration { id: "vanilla/0003_relational", sql: include_str!("../../sql/vanilla/0003_relational.sql") },
    Migration { id: "vanilla/0004_books", sql: include_str!("../../sql/vanilla/0004_books.sql") },
    Migration { id: "vanilla/0005_derivatives", sql: include_str!("../../sql/vanilla/0005_derivatives.sql") },
];

/// An arbitrary constant naming hypertick's migration lock.
const MIGRATION_LOCK_KEY: i64 = 0x6879_7065_7274_6963;

#[derive(Debug, Default)]
pub struct MigrationReport {
    pub applied: Vec<&'static str>,
    pub already_applied: usize,
}

pub async fn migrate(client: &mut Client, profile: Profile) -> Result<MigrationReport, DbError> {
    let profile_migrations = match profile {
        Profile::Vanilla => VANILLA,
        Profile::TimescaleDb => TIMESCALEDB,
    };
    let transaction = client.transaction().await?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY]).await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 id         text PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let mut report = MigrationReport::default();
    for migration in COMMON.iter().chain(profile_migrations) {
        let done = transaction.query_opt("SELECT 1 FROM schema_migrations WHERE id = $1", &[&migration.id]).await?;
        if done.is_some() {
            report.already_applied += 1;
            continue;
        }
        let failed = |source| DbError::Migration { migration: migration.id, source };
        transaction.batch_execute(migration.sql).await.map_err(failed)?;
        transaction.execute("INSERT INTO schema_migrations (id) VALUES ($1)", &[&migration.id]).await.map_err(failed)?;
        report.applied.push(migration.id);
    }
    let last = report.applied.last().copied();
    transaction.commit().await.map_err(|source| match last {
        Some(migration) => DbError::Migration { migration, source },
        None => DbError::Postgres(source),
    })?;
    for migration in &report.applied {
        tracing::info!(migration, "migration applied");
    }
    Ok(report)
}
