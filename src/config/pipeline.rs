//! `[pipeline]`: channels and batching, the defaults of every table, and the policy
//! applied when a table's channel (or the spool) is full.

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
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Rows each table's channel holds before the full policy applies.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// Estimated bytes (records' size in memory) each table's channel holds before the
    /// full policy applies, whichever of rows and bytes comes first.
    #[serde(default = "default_channel_max_bytes")]
    pub channel_max_bytes: usize,
    /// A batch closes when it holds this many rows…
    #[serde(default = "default_batch_max_rows")]
    pub batch_max_rows: usize,
    /// …or this many estimated bytes of rows (at most 268435456, far below PostgreSQL's
    /// 1 GiB message limit)…
    #[serde(default = "default_batch_max_bytes")]
    pub batch_max_bytes: usize,
    /// …or when its first row has waited this long.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// `block` (default) or `reject`.
    #[serde(default)]
    pub full_policy: FullPolicy,
    /// Database connections writing each high-rate table (ticks, quotes, bars,
    /// options_quotes); the others get one unless `[tables.<name>] writers` says otherwise.
    #[serde(default = "default_writers_per_table")]
    pub writers_per_table: usize,
    /// Records whose event time is further ahead of our clock than this are rejected.
    #[serde(default = "default_max_future_secs")]
    pub max_future_secs: u64,
}

fn default_channel_capacity() -> usize {
    65_536
}
fn default_channel_max_bytes() -> usize {
    32 << 20
}
fn default_batch_max_bytes() -> usize {
    16 << 20
}
fn default_batch_max_rows() -> usize {
    10_000
}
fn default_linger_ms() -> u64 {
    5
}
fn default_writers_per_table() -> usize {
    2
}
fn default_max_future_secs() -> u64 {
    86_400
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            channel_capacity: default_channel_capacity(),
            channel_max_bytes: default_channel_max_bytes(),
            batch_max_rows: default_batch_max_rows(),
            batch_max_bytes: default_batch_max_bytes(),
            linger_ms: default_linger_ms(),
            full_policy: FullPolicy::Block,
            writers_per_table: default_writers_per_table(),
            max_future_secs: default_max_future_secs(),
        }
    }
}
