//! Each stream's committed floor, kept beside the segments in `committed`: a sequence at
//! or below which the database holds every entry of the stream. It is raised when the
//! spool opens with what the database committed and before any committed segment is
//! deleted, so it always covers the deleted segments. That is what lets the spool open
//! while the database is unreachable (`Spool::open_offline`): the floor stands in for the
//! database's ranges (a stale but true lower bound), and new sequences start above every
//! sequence the files or the floor know of.
//!
//! It also keeps the sequences an offline open set aside (`skip stream first last`)
//! until the floor passes them: they hold no entry, so a later open must not take them
//! for lost records, and they are marked committed once the database answers.
//!
//! The file is a line `stream sequence` per stream, replaced whole (written aside,
//! fsynced, renamed, the folder fsynced), so a crash leaves the old or the new one.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Skipped;

const FILE_NAME: &str = "committed";

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Floors {
    pub floors: HashMap<u16, u64>,
    pub skipped: Vec<Skipped>,
}

/// The floors as last written; `None` when the file does not exist. A line that does
/// not parse is an error: guessing a floor could reuse sequences.
pub fn read(dir: &Path) -> io::Result<Option<Floors>> {
    let text = match std::fs::read_to_string(path(dir)) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut floors = Floors::default();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(skip) = line.strip_prefix("skip ") {
            let numbers: Vec<u64> = skip.split(' ').filter_map(|number| number.parse().ok()).collect();
            match numbers[..] {
                [stream, first, last] if stream <= u64::from(u16::MAX) && first <= last => {
                    floors.skipped.push(Skipped { stream: stream as u16, first, last });
                    continue;
                }
                _ => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: unreadable line {line:?}", path(dir).display()))),
            }
        }
        let parsed =
            line.split_once(' ').and_then(|(stream, sequence)| Some((stream.parse::<u16>().ok()?, sequence.trim().parse::<u64>().ok()?)));
        let Some((stream, sequence)) = parsed else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: unreadable line {line:?}", path(dir).display())));
        };
        floors.floors.insert(stream, sequence);
    }
    Ok(Some(floors))
}

/// Replaces the file with `floors`, less the skipped sequences the floor has passed.
pub fn write(dir: &Path, floors: &mut Floors) -> io::Result<()> {
    let passed = |skip: &Skipped| floors.floors.get(&skip.stream).is_some_and(|floor| *floor >= skip.last);
    let kept: Vec<Skipped> = floors.skipped.iter().copied().filter(|skip| !passed(skip)).collect();
    floors.skipped = kept;
    let mut lines: Vec<(u16, u64)> = floors.floors.iter().map(|(stream, sequence)| (*stream, *sequence)).collect();
    lines.sort_unstable();
    let mut text: String = lines.iter().map(|(stream, sequence)| format!("{stream} {sequence}\n")).collect();
    for skip in &floors.skipped {
        text.push_str(&format!("skip {} {} {}\n", skip.stream, skip.first, skip.last));
    }
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
        let mut floors = Floors {
            floors: HashMap::from([(0u16, 40u64), (3, 7)]),
            skipped: vec![Skipped { stream: 0, first: 41, last: 90 }, Skipped { stream: 3, first: 2, last: 5 }],
        };
        write(dir.path(), &mut floors).unwrap();
        assert_eq!(floors.skipped.len(), 1, "a skip below the floor is dropped");
        assert_eq!(read(dir.path()).unwrap(), Some(floors));
        std::fs::write(path(dir.path()), "0 forty\n").unwrap();
        assert!(read(dir.path()).is_err());
    }
}
