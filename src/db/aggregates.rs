//! The OHLCV aggregates over `ticks`: `ohlcv_1m`, `ohlcv_1h`, `ohlcv_1d`, with the same
//! columns on both profiles — `bucket, venue, symbol, open, high, low, close, volume,
//! trades, vwap` — so a quant's SQL runs unchanged. Each row equals the direct
//! `GROUP BY` over `ticks` (open = price of the bucket's earliest tick, close = latest,
//! volume = Σ size, trades = count, vwap = Σ price·size / Σ size) for every tick inside
//! retention — live, late, imported or replayed — within a stated delay:
//!
//! - TimescaleDB: continuous aggregates with real-time aggregation
//!   (`timescaledb.materialized_only = false`), so buckets newer than the materialized
//!   range are computed from `ticks` at query time, exact at once. Each refresh policy
//!   starts at the ticks' retention (`start_offset` = `tables.ticks.retention_days`, or
//!   NULL = the hypertable's beginning when ticks are kept forever): it re-materialises
//!   every range TimescaleDB recorded as invalidated, whatever its age, and only those,
//!   so a run with nothing new reads the invalidation logs and no tick. Rows written
//!   below the materialized range show within one `schedule_interval` of their
//!   aggregate (1 minute, 30 minutes, 1 hour) plus the run's duration.
//! - Vanilla PostgreSQL: ordinary tables keyed (symbol, venue, bucket). Every batch of
//!   ticks the daemon commits (live, replayed or imported) records the time ranges it
//!   covers in `ohlcv_invalidations`, in the batch's own transaction, so exactly when
//!   its rows land ([`RECORD_TICK_RANGE`]; a batch mixing times far apart records one
//!   range per cluster of them). The daemon's refresher ([`refresh_vanilla`]), every `aggregates.refresh_interval_secs` (60 s by default),
//!   takes the pending ranges and in one transaction recomputes exactly the buckets
//!   they touch: `ohlcv_1m` from `ticks`, `ohlcv_1h` from `ohlcv_1m`, `ohlcv_1d` from
//!   `ohlcv_1h`, so refreshing today's day reads 24 hourly rows per series, not a day
//!   of ticks. Delay: one `refresh_interval_secs` plus the refresh's duration. Ticks
//!   written by other clients reach the aggregates once their range is recorded too
//!   (`INSERT INTO ohlcv_invalidations (low, high) VALUES (…)`).

use tokio_postgres::{Client, Statement};

use super::{DbError, Profile};

/// One OHLCV aggregate and its refresh policy.
pub struct OhlcvAggregate {
    pub name: &'static str,
    /// The `time_bucket` / `date_bin` width.
    pub bucket: &'static str,
    /// TimescaleDB refresh policy: the window ends `end_offset` before now (newer
    /// buckets are answered by real-time aggregation) and is refreshed every
    /// `schedule_interval`; it starts at the ticks' retention.
    pub end_offset: &'static str,
    pub schedule_interval: &'static str,
    /// Vanilla PostgreSQL: the finer aggregate this one is recomputed from (`None`:
    /// from `ticks`).
    pub finer: Option<&'static str>,
}

/// The aggregates, finest first (the vanilla refresher relies on that order).
pub const OHLCV_AGGREGATES: [OhlcvAggregate; 3] = [
    OhlcvAggregate { name: "ohlcv_1m", bucket: "1 minute", end_offset: "1 minute", schedule_interval: "1 minute", finer: None },
    OhlcvAggregate { name: "ohlcv_1h", bucket: "1 hour", end_offset: "1 hour", schedule_interval: "30 minutes", finer: Some("ohlcv_1m") },
    OhlcvAggregate { name: "ohlcv_1d", bucket: "1 day", end_offset: "1 day", schedule_interval: "1 hour", finer: Some("ohlcv_1h") },
];

/// The origin of vanilla `date_bin` buckets: the same boundaries as `time_bucket`.
const ORIGIN: &str = "TIMESTAMPTZ '2000-01-01 00:00:00+00'";

/// Vanilla PostgreSQL: the statement recording a committed batch's tick time ranges
/// (`$1`, `$2`: their bounds in microseconds since the epoch, inclusive), in the
/// batch's transaction.
pub const RECORD_TICK_RANGE: &str = "INSERT INTO ohlcv_invalidations (low, high)
     SELECT 'epoch'::timestamptz + low * interval '1 microsecond', 'epoch'::timestamptz + high * interval '1 microsecond'
       FROM unnest($1::int8[], $2::int8[]) AS ranges(low, high)";

/// The pending ranges that cover every tick: what a new or converged aggregate starts from.
const INVALIDATE_EVERYTHING: &str = "INSERT INTO ohlcv_invalidations (low, high) VALUES ('-infinity', 'infinity')";

/// Serialises vanilla refreshers (several daemons may share a database).
/// An arbitrary constant of its own ("htohlcvr"), apart from the migration lock.
const REFRESH_LOCK_KEY: i64 = 0x6874_6f68_6c63_7672;

/// Vanilla PostgreSQL: [`RECORD_TICK_RANGE`] prepared on `client` when the database
/// keeps the aggregates (the invalidation table exists), else `None`.
pub async fn prepare_tick_range_record(client: &Client) -> Result<Option<Statement>, tokio_postgres::Error> {
    let exists: bool = client.query_one("SELECT to_regclass('ohlcv_invalidations') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(None);
    }
    Ok(Some(client.prepare(RECORD_TICK_RANGE).await?))
}

fn timescaledb_definition(aggregate: &OhlcvAggregate) -> String {
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {name}
           WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
         SELECT time_bucket(INTERVAL '{bucket}', time) AS bucket, venue, symbol,
                first(price, time) AS open, max(price) AS high, min(price) AS low,
                last(price, time) AS close, sum(size) AS volume, count(*) AS trades,
                sum(price * size) / NULLIF(sum(size), 0) AS vwap
           FROM ticks
          GROUP BY 1, venue, symbol
         WITH NO DATA",
        name = aggregate.name,
        bucket = aggregate.bucket
    )
}

fn vanilla_definition(aggregate: &OhlcvAggregate) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
             bucket timestamptz      NOT NULL,
             venue  text COLLATE \"C\" NOT NULL,
             symbol text COLLATE \"C\" NOT NULL,
             open   double precision NOT NULL,
             high   double precision NOT NULL,
             low    double precision NOT NULL,
             close  double precision NOT NULL,
             volume double precision NOT NULL,
             trades bigint           NOT NULL,
             vwap   double precision,
             PRIMARY KEY (symbol, venue, bucket)
         );
         -- The refresher deletes and reads bucket ranges of every series.
         CREATE INDEX IF NOT EXISTS {name}_bucket_idx ON {name} (bucket)",
        name = aggregate.name
    )
}

/// Vanilla: the statement recomputing `aggregate`'s buckets in `[$1, $2)`.
fn vanilla_recompute(aggregate: &OhlcvAggregate) -> String {
    let bucket = format!("date_bin(INTERVAL '{}', {{time}}, {ORIGIN})", aggregate.bucket);
    let select = match aggregate.finer {
        None => format!(
            "SELECT {bucket}, venue, symbol,
                    (array_agg(price ORDER BY time))[1], max(price), min(price),
                    (array_agg(price ORDER BY time DESC))[1], sum(size), count(*),
                    sum(price * size) / NULLIF(sum(size), 0)
               FROM ticks WHERE time >= $1 AND time < $2",
            bucket = bucket.replace("{time}", "time")
        ),
        // Σ price·size of a finer bucket is its vwap · volume (0 when it has no volume).
        Some(finer) => format!(
            "SELECT {bucket}, venue, symbol,
                    (array_agg(open ORDER BY bucket))[1], max(high), min(low),
                    (array_agg(close ORDER BY bucket DESC))[1], sum(volume), sum(trades)::bigint,
                    sum(coalesce(vwap * volume, 0)) / NULLIF(sum(volume), 0)
               FROM {finer} WHERE bucket >= $1 AND bucket < $2",
            bucket = bucket.replace("{time}", "bucket")
        ),
    };
    format!(
        "INSERT INTO {name} (bucket, venue, symbol, open, high, low, close, volume, trades, vwap)
         {select}
          GROUP BY 1, venue, symbol",
        name = aggregate.name
    )
}

/// Creates the aggregates that do not exist yet and converges what exists: on
/// TimescaleDB real-time aggregation and the refresh policies (from the ticks'
/// retention, `ticks_retention_days`, 0 = kept forever); on vanilla PostgreSQL the
/// tables that replace the materialized views of earlier versions. Returns what it
/// did, empty when everything already matched.
pub async fn ensure_ohlcv(client: &Client, profile: Profile, ticks_retention_days: u32) -> Result<Vec<String>, DbError> {
    match profile {
        Profile::TimescaleDb => ensure_timescaledb(client, ticks_retention_days).await,
        Profile::Vanilla => ensure_vanilla(client).await,
    }
}

async fn ensure_timescaledb(client: &Client, ticks_retention_days: u32) -> Result<Vec<String>, DbError> {
    let mut actions = Vec::new();
    let start_offset = (ticks_retention_days > 0).then(|| format!("{ticks_retention_days} days"));
    for aggregate in &OHLCV_AGGREGATES {
        let materialized_only: Option<bool> = client
            .query_opt(
                "SELECT materialized_only FROM timescaledb_information.continuous_aggregates WHERE view_name = $1",
                &[&aggregate.name],
            )
            .await?
            .map(|row| row.get(0));
        match materialized_only {
            None => {
                client.batch_execute(&timescaledb_definition(aggregate)).await?;
                actions.push(format!("created {}", aggregate.name));
            }
            Some(true) => {
                client
                    .batch_execute(&format!("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = false)", aggregate.name))
                    .await?;
                actions.push(format!("real-time aggregation for {}", aggregate.name));
            }
            Some(false) => {}
        }
        let policy: Option<bool> = client
            .query_opt(
                "SELECT (config->>'start_offset')::interval IS NOT DISTINCT FROM $2::text::interval
                        AND (config->>'end_offset')::interval = $3::text::interval
                        AND schedule_interval = $4::text::interval
                   FROM timescaledb_information.jobs
                  WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = $1",
                &[&aggregate.name, &start_offset, &aggregate.end_offset, &aggregate.schedule_interval],
            )
            .await?
            .map(|row| row.get(0));
        if policy == Some(true) {
            continue;
        }
        if policy.is_some() {
            client.execute("SELECT remove_continuous_aggregate_policy($1::text::regclass)", &[&aggregate.name]).await?;
        }
        client
            .execute(
                "SELECT add_continuous_aggregate_policy($1::text::regclass,
                     start_offset => $2::text::interval, end_offset => $3::text::interval,
                     schedule_interval => $4::text::interval)",
                &[&aggregate.name, &start_offset, &aggregate.end_offset, &aggregate.schedule_interval],
            )
            .await?;
        let from = start_offset.as_deref().unwrap_or("the first tick");
        actions.push(format!("refresh policy of {} every {}, from {from}", aggregate.name, aggregate.schedule_interval));
    }
    Ok(actions)
}

async fn ensure_vanilla(client: &Client) -> Result<Vec<String>, DbError> {
    let mut actions = Vec::new();
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS ohlcv_invalidations (
                 low         timestamptz NOT NULL,
                 high        timestamptz NOT NULL,
                 recorded_at timestamptz NOT NULL DEFAULT now()
             );
             COMMENT ON TABLE ohlcv_invalidations IS
                 'Time ranges of ticks written since the last refresh of ohlcv_1m/1h/1d (inclusive bounds); the refresher recomputes the buckets they touch and deletes them'",
        )
        .await?;
    // The refresher reads time ranges of every symbol: a BRIN index finds them for the
    // cost of a few pages per partition (the (symbol, time) btree cannot), and keeping
    // it costs COPY next to nothing.
    client.batch_execute("CREATE INDEX IF NOT EXISTS ticks_time_brin ON ticks USING brin (time) WITH (autosummarize = on)").await?;
    let mut created = false;
    for aggregate in &OHLCV_AGGREGATES {
        let kind: Option<i8> = client
            .query_opt("SELECT relkind::\"char\" FROM pg_class WHERE oid = to_regclass($1)", &[&aggregate.name])
            .await?
            .map(|row| row.get(0));
        if kind == Some(b'm' as i8) {
            // A materialized view of an earlier version, refreshed whole: replaced by a
            // table the refresher fills from the pending "everything" range below.
            client.batch_execute(&format!("DROP MATERIALIZED VIEW {}", aggregate.name)).await?;
            actions.push(format!("{}: materialized view replaced by an incrementally refreshed table", aggregate.name));
        } else if kind.is_some() {
            continue;
        } else {
            actions.push(format!("created {}", aggregate.name));
        }
        client.batch_execute(&vanilla_definition(aggregate)).await?;
        created = true;
    }
    if created {
        // Ticks may already be there: the first refresh computes every bucket.
        client.batch_execute(INVALIDATE_EVERYTHING).await?;
    }
    Ok(actions)
}

/// Vanilla PostgreSQL with `aggregates.ohlcv = false`: while nobody records tick
/// ranges, mark everything pending once, so that turning the aggregates back on
/// recomputes them whole. Does nothing where the aggregates never existed.
pub async fn mark_unmaintained(client: &Client) -> Result<(), DbError> {
    let exists: bool = client.query_one("SELECT to_regclass('ohlcv_invalidations') IS NOT NULL", &[]).await?.get(0);
    if exists {
        client
            .batch_execute(
                "INSERT INTO ohlcv_invalidations (low, high) SELECT '-infinity', 'infinity'
                  WHERE NOT EXISTS (SELECT FROM ohlcv_invalidations WHERE low = '-infinity' AND high = 'infinity')",
            )
            .await?;
    }
    Ok(())
}

/// What a vanilla refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// Pending tick ranges taken (after merging overlapping ones).
    pub ranges: usize,
    /// Aggregate rows written, over the three aggregates.
    pub rows: u64,
}

/// Brings the aggregates up to date with `ticks` now. TimescaleDB: each continuous
/// aggregate refreshed over its whole range (what a test or an operator asks for;
/// the daemon leaves that to the policies). Vanilla: [`refresh_vanilla`].
pub async fn refresh_ohlcv(client: &Client, profile: Profile) -> Result<RefreshReport, DbError> {
    match profile {
        Profile::TimescaleDb => {
            for aggregate in &OHLCV_AGGREGATES {
                refresh_continuous_aggregate(client, aggregate.name).await?;
            }
            Ok(RefreshReport::default())
        }
        Profile::Vanilla => refresh_vanilla(client).await,
    }
}

/// How long a manual refresh waits for a policy job's refresh of the same aggregate.
const CONCURRENT_REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// TimescaleDB: refreshes one continuous aggregate over all time. A refresh policy's job
/// may be refreshing it at that moment (TimescaleDB refuses a second refresh of an
/// overlapping window): then this waits for it, retrying for at most
/// [`CONCURRENT_REFRESH_WAIT`], and fails with the server's error after that.
async fn refresh_continuous_aggregate(client: &Client, name: &str) -> Result<(), DbError> {
    let statement = format!("CALL refresh_continuous_aggregate('{name}', NULL, NULL)");
    let started = std::time::Instant::now();
    loop {
        match client.batch_execute(&statement).await {
            Ok(()) => return Ok(()),
            Err(error) if is_concurrent_refresh(&error) && started.elapsed() < CONCURRENT_REFRESH_WAIT => {
                tracing::debug!(aggregate = name, "a refresh policy is refreshing the aggregate; waiting for it");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// TimescaleDB's refusal of a refresh while another one (a policy's job) refreshes an
/// overlapping window of the same aggregate: worth waiting for, not a failure.
pub fn is_concurrent_refresh(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| db.message().contains("due to a concurrent refresh"))
}

/// Vanilla PostgreSQL: in one transaction, takes the pending tick ranges (those
/// committed before it started; later ones stay for the next refresh), widens them to
/// each aggregate's bucket bounds, and deletes and recomputes those buckets, finest
/// aggregate first. With nothing pending it reads one empty table and writes nothing.
pub async fn refresh_vanilla(client: &Client) -> Result<RefreshReport, DbError> {
    client.batch_execute("BEGIN").await?;
    match refresh_in_transaction(client).await {
        Ok(report) => {
            client.batch_execute("COMMIT").await?;
            Ok(report)
        }
        Err(error) => {
            // The connection may be gone; the server rolls back then anyway.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}

async fn refresh_in_transaction(client: &Client) -> Result<RefreshReport, DbError> {
    client.execute("SELECT pg_advisory_xact_lock($1)", &[&REFRESH_LOCK_KEY]).await?;
    // The taken ranges, merged, as one multirange (its text form round-trips within
    // this session).
    let pending: Option<String> = client
        .query_one(
            "WITH taken AS (DELETE FROM ohlcv_invalidations RETURNING low, high)
             SELECT range_agg(tstzrange(low, high, '[]'))::text FROM taken",
            &[],
        )
        .await?
        .get(0);
    let Some(pending) = pending else {
        return Ok(RefreshReport::default());
    };
    let mut report = RefreshReport::default();
    for aggregate in &OHLCV_AGGREGATES {
        let buckets = client
            .query(
                &format!(
                    "SELECT lower(r)::text, upper(r)::text FROM unnest((
                         SELECT range_agg(tstzrange(date_bin(INTERVAL '{width}', lower(p), {ORIGIN}),
                                                    date_bin(INTERVAL '{width}', upper(p), {ORIGIN}) + INTERVAL '{width}'))
                           FROM unnest($1::text::tstzmultirange) AS p)) AS r",
                    width = aggregate.bucket
                ),
                &[&pending],
            )
            .await?;
        if aggregate.finer.is_none() {
            report.ranges = buckets.len();
        }
        let delete = client
            .prepare(&format!("DELETE FROM {} WHERE bucket >= $1::text::timestamptz AND bucket < $2::text::timestamptz", aggregate.name))
            .await?;
        let recompute = vanilla_recompute(aggregate).replace("$1", "$1::text::timestamptz").replace("$2", "$2::text::timestamptz");
        for range in &buckets {
            let (start, end): (String, String) = (range.get(0), range.get(1));
            client.execute(&delete, &[&start, &end]).await?;
            // Unprepared (planned with the bounds), so only the partitions in range are read.
            report.rows += client.execute(recompute.as_str(), &[&start, &end]).await?;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_coarser_aggregate_is_recomputed_from_the_one_before_it() {
        assert_eq!(OHLCV_AGGREGATES[0].finer, None);
        for pair in OHLCV_AGGREGATES.windows(2) {
            assert_eq!(pair[1].finer, Some(pair[0].name));
        }
        assert!(vanilla_recompute(&OHLCV_AGGREGATES[0]).contains("FROM ticks WHERE time >= $1 AND time < $2"));
        assert!(vanilla_recompute(&OHLCV_AGGREGATES[2]).contains("FROM ohlcv_1h WHERE bucket >= $1 AND bucket < $2"));
    }
}
