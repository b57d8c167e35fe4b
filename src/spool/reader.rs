//! Reading the spool back: a stream's entries from a cursor on, across the segments
//! (what a spilling table's reader feeds back into its channel), and one segment's
//! entries whole (the segments recovery lists for replay after a restart).

use std::io;

use super::{segment, Entry, Spool, SpoolError};

/// Where a reader of one stream is: the next sequence it wants and the place in the
/// segments to read on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCursor {
    pub stream: u16,
    pub next_sequence: u64,
    /// Segment id and byte offset to continue at; segment 0: not placed yet.
    segment: u64,
    offset: u64,
}

impl StreamCursor {
    pub fn new(stream: u16, next_sequence: u64) -> Self {
        StreamCursor { stream, next_sequence, segment: 0, offset: 0 }
    }
}

impl Spool {
    /// Reads up to `max_entries` entries of the cursor's stream, from its next sequence
    /// on, out of what has been written to the files so far (call [`Spool::sync`] to
    /// write out what is still buffered), and moves the cursor past them.
    pub fn read_stream(&self, cursor: &mut StreamCursor, max_entries: usize) -> Result<Vec<Entry>, SpoolError> {
        // The segments to read, with how much of each is on file, and whether it is sealed.
        let segments: Vec<(u64, u64, bool)> = {
            let state = self.inner.lock();
            let active_written = state.active.bytes - state.buffer.len() as u64;
            state
                .sealed
                .iter()
                .map(|sealed| (sealed.id, sealed.bytes, true, sealed.last_sequences.get(&cursor.stream).copied()))
                .chain(std::iter::once((state.active.id, active_written, false, Some(u64::MAX))))
                .filter(|(id, _, _, last)| *id >= cursor.segment && last.is_some_and(|last| last >= cursor.next_sequence))
                .map(|(id, bytes, sealed, _)| (id, bytes, sealed))
                .collect()
        };
        let mut entries = Vec::new();
        for (id, readable, sealed) in segments {
            let start = if id == cursor.segment { cursor.offset } else { segment::MAGIC.len() as u64 };
            let mut full = false;
            let end = segment::read_range(&segment::path(&self.inner.settings.dir, id), start, readable, |entry| {
                if entry.stream == cursor.stream && entry.sequence >= cursor.next_sequence {
                    cursor.next_sequence = entry.sequence + 1;
                    entries.push(entry);
                }
                full = entries.len() >= max_entries;
                !full
            })
            .map_err(|error| self.inner.io_error(error))?;
            cursor.segment = id;
            cursor.offset = end;
            if full || !sealed {
                break;
            }
        }
        Ok(entries)
    }

    /// The intact entries of segment `id` (one of [`Recovered::replay`]), committed or
    /// not; none when the segment was deleted since (everything in it was committed).
    pub fn read_segment(&self, id: u64) -> Result<Vec<Entry>, SpoolError> {
        match segment::read_entries(&segment::path(&self.inner.settings.dir, id)) {
            Ok(entries) => Ok(entries),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(self.inner.io_error(error)),
        }
    }
}
