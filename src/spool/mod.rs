//! The spool: a local write-ahead log of accepted records, so that what the daemon
//! acknowledged survives a crash of the daemon and waits out a database outage on disk.
//!
//! Entries belong to streams (one per table) and carry a per-stream sequence number.
//! They are appended to segment files (`segment.rs`: length, CRC32, stream, sequence,
//! payload); a flusher thread writes buffered entries out and `fdatasync`s the active
//! segment at a fixed interval (group commit), then publishes the durable position,
//! which `wait_durable` waits for. Writers report the sequence each stream has committed
//! to the database; a segment whose entries are all committed is deleted. The total size
//! is capped: an append that would pass the cap fails with [`SpoolError::Full`] and the
//! caller applies its policy. On open, every segment is read (`recover.rs`): the last
//! one's torn tail is cut, a damaged segment is kept aside in `damaged/` and rewritten
//! with its intact entries (`damage.rs`), the sequences lost are handed back to be
//! reported and counted as done, and the segments holding entries not yet committed
//! are listed for a replay that reads them one at a time.
//!
//! A `committed` file beside the segments (`floor.rs`) keeps each stream's committed
//! floor, raised before any segment is deleted, so that the spool can also open while
//! the database is unreachable (`Spool::open_offline`).

pub mod codec;
mod damage;
mod floor;
mod progress;
mod reader;
mod recover;
mod segment;
mod tracker;

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

pub use damage::{Damage, Loss, DAMAGED_DIR};
pub use progress::{sequence_ranges, SpoolProgress};
pub use reader::StreamCursor;
pub use segment::{Entry, ENTRY_HEADER_LEN};

pub use tracker::CommitTracker;

/// Where and how the spool keeps its files.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    /// Cap on the bytes of all segments together.
    pub max_bytes: u64,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// How often buffered entries are written and fsynced (group commit).
    pub fsync_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {dir}: {source}")]
    Io { dir: String, source: io::Error },
    #[error("the spool is full ({used} of {max} bytes held by records not yet committed)")]
    Full { used: u64, max: u64 },
    #[error("a spool entry of {0} bytes is larger than the largest allowed")]
    TooLarge(usize),
    #[error(
        "spool {0} holds segments but no record of what the database committed (its `committed` file, \
         written since this version): it opens only with the database reachable once"
    )]
    NoFloor(String),
}

/// Sequences an offline start set aside: `first..=last` of `stream` were skipped so that
/// no sequence the database may hold beyond what the spool knows is given again. Once
/// the database answers, the ones it does not hold are marked committed (never used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    pub stream: u16,
    pub first: u64,
    pub last: u64,
}

/// What opening the spool found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The segments holding entries not yet committed, oldest first: read each with
    /// [`Spool::read_segment`] to replay it.
    pub replay: Vec<u64>,
    /// Bytes cut from the last segment's torn tail.
    pub bytes_cut: u64,
    /// Segments found damaged, set aside and rewritten with their intact entries.
    pub damaged: Vec<Damage>,
    /// What could not be recovered: to be reported once and marked done.
    pub losses: Vec<Loss>,
    /// Segments deleted because everything in them was committed.
    pub segments_deleted: usize,
    /// Sequences set aside by offline opens and not yet passed by the floor: to be
    /// marked committed (those the database does not hold) once the database answers.
    pub skipped: Vec<Skipped>,
}

/// A position in the log: the number of entries appended before and including one.
pub type Position = u64;

struct Sealed {
    id: u64,
    bytes: u64,
    /// The highest sequence of each stream in this segment.
    last_sequences: HashMap<u16, u64>,
}

struct Active {
    id: u64,
    file: File,
    bytes: u64,
    last_sequences: HashMap<u16, u64>,
}

struct State {
    active: Active,
    sealed: VecDeque<Sealed>,
    /// Encoded entries not yet written to the active segment's file.
    buffer: Vec<u8>,
    /// Entries appended so far (the position of the last one).
    appended: Position,
    /// Entries written to a file (not necessarily synced).
    written: Position,
    next_sequence: HashMap<u16, u64>,
    committed: HashMap<u16, u64>,
    /// What the `committed` file holds (see `floor.rs`).
    floors: floor::Floors,
    total_bytes: u64,
}

struct Inner {
    settings: SpoolSettings,
    state: Mutex<State>,
    durable: tokio::sync::watch::Sender<Position>,
}

/// A handle to the spool; clones share it. The flusher thread stops when the last
/// handle is dropped, after a final sync.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.inner.settings.dir).finish()
    }
}

impl Spool {
    /// Opens (or creates) the spool in `settings.dir`. `committed` says which sequences
    /// of each stream the database already holds; the other entries are returned for
    /// replay, and new sequences continue after the highest seen or committed.
    pub fn open(settings: SpoolSettings, committed: &HashMap<u16, CommitTracker>) -> Result<(Spool, Recovered), SpoolError> {
        let io_error = |source| SpoolError::Io { dir: settings.dir.display().to_string(), source };
        std::fs::create_dir_all(&settings.dir).map_err(io_error)?;
        let floors = floor::read(&settings.dir).map_err(io_error)?.unwrap_or_default();
        Spool::open_with(settings, committed, floors)
    }

    fn open_with(
        settings: SpoolSettings,
        committed: &HashMap<u16, CommitTracker>,
        mut floors: floor::Floors,
    ) -> Result<(Spool, Recovered), SpoolError> {
        let io_error = |source| SpoolError::Io { dir: settings.dir.display().to_string(), source };
        std::fs::create_dir_all(&settings.dir).map_err(io_error)?;
        floor::raise(&mut floors.floors, committed.iter().map(|(stream, tracker)| (*stream, tracker.watermark())));
        floor::write(&settings.dir, &mut floors).map_err(io_error)?;
        let ids = segment_ids(&settings)?;
        // Sequences set aside hold no entry: not lost, and (once marked) committed.
        let mut committed = committed.clone();
        for skip in &floors.skipped {
            committed.entry(skip.stream).or_default().commit(skip.first, skip.last);
        }
        let committed = &committed;

        let mut recovered = Recovered { skipped: floors.skipped.clone(), ..Recovered::default() };
        let opened = recover::recover(&settings.dir, &ids, committed, &mut recovered).map_err(io_error)?;
        let recover::Opened { sealed, next_sequence, mut total_bytes } = opened;

        // New entries always go to a new segment: an old one may end in a cut tail.
        let active_id = ids.last().map_or(1, |last| last + 1);
        let active = create_segment(&settings, active_id).map_err(io_error)?;
        total_bytes += active.bytes;
        let state = State {
            active,
            sealed,
            buffer: Vec::with_capacity(1 << 16),
            appended: 0,
            written: 0,
            next_sequence,
            committed: committed.iter().map(|(stream, tracker)| (*stream, tracker.watermark())).collect(),
            floors,
            total_bytes,
        };
        let (durable, _) = tokio::sync::watch::channel(0);
        let inner = Arc::new(Inner { settings, state: Mutex::new(state), durable });
        recovered.segments_deleted = inner.delete_committed_segments();
        spawn_flusher(Arc::downgrade(&inner));
        Ok((Spool { inner }, recovered))
    }

    /// Opens the spool without the database: the `committed` file stands in for what the
    /// database committed (a true lower bound), and every stream of `streams` (and any
    /// stream found in the files) continues `margin` sequences above the highest it knows,
    /// in case the database committed entries a crash cut from the files before they
    /// were synced. The sequences skipped are kept in the `committed` file and returned
    /// in [`Recovered::skipped`], to be marked committed once the database answers. Refused when segments exist but the
    /// `committed` file does not (a spool written by an older version).
    pub fn open_offline(settings: SpoolSettings, streams: &[u16], margin: u64) -> Result<(Spool, Recovered), SpoolError> {
        let io_error = |source| SpoolError::Io { dir: settings.dir.display().to_string(), source };
        let floors = match floor::read(&settings.dir).map_err(io_error)? {
            Some(floors) => floors,
            None if segment_ids(&settings)?.is_empty() => floor::Floors::default(),
            None => return Err(SpoolError::NoFloor(settings.dir.display().to_string())),
        };
        let committed: HashMap<u16, CommitTracker> =
            floors.floors.iter().map(|(stream, floor)| (*stream, CommitTracker::new(*floor))).collect();
        let (spool, mut recovered) = Spool::open_with(settings, &committed, floors)?;
        let mut skipped = Vec::new();
        {
            let mut state = spool.inner.lock();
            let mut known: Vec<u16> = state.next_sequence.keys().copied().chain(streams.iter().copied()).collect();
            known.sort_unstable();
            known.dedup();
            for stream in known {
                let next = state.next_sequence.entry(stream).or_insert(1);
                skipped.push(Skipped { stream, first: *next, last: *next + margin - 1 });
                *next += margin;
            }
            // Written before any sequence above them is given out.
            state.floors.skipped.extend(skipped.iter().copied());
            let mut floors = state.floors.clone();
            floor::write(&spool.inner.settings.dir, &mut floors).map_err(|error| spool.inner.io_error(error))?;
        }
        recovered.skipped.extend(skipped);
        Ok((spool, recovered))
    }

    /// Appends one entry to `stream` and returns its sequence and log position. The
    /// entry is durable once [`Spool::wait_durable`] for that position returns.
    pub fn append(&self, stream: u16, payload: &[u8]) -> Result<(u64, Position), SpoolError> {
        if payload.len() > segment::MAX_PAYLOAD_LEN {
            return Err(SpoolError::TooLarge(payload.len()));
        }
        let entry_len = (ENTRY_HEADER_LEN + payload.len()) as u64;
        let mut state = self.inner.lock();
        let max = self.inner.settings.max_bytes;
        if state.total_bytes + entry_len > max {
            return Err(SpoolError::Full { used: state.total_bytes, max });
        }
        if state.active.bytes + entry_len > self.inner.settings.segment_bytes && state.active.bytes > segment::MAGIC.len() as u64 {
            self.inner.rotate(&mut state)?;
        }
        let next = state.next_sequence.entry(stream).or_insert(1);
        let sequence = *next;
        *next += 1;
        let mut buffer = std::mem::take(&mut state.buffer);
        segment::encode_entry(stream, sequence, payload, &mut buffer);
        state.buffer = buffer;
        state.active.bytes += entry_len;
        state.active.last_sequences.insert(stream, sequence);
        state.total_bytes += entry_len;
        state.appended += 1;
        Ok((sequence, state.appended))
    }

    /// Waits until every entry up to `position` is on disk (fsynced).
    pub async fn wait_durable(&self, position: Position) {
        let mut durable = self.inner.durable.subscribe();
        // The sender lives as long as `self`, so the wait cannot fail.
        let _ = durable.wait_for(|synced| *synced >= position).await;
    }

    /// Records that `stream` is committed up to `sequence` and deletes the segments
    /// that hold nothing else.
    pub fn commit(&self, stream: u16, sequence: u64) {
        {
            let mut state = self.inner.lock();
            let done = state.committed.entry(stream).or_insert(0);
            *done = (*done).max(sequence);
        }
        self.inner.delete_committed_segments();
    }

    /// The next sequence `stream` will get.
    pub fn next_sequence(&self, stream: u16) -> u64 {
        self.inner.lock().next_sequence.get(&stream).copied().unwrap_or(1)
    }

    /// Bytes held by all segments.
    pub fn used_bytes(&self) -> u64 {
        self.inner.lock().total_bytes
    }

    /// Number of segment files, the active one included.
    pub fn segment_count(&self) -> usize {
        self.inner.lock().sealed.len() + 1
    }

    /// Writes and fsyncs everything appended so far, now.
    pub fn sync(&self) -> Result<(), SpoolError> {
        self.inner.flush_and_sync()
    }
}

/// The ids of the segment files in the spool's folder, oldest first.
fn segment_ids(settings: &SpoolSettings) -> Result<Vec<u64>, SpoolError> {
    let io_error = |source| SpoolError::Io { dir: settings.dir.display().to_string(), source };
    let mut ids: Vec<u64> = match std::fs::read_dir(&settings.dir) {
        Ok(entries) => entries.filter_map(|entry| entry.ok()?.file_name().to_str().and_then(segment::parse_file_name)).collect(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(io_error(error)),
    };
    ids.sort_unstable();
    Ok(ids)
}

fn create_segment(settings: &SpoolSettings, id: u64) -> io::Result<Active> {
    let mut file = OpenOptions::new().create_new(true).append(true).open(segment::path(&settings.dir, id))?;
    file.write_all(segment::MAGIC)?;
    file.sync_all()?;
    // The new file's directory entry must survive a crash too.
    File::open(&settings.dir)?.sync_all()?;
    Ok(Active { id, file, bytes: segment::MAGIC.len() as u64, last_sequences: HashMap::new() })
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn io_error(&self, source: io::Error) -> SpoolError {
        SpoolError::Io { dir: self.settings.dir.display().to_string(), source }
    }

    /// Seals the active segment (written and synced, so that its entries are durable
    /// before any later ones) and starts the next.
    fn rotate(&self, state: &mut State) -> Result<(), SpoolError> {
        let buffer = std::mem::take(&mut state.buffer);
        state.active.file.write_all(&buffer).and_then(|()| state.active.file.sync_data()).map_err(|error| self.io_error(error))?;
        state.buffer = buffer;
        state.buffer.clear();
        state.written = state.appended;
        let synced = state.written;
        self.durable.send_modify(|durable| *durable = (*durable).max(synced));
        let next = create_segment(&self.settings, state.active.id + 1).map_err(|error| self.io_error(error))?;
        state.total_bytes += next.bytes;
        let old = std::mem::replace(&mut state.active, next);
        state.sealed.push_back(Sealed { id: old.id, bytes: old.bytes, last_sequences: old.last_sequences });
        Ok(())
    }

    /// Writes the buffer out under the lock, syncs outside it, then publishes the
    /// durable position.
    fn flush_and_sync(&self) -> Result<(), SpoolError> {
        let (file, position) = {
            let mut state = self.lock();
            if state.buffer.is_empty() && state.written == *self.durable.borrow() {
                return Ok(());
            }
            let buffer = std::mem::take(&mut state.buffer);
            let written = state.active.file.write_all(&buffer);
            state.buffer = buffer;
            state.buffer.clear();
            written.map_err(|error| self.io_error(error))?;
            state.written = state.appended;
            (state.active.file.try_clone().map_err(|error| self.io_error(error))?, state.written)
        };
        file.sync_data().map_err(|error| self.io_error(error))?;
        self.durable.send_modify(|durable| *durable = (*durable).max(position));
        Ok(())
    }

    /// Deletes sealed segments, oldest first, whose entries are all committed.
    fn delete_committed_segments(&self) -> usize {
        let mut deleted = 0;
        let mut state = self.lock();
        while let Some(oldest) = state.sealed.front() {
            let all_committed =
                oldest.last_sequences.iter().all(|(stream, last)| state.committed.get(stream).is_some_and(|done| done >= last));
            if !all_committed {
                break;
            }
            let (oldest_id, oldest_bytes) = (oldest.id, oldest.bytes);
            // The floor covers a segment before it goes, so an offline open never gives
            // its sequences again.
            let committed: Vec<(u16, u64)> = state.committed.iter().map(|(stream, sequence)| (*stream, *sequence)).collect();
            let mut floors = state.floors.clone();
            if floor::raise(&mut floors.floors, committed) {
                if let Err(error) = floor::write(&self.settings.dir, &mut floors) {
                    tracing::warn!(dir = %self.settings.dir.display(), %error, "spool: could not write the committed floor; segments kept");
                    break;
                }
                state.floors = floors;
            }
            let path = segment::path(&self.settings.dir, oldest_id);
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(segment = %path.display(), %error, "spool: could not delete a committed segment");
                break;
            }
            state.total_bytes -= oldest_bytes;
            state.sealed.pop_front();
            deleted += 1;
        }
        deleted
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(error) = self.flush_and_sync() {
            tracing::error!(%error, "spool: final write or fsync failed");
        }
    }
}

/// Group commit: every interval, write out and fsync what was appended.
fn spawn_flusher(inner: Weak<Inner>) {
    let interval = inner.upgrade().map_or(Duration::from_millis(5), |inner| inner.settings.fsync_interval);
    std::thread::Builder::new()
        .name("spool-fsync".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            let Some(inner) = inner.upgrade() else { return };
            if let Err(error) = inner.flush_and_sync() {
                tracing::error!(%error, "spool: write or fsync failed; acknowledgements wait");
            }
        })
        .expect("spawning the spool flusher thread");
}

#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod tests;
