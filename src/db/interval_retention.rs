//! Retention per interval (`[tables.bars] retention_by_interval`). Whole partitions
//! (vanilla) or chunks (TimescaleDB) go only past the longest retention of the table's
//! rows (`EffectiveTableConfig::drop_retention_days`); rows of an interval kept
//! shorter are deleted here, on both profiles:
//! `DELETE FROM bars WHERE "interval" = $1 AND time >= $2 AND time < $3`, one statement
//! per partition older than the interval's cutoff on vanilla PostgreSQL, and per day of
//! each chunk on TimescaleDB, so each statement's work is bounded. On TimescaleDB a
//! DELETE on a columnstore chunk decompresses the batches it touches (`interval` is not
//! a segment column) — more than `timescaledb.max_tuples_decompressed_per_dml_transaction`
//! (100 000 by default) for a week of 1m bars of a few symbols — so the deleting
//! session lifts that limit for itself, and the day slices keep each transaction to
//! about a day of the table. The intervals not listed, when the
//! table's own `retention_days` is shorter than that horizon, are deleted the same way
//! (`NOT ("interval" = ANY($1))`).
//!
//! Deleting by interval asks for consent like dropping whole pieces does
//! ([`guard_interval_retention`], run by `migrate` and at the start of `run`): each
//! interval's retention is recorded in `table_retention` as `bars:1m` (`bars:*` for the
//! intervals not listed); one that is shorter than recorded (or than the table's, the
//! first time) while older rows of it exist is refused until the operator accepts it
//! with `migrate --allow-retention-drop`.
//!
//! The same passes delete the rows of custom tables whose retention is not whole pieces:
//! a table with a `retention_column` (each row kept its own number of days, the table's
//! `retention_days` for rows without one; its pieces are never dropped whole) and a
//! plain table (`partitioned = false`, one piece: the whole table). These deletes run
//! without the consent check, which covers the per-interval retention of `bars`.
//!
//! A pass remembers, per interval, the cutoff it cleaned up to; the next pass starts a
//! day before it ([`RESCAN_MICROS`], for rows committed late, e.g. replayed from the
//! spool), so a pass touches only the pieces the cutoff moved over. The first pass after
//! a start, and one pass a day after it ([`FULL_PASS_MICROS`], for rows written in some
//! other way), go over every piece older than the cutoff.

use tokio_postgres::Client;

use super::partitions::RANGES_QUERY;
use super::retention::ALLOW_RETENTION_DROP;
use super::{DbError, Profile};
use crate::config::Config;
use crate::record::{Table, Timestamp};

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// How far before the last pass's cutoff a pass starts again.
pub const RESCAN_MICROS: i64 = MICROS_PER_DAY;

/// TimescaleDB: the longest time range one DELETE covers.
pub const TIMESCALE_SLICE_MICROS: i64 = MICROS_PER_DAY;

/// How often a pass goes over every piece older than the cutoff again.
pub const FULL_PASS_MICROS: i64 = MICROS_PER_DAY;

/// What one pass deletes for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalExpiry {
    pub table: Table,
    /// The interval, or `other` for the intervals `retention_by_interval` does not list.
    pub interval: String,
    pub retention_days: u32,
    pub rows: u64,
    /// Partitions or chunks a statement ran on.
    pub pieces: usize,
}

/// Which rows of a table a target deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    /// The rows of that interval (`bars`).
    Interval(String),
    /// The rows of every interval not in `listed` (`bars`).
    OtherIntervals,
    /// Every row (a plain custom table's retention).
    All,
    /// The rows past their own retention in days, held by this column (the table's
    /// `days` for rows without one; 0 keeps a row).
    OwnRetention(String),
}

/// One set of rows with one retention.
#[derive(Debug, Clone)]
struct Target {
    selector: Selector,
    /// The retention; for [`Selector::OwnRetention`], the table's (for rows without their own).
    days: u32,
    /// The cutoff the last pass cleaned up to.
    cleaned_to: Option<i64>,
}

/// The per-interval deletes of one table, with what earlier passes cleaned.
#[derive(Debug, Clone)]
pub struct IntervalDeletes {
    table: Table,
    profile: Profile,
    listed: Vec<String>,
    targets: Vec<Target>,
    /// A plain table: one piece, the whole table.
    unpartitioned: bool,
    /// When the last pass over every piece ran.
    last_full_pass: Option<i64>,
}

/// The earliest time a piece of a plain table is taken to start at (0001-01-01), so
/// that the bounds stay within PostgreSQL's timestamps.
const PLAIN_TABLE_START_MICROS: i64 = -62_135_596_800_000_000;

impl IntervalDeletes {
    /// The deletes `config` asks of `table`; `None` when whole partitions or chunks
    /// (or nothing) take care of its retention.
    pub fn from_config(config: &Config, table: Table, profile: Profile) -> Option<IntervalDeletes> {
        let settings = config.table(table);
        if !settings.deletes_rows_by_interval() {
            return None;
        }
        let unpartitioned = settings.unpartitioned;
        if let Some(column) = settings.retention_column.clone() {
            let targets = vec![Target { selector: Selector::OwnRetention(column), days: settings.retention_days, cleaned_to: None }];
            return Some(IntervalDeletes { table, profile, listed: Vec::new(), targets, unpartitioned, last_full_pass: None });
        }
        if unpartitioned {
            let targets = vec![Target { selector: Selector::All, days: settings.retention_days, cleaned_to: None }];
            return Some(IntervalDeletes { table, profile, listed: Vec::new(), targets, unpartitioned, last_full_pass: None });
        }
        let horizon = settings.drop_retention_days();
        let row_deleted = |days: u32| days != 0 && days != horizon;
        let mut targets: Vec<Target> = settings
            .retention_by_interval
            .iter()
            .filter(|(_, days)| row_deleted(*days))
            .map(|(interval, days)| Target { selector: Selector::Interval(interval.clone()), days: *days, cleaned_to: None })
            .collect();
        if row_deleted(settings.retention_days) {
            targets.push(Target { selector: Selector::OtherIntervals, days: settings.retention_days, cleaned_to: None });
        }
        let listed = settings.retention_by_interval.iter().map(|(interval, _)| interval.clone()).collect();
        Some(IntervalDeletes { table, profile, listed, targets, unpartitioned: false, last_full_pass: None })
    }

    /// Deletes every target's rows older than its retention (before `now`).
    pub async fn run(&mut self, client: &Client, now: Timestamp) -> Result<Vec<IntervalExpiry>, DbError> {
        let pieces = self.pieces(client).await?;
        let table = self.table.quoted_name();
        let time = format!("\"{}\"", self.table.time_column());
        let within = format!(
            "{time} >= 'epoch'::timestamptz + $1::bigint * interval '1 microsecond'
                AND {time} < 'epoch'::timestamptz + $2::bigint * interval '1 microsecond'"
        );
        if self.profile == Profile::TimescaleDb {
            client.batch_execute("SET timescaledb.max_tuples_decompressed_per_dml_transaction = 0").await?;
        }
        let slice = match self.profile {
            Profile::TimescaleDb if !self.unpartitioned => TIMESCALE_SLICE_MICROS,
            _ => i64::MAX,
        };
        let full = self.last_full_pass.is_none_or(|last| now.micros().saturating_sub(last) >= FULL_PASS_MICROS);
        let mut done = Vec::new();
        for target in &mut self.targets {
            let statement = client
                .prepare(&match &target.selector {
                    Selector::Interval(_) => format!("DELETE FROM {table} WHERE {within} AND \"interval\" = $3"),
                    Selector::OtherIntervals => format!("DELETE FROM {table} WHERE {within} AND NOT (\"interval\" = ANY($3::text[]))"),
                    Selector::All => format!("DELETE FROM {table} WHERE {within}"),
                    Selector::OwnRetention(column) => format!(
                        "DELETE FROM {table} WHERE {within}
                            AND coalesce(\"{column}\"::bigint, $3::bigint) > 0
                            AND {time} < 'epoch'::timestamptz
                                + ($4::bigint - coalesce(\"{column}\"::bigint, $3::bigint) * {MICROS_PER_DAY}) * interval '1 microsecond'"
                    ),
                })
                .await?;
            // A row may ask to be kept a single day: every piece older than that is looked at.
            let days = match target.selector {
                Selector::OwnRetention(_) => 1,
                _ => target.days,
            };
            let cutoff = now.micros().saturating_sub(i64::from(days).saturating_mul(MICROS_PER_DAY));
            // A row's own retention expires it whatever its age, so those targets go
            // over every piece each pass.
            let own = matches!(target.selector, Selector::OwnRetention(_));
            let from = match target.cleaned_to {
                Some(cleaned) if !full && !own => cleaned.saturating_sub(RESCAN_MICROS),
                _ => i64::MIN,
            };
            let mut expiry = IntervalExpiry {
                table: self.table,
                interval: match &target.selector {
                    Selector::Interval(interval) => interval.clone(),
                    Selector::OtherIntervals => "other".to_string(),
                    Selector::All => "all".to_string(),
                    Selector::OwnRetention(column) => format!("by {column}"),
                },
                retention_days: target.days,
                rows: 0,
                pieces: 0,
            };
            let table_days = i64::from(target.days);
            for &(start, end) in pieces.iter().filter(|(start, end)| *start < cutoff && *end > from) {
                let end = end.min(cutoff);
                let mut low = start;
                while low < end {
                    let high = low.saturating_add(slice).min(end);
                    expiry.rows += match &target.selector {
                        Selector::Interval(interval) => client.execute(&statement, &[&low, &high, interval]).await?,
                        Selector::OtherIntervals => client.execute(&statement, &[&low, &high, &self.listed]).await?,
                        Selector::All => client.execute(&statement, &[&low, &high]).await?,
                        Selector::OwnRetention(_) => client.execute(&statement, &[&low, &high, &table_days, &now.micros()]).await?,
                    };
                    low = high;
                }
                expiry.pieces += 1;
            }
            target.cleaned_to = Some(cutoff);
            done.push(expiry);
        }
        if full {
            self.last_full_pass = Some(now.micros());
        }
        Ok(done)
    }

    /// Each target's key in `table_retention`: `bars:1m`, `bars:*` for the unlisted intervals.
    fn keys(&self) -> impl Iterator<Item = (&Target, String)> {
        self.targets.iter().filter_map(|target| {
            let interval = match &target.selector {
                Selector::Interval(interval) => interval.as_str(),
                Selector::OtherIntervals => "*",
                Selector::All | Selector::OwnRetention(_) => return None,
            };
            Some((target, format!("{}:{interval}", self.table.name())))
        })
    }

    /// The `[start, end)` of every partition or chunk of the table, epoch µs.
    async fn pieces(&self, client: &Client) -> Result<Vec<(i64, i64)>, DbError> {
        if self.unpartitioned {
            return Ok(vec![(PLAIN_TABLE_START_MICROS, i64::MAX)]);
        }
        let rows = match self.profile {
            Profile::Vanilla => client.query(RANGES_QUERY, &[&self.table.quoted_name().as_ref()]).await?,
            Profile::TimescaleDb => {
                client
                    .query(
                        "SELECT chunk_name::text, (extract(epoch FROM range_start) * 1000000)::bigint,
                                (extract(epoch FROM range_end) * 1000000)::bigint
                           FROM timescaledb_information.chunks WHERE hypertable_name = $1",
                        &[&self.table.name()],
                    )
                    .await?
            }
        };
        let mut pieces: Vec<(i64, i64)> = rows.iter().map(|row| (row.get(1), row.get(2))).collect();
        pieces.sort_unstable();
        Ok(pieces)
    }
}

/// Checks each interval's retention before rows are deleted by it (see the module
/// docs). Returns a line per deletion accepted; refuses, naming each, when
/// `allow_drop` is false. Records the retentions checked.
pub async fn guard_interval_retention(client: &Client, deletes: &[IntervalDeletes], allow_drop: bool) -> Result<Vec<String>, DbError> {
    let recorded = |key: String| async move {
        let row = client.query_opt("SELECT retention_days FROM table_retention WHERE table_name = $1", &[&key]).await?;
        Ok::<_, DbError>(row.map(|row| row.get::<_, i32>(0).max(0) as u32))
    };
    let mut drops = Vec::new();
    let mut to_record = Vec::new();
    for table in deletes {
        let table_before = recorded(table.table.name().to_string()).await?;
        for (target, key) in table.keys() {
            let before = recorded(key.clone()).await?;
            if before == Some(target.days) {
                continue;
            }
            to_record.push((key.clone(), target.days));
            let previous = before.or(table_before);
            if previous.is_some_and(|days| days != 0 && days <= target.days) {
                continue;
            }
            let cutoff = Timestamp::now().micros().saturating_sub(i64::from(target.days).saturating_mul(MICROS_PER_DAY));
            let quoted = table.table.quoted_name();
            let older: bool = match &target.selector {
                Selector::Interval(interval) => client
                    .query_one(
                        &format!(
                            "SELECT EXISTS (SELECT 1 FROM {quoted} WHERE \"interval\" = $1
                                AND time < 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')"
                        ),
                        &[interval, &cutoff],
                    )
                    .await?
                    .get(0),
                _ => client
                    .query_one(
                        &format!(
                            "SELECT EXISTS (SELECT 1 FROM {quoted} WHERE NOT (\"interval\" = ANY($1::text[]))
                                AND time < 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')"
                        ),
                        &[&table.listed, &cutoff],
                    )
                    .await?
                    .get(0),
            };
            if older {
                let was = match previous {
                    Some(0) | None => "keep everything".to_string(),
                    Some(days) => format!("{days} days"),
                };
                drops.push(format!("{key}: retention {} days (was: {was}) deletes rows older than {}", target.days, Timestamp(cutoff)));
            }
        }
    }
    if !drops.is_empty() && !allow_drop {
        let lines: Vec<String> = drops.iter().map(|drop| format!("  {drop}")).collect();
        return Err(DbError::Schema(format!(
            "the configured retention_by_interval would delete existing rows at once:\n{}\nnothing was deleted; to accept, run \
             `hypertick migrate {ALLOW_RETENTION_DROP}` with this configuration, or raise the retention",
            lines.join("\n")
        )));
    }
    for (key, days) in to_record {
        client
            .execute(
                "INSERT INTO table_retention (table_name, retention_days) VALUES ($1, $2)
                 ON CONFLICT (table_name) DO UPDATE SET retention_days = EXCLUDED.retention_days, set_at = now()",
                &[&key, &i32::try_from(days).unwrap_or(i32::MAX)],
            )
            .await?;
    }
    Ok(drops.iter().map(|drop| format!("{drop} (accepted with {ALLOW_RETENTION_DROP})")).collect())
}

/// The per-interval deletes of every table that needs them.
pub fn interval_deletes(config: &Config, profile: Profile) -> Vec<IntervalDeletes> {
    let custom = config.custom_tables.iter().filter_map(|custom| custom.shape().ok()).map(|schema| schema.table);
    Table::ALL
        .into_iter()
        .filter(|table| table.is_time_partitioned())
        .chain(custom)
        .filter_map(|table| IntervalDeletes::from_config(config, table, profile))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TableConfig;

    fn with_bars(days: u32, by_interval: &[(&str, u32)]) -> Config {
        let mut config = Config::loopback("postgres://localhost/x");
        config.tables.bars = Some(TableConfig {
            retention_days: Some(days),
            retention_by_interval: Some(by_interval.iter().map(|(interval, days)| (interval.to_string(), *days)).collect()),
            ..TableConfig::default()
        });
        config
    }

    fn targets(config: &Config) -> Vec<(Option<String>, u32)> {
        interval_deletes(config, Profile::Vanilla)
            .into_iter()
            .flat_map(|deletes| {
                deletes.targets.into_iter().map(|target| match target.selector {
                    Selector::Interval(interval) => (Some(interval), target.days),
                    _ => (None, target.days),
                })
            })
            .collect()
    }

    #[test]
    fn only_rows_kept_shorter_than_whole_pieces_are_deleted_one_by_one() {
        // Pieces go past 400 days: 1m (30) and the unlisted intervals (the table's 10) are deleted by row.
        let config = with_bars(10, &[("1m", 30), ("1h", 400), ("1d", 400)]);
        assert_eq!(config.table(Table::Bars).drop_retention_days(), 400);
        assert_eq!(targets(&config), [(Some("1m".to_string()), 30), (None, 10)]);
        // 1d keeps everything: no piece goes, 1m is deleted by row, the others are kept.
        assert_eq!(targets(&with_bars(0, &[("1m", 30), ("1d", 0)])), [(Some("1m".to_string()), 30)]);
        // One retention for every interval: pieces do it all.
        assert!(targets(&with_bars(30, &[("1m", 30)])).is_empty());
        assert!(targets(&Config::loopback("postgres://localhost/x")).is_empty(), "nothing configured, nothing deleted by row");
    }
}
