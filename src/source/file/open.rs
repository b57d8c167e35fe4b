//! Opening a file: its format from the name, its compression from the first bytes
//! (gzip `1f 8b`, zstd `28 b5 2f fd`), a decoding reader, and a CSV header line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Compression, FileError, FileFormat};

/// A header line longer than this is taken as a file without line breaks.
const MAX_HEADER_BYTES: usize = 1 << 20;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The format a file name says (`.csv`, `.ndjson`, `.jsonl`, `.json`, before a `.gz`
/// or `.zst` suffix), if any.
pub fn format_from_name(path: &Path) -> Option<FileFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let name = [".gz", ".gzip", ".zst", ".zstd"].iter().find_map(|suffix| name.strip_suffix(suffix)).unwrap_or(&name);
    if name.ends_with(".csv") {
        Some(FileFormat::Csv)
    } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
        Some(FileFormat::Ndjson)
    } else {
        None
    }
}

/// The compression of a file, from its first bytes.
pub fn compression_of(path: &Path) -> Result<Compression, FileError> {
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..]) {
            Ok(0) => break,
            Ok(count) => read += count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(FileError::Io { path: path.to_path_buf(), source }),
        }
    }
    Ok(match &magic[..read] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    })
}

/// Counts the (compressed) bytes read from the file, for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// The file's decoded bytes from the start; `count` grows with the bytes read from disk.
pub fn open_decoded(path: &Path, compression: Compression, count: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>, FileError> {
    let file = File::open(path).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    let counted = Counting { inner: BufReader::with_capacity(1 << 16, file), count };
    Ok(match compression {
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, counted)),
        // Multi-member: concatenated gzip files (and bgzip) decode whole.
        Compression::Gzip => Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(counted))),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(counted).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
            Box::new(BufReader::with_capacity(1 << 20, decoder))
        }
    })
}

/// A CSV header line: the column names and the bytes the line takes (with its line
/// break and a byte-order mark, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub columns: Vec<String>,
    pub bytes: u64,
}

/// Reads the first line of `reader` as a CSV header.
pub fn read_header(reader: &mut dyn BufRead, delimiter: u8, path: &Path) -> Result<Header, FileError> {
    let mut line = Vec::new();
    let mut limited = reader.take(MAX_HEADER_BYTES as u64);
    limited.read_until(b'\n', &mut line).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    let bytes = line.len() as u64;
    if line.is_empty() {
        return Err(FileError::Unreadable { path: path.to_path_buf(), detail: "empty: expected a header line naming the columns".into() });
    }
    if !line.ends_with(b"\n") && line.len() >= MAX_HEADER_BYTES {
        return Err(FileError::Unreadable { path: path.to_path_buf(), detail: "no line break in the first MiB".into() });
    }
    let text = line.strip_prefix(UTF8_BOM).unwrap_or(&line);
    let mut csv_reader = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).from_reader(text);
    let mut record = csv::StringRecord::new();
    match csv_reader.read_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            return Err(FileError::Unreadable { path: path.to_path_buf(), detail: "empty header line".into() });
        }
        Err(error) => return Err(FileError::Unreadable { path: path.to_path_buf(), detail: format!("header: {error}") }),
    }
    Ok(Header { columns: record.iter().map(|column| column.trim().to_string()).collect(), bytes })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn formats_from_names_and_compression_from_bytes() {
        assert_eq!(format_from_name(Path::new("a/trades.CSV.gz")), Some(FileFormat::Csv));
        assert_eq!(format_from_name(Path::new("q.jsonl.zst")), Some(FileFormat::Ndjson));
        assert_eq!(format_from_name(Path::new("q.txt")), None);
        let dir = tempfile::tempdir().unwrap();
        let text = "\u{FEFF}time,Price\n1,2\n";
        let plain = dir.path().join("a.csv");
        std::fs::write(&plain, text).unwrap();
        let gzip = dir.path().join("a.csv.gz");
        let mut encoder = flate2::write::GzEncoder::new(File::create(&gzip).unwrap(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        let zstd_path = dir.path().join("a.csv.zst");
        std::fs::write(&zstd_path, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
        for (path, compression) in [(plain, Compression::None), (gzip, Compression::Gzip), (zstd_path, Compression::Zstd)] {
            assert_eq!(compression_of(&path).unwrap(), compression);
            let mut reader = open_decoded(&path, compression, Arc::default()).unwrap();
            let header = read_header(&mut reader, b',', &path).unwrap();
            assert_eq!(header, Header { columns: vec!["time".into(), "Price".into()], bytes: 14 });
            let mut rest = String::new();
            reader.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "1,2\n");
        }
    }
}
