//! The OHLCV aggregates over `ticks`: `ohlcv_1m`, `ohlcv_1h`, `ohlcv_1d`, with the same
//! columns on both profiles — `bucket, venue, symbol, open, high, low, close, volume,
//! trades, vwap` — so a quant's SQL runs unchanged:
//!
//! - TimescaleDB: continuous aggregates (`first`/`last` for open/close) with a refresh
//!   policy each; TimescaleDB's jobs keep them fresh.
//! - Vanilla PostgreSQL: materialized views (open/close from ordered `array_agg`) that
//!   the daemon refreshes every `aggregates.refresh_interval_secs`, whole.

use tokio_postgres::Client;

use super::{DbError, Profile};

/// One OHLCV aggregate and its refresh policy.
pub struct OhlcvAggregate {
    pub name: &'static str,
    /// The `time_bucket` / `date_bin` width.
    pub bucket: &'static str,
    /// TimescaleDB refresh policy: the window `[now - start_offset, now - end_offset]`
    /// is refreshed every `schedule_interval`.
    pub start_offset: &'static str,
    pub end_offset: &'static str,
    pub schedule_interval: &'static str,
}

/// The aggregates, finest first. `ohlcv_1d`'s start offset (7 days) is the
/// `OHLCV_LONGEST_REFRESH_WINDOW_DAYS` that raw tick retention may not undercut.
pub const OHLCV_AGGREGATES: [OhlcvAggregate; 3] = [
    OhlcvAggregate { name: "ohlcv_1m", bucket: "1 minute", start_offset: "2 hours", end_offset: "1 minute", schedule_interval: "1 minute" },
    OhlcvAggregate { name: "ohlcv_1h", bucket: "1 hour", start_offset: "2 days", end_offset: "1 hour", schedule_interval: "30 minutes" },
    OhlcvAggregate { name: "ohlcv_1d", bucket: "1 day", start_offset: "7 days", end_offset: "1 day", schedule_interval: "1 hour" },
];

fn timescaledb_definition(aggregate: &OhlcvAggregate) -> String {
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {name} WITH (timescaledb.continuous) AS
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
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {name} AS
         SELECT date_bin(INTERVAL '{bucket}', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, venue, symbol,
                (array_agg(price ORDER BY time))[1] AS open, max(price) AS high, min(price) AS low,
                (array_agg(price ORDER BY time DESC))[1] AS close, sum(size) AS volume, count(*) AS trades,
                sum(price * size) / NULLIF(sum(size), 0) AS vwap
           FROM ticks
          GROUP BY 1, venue, symbol;
         CREATE UNIQUE INDEX IF NOT EXISTS {name}_key ON {name} (symbol, venue, bucket)",
        name = aggregate.name,
        bucket = aggregate.bucket
    )
}

/// Creates the aggregates that do not exist yet (and, on TimescaleDB, their refresh
/// policies). Returns what it did, empty when everything already existed.
pub async fn ensure_ohlcv(client: &Client, profile: Profile) -> Result<Vec<String>, DbError> {
    let mut actions = Vec::new();
    for aggregate in &OHLCV_AGGREGATES {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&aggregate.name])
            .await?
            .get(0);
        if !exists {
            let definition = match profile {
                Profile::TimescaleDb => timescaledb_definition(aggregate),
                Profile::Vanilla => vanilla_definition(aggregate),
            };
            client.batch_execute(&definition).await?;
            actions.push(format!("created {}", aggregate.name));
        }
        if profile == Profile::TimescaleDb {
            let policy: Option<bool> = client
                .query_opt(
                    "SELECT (config->>'start_offset')::interval = $2::text::interval
                        AND (config->>'end_offset')::interval = $3::text::interval
                        AND schedule_interval = $4::text::interval
                       FROM timescaledb_information.jobs
                      WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = $1",
                    &[&aggregate.name, &aggregate.start_offset, &aggregate.end_offset, &aggregate.schedule_interval],
                )
                .await?
                .map(|row| row.get(0));
            if policy == Some(true) {
                continue;
            }
            if policy.is_some() {
                client
                    .execute("SELECT remove_continuous_aggregate_policy($1::text::regclass)", &[&aggregate.name])
                    .await?;
            }
            client
                .execute(
                    "SELECT add_continuous_aggregate_policy($1::text::regclass,
                         start_offset => $2::text::interval, end_offset => $3::text::interval,
                         schedule_interval => $4::text::interval)",
                    &[&aggregate.name, &aggregate.start_offset, &aggregate.end_offset, &aggregate.schedule_interval],
                )
                .await?;
            actions.push(format!("refresh policy of {} every {}", aggregate.name, aggregate.schedule_interval));
        }
    }
    Ok(actions)
}

/// Brings the aggregates up to date with `ticks` now.
pub async fn refresh_ohlcv(client: &Client, profile: Profile) -> Result<(), DbError> {
    for aggregate in &OHLCV_AGGREGATES {
        let statement = match profile {
            Profile::TimescaleDb => format!("CALL refresh_continuous_aggregate('{}', NULL, NULL)", aggregate.name),
            Profile::Vanilla => format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {}", aggregate.name),
        };
        client.batch_execute(&statement).await?;
    }
    Ok(())
}
