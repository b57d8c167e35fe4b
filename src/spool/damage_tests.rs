//! Damage at random places (flipped bytes, cuts, zeroed ranges) in any segment: every
//! intact entry comes back, nothing that was not written does, every lost sequence a
//! later entry of its stream reveals is reported, damaged files are kept as found, and
//! once the recovered entries and the losses are marked committed every segment is freed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const STREAMS: u16 = 3;

#[derive(Debug, Clone)]
enum Harm {
    Flip { at: usize, bit: u8 },
    Cut { at: usize },
    Zero { at: usize, len: usize },
}

fn harm_strategy() -> impl Strategy<Value = (usize, Harm)> {
    let harm = prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Harm::Flip { at, bit }),
        any::<usize>().prop_map(|at| Harm::Cut { at }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Harm::Zero { at, len }),
    ];
    (any::<usize>(), harm)
}

fn settings(dir: &Path) -> SpoolSettings {
    SpoolSettings { dir: dir.to_path_buf(), max_bytes: 1 << 30, segment_bytes: 2048, fsync_interval: Duration::from_secs(3600) }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().and_then(|name| name.to_str()).and_then(segment::parse_file_name).is_some())
        .collect();
    files.sort();
    files
}

fn apply(bytes: &mut Vec<u8>, harm: &Harm) {
    if bytes.is_empty() {
        return;
    }
    match *harm {
        Harm::Flip { at, bit } => {
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
        }
        Harm::Cut { at } => bytes.truncate(at % bytes.len()),
        Harm::Zero { at, len } => {
            let at = at % bytes.len();
            let end = (at + len).min(bytes.len());
            bytes[at..end].fill(0);
        }
    }
}

fn run(entries: usize, watermarks: [u64; STREAMS as usize], harms: Vec<(usize, Harm)>) {
    let dir = tempfile::tempdir().unwrap();
    // The log as written: (stream, sequence) → payload, and where each entry sits.
    let mut written: HashMap<(u16, u64), Vec<u8>> = HashMap::new();
    {
        let (spool, _) = Spool::open(settings(dir.path()), &HashMap::new()).unwrap();
        for index in 0..entries {
            let stream = (index * 7 % STREAMS as usize) as u16;
            let payload = format!("{stream}:{index}:{}", "p".repeat(index % 23)).into_bytes();
            let (sequence, _) = spool.append(stream, &payload).unwrap();
            written.insert((stream, sequence), payload);
        }
        spool.sync().unwrap();
    }
    let files = segment_files(dir.path());
    let originals: Vec<Vec<u8>> = files.iter().map(|path| std::fs::read(path).unwrap()).collect();
    let mut damaged = originals.clone();
    for (pick, harm) in &harms {
        let index = pick % damaged.len();
        apply(&mut damaged[index], harm);
    }
    // An entry is intact when all of its bytes are still there, unchanged.
    let mut intact: HashSet<(u16, u64)> = HashSet::new();
    for (original, now) in originals.iter().zip(&damaged) {
        for located in segment::scan(original).entries {
            if now.get(located.offset..located.end()) == original.get(located.offset..located.end()) {
                intact.insert((located.stream, located.sequence));
            }
        }
    }
    for (path, bytes) in files.iter().zip(&damaged) {
        std::fs::write(path, bytes).unwrap();
    }

    let committed: HashMap<u16, CommitTracker> =
        (0..STREAMS).map(|stream| (stream, CommitTracker::new(watermarks[stream as usize]))).collect();
    let (spool, recovered) = Spool::open(settings(dir.path()), &committed).unwrap();
    let replayed: Vec<Entry> = recovered.replay.iter().flat_map(|id| spool.read_segment(*id).unwrap()).collect();
    let mut back: HashSet<(u16, u64)> = HashSet::new();
    for entry in &replayed {
        assert_eq!(written.get(&(entry.stream, entry.sequence)), Some(&entry.payload), "only what was written comes back");
        back.insert((entry.stream, entry.sequence));
    }
    let is_committed = |stream: u16, sequence: u64| committed[&stream].is_committed(sequence);
    for key in &intact {
        assert!(is_committed(key.0, key.1) || back.contains(key), "intact entry {key:?} recovered");
    }
    let lost: HashSet<(u16, u64)> = recovered
        .losses
        .iter()
        .filter_map(|loss| Some((loss.stream?, &loss.ranges)))
        .flat_map(|(stream, ranges)| ranges.iter().flat_map(move |(first, last)| (*first..=*last).map(move |sequence| (stream, sequence))))
        .collect();
    for key in &lost {
        assert!(!back.contains(key) && !is_committed(key.0, key.1), "{key:?} reported lost but it is there");
        assert!(written.contains_key(key), "{key:?} reported lost but was never written");
    }
    let newest_back: HashMap<u16, u64> = back.iter().fold(HashMap::new(), |mut newest, (stream, sequence)| {
        let entry = newest.entry(*stream).or_insert(0);
        *entry = (*entry).max(*sequence);
        newest
    });
    for key in written.keys().filter(|key| !intact.contains(key) && !is_committed(key.0, key.1)) {
        // A stream's newest entries leave no gap: their loss shows only as damaged bytes.
        let revealed = newest_back.get(&key.0).is_some_and(|newest| *newest > key.1);
        assert!(!revealed || lost.contains(key), "{key:?} lost and not reported");
    }
    for damage in &recovered.damaged {
        assert!(damage.kept_as.starts_with(dir.path().join(DAMAGED_DIR)));
        let index = files.iter().position(|path| path.file_name().unwrap().to_str() == Some(&damage.segment)).unwrap();
        assert_eq!(std::fs::read(&damage.kept_as).unwrap(), damaged[index], "kept as found");
    }

    // Commit what was replayed and what was lost, as the daemon does: everything frees.
    let mut trackers = committed.clone();
    for entry in &replayed {
        trackers.get_mut(&entry.stream).unwrap().commit(entry.sequence, entry.sequence);
    }
    for loss in &recovered.losses {
        for (first, last) in &loss.ranges {
            trackers.get_mut(&loss.stream.unwrap()).unwrap().commit(*first, *last);
        }
    }
    for (stream, tracker) in &trackers {
        spool.commit(*stream, tracker.watermark());
    }
    assert_eq!(spool.segment_count(), 1, "only the active segment is left");
    assert_eq!(segment_files(dir.path()).len(), 1);
    drop(spool);
    let (spool, again) = Spool::open(settings(dir.path()), &trackers).unwrap();
    assert!(again.losses.is_empty() && again.damaged.is_empty(), "a loss is reported once: {:?}", again.losses);
    assert!(again.replay.is_empty());
    assert!(spool.used_bytes() <= 2 * segment::MAGIC.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn damaged_segments_give_back_every_intact_entry_and_free_up(
        entries in 20usize..400,
        watermarks in proptest::array::uniform3(0u64..40),
        harms in proptest::collection::vec(harm_strategy(), 1..4),
    ) {
        run(entries, watermarks, harms);
    }
}

#[test]
fn a_flipped_byte_in_a_sealed_segment_costs_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (spool, _) = Spool::open(settings(dir.path()), &HashMap::new()).unwrap();
        for index in 0..200u64 {
            spool.append(0, format!("entry {index:04}").as_bytes()).unwrap();
        }
        spool.sync().unwrap();
    }
    let first = segment_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&first, &bytes).unwrap();

    let (spool, recovered) = Spool::open(settings(dir.path()), &HashMap::new()).unwrap();
    assert_eq!(recovered.damaged.len(), 1);
    assert_eq!(recovered.losses.len(), 1, "{:?}", recovered.losses);
    let loss = &recovered.losses[0];
    assert_eq!((loss.stream, loss.records()), (Some(0), 1));
    assert!(loss.detail.contains(&recovered.damaged[0].segment), "{}", loss.detail);
    let replayed: usize = recovered.replay.iter().map(|id| spool.read_segment(*id).unwrap().len()).sum();
    assert_eq!(replayed, 199);
    assert_eq!(std::fs::read(&recovered.damaged[0].kept_as).unwrap(), bytes, "the damaged file is kept as found");
}
