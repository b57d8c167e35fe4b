//! Opening the spool: every segment read and checked one at a time. The last segment
//! may end in a torn tail (a crash while appending), which is cut; damage anywhere else
//! is set aside (`damage.rs`) and the segment rewritten with its intact entries. What
//! the log is missing is worked out on the way and handed back as losses.

use std::collections::{HashMap, VecDeque};
use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use super::damage::{self, Damage, GapFinder};
use super::{segment, CommitTracker, Recovered, Sealed};

/// The spool's state as the files left it.
pub(super) struct Opened {
    pub sealed: VecDeque<Sealed>,
    pub next_sequence: HashMap<u16, u64>,
    pub total_bytes: u64,
}

pub(super) fn recover(dir: &Path, ids: &[u64], committed: &HashMap<u16, CommitTracker>, recovered: &mut Recovered) -> io::Result<Opened> {
    remove_stale_replacements(dir)?;
    let mut gaps = GapFinder::new(committed);
    let mut opened = Opened {
        sealed: VecDeque::new(),
        next_sequence: committed.iter().map(|(stream, tracker)| (*stream, tracker.highest() + 1)).collect(),
        total_bytes: 0,
    };
    for (index, id) in ids.iter().enumerate() {
        let path = segment::path(dir, *id);
        // One segment in memory at a time: its size is bounded by `segment_bytes` plus one entry.
        let bytes = std::fs::read(&path)?;
        let scan = segment::scan(&bytes);
        let is_last = index + 1 == ids.len();
        let damage_before = recovered.damaged.len();
        let mut first_damage = u64::MAX;
        let valid_len = match scan.damaged.first() {
            None => bytes.len() as u64,
            Some((tail_start, _)) if is_last && scan.only_a_torn_tail(bytes.len()) => {
                let cut = bytes.len() as u64 - tail_start;
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(*tail_start)?;
                file.sync_all()?;
                recovered.bytes_cut += cut;
                tracing::warn!(segment = %path.display(), bytes = cut, "spool: torn tail of the last segment cut");
                *tail_start
            }
            Some((start, _)) => {
                first_damage = *start;
                let kept_as = damage::set_aside(dir, *id, &bytes, &scan)?;
                recovered.damaged.push(Damage { segment: segment::file_name(*id), kept_as, ranges: scan.damaged.clone() });
                let entry_bytes: usize = scan.entries.iter().map(|entry| entry.end() - entry.offset).sum();
                (segment::MAGIC.len() + entry_bytes) as u64
            }
        };
        let mut last_sequences: HashMap<u16, u64> = HashMap::new();
        let mut uncommitted = false;
        for entry in &scan.entries {
            let damage_seen = damage_before + usize::from(first_damage < entry.offset as u64);
            gaps.observe(entry.stream, entry.sequence, damage_seen);
            let last = last_sequences.entry(entry.stream).or_insert(0);
            *last = (*last).max(entry.sequence);
            let next = opened.next_sequence.entry(entry.stream).or_insert(0);
            *next = (*next).max(entry.sequence + 1);
            uncommitted |= !committed.get(&entry.stream).is_some_and(|tracker| tracker.is_committed(entry.sequence));
        }
        if uncommitted {
            recovered.replay.push(*id);
        }
        opened.total_bytes += valid_len;
        opened.sealed.push_back(Sealed { id: *id, bytes: valid_len, last_sequences });
    }
    recovered.losses = gaps.finish(&recovered.damaged);
    Ok(opened)
}

/// A replacement segment left half-written by a crash: the segment it was to replace
/// is still whole, so it is set aside again.
fn remove_stale_replacements(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_replacement = name
            .to_str()
            .and_then(|name| name.strip_suffix(".tmp"))
            .and_then(segment::parse_file_name)
            .is_some_and(|id| damage::temporary_path(dir, id) == entry.path());
        if is_replacement {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
