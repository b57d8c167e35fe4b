//! Partition maintenance for the vanilla PostgreSQL profile. Each time-series table is
//! range-partitioned on `time` into slots of a configured width, aligned to the Unix
//! epoch. Partitions are created ahead of now by a maintenance task, and on demand
//! for the slots a batch carries (backfills, late data), and dropped once wholly
//! older than the table's retention.
//!
//! Creation fills only the parts of a slot no existing partition covers, so a change
//! of width never produces overlapping partitions.

use std::collections::HashMap;

use tokio::sync::Mutex as AsyncMutex;
use tokio_postgres::Client;

use super::{quote_identifier, DbError};
use crate::metrics::events;
use crate::record::{Table, Timestamp};

/// How one table is partitioned.
#[derive(Debug, Clone, Copy)]
pub struct PartitionPlan {
    pub table: Table,
    pub width_micros: i64,
    /// None: keep every partition.
    pub retention_micros: Option<i64>,
}

/// Known partition ranges per table `[start, end)` in epoch µs, kept sorted.
pub struct Partitions {
    plans: HashMap<Table, PartitionPlan>,
    known: std::sync::Mutex<HashMap<Table, Vec<(i64, i64)>>>,
    creating: AsyncMutex<()>,
}

/// An arbitrary constant naming the partition DDL lock (shared by every daemon).
const PARTITION_LOCK_KEY: i64 = 0x6874_7061_7274_6e73;

impl Partitions {
    pub fn new(plans: impl IntoIterator<Item = PartitionPlan>) -> Self {
        Partitions {
            plans: plans.into_iter().map(|plan| (plan.table, plan)).collect(),
            known: std::sync::Mutex::new(HashMap::new()),
            creating: AsyncMutex::new(()),
        }
    }

    pub fn plan(&self, table: Table) -> Option<&PartitionPlan> {
        self.plans.get(&table)
    }

    /// The start of the slot holding `time`.
    pub fn slot_start(&self, table: Table, time: Timestamp) -> Option<i64> {
        let plan = self.plans.get(&table)?;
        Some(time.micros().div_euclid(plan.width_micros) * plan.width_micros)
    }

    /// Whether every given slot is already covered by partitions known in memory.
    pub fn covers(&self, table: Table, slot_starts: &[i64]) -> bool {
        let Some(plan) = self.plans.get(&table) else { return true };
        let known = self.known.lock().unwrap_or_else(|poison| poison.into_inner());
        let ranges = known.get(&table).map(Vec::as_slice).unwrap_or(&[]);
        slot_starts.iter().all(|start| uncovered(ranges, *start, start + plan.width_micros).is_empty())
    }

    /// Creates whatever is missing of the given slots; returns how many partitions it
    /// created. Safe to call from several writers and several daemons at once.
    pub async fn ensure(&self, client: &mut Client, table: Table, slot_starts: &[i64]) -> Result<usize, DbError> {
        let Some(plan) = self.plans.get(&table).copied() else { return Ok(0) };
        let _one_at_a_time = self.creating.lock().await;
        if self.covers(table, slot_starts) {
            return Ok(0);
        }
        let transaction = client.transaction().await?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK_KEY]).await?;
        let mut ranges = existing_ranges(&transaction, table).await?;
        let mut created = Vec::new();
        for start in slot_starts {
            for (from, to) in uncovered(&ranges, *start, start + plan.width_micros) {
                let name = partition_name(table, from);
                let statement = format!(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} \
                     FOR VALUES FROM ('{}') TO ('{}')",
                    quote_identifier(&name),
                    table.quoted_name(),
                    Timestamp(from),
                    Timestamp(to)
                );
                transaction.batch_execute(&statement).await?;
                ranges.push((from, to));
                ranges.sort_unstable();
                created.push(name);
            }
        }
        transaction.commit().await?;
        for name in &created {
            events::partition_changed(table, name, true);
        }
        self.known.lock().unwrap_or_else(|poison| poison.into_inner()).insert(table, ranges);
        Ok(created.len())
    }

    /// Creates partitions from the slot holding `now` to `ahead` slots past it, and
    /// drops partitions wholly older than retention. Returns (created, dropped) names.
    pub async fn maintain(&self, client: &mut Client, now: Timestamp, ahead: u32) -> Result<(usize, Vec<String>), DbError> {
        let mut dropped = Vec::new();
        let mut created = 0;
        let tables: Vec<PartitionPlan> = self.plans.values().copied().collect();
        for plan in tables {
            let current = self.slot_start(plan.table, now).unwrap_or(0);
            let slots: Vec<i64> = (0..=i64::from(ahead)).map(|k| current + k * plan.width_micros).collect();
            created += self.ensure(client, plan.table, &slots).await?;
            if let Some(retention) = plan.retention_micros {
                dropped.extend(self.drop_expired(client, plan, now.micros() - retention).await?);
            }
        }
        Ok((created, dropped))
    }

    async fn drop_expired(&self, client: &mut Client, plan: PartitionPlan, cutoff: i64) -> Result<Vec<String>, DbError> {
        let _one_at_a_time = self.creating.lock().await;
        let transaction = client.transaction().await?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK_KEY]).await?;
        let rows = transaction.query(RANGES_QUERY, &[&plan.table.quoted_name().as_ref()]).await?;
        let prefix = format!("{}_p", plan.table.name());
        let mut dropped = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            let end: i64 = row.get(2);
            if end <= cutoff && name.starts_with(&prefix) {
                // The name comes from the catalog: quoted, whatever it holds.
                transaction.batch_execute(&format!("DROP TABLE IF EXISTS {}", quote_identifier(&name))).await?;
                dropped.push(name);
            }
        }
        let ranges = existing_ranges(&transaction, plan.table).await?;
        transaction.commit().await?;
        for name in &dropped {
            events::partition_changed(plan.table, name, false);
        }
        self.known.lock().unwrap_or_else(|poison| poison.into_inner()).insert(plan.table, ranges);
        Ok(dropped)
    }
}

/// Bounds of every range partition of a table, as epoch µs, read back through
/// PostgreSQL's own timestamp parser so the session time zone does not matter.
pub(super) const RANGES_QUERY: &str = "
    SELECT c.relname::text,
           (extract(epoch FROM (m[1])::timestamptz) * 1000000)::bigint,
           (extract(epoch FROM (m[2])::timestamptz) * 1000000)::bigint
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                     'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS m
     WHERE i.inhparent = $1::text::regclass AND m IS NOT NULL";

async fn existing_ranges(client: &tokio_postgres::Transaction<'_>, table: Table) -> Result<Vec<(i64, i64)>, DbError> {
    let rows = client.query(RANGES_QUERY, &[&table.quoted_name().as_ref()]).await?;
    let mut ranges: Vec<(i64, i64)> = rows.iter().map(|row| (row.get(1), row.get(2))).collect();
    ranges.sort_unstable();
    Ok(ranges)
}

/// `ticks_p20261122_0000`: the table and the partition's start in UTC.
fn partition_name(table: Table, start_micros: i64) -> String {
    let stamp = chrono::DateTime::from_timestamp_micros(start_micros)
        .map(|time| time.format("%Y%m%d_%H%M").to_string())
        .unwrap_or_else(|| start_micros.to_string());
    format!("{}_p{stamp}", table.name())
}

/// The parts of `[from, to)` that no range in `ranges` (sorted, non-overlapping) covers.
fn uncovered(ranges: &[(i64, i64)], from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut gaps = Vec::new();
    let mut cursor = from;
    for &(start, end) in ranges {
        if end <= cursor {
            continue;
        }
        if start >= to {
            break;
        }
        if start > cursor {
            gaps.push((cursor, start));
        }
        cursor = cursor.max(end);
        if cursor >= to {
            break;
        }
    }
    if cursor < to {
        gaps.push((cursor, to));
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncovered_finds_every_gap() {
        // (covered ranges, from, to, the gaps expected)
        type Case<'a> = (&'a [(i64, i64)], i64, i64, &'a [(i64, i64)]);
        let cases: &[Case] = &[
            (&[], 0, 10, &[(0, 10)]),
            (&[(0, 10)], 0, 10, &[]),
            (&[(0, 5)], 0, 10, &[(5, 10)]),
            (&[(5, 10)], 0, 10, &[(0, 5)]),
            (&[(2, 4), (6, 8)], 0, 10, &[(0, 2), (4, 6), (8, 10)]),
            (&[(-10, 3), (8, 20)], 0, 10, &[(3, 8)]),
            (&[(20, 30)], 0, 10, &[(0, 10)]),
        ];
        for (ranges, from, to, expected) in cases {
            assert_eq!(uncovered(ranges, *from, *to), expected.to_vec(), "{ranges:?} {from}..{to}");
        }
    }

    #[test]
    fn names_carry_the_utc_start() {
        assert_eq!(partition_name(Table::Ticks, 1_795_348_800_000_000), "ticks_p20261122_1200");
    }
}
