//! What an import shows: a progress bar on stderr (bytes, rows committed, rows/s,
//! ETA; hidden when stderr is not a terminal) and the summary printed at the end.

use std::fmt;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::record::Table;

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    pub fn new(total_bytes: u64, enabled: bool) -> Progress {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Progress { bar, started: Instant::now() }
    }

    /// `bytes` read so far, `rows` committed so far.
    pub fn update(&self, bytes: u64, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            let rate = rows as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!("{rows} rows, {} rows/s", rate.round() as u64));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One file's part of an import.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub shown: String,
    /// `csv, gzip`, …
    pub kind: String,
    pub rows: u64,
    pub bad_lines: u64,
    pub chunks: u64,
    /// Chunks committed by earlier runs.
    pub chunks_before: usize,
    /// Wholly imported before: nothing was read.
    pub skipped: bool,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub table: Table,
    pub files: Vec<FileReport>,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Why it stopped before the end.
    pub stopped: Option<String>,
    /// The `…/done` streams of the files read to their end, and their ends.
    pub done_marks: Vec<(String, i64)>,
}

impl ImportReport {
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|file| file.rows).sum()
    }

    pub fn bad_lines(&self) -> u64 {
        self.files.iter().map(|file| file.bad_lines).sum()
    }

    pub fn rows_per_sec(&self) -> f64 {
        self.rows() as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.stopped.is_some() { "committed before stopping" } else { "imported" };
        writeln!(
            f,
            "{verb}: {} rows into {} from {} file(s) in {:.1} s ({:.0} rows/s, {:.1} MiB read)",
            self.rows(),
            self.table,
            self.files.len(),
            self.elapsed.as_secs_f64(),
            self.rows_per_sec(),
            self.bytes as f64 / (1u64 << 20) as f64
        )?;
        for file in &self.files {
            if file.skipped {
                writeln!(f, "  {} ({}): already imported, skipped", file.shown, file.kind)?;
                continue;
            }
            let resumed = match file.chunks_before {
                0 => String::new(),
                before => format!(", resumed after {before} chunk(s) committed earlier"),
            };
            writeln!(
                f,
                "  {} ({}): {} rows, {} bad line(s), {} chunk(s){resumed}",
                file.shown, file.kind, file.rows, file.bad_lines, file.chunks
            )?;
        }
        if self.bad_lines() > 0 {
            writeln!(
                f,
                "  {} bad line(s) kept in dead_letters: SELECT detail, raw FROM dead_letters WHERE source = 'import' ORDER BY id",
                self.bad_lines()
            )?;
        }
        if let Some(reason) = &self.stopped {
            writeln!(f, "  {reason}")?;
        }
        Ok(())
    }
}
