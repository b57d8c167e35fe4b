//! Converging a TimescaleDB schema on the configuration: each hypertable's chunk
//! interval, its columnstore settings and columnstore policy, its retention policy
//! (2.18+ API; the deprecated `compress` names are not used) and whether it keeps the
//! `(time DESC)` index; and checks that a table written with direct compress can be
//! (no unique key, no triggers: TimescaleDB would fall back to the row store with a
//! warning on every batch). Every step first reads
//! what exists and changes only what differs, so running it again changes nothing,
//! and a changed interval replaces its job instead of adding a second one.
//!
//! Jobs added by one run are staggered ([`JobStagger`]): TimescaleDB starts a new
//! policy's job at once, and some twenty of them starting together overran the
//! default background workers. [`worker_check`] says what the jobs need and warns
//! when the server has less.

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
    /// Keep (`true`) or drop (`false`) the single-column index on the time column that
    /// `create_hypertable` adds; `None`: leave it as it is.
    pub time_index: Option<bool>,
    /// Written with `write_mode = "direct_compress"`.
    pub direct_compress: bool,
}

/// A built-in table's columnstore segment key: rows of one series compress together.
pub fn builtin_segmentby(table: Table) -> &'static str {
    table.spec().map_or("symbol", |spec| spec.segment_by)
}

/// Seconds between the first runs of the jobs one `migrate` adds.
pub const JOB_STAGGER_SECS: u32 = 10;

/// Jobs of this database that may run at once after staggering (a refresh or a
/// columnstore job outlasting the stagger overlaps the next ones).
const JOBS_AT_ONCE: i64 = 4;

/// Hands out the first-run times of the jobs one run adds, `JOB_STAGGER_SECS` apart.
#[derive(Debug, Default)]
pub struct JobStagger {
    added: u32,
}

impl JobStagger {
    /// The `initial_start` of the next job added, as an interval from now.
    pub fn next_start(&mut self) -> String {
        self.added += 1;
        format!("{} seconds", self.added * JOB_STAGGER_SECS)
    }

    pub fn added(&self) -> u32 {
        self.added
    }
}

/// The background workers this database's jobs need against what the server has: a
/// line for the migrate output, and a warning when the server has too few.
pub async fn worker_check(client: &Client) -> Result<(String, Option<String>), DbError> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM timescaledb_information.jobs WHERE scheduled),
                    current_setting('timescaledb.max_background_workers')::bigint,
                    current_setting('max_worker_processes')::bigint,
                    (SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'TimescaleDB Background Worker Scheduler%')",
            &[],
        )
        .await?;
    let (jobs, background, processes, schedulers): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    // One scheduler per database with the extension (at least this one), the jobs
    // that run at once, and the launcher beside them in max_worker_processes.
    let needed_background = schedulers.max(1) + jobs.min(JOBS_AT_ONCE);
    let needed_processes = needed_background + 1;
    let line = format!(
        "TimescaleDB jobs: {jobs} scheduled; they need timescaledb.max_background_workers >= {needed_background} (server: {background}) \
         and max_worker_processes >= {needed_processes} (server: {processes})"
    );
    let short = background < needed_background || processes < needed_processes || processes < background + 1;
    let warning = short.then(|| {
        format!(
            "{line}: jobs will wait for workers (\"out of background workers\"); raise them in postgresql.conf, \
             keeping max_worker_processes >= timescaledb.max_background_workers + max_parallel_workers + 1, and restart"
        )
    });
    Ok((line, warning))
}

fn days(count: u32) -> String {
    format!("{count} days")
}

/// Applies the plans; returns a line per change made (empty when nothing differed).
pub async fn converge(client: &Client, plans: &[HypertablePlan], stagger: &mut JobStagger) -> Result<Vec<String>, DbError> {
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
            client.execute("SELECT set_chunk_time_interval($1::text::regclass, $2::text::interval)", &[&relation, &chunk_interval]).await?;
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
            actions.push(format!("{table}: columnstore segmentby {}, orderby {time_column} DESC", segmentby.unwrap_or("(none)")));
        }

        let columnstore_after = (plan.columnstore_after_days > 0).then(|| days(plan.columnstore_after_days));
        if converge_job(client, table, "policy_compression", "compress_after", columnstore_after.as_deref()).await? {
            match &columnstore_after {
                Some(after) => {
                    client
                        .execute(
                            "CALL add_columnstore_policy($1::text::regclass, after => $2::text::interval,
                                  initial_start => now() + $3::text::interval)",
                            &[&relation, after, &stagger.next_start()],
                        )
                        .await?;
                    actions.push(format!("{table}: columnstore after {after}"));
                }
                None => actions.push(format!("{table}: columnstore policy removed")),
            }
        }

        if let Some(wanted) = plan.time_index {
            actions.extend(converge_time_index(client, plan, wanted).await?);
        }
        if plan.direct_compress {
            check_direct_compress(client, plan).await?;
        }

        let retention = (plan.retention_days > 0).then(|| days(plan.retention_days));
        if converge_job(client, table, "policy_retention", "drop_after", retention.as_deref()).await? {
            match &retention {
                Some(after) => {
                    client
                        .execute(
                            "SELECT add_retention_policy($1::text::regclass, drop_after => $2::text::interval,
                                    initial_start => now() + $3::text::interval)",
                            &[&relation, after, &stagger.next_start()],
                        )
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
async fn converge_job(client: &Client, table: &str, proc_name: &str, setting: &str, wanted: Option<&str>) -> Result<bool, DbError> {
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

/// The indexes of `plan`'s table on its time column alone (`<table>_time_idx` as
/// `create_hypertable` names it, or any other name).
const TIME_INDEXES: &str = "SELECT index.indexrelid::regclass::text
       FROM pg_index index
       JOIN pg_attribute attribute ON attribute.attrelid = index.indrelid AND attribute.attnum = index.indkey[0]
      WHERE index.indrelid = $1::text::regclass AND index.indnatts = 1 AND attribute.attname = $2
        AND NOT index.indisunique AND index.indpred IS NULL";

/// Creates or drops the table's `(time DESC)` index.
async fn converge_time_index(client: &Client, plan: &HypertablePlan, wanted: bool) -> Result<Option<String>, DbError> {
    let table = plan.table.name();
    let time_column = plan.table.time_column();
    let relation = format!("\"{table}\"");
    let existing: Vec<String> = client.query(TIME_INDEXES, &[&relation, &time_column]).await?.iter().map(|row| row.get(0)).collect();
    match (wanted, existing.is_empty()) {
        (true, true) => {
            let index = quote_identifier(&format!("{table}_{time_column}_idx"));
            client
                .batch_execute(&format!("CREATE INDEX {index} ON {} ({} DESC)", plan.table.quoted_name(), quote_identifier(time_column)))
                .await?;
            Ok(Some(format!("{table}: ({time_column} DESC) index created")))
        }
        (false, false) => {
            // The names come from `regclass::text`, quoted where needed.
            client.batch_execute(&format!("DROP INDEX {}", existing.join(", "))).await?;
            Ok(Some(format!("{table}: ({time_column} DESC) index dropped")))
        }
        _ => Ok(None),
    }
}

/// Refuses direct compress where TimescaleDB would skip it: a unique index (or primary
/// key) on the hypertable, or triggers on it.
async fn check_direct_compress(client: &Client, plan: &HypertablePlan) -> Result<(), DbError> {
    let table = plan.table.name();
    let relation = format!("\"{table}\"");
    let supported: bool =
        client.query_one("SELECT current_setting('timescaledb.enable_direct_compress_copy', true) IS NOT NULL", &[]).await?.get(0);
    let refuse =
        |why: String| DbError::Schema(format!("tables.{table}.write_mode = \"direct_compress\": {why}; expected \"copy\" for this table"));
    if !supported {
        return Err(refuse("this TimescaleDB has no direct compress (2.21 or later has it)".into()));
    }
    let unique: Vec<String> = client
        .query(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::text::regclass AND indisunique ORDER BY 1",
            &[&relation],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !unique.is_empty() {
        return Err(refuse(format!(
            "the table has unique index(es) {}, with which TimescaleDB writes to the row store",
            unique.join(", ")
        )));
    }
    let triggers: Vec<String> = client
        .query("SELECT tgname::text FROM pg_trigger WHERE tgrelid = $1::text::regclass AND NOT tgisinternal ORDER BY 1", &[&relation])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !triggers.is_empty() {
        return Err(refuse(format!("the table has trigger(s) {}, with which TimescaleDB writes to the row store", triggers.join(", "))));
    }
    Ok(())
}

/// Pauses every scheduled job of the extension's users (policies: aggregate refresh,
/// columnstore, retention; ids from 1000 up) and returns their ids, for
/// [`resume_jobs`]. A job already running finishes its run.
pub async fn pause_jobs(client: &Client) -> Result<Vec<i32>, DbError> {
    let rows = client
        .query(
            "SELECT job_id, alter_job(job_id, scheduled => false) IS NOT NULL
               FROM timescaledb_information.jobs WHERE job_id >= 1000 AND scheduled ORDER BY job_id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// How many jobs are running now.
pub async fn running_jobs(client: &Client) -> Result<i64, DbError> {
    Ok(client.query_one("SELECT count(*) FROM timescaledb_information.job_stats WHERE job_status = 'Running'", &[]).await?.get(0))
}

/// Schedules the jobs [`pause_jobs`] paused again. Returns how many of them something
/// else had scheduled in the meantime.
pub async fn resume_jobs(client: &Client, paused: &[i32]) -> Result<i64, DbError> {
    if paused.is_empty() {
        return Ok(0);
    }
    let rescheduled: i64 = client
        .query_one("SELECT count(*) FROM timescaledb_information.jobs WHERE job_id = ANY($1) AND scheduled", &[&paused])
        .await?
        .get(0);
    client.execute("SELECT alter_job(id, scheduled => true) FROM unnest($1::int4[]) AS id", &[&paused]).await?;
    Ok(rescheduled)
}
