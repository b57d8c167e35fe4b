//! Vendor files for `hypertick import`: CSV with a header or NDJSON, plain, gzip or
//! zstd (`open`: format and compression from the name and the first bytes, decoders,
//! the header line); which column or key feeds each record field (`mapping`); the
//! text of a value into a typed field (`values`); the records a file can hold
//! (`records`); and a chunk of whole lines into records and bad lines (`parse`).

mod mapping;
mod open;
mod parse;
mod records;
mod values;

pub use mapping::{parse_pairs, FieldSource, Mapping, MappingSpec};
pub use open::{compression_of, format_from_name, open_decoded, read_header, Header};
pub use parse::{parse_chunk, AdmitTime, BadLine, ParseSettings, ParsedChunk};
pub use records::{fields_of, FileRecord};
pub use values::TimeUnit;

use std::path::PathBuf;

/// How a file's records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated values (or another delimiter) with a header line naming the columns.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl std::str::FromStr for FileFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "csv" => Ok(FileFormat::Csv),
            "ndjson" | "jsonl" => Ok(FileFormat::Ndjson),
            other => Err(format!("`{other}`: expected csv or ndjson")),
        }
    }
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Ndjson => "ndjson",
        }
    }
}

/// How a file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// A file that cannot be read as asked.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
    #[error("{}: {detail} (columns: {columns})", path.display())]
    MissingColumn { path: PathBuf, detail: String, columns: String },
    #[error("mapping: {0}")]
    Mapping(String),
}
