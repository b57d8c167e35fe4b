//! One spool segment file: a magic header, then entries
//! `[payload length u32][crc32 u32][stream u16][sequence u64][payload]`, little-endian,
//! the CRC covering stream, sequence and payload. Reading stops at the first entry that
//! is incomplete or fails its CRC: everything before it is intact.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// The first bytes of every segment file.
pub const MAGIC: &[u8; 8] = b"HTSPOOL1";
/// Bytes of an entry before its payload.
pub const ENTRY_HEADER_LEN: usize = 4 + 4 + 2 + 8;
/// Longest payload accepted; anything longer is a bug or a corrupt length.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024 * 1024;

/// One record in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub stream: u16,
    pub sequence: u64,
    pub payload: Vec<u8>,
}

/// The file name of segment `id`: zero-padded so names sort in id order.
pub fn file_name(id: u64) -> String {
    format!("{id:020}.spool")
}

/// The id in a segment file name, or `None` for any other file.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".spool")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

pub fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(file_name(id))
}

/// Appends one entry's bytes to `out`.
pub fn encode_entry(stream: u16, sequence: u64, payload: &[u8], out: &mut Vec<u8>) {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&stream.to_le_bytes());
    hasher.update(&sequence.to_le_bytes());
    hasher.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(payload);
}

/// What reading a segment found.
#[derive(Debug, Default)]
pub struct ReadSegment {
    pub entries: Vec<Entry>,
    /// Bytes of the file that hold the header and intact entries.
    pub valid_len: u64,
    /// Bytes after `valid_len`: a torn or corrupt tail, to be cut.
    pub invalid_len: u64,
}

/// Reads a whole segment, stopping at the first damaged entry.
pub fn read(path: &Path) -> io::Result<ReadSegment> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    if reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
        // A file cut before its header was complete holds nothing.
        return Ok(ReadSegment { entries: Vec::new(), valid_len: 0, invalid_len: file_len });
    }
    let mut segment = ReadSegment { valid_len: MAGIC.len() as u64, ..ReadSegment::default() };
    let mut header = [0u8; ENTRY_HEADER_LEN];
    loop {
        if !read_fully(&mut reader, &mut header)? {
            break;
        }
        let length = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let stream = u16::from_le_bytes(header[8..10].try_into().expect("2 bytes"));
        let sequence = u64::from_le_bytes(header[10..18].try_into().expect("8 bytes"));
        if length > MAX_PAYLOAD_LEN {
            break;
        }
        let mut payload = vec![0u8; length];
        if !read_fully(&mut reader, &mut payload)? {
            break;
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header[8..18]);
        hasher.update(&payload);
        if hasher.finalize() != crc {
            break;
        }
        segment.valid_len += (ENTRY_HEADER_LEN + length) as u64;
        segment.entries.push(Entry { stream, sequence, payload });
    }
    segment.invalid_len = file_len - segment.valid_len;
    Ok(segment)
}

/// Visits the intact entries of a segment from byte `offset` up to byte `limit`, with
/// each entry's end offset, until `visit` returns `false` or an entry is incomplete.
pub fn read_range(path: &Path, offset: u64, limit: u64, mut visit: impl FnMut(Entry, u64) -> bool) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::with_capacity(1 << 20, file.take(limit.saturating_sub(offset)));
    let mut at = offset;
    let mut header = [0u8; ENTRY_HEADER_LEN];
    loop {
        if !read_fully(&mut reader, &mut header)? {
            return Ok(());
        }
        let length = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        if length > MAX_PAYLOAD_LEN {
            return Ok(());
        }
        let mut payload = vec![0u8; length];
        if !read_fully(&mut reader, &mut payload)? {
            return Ok(());
        }
        at += (ENTRY_HEADER_LEN + length) as u64;
        let stream = u16::from_le_bytes(header[8..10].try_into().expect("2 bytes"));
        let sequence = u64::from_le_bytes(header[10..18].try_into().expect("8 bytes"));
        if !visit(Entry { stream, sequence, payload }, at) {
            return Ok(());
        }
    }
}

/// Fills `buffer`; `false` when the input ends first.
fn read_fully(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(false),
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_by_id_and_parse_back() {
        assert_eq!(file_name(42), "00000000000000000042.spool");
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        for other in ["42.spool", "00000000000000000042.tmp", "x0000000000000000042.spool"] {
            assert_eq!(parse_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn reading_stops_at_a_torn_or_corrupt_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = MAGIC.to_vec();
        encode_entry(1, 7, b"first", &mut bytes);
        encode_entry(2, 9, b"second", &mut bytes);
        let intact = bytes.len();
        encode_entry(1, 8, b"third", &mut bytes);
        let file = dir.path().join(file_name(1));

        // Cut inside the third entry: the first two survive.
        std::fs::write(&file, &bytes[..bytes.len() - 2]).unwrap();
        let segment = read(&file).unwrap();
        assert_eq!(segment.entries.len(), 2);
        assert_eq!(segment.entries[1], Entry { stream: 2, sequence: 9, payload: b"second".to_vec() });
        assert_eq!(segment.valid_len, intact as u64);
        assert_eq!(segment.invalid_len, (bytes.len() - 2 - intact) as u64);

        // A flipped payload byte in the third entry fails its CRC.
        let mut corrupt = bytes.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        std::fs::write(&file, &corrupt).unwrap();
        assert_eq!(read(&file).unwrap().entries.len(), 2);

        // A header cut short holds nothing.
        std::fs::write(&file, &MAGIC[..3]).unwrap();
        let segment = read(&file).unwrap();
        assert!(segment.entries.is_empty());
        assert_eq!((segment.valid_len, segment.invalid_len), (0, 3));
    }
}
