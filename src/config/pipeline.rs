//! `[pipeline]`: channels and batching, the defaults of every table, and the policy
//! applied when a table's channel (or the spool) is full.

use std::num::{NonZeroU64, NonZeroUsize};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a source does when a table's channel is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Wait for room: the source stops reading, which pushes back on its producer.
    #[default]
    Block,
    /// Reject the record (the producer sees it in the ack) and count it.
    Reject,
}

/// `[pipeline]`: channels and batching, the defaults for every table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Rows each table's channel holds before the full policy applies.
    pub channel_capacity: NonZeroUsize,
    /// Estimated bytes (records' size in memory) each table's channel holds before the
    /// full policy applies, whichever of rows and bytes comes first.
    pub channel_max_bytes: usize,
    /// A batch closes when it holds this many rows…
    pub batch_max_rows: usize,
    /// …or this many estimated bytes of rows (at most 268435456, far below PostgreSQL's
    /// 1 GiB message limit)…
    pub batch_max_bytes: usize,
    /// …or when its first row has waited this long.
    pub linger_ms: u64,
    /// `block` (default) or `reject`.
    pub full_policy: FullPolicy,
    /// Database connections writing each high-rate table (ticks, quotes, bars,
    /// options_quotes); the others get one unless `[tables.<name>] writers` says otherwise.
    pub writers_per_table: usize,
    /// Records whose event time is further ahead of our clock than this are rejected.
    pub max_future_secs: NonZeroU64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            channel_capacity: const { NonZeroUsize::new(65_536).unwrap() },
            channel_max_bytes: 32 << 20,
            batch_max_rows: 10_000,
            batch_max_bytes: 16 << 20,
            linger_ms: 5,
            full_policy: FullPolicy::Block,
            writers_per_table: 2,
            max_future_secs: const { NonZeroU64::new(86_400).unwrap() },
        }
    }
}
