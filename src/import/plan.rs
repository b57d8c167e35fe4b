//! What is left to import of each file, from what `ingest_offsets` says is committed.
//!
//! A file is known by its absolute path and its content (size, and a hash of its
//! first MiB and last 64 KiB). Each committed chunk is one row
//! `import/<table>/<path>@<size>-<hash>/<start>` whose position is the chunk's end:
//! byte offsets for plain files, line numbers for compressed ones (read in order).
//! A file wholly imported also has `…/done`. What remains are the gaps between
//! committed chunks, cut anew into chunks at line boundaries; so a re-run, even with
//! another chunk size, sends exactly the lines not yet committed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tokio_postgres::Client;

use crate::record::Table;
use crate::source::file::{compression_of, open_decoded, read_header, Compression, FileError, FileFormat, Header};

/// Bytes hashed at the head and at the tail of a file for its identity.
const HEAD_BYTES: u64 = 1 << 20;
const TAIL_BYTES: u64 = 64 << 10;

/// One file of an import, as planned.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// The path as given, for messages and dead letters.
    pub shown: String,
    pub path: PathBuf,
    pub format: FileFormat,
    pub compression: Compression,
    pub size: u64,
    /// `import/<table>/<path>@<content>/`: each chunk's stream is this and its start.
    pub stream_prefix: String,
    /// The CSV header.
    pub header: Option<Header>,
    /// Where rows begin: a byte offset (plain) or a line index (compressed).
    pub data_start: u64,
    /// Committed `[start, end)` ranges, sorted.
    pub committed: Vec<(u64, u64)>,
    /// The file was wholly imported before.
    pub done: bool,
}

/// A file whose content differs from what was imported under its path.
#[derive(Debug, thiserror::Error)]
#[error(
    "{shown} changed since it was imported into {table} (then {then}, now {now}); importing it again \
     would store the rows it still shares twice. Import only the new part, or pass --allow-changed \
     to import it as a new file"
)]
pub struct FileChanged {
    pub shown: String,
    pub table: Table,
    pub then: String,
    pub now: String,
}

impl FilePlan {
    /// Reads what identifies a file and its header (no database yet).
    pub fn open(shown: &Path, table: Table, format: FileFormat, delimiter: u8) -> Result<FilePlan, FileError> {
        let io = |source| FileError::Io { path: shown.to_path_buf(), source };
        let path = std::fs::canonicalize(shown).map_err(io)?;
        let mut file = File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut hasher = crc32fast::Hasher::new();
        let mut head = Vec::new();
        (&mut file).take(HEAD_BYTES).read_to_end(&mut head).map_err(io)?;
        hasher.update(&head);
        let head_hash = hasher.finalize();
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(size.saturating_sub(TAIL_BYTES))).map_err(io)?;
        file.take(TAIL_BYTES).read_to_end(&mut tail).map_err(io)?;
        let tail_hash = crc32fast::hash(&tail);
        let compression = compression_of(&path)?;
        let header = match format {
            FileFormat::Csv => {
                let mut reader = open_decoded(&path, compression, Default::default())?;
                Some(read_header(&mut reader, delimiter, shown)?)
            }
            FileFormat::Ndjson => None,
        };
        let data_start = match (&header, compression) {
            (None, _) => 0,
            (Some(header), Compression::None) => header.bytes,
            (Some(_), _) => 1,
        };
        let stream_prefix = format!("import/{}/{}@{}/", table.name(), path.display(), content_key(size, head_hash, tail_hash));
        Ok(FilePlan {
            shown: shown.display().to_string(),
            path,
            format,
            compression,
            size,
            stream_prefix,
            header,
            data_start,
            committed: Vec::new(),
            done: false,
        })
    }

    /// Reads the committed chunks of this file; refuses a file whose content changed
    /// since it was imported under the same path, unless `allow_changed`.
    pub async fn load_committed(&mut self, client: &Client, table: Table, allow_changed: bool) -> anyhow::Result<()> {
        let path_prefix = format!("import/{}/{}@", table.name(), self.path.display());
        let rows = client.query("SELECT stream, position FROM ingest_offsets WHERE starts_with(stream, $1)", &[&path_prefix]).await?;
        let mut other_content = None;
        for row in rows {
            let stream: String = row.get(0);
            let position: i64 = row.get(1);
            let Some(rest) = stream.strip_prefix(&self.stream_prefix) else {
                other_content = stream[path_prefix.len()..].split('/').next().map(str::to_string);
                continue;
            };
            if rest == "done" {
                self.done = true;
            } else if let Ok(start) = rest.parse::<u64>() {
                self.committed.push((start, position as u64));
            }
        }
        self.committed.sort_unstable();
        if let (Some(then), false) = (other_content, allow_changed) {
            let now = self.stream_prefix[path_prefix.len()..].trim_end_matches('/').to_string();
            return Err(FileChanged { shown: self.shown.clone(), table, then: describe(&then), now: describe(&now) }.into());
        }
        Ok(())
    }

    /// Byte ranges still to import of a plain file, cut at line boundaries into
    /// chunks of about `chunk_bytes`.
    pub fn plain_chunks(&self, chunk_bytes: u64) -> std::io::Result<Vec<(u64, u64)>> {
        let file = File::open(&self.path)?;
        let mut chunks = Vec::new();
        for (gap_start, gap_end) in gaps(&self.committed, self.data_start, Some(self.size)) {
            let mut start = gap_start;
            while start < gap_end {
                let end = line_end_at_or_after(&file, start + chunk_bytes, gap_end)?;
                chunks.push((start, end));
                start = end;
            }
        }
        Ok(chunks)
    }

    /// The stream name of the chunk starting at `start`.
    pub fn chunk_stream(&self, start: u64) -> String {
        format!("{}{start}", self.stream_prefix)
    }

    pub fn done_stream(&self) -> String {
        format!("{}done", self.stream_prefix)
    }
}

fn content_key(size: u64, head_hash: u32, tail_hash: u32) -> String {
    format!("{size}-{head_hash:08x}{tail_hash:08x}")
}

fn describe(content_key: &str) -> String {
    match content_key.split_once('-') {
        Some((size, hash)) => format!("{size} bytes, hash {hash}"),
        None => content_key.to_string(),
    }
}

/// The parts of `[start, end)` (`end` None: unbounded) no committed range covers.
pub fn gaps(committed: &[(u64, u64)], start: u64, end: Option<u64>) -> Vec<(u64, u64)> {
    let mut gaps = Vec::new();
    let mut at = start;
    for &(from, to) in committed {
        if end.is_some_and(|end| from >= end) {
            break;
        }
        if from > at {
            gaps.push((at, from));
        }
        at = at.max(to);
    }
    match end {
        Some(end) if at < end => gaps.push((at, end)),
        None => gaps.push((at, u64::MAX)),
        _ => {}
    }
    gaps
}

/// The offset just past the first line break at or after `target - 1`, or `limit`.
fn line_end_at_or_after(file: &File, target: u64, limit: u64) -> std::io::Result<u64> {
    if target >= limit {
        return Ok(limit);
    }
    let mut buffer = vec![0u8; 64 << 10];
    let mut at = target - 1;
    while at < limit {
        let wanted = buffer.len().min((limit - at) as usize);
        let read = file.read_at(&mut buffer[..wanted], at)?;
        if read == 0 {
            return Ok(limit);
        }
        if let Some(index) = buffer[..read].iter().position(|byte| *byte == b'\n') {
            return Ok(at + index as u64 + 1);
        }
        at += read as u64;
    }
    Ok(limit)
}

/// Line breaks in the first `offset` bytes of a plain file: the line number of the
/// line starting at `offset` is this plus one.
pub fn lines_before(path: &Path, offset: u64) -> std::io::Result<u64> {
    let mut file = File::open(path)?.take(offset);
    let mut buffer = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(lines);
        }
        lines += buffer[..read].iter().filter(|byte| **byte == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_committed_ranges() {
        assert_eq!(gaps(&[], 10, Some(100)), vec![(10, 100)]);
        assert_eq!(gaps(&[(10, 30), (50, 60)], 10, Some(100)), vec![(30, 50), (60, 100)]);
        assert_eq!(gaps(&[(10, 100)], 10, Some(100)), vec![]);
        assert_eq!(gaps(&[(1, 5)], 1, None), vec![(5, u64::MAX)]);
    }

    #[test]
    fn chunks_end_at_line_breaks_and_skip_what_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let body: String = (0..100).map(|index| format!("row-{index:03}\n")).collect();
        std::fs::write(&path, format!("h\n{body}")).unwrap();
        let mut plan = FilePlan::open(&path, Table::Ticks, FileFormat::Csv, b',').unwrap();
        assert_eq!((plan.data_start, plan.size), (2, 802));
        let chunks = plan.plain_chunks(20).unwrap();
        assert!(chunks.iter().all(|(start, end)| (end - start) % 8 == 0), "{chunks:?}");
        assert_eq!((chunks[0], chunks.last().unwrap().1, chunks.len()), ((2, 26), 802, 34));
        plan.committed = chunks[..3].to_vec();
        plan.committed.push(chunks[10]);
        let rest = plan.plain_chunks(1_000).unwrap();
        assert_eq!(rest, vec![(chunks[2].1, chunks[10].0), (chunks[10].1, 802)]);
        assert_eq!(lines_before(&path, chunks[1].0).unwrap(), 4);
        assert!(plan.stream_prefix.starts_with("import/ticks/") && plan.stream_prefix.ends_with('/'));
    }
}
