//! In-process statistics per table: rows and batches committed, queue depth, and an
//! HDR histogram of every row's receipt→commit latency (µs). Writers record once per
//! batch under one short lock. Readers take snapshots; the difference of two
//! snapshots gives rates and percentiles over an interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::record::{Table, Timestamp};

/// Latencies above one hour are clamped to it.
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

struct TableStats {
    rows_written: AtomicU64,
    batches: AtomicU64,
    queue_depth: AtomicU64,
    /// Rows a batcher took off the lane and no writer has finished with yet.
    rows_in_batches: AtomicU64,
    latency_micros: Mutex<Histogram<u64>>,
}

/// Statistics of one running daemon.
pub struct Stats {
    /// The built-in tables, indexed like `Table::ALL`.
    tables: Vec<TableStats>,
    /// Custom tables, added the first time each is recorded (a few, fixed by the configuration).
    custom: RwLock<Vec<(Table, Arc<TableStats>)>>,
}

/// One table's counters at one moment.
#[derive(Clone)]
pub struct TableSnapshot {
    pub table: Table,
    pub rows_written: u64,
    pub batches: u64,
    pub queue_depth: u64,
    /// Rows in closed batches not yet committed or dead-lettered (encoded, queued for a
    /// writer, or in a writer's hands).
    pub rows_in_batches: u64,
    pub latency_micros: Histogram<u64>,
}

impl TableSnapshot {
    /// Latency percentile in milliseconds (`quantile` in 0..=1), 0 when empty.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        if self.latency_micros.is_empty() {
            return 0.0;
        }
        self.latency_micros.value_at_quantile(quantile) as f64 / 1_000.0
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &TableSnapshot) -> TableSnapshot {
        let mut latency = self.latency_micros.clone();
        // Subtracting an earlier snapshot of the same histogram cannot underflow.
        let _ = latency.subtract(&earlier.latency_micros);
        TableSnapshot {
            table: self.table,
            rows_written: self.rows_written.saturating_sub(earlier.rows_written),
            batches: self.batches.saturating_sub(earlier.batches),
            queue_depth: self.queue_depth,
            rows_in_batches: self.rows_in_batches,
            latency_micros: latency,
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3).expect("static histogram bounds are valid")
}

impl Default for Stats {
    fn default() -> Self {
        Stats { tables: Table::ALL.iter().map(|_| TableStats::new()).collect(), custom: RwLock::new(Vec::new()) }
    }
}

impl TableStats {
    fn new() -> TableStats {
        TableStats {
            rows_written: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            rows_in_batches: AtomicU64::new(0),
            latency_micros: Mutex::new(new_histogram()),
        }
    }
}

impl Stats {
    pub fn new() -> Arc<Stats> {
        Arc::new(Stats::default())
    }

    /// Runs `work` on one table's statistics, adding a custom table on first use.
    fn with_table<T>(&self, table: Table, work: impl FnOnce(&TableStats) -> T) -> T {
        if let Some(index) = table.index() {
            return work(&self.tables[index]);
        }
        let known = {
            let custom = self.custom.read().unwrap_or_else(|poison| poison.into_inner());
            custom.iter().find(|(known, _)| *known == table).map(|(_, stats)| stats.clone())
        };
        let table_stats = known.unwrap_or_else(|| {
            let mut custom = self.custom.write().unwrap_or_else(|poison| poison.into_inner());
            match custom.iter().find(|(known, _)| *known == table) {
                Some((_, stats)) => stats.clone(),
                None => {
                    let stats = Arc::new(TableStats::new());
                    custom.push((table, stats.clone()));
                    stats
                }
            }
        });
        work(&table_stats)
    }

    /// Makes a custom table's statistics known before its first batch, so that
    /// snapshots list it from the start.
    pub fn register(&self, table: Table) {
        self.with_table(table, |_| ());
    }

    /// Records a committed batch: its row count and each row's receipt→commit latency.
    /// Returns the oldest row's latency.
    pub fn record_commit(&self, table: Table, received_at: impl Iterator<Item = Timestamp>, committed_at: Timestamp) -> Duration {
        self.with_table(table, |table_stats| Self::record_commit_into(table_stats, received_at, committed_at))
    }

    fn record_commit_into(table_stats: &TableStats, received_at: impl Iterator<Item = Timestamp>, committed_at: Timestamp) -> Duration {
        let mut rows = 0u64;
        let mut worst = 0u64;
        {
            let mut histogram = table_stats.latency_micros.lock().unwrap_or_else(|poison| poison.into_inner());
            // Rows received together (a frame's, a message's) come in runs of one latency:
            // each run is recorded once, with its count.
            let mut run: Option<(u64, u64)> = None;
            for received in received_at {
                let latency = (committed_at.micros() - received.micros()).clamp(1, MAX_LATENCY_MICROS as i64) as u64;
                rows += 1;
                match &mut run {
                    Some((value, count)) if *value == latency => *count += 1,
                    _ => {
                        if let Some((value, count)) = run.replace((latency, 1)) {
                            let _ = histogram.record_n(value, count);
                        }
                        worst = worst.max(latency);
                    }
                }
            }
            if let Some((value, count)) = run {
                let _ = histogram.record_n(value, count);
            }
        }
        table_stats.rows_written.fetch_add(rows, Ordering::Relaxed);
        table_stats.batches.fetch_add(1, Ordering::Relaxed);
        Duration::from_micros(worst)
    }

    pub fn set_queue_depth(&self, table: Table, depth: usize) {
        self.with_table(table, |table_stats| table_stats.queue_depth.store(depth as u64, Ordering::Relaxed));
    }

    /// A batcher closed a batch of `rows` and hands it on.
    pub fn batch_closed(&self, table: Table, rows: usize) {
        self.with_table(table, |table_stats| table_stats.rows_in_batches.fetch_add(rows as u64, Ordering::Relaxed));
    }

    /// A writer is done with a batch of `rows` closed by the batcher (committed, or its
    /// refused rows dead-lettered).
    pub fn batch_finished(&self, table: Table, rows: usize) {
        self.with_table(table, |table_stats| {
            let _ = table_stats
                .rows_in_batches
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| Some(held.saturating_sub(rows as u64)));
        });
    }

    pub fn snapshot(&self, table: Table) -> TableSnapshot {
        self.with_table(table, |table_stats| Self::snapshot_of(table, table_stats))
    }

    fn snapshot_of(table: Table, table_stats: &TableStats) -> TableSnapshot {
        TableSnapshot {
            table,
            rows_written: table_stats.rows_written.load(Ordering::Relaxed),
            batches: table_stats.batches.load(Ordering::Relaxed),
            queue_depth: table_stats.queue_depth.load(Ordering::Relaxed),
            rows_in_batches: table_stats.rows_in_batches.load(Ordering::Relaxed),
            latency_micros: table_stats.latency_micros.lock().unwrap_or_else(|poison| poison.into_inner()).clone(),
        }
    }

    /// Every built-in table, then every custom table recorded so far.
    pub fn snapshots(&self) -> Vec<TableSnapshot> {
        let mut snapshots: Vec<TableSnapshot> = Table::ALL.iter().map(|table| self.snapshot(*table)).collect();
        let custom = self.custom.read().unwrap_or_else(|poison| poison.into_inner());
        snapshots.extend(custom.iter().map(|(table, table_stats)| Self::snapshot_of(*table, table_stats)));
        snapshots
    }
}

/// Logs per interval one line per active table (its name in the `table` field): rows/s,
/// latency percentiles and queue depth.
pub fn spawn_summary_logger(stats: Arc<Stats>, interval: Duration, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut previous = stats.snapshots();
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let current = stats.snapshots();
            let deltas = current.iter().zip(&previous).map(|(now, before)| now.since(before));
            for delta in deltas.filter(|delta| delta.rows_written > 0 || delta.queue_depth > 0) {
                tracing::info!(
                    table = %delta.table,
                    rows_per_sec = (delta.rows_written as f64 / interval.as_secs_f64()).round() as u64,
                    p50_ms = delta.latency_ms(0.5),
                    p99_ms = delta.latency_ms(0.99),
                    p999_ms = delta.latency_ms(0.999),
                    queue = delta.queue_depth,
                    "summary"
                );
            }
            previous = current;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_records_every_row_latency_in_runs_and_returns_the_worst() {
        let stats = Stats::default();
        let committed = Timestamp(10_000_000);
        // Runs of one receipt time, a lone row, and a run that comes back.
        let received: Vec<i64> = vec![9_000_000, 9_000_000, 9_000_000, 5_000_000, 9_500_000, 9_500_000, 9_000_000];
        let oldest = stats.record_commit(Table::Ticks, received.iter().map(|micros| Timestamp(*micros)), committed);
        assert_eq!(oldest, Duration::from_secs(5));
        let snapshot = stats.snapshot(Table::Ticks);
        assert_eq!(snapshot.rows_written, 7);
        let histogram = &snapshot.latency_micros;
        assert_eq!(histogram.len(), 7);
        assert_eq!(histogram.count_at(1_000_000), 4);
        assert_eq!(histogram.count_at(500_000), 2);
        assert_eq!(histogram.count_at(5_000_000), 1);
    }
}
