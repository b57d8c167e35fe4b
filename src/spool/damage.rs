//! Damage found when the spool opens. Only the last segment can end in a torn tail (a
//! crash while appending); damage anywhere else is kept aside untouched in `damaged/`,
//! the segment is rewritten with every intact entry, and what was lost is worked out
//! from the sequences: each stream's sequences are consecutive in the log, so one that
//! is neither in the spool nor committed is lost. Those losses are handed to the caller
//! to report and mark done, so that the committed watermark moves past them.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::segment::{self, Scan};
use super::CommitTracker;

/// The folder (inside the spool's) where damaged segments are kept.
pub const DAMAGED_DIR: &str = "damaged";

/// A damaged segment found on open.
#[derive(Debug, Clone)]
pub struct Damage {
    /// The segment's file name.
    pub segment: String,
    /// Where the segment as found is kept.
    pub kept_as: PathBuf,
    /// Byte ranges `[start, end)` that held no intact entry.
    pub ranges: Vec<(u64, u64)>,
}

impl Damage {
    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|(start, end)| end - start).sum()
    }

    fn describe(&self) -> String {
        let ranges: Vec<String> = self.ranges.iter().map(|(start, end)| format!("{start}..{end}")).collect();
        format!("segment {} bytes {} damaged (kept as {})", self.segment, ranges.join(", "), self.kept_as.display())
    }
}

/// Records the spool could not give back: to be reported once and counted as done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// The stream the lost sequences belong to; `None` when damage was found but which
    /// sequences it held is not known (a stream's newest entries leave no gap behind).
    pub stream: Option<u16>,
    /// The lost sequences, inclusive ranges.
    pub ranges: Vec<(u64, u64)>,
    /// What was lost and where, for the dead letter.
    pub detail: String,
}

impl Loss {
    pub fn records(&self) -> u64 {
        self.ranges.iter().map(|(first, last)| last - first + 1).sum()
    }
}

/// Keeps the segment `id` as found in `damaged/` (a hard link, or a copy where links
/// are not supported) and replaces it with a file holding only its intact entries.
/// The replacement is written aside and renamed, so a crash leaves either file whole.
pub fn set_aside(dir: &Path, id: u64, bytes: &[u8], scan: &Scan) -> io::Result<PathBuf> {
    let damaged_dir = dir.join(DAMAGED_DIR);
    std::fs::create_dir_all(&damaged_dir)?;
    let name = segment::file_name(id);
    // A segment damaged again after an earlier repair gets a numbered name: nothing kept is overwritten.
    let kept = (0..)
        .map(|attempt| if attempt == 0 { damaged_dir.join(&name) } else { damaged_dir.join(format!("{name}.{attempt}")) })
        .find(|candidate| !candidate.exists())
        .unwrap_or_else(|| damaged_dir.join(format!("{name}.last")));
    let path = segment::path(dir, id);
    if std::fs::hard_link(&path, &kept).is_err() {
        let mut copy = File::create(&kept)?;
        copy.write_all(bytes)?;
        copy.sync_all()?;
    }
    File::open(&damaged_dir)?.sync_all()?;

    let mut clean = Vec::with_capacity(bytes.len());
    clean.extend_from_slice(segment::MAGIC);
    for entry in &scan.entries {
        clean.extend_from_slice(bytes.get(entry.offset..entry.end()).unwrap_or_default());
    }
    let temporary = temporary_path(dir, id);
    let mut file = OpenOptions::new().create(true).write(true).truncate(true).open(&temporary)?;
    file.write_all(&clean)?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    File::open(dir)?.sync_all()?;
    Ok(kept)
}

/// Where a segment's replacement is written before it is renamed into place.
pub fn temporary_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{}.tmp", segment::file_name(id)))
}

/// Sequences of a stream missing from the log, with the damage (indices into the
/// damaged segments found) their entries were in.
struct Gap {
    stream: u16,
    ranges: Vec<(u64, u64)>,
    causes: Range<usize>,
}

/// Finds the sequences missing from the log while its entries are visited in order.
pub struct GapFinder<'a> {
    committed: &'a HashMap<u16, CommitTracker>,
    /// Per stream: the highest sequence seen, and how many damaged ranges had been
    /// found when it was seen (the ones after it are where a later gap's entries were).
    last: HashMap<u16, (u64, usize)>,
    gaps: Vec<Gap>,
}

impl<'a> GapFinder<'a> {
    pub fn new(committed: &'a HashMap<u16, CommitTracker>) -> Self {
        GapFinder { committed, last: HashMap::new(), gaps: Vec::new() }
    }

    /// One entry of `stream`, with the number of damaged ranges found so far.
    pub fn observe(&mut self, stream: u16, sequence: u64, damage_seen: usize) {
        let (previous, since) = self.previous(stream);
        if sequence > previous.saturating_add(1) {
            self.missing(stream, previous + 1, sequence - 1, since..damage_seen);
        }
        if sequence > previous {
            self.last.insert(stream, (sequence, damage_seen));
        }
    }

    /// After the last entry: sequences below one the database committed out of order
    /// but missing from the log are lost too.
    pub fn finish(mut self, damage: &[Damage]) -> Vec<Loss> {
        let streams: Vec<u16> = self.committed.keys().copied().collect();
        for stream in streams {
            let highest = self.committed.get(&stream).map_or(0, CommitTracker::highest);
            let (previous, since) = self.previous(stream);
            if highest > previous.saturating_add(1) {
                self.missing(stream, previous + 1, highest - 1, since..damage.len());
            }
        }
        let mut explained = vec![false; damage.len()];
        let mut losses = Vec::new();
        for Gap { stream, ranges, causes } in self.gaps {
            let mut detail = format!("spool stream {stream}: sequences {} lost", format_ranges(&ranges));
            let described: Vec<String> = damage.get(causes.clone()).unwrap_or_default().iter().map(Damage::describe).collect();
            if described.is_empty() {
                detail.push_str(" (missing from the spool: damaged and set aside earlier, or never written)");
            } else {
                detail.push_str(&format!(": {}", described.join("; ")));
            }
            for flag in explained.get_mut(causes).into_iter().flatten() {
                *flag = true;
            }
            losses.push(Loss { stream: Some(stream), ranges, detail });
        }
        for (index, found) in damage.iter().enumerate() {
            if !explained.get(index).copied().unwrap_or(false) {
                let detail = format!("{}: which sequences it held is not known (none, or a stream's newest)", found.describe());
                losses.push(Loss { stream: None, ranges: Vec::new(), detail });
            }
        }
        losses
    }

    fn previous(&self, stream: u16) -> (u64, usize) {
        self.last.get(&stream).copied().unwrap_or((self.committed.get(&stream).map_or(0, CommitTracker::watermark), 0))
    }

    /// Records `first..=last` of `stream` less what the database committed.
    fn missing(&mut self, stream: u16, first: u64, last: u64, causes: Range<usize>) {
        let ranges = match self.committed.get(&stream) {
            Some(tracker) => uncommitted(tracker, first, last),
            None => vec![(first, last)],
        };
        if !ranges.is_empty() {
            self.gaps.push(Gap { stream, ranges, causes });
        }
    }
}

/// The parts of `first..=last` the tracker does not hold as committed.
fn uncommitted(tracker: &CommitTracker, first: u64, last: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let mut from = first.max(tracker.watermark().saturating_add(1));
    for (start, end) in tracker.ranges() {
        if from > last || start > last {
            break;
        }
        if end < from {
            continue;
        }
        if start > from {
            ranges.push((from, start - 1));
        }
        from = end.saturating_add(1);
    }
    if from <= last {
        ranges.push((from, last));
    }
    ranges
}

fn format_ranges(ranges: &[(u64, u64)]) -> String {
    let parts: Vec<String> =
        ranges.iter().map(|(first, last)| if first == last { first.to_string() } else { format!("{first}..={last}") }).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_subtracts_the_trackers_ranges() {
        let mut tracker = CommitTracker::new(10);
        tracker.commit(15, 16);
        tracker.commit(20, 25);
        assert_eq!(uncommitted(&tracker, 5, 30), [(11, 14), (17, 19), (26, 30)]);
        assert_eq!(uncommitted(&tracker, 15, 16), []);
        assert_eq!(uncommitted(&tracker, 16, 21), [(17, 19)]);
    }
}
