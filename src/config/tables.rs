//! `[tables]`: per-table settings, and the shape of a table's effective settings
//! (`Config::table` applies the table's defaults and the `[pipeline]` fallbacks).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::record::Table;

/// `[tables.<name>]`: per-table settings; unset keys fall back to `[pipeline]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Days of data kept; older partitions are dropped and older rows rejected. 0 keeps all.
    /// For `dead_letters` (default 30): rows received earlier are deleted every
    /// `schema.maintenance_interval_secs`. For `bars` with `retention_by_interval`: the
    /// retention of the intervals it does not list.
    pub retention_days: Option<u32>,
    /// `bars` only: days kept per bar interval, e.g. `{ "1m" = 730, "5m" = 730, "1h" = 1825,
    /// "1d" = 0 }` (0 keeps that interval for good). Intervals are written as the push
    /// protocol reads them (`1m`, `4h`, `1d`, …; `60m` and `1h` are different intervals);
    /// bars of intervals not listed use `retention_days`. A bar older than its interval's
    /// retention is refused (`older_than_retention`). Partitions (vanilla) or chunks
    /// (TimescaleDB) are dropped only past the longest of these and `retention_days`
    /// (never when any is 0); shorter-lived intervals are deleted row by row, one
    /// partition or chunk per statement, every `schema.maintenance_interval_secs`.
    pub retention_by_interval: Option<BTreeMap<String, u32>>,
    /// Width of one time partition (vanilla) or chunk (TimescaleDB), in hours.
    pub partition_hours: Option<u32>,
    /// TimescaleDB: chunks older than this many days move to the columnstore. 0: never.
    pub columnstore_after_days: Option<u32>,
    /// Database connections writing this table (default: `[pipeline] writers_per_table`
    /// for ticks, quotes, bars and options_quotes, 1 for the others).
    pub writers: Option<usize>,
    /// Rows this table's channel holds before the full policy applies (default
    /// `[pipeline] channel_capacity`).
    pub channel_capacity: Option<NonZeroUsize>,
    /// Estimated bytes of the rows this table's channel holds before the full policy
    /// applies, whichever of rows and bytes comes first (default `[pipeline] channel_max_bytes`).
    pub channel_max_bytes: Option<usize>,
    /// A batch closes at this many rows (default `[pipeline] batch_max_rows`)…
    pub batch_max_rows: Option<usize>,
    /// …or at this many estimated bytes of rows (default `[pipeline] batch_max_bytes`;
    /// at most 268435456, far below PostgreSQL's 1 GiB message limit)…
    pub batch_max_bytes: Option<usize>,
    /// …or when its first row has waited this long (default `[pipeline] linger_ms`).
    pub linger_ms: Option<u64>,
    /// `copy` (binary COPY, the default), `insert` (`INSERT … SELECT FROM unnest(…)`,
    /// for connection poolers and servers without COPY, and for deduplication), or
    /// `direct_compress` (TimescaleDB 2.28+: binary COPY compressed by the server
    /// straight into the columnstore; refused on vanilla PostgreSQL and on tables with
    /// a unique key or triggers). With it, a batch should hold 1000 or more rows per
    /// segment (symbol): raise `batch_max_rows` and `linger_ms` to what the rate allows.
    pub write_mode: Option<WriteMode>,
    /// Largest record accepted, in estimated bytes in memory (about its text for strings,
    /// several times its text for JSON payloads of many small values); larger records are
    /// refused as `record_too_large` and dead-lettered (a sample). Default 1048576
    /// (1 MiB), 4194304 for `signals` and `relational`; at most 268435456.
    pub max_record_bytes: Option<usize>,
    /// With `write_mode = "insert"`: columns of a unique key; rows that repeat a key
    /// already stored are skipped (`ON CONFLICT DO NOTHING`). Must include `time`.
    pub conflict_key: Option<Vec<String>>,
    /// TimescaleDB: whether the hypertable keeps the `(time DESC)` index
    /// (`<table>_time_idx`) that `create_hypertable` adds beside the `(symbol, time DESC)`
    /// one; `migrate` creates or drops it. Default false for the built-in tables (vanilla
    /// partitions have no such index either; see the README for the measurement).
    pub time_index: Option<bool>,
}

/// How a table's writers send rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    #[default]
    Copy,
    Insert,
    /// Binary COPY with TimescaleDB's direct compress: the rows go straight into the
    /// columnstore (`timescaledb.enable_direct_compress_copy` on the writer's connection).
    DirectCompress,
}

impl WriteMode {
    /// Whether the rows travel by binary COPY.
    pub fn uses_copy(self) -> bool {
        matches!(self, WriteMode::Copy | WriteMode::DirectCompress)
    }

    /// The name the configuration uses.
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::Copy => "copy",
            WriteMode::Insert => "insert",
            WriteMode::DirectCompress => "direct_compress",
        }
    }
}

macro_rules! declare_tables_config {
    (() $( $name:ident: $row:ty = $table:ident, )*) => {
        /// `[tables]`: one optional section per built-in table.
        #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct TablesConfig {
            $( pub $name: Option<TableConfig>, )*
            /// The relational writer's lane: `batch_max_rows` and `linger_ms` apply.
            pub relational: Option<TableConfig>,
        }

        impl TablesConfig {
            pub fn get(&self, table: Table) -> Option<&TableConfig> {
                match table {
                    $( Table::$table => self.$name.as_ref(), )*
                    Table::Relational => self.relational.as_ref(),
                    // Configured in their own `[[custom_tables]]` entry.
                    Table::Custom(_) => None,
                }
            }
        }
    };
}

crate::builtin_tables!(lanes => declare_tables_config);

/// The largest `batch_max_bytes` and `max_record_bytes` accepted: a batch must stay far
/// below PostgreSQL's 1 GiB message limit.
pub const MAX_BATCH_BYTES: usize = 256 << 20;

/// A table's default `max_record_bytes` (custom tables: the relational lane's, the
/// lane their rows arrive on).
pub fn default_max_record_bytes(table: Table) -> usize {
    match table {
        Table::Custom(_) => Table::Relational.defaults().max_record_bytes,
        builtin => builtin.defaults().max_record_bytes,
    }
}

/// The settings one table runs with, after per-table overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveTableConfig {
    /// Days kept (0: all); for `bars`, of the intervals `retention_by_interval` does not list.
    pub retention_days: u32,
    /// `bars`: days kept per interval, sorted by interval (empty for other tables).
    pub retention_by_interval: Vec<(String, u32)>,
    pub partition_hours: u32,
    pub columnstore_after_days: u32,
    pub writers: usize,
    pub channel_capacity: usize,
    pub channel_max_bytes: usize,
    pub batch_max_rows: usize,
    pub batch_max_bytes: usize,
    pub max_record_bytes: usize,
    pub linger_ms: u64,
    pub write_mode: WriteMode,
    pub conflict_key: Vec<String>,
    /// TimescaleDB: keep the hypertable's `(time DESC)` index; `None`: left as it is
    /// (custom tables, whose time index is part of their definition).
    pub time_index: Option<bool>,
    /// Custom tables: the column holding each row's own retention in days
    /// (`retention_column`); whole partitions and chunks are then never dropped.
    pub retention_column: Option<String>,
    /// Custom tables with `partitioned = false`: a plain table, whose retention deletes rows.
    pub unpartitioned: bool,
}

impl EffectiveTableConfig {
    /// Days past which whole partitions or chunks may go: the longest retention any of
    /// the table's rows has (0, keep all, when any interval or the table keeps all).
    pub fn drop_retention_days(&self) -> u32 {
        if self.retention_column.is_some() || self.unpartitioned {
            return 0;
        }
        let mut all = self.retention_by_interval.iter().map(|(_, days)| *days).chain([self.retention_days]);
        if all.clone().any(|days| days == 0) {
            return 0;
        }
        all.by_ref().max().unwrap_or(0)
    }

    /// Days kept for rows of `interval` (the table's `retention_days` when not listed).
    pub fn retention_days_for(&self, interval: &str) -> u32 {
        self.retention_by_interval.iter().find(|(listed, _)| listed == interval).map_or(self.retention_days, |(_, days)| *days)
    }

    /// Whether some rows must be deleted one by one, their retention being shorter than
    /// the one whole partitions or chunks are dropped at.
    pub fn deletes_rows_by_interval(&self) -> bool {
        if self.retention_column.is_some() || self.unpartitioned {
            return self.retention_column.is_some() || self.retention_days > 0;
        }
        let horizon = self.drop_retention_days();
        self.retention_by_interval.iter().map(|(_, days)| *days).chain([self.retention_days]).any(|days| days != 0 && days != horizon)
    }
}
