//! The semantic checks of `[[custom_tables]]`: every problem is reported, each keyed
//! like `custom_tables[1].columns[3].type`.

use std::collections::HashSet;

use super::custom_tables::{CustomTableConfig, DEFAULT_CUSTOM_PARTITION_HOURS};
use super::model::Config;
use super::subsystems::DEFAULT_RELATIONAL_TABLES;
use super::tables::WriteMode;
use crate::record::{PgType, Table};

/// Longest custom table name: partitions append `_pYYYYMMDD_HHMM` (15 bytes) and
/// PostgreSQL names hold 63.
pub const MAX_CUSTOM_TABLE_NAME_BYTES: usize = 48;
/// Longest column name PostgreSQL keeps whole.
const MAX_COLUMN_NAME_BYTES: usize = 63;
/// PostgreSQL's limit of columns per table.
const MAX_COLUMNS: usize = 1_600;

/// Names the daemon's own schema uses besides the tables of `Table::ALL` and the
/// relational tables: bookkeeping, views and aggregates.
const DAEMON_NAMES: &[&str] = &[
    "ingest_offsets",
    "dead_letters",
    "schema_migrations",
    "relational_waiting",
    "table_retention",
    "instruments",
    "instrument_specs",
    "session_timeline",
    "session_summary",
    "ohlcv_1m",
    "ohlcv_1h",
    "ohlcv_1d",
];

fn is_identifier(name: &str, max_bytes: usize) -> bool {
    let mut bytes = name.bytes();
    let starts_well = bytes.next().is_some_and(|first| first.is_ascii_lowercase() || first == b'_');
    starts_well && name.len() <= max_bytes && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

pub(super) fn check(config: &Config, problem: &mut impl FnMut(&str, String)) {
    let mut seen_names = HashSet::new();
    for (index, table) in config.custom_tables.iter().enumerate() {
        let key = |name: &str| format!("custom_tables[{index}].{name}");
        check_name(config, table, &key("name"), &mut seen_names, problem);
        check_columns(table, index, problem);
        check_settings(config, table, &key, problem);
    }
}

fn check_name(
    config: &Config,
    table: &CustomTableConfig,
    key: &str,
    seen_names: &mut HashSet<String>,
    problem: &mut impl FnMut(&str, String),
) {
    let name = table.name.as_str();
    if !is_identifier(name, MAX_CUSTOM_TABLE_NAME_BYTES) {
        problem(
            key,
            format!("`{name}`: expected a lower-case table name (a-z, 0-9, _; not starting with a digit) of at most {MAX_CUSTOM_TABLE_NAME_BYTES} bytes"),
        );
        return;
    }
    let built_in = Table::ALL.iter().any(|table| table.name() == name);
    let daemon_owned = DAEMON_NAMES.contains(&name) || DEFAULT_RELATIONAL_TABLES.contains(&name);
    if built_in || daemon_owned || name.starts_with("pg_") || name.starts_with("_timescaledb") {
        problem(key, format!("`{name}` is a table the daemon already has; choose another name"));
    } else if config.relational.tables.iter().any(|relational| relational == name) {
        problem(key, format!("`{name}` is listed in relational.tables; a table is either relational or custom"));
    } else if !seen_names.insert(name.to_string()) {
        problem(key, format!("`{name}` is declared twice"));
    }
}

fn check_columns(table: &CustomTableConfig, table_index: usize, problem: &mut impl FnMut(&str, String)) {
    let key = |name: &str| format!("custom_tables[{table_index}].{name}");
    if table.columns.is_empty() {
        problem(&key("columns"), "expected at least the time column".into());
    } else if table.columns.len() > MAX_COLUMNS {
        problem(&key("columns"), format!("{} columns; PostgreSQL allows at most {MAX_COLUMNS}", table.columns.len()));
    }
    let mut names: Vec<&str> = Vec::new();
    for (index, column) in table.columns.iter().enumerate() {
        let column_key = |name: &str| format!("custom_tables[{table_index}].columns[{index}].{name}");
        if !is_identifier(&column.name, MAX_COLUMN_NAME_BYTES) {
            problem(&column_key("name"), format!("`{}`: expected a lower-case column name (a-z, 0-9, _) of at most 63 bytes", column.name));
        } else if let Some(first) = names.iter().position(|name| *name == column.name) {
            problem(&column_key("name"), format!("`{}` is also the name of columns[{first}]", column.name));
        }
        names.push(&column.name);
        let pg_type = column.pg_type();
        if let Err((field, message)) = table.column_shape(index) {
            problem(&column_key(field), message);
        }
        let takes_nan = matches!(pg_type, Some(PgType::Numeric(_) | PgType::Float4 | PgType::Float8 | PgType::Float8Array));
        if column.allow_nan && pg_type.is_some() && !takes_nan {
            problem(&column_key("allow_nan"), "applies to numeric, real, double precision and float8[] columns only".into());
        }
        if column.name == table.time_column && column.nullable == Some(true) {
            problem(&column_key("nullable"), "the time column is always NOT NULL".into());
        }
    }
    match table.columns.iter().find(|column| column.name == table.time_column) {
        None => problem(
            &key("time_column"),
            format!("`{}` is not among the columns; expected the name of a timestamptz column", table.time_column),
        ),
        Some(column) => {
            if column.pg_type().is_some_and(|pg_type| pg_type != PgType::TimestampTz) {
                problem(&key("time_column"), format!("`{}` is {}; expected a timestamptz column", column.name, column.type_name));
            }
        }
    }
    for (index, declared) in table.indexes.iter().enumerate() {
        let columns = declared.columns();
        let index_key = format!("custom_tables[{table_index}].indexes[{index}]");
        if columns.is_empty() {
            problem(&index_key, "expected at least one column".into());
        }
        for (position, column) in columns.iter().enumerate() {
            if !names.contains(&column.as_str()) {
                problem(&index_key, format!("`{column}` is not a column of {}", table.name));
            } else if columns[..position].contains(column) {
                problem(&index_key, format!("`{column}` is listed twice"));
            }
        }
    }
    if let Some(segmentby) = &table.segmentby {
        if !names.contains(&segmentby.as_str()) {
            problem(&key("segmentby"), format!("`{segmentby}` is not a column of {}", table.name));
        } else if *segmentby == table.time_column {
            problem(&key("segmentby"), "expected a series column, not the time column (which orders the columnstore)".into());
        }
    }
}

fn check_settings(config: &Config, table: &CustomTableConfig, key: &impl Fn(&str) -> String, problem: &mut impl FnMut(&str, String)) {
    let partition_hours = table.partition_hours.unwrap_or(DEFAULT_CUSTOM_PARTITION_HOURS);
    if partition_hours == 0 || partition_hours > 24 * 366 {
        problem(&key("partition_hours"), "expected between 1 and 8784 hours".into());
    }
    let retention_days = table.retention_days.unwrap_or(0);
    if retention_days != 0 && u64::from(retention_days) * 24 < u64::from(partition_hours) {
        problem(&key("retention_days"), "expected 0 (keep all) or a retention at least one partition long".into());
    }
    let writers = table.writers.unwrap_or(1);
    if writers == 0 || writers > 64 {
        problem(&key("writers"), "expected between 1 and 64 connections".into());
    }
    let batch_max_rows = table.batch_max_rows.unwrap_or(config.pipeline.batch_max_rows);
    if batch_max_rows == 0 || batch_max_rows > 1_000_000 {
        problem(&key("batch_max_rows"), "expected between 1 and 1000000 rows".into());
    }
    if table.linger_ms.unwrap_or(config.pipeline.linger_ms) > 60_000 {
        problem(&key("linger_ms"), "expected at most 60000 ms".into());
    }
    let has_arrays = table.columns.iter().any(|column| column.pg_type().is_some_and(PgType::is_array));
    if table.write_mode == Some(WriteMode::Insert) && has_arrays {
        problem(&key("write_mode"), format!("expected \"copy\": {} has array columns, which insert mode cannot pass", table.name));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;
    use crate::record::{PgType, Table};

    const EXAMPLE: &str = include_str!("../../config/examples/custom_tables.toml");

    #[test]
    fn the_example_declares_the_three_seed_tables() {
        let config = load_str(EXAMPLE, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
        let names: Vec<&str> = config.custom_tables.iter().map(|table| table.name.as_str()).collect();
        assert_eq!(names, ["price_tracking", "system_metrics", "market_signals"]);
        let schemas: Vec<_> = config.custom_tables.iter().map(|table| table.shape().expect("every declared table builds")).collect();
        let price = &schemas[0];
        assert_eq!(price.table.time_column(), "tracked_at");
        assert_eq!(price.columns[2].pg_type.sql_name(), "numeric(10,2)");
        assert!(!price.columns[1].nullable && !price.columns[4].nullable);
        let settings = config.table(price.table);
        assert_eq!(
            (settings.retention_days, settings.partition_hours, settings.columnstore_after_days, settings.writers),
            (730, 168, 30, 1)
        );
        assert_eq!(config.table(schemas[1].table).batch_max_rows, 5000);
        assert_eq!(config.table(schemas[2].table).columnstore_after_days, 30, "the default");
        assert!(matches!(schemas[2].table, Table::Custom(_)));
        assert_eq!(schemas[2].columns[3].pg_type, PgType::TimestampTz);
    }

    #[test]
    fn the_commented_example_of_the_annotated_config_is_valid() {
        let annotated = include_str!("../../config/hypertick.toml");
        let start = annotated.find("# [[custom_tables]]").expect("a commented [[custom_tables]] example");
        let example: Vec<&str> = annotated[start..]
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(|line| line.strip_prefix("# ").unwrap_or(line))
            .collect();
        let text = format!("[database]\nurl = \"postgres://u@localhost/db\"\n{}\n", example.join("\n"));
        let config = load_str(&text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}\n{text}"));
        assert_eq!(config.custom_tables[0].name, "price_tracking");
        assert_eq!(config.custom_tables[0].columns.len(), 7);
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let text = r#"
            [database]
            url = "postgres://u@localhost/db"
            [relational]
            tables = ["orders", "deals"]

            [[custom_tables]]
            name = "fine"
            time_column = "at"
            columns = [{ name = "at", type = "timestamptz" }]

            [[custom_tables]]
            name = "ticks"
            time_column = "when"
            partition_hours = 0
            writers = 0
            indexes = [["nope"], []]
            segmentby = "at"
            write_mode = "insert"
            columns = [
              { name = "at", type = "timestamptz" },
              { name = "Price", type = "money" },
              { name = "at", type = "text[]" },
              { name = "n", type = "int4", default = "many", allow_nan = true },
              { name = "m", type = "numeric(5,2)", default = "1234.5" },
              { name = "k", type = "uuid", default = "now" },
            ]

            [[custom_tables]]
            name = "fine"
            time_column = "at"
            columns = [{ name = "at", type = "text", nullable = true }]

            [[custom_tables]]
            name = "deals"
            time_column = "at"
            columns = [{ name = "at", type = "timestamptz", colour = "red" }]
        "#;
        let errors = load_str(text, Vec::new()).expect_err("invalid").0;
        let has = |key: &str, needle: &str| errors.iter().any(|error| error.key == key && error.message.contains(needle));
        let expected = [
            ("custom_tables[3].columns[0].colour", "unknown field"),
            ("custom_tables[1].name", "already has"),
            ("custom_tables[1].columns[1].name", "lower-case"),
            ("custom_tables[1].columns[1].type", "`money` is not a supported type"),
            ("custom_tables[1].columns[2].name", "also the name of columns[0]"),
            ("custom_tables[1].columns[3].allow_nan", "numeric, real"),
            ("custom_tables[1].time_column", "`when` is not among the columns"),
            ("custom_tables[1].indexes[0]", "`nope` is not a column"),
            ("custom_tables[1].indexes[1]", "at least one column"),
            ("custom_tables[1].partition_hours", "between 1 and 8784"),
            ("custom_tables[1].writers", "between 1 and 64"),
            ("custom_tables[1].write_mode", "array columns"),
            ("custom_tables[2].name", "declared twice"),
            ("custom_tables[2].time_column", "expected a timestamptz column"),
            ("custom_tables[2].columns[0].nullable", "always NOT NULL"),
        ];
        for (key, needle) in expected {
            assert!(has(key, needle), "{key}: {needle} missing from\n{}", crate::config::ConfigErrors(errors.clone()));
        }
        // Only the unknown key was removed: the rest of its table was still checked.
        assert!(has("custom_tables[3].name", "relational.tables"), "{errors:?}");
    }

    #[test]
    fn names_must_not_clash_with_relational_tables_or_sql_rules() {
        let declare = |name: &str| {
            format!("[database]\nurl = \"postgres://u@localhost/db\"\n[relational]\ntables = [\"orders\", \"deals\"]\n[[custom_tables]]\nname = \"{name}\"\ntime_column = \"at\"\ncolumns = [{{ name = \"at\", type = \"timestamptz\" }}]\n")
        };
        for (name, needle) in [
            ("deals", "relational.tables"),
            ("dead_letters", "already has"),
            ("ohlcv_1m", "already has"),
            ("pg_stats", "already has"),
            ("9lives", "lower-case"),
            (&"x".repeat(49), "at most 48 bytes"),
        ] {
            let errors = load_str(&declare(name), Vec::new()).expect_err(name).0;
            assert!(
                errors.iter().any(|error| error.key == "custom_tables[0].name" && error.message.contains(needle)),
                "{name}: {errors:?}"
            );
        }
        assert!(load_str(&declare("user"), Vec::new()).is_ok(), "a word SQL reserves is fine: names are quoted");
        assert!(load_str(&declare(&"x".repeat(48)), Vec::new()).is_ok());
    }
}
