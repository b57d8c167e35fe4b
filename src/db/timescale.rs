//! Converging a TimescaleDB schema on the configuration: each hypertable's chunk
//! interval, its columnstore settings and columnstore policy, and its retention policy
//! (2.18+ API; the deprecated `compress` names are not used). Every step first reads
//! what exists and changes only what differs, so running it again changes nothing,
//! and a changed interval replaces its job instead of adding a second one.

use tokio_postgres::Client;

use super::{quote_identifier, DbError};
use crate::record::Table;

/// What one hypertable should look like.
#[derive(Debug, Clone)]
pub struct HypertablePlan {
    pub table: Table,
    pub chunk_hours: u32,
    /// 0: no columnstore policy.
    pub columnstore_after_days: u32,
    /// 0: keep everything.
    pub retention_days: u32,
    /// The columnstore segment key; `None`: not segmented (a custom table without one).
    pub segmentby: Option<String>,
}

/// A built-in table's columnstore segment key: rows of one series compress together.
pub fn builtin_segmentby(table: Table) -> &'static str {
    match table {
        Table::FeedEvents | Table::Signals => "source",
        // One contract's quotes are few; a chain compresses well together.
        Table::OptionsQuotes => "underlying",
        _ => "symbol",
    }
}

fn days(count: u32) -> String {
    format!("{count} days")
}

/// Applies the plans; returns a line per change made (empty when nothing differed).
pub async fn converge(client: &Client, plans: &[HypertablePlan]) -> Result<Vec<String>, DbError> {
    let mut actions = Vec::new();
    for plan in plans {
        let table = plan.table.name();
        // For `::regclass` casts: quoted, since a custom table's name may be a SQL word.
        let relation = format!("\"{table}\"");
        let time_column = plan.table.time_column();
        let chunk_interval = format!("{} hours", plan.chunk_hours);
        let same_interval: bool = client
            .query_one(
                "SELECT coalesce(bool_and(time_interval = $2::text::interval), false)
                   FROM timescaledb_information.dimensions
                  WHERE hypertable_name = $1 AND column_name = $3",
                &[&table, &chunk_interval, &time_column],
            )
            .await?
            .get(0);
        if !same_interval {
            client
                .execute("SELECT set_chunk_time_interval($1::text::regclass, $2::text::interval)", &[&relation, &chunk_interval])
                .await?;
            actions.push(format!("{table}: chunk interval {chunk_interval}"));
        }

        let segmentby = plan.segmentby.as_deref();
        let columnstore_set: bool = client
            .query_one(
                "SELECT count(*) = 1 FROM timescaledb_information.hypertable_columnstore_settings
                  WHERE hypertable = $1::text::regclass AND coalesce(segmentby, '') = coalesce($2, '')
                    AND orderby = quote_ident($3) || ' DESC'",
                &[&relation, &segmentby, &time_column],
            )
            .await?
            .get(0);
        if !columnstore_set {
            // An empty segmentby keeps TimescaleDB from choosing one of its own; it reads
            // back as '' (hence the coalesce above).
            client
                .batch_execute(&format!(
                    "ALTER TABLE {} SET (timescaledb.enable_columnstore, \
                     timescaledb.segmentby = '{}', timescaledb.orderby = '\"{time_column}\" DESC')",
                    plan.table.quoted_name(),
                    segmentby.map(quote_identifier).unwrap_or_default()
                ))
                .await?;
            actions.push(format!(
                "{table}: columnstore segmentby {}, orderby {time_column} DESC",
                segmentby.unwrap_or("(none)")
            ));
        }

        let columnstore_after = (plan.columnstore_after_days > 0).then(|| days(plan.columnstore_after_days));
        if converge_job(client, table, "policy_compression", "compress_after", columnstore_after.as_deref()).await? {
            match &columnstore_after {
                Some(after) => {
                    client
                        .execute("CALL add_columnstore_policy($1::text::regclass, after => $2::text::interval)", &[&relation, after])
                        .await?;
                    actions.push(format!("{table}: columnstore after {after}"));
                }
                None => actions.push(format!("{table}: columnstore policy removed")),
            }
        }

        let retention = (plan.retention_days > 0).then(|| days(plan.retention_days));
        if converge_job(client, table, "policy_retention", "drop_after", retention.as_deref()).await? {
            match &retention {
                Some(after) => {
                    client
                        .execute("SELECT add_retention_policy($1::text::regclass, drop_after => $2::text::interval)", &[&relation, after])
                        .await?;
                    actions.push(format!("{table}: retention {after}"));
                }
                None => actions.push(format!("{table}: retention policy removed")),
            }
        }
    }
    Ok(actions)
}

/// Compares a table's policy job with the wanted interval. Removes a job that differs
/// (or should not exist) and returns whether the caller must add or report a change.
async fn converge_job(
    client: &Client,
    table: &str,
    proc_name: &str,
    setting: &str,
    wanted: Option<&str>,
) -> Result<bool, DbError> {
    let existing = client
        .query(
            "SELECT job_id, (config->>$3)::interval = $4::text::interval
               FROM timescaledb_information.jobs
              WHERE hypertable_name = $1 AND proc_name = $2",
            &[&table, &proc_name, &setting, &wanted.unwrap_or("0")],
        )
        .await?;
    let matches = existing.len() == 1 && existing[0].get::<_, Option<bool>>(1) == Some(true);
    if wanted.is_some() && matches {
        return Ok(false);
    }
    if existing.is_empty() && wanted.is_none() {
        return Ok(false);
    }
    for row in &existing {
        let job_id: i32 = row.get(0);
        client.execute("SELECT delete_job($1)", &[&job_id]).await?;
    }
    Ok(true)
}
