//! A chunk of whole lines of a file into records and bad lines. Pure and
//! synchronous: the import runs it on every core.

use std::borrow::Cow;

use serde_json::Value;

use super::mapping::{FieldSource, Mapping};
use super::records::FileRecord;
use super::values::{TimeUnit, Values};
use super::FileFormat;
use crate::record::{RejectReason, Rejection, Timestamp};

/// Most fields a record type has (bars and tickers: 11).
const MAX_FIELDS: usize = 12;

/// How a file's lines are read.
#[derive(Debug, Clone, Copy)]
pub struct ParseSettings {
    pub format: FileFormat,
    /// CSV only.
    pub delimiter: u8,
    pub time_unit: TimeUnit,
}

/// A line that did not become a record.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    /// 1-based, counted from the chunk's first line.
    pub line: u64,
    pub rejection: Rejection,
    pub raw: String,
}

/// What a chunk held.
#[derive(Debug)]
pub struct ParsedChunk<R> {
    pub rows: Vec<R>,
    pub bad: Vec<BadLine>,
}

/// Checks a record's event time (retention, clock) and, for a bar, its interval (whose
/// retention applies); a refusal makes its line bad.
pub type AdmitTime<'a> = &'a dyn Fn(Timestamp, Option<&str>) -> Result<(), Rejection>;

/// Parses `bytes` (whole lines, no header) into `R`s stamped `received_at`, whose
/// times `admit` accepts.
pub fn parse_chunk<R: FileRecord>(
    bytes: &[u8],
    settings: &ParseSettings,
    mapping: &Mapping,
    received_at: Timestamp,
    admit: AdmitTime<'_>,
) -> ParsedChunk<R> {
    let read = Reading { settings, mapping, received_at, admit };
    match settings.format {
        FileFormat::Csv => parse_csv(bytes, &read),
        FileFormat::Ndjson => parse_ndjson(bytes, &read),
    }
}

struct Reading<'a> {
    settings: &'a ParseSettings,
    mapping: &'a Mapping,
    received_at: Timestamp,
    admit: AdmitTime<'a>,
}

impl Reading<'_> {
    fn record<R: FileRecord>(&self, texts: &[Option<Cow<'_, str>>]) -> Result<R, Rejection> {
        let values = Values { texts: &texts[..self.mapping.fields.len()], names: self.mapping.fields, time_unit: self.settings.time_unit };
        let row = R::from_values(&values, self.received_at)?;
        (self.admit)(row.time(), row.interval())?;
        Ok(row)
    }
}

fn raw_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end_matches(['\r', '\n']).to_string()
}

fn present(text: &str) -> Option<Cow<'_, str>> {
    (!text.trim().is_empty()).then_some(Cow::Borrowed(text))
}

fn parse_csv<R: FileRecord>(bytes: &[u8], read: &Reading<'_>) -> ParsedChunk<R> {
    let (settings, mapping) = (read.settings, read.mapping);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(settings.delimiter).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut parsed = ParsedChunk { rows: Vec::with_capacity(bytes.len() / 64), bad: Vec::new() };
    loop {
        let start = reader.position().clone();
        let more = reader.read_byte_record(&mut record);
        let end = reader.position().byte() as usize;
        let line = start.line();
        let raw = || raw_line(&bytes[start.byte() as usize..end.min(bytes.len())]);
        match more {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                parsed.bad.push(BadLine { line, rejection: Rejection::new(RejectReason::InvalidCsv, error.to_string()), raw: raw() });
                continue;
            }
        }
        let mut invalid_utf8 = None;
        let texts: [Option<Cow<'_, str>>; MAX_FIELDS] = std::array::from_fn(|index| match mapping.sources.get(index)? {
            FieldSource::Column(column) => {
                let field = record.get(*column)?;
                match std::str::from_utf8(field) {
                    Ok(text) => present(text),
                    Err(_) => {
                        invalid_utf8 = Some(mapping.fields[index]);
                        None
                    }
                }
            }
            FieldSource::Constant(text) => Some(Cow::Borrowed(text.as_str())),
            FieldSource::Key(_) | FieldSource::Absent => None,
        });
        if let Some(field) = invalid_utf8 {
            let rejection = Rejection::new(RejectReason::InvalidUtf8, format!("`{field}` is not valid UTF-8"));
            parsed.bad.push(BadLine { line, rejection, raw: raw() });
            continue;
        }
        match read.record::<R>(&texts) {
            Ok(row) => parsed.rows.push(row),
            Err(rejection) => parsed.bad.push(BadLine { line, rejection, raw: raw() }),
        }
    }
    parsed
}

fn parse_ndjson<R: FileRecord>(bytes: &[u8], read: &Reading<'_>) -> ParsedChunk<R> {
    let mut parsed = ParsedChunk { rows: Vec::with_capacity(bytes.len() / 128), bad: Vec::new() };
    for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_object::<R>(line, read) {
            Ok(row) => parsed.rows.push(row),
            Err(rejection) => parsed.bad.push(BadLine { line: line_number, rejection, raw: raw_line(line) }),
        }
    }
    parsed
}

fn parse_object<R: FileRecord>(line: &[u8], read: &Reading<'_>) -> Result<R, Rejection> {
    let mapping = read.mapping;
    let object: serde_json::Map<String, Value> =
        serde_json::from_slice(line).map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a JSON object: {error}")))?;
    let mut texts: [Option<Cow<'_, str>>; MAX_FIELDS] = Default::default();
    for (index, source) in mapping.sources.iter().enumerate() {
        texts[index] = match source {
            FieldSource::Key(key) => match object.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => present(text),
                Some(Value::Number(number)) => Some(Cow::Owned(number.to_string())),
                Some(Value::Bool(flag)) => Some(Cow::Owned(flag.to_string())),
                Some(_) => {
                    let field = mapping.fields[index];
                    return Err(Rejection::new(
                        RejectReason::InvalidField,
                        format!("`{field}` (key `{key}`): expected a string or a number"),
                    ));
                }
            },
            FieldSource::Constant(text) => Some(Cow::Borrowed(text.as_str())),
            FieldSource::Column(_) | FieldSource::Absent => None,
        };
    }
    read.record(&texts)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::record::{Side, Tick};
    use crate::source::file::MappingSpec;

    fn settings(format: FileFormat) -> ParseSettings {
        ParseSettings { format, delimiter: b',', time_unit: TimeUnit::Auto }
    }

    #[test]
    fn csv_rows_and_bad_lines_with_their_line_numbers() {
        let header: Vec<String> = ["time", "venue", "symbol", "price", "size", "side", "trade_id"].map(String::from).to_vec();
        let mapping = MappingSpec::default().resolve("ticks", Tick::FIELDS, Tick::REQUIRED, Some(&header), Path::new("t.csv")).unwrap();
        let chunk = b"2026-01-02T03:04:05Z,v,BTC-USD,100.5,2,buy,1\n2026-01-02T03:04:06Z,v,BTC-USD,abc,2,sell,2\r\n\
                      1767323047000,v,\"BTC-USD\",101,0.5,,3\n2026-01-02T03:04:08Z,v,BTC-USD,102,1\n";
        let parsed: ParsedChunk<Tick> = parse_chunk(chunk, &settings(FileFormat::Csv), &mapping, Timestamp(7), &|_, _| Ok(()));
        assert_eq!(parsed.rows.len(), 3);
        assert_eq!((parsed.rows[1].side, parsed.rows[1].trade_id.as_deref()), (Side::Unknown, Some("3")));
        assert_eq!(parsed.rows[1].time, Timestamp::parse_rfc3339("2026-01-02T03:04:07Z").unwrap());
        assert_eq!(parsed.rows[2].trade_id, None);
        assert_eq!(parsed.bad.len(), 1);
        assert_eq!(parsed.bad[0].line, 2);
        assert_eq!(parsed.bad[0].raw, "2026-01-02T03:04:06Z,v,BTC-USD,abc,2,sell,2");
        assert!(parsed.bad[0].rejection.detail.contains("`price`"), "{:?}", parsed.bad[0]);
    }

    #[test]
    fn ndjson_rows_renamed_keys_and_bad_lines() {
        let mut spec = MappingSpec::default();
        spec.columns.insert("price".into(), "p".into());
        spec.constants.insert("venue".into(), "v".into());
        let mapping = spec.resolve("ticks", Tick::FIELDS, Tick::REQUIRED, None, Path::new("t.ndjson")).unwrap();
        let chunk = b"{\"time\":1767323045000000000,\"symbol\":\"ETH-USD\",\"p\":3300.5,\"size\":\"1\",\"extra\":[1]}\n\n{oops\n\
                      {\"time\":\"2026-01-02T03:04:05Z\",\"symbol\":\"ETH-USD\",\"p\":{\"x\":1},\"size\":1}\n";
        let parsed: ParsedChunk<Tick> = parse_chunk(chunk, &settings(FileFormat::Ndjson), &mapping, Timestamp(7), &|time, _| {
            crate::pipeline::check_event_time(
                crate::record::Table::Ticks,
                None,
                0,
                time,
                Timestamp::parse_rfc3339("2026-01-02T03:04:05Z").unwrap(),
            )
        });
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!((parsed.rows[0].price, parsed.rows[0].venue.as_str()), (3300.5, "v"));
        assert_eq!(parsed.rows[0].time, Timestamp::parse_rfc3339("2026-01-02T03:04:05Z").unwrap());
        let bad: Vec<(u64, RejectReason)> = parsed.bad.iter().map(|bad| (bad.line, bad.rejection.code)).collect();
        assert_eq!(bad, vec![(3, RejectReason::InvalidJson), (4, RejectReason::InvalidField)]);
    }
}
