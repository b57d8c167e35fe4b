//! Environment overrides: `HYPERTICK_<SECTION>_<KEY>` sets `[section] key`, e.g.
//! `HYPERTICK_PIPELINE_BATCH_MAX_ROWS=5000`; `HYPERTICK_TABLES_<TABLE>_<KEY>` sets
//! `[tables.<table>] key`; `DATABASE_URL` sets `database.url` unless
//! `HYPERTICK_DATABASE_URL` is given. Values are read as TOML values when they parse as
//! one (numbers, booleans, arrays) and as strings otherwise.

use super::error::ConfigError;
use crate::record::Table;

/// `HYPERTICK_` variables that are not configuration keys.
const NON_CONFIG_VARIABLES: [&str; 1] = ["HYPERTICK_PG_BINDIR"];

/// Sections whose keys `HYPERTICK_<SECTION>_<KEY>` overrides.
pub const SECTIONS: [&str; 14] = [
    "database",
    "server",
    "metrics",
    "pipeline",
    "tables",
    "schema",
    "aggregates",
    "relational",
    "spool",
    "indicators",
    "shutdown",
    "health",
    "import",
    "bus",
];
// `[[sources]]` and `[[custom_tables]]` are lists: they are configured in the file only.

pub(super) fn apply_environment(tree: &mut toml::Table, environment: impl IntoIterator<Item = (String, String)>) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut database_url_fallback = None;
    let mut overrides = Vec::new();
    for (name, value) in environment {
        if name == "DATABASE_URL" {
            database_url_fallback = Some(value);
        } else if NON_CONFIG_VARIABLES.contains(&name.as_str()) {
            continue;
        } else if let Some(rest) = name.strip_prefix("HYPERTICK_") {
            match env_key_path(rest) {
                Some(path) => overrides.push((path, value)),
                None => errors.push(ConfigError {
                    key: name.clone(),
                    message: format!(
                        "not a configuration key; expected HYPERTICK_<SECTION>_<KEY> with SECTION one of {}",
                        SECTIONS.join(", ")
                    ),
                }),
            }
        }
    }
    if let Some(url) = database_url_fallback {
        set_path(tree, &["database".to_string(), "url".to_string()], toml::Value::String(url));
    }
    // Applied after DATABASE_URL so that HYPERTICK_DATABASE_URL wins.
    for (path, value) in overrides {
        set_path(tree, &path, parse_env_value(&value));
    }
    errors
}

/// Maps `PIPELINE_BATCH_MAX_ROWS` to `["pipeline", "batch_max_rows"]`.
fn env_key_path(rest: &str) -> Option<Vec<String>> {
    let lower = rest.to_ascii_lowercase();
    let section = SECTIONS.iter().find(|section| lower.starts_with(&format!("{section}_")))?;
    let key = &lower[section.len() + 1..];
    if *section == "tables" {
        let table = Table::ALL.iter().find(|table| key.starts_with(&format!("{}_", table.name())))?;
        let column = &key[table.name().len() + 1..];
        return Some(vec!["tables".into(), table.name().into(), column.into()]);
    }
    (!key.is_empty()).then(|| vec![section.to_string(), key.to_string()])
}

fn parse_env_value(raw: &str) -> toml::Value {
    let wrapped = format!("value = {raw}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut table) => table.remove("value").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("paths have at least one segment");
    let mut current = tree;
    for segment in parents {
        let entry = current.entry(segment.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        current = entry.as_table_mut().expect("made a table above");
    }
    current.insert(last.clone(), value);
}
