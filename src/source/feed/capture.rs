//! Capture files: every text message a venue source received, with its receipt time, for
//! `hypertick replay` (a source's `record = "dir"`).
//!
//! A capture file is NDJSON, plain or zstd-compressed: a header line
//! `{"capture":1,"source":"binance","kind":"binance","started_at":…}`, then one line
//! per event: `{"at":<µs since the epoch>,"connected":true}` when a connection opened
//! (replay subscribes the adapter again there, as the connector did) and
//! `{"at":<µs>,"frame":"<the message text>"}` for each text message, and
//! `{"at":<µs>,"fetch":{"tag":…,"path":…,"weight":…},"body":"<the answer>"}` (or
//! `"error":{…}` in place of `body`) for each REST fetch that ended, at its place among
//! the messages, so a replay hands it to the adapter where the live source did (files
//! written before fetches existed simply have no such line). JSON escaping
//! keeps any message on one line. A source starts a new file once the current one
//! holds `record_rotate_bytes` or is `record_rotate_secs` old; file names
//! (`<source>-<UTC start>-<n>.ndjson[.zst]`) sort in time order. Recording never
//! stops a feed: a failed write is logged and the file is reopened a little later.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::fetch::{Fetch, FetchError};
use crate::config::SourceConfig;
use crate::record::Timestamp;

/// The capture format's version, in each header.
const CAPTURE_VERSION: u32 = 1;
/// Buffered frames reach the file at least this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// After a failed write, recording resumes (in a new file) this much later.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// A capture file's first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureHeader {
    pub capture: u32,
    /// The `[[sources]]` name that recorded it.
    pub source: String,
    /// Its adapter kind.
    pub kind: String,
    pub started_at: i64,
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureEntry {
    Connected {
        at: Timestamp,
    },
    Frame {
        at: Timestamp,
        text: String,
    },
    /// A REST fetch ended: its body or its final failure.
    Fetched {
        at: Timestamp,
        fetch: Fetch,
        outcome: Result<String, FetchError>,
    },
}

#[derive(Serialize)]
struct FetchedLine<'a> {
    at: i64,
    fetch: &'a Fetch,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a FetchError>,
}

#[derive(Serialize)]
struct FrameLine<'a> {
    at: i64,
    frame: &'a str,
}

#[derive(Serialize)]
struct ConnectedLine {
    at: i64,
    connected: bool,
}

#[derive(Deserialize)]
struct EntryLine {
    at: i64,
    #[serde(default)]
    frame: Option<String>,
    #[serde(default)]
    connected: bool,
    #[serde(default)]
    fetch: Option<Fetch>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    error: Option<FetchError>,
}

struct OpenCapture {
    /// Only ever used through `&mut`: the mutex makes the source `Sync` for free.
    out: std::sync::Mutex<Box<dyn Write + Send>>,
    path: PathBuf,
    written: u64,
    opened: Instant,
    flushed: Instant,
}

/// Writes one source's capture files.
pub struct CaptureWriter {
    dir: PathBuf,
    source: String,
    kind: &'static str,
    rotate_bytes: u64,
    rotate_after: Duration,
    zstd: bool,
    file: Option<OpenCapture>,
    sequence: u64,
    paused_until: Option<Instant>,
}

impl CaptureWriter {
    /// The writer of a source with `record` set.
    pub fn new(config: &SourceConfig) -> Option<CaptureWriter> {
        let dir = config.record.clone()?;
        Some(CaptureWriter {
            dir,
            source: config.name(),
            kind: config.kind.name(),
            rotate_bytes: config.record_rotate_bytes,
            rotate_after: Duration::from_secs(config.record_rotate_secs.get()),
            zstd: config.record_zstd,
            file: None,
            sequence: 0,
            paused_until: None,
        })
    }

    pub fn connected(&mut self, at: Timestamp) {
        self.write(&ConnectedLine { at: at.micros(), connected: true });
    }

    pub fn frame(&mut self, at: Timestamp, text: &str) {
        self.write(&FrameLine { at: at.micros(), frame: text });
    }

    pub fn fetched(&mut self, at: Timestamp, fetch: &Fetch, outcome: Result<&str, &FetchError>) {
        let (body, error) = match outcome {
            Ok(body) => (Some(body), None),
            Err(error) => (None, Some(error)),
        };
        self.write(&FetchedLine { at: at.micros(), fetch, body, error });
    }

    /// Pushes buffered lines to the file if the last flush is a while ago.
    pub fn flush_if_due(&mut self) {
        if self.file.as_ref().is_some_and(|file| file.flushed.elapsed() >= FLUSH_EVERY) {
            self.flush();
        }
    }

    /// Finishes the current file (a later event opens a new one).
    pub fn close(&mut self) {
        self.flush();
        self.file = None;
    }

    /// Pushes buffered lines to the file.
    pub fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            file.flushed = Instant::now();
            if let Err(error) = writer(&mut file.out).flush() {
                let path = file.path.clone();
                self.failed(&path, &error);
            }
        }
    }

    fn write(&mut self, line: &impl Serialize) {
        if self.paused_until.is_some_and(|until| Instant::now() < until) {
            return;
        }
        let due = self.file.as_ref().is_some_and(|file| file.written >= self.rotate_bytes || file.opened.elapsed() >= self.rotate_after);
        if due {
            self.close();
        }
        if self.file.is_none() {
            match self.open() {
                Ok(file) => self.file = Some(file),
                Err((path, error)) => return self.failed(&path, &error),
            }
        }
        let Some(file) = &mut self.file else { return };
        let mut text = match serde_json::to_vec(line) {
            Ok(text) => text,
            Err(error) => return tracing::warn!(source = %self.source, %error, "capture line not written"),
        };
        text.push(b'\n');
        match writer(&mut file.out).write_all(&text) {
            Ok(()) => file.written += text.len() as u64,
            Err(error) => {
                let path = file.path.clone();
                return self.failed(&path, &error);
            }
        }
        self.flush_if_due();
    }

    fn open(&mut self) -> Result<OpenCapture, (PathBuf, std::io::Error)> {
        std::fs::create_dir_all(&self.dir).map_err(|error| (self.dir.clone(), error))?;
        let started = chrono::Utc::now();
        let safe_name: String =
            self.source.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        let suffix = if self.zstd { "ndjson.zst" } else { "ndjson" };
        loop {
            self.sequence += 1;
            let name = format!("{safe_name}-{}-{:04}.{suffix}", started.format("%Y%m%dT%H%M%SZ"), self.sequence);
            let path = self.dir.join(name);
            let file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err((path, error)),
            };
            let buffered = BufWriter::with_capacity(64 << 10, file);
            let mut out: Box<dyn Write + Send> = if self.zstd {
                let encoder = zstd::stream::write::Encoder::new(buffered, 3).map_err(|error| (path.clone(), error))?;
                Box::new(encoder.auto_finish())
            } else {
                Box::new(buffered)
            };
            let header = CaptureHeader {
                capture: CAPTURE_VERSION,
                source: self.source.clone(),
                kind: self.kind.to_string(),
                started_at: Timestamp::now().micros(),
            };
            let mut text = serde_json::to_vec(&header).map_err(|error| (path.clone(), std::io::Error::other(error)))?;
            text.push(b'\n');
            out.write_all(&text).map_err(|error| (path.clone(), error))?;
            tracing::info!(source = %self.source, path = %path.display(), "recording to a new capture file");
            let now = Instant::now();
            return Ok(OpenCapture { out: std::sync::Mutex::new(out), path, written: text.len() as u64, opened: now, flushed: now });
        }
    }

    fn failed(&mut self, path: &Path, error: &std::io::Error) {
        tracing::warn!(source = %self.source, path = %path.display(), %error, "capture file not written; recording pauses for 10 s");
        self.file = None;
        self.paused_until = Some(Instant::now() + RETRY_AFTER);
    }
}

fn writer(out: &mut std::sync::Mutex<Box<dyn Write + Send>>) -> &mut (dyn Write + Send) {
    out.get_mut().unwrap_or_else(|poison| poison.into_inner()).as_mut()
}

/// Reads a capture file back.
pub struct CaptureReader {
    lines: Box<dyn BufRead + Send>,
    pub path: PathBuf,
    line_number: u64,
}

/// A capture file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {detail}", path.display())]
pub struct CaptureError {
    pub path: PathBuf,
    pub detail: String,
}

impl CaptureReader {
    /// Opens a capture file (plain or zstd) and reads its header.
    pub fn open(path: &Path) -> Result<(CaptureHeader, CaptureReader), CaptureError> {
        let failed = |detail: String| CaptureError { path: path.to_path_buf(), detail };
        let mut magic = [0u8; 4];
        let mut file = File::open(path).map_err(|error| failed(error.to_string()))?;
        let is_zstd = std::io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == [0x28, 0xb5, 0x2f, 0xfd];
        let file = File::open(path).map_err(|error| failed(error.to_string()))?;
        let lines: Box<dyn BufRead + Send> = if is_zstd {
            let decoder = zstd::stream::read::Decoder::new(file).map_err(|error| failed(error.to_string()))?;
            Box::new(BufReader::with_capacity(1 << 20, decoder))
        } else {
            Box::new(BufReader::with_capacity(1 << 20, file))
        };
        let mut reader = CaptureReader { lines, path: path.to_path_buf(), line_number: 0 };
        let first = match reader.next_line() {
            Some(Ok(line)) => line,
            Some(Err(error)) => return Err(error),
            None => return Err(failed("empty: not a capture file".into())),
        };
        let header: CaptureHeader =
            serde_json::from_str(&first).map_err(|error| failed(format!("not a capture file (its first line: {error})")))?;
        if header.capture != CAPTURE_VERSION {
            return Err(failed(format!("capture format {} is not known; expected {CAPTURE_VERSION}", header.capture)));
        }
        Ok((header, reader))
    }

    fn next_line(&mut self) -> Option<Result<String, CaptureError>> {
        let mut line = String::new();
        self.line_number += 1;
        match self.lines.read_line(&mut line) {
            Ok(0) => None,
            // A file cut short (the recording process was killed) ends at its last whole line.
            Ok(_) if !line.ends_with('\n') => None,
            Ok(_) => Some(Ok(line)),
            Err(error) => Some(Err(CaptureError { path: self.path.clone(), detail: format!("line {}: {error}", self.line_number) })),
        }
    }

    /// The next event; `None` at the end of the file.
    pub fn next_entry(&mut self) -> Option<Result<CaptureEntry, CaptureError>> {
        let line = match self.next_line()? {
            Ok(line) => line,
            Err(error) => return Some(Err(error)),
        };
        let parsed: EntryLine = match serde_json::from_str(&line) {
            Ok(parsed) => parsed,
            Err(error) => {
                return Some(Err(CaptureError { path: self.path.clone(), detail: format!("line {}: {error}", self.line_number) }))
            }
        };
        let at = Timestamp(parsed.at);
        Some(Ok(match (parsed.frame, parsed.fetch) {
            (Some(text), _) => CaptureEntry::Frame { at, text },
            (None, Some(fetch)) => {
                let outcome = match (parsed.body, parsed.error) {
                    (Some(body), _) => Ok(body),
                    (None, Some(error)) => Err(error),
                    (None, None) => {
                        return Some(Err(CaptureError {
                            path: self.path.clone(),
                            detail: format!("line {}: a fetch with neither a body nor an error", self.line_number),
                        }))
                    }
                };
                CaptureEntry::Fetched { at, fetch, outcome }
            }
            (None, None) if parsed.connected => CaptureEntry::Connected { at },
            (None, None) => {
                return Some(Err(CaptureError {
                    path: self.path.clone(),
                    detail: format!("line {}: neither a frame nor a connection", self.line_number),
                }))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, zstd: bool, rotate_bytes: u64) -> SourceConfig {
        let text = format!(
            "kind = \"binance\"\nname = \"spot 1\"\nsymbols = [\"BTCUSDT\"]\nchannels = [\"trades\"]\nrecord = \"{}\"\nrecord_zstd = {zstd}\nrecord_rotate_bytes = {rotate_bytes}\n",
            dir.display()
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn frames_round_trip_and_files_rotate() {
        for zstd in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut writer = CaptureWriter::new(&source(dir.path(), zstd, 64 * 1024)).unwrap();
            writer.connected(Timestamp(1));
            let odd = "line\nbreak \"quoted\" \u{2603} \\";
            for index in 0..2_000 {
                writer.frame(Timestamp(10 + index), &format!("{odd} {index} {}", "x".repeat(100)));
            }
            writer.close();
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().path()).collect();
            paths.sort();
            assert!(paths.len() >= 3, "rotated by size: {paths:?}");
            assert!(paths[0].file_name().unwrap().to_str().unwrap().starts_with("spot_1-"));
            let mut entries = Vec::new();
            for path in &paths {
                let (header, mut reader) = CaptureReader::open(path).unwrap();
                assert_eq!((header.source.as_str(), header.kind.as_str()), ("spot 1", "binance"));
                while let Some(entry) = reader.next_entry() {
                    entries.push(entry.unwrap());
                }
            }
            assert_eq!(entries.len(), 2_001);
            assert_eq!(entries[0], CaptureEntry::Connected { at: Timestamp(1) });
            assert_eq!(entries[2_000], CaptureEntry::Frame { at: Timestamp(2_009), text: format!("{odd} 1999 {}", "x".repeat(100)) });
        }
    }

    #[test]
    fn fetches_round_trip_and_old_files_read_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = CaptureWriter::new(&source(dir.path(), false, 1 << 20)).unwrap();
        let fetch = Fetch::get("BTCUSDT", "/api/v3/depth?symbol=BTCUSDT&limit=1000", 50);
        writer.frame(Timestamp(1), "a");
        writer.fetched(Timestamp(2), &fetch, Ok("{\"lastUpdateId\":5}"));
        let refused = FetchError::Status { status: 400, body: "no such symbol".into() };
        writer.fetched(Timestamp(3), &fetch, Err(&refused));
        writer.close();
        let path = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let (_, mut reader) = CaptureReader::open(&path).unwrap();
        let entries: Vec<CaptureEntry> = std::iter::from_fn(|| reader.next_entry()).map(Result::unwrap).collect();
        assert_eq!(
            entries,
            [
                CaptureEntry::Frame { at: Timestamp(1), text: "a".into() },
                CaptureEntry::Fetched { at: Timestamp(2), fetch: fetch.clone(), outcome: Ok("{\"lastUpdateId\":5}".into()) },
                CaptureEntry::Fetched { at: Timestamp(3), fetch, outcome: Err(refused) },
            ]
        );
    }

    #[test]
    fn a_file_cut_short_ends_at_its_last_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.ndjson");
        std::fs::write(
            &path,
            "{\"capture\":1,\"source\":\"s\",\"kind\":\"okx\",\"started_at\":0}\n{\"at\":5,\"frame\":\"a\"}\n{\"at\":6,\"fra",
        )
        .unwrap();
        let (_, mut reader) = CaptureReader::open(&path).unwrap();
        assert_eq!(reader.next_entry().unwrap().unwrap(), CaptureEntry::Frame { at: Timestamp(5), text: "a".into() });
        assert!(reader.next_entry().is_none());
    }
}
