//! Configuration: the serde structs of the TOML file (`model`), loading with
//! environment overrides and error collection (`load`), and the semantic checks that
//! report every problem at once (`validate`).

mod error;
mod load;
mod model;
mod sources;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use load::{load_file, load_str};
pub use sources::{
    Channel, SourceConfig, SourceKind, ALPACA_KEY_ID_VARIABLE, ALPACA_SECRET_KEY_VARIABLE, POLYGON_API_KEY_VARIABLE,
};
pub use model::{
    AckLevel, AggregatesConfig, Config, DatabaseConfig, EffectiveTableConfig, FullPolicy, IndicatorsConfig, MetricsConfig, PipelineConfig, ProfileChoice,
    RelationalConfig, SchemaConfig, Secret, ServerConfig, ShutdownConfig, TableConfig, TablesConfig, WriteMode,
    DEFAULT_RELATIONAL_TABLES,
};
