//! A lane is one table's bounded crossbeam channel, bounded twice: in rows (the
//! channel's capacity) and in bytes (the records' estimated size in memory, see
//! `ApproxBytes`). It is full when either bound is reached; then the configured policy
//! applies: block the producer (default) or reject the record. Both are counted. A lane
//! holding nothing always takes one record, so a record larger than the byte bound
//! still moves (the per-table `max_record_bytes` refuses oversized records earlier).
//!
//! Rows travel boxed: a bounded channel allocates and writes every slot when it is made,
//! so a slot the size of a row (up to a few hundred bytes) times the capacity (65 536 by
//! default) times a dozen tables was well over 100 MB resident from the start. A slot
//! holding a pointer is 16 bytes; a row's memory is taken only while it is queued.
//!
//! A sender may also queue a *run* of rows in one slot ([`LaneSender::try_send_run`]):
//! one allocation and one reservation for up to a few hundred rows instead of one each.
//! At hundreds of thousands of ticks a second the per-row box, its free on the batcher's
//! thread and the channel's per-row atomics were about a seventh of the daemon's time.
//! The row bound is therefore kept by the lane's own count, like the byte bound, and the
//! channel's capacity in slots (never more than the rows they hold) only backs it up.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use std::cell::RefCell;

use crossbeam_channel::{Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use super::gather::Gather;
use crate::config::FullPolicy;
use crate::metrics::events;
use crate::record::{ApproxBytes, Table};

/// Why a record could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the {0} queue is full")]
    Full(Table),
    #[error("the daemon is shutting down")]
    Closed,
}

/// A row on its way to the database with its spool sequence: 0 when it was not spooled
/// (feed events, dead letters, or no spool configured).
#[derive(Debug, Clone, PartialEq)]
pub struct Sequenced<R> {
    pub sequence: u64,
    /// The key of the producer's record `id` (0: none), stored when the row commits.
    pub id: u128,
    pub row: R,
}

impl<R> Sequenced<R> {
    /// A row that is not in the spool.
    pub fn unspooled(row: R) -> Self {
        Sequenced { sequence: 0, id: 0, row }
    }
}

impl<R: ApproxBytes> ApproxBytes for Sequenced<R> {
    fn approx_bytes(&self) -> usize {
        // The box the lane moves it in, and the sequence and id beside the row.
        16 + 8 + 16 + self.row.approx_bytes()
    }
}

/// How much one lane holds, shared by its senders, its receiver and whoever reports it.
#[derive(Debug)]
pub struct LaneState {
    table: Table,
    rows: AtomicUsize,
    max_rows: usize,
    bytes: AtomicUsize,
    max_bytes: usize,
    /// Senders waiting for bytes to free up; the receiver wakes them only then.
    waiting: AtomicUsize,
    receiver_gone: AtomicBool,
    lock: Mutex<()>,
    room: Condvar,
}

impl LaneState {
    pub fn table(&self) -> Table {
        self.table
    }

    /// Rows queued now.
    pub fn rows(&self) -> usize {
        self.rows.load(Ordering::Relaxed)
    }

    /// Estimated bytes of the rows queued now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Takes `rows` and `bytes` of the bounds if both fit (or the lane holds nothing).
    fn try_reserve(&self, rows: usize, bytes: usize) -> bool {
        if !take_within(&self.rows, rows, self.max_rows) {
            return false;
        }
        if !take_within(&self.bytes, bytes, self.max_bytes) {
            self.rows.fetch_sub(rows, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Waits until `rows` and `bytes` fit; false when the receiver is gone.
    fn reserve_blocking(&self, rows: usize, bytes: usize) -> bool {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.lock.lock().unwrap_or_else(|poison| poison.into_inner());
        let reserved = loop {
            if self.try_reserve(rows, bytes) {
                break true;
            }
            if self.receiver_gone.load(Ordering::SeqCst) {
                break false;
            }
            // The timeout only guards against a missed wake-up; releases notify.
            guard = self.room.wait_timeout(guard, Duration::from_millis(100)).unwrap_or_else(|poison| poison.into_inner()).0;
        };
        drop(guard);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        reserved
    }

    fn release(&self, bytes: usize, rows: usize) {
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.rows.fetch_sub(rows, Ordering::AcqRel);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|poison| poison.into_inner());
            self.room.notify_all();
        }
    }
}

/// Adds `amount` to `held` if the sum stays within `max` (or `held` is 0).
fn take_within(held: &AtomicUsize, amount: usize, max: usize) -> bool {
    let mut now = held.load(Ordering::Relaxed);
    loop {
        if now > 0 && now.saturating_add(amount) > max {
            return false;
        }
        match held.compare_exchange_weak(now, now + amount, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(current) => now = current,
        }
    }
}

/// What one slot of the channel holds: a row, or a run of rows queued together.
#[derive(Debug)]
enum Slot<R> {
    One(R),
    Run(Vec<R>),
}

/// The sending half of a table's lane; cheap to clone.
#[derive(Debug)]
pub struct LaneSender<R> {
    sender: Sender<Box<Slot<R>>>,
    state: Arc<LaneState>,
    policy: FullPolicy,
}

impl<R> Clone for LaneSender<R> {
    fn clone(&self) -> Self {
        LaneSender { sender: self.sender.clone(), state: self.state.clone(), policy: self.policy }
    }
}

/// Rows a receiver takes before it releases their room ([`LaneReceiver::drain_into`]).
const RELEASE_EVERY: usize = 256;

/// The receiving half, read by the table's batcher thread.
#[derive(Debug)]
pub struct LaneReceiver<R: ApproxBytes> {
    receiver: Receiver<Box<Slot<R>>>,
    state: Arc<LaneState>,
    /// The rest of a run whose first rows were taken (still counted in the lane).
    run: RefCell<std::vec::IntoIter<R>>,
}

impl<R: ApproxBytes> Drop for LaneReceiver<R> {
    fn drop(&mut self) {
        self.state.receiver_gone.store(true, Ordering::SeqCst);
        let _guard = self.state.lock.lock().unwrap_or_else(|poison| poison.into_inner());
        self.state.room.notify_all();
    }
}

impl<R: ApproxBytes> LaneReceiver<R> {
    fn taken(&self, row: R) -> R {
        self.state.release(row.approx_bytes(), 1);
        row
    }

    /// A slot's first row; the rest of a run is kept for the next calls.
    fn first_of(&self, slot: Slot<R>) -> R {
        match slot {
            Slot::One(row) => self.taken(row),
            Slot::Run(rows) => {
                let mut rows = rows.into_iter();
                let first = rows.next();
                *self.run.borrow_mut() = rows;
                // A run is never queued empty.
                self.taken(first.expect("a queued run holds rows"))
            }
        }
    }

    /// The next row of a run taken before.
    fn next_of_run(&self) -> Option<R> {
        let row = self.run.borrow_mut().next()?;
        Some(self.taken(row))
    }

    pub fn recv(&self) -> Result<R, RecvError> {
        if let Some(row) = self.next_of_run() {
            return Ok(row);
        }
        self.receiver.recv().map(|slot| self.first_of(*slot))
    }

    pub fn recv_deadline(&self, deadline: Instant) -> Result<R, RecvTimeoutError> {
        if let Some(row) = self.next_of_run() {
            return Ok(row);
        }
        self.receiver.recv_deadline(deadline).map(|slot| self.first_of(*slot))
    }

    /// Moves the rows queued now into `rows` while it holds fewer than `max_rows` and
    /// `bytes` (their estimated size, added to here) is below `max_bytes`; `Ok` when it
    /// stopped at a bound, the channel's error when the lane ran empty or is closed.
    /// Their room is released every [`RELEASE_EVERY`] rows rather than row by row: each
    /// release is a few atomic operations on a cache line the senders also write.
    pub fn drain_into<G: Gather<R>>(&self, rows: &mut G, max_rows: usize, bytes: &mut usize, max_bytes: usize) -> Result<(), TryRecvError> {
        let (mut taken, mut taken_bytes) = (0usize, 0usize);
        let mut take = |row: R, rows: &mut G, bytes: &mut usize| {
            let size = row.approx_bytes();
            rows.push(row);
            *bytes += size;
            taken += 1;
            taken_bytes += size;
            if taken == RELEASE_EVERY {
                self.state.release(taken_bytes, taken);
                (taken, taken_bytes) = (0, 0);
            }
        };
        let mut run = self.run.borrow_mut();
        let ended = loop {
            while rows.len() < max_rows && *bytes < max_bytes {
                let Some(row) = run.next() else { break };
                take(row, rows, bytes);
            }
            if rows.len() >= max_rows || *bytes >= max_bytes {
                break Ok(());
            }
            match self.receiver.try_recv() {
                Ok(slot) => match *slot {
                    Slot::One(row) => take(row, rows, bytes),
                    Slot::Run(queued) => *run = queued.into_iter(),
                },
                Err(error) => break Err(error),
            }
        };
        if taken > 0 {
            self.state.release(taken_bytes, taken);
        }
        ended
    }

    /// Rows queued now.
    pub fn len(&self) -> usize {
        self.state.rows()
    }

    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty() && self.run.borrow().len() == 0
    }

    /// Every row until the lane is closed and empty.
    pub fn iter(&self) -> impl Iterator<Item = R> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// What the lane holds, for reports that outlive the receiver's thread.
    pub fn state(&self) -> Arc<LaneState> {
        self.state.clone()
    }
}

/// A lane of at most `capacity` rows and `max_bytes` estimated bytes.
pub fn lane<R: ApproxBytes>(table: Table, capacity: usize, max_bytes: usize, policy: FullPolicy) -> (LaneSender<R>, LaneReceiver<R>) {
    let (sender, receiver) = crossbeam_channel::bounded(capacity);
    let state = Arc::new(LaneState {
        table,
        rows: AtomicUsize::new(0),
        max_rows: capacity,
        bytes: AtomicUsize::new(0),
        max_bytes,
        waiting: AtomicUsize::new(0),
        receiver_gone: AtomicBool::new(false),
        lock: Mutex::new(()),
        room: Condvar::new(),
    });
    (LaneSender { sender, state: state.clone(), policy }, LaneReceiver { receiver, state, run: RefCell::new(Vec::new().into_iter()) })
}

/// Why a non-blocking send did not queue.
enum Refused<R> {
    Full(R),
    Closed(R),
}

impl<R> Refused<R> {
    fn into_inner(self) -> R {
        match self {
            Refused::Full(row) | Refused::Closed(row) => row,
        }
    }
}

/// A refused slot's row.
fn one<R>(slot: Slot<R>) -> R {
    match slot {
        Slot::One(row) => row,
        Slot::Run(_) => unreachable!("a row is queued as Slot::One"),
    }
}

impl<R: ApproxBytes + Send + 'static> LaneSender<R> {
    pub fn table(&self) -> Table {
        self.state.table
    }

    /// What the lane holds now.
    pub fn state(&self) -> &Arc<LaneState> {
        &self.state
    }

    /// Queues without waiting if both the row and byte bounds have room.
    fn offer(&self, slot: Box<Slot<R>>, rows: usize, bytes: usize) -> Result<(), Refused<Box<Slot<R>>>> {
        if !self.state.try_reserve(rows, bytes) {
            return Err(Refused::Full(slot));
        }
        self.sender.try_send(slot).map_err(|error| {
            self.state.release(bytes, rows);
            match error {
                TrySendError::Full(slot) => Refused::Full(slot),
                TrySendError::Disconnected(slot) => Refused::Closed(slot),
            }
        })
    }

    /// [`LaneSender::offer`] for one row.
    fn offer_one(&self, row: R) -> Result<(), Refused<R>> {
        let bytes = row.approx_bytes();
        self.offer(Box::new(Slot::One(row)), 1, bytes).map_err(|refused| match refused {
            Refused::Full(slot) => Refused::Full(one(*slot)),
            Refused::Closed(slot) => Refused::Closed(one(*slot)),
        })
    }

    /// Waits for room in both bounds (on the calling thread).
    fn wait_and_send(&self, row: R) -> Result<(), SendError> {
        let bytes = row.approx_bytes();
        if !self.state.reserve_blocking(1, bytes) {
            return Err(SendError::Closed);
        }
        self.sender.send(Box::new(Slot::One(row))).map_err(|_| {
            self.state.release(bytes, 1);
            SendError::Closed
        })
    }

    /// Waits for room on a blocking-pool thread so the async reactor never stalls.
    async fn wait_and_send_off_reactor(&self, row: R) -> Result<(), SendError> {
        let sender = self.clone();
        match tokio::task::spawn_blocking(move || sender.wait_and_send(row)).await {
            Ok(sent) => sent,
            Err(_) => Err(SendError::Closed),
        }
    }

    /// Queues a row, applying the full policy. Blocking happens on a blocking-pool
    /// thread so the async reactor never stalls; the caller simply awaits.
    pub async fn send(&self, row: R) -> Result<(), SendError> {
        match self.offer_one(row) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(_)) => Err(SendError::Closed),
            Err(Refused::Full(row)) => {
                events::channel_full(self.state.table, self.policy);
                match self.policy {
                    FullPolicy::Reject => Err(SendError::Full(self.state.table)),
                    FullPolicy::Block => self.wait_and_send_off_reactor(row).await,
                }
            }
        }
    }

    /// Queues a row if there is room, without waiting; hands the row back when the lane
    /// is full or closed.
    pub fn try_send(&self, row: R) -> Result<(), (R, SendError)> {
        match self.offer_one(row) {
            Ok(()) => Ok(()),
            Err(Refused::Full(row)) => {
                events::channel_full(self.state.table, self.policy);
                Err((row, SendError::Full(self.state.table)))
            }
            Err(Refused::Closed(row)) => Err((row, SendError::Closed)),
        }
    }

    /// Queues a row if there is room; hands it back otherwise, for a caller that then
    /// takes the path applying the full policy (which counts it).
    pub fn try_send_quiet(&self, row: R) -> Result<(), R> {
        self.offer_one(row).map_err(Refused::into_inner)
    }

    /// Queues a run of rows in one slot if there is room for all of them; hands them
    /// back otherwise (full or closed), for a caller that then queues them one by one
    /// on the path applying the full policy (which counts it). An empty run queues
    /// nothing.
    pub fn try_send_run(&self, rows: Vec<R>) -> Result<(), Vec<R>> {
        if rows.is_empty() {
            return Ok(());
        }
        let count = rows.len();
        let bytes = rows.iter().map(ApproxBytes::approx_bytes).sum();
        self.offer(Box::new(Slot::Run(rows)), count, bytes).map_err(|refused| match *refused.into_inner() {
            Slot::Run(rows) => rows,
            Slot::One(_) => unreachable!("a run is queued as Slot::Run"),
        })
    }

    /// Queues a row if there is room, without waiting or counting; hands it back with
    /// the reason otherwise, for a caller with its own policy for a full lane.
    pub fn try_send_uncounted(&self, row: R) -> Result<(), (R, SendError)> {
        self.offer_one(row).map_err(|refused| match refused {
            Refused::Full(row) => (row, SendError::Full(self.state.table)),
            Refused::Closed(row) => (row, SendError::Closed),
        })
    }

    /// Queues a row, waiting for room whatever the full policy.
    pub async fn send_waiting(&self, row: R) -> Result<(), SendError> {
        match self.offer_one(row) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(_)) => Err(SendError::Closed),
            Err(Refused::Full(row)) => self.wait_and_send_off_reactor(row).await,
        }
    }

    /// Queues a row from a plain (non-async) thread, blocking when full.
    pub fn send_blocking(&self, row: R) -> Result<(), SendError> {
        self.wait_and_send(row)
    }
}

#[cfg(test)]
#[path = "lane_tests.rs"]
mod tests;
