//! `[tables]`: per-table settings, and each table's effective settings once the
//! table's defaults and the `[pipeline]` fallbacks are applied.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::custom_tables::{CustomTableConfig, DEFAULT_CUSTOM_COLUMNSTORE_AFTER_DAYS, DEFAULT_CUSTOM_PARTITION_HOURS};
use super::model::Config;
use crate::record::Table;

/// `[tables.<name>]`: per-table settings; unset keys fall back to `[pipeline]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Days of data kept; older partitions are dropped and older rows rejected. 0 keeps all.
    pub retention_days: Option<u32>,
    /// Width of one time partition (vanilla) or chunk (TimescaleDB), in hours.
    pub partition_hours: Option<u32>,
    /// TimescaleDB: chunks older than this many days move to the columnstore. 0: never.
    pub columnstore_after_days: Option<u32>,
    /// Database connections writing this table (default: `[pipeline] writers_per_table`
    /// for ticks, quotes, bars and options_quotes, 1 for the others).
    pub writers: Option<usize>,
    /// A batch closes at this many rows (default `[pipeline] batch_max_rows`)…
    pub batch_max_rows: Option<usize>,
    /// …or when its first row has waited this long (default `[pipeline] linger_ms`).
    pub linger_ms: Option<u64>,
    /// `copy` (binary COPY, the default) or `insert` (`INSERT … SELECT FROM unnest(…)`,
    /// for connection poolers and servers without COPY, and for deduplication).
    pub write_mode: Option<WriteMode>,
    /// With `write_mode = "insert"`: columns of a unique key; rows that repeat a key
    /// already stored are skipped (`ON CONFLICT DO NOTHING`). Must include `time`.
    pub conflict_key: Option<Vec<String>>,
}

/// How a table's writers send rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    #[default]
    Copy,
    Insert,
}

/// `[tables]`: one optional section per table.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TablesConfig {
    pub ticks: Option<TableConfig>,
    pub quotes: Option<TableConfig>,
    pub bars: Option<TableConfig>,
    pub tickers: Option<TableConfig>,
    pub options_quotes: Option<TableConfig>,
    pub technical_indicators: Option<TableConfig>,
    pub indicator_values: Option<TableConfig>,
    pub signals: Option<TableConfig>,
    pub feed_events: Option<TableConfig>,
    pub dead_letters: Option<TableConfig>,
    /// The relational writer's lane: `batch_max_rows` and `linger_ms` apply.
    pub relational: Option<TableConfig>,
}

impl TablesConfig {
    pub fn get(&self, table: Table) -> Option<&TableConfig> {
        match table {
            Table::Ticks => self.ticks.as_ref(),
            Table::Quotes => self.quotes.as_ref(),
            Table::Bars => self.bars.as_ref(),
            Table::Tickers => self.tickers.as_ref(),
            Table::OptionsQuotes => self.options_quotes.as_ref(),
            Table::TechnicalIndicators => self.technical_indicators.as_ref(),
            Table::IndicatorValues => self.indicator_values.as_ref(),
            Table::Signals => self.signals.as_ref(),
            Table::FeedEvents => self.feed_events.as_ref(),
            Table::DeadLetters => self.dead_letters.as_ref(),
            Table::Relational => self.relational.as_ref(),
            // Configured in their own `[[custom_tables]]` entry.
            Table::Custom(_) => None,
        }
    }
}

/// The settings one table runs with, after per-table overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveTableConfig {
    pub retention_days: u32,
    pub partition_hours: u32,
    pub columnstore_after_days: u32,
    pub writers: usize,
    pub batch_max_rows: usize,
    pub linger_ms: u64,
    pub write_mode: WriteMode,
    pub conflict_key: Vec<String>,
}

impl Config {
    /// One table's settings with defaults and `[pipeline]` fallbacks applied.
    pub fn table(&self, table: Table) -> EffectiveTableConfig {
        if let Table::Custom(custom) = table {
            return self.custom_table_settings(self.custom_table(custom.name));
        }
        let overrides = self.tables.get(table);
        // Tick data is compressed after a week and kept two years, signals compressed
        // after 30 days, logs kept 90 days, as trading teams run them.
        let (default_retention_days, default_partition_hours, default_columnstore_after_days) = match table {
            Table::Ticks | Table::Quotes | Table::Tickers | Table::OptionsQuotes => (730, 24, 7),
            Table::Bars | Table::TechnicalIndicators | Table::IndicatorValues | Table::Signals => (0, 24 * 7, 30),
            Table::FeedEvents => (90, 24, 7),
            Table::DeadLetters | Table::Relational | Table::Custom(_) => (0, 24, 0),
        };
        EffectiveTableConfig {
            retention_days: overrides.and_then(|o| o.retention_days).unwrap_or(default_retention_days),
            partition_hours: overrides.and_then(|o| o.partition_hours).unwrap_or(default_partition_hours),
            columnstore_after_days: overrides
                .and_then(|o| o.columnstore_after_days)
                .unwrap_or(default_columnstore_after_days),
            writers: overrides
                .and_then(|o| o.writers)
                .unwrap_or(if table.is_high_rate() { self.pipeline.writers_per_table } else { 1 }),
            batch_max_rows: overrides.and_then(|o| o.batch_max_rows).unwrap_or(self.pipeline.batch_max_rows),
            linger_ms: overrides.and_then(|o| o.linger_ms).unwrap_or(self.pipeline.linger_ms),
            write_mode: overrides.and_then(|o| o.write_mode).unwrap_or_default(),
            conflict_key: overrides.and_then(|o| o.conflict_key.clone()).unwrap_or_default(),
        }
    }

    fn custom_table_settings(&self, custom: Option<&CustomTableConfig>) -> EffectiveTableConfig {
        EffectiveTableConfig {
            retention_days: custom.and_then(|c| c.retention_days).unwrap_or(0),
            partition_hours: custom.and_then(|c| c.partition_hours).unwrap_or(DEFAULT_CUSTOM_PARTITION_HOURS),
            columnstore_after_days: custom
                .and_then(|c| c.columnstore_after_days)
                .unwrap_or(DEFAULT_CUSTOM_COLUMNSTORE_AFTER_DAYS),
            writers: custom.and_then(|c| c.writers).unwrap_or(1),
            batch_max_rows: custom.and_then(|c| c.batch_max_rows).unwrap_or(self.pipeline.batch_max_rows),
            linger_ms: custom.and_then(|c| c.linger_ms).unwrap_or(self.pipeline.linger_ms),
            write_mode: custom.and_then(|c| c.write_mode).unwrap_or_default(),
            conflict_key: Vec::new(),
        }
    }
}
