//! Configuration, and nothing else: the serde structs of the TOML file (`model`;
//! `[pipeline]` and its full policy in `pipeline`, `[server]` in `server`, `[tables]` and
//! each table's effective settings in `tables`, `[[sources]]` in `sources`, a generic json
//! feed's description in `json_feed`, `[[custom_tables]]` in `custom_tables`, `[import]`
//! and the checks of the capture keys of `[[sources]]` in `backfill`), loading with
//! environment overrides (`environment`) and error collection (`load`), the semantic
//! checks that report every problem at once, one per section (`validate`, `json_checks`,
//! `custom_checks`), and the warnings about what is allowed but risky (`warnings`).
//! Checks that need more than the configuration (a connection string taken apart, what a
//! venue offers) live with what they check and come in through a [`Check`].

mod backfill;
mod bus;
mod custom_checks;
mod custom_key_checks;
mod custom_keys;
mod custom_tables;
mod environment;
mod error;
mod json_checks;
mod json_feed;
mod load;
mod memory;
mod model;
mod pipeline;
mod redact;
mod secret;
mod server;
mod sources;
mod subsystems;
mod tables;
mod validate;
mod warnings;

pub use backfill::{
    delimiter_byte, import_fields, ImportConfig, ImportTableConfig, TimeUnit, IMPORTABLE_TABLES, MIN_CHUNK_BYTES, MIN_RECORD_ROTATE_BYTES,
};
pub use bus::{is_name_token, BusConfig, BusRole};
pub use custom_checks::MAX_CUSTOM_TABLE_NAME_BYTES;
pub use custom_keys::{CustomIndexConfig, CustomIndexWithMethod, ForeignKeyConfig, IndexMethod, OnDelete};
pub use custom_tables::{CustomColumnConfig, CustomTableConfig, DEFAULT_CUSTOM_COLUMNSTORE_AFTER_DAYS, DEFAULT_CUSTOM_PARTITION_HOURS};
pub use environment::SECTIONS as ENVIRONMENT_SECTIONS;
pub use error::{with_causes, ConfigError, ConfigErrors};
pub use json_feed::{
    json_pointer_tokens, AckRule, Conditions, FieldPointers, JsonFeedConfig, RecordKind, RecordRule, SideValues, SymbolRewrite, TimeFormat,
};
pub use load::{load_file_with, load_str, load_str_with, Check};
pub use memory::{worst_case_bytes, WorstCase, BOOK_LEVEL_BYTES, MAX_BOOK_DEPTH};
pub use model::{AggregatesConfig, Config, DatabaseConfig, MetricsConfig, ProfileChoice, SchemaConfig, ShutdownConfig};
pub use pipeline::{FullPolicy, PipelineConfig};
pub use redact::redact_url;
pub use secret::Secret;
pub use server::{AckLevel, ServerConfig};
pub use sources::{Channel, SourceConfig, SourceKind};
pub use subsystems::{HealthConfig, IndicatorsConfig, RelationalConfig, SpoolConfig, DEFAULT_RELATIONAL_TABLES};
pub use tables::{default_max_record_bytes, EffectiveTableConfig, TableConfig, TablesConfig, WriteMode, MAX_BATCH_BYTES};
pub use validate::{is_plain_identifier, MAX_IDENTIFIER_BYTES};
pub use warnings::warnings;
