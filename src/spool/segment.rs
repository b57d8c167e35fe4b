//! One spool segment file: a magic header, then entries
//! `[payload length u32][crc32 u32][stream u16][sequence u64][payload]`, little-endian,
//! the CRC covering stream, sequence and payload. A reader finds its way past a damaged
//! entry by trying each following byte as an entry start (`scan`); the format has no
//! sync marker, so old segments read the same.

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

/// One intact entry found by [`scan`]: where it starts, its payload length and its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub offset: usize,
    pub payload_len: usize,
    pub stream: u16,
    pub sequence: u64,
}

impl Located {
    pub fn end(&self) -> usize {
        self.offset + ENTRY_HEADER_LEN + self.payload_len
    }
}

/// What scanning a segment's bytes found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The intact entries, in file order.
    pub entries: Vec<Located>,
    /// Byte ranges `[start, end)` that hold no intact entry (a bad magic included), in order.
    pub damaged: Vec<(u64, u64)>,
}

impl Scan {
    /// Damage only at the end of the file, after the last intact entry: what a crash
    /// while appending leaves (a torn tail), as opposed to damage with entries after it.
    pub fn only_a_torn_tail(&self, file_len: usize) -> bool {
        match self.damaged.as_slice() {
            [] => true,
            [(start, end)] => *end == file_len as u64 && self.entries.last().map_or(0, |last| last.end() as u64) <= *start,
            _ => false,
        }
    }
}

/// The entry at `at` when one is intact there: a plausible length, a non-zero sequence
/// (sequences start at 1) and a matching CRC.
fn parse_at(bytes: &[u8], at: usize) -> Option<Located> {
    let header: &[u8; ENTRY_HEADER_LEN] = bytes.get(at..at.checked_add(ENTRY_HEADER_LEN)?)?.try_into().ok()?;
    let payload_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if payload_len > MAX_PAYLOAD_LEN {
        return None;
    }
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let stream = u16::from_le_bytes([header[8], header[9]]);
    let mut sequence_bytes = [0u8; 8];
    sequence_bytes.copy_from_slice(&header[10..18]);
    let sequence = u64::from_le_bytes(sequence_bytes);
    if sequence == 0 {
        return None;
    }
    let payload_start = at + ENTRY_HEADER_LEN;
    let payload = bytes.get(payload_start..payload_start + payload_len)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..18]);
    hasher.update(payload);
    (hasher.finalize() == crc).then_some(Located { offset: at, payload_len, stream, sequence })
}

/// Finds every intact entry of a segment's bytes. Past a damaged entry the framing is
/// found again by trying each following byte as an entry start: a false match needs a
/// plausible length and a 32-bit CRC match, and an intact entry is never skipped, so a
/// flipped or zeroed range costs only the entries it touches.
pub fn scan(bytes: &[u8]) -> Scan {
    let mut scan = Scan::default();
    let magic_ok = bytes.starts_with(MAGIC);
    let mut at = if magic_ok { MAGIC.len() } else { 0 };
    let mut damage_start: Option<usize> = (!magic_ok).then_some(0);
    while at < bytes.len() {
        match parse_at(bytes, at) {
            Some(entry) => {
                if let Some(start) = damage_start.take() {
                    scan.damaged.push((start as u64, at as u64));
                }
                at = entry.end();
                scan.entries.push(entry);
            }
            None => {
                damage_start.get_or_insert(at);
                at += 1;
            }
        }
    }
    if let Some(start) = damage_start.filter(|start| *start < bytes.len()) {
        scan.damaged.push((start as u64, bytes.len() as u64));
    }
    scan
}

/// The entry `located` in `bytes` (as found by [`scan`] on them).
pub fn entry_at(bytes: &[u8], located: &Located) -> Entry {
    let payload_start = located.offset + ENTRY_HEADER_LEN;
    Entry {
        stream: located.stream,
        sequence: located.sequence,
        payload: bytes.get(payload_start..payload_start + located.payload_len).unwrap_or_default().to_vec(),
    }
}

/// Every intact entry of the segment file at `path` (one segment in memory at a time).
pub fn read_entries(path: &Path) -> io::Result<Vec<Entry>> {
    let bytes = std::fs::read(path)?;
    let scan = scan(&bytes);
    Ok(scan.entries.iter().map(|located| entry_at(&bytes, located)).collect())
}

/// Visits the intact entries of a segment from byte `offset` up to byte `limit` until `visit` returns `false` or an entry is incomplete;
/// returns the offset to continue at. An entry that fails its CRC ends the visit at
/// `limit`: a segment damaged while the daemon runs is skipped here, and its intact
/// entries are recovered (and its losses reported) on the next start.
pub fn read_range(path: &Path, offset: u64, limit: u64, mut visit: impl FnMut(Entry) -> bool) -> io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::with_capacity(1 << 20, file.take(limit.saturating_sub(offset)));
    let mut at = offset;
    let mut header = [0u8; ENTRY_HEADER_LEN];
    loop {
        if !read_fully(&mut reader, &mut header)? {
            return Ok(at);
        }
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let mut payload = vec![0u8; length.min(MAX_PAYLOAD_LEN)];
        if length > MAX_PAYLOAD_LEN || !read_fully(&mut reader, &mut payload)? {
            return Ok(skip_damage(path, at, limit));
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header[8..18]);
        hasher.update(&payload);
        if hasher.finalize() != u32::from_le_bytes([header[4], header[5], header[6], header[7]]) {
            return Ok(skip_damage(path, at, limit));
        }
        at += (ENTRY_HEADER_LEN + length) as u64;
        let stream = u16::from_le_bytes([header[8], header[9]]);
        let mut sequence = [0u8; 8];
        sequence.copy_from_slice(&header[10..18]);
        if !visit(Entry { stream, sequence: u64::from_le_bytes(sequence), payload }) {
            return Ok(at);
        }
    }
}

fn skip_damage(path: &Path, at: u64, limit: u64) -> u64 {
    tracing::warn!(segment = %path.display(), from = at, to = limit, "spool: damaged entries skipped while reading back; recovered on the next start");
    limit
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
    fn scanning_finds_every_intact_entry_around_damage() {
        let mut bytes = MAGIC.to_vec();
        encode_entry(1, 7, b"first", &mut bytes);
        let second_start = bytes.len();
        encode_entry(2, 9, b"second", &mut bytes);
        let intact = bytes.len();
        encode_entry(1, 8, b"third", &mut bytes);

        // Cut inside the third entry: a torn tail after two intact entries.
        let torn = &bytes[..bytes.len() - 2];
        let scan_torn = scan(torn);
        assert_eq!(scan_torn.entries.len(), 2);
        assert_eq!(entry_at(torn, &scan_torn.entries[1]), Entry { stream: 2, sequence: 9, payload: b"second".to_vec() });
        assert!(scan_torn.only_a_torn_tail(torn.len()));
        assert_eq!(scan_torn.damaged, [(intact as u64, torn.len() as u64)]);

        // A flipped byte in the middle entry: the entries on both sides survive.
        let mut flipped = bytes.clone();
        flipped[second_start + ENTRY_HEADER_LEN + 2] ^= 0x01;
        let scan_flipped = scan(&flipped);
        let keys: Vec<(u16, u64)> = scan_flipped.entries.iter().map(|entry| (entry.stream, entry.sequence)).collect();
        assert_eq!(keys, [(1, 7), (1, 8)]);
        assert_eq!(scan_flipped.damaged, [(second_start as u64, intact as u64)]);
        assert!(!scan_flipped.only_a_torn_tail(flipped.len()));

        // A damaged magic costs nothing but the magic.
        let mut no_magic = bytes.clone();
        no_magic[0] = b'X';
        let scan_magic = scan(&no_magic);
        assert_eq!(scan_magic.entries.len(), 3);
        assert_eq!(scan_magic.damaged, [(0, MAGIC.len() as u64)]);

        // A header cut short holds nothing.
        let short = scan(&MAGIC[..3]);
        assert!(short.entries.is_empty());
        assert_eq!(short.damaged, [(0, 3)]);
        assert!(scan(&[]).damaged.is_empty());
    }
}
