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

/// Picks the profile for this database. The TimescaleDB profile is not in this
/// version: with `auto` a server offering the extension still gets the vanilla
/// profile (with a note in the log).
pub async fn detect_profile(client: &Client, choice: ProfileChoice) -> Result<Profile, DbError> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')", &[])
        .await?;
    let timescaledb_available: bool = row.get(0);
    match choice {
        ProfileChoice::Vanilla => Ok(Profile::Vanilla),
        ProfileChoice::Auto => {
            if timescaledb_available {
                tracing::info!("timescaledb is available; this version applies the vanilla profile");
            }
            Ok(Profile::Vanilla)
        }
        ProfileChoice::Timescaledb => Err(DbError::Schema(
            "the TimescaleDB profile is not in this version; set schema.profile to \"auto\" or \"vanilla\"".into(),
        )),
    }
}
