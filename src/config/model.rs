//! The configuration file's structure. Field doc comments are the user documentation
//! of each key; `config/hypertick.toml` shows them annotated.

use std::net::SocketAddr;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::custom_tables::{CustomTableConfig, DEFAULT_CUSTOM_COLUMNSTORE_AFTER_DAYS, DEFAULT_CUSTOM_PARTITION_HOURS};
use super::pipeline::PipelineConfig;
use super::secret::Secret;
use super::server::ServerConfig;
use super::sources::SourceConfig;
use super::subsystems::{HealthConfig, IndicatorsConfig, RelationalConfig, SpoolConfig};
use super::tables::{default_max_record_bytes, EffectiveTableConfig, TablesConfig};
use crate::record::{CustomSchema, RowConverter, Table};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    /// Keys whose secret was written in the file itself rather than given through
    /// the environment or a file of its own (set by `load`, for a warning).
    #[serde(skip)]
    pub secrets_in_file: Vec<&'static str>,
    /// Whether `database.url` is the one written in the file itself (set by `load`; `db`
    /// warns when it holds a password).
    #[serde(skip)]
    pub database_url_in_file: bool,
    /// The push websocket listener. Absent: no push source runs.
    pub server: Option<ServerConfig>,
    pub metrics: MetricsConfig,
    pub pipeline: PipelineConfig,
    pub tables: TablesConfig,
    pub schema: SchemaConfig,
    pub aggregates: AggregatesConfig,
    pub relational: RelationalConfig,
    /// The local write-ahead log. Absent: records wait in memory only.
    pub spool: Option<SpoolConfig>,
    pub indicators: IndicatorsConfig,
    pub shutdown: ShutdownConfig,
    /// What `GET /readyz` checks.
    pub health: HealthConfig,
    /// `[[sources]]`: one entry per venue connection.
    pub sources: Vec<SourceConfig>,
    /// `[[custom_tables]]`: tables declared here, created by `migrate` and written from
    /// push `row` records that name them.
    pub custom_tables: Vec<CustomTableConfig>,
    /// `[import]`: how `hypertick import` reads and writes files.
    pub import: super::backfill::ImportConfig,
    /// `[bus]`: this instance's role when several are joined by NATS JetStream.
    pub bus: super::bus::BusConfig,
}

/// `[database]`: where the rows go.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/dbname`. Falls back to `DATABASE_URL`.
    /// libpq's `sslmode` (`disable`, `prefer` — the default —, `require`, `verify-ca`,
    /// `verify-full`) and `sslrootcert` (a PEM file, or `system`) are understood.
    pub url: Option<Secret>,
    /// Root certificates (PEM) that `sslmode=verify-ca` / `verify-full` check the
    /// server against: the URL's `sslrootcert`, as a key of its own. Without either,
    /// the Mozilla roots built into the daemon are used.
    pub ssl_root_cert: Option<PathBuf>,
    /// A file whose first line is the database password, for a URL without one.
    pub password_file: Option<PathBuf>,
    /// How long one connection attempt may take.
    pub connect_timeout_ms: NonZeroU64,
    /// First wait before retrying after a lost connection; doubles up to the maximum.
    pub retry_initial_backoff_ms: NonZeroU64,
    /// Longest wait between reconnection attempts (writers retry forever).
    pub retry_max_backoff_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            ssl_root_cert: None,
            password_file: None,
            connect_timeout_ms: const { NonZeroU64::new(5_000).unwrap() },
            retry_initial_backoff_ms: const { NonZeroU64::new(100).unwrap() },
            retry_max_backoff_ms: 5_000,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint and the periodic summary line.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` here. Set `enabled = false` to serve nothing.
    pub listen: SocketAddr,
    /// `false`: no listener at all (no `/metrics`, `/healthz` or `/readyz`).
    pub enabled: bool,
    /// Seconds between one-line throughput/latency summaries in the log (0: none).
    pub summary_interval_secs: u64,
    /// Connections to the metrics listener open at once; a connection over the limit
    /// is closed as soon as it is accepted (counted in
    /// `hypertick_metrics_refused_total{reason="too_many_connections"}`).
    pub max_connections: NonZeroUsize,
    /// Milliseconds from accepting a metrics connection to its response written; a
    /// client slower than that is disconnected (`hypertick_metrics_refused_total{reason="timeout"}`).
    /// Each connection answers one request.
    pub request_timeout_ms: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9187)),
            enabled: true,
            summary_interval_secs: 10,
            max_connections: const { NonZeroUsize::new(256).unwrap() },
            request_timeout_ms: 10_000,
        }
    }
}

/// `[aggregates]`: the OHLCV views over `ticks`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AggregatesConfig {
    /// Keep `ohlcv_1m`, `ohlcv_1h` and `ohlcv_1d` (real-time continuous aggregates on
    /// TimescaleDB; on vanilla PostgreSQL tables the daemon refreshes where ticks changed).
    pub ohlcv: bool,
    /// Vanilla PostgreSQL: seconds between refreshes of the OHLCV aggregates (each
    /// recomputes only the buckets of ticks written since the previous one): how long a
    /// tick may take to show in them.
    pub refresh_interval_secs: NonZeroU64,
}

impl Default for AggregatesConfig {
    fn default() -> Self {
        AggregatesConfig { ohlcv: true, refresh_interval_secs: const { NonZeroU64::new(60).unwrap() } }
    }
}

/// Which schema profile `migrate` applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProfileChoice {
    /// TimescaleDB when the server can create it (installed and preloaded through
    /// `shared_preload_libraries`), else vanilla PostgreSQL, with a warning naming the
    /// setting when it is installed but not preloaded. A database keeps the profile it
    /// was first migrated with.
    #[default]
    Auto,
    Vanilla,
    Timescaledb,
}

/// `[schema]`: migrations and partition maintenance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaConfig {
    pub profile: ProfileChoice,
    /// Partitions created ahead of now (vanilla profile).
    pub partitions_ahead: u32,
    /// Seconds between partition maintenance runs (create ahead, drop past retention).
    pub maintenance_interval_secs: NonZeroU64,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        SchemaConfig {
            profile: ProfileChoice::Auto,
            partitions_ahead: 3,
            maintenance_interval_secs: const { NonZeroU64::new(600).unwrap() },
        }
    }
}

/// `[shutdown]`: how long a stop may take.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Seconds the writers get to drain and commit after a stop signal.
    pub deadline_secs: NonZeroU64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { deadline_secs: const { NonZeroU64::new(30).unwrap() } }
    }
}

impl Config {
    /// Defaults for `database_url`, with the push server and the metrics endpoint on
    /// free loopback ports and no summary line: what the demo and the tests run.
    pub fn loopback(database_url: &str) -> Config {
        let any_loopback_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            database: DatabaseConfig { url: Some(Secret(database_url.to_string())), ..DatabaseConfig::default() },
            server: Some(ServerConfig {
                listen: any_loopback_port,
                max_connections: const { NonZeroUsize::new(64).unwrap() },
                ..ServerConfig::default()
            }),
            metrics: MetricsConfig { listen: any_loopback_port, summary_interval_secs: 0, ..MetricsConfig::default() },
            ..Config::default()
        }
    }

    /// The database URL, from the file or `DATABASE_URL` (applied at load).
    pub fn database_url(&self) -> Option<&str> {
        self.database.url.as_ref().map(|secret| secret.0.as_str())
    }

    /// The `[[custom_tables]]` entry named `name`.
    pub fn custom_table(&self, name: &str) -> Option<&CustomTableConfig> {
        self.custom_tables.iter().find(|custom| custom.name == name)
    }

    /// The tables the relational writer writes: `[relational] tables`, then the keyed
    /// custom tables (a primary, unique or foreign key).
    pub fn relational_catalog_names(&self) -> Vec<String> {
        let keyed = self.custom_tables.iter().filter(|custom| custom.is_keyed()).map(|custom| custom.name.clone());
        self.relational.tables.iter().cloned().chain(keyed).collect()
    }

    /// The conversion schema of every custom table, in configuration order, value
    /// defaults read by `rows`.
    pub fn custom_schemas(&self, rows: &dyn RowConverter) -> Result<Vec<CustomSchema>, String> {
        self.custom_tables.iter().map(|custom| custom.schema(rows)).collect()
    }

    /// One table's settings with defaults and `[pipeline]` fallbacks applied.
    pub fn table(&self, table: Table) -> EffectiveTableConfig {
        if let Table::Custom(custom) = table {
            return self.custom_table_settings(self.custom_table(custom.name));
        }
        let overrides = self.tables.get(table);
        let defaults = table.defaults();
        EffectiveTableConfig {
            retention_days: overrides.and_then(|o| o.retention_days).unwrap_or(defaults.retention_days),
            retention_by_interval: overrides
                .and_then(|o| o.retention_by_interval.as_ref())
                .map(|by_interval| by_interval.iter().map(|(interval, days)| (interval.clone(), *days)).collect())
                .unwrap_or_default(),
            partition_hours: overrides.and_then(|o| o.partition_hours).unwrap_or(defaults.partition_hours),
            columnstore_after_days: overrides.and_then(|o| o.columnstore_after_days).unwrap_or(defaults.columnstore_after_days),
            writers: overrides.and_then(|o| o.writers).unwrap_or(if table.is_high_rate() { self.pipeline.writers_per_table } else { 1 }),
            channel_capacity: overrides.and_then(|o| o.channel_capacity).unwrap_or(self.pipeline.channel_capacity).get(),
            channel_max_bytes: overrides.and_then(|o| o.channel_max_bytes).unwrap_or(self.pipeline.channel_max_bytes),
            batch_max_rows: overrides.and_then(|o| o.batch_max_rows).unwrap_or(self.pipeline.batch_max_rows),
            batch_max_bytes: overrides.and_then(|o| o.batch_max_bytes).unwrap_or(self.pipeline.batch_max_bytes),
            max_record_bytes: overrides.and_then(|o| o.max_record_bytes).unwrap_or(default_max_record_bytes(table)),
            linger_ms: overrides.and_then(|o| o.linger_ms).unwrap_or(self.pipeline.linger_ms),
            write_mode: overrides.and_then(|o| o.write_mode).unwrap_or_default(),
            conflict_key: overrides.and_then(|o| o.conflict_key.clone()).unwrap_or_default(),
            time_index: table.is_time_partitioned().then(|| overrides.and_then(|o| o.time_index).unwrap_or(false)),
            retention_column: None,
            unpartitioned: false,
        }
    }

    fn custom_table_settings(&self, custom: Option<&CustomTableConfig>) -> EffectiveTableConfig {
        EffectiveTableConfig {
            retention_days: custom.and_then(|c| c.retention_days).unwrap_or(0),
            retention_by_interval: Vec::new(),
            partition_hours: custom.and_then(|c| c.partition_hours).unwrap_or(DEFAULT_CUSTOM_PARTITION_HOURS),
            columnstore_after_days: custom.and_then(|c| c.columnstore_after_days).unwrap_or(DEFAULT_CUSTOM_COLUMNSTORE_AFTER_DAYS),
            writers: custom.and_then(|c| c.writers).unwrap_or(1),
            channel_capacity: self.pipeline.channel_capacity.get(),
            channel_max_bytes: self.pipeline.channel_max_bytes,
            batch_max_rows: custom.and_then(|c| c.batch_max_rows).unwrap_or(self.pipeline.batch_max_rows),
            batch_max_bytes: self.pipeline.batch_max_bytes,
            max_record_bytes: default_max_record_bytes(Table::Relational),
            linger_ms: custom.and_then(|c| c.linger_ms).unwrap_or(self.pipeline.linger_ms),
            write_mode: custom.and_then(|c| c.write_mode).unwrap_or_default(),
            conflict_key: Vec::new(),
            time_index: None,
            retention_column: custom.and_then(|c| c.retention_column.clone()),
            unpartitioned: custom.is_some_and(|c| !c.is_partitioned()),
        }
    }
}
