//! The import's threads. A reader cuts the files into chunks: a plain file into byte
//! ranges at line boundaries, which the workers read themselves; a compressed file is
//! decoded in order and cut every `chunk_lines` lines. Workers, one per core, parse a
//! chunk, check its times, encode it and hand it to the writers together with its
//! mark in `ingest_offsets` and its bad lines as dead letters: one chunk, one
//! transaction.

use std::io::BufRead;
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::plan::{lines_before, FilePlan};
use crate::db::Partitions;
use crate::metrics::events;
use crate::pipeline::{check_event_time, check_interval_time, IntervalRetention};
use crate::record::{DeadLetter, Table, Timestamp};
use crate::sink::{encode_batch, BatchProgress, CopyRow, EncodedBatch, KnownInstruments};
use crate::source::file::{open_decoded, parse_chunk, Compression, FileRecord, Mapping, ParseSettings, ParsedChunk};

/// A piece of a file to import: `[start, end)` in bytes (plain) or lines (compressed).
struct Job {
    file: usize,
    start: u64,
    end: u64,
    /// Compressed files: the decoded lines, and the line number of the first.
    lines: Option<(Vec<u8>, u64)>,
}

/// What one file's import did.
#[derive(Debug, Default)]
pub struct FileCounts {
    pub rows: AtomicU64,
    pub bad_lines: AtomicU64,
    pub chunks: AtomicU64,
    /// The reader handed out every chunk of the file, which ends here.
    pub read_to: Mutex<Option<u64>>,
}

/// Everything the threads share.
pub struct Work<R> {
    pub table: Table,
    pub files: Vec<FilePlan>,
    pub mappings: Vec<Mapping>,
    pub parse: Vec<ParseSettings>,
    pub partitions: Arc<Partitions>,
    pub retention_micros: Option<i64>,
    /// `bars`: the retention of each interval `retention_by_interval` lists.
    pub interval_retention: IntervalRetention,
    pub max_future_micros: i64,
    pub max_errors: u64,
    pub chunk_bytes: u64,
    pub chunk_lines: u64,
    pub per_file: Vec<FileCounts>,
    /// Bytes parsed of plain files, and bytes read of compressed ones.
    pub bytes_done: Arc<AtomicU64>,
    pub bad_lines: AtomicU64,
    /// Instruments a chunk already carries to the `instruments` table.
    pub instruments: KnownInstruments,
    /// Whether a chunk's batch is encoded in the columnstore's order (`sink::key_order`).
    pub key_order: bool,
    pub stop: AtomicBool,
    /// Why the import stopped early.
    pub failure: Mutex<Option<String>>,
    pub rows: PhantomData<fn() -> R>,
}

impl<R: FileRecord + CopyRow> Work<R> {
    /// Stops the import, keeping the first reason.
    pub fn fail(&self, reason: String) {
        self.failure.lock().unwrap_or_else(|poison| poison.into_inner()).get_or_insert(reason);
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Starts the reader and `threads` workers; they end when every chunk was handed
    /// to the writers or the import stopped.
    pub fn spawn(self: &Arc<Self>, sender: mpsc::Sender<EncodedBatch<R>>, threads: usize) -> Vec<std::thread::JoinHandle<()>> {
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(threads * 2);
        let mut handles = Vec::with_capacity(threads + 1);
        let work = self.clone();
        handles.push(spawn_thread("import-read".into(), move || work.read_all(&jobs)));
        for index in 0..threads {
            let (work, queue, sender) = (self.clone(), queue.clone(), sender.clone());
            handles.push(spawn_thread(format!("import-parse-{index}"), move || {
                for job in queue {
                    if work.stopped() {
                        continue;
                    }
                    if let Err(reason) = work.process(job, &sender) {
                        work.fail(reason);
                    }
                }
            }));
        }
        handles
    }

    fn read_all(&self, jobs: &crossbeam_channel::Sender<Job>) {
        for (index, plan) in self.files.iter().enumerate() {
            if plan.done {
                continue;
            }
            let read = match plan.compression {
                Compression::None => self.read_plain(index, plan, jobs),
                _ => self.read_compressed(index, plan, jobs),
            };
            match read {
                Ok(Some(end)) => *self.per_file[index].read_to.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(end),
                Ok(None) => return,
                Err(error) => return self.fail(format!("{}: {error}", plan.shown)),
            }
        }
    }

    /// Hands out a plain file's chunks; returns its end, or `None` when stopped.
    fn read_plain(&self, file: usize, plan: &FilePlan, jobs: &crossbeam_channel::Sender<Job>) -> std::io::Result<Option<u64>> {
        for (start, end) in plan.plain_chunks(self.chunk_bytes)? {
            if self.stopped() || jobs.send(Job { file, start, end, lines: None }).is_err() {
                return Ok(None);
            }
        }
        Ok(Some(plan.size))
    }

    /// Decodes a compressed file in order, skipping committed line ranges; returns its
    /// line count, or `None` when stopped.
    fn read_compressed(&self, file: usize, plan: &FilePlan, jobs: &crossbeam_channel::Sender<Job>) -> std::io::Result<Option<u64>> {
        let mut reader = open_decoded(&plan.path, plan.compression, self.bytes_done.clone()).map_err(std::io::Error::other)?;
        let mut skipped = Vec::new();
        let mut line_index = 0u64;
        while line_index < plan.data_start {
            skipped.clear();
            if reader.read_until(b'\n', &mut skipped)? == 0 {
                return Ok(Some(line_index));
            }
            line_index += 1;
        }
        let mut committed = plan.committed.iter().peekable();
        loop {
            while committed.next_if(|(_, end)| *end <= line_index).is_some() {}
            let next = committed.peek().copied().copied();
            if let Some((_, to)) = next.filter(|(from, _)| *from <= line_index) {
                while line_index < to {
                    skipped.clear();
                    if reader.read_until(b'\n', &mut skipped)? == 0 {
                        return Ok(Some(line_index));
                    }
                    line_index += 1;
                }
                continue;
            }
            let until = next.map_or(u64::MAX, |(from, _)| from).min(line_index.saturating_add(self.chunk_lines));
            let start = line_index;
            let mut lines = Vec::with_capacity(1 << 20);
            let mut at_end = false;
            while line_index < until {
                if reader.read_until(b'\n', &mut lines)? == 0 {
                    at_end = true;
                    break;
                }
                line_index += 1;
            }
            if line_index > start {
                let job = Job { file, start, end: line_index, lines: Some((lines, start + 1)) };
                if self.stopped() || jobs.send(job).is_err() {
                    return Ok(None);
                }
            }
            if at_end {
                return Ok(Some(line_index));
            }
        }
    }

    /// One chunk: read, parse, check, encode, hand over.
    fn process(&self, job: Job, sender: &mpsc::Sender<EncodedBatch<R>>) -> Result<(), String> {
        let plan = &self.files[job.file];
        let (bytes, first_line) = match job.lines {
            Some((lines, first_line)) => (lines, Some(first_line)),
            None => (read_range(plan, job.start, job.end)?, None),
        };
        let now = Timestamp::now();
        let admit = |time, interval: Option<&str>| match interval {
            Some(interval) => check_interval_time(
                self.table,
                self.retention_micros,
                &self.interval_retention,
                interval,
                self.max_future_micros,
                time,
                now,
            ),
            None => check_event_time(self.table, self.retention_micros, self.max_future_micros, time, now),
        };
        let parsed: ParsedChunk<R> = parse_chunk(&bytes, &self.parse[job.file], &self.mappings[job.file], now, &admit);
        let bad = parsed.bad.len() as u64;
        if bad > 0 {
            let total = self.bad_lines.fetch_add(bad, Ordering::SeqCst) + bad;
            if self.max_errors > 0 && total > self.max_errors {
                return Err(format!(
                    "stopped: more than {} lines were refused (--max-errors); the chunks committed so far stay, and the same command continues after them",
                    self.max_errors
                ));
            }
        }
        let first_line = match first_line {
            Some(line) => line,
            None if bad > 0 => lines_before(&plan.path, job.start).map_err(|error| format!("{}: {error}", plan.shown))? + 1,
            None => 0,
        };
        let dead_letters: Vec<DeadLetter> = parsed
            .bad
            .into_iter()
            .map(|bad| {
                let detail = format!("{} line {}: {}", plan.shown, first_line + bad.line - 1, bad.rejection.detail);
                let letter = DeadLetter::new("import", bad.rejection.code.as_str(), detail, &bad.raw);
                events::dead_lettered(&letter);
                letter
            })
            .collect();
        let rows = parsed.rows.len() as u64;
        // Made durable at the end by one synchronous commit (see `run`).
        let offsets = vec![(plan.chunk_stream(job.start), job.end as i64)];
        let progress = BatchProgress { offsets, dead_letters, commit_asynchronously: true, bus: None };
        let batch = encode_batch(self.table, &self.partitions, parsed.rows, progress, &self.instruments, self.key_order);
        if self.stopped() {
            return Ok(());
        }
        sender.blocking_send(batch).map_err(|_| "the writers stopped".to_string())?;
        let counts = &self.per_file[job.file];
        counts.rows.fetch_add(rows, Ordering::Relaxed);
        counts.bad_lines.fetch_add(bad, Ordering::Relaxed);
        counts.chunks.fetch_add(1, Ordering::Relaxed);
        if plan.compression == Compression::None {
            self.bytes_done.fetch_add(job.end - job.start, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn read_range(plan: &FilePlan, start: u64, end: u64) -> Result<Vec<u8>, String> {
    let failed = |error: std::io::Error| format!("{}: {error}", plan.shown);
    let file = std::fs::File::open(&plan.path).map_err(failed)?;
    let mut bytes = vec![0u8; (end - start) as usize];
    file.read_exact_at(&mut bytes, start).map_err(failed)?;
    Ok(bytes)
}

fn spawn_thread(name: String, body: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new().name(name).spawn(body).expect("spawning an import thread")
}
