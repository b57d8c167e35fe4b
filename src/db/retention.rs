//! Consent before retention drops data. Retention is the normal ageing of old rows, but
//! a configuration that shortens a table's retention (or sets one where there was
//! none) would drop, within seconds of `migrate`, data the operator may still want.
//! Before the policies and partitions follow the configuration, each table's
//! retention is compared with the one it was last migrated with (`table_retention`;
//! on TimescaleDB, for a database migrated before that table existed, its retention
//! job's `drop_after`). A shorter one that would drop existing chunks or partitions is
//! refused, naming what would go, unless the operator accepts
//! (`migrate --allow-retention-drop`).

use tokio_postgres::Client;

use super::partitions::RANGES_QUERY;
use super::{DbError, Profile};
use crate::record::{Table, Timestamp};

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// The flag that accepts a drop, for messages.
pub const ALLOW_RETENTION_DROP: &str = "--allow-retention-drop";

/// What a new retention would drop at once in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionDrop {
    pub table: String,
    pub retention_days: u32,
    /// The retention it was migrated with; `None`: none recorded (keep everything).
    pub previous_days: Option<u32>,
    /// Chunks (TimescaleDB) or partitions (vanilla) wholly older than the new horizon.
    pub pieces: i64,
    /// The time span they cover, epoch µs `[from, to)`.
    pub from: i64,
    pub to: i64,
}

impl std::fmt::Display for RetentionDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous = match self.previous_days {
            Some(0) | None => "keep everything".to_string(),
            Some(days) => format!("{days} days"),
        };
        write!(
            f,
            "{}: retention {} days (was: {previous}) drops {} chunk(s)/partition(s) holding data from {} to {}",
            self.table,
            self.retention_days,
            self.pieces,
            Timestamp(self.from),
            Timestamp(self.to)
        )
    }
}

/// Checks each (table, retention days) before it is applied. Returns a line per drop
/// accepted; refuses with every drop named when `allow_drop` is false. Records the
/// retention of each table checked, so an unchanged one is not asked about again.
pub async fn guard_retention(client: &Client, profile: Profile, tables: &[(Table, u32)], allow_drop: bool) -> Result<Vec<String>, DbError> {
    let mut drops = Vec::new();
    let mut to_record = Vec::new();
    for &(table, days) in tables {
        let recorded: Option<i32> = client
            .query_opt("SELECT retention_days FROM table_retention WHERE table_name = $1", &[&table.name()])
            .await?
            .map(|row| row.get(0));
        let previous = match (recorded, profile) {
            (Some(days), _) => Some(days.max(0) as u32),
            (None, Profile::TimescaleDb) => timescaledb_job_days(client, table).await?,
            (None, Profile::Vanilla) => None,
        };
        if previous == Some(days) {
            if recorded.is_none() {
                to_record.push((table, days));
            }
            continue;
        }
        to_record.push((table, days));
        // Keeping everything, or keeping longer than before, drops nothing new.
        let shorter = days > 0 && previous.is_none_or(|before| before == 0 || days < before);
        if !shorter {
            continue;
        }
        let cutoff = Timestamp::now().micros() - i64::from(days) * MICROS_PER_DAY;
        let found = match profile {
            Profile::TimescaleDb => expired_chunks(client, table, cutoff).await?,
            Profile::Vanilla => expired_partitions(client, table, cutoff).await?,
        };
        if let Some((pieces, from, to)) = found {
            drops.push(RetentionDrop { table: table.name().to_string(), retention_days: days, previous_days: previous, pieces, from, to });
        }
    }
    if !drops.is_empty() && !allow_drop {
        let lines: Vec<String> = drops.iter().map(|drop| format!("  {drop}")).collect();
        return Err(DbError::Schema(format!(
            "the configured retention would drop existing data at once:\n{}\nnothing was dropped; to accept, run \
             `hypertick migrate {ALLOW_RETENTION_DROP}` with this configuration, or raise retention_days",
            lines.join("\n")
        )));
    }
    for (table, days) in to_record {
        client
            .execute(
                "INSERT INTO table_retention (table_name, retention_days) VALUES ($1, $2)
                 ON CONFLICT (table_name) DO UPDATE SET retention_days = EXCLUDED.retention_days, set_at = now()",
                &[&table.name(), &(days as i32)],
            )
            .await?;
    }
    Ok(drops.iter().map(|drop| format!("{drop} (accepted with {ALLOW_RETENTION_DROP})")).collect())
}

/// The `drop_after` of a hypertable's retention job, in whole days; `Some(0)` when it
/// has none.
async fn timescaledb_job_days(client: &Client, table: Table) -> Result<Option<u32>, DbError> {
    let row = client
        .query_opt(
            "SELECT (extract(epoch FROM (config->>'drop_after')::interval) / 86400)::bigint
               FROM timescaledb_information.jobs WHERE hypertable_name = $1 AND proc_name = 'policy_retention'",
            &[&table.name()],
        )
        .await?;
    Ok(Some(row.and_then(|row| row.get::<_, Option<i64>>(0)).unwrap_or(0).max(0) as u32))
}

/// Chunks wholly older than `cutoff` (what `drop_chunks(older_than)` removes).
async fn expired_chunks(client: &Client, table: Table, cutoff: i64) -> Result<Option<(i64, i64, i64)>, DbError> {
    let row = client
        .query_one(
            "SELECT count(*), (extract(epoch FROM min(range_start)) * 1000000)::bigint,
                    (extract(epoch FROM max(range_end)) * 1000000)::bigint
               FROM timescaledb_information.chunks
              WHERE hypertable_name = $1 AND range_end <= to_timestamp($2::bigint / 1000000.0)",
            &[&table.name(), &cutoff],
        )
        .await?;
    let count: i64 = row.get(0);
    Ok((count > 0).then(|| (count, row.get::<_, Option<i64>>(1).unwrap_or(0), row.get::<_, Option<i64>>(2).unwrap_or(cutoff))))
}

/// Partitions wholly older than `cutoff` that hold at least one row (what partition
/// maintenance would drop).
async fn expired_partitions(client: &Client, table: Table, cutoff: i64) -> Result<Option<(i64, i64, i64)>, DbError> {
    let rows = client.query(RANGES_QUERY, &[&table.quoted_name().as_ref()]).await?;
    let prefix = format!("{}_p", table.name());
    let mut found: Option<(i64, i64, i64)> = None;
    for row in rows {
        let (name, start, end): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if end > cutoff || !name.starts_with(&prefix) {
            continue;
        }
        let holds_rows: bool =
            client.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {})", super::quote_identifier(&name)), &[]).await?.get(0);
        if holds_rows {
            found = Some(match found {
                None => (1, start, end),
                Some((count, from, to)) => (count + 1, from.min(start), to.max(end)),
            });
        }
    }
    Ok(found)
}
