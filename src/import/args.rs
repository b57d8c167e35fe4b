//! `hypertick import`'s flags, and the settings they make with `[import]`: a flag
//! wins over its key; `--mapping` and `--set` add to (and override) the table's
//! `mapping` and `set`.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;

use crate::config::{delimiter_byte, import_fields, Config, ConfigError, ConfigErrors, TimeUnit, IMPORTABLE_TABLES};
use crate::record::Table;
use crate::source::file::{parse_pairs, FileFormat, MappingSpec};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The TOML configuration file (the database, and `[import]` defaults).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// The table the files hold: ticks, quotes, bars or tickers.
    #[arg(long, value_name = "TABLE")]
    pub table: String,
    /// `csv` or `ndjson`; default: from each file's name (.csv, .ndjson, .jsonl, .json,
    /// before a .gz or .zst suffix).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<FileFormat>,
    /// A field read from a column (CSV) or key (NDJSON) of another name, e.g.
    /// `price=px,size=qty`; repeatable.
    #[arg(long, value_name = "FIELD=COLUMN")]
    pub mapping: Vec<String>,
    /// A value every row gets for a field the files lack, e.g. `venue=binance`; repeatable.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Database connections writing in parallel [import.writers: 4].
    #[arg(long, value_name = "N")]
    pub writers: Option<usize>,
    /// Threads parsing and encoding [import.threads: one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Chunk size of plain files, in bytes [import.chunk_bytes: 8 MiB].
    #[arg(long, value_name = "BYTES")]
    pub chunk_bytes: Option<u64>,
    /// Chunk size of compressed files, in lines [import.chunk_lines: 100000].
    #[arg(long, value_name = "LINES")]
    pub chunk_lines: Option<u64>,
    /// Stop cleanly once more lines than this were refused; 0: no limit [import.max_errors: 1000].
    #[arg(long, value_name = "N")]
    pub max_errors: Option<u64>,
    /// Unit of epoch-number times: auto, s, ms, us or ns [import.time_unit: auto].
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<TimeUnit>,
    /// The CSV delimiter [import.delimiter: ","].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// Import a file whose content changed since it was imported under the same path,
    /// as a new file (its earlier rows stay).
    #[arg(long)]
    pub allow_changed: bool,
    /// No progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// The files to import.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// Everything one import runs with.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub table: Table,
    pub format: Option<FileFormat>,
    pub spec: MappingSpec,
    pub writers: usize,
    pub threads: usize,
    pub chunk_bytes: u64,
    pub chunk_lines: u64,
    pub max_errors: u64,
    pub time_unit: TimeUnit,
    pub delimiter: u8,
    pub allow_changed: bool,
    pub progress: bool,
}

impl ImportSettings {
    /// Merges the flags into `[import]`; every problem is reported, naming its flag.
    pub fn resolve(args: &ImportArgs, config: &Config) -> Result<ImportSettings, ConfigErrors> {
        let mut errors = Vec::new();
        let mut problem = |key: &str, message: String| errors.push(ConfigError { key: key.to_string(), message });
        let import = &config.import;
        let table = IMPORTABLE_TABLES.iter().copied().find(|table| table.name() == args.table);
        if table.is_none() {
            let names: Vec<&str> = IMPORTABLE_TABLES.iter().map(|table| table.name()).collect();
            problem("--table", format!("`{}` cannot be imported; expected one of {}", args.table, names.join(", ")));
        }
        let table_config = import.tables.get(&args.table).cloned().unwrap_or_default();
        let mut spec = MappingSpec { columns: table_config.mapping, constants: table_config.set };
        match parse_pairs(&args.mapping, "--mapping") {
            Ok(pairs) => {
                for field in pairs.keys() {
                    spec.constants.remove(field);
                }
                spec.columns.extend(pairs);
            }
            Err(message) => problem("--mapping", message),
        }
        match parse_pairs(&args.set, "--set") {
            Ok(pairs) => {
                for field in pairs.keys() {
                    spec.columns.remove(field);
                }
                spec.constants.extend(pairs);
            }
            Err(message) => problem("--set", message),
        }
        if let Some(table) = table {
            for message in spec.problems(table.name(), &import_fields(table)) {
                problem("--mapping", message);
            }
        }
        let writers = args.writers.unwrap_or(import.writers);
        if writers == 0 || writers > 64 {
            problem("--writers", format!("expected 1 to 64 connections, got {writers}"));
        }
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let threads = args.threads.or(import.threads.map(NonZeroUsize::get)).unwrap_or(cores);
        if threads == 0 {
            problem("--threads", "expected at least 1 thread".into());
        }
        let chunk_bytes = args.chunk_bytes.unwrap_or(import.chunk_bytes);
        if chunk_bytes < crate::config::MIN_CHUNK_BYTES {
            problem("--chunk-bytes", format!("expected at least {} bytes, got {chunk_bytes}", crate::config::MIN_CHUNK_BYTES));
        }
        let chunk_lines = args.chunk_lines.unwrap_or(import.chunk_lines.get());
        if chunk_lines == 0 {
            problem("--chunk-lines", "expected at least 1 line".into());
        }
        let delimiter_text = args.delimiter.clone().unwrap_or_else(|| import.delimiter.clone());
        let delimiter = delimiter_byte(&delimiter_text);
        if delimiter.is_none() {
            problem("--delimiter", format!("expected one ASCII character other than `\"`, got `{delimiter_text}`"));
        }
        match (table, delimiter, errors.is_empty()) {
            (Some(table), Some(delimiter), true) => Ok(ImportSettings {
                table,
                format: args.format,
                spec,
                writers,
                threads,
                chunk_bytes,
                chunk_lines,
                max_errors: args.max_errors.unwrap_or(import.max_errors),
                time_unit: args.time_unit.unwrap_or(import.time_unit),
                delimiter,
                allow_changed: args.allow_changed,
                progress: !args.no_progress,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }
}
