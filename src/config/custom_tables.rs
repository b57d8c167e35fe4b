//! `[[custom_tables]]`: tables declared in the configuration — name, time column,
//! columns and types, keys, foreign keys, indexes, partitioning, retention, columnstore
//! and batch settings — created by `migrate` and written from push `row` records that
//! name them: through the COPY writers, or through the relational writer when the table
//! is keyed (`custom_keys`). `custom_checks` and `custom_key_checks` hold their
//! semantic checks.

use schemars::JsonSchema;
use serde::Deserialize;

use super::custom_keys::{CustomIndexConfig, ForeignKeyConfig, DEFAULT_SQL_EXPRESSIONS};
use super::tables::WriteMode;
use crate::record::{ColumnDefault, ColumnRule, CustomSchema, PgType, RowConverter};

/// One `[[custom_tables]]` entry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomTableConfig {
    /// The table's name: lower-case letters, digits and `_`, at most 48 bytes (its
    /// partitions append `_pYYYYMMDD_HHMM`), not a table the daemon already has.
    pub name: String,
    /// The `timestamptz` column rows are partitioned (vanilla) or chunked (TimescaleDB)
    /// on; always NOT NULL. Its value decides retention like a built-in table's `time`.
    pub time_column: String,
    /// The columns, in table order: `{ name = "price", type = "numeric(10,2)",
    /// nullable = false, default = "0", allow_nan = false }`.
    pub columns: Vec<CustomColumnConfig>,
    /// Extra indexes, each a list of columns (btree: `[["deal_id"], ["source", "tracked_at"]]`)
    /// or a table naming the method: `{ columns = ["tags"], method = "gin" }` (`btree`,
    /// `gin` on jsonb and array columns, `brin`). An index on the time column is always created.
    #[serde(default)]
    pub indexes: Vec<CustomIndexConfig>,
    /// The primary key's columns (`["id"]`). A table with a primary key, a unique key or
    /// a foreign key is *keyed*: its rows go through the relational writer and may be
    /// `insert`ed, `upsert`ed (on the primary key, else on the first unique key) and
    /// `update`d (by the primary key). A partitioned table's keys include the time column.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Unique keys, each a list of columns (`[["decision_id"], ["symbol", "source"]]`).
    #[serde(default)]
    pub unique: Vec<Vec<String>>,
    /// Foreign keys: `{ columns = ["deal_id"], references = "deals", referenced_columns = ["id"],
    /// on_delete = "cascade" }`. `references` is one of `[relational] tables` or another
    /// custom table; `referenced_columns` defaults to its primary key; `on_delete` is
    /// `no_action` (default), `cascade`, `set_null` or `restrict`. A row whose parent is
    /// not there yet waits for it like a relational row (`[relational] wait_ms`).
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKeyConfig>,
    /// `true` (default): range-partitioned on the time column (vanilla) or a hypertable
    /// (TimescaleDB). `false`: a plain table — no partitions, chunks or columnstore; the
    /// time column still decides the age checks, and retention deletes rows periodically.
    pub partitioned: Option<bool>,
    /// Width of one partition (vanilla) or chunk (TimescaleDB), in hours. Default 168.
    pub partition_hours: Option<u32>,
    /// Days of data kept; older rows are refused and older partitions/chunks dropped
    /// (a table with `partitioned = false` or a `retention_column`: rows deleted
    /// periodically). Default 0: keep everything.
    pub retention_days: Option<u32>,
    /// An integer column holding each row's own retention in days (0: keep it for
    /// good); rows that leave it out have `retention_days`. A row older than its own
    /// retention is refused, rows past it are deleted periodically, and the table's
    /// partitions or chunks are never dropped whole (a row may ask to be kept longer).
    pub retention_column: Option<String>,
    /// TimescaleDB: chunks older than this many days move to the columnstore. Default 30; 0: never.
    pub columnstore_after_days: Option<u32>,
    /// TimescaleDB: the columnstore's segment key, a column whose rows compress together
    /// (a series id). Default: none.
    pub segmentby: Option<String>,
    /// Database connections writing this table. Default 1.
    pub writers: Option<usize>,
    /// A batch closes at this many rows (default `[pipeline] batch_max_rows`)…
    pub batch_max_rows: Option<usize>,
    /// …or when its first row has waited this long (default `[pipeline] linger_ms`).
    pub linger_ms: Option<u64>,
    /// `copy` (default), `insert` or `direct_compress` (TimescaleDB: COPY straight into
    /// the columnstore; see `[tables.<name>] write_mode`); tables with array columns
    /// stay off `insert`.
    pub write_mode: Option<WriteMode>,
}

/// One column of a custom table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomColumnConfig {
    /// The column's name: lower-case letters, digits and `_`.
    pub name: String,
    /// `smallint`/`int2`, `integer`/`int4`, `bigint`/`int8`, `real`/`float4`,
    /// `double precision`/`float8`, `numeric`, `numeric(p,s)`, `text`, `varchar(n)`,
    /// `boolean`, `timestamptz`, `date`, `jsonb`, `uuid`, `text[]`, `float8[]`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether the column may be NULL. Default true (the time column and the primary
    /// key's columns: false, and they cannot be made nullable).
    pub nullable: Option<bool>,
    /// The value used when a row leaves the column out (or sends `null`), written as
    /// the producer would send it; `"random"` on a uuid column makes a new UUID per row,
    /// `"now"` on a timestamptz column is the time the daemon received the row.
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<toml::Value>,
    /// A default computed by the database, also its DDL `DEFAULT`: `"now()"` (timestamptz),
    /// `"current_date"` (date) or `"gen_random_uuid()"` (uuid). Rows written by COPY get
    /// the same from the daemon: the time it received the row, that time's UTC date, a
    /// random UUID. Not together with `default`.
    pub default_sql: Option<String>,
    /// numeric, real, double precision and float8[] columns: take NaN and ±Infinity
    /// (refused by default). numeric(p,s) never holds an infinity.
    #[serde(default)]
    pub allow_nan: bool,
}

/// Default width of a custom table's partitions: a week, as for the slower built-in series.
pub const DEFAULT_CUSTOM_PARTITION_HOURS: u32 = 24 * 7;
/// Default age at which a custom table's chunks move to the columnstore (TimescaleDB).
pub const DEFAULT_CUSTOM_COLUMNSTORE_AFTER_DAYS: u32 = 30;

impl CustomColumnConfig {
    /// The column's type, when it names a supported one.
    pub fn pg_type(&self) -> Option<PgType> {
        PgType::from_config_name(&self.type_name)
    }
}

impl CustomTableConfig {
    /// The conversion rule of column `index` without a value default, and that value as
    /// the JSON a producer would send (a `default` other than `"random"` on a uuid and
    /// `"now"` on a timestamptz column): it is read by the push `row` rules, which the
    /// sources own (see [`CustomTableConfig::column_rule`]; the sources' checks report a
    /// value that does not fit). `Err` says what is wrong with the column's type or
    /// default (the key inside the column and the message).
    pub fn column_shape(&self, index: usize) -> Result<(ColumnRule, Option<serde_json::Value>), (&'static str, String)> {
        let column = &self.columns[index];
        let pg_type = column
            .pg_type()
            .ok_or_else(|| ("type", format!("`{}` is not a supported type; expected {}", column.type_name, SUPPORTED_TYPES)))?;
        // The time column and primary-key columns are NOT NULL (PostgreSQL makes a
        // primary key's columns so whatever the DDL says).
        let not_null = column.name == self.time_column || self.primary_key.contains(&column.name);
        let mut rule = ColumnRule {
            name: column.name.clone(),
            pg_type,
            nullable: column.nullable.unwrap_or(!not_null) && !not_null,
            default: None,
            allow_nan: column.allow_nan,
        };
        let mut value = None;
        if let Some(default) = &column.default {
            match column_default(&rule, default).map_err(|message| ("default", message))? {
                ConfiguredDefault::Keyword(keyword) => rule.default = Some(keyword),
                ConfiguredDefault::Value(json) => value = Some(json),
            }
        }
        if let Some(expression) = &column.default_sql {
            if column.default.is_some() {
                return Err(("default_sql", "expected either `default` or `default_sql`, not both".into()));
            }
            rule.default = Some(default_sql(&rule, expression).map_err(|message| ("default_sql", message))?);
        }
        Ok((rule, value))
    }

    /// The conversion rule of column `index`, its value default read by `rows`; `Err`
    /// says what is wrong with its type or default (the key inside the column and the
    /// message).
    pub fn column_rule(&self, index: usize, rows: &dyn RowConverter) -> Result<ColumnRule, (&'static str, String)> {
        let (mut rule, value) = self.column_shape(index)?;
        if let Some(json) = value {
            let text = json.to_string();
            let read = rows.cell(&rule, &json, Some(&text)).map_err(|rejection| ("default", rejection.detail))?;
            rule.default = Some(ColumnDefault::Value(read));
        }
        Ok(rule)
    }

    /// Whether rows go through the relational writer: the table declares a primary
    /// key, a unique key or a foreign key.
    pub fn is_keyed(&self) -> bool {
        !self.primary_key.is_empty() || !self.unique.is_empty() || !self.foreign_keys.is_empty()
    }

    /// Whether the table is range-partitioned (vanilla) or a hypertable (TimescaleDB).
    pub fn is_partitioned(&self) -> bool {
        self.partitioned.unwrap_or(true)
    }

    /// The key an `upsert` conflicts on: the primary key, else the first unique key.
    pub fn conflict_key(&self) -> Option<&[String]> {
        if !self.primary_key.is_empty() {
            return Some(&self.primary_key);
        }
        self.unique.first().map(Vec::as_slice)
    }

    /// The table's conversion schema (and with it its `Table`), value defaults read by
    /// `rows`. The configuration's checks have run when this is called; a failure here
    /// names the first problem.
    pub fn schema(&self, rows: &dyn RowConverter) -> Result<CustomSchema, String> {
        self.build_schema(|index| self.column_rule(index, rows))
    }

    /// The table's `Table` and column types, without its value defaults (see
    /// [`CustomTableConfig::column_shape`]): what knowing the table takes, never
    /// converting rows into it.
    pub fn shape(&self) -> Result<CustomSchema, String> {
        self.build_schema(|index| self.column_shape(index).map(|(rule, _)| rule))
    }

    fn build_schema(
        &self,
        mut column_rule: impl FnMut(usize) -> Result<ColumnRule, (&'static str, String)>,
    ) -> Result<CustomSchema, String> {
        let mut rules = Vec::with_capacity(self.columns.len());
        for index in 0..self.columns.len() {
            let rule = column_rule(index)
                .map_err(|(key, message)| format!("custom table {} column {}: {key}: {message}", self.name, self.columns[index].name))?;
            rules.push(rule);
        }
        CustomSchema::new(&self.name, rules, &self.time_column).map_err(|message| format!("custom table {}: {message}", self.name))
    }
}

/// The type names `check-config` offers when a type is not supported.
pub const SUPPORTED_TYPES: &str = "one of smallint (int2), integer (int4), bigint (int8), real (float4), \
     double precision (float8), numeric, numeric(p,s), text, varchar(n), boolean, timestamptz, date, jsonb, uuid, text[], float8[]";

/// A column's `default`: a keyword the daemon fills in per row, or a value.
enum ConfiguredDefault {
    Keyword(ColumnDefault),
    /// The value as the JSON a producer would send, to be read by the column's rule.
    Value(serde_json::Value),
}

fn column_default(rule: &ColumnRule, default: &toml::Value) -> Result<ConfiguredDefault, String> {
    match (rule.pg_type, default.as_str()) {
        (PgType::Uuid, Some("random")) => return Ok(ConfiguredDefault::Keyword(ColumnDefault::RandomUuid)),
        (PgType::TimestampTz, Some("now")) => return Ok(ConfiguredDefault::Keyword(ColumnDefault::ReceivedAt)),
        _ => {}
    }
    let json = toml_to_json(default);
    if json.is_null() {
        return Err("expected a value (leave `default` out for none)".into());
    }
    Ok(ConfiguredDefault::Value(json))
}

/// `default_sql`: one of a small safe set, each on the one type it fits.
fn default_sql(rule: &ColumnRule, expression: &str) -> Result<ColumnDefault, String> {
    let (default, fits) = match expression.trim().to_ascii_lowercase().as_str() {
        "now()" => (ColumnDefault::ReceivedAt, PgType::TimestampTz),
        "current_date" => (ColumnDefault::CurrentDate, PgType::Date),
        "gen_random_uuid()" => (ColumnDefault::RandomUuid, PgType::Uuid),
        _ => return Err(format!("`{expression}` is not a default the daemon takes; expected {DEFAULT_SQL_EXPRESSIONS}")),
    };
    if rule.pg_type != fits {
        return Err(format!("`{expression}` makes a {}; the column is {}", fits.sql_name(), rule.pg_type.sql_name()));
    }
    Ok(default)
}

/// A TOML value as the JSON a producer would send (dates and times as strings).
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(number) => Value::from(*number),
        toml::Value::Float(number) => {
            serde_json::Number::from_f64(*number).map_or_else(|| Value::String(number.to_string()), Value::Number)
        }
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(table.iter().map(|(key, item)| (key.clone(), toml_to_json(item))).collect()),
    }
}
