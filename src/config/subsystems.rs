//! The configuration of the daemon's optional subsystems: the spool (`[spool]`), the
//! indicator engine (`[indicators]`) and the relational writer's tables (`[relational]`).

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::pipeline::FullPolicy;

/// `[spool]`: the local write-ahead log every accepted record is appended to before it
/// is queued, until the database has committed it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the segment files (created if missing; one daemon per directory).
    pub dir: PathBuf,
    /// Cap on the bytes of all segments.
    #[serde(default = "default_spool_max_bytes")]
    pub max_bytes: u64,
    /// A segment is closed and the next one started past this size.
    #[serde(default = "default_spool_segment_bytes")]
    pub segment_bytes: u64,
    /// Group commit: appended records are written and fsynced this often.
    #[serde(default = "default_spool_fsync_interval_ms")]
    pub fsync_interval_ms: u64,
    /// When the spool is full: `block` the source until commits free room, or `reject`
    /// the record (acked with reason `spool_full`). Both are counted.
    #[serde(default)]
    pub full_policy: FullPolicy,
}

fn default_spool_max_bytes() -> u64 {
    1 << 30
}
fn default_spool_segment_bytes() -> u64 {
    64 << 20
}
fn default_spool_fsync_interval_ms() -> u64 {
    5
}

impl SpoolConfig {
    /// Defaults for a spool in `dir`.
    pub fn in_dir(dir: PathBuf) -> Self {
        SpoolConfig {
            dir,
            max_bytes: default_spool_max_bytes(),
            segment_bytes: default_spool_segment_bytes(),
            fsync_interval_ms: default_spool_fsync_interval_ms(),
            full_policy: FullPolicy::Block,
        }
    }
}

/// `[indicators]`: the streaming indicator engine, fed by every closed bar that is
/// queued for `bars`, writing one `technical_indicators` row per bar.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IndicatorsConfig {
    /// Symbols (as stored in `bars`) to compute for; `["*"]` for every symbol. Empty
    /// (the default): the engine is off.
    pub symbols: Vec<String>,
    /// Bar intervals to compute for (`1m`, `1h`, …).
    pub intervals: Vec<String>,
    /// Support/resistance: a swing high must stand above the highs of this many bars on
    /// each side (a swing low below the lows), and is confirmed that many bars later.
    pub swing_window: usize,
    /// How many recent swing highs and lows each row lists.
    pub levels_kept: usize,
}

impl Default for IndicatorsConfig {
    fn default() -> Self {
        IndicatorsConfig { symbols: Vec::new(), intervals: vec!["1m".to_string()], swing_window: 2, levels_kept: 3 }
    }
}

impl IndicatorsConfig {
    /// Whether bars of this symbol and interval feed the engine.
    pub fn covers(&self, symbol: &str, interval: &str) -> bool {
        self.intervals.iter().any(|wanted| wanted == interval) && self.symbols.iter().any(|wanted| wanted == "*" || wanted == symbol)
    }
}

/// `[relational]`: the tables push `row` records may write.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RelationalConfig {
    /// Table names in the database's current schema. The daemon's own bookkeeping
    /// (`ingest_offsets`, `dead_letters`, `schema_migrations`) and the market tables
    /// cannot be listed.
    pub tables: Vec<String>,
    /// Milliseconds a row may wait for what it needs — the parent row its foreign key
    /// names, or for an `update`, the row itself — before it is dead-lettered naming
    /// what is missing (`missing_parent`, `missing_row`). Waiting rows are kept in the
    /// database (`relational_waiting`) and written as soon as what they wait for
    /// commits. 0: no waiting, such rows are dead-lettered at once.
    pub wait_ms: u64,
    /// Rows that may wait at once; past it the longest-waiting rows are dead-lettered.
    pub wait_max_rows: NonZeroUsize,
    /// Bytes (of row JSON) that may wait at once; past it the longest-waiting rows are
    /// dead-lettered.
    pub wait_max_bytes: NonZeroU64,
}

/// The relational side `migrate` creates.
pub const DEFAULT_RELATIONAL_TABLES: &[&str] = &[
    "instruments",
    "instrument_specs",
    "agent_sessions",
    "agent_deliberations",
    "agent_actions",
    "agent_memories",
    "orders",
    "trades",
    "positions",
    "portfolio_snapshots",
    "risk_alerts",
    "audit_trail",
];

impl Default for RelationalConfig {
    fn default() -> Self {
        RelationalConfig {
            tables: DEFAULT_RELATIONAL_TABLES.iter().map(|name| name.to_string()).collect(),
            wait_ms: 30_000,
            wait_max_rows: const { NonZeroUsize::new(10_000).unwrap() },
            wait_max_bytes: const { NonZeroU64::new(16 << 20).unwrap() },
        }
    }
}

/// `[health]`: what `GET /readyz` on the metrics listener checks. `GET /healthz`
/// answers 200 while the process runs; `/readyz` answers 200 only while the database
/// answers, every venue source is connected or has been reconnecting for less than its
/// budget, and the spool is below its high-water mark, and 503 naming the failing
/// checks otherwise.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Seconds a venue source may be without a connection (connecting, or reconnecting
    /// after a drop) before the daemon reports itself not ready.
    pub source_down_budget_secs: u64,
    /// The spool's fill, in percent of `spool.max_bytes`, from which the daemon reports
    /// itself not ready (1 to 100).
    pub spool_high_water_percent: u8,
    /// Milliseconds between checks that the database answers (`SELECT 1` on a
    /// connection of its own); a check older than three intervals counts as failed.
    pub database_check_interval_ms: NonZeroU64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            source_down_budget_secs: 60,
            spool_high_water_percent: 90,
            database_check_interval_ms: const { NonZeroU64::new(5_000).unwrap() },
        }
    }
}
