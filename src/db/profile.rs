//! The schema profile: TimescaleDB (hypertables) or vanilla PostgreSQL (native range
//! partitions). Both expose the same table and column names, so writers never branch.

use tokio_postgres::Client;

use super::DbError;
use crate::config::ProfileChoice;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Vanilla,
    TimescaleDb,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Vanilla => "vanilla",
            Profile::TimescaleDb => "timescaledb",
        }
    }
}

/// Picks the profile for this database: with `auto`, TimescaleDB when the server
/// offers the extension (installed or installable), else vanilla. A database already
/// migrated with one profile keeps it.
pub async fn detect_profile(client: &Client, choice: ProfileChoice) -> Result<Profile, DbError> {
    let available: bool = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')", &[])
        .await?
        .get(0);
    let has_history: bool = client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.get(0);
    let (migrated_vanilla, migrated_timescaledb): (bool, bool) = if has_history {
        let row = client
            .query_one(
                "SELECT bool_or(id LIKE 'vanilla/%') IS TRUE, bool_or(id LIKE 'timescaledb/%') IS TRUE FROM schema_migrations",
                &[],
            )
            .await?;
        (row.get(0), row.get(1))
    } else {
        (false, false)
    };
    let chosen = match choice {
        ProfileChoice::Vanilla => Profile::Vanilla,
        ProfileChoice::Timescaledb if !available => {
            return Err(DbError::Schema(
                "schema.profile is \"timescaledb\" but this server does not offer the timescaledb extension".into(),
            ))
        }
        ProfileChoice::Timescaledb => Profile::TimescaleDb,
        ProfileChoice::Auto if migrated_vanilla => Profile::Vanilla,
        ProfileChoice::Auto if available => Profile::TimescaleDb,
        ProfileChoice::Auto => Profile::Vanilla,
    };
    let conflicting = match chosen {
        Profile::Vanilla => migrated_timescaledb,
        Profile::TimescaleDb => migrated_vanilla,
    };
    if conflicting {
        return Err(DbError::Schema(format!(
            "this database was migrated with the other profile; schema.profile = \"{}\" cannot apply",
            chosen.name()
        )));
    }
    Ok(chosen)
}
