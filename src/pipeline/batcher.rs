//! The batcher: a plain thread per table that takes rows off the table's lane and
//! closes a batch when it holds `max_rows` rows or `max_bytes` estimated bytes, or when
//! its first row has waited `linger`. Closed batches go to `deliver` (the sink's encoder stage). When every
//! sender is gone the batcher flushes what it holds and returns: that is how shutdown
//! drains the pipeline.
//!
//! A batch is gathered in buffers the batcher keeps ([`Gather`]), and `deliver` takes the
//! rows out of them: the encoder stage gathers each row straight into the parts its
//! writers need and swaps in buffers its writers gave back, so at high rates a batch
//! neither is copied once more nor lands in freshly allocated memory (both showed in
//! profiles: page faults zeroing new pages, and a pass over every row).

use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::gather::Gather;
use super::lane::LaneReceiver;
use crate::metrics::{events, Stats};
use crate::record::{ApproxBytes, Table};

#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    pub max_rows: usize,
    /// A batch closes once its rows' estimated bytes reach this (a single row larger
    /// than it makes a batch of its own).
    pub max_bytes: usize,
    pub linger: Duration,
}

/// `deliver` could not hand the batch on: its downstream is gone. The rows stay where
/// they were gathered.
#[derive(Debug, PartialEq, Eq)]
pub struct DownstreamGone;

/// A batcher's `deliver`: takes a closed batch's rows out of what gathered them (leaving
/// it empty), or leaves them there and says its downstream is gone.
pub trait Deliver<G>: FnMut(&mut G) -> Result<(), DownstreamGone> {}
impl<G, F: FnMut(&mut G) -> Result<(), DownstreamGone>> Deliver<G> for F {}

/// A [`Deliver`] from a function that takes the batch by value and gives it back when
/// its downstream is gone (the vec is then not reused).
pub fn taking<R>(mut deliver: impl FnMut(Vec<R>) -> Result<(), Vec<R>>) -> impl Deliver<Vec<R>> {
    move |rows: &mut Vec<R>| {
        deliver(std::mem::take(rows)).map_err(|unsent| {
            *rows = unsent;
            DownstreamGone
        })
    }
}

/// Runs until the lane is closed and drained, or `deliver` says its downstream is
/// gone, gathering each batch in `rows` (empty). Returns the rows it was still holding
/// in that second case.
pub fn run_batcher<R: ApproxBytes, G: Gather<R>>(
    table: Table,
    receiver: LaneReceiver<R>,
    settings: BatchSettings,
    stats: &Stats,
    mut rows: G,
    mut deliver: impl Deliver<G>,
) -> usize {
    loop {
        let first = match receiver.recv() {
            Ok(row) => row,
            Err(_) => return 0,
        };
        let deadline = Instant::now() + settings.linger;
        rows.reserve(settings.max_rows.min(receiver.len() + 1).max(64));
        let mut bytes = first.approx_bytes();
        rows.push(first);
        let mut lane_closed = false;
        while rows.len() < settings.max_rows && bytes < settings.max_bytes {
            // Take what is already queued without touching the clock.
            match receiver.drain_into(&mut rows, settings.max_rows, &mut bytes, settings.max_bytes) {
                Ok(()) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    lane_closed = true;
                    break;
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {}
            }
            match receiver.recv_deadline(deadline) {
                Ok(row) => {
                    bytes += row.approx_bytes();
                    rows.push(row);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    lane_closed = true;
                    break;
                }
            }
        }
        events::queue_depth(table, receiver.len());
        stats.set_queue_depth(table, receiver.len());
        if deliver(&mut rows).is_err() {
            return rows.len() + receiver.len();
        }
        if lane_closed && receiver.is_empty() {
            return 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FullPolicy;
    use crate::pipeline::lane;

    fn collect(settings: BatchSettings, feed: impl FnOnce(crate::pipeline::LaneSender<u32>) + Send + 'static) -> Vec<Vec<u32>> {
        let (sender, receiver) = lane::<u32>(Table::Ticks, 1_000, usize::MAX, FullPolicy::Block);
        let feeder = std::thread::spawn(move || feed(sender));
        let mut batches = Vec::new();
        let left = run_batcher(Table::Ticks, receiver, settings, &Stats::default(), Vec::new(), |rows: &mut Vec<u32>| {
            batches.push(std::mem::take(rows));
            Ok(())
        });
        feeder.join().unwrap();
        assert_eq!(left, 0);
        batches
    }

    #[test]
    fn batches_close_on_size() {
        let settings = BatchSettings { max_rows: 10, max_bytes: usize::MAX, linger: Duration::from_secs(30) };
        let batches = collect(settings, |sender| {
            for value in 0..35 {
                sender.send_blocking(value).unwrap();
            }
        });
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 10, 5], "the last batch flushes when the lane closes");
        assert_eq!(batches.concat(), (0..35).collect::<Vec<_>>());
    }

    #[test]
    fn batches_close_on_bytes() {
        // Each u32 is 4 bytes: 12 bytes close a batch at 3 rows.
        let settings = BatchSettings { max_rows: 10, max_bytes: 12, linger: Duration::from_secs(30) };
        let batches = collect(settings, |sender| {
            for value in 0..7 {
                sender.send_blocking(value).unwrap();
            }
        });
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 3, 1]);
    }

    #[test]
    fn batches_close_on_linger() {
        let settings = BatchSettings { max_rows: 1_000, max_bytes: usize::MAX, linger: Duration::from_millis(20) };
        let batches = collect(settings, |sender| {
            for value in 0..3 {
                sender.send_blocking(value).unwrap();
            }
            std::thread::sleep(Duration::from_millis(300));
            sender.send_blocking(3).unwrap();
        });
        assert_eq!(batches, vec![vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn undelivered_rows_are_reported() {
        let (sender, receiver) = lane::<u32>(Table::Ticks, 100, usize::MAX, FullPolicy::Block);
        for value in 0..50 {
            sender.send_blocking(value).unwrap();
        }
        let settings = BatchSettings { max_rows: 10, max_bytes: usize::MAX, linger: Duration::from_millis(1) };
        let left = run_batcher(Table::Ticks, receiver, settings, &Stats::default(), Vec::new(), taking(Err));
        assert_eq!(left, 50);
    }
}
