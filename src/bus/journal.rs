//! The edge's publish journal, beside its spool: which spooled records went out in which
//! messages, under which publish ids, and which of those the stream acknowledged.
//!
//! A batch of one table's spooled records (sequences `first..=last` of its spool
//! stream) is split by venue into messages numbered `counter .. counter + count`; the
//! line `B counter count stream first last` is written and fsynced before the first of
//! them is published, and `A counter` after each is acknowledged. The publish id of
//! message `n` is `<edge_id>.<n>`. A batch whose sequences are not one run (custom
//! tables share one spool stream, so a table's batch holds some of its sequences) is
//! `S counter count stream runs first1 last1 first2 last2 …` instead.
//!
//! After a crash the journal tells the spool which sequences the stream holds (batches
//! whose messages were all acknowledged), and for each batch still open the exact
//! messages to send again: the same records, split the same way, under the same ids,
//! so the stream's deduplication drops any it already has. The journal is rewritten
//! compactly on open and whenever it grows past a few megabytes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::spool::CommitTracker;

const FILE_NAME: &str = "bus-journal";
/// Rewritten compactly past this size.
const COMPACT_BYTES: u64 = 8 << 20;

/// Runs of spool sequences `(first, last)`, ascending.
pub type Runs = Vec<(u64, u64)>;

/// A batch whose messages were not all acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBatch {
    pub counter: u64,
    pub count: u64,
    pub stream: u16,
    pub first: u64,
    pub last: u64,
    /// The batch's sequences as runs `(first, last)`, ascending: `[(first, last)]` for
    /// a batch of one run.
    pub runs: Runs,
    /// Message numbers already acknowledged.
    pub acked: BTreeSet<u64>,
}

/// What the journal held when it was opened.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Per spool stream, the sequences the stream holds.
    pub committed: HashMap<u16, CommitTracker>,
    pub open: Vec<OpenBatch>,
}

struct State {
    file: File,
    bytes: u64,
    next_counter: u64,
    open: BTreeMap<u64, OpenBatch>,
    committed: HashMap<u16, CommitTracker>,
}

pub struct Journal {
    path: PathBuf,
    state: Mutex<State>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, rewriting it compactly.
    pub fn open(dir: &Path) -> io::Result<(Journal, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let (next_counter, open, committed) = match File::open(&path) {
            Ok(file) => read(file)?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => (0, BTreeMap::new(), HashMap::new()),
            Err(error) => return Err(error),
        };
        let recovered = Recovered { committed: committed.clone(), open: open.values().cloned().collect() };
        let file = rewrite(&path, next_counter, &open, &committed)?;
        let bytes = file.metadata()?.len();
        let state = State { file, bytes, next_counter, open, committed };
        Ok((Journal { path, state: Mutex::new(state) }, recovered))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Records a batch about to be published as `count` messages; returns the number
    /// of its first message. Written and fsynced before it returns.
    pub fn begin_batch(&self, stream: u16, first: u64, last: u64, count: u64) -> io::Result<u64> {
        self.begin_batch_runs(stream, &[(first, last)], count)
    }

    /// [`Journal::begin_batch`] for a batch of sequences in several runs (ascending,
    /// at least one).
    pub fn begin_batch_runs(&self, stream: u16, runs: &[(u64, u64)], count: u64) -> io::Result<u64> {
        let mut state = self.lock();
        let counter = state.next_counter;
        state.next_counter += count;
        let batch = OpenBatch::new(counter, count, stream, runs.to_vec());
        let line = batch_line(&batch);
        state.file.write_all(line.as_bytes())?;
        state.file.sync_data()?;
        state.bytes += line.len() as u64;
        state.open.insert(counter, batch);
        Ok(counter)
    }

    /// Records that message `number` of the batch starting at `counter` was
    /// acknowledged. Returns the batch's stream and runs once all of its messages are.
    /// Not fsynced: a lost line only means the message is published again under the
    /// same id.
    pub fn acked(&self, counter: u64, number: u64) -> io::Result<Option<(u16, Runs)>> {
        let mut state = self.lock();
        let line = format!("A {number}\n");
        state.file.write_all(line.as_bytes())?;
        state.bytes += line.len() as u64;
        let Some(batch) = state.open.get_mut(&counter) else { return Ok(None) };
        batch.acked.insert(number);
        if (batch.acked.len() as u64) < batch.count {
            return Ok(None);
        }
        let batch = state.open.remove(&counter).expect("present");
        batch.commit_into(&mut state.committed);
        if state.bytes > COMPACT_BYTES {
            let State { next_counter, open, committed, .. } = &*state;
            let file = rewrite(&self.path, *next_counter, open, committed)?;
            state.bytes = file.metadata()?.len();
            state.file = file;
        }
        Ok(Some((batch.stream, batch.runs)))
    }
}

impl OpenBatch {
    fn new(counter: u64, count: u64, stream: u16, runs: Runs) -> OpenBatch {
        let first = runs.first().map_or(0, |run| run.0);
        let last = runs.last().map_or(0, |run| run.1);
        OpenBatch { counter, count, stream, first, last, runs, acked: BTreeSet::new() }
    }

    /// Whether `sequence` of `stream` is one of the batch's records.
    pub fn holds(&self, stream: u16, sequence: u64) -> bool {
        self.stream == stream && self.runs.iter().any(|(first, last)| (*first..=*last).contains(&sequence))
    }

    fn commit_into(&self, committed: &mut HashMap<u16, CommitTracker>) {
        let tracker = committed.entry(self.stream).or_default();
        for (first, last) in &self.runs {
            tracker.commit(*first, *last);
        }
    }
}

/// The line that opens a batch: `B` for one run, `S` for several.
fn batch_line(batch: &OpenBatch) -> String {
    match batch.runs.as_slice() {
        [(first, last)] => format!("B {} {} {} {first} {last}\n", batch.counter, batch.count, batch.stream),
        runs => {
            let mut line = format!("S {} {} {} {}", batch.counter, batch.count, batch.stream, runs.len());
            for (first, last) in runs {
                line.push_str(&format!(" {first} {last}"));
            }
            line.push('\n');
            line
        }
    }
}

type Read = (u64, BTreeMap<u64, OpenBatch>, HashMap<u16, CommitTracker>);

fn read(file: File) -> io::Result<Read> {
    let mut next_counter = 0;
    let mut open: BTreeMap<u64, OpenBatch> = BTreeMap::new();
    let mut committed: HashMap<u16, CommitTracker> = HashMap::new();
    // Message number → its batch's first number, for the `A` lines.
    let mut owner: BTreeMap<u64, u64> = BTreeMap::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        let fields: Vec<u64> = line.split(' ').skip(1).map_while(|field| field.parse().ok()).collect();
        // A torn last line (the process died mid-write) is ignored.
        match (line.split(' ').next(), fields.as_slice()) {
            (Some("N"), [next]) => next_counter = next_counter.max(*next),
            (Some("K"), [stream, first, last]) => {
                committed.entry(*stream as u16).or_default().commit(*first, *last);
            }
            (Some("B"), [counter, count, stream, first, last]) => {
                next_counter = next_counter.max(counter + count);
                for number in *counter..counter + count {
                    owner.insert(number, *counter);
                }
                open.insert(*counter, OpenBatch::new(*counter, *count, *stream as u16, vec![(*first, *last)]));
            }
            (Some("S"), [counter, count, stream, runs, bounds @ ..]) if bounds.len() as u64 == runs * 2 && *runs > 0 => {
                next_counter = next_counter.max(counter + count);
                for number in *counter..counter + count {
                    owner.insert(number, *counter);
                }
                let runs: Vec<(u64, u64)> = bounds.chunks(2).map(|run| (run[0], run[1])).collect();
                open.insert(*counter, OpenBatch::new(*counter, *count, *stream as u16, runs));
            }
            (Some("A"), [number]) => {
                let Some(counter) = owner.get(number).copied() else { continue };
                let Some(batch) = open.get_mut(&counter) else { continue };
                batch.acked.insert(*number);
                if batch.acked.len() as u64 == batch.count {
                    let batch = open.remove(&counter).expect("present");
                    batch.commit_into(&mut committed);
                }
            }
            _ => tracing::warn!(line = %line, "unreadable bus journal line skipped"),
        }
    }
    Ok((next_counter, open, committed))
}

/// Writes the journal's state to a new file and puts it in place.
fn rewrite(path: &Path, next_counter: u64, open: &BTreeMap<u64, OpenBatch>, committed: &HashMap<u16, CommitTracker>) -> io::Result<File> {
    let temporary = path.with_extension("new");
    let mut text = format!("N {next_counter}\n");
    let mut streams: Vec<_> = committed.iter().collect();
    streams.sort_by_key(|(stream, _)| **stream);
    for (stream, tracker) in streams {
        if tracker.watermark() > 0 {
            text.push_str(&format!("K {stream} 1 {}\n", tracker.watermark()));
        }
        for (first, last) in tracker.ranges() {
            text.push_str(&format!("K {stream} {first} {last}\n"));
        }
    }
    for batch in open.values() {
        text.push_str(&batch_line(batch));
        for number in &batch.acked {
            text.push_str(&format!("A {number}\n"));
        }
    }
    {
        let mut file = File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_batches_are_committed_and_open_ones_come_back() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (journal, recovered) = Journal::open(dir.path()).unwrap();
            assert!(recovered.open.is_empty());
            let first = journal.begin_batch(1, 1, 100, 2).unwrap();
            let second = journal.begin_batch(1, 101, 150, 3).unwrap();
            assert_eq!((first, second), (0, 2));
            assert_eq!(journal.acked(first, 0).unwrap(), None);
            assert_eq!(journal.acked(first, 1).unwrap(), Some((1, vec![(1, 100)])));
            assert_eq!(journal.acked(second, 3).unwrap(), None);
            // The process dies here: message 2 and 4 were never acknowledged.
        }
        let (journal, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.committed[&1].watermark(), 100);
        assert_eq!(recovered.open.len(), 1);
        let open = &recovered.open[0];
        assert_eq!((open.counter, open.count, open.stream, open.first, open.last), (2, 3, 1, 101, 150));
        assert_eq!(open.acked, BTreeSet::from([3]));
        // Numbering goes on after the highest one handed out.
        assert_eq!(journal.begin_batch(2, 1, 10, 1).unwrap(), 5);
        journal.acked(2, 2).unwrap();
        assert_eq!(journal.acked(2, 4).unwrap(), Some((1, vec![(101, 150)])));
        drop(journal);
        let (_, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.committed[&1].watermark(), 150);
        assert_eq!(recovered.open.len(), 1, "batch 5 of stream 2 is still open");
    }

    #[test]
    fn a_batch_of_several_runs_comes_back_and_commits_only_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (journal, _) = Journal::open(dir.path()).unwrap();
            let first = journal.begin_batch_runs(11, &[(1, 2), (7, 7)], 2).unwrap();
            journal.acked(first, 0).unwrap();
            let second = journal.begin_batch_runs(11, &[(3, 6)], 1).unwrap();
            assert_eq!(journal.acked(second, second).unwrap(), Some((11, vec![(3, 6)])));
        }
        let (journal, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.open.len(), 1);
        let open = &recovered.open[0];
        assert_eq!((open.runs.clone(), open.first, open.last), (vec![(1, 2), (7, 7)], 1, 7));
        assert!(open.holds(11, 7) && open.holds(11, 1) && !open.holds(11, 5) && !open.holds(1, 1));
        assert!(recovered.committed[&11].is_committed(5) && !recovered.committed[&11].is_committed(2));
        assert_eq!(journal.acked(0, 1).unwrap(), Some((11, vec![(1, 2), (7, 7)])));
        drop(journal);
        let (_, recovered) = Journal::open(dir.path()).unwrap();
        assert!(recovered.open.is_empty());
        assert_eq!(recovered.committed[&11].watermark(), 7);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "N 4\nB 4 1 3 1 9\nA").unwrap();
        let (journal, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.open.len(), 1);
        assert_eq!(journal.begin_batch(3, 10, 12, 1).unwrap(), 5);
    }
}
