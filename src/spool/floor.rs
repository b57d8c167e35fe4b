//! Each stream's committed floor, kept beside the segments in `committed`: a sequence at
//! or below which the database holds every entry of the stream. It is raised when the
//! spool opens with what the database committed and before any committed segment is
//! deleted, so it always covers the deleted segments. That is what lets the spool open
//! while the database is unreachable (`Spool::open_offline`): the floor stands in for the
//! database's ranges (a stale but true lower bound), and new sequences start above every
//! sequence the files or the floor know of.
//!
//! The file is a line `stream sequence` per stream, replaced whole (written aside,
//! fsynced, renamed, the folder fsynced), so a crash leaves the old or the new one.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "committed";

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The floors as last written; `None` when the file does not exist. A line that does
/// not parse is an error: guessing a floor could reuse sequences.
pub fn read(dir: &Path) -> io::Result<Option<HashMap<u16, u64>>> {
    let text = match std::fs::read_to_string(path(dir)) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut floors = HashMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let parsed = line
            .split_once(' ')
            .and_then(|(stream, sequence)| Some((stream.parse::<u16>().ok()?, sequence.trim().parse::<u64>().ok()?)));
        let Some((stream, sequence)) = parsed else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: unreadable line {line:?}", path(dir).display())));
        };
        floors.insert(stream, sequence);
    }
    Ok(Some(floors))
}

/// Replaces the file with `floors`.
pub fn write(dir: &Path, floors: &HashMap<u16, u64>) -> io::Result<()> {
    let mut lines: Vec<(u16, u64)> = floors.iter().map(|(stream, sequence)| (*stream, *sequence)).collect();
    lines.sort_unstable();
    let text: String = lines.iter().map(|(stream, sequence)| format!("{stream} {sequence}\n")).collect();
    let temporary = dir.join(format!("{FILE_NAME}.tmp"));
    let mut file = File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path(dir))?;
    File::open(dir)?.sync_all()
}

/// Raises each stream's floor in `floors` to its sequence in `committed`.
pub fn raise(floors: &mut HashMap<u16, u64>, committed: impl IntoIterator<Item = (u16, u64)>) -> bool {
    let mut changed = false;
    for (stream, sequence) in committed {
        let floor = floors.entry(stream).or_insert(0);
        if sequence > *floor {
            *floor = sequence;
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_round_trip_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let floors = HashMap::from([(0u16, 40u64), (3, 7)]);
        write(dir.path(), &floors).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(floors));
        std::fs::write(path(dir.path()), "0 forty\n").unwrap();
        assert!(read(dir.path()).is_err());
    }
}
