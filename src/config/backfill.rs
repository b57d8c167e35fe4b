//! `[import]`, the defaults of `hypertick import` (every key is also a flag, which
//! wins), and the checks of the capture keys of `[[sources]]` (`record`, …) that
//! `hypertick replay` reads back.

use std::collections::BTreeMap;
use std::num::{NonZeroU64, NonZeroUsize};

use serde::Deserialize;

use super::sources::SourceConfig;
use crate::record::Table;

/// The tables `hypertick import` writes.
pub const IMPORTABLE_TABLES: [Table; 4] = [Table::Ticks, Table::Quotes, Table::Bars, Table::Tickers];

/// The unit of epoch-number times in an imported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
pub enum TimeUnit {
    /// From the number of integer digits: up to 10 seconds, 11–13 milliseconds, 14–16
    /// microseconds, 17 and more nanoseconds (right for any time after 1973).
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Millis,
    #[serde(rename = "us")]
    Micros,
    #[serde(rename = "ns")]
    Nanos,
}

impl std::str::FromStr for TimeUnit {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(TimeUnit::Auto),
            "s" => Ok(TimeUnit::Seconds),
            "ms" => Ok(TimeUnit::Millis),
            "us" => Ok(TimeUnit::Micros),
            "ns" => Ok(TimeUnit::Nanos),
            other => Err(format!("`{other}`: expected auto, s, ms, us or ns")),
        }
    }
}

/// `[import]`: how `hypertick import` reads files and writes them.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Database connections writing in parallel (`--writers`).
    pub writers: usize,
    /// Threads parsing and encoding (`--threads`); default: one per core.
    pub threads: Option<NonZeroUsize>,
    /// Plain files are cut into chunks of about this many bytes, at line boundaries
    /// (`--chunk-bytes`). A chunk is one transaction and the unit a resumed import skips.
    pub chunk_bytes: u64,
    /// Compressed files are read in order and cut every this many lines (`--chunk-lines`).
    pub chunk_lines: NonZeroU64,
    /// Stop cleanly once more than this many lines were refused (`--max-errors`); every
    /// refused line is kept in `dead_letters`. 0: no limit.
    pub max_errors: u64,
    /// Unit of times written as epoch numbers: `auto`, `s`, `ms`, `us` or `ns` (`--time-unit`).
    pub time_unit: TimeUnit,
    /// The CSV delimiter, one ASCII character (`--delimiter`).
    pub delimiter: String,
    /// Per table (`[import.tables.ticks]`): which column feeds each field, and constants.
    pub tables: BTreeMap<String, ImportTableConfig>,
}

/// `[import.tables.<table>]`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ImportTableConfig {
    /// Field → CSV column or NDJSON key, for names that differ: `{ price = "px" }` (`--mapping`).
    pub mapping: BTreeMap<String, String>,
    /// Field → the value every row gets, for fields the files lack: `{ venue = "binance" }` (`--set`).
    pub set: BTreeMap<String, String>,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            writers: 4,
            threads: None,
            chunk_bytes: 8 << 20,
            chunk_lines: const { NonZeroU64::new(100_000).unwrap() },
            max_errors: 1_000,
            time_unit: TimeUnit::default(),
            delimiter: ",".into(),
            tables: BTreeMap::new(),
        }
    }
}

/// Smallest accepted `chunk_bytes` (smaller chunks are all transaction overhead).
pub const MIN_CHUNK_BYTES: u64 = 4096;
/// Smallest accepted `record_rotate_bytes`.
pub const MIN_RECORD_ROTATE_BYTES: u64 = 64 * 1024;

/// The fields of an importable table: its columns but `received_at`.
pub fn import_fields(table: Table) -> Vec<&'static str> {
    table.columns().iter().map(|column| column.name).filter(|name| *name != "received_at").collect()
}

/// A CSV delimiter as a byte, if it is one printable ASCII character other than `"`.
pub fn delimiter_byte(text: &str) -> Option<u8> {
    match text.as_bytes() {
        [byte] if (byte.is_ascii_graphic() || *byte == b'\t' || *byte == b' ') && *byte != b'"' => Some(*byte),
        _ => None,
    }
}

/// `[import]`.
pub(super) fn check_import(import: &ImportConfig, problem: &mut impl FnMut(&str, String)) {
    if import.writers == 0 || import.writers > 64 {
        problem("import.writers", format!("expected 1 to 64 connections, got {}", import.writers));
    }
    if import.chunk_bytes < MIN_CHUNK_BYTES {
        problem("import.chunk_bytes", format!("expected at least {MIN_CHUNK_BYTES} bytes, got {}", import.chunk_bytes));
    }
    if delimiter_byte(&import.delimiter).is_none() {
        problem("import.delimiter", format!("expected one ASCII character other than `\"`, got `{}`", import.delimiter));
    }
    for (name, table_config) in &import.tables {
        let key = |field: &str| format!("import.tables.{name}.{field}");
        let Some(table) = IMPORTABLE_TABLES.iter().find(|table| table.name() == name) else {
            let names: Vec<&str> = IMPORTABLE_TABLES.iter().map(|table| table.name()).collect();
            problem(&format!("import.tables.{name}"), format!("not an importable table; expected one of {}", names.join(", ")));
            continue;
        };
        let fields = import_fields(*table);
        for (section, map) in [("mapping", &table_config.mapping), ("set", &table_config.set)] {
            for (field, value) in map {
                if !fields.contains(&field.as_str()) {
                    problem(&key(section), format!("`{field}` is not a field of {name}; expected one of {}", fields.join(", ")));
                } else if value.is_empty() {
                    problem(&key(section), format!("`{field}`: expected a non-empty value"));
                }
            }
        }
        for field in table_config.mapping.keys().filter(|field| table_config.set.contains_key(*field)) {
            problem(&key("set"), format!("`{field}` is given both a column (mapping) and a value (set); keep one"));
        }
    }
}

/// The capture keys (`record`, …) of `[[sources]]`.
pub(super) fn check_capture(sources: &[SourceConfig], problem: &mut impl FnMut(&str, String)) {
    for (index, source) in sources.iter().enumerate() {
        let key = |name: &str| format!("sources[{index}].{name}");
        if let Some(dir) = &source.record {
            if dir.as_os_str().is_empty() {
                problem(&key("record"), "expected a directory for the capture files".into());
            } else if dir.exists() && !dir.is_dir() {
                problem(&key("record"), format!("{} exists and is not a directory", dir.display()));
            }
        }
        if source.record_rotate_bytes < MIN_RECORD_ROTATE_BYTES {
            problem(
                &key("record_rotate_bytes"),
                format!("expected at least {MIN_RECORD_ROTATE_BYTES} bytes, got {}", source.record_rotate_bytes),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_import_and_capture_mistake_names_its_key() {
        let text = r#"
[database]
url = "postgres://u@localhost/db"
[import]
writers = 0
chunk_bytes = 10
delimiter = "ab"
time_unit = "ms"
[import.tables.trades]
mapping = { time = "ts" }
[import.tables.ticks]
mapping = { prize = "px", venue = "v" }
set = { venue = "x" }
[[sources]]
kind = "binance"
symbols = ["BTCUSDT"]
channels = ["trades"]
record = "Cargo.toml"
record_rotate_bytes = 10
record_rotate_secs = 0
"#;
        let errors = crate::config::load_str(text, Vec::new()).unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                // Refused when read: the key's type holds no 0.
                "sources[0].record_rotate_secs",
                "import.writers",
                "import.chunk_bytes",
                "import.delimiter",
                "import.tables.ticks.mapping",
                "import.tables.ticks.set",
                "import.tables.trades",
                "sources[0].record",
                "sources[0].record_rotate_bytes",
            ],
            "{errors}"
        );
        let valid = "[database]\nurl = \"postgres://u@localhost/db\"\n[import]\ntime_unit = \"us\"\n[import.tables.bars]\nset = { interval = \"1m\" }\n";
        let config = crate::config::load_str(valid, Vec::new()).unwrap();
        assert_eq!(config.import.time_unit, super::TimeUnit::Micros);
        assert_eq!(config.import.tables["bars"].set["interval"], "1m");
    }
}
