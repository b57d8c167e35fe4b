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

/// What the server says about TimescaleDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimescaleAvailability {
    /// The extension's files are installed (`pg_available_extensions`).
    pub installed: bool,
    /// `shared_preload_libraries` names it: `CREATE EXTENSION` can succeed.
    pub preloaded: bool,
    /// This database already has the extension.
    pub created: bool,
}

impl TimescaleAvailability {
    pub async fn of(client: &Client) -> Result<Self, DbError> {
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                        'timescaledb' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')),
                        EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
                &[],
            )
            .await?;
        Ok(TimescaleAvailability { installed: row.get(0), preloaded: row.get(1), created: row.get(2) })
    }

    /// The extension can be used in this database.
    pub fn usable(self) -> bool {
        self.installed && self.preloaded
    }
}

/// The setting a server needs before TimescaleDB can be created, for messages.
pub const PRELOAD_HINT: &str = "set shared_preload_libraries = 'timescaledb' in postgresql.conf (with enough max_worker_processes, \
     e.g. 32, for the policies' jobs) and restart the server, or run timescaledb-tune";

/// The profile chosen for a database, and why when it is not what `auto` would hope for.
#[derive(Debug, Clone)]
pub struct ProfileDecision {
    pub profile: Profile,
    /// Set when `auto` fell back to vanilla on a server that has TimescaleDB installed
    /// but cannot load it: the operator should know, and what to change.
    pub warning: Option<String>,
}

/// Picks the profile for this database, before any migration runs: with `auto`,
/// TimescaleDB when the server can create it (installed and preloaded), else vanilla
/// (with a warning naming the setting when it is installed but not preloaded). An
/// explicit `timescaledb` on a server that cannot load it is an error naming
/// `shared_preload_libraries`. A database already migrated with one profile keeps it.
pub async fn detect_profile(client: &Client, choice: ProfileChoice) -> Result<ProfileDecision, DbError> {
    let timescale = TimescaleAvailability::of(client).await?;
    let has_history: bool = client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.get(0);
    let (migrated_vanilla, migrated_timescaledb): (bool, bool) = if has_history {
        let row = client
            .query_one("SELECT bool_or(id LIKE 'vanilla/%') IS TRUE, bool_or(id LIKE 'timescaledb/%') IS TRUE FROM schema_migrations", &[])
            .await?;
        (row.get(0), row.get(1))
    } else {
        (false, false)
    };
    let mut warning = None;
    let chosen = match choice {
        ProfileChoice::Vanilla => Profile::Vanilla,
        ProfileChoice::Timescaledb if !timescale.installed => {
            return Err(DbError::Schema(
                "schema.profile is \"timescaledb\" but this server does not have the timescaledb extension installed; \
                 install it, or set schema.profile = \"vanilla\" (or \"auto\")"
                    .into(),
            ))
        }
        ProfileChoice::Timescaledb if !timescale.preloaded => {
            return Err(DbError::Schema(format!(
                "schema.profile is \"timescaledb\" but this server does not preload it (shared_preload_libraries = '{}'); \
                 nothing was migrated. {PRELOAD_HINT}",
                current_preload(client).await?
            )))
        }
        ProfileChoice::Timescaledb => Profile::TimescaleDb,
        ProfileChoice::Auto if migrated_vanilla => Profile::Vanilla,
        ProfileChoice::Auto if migrated_timescaledb || timescale.usable() => Profile::TimescaleDb,
        ProfileChoice::Auto => {
            if timescale.installed {
                warning = Some(format!(
                    "schema.profile = \"auto\" chose vanilla PostgreSQL: the timescaledb extension is installed but not \
                     preloaded (shared_preload_libraries = '{}'). To use it, {PRELOAD_HINT}; \
                     set schema.profile = \"vanilla\" to keep vanilla without this warning",
                    current_preload(client).await?
                ));
            }
            Profile::Vanilla
        }
    };
    if chosen == Profile::TimescaleDb && migrated_timescaledb && !timescale.preloaded {
        return Err(DbError::Schema(format!(
            "this database was migrated with the TimescaleDB profile but the server no longer preloads timescaledb. {PRELOAD_HINT}"
        )));
    }
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
    Ok(ProfileDecision { profile: chosen, warning })
}

async fn current_preload(client: &Client) -> Result<String, DbError> {
    Ok(client.query_one("SELECT current_setting('shared_preload_libraries')", &[]).await?.get(0))
}
