//! A lane is one table's bounded crossbeam channel. When it is full the configured
//! policy applies: block the producer (default) or reject the record. Both are counted.
//!
//! Rows travel boxed: a bounded channel allocates and writes every slot when it is made,
//! so a slot the size of a row (up to a few hundred bytes) times the capacity (65 536 by
//! default) times a dozen tables was well over 100 MB resident from the start. A slot
//! holding a pointer is 16 bytes; a row's memory is taken only while it is queued.

use std::time::Instant;

use crossbeam_channel::{Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use crate::config::FullPolicy;
use crate::metrics::events;
use crate::record::Table;

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

/// The sending half of a table's lane; cheap to clone.
#[derive(Debug)]
pub struct LaneSender<R> {
    sender: Sender<Box<R>>,
    table: Table,
    policy: FullPolicy,
}

impl<R> Clone for LaneSender<R> {
    fn clone(&self) -> Self {
        LaneSender { sender: self.sender.clone(), table: self.table, policy: self.policy }
    }
}

/// The receiving half, read by the table's batcher thread.
#[derive(Debug)]
pub struct LaneReceiver<R> {
    receiver: Receiver<Box<R>>,
}

impl<R> LaneReceiver<R> {
    pub fn recv(&self) -> Result<R, RecvError> {
        self.receiver.recv().map(|row| *row)
    }

    pub fn try_recv(&self) -> Result<R, TryRecvError> {
        self.receiver.try_recv().map(|row| *row)
    }

    pub fn recv_deadline(&self, deadline: Instant) -> Result<R, RecvTimeoutError> {
        self.receiver.recv_deadline(deadline).map(|row| *row)
    }

    /// Rows queued now.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// Every row until the lane is closed and empty.
    pub fn iter(&self) -> impl Iterator<Item = R> + '_ {
        self.receiver.iter().map(|row| *row)
    }
}

pub fn lane<R>(table: Table, capacity: usize, policy: FullPolicy) -> (LaneSender<R>, LaneReceiver<R>) {
    let (sender, receiver) = crossbeam_channel::bounded(capacity);
    (LaneSender { sender, table, policy }, LaneReceiver { receiver })
}

impl<R: Send + 'static> LaneSender<R> {
    /// Queues a row, applying the full policy. Blocking happens on a blocking-pool
    /// thread so the async reactor never stalls; the caller simply awaits.
    pub async fn send(&self, row: R) -> Result<(), SendError> {
        match self.sender.try_send(Box::new(row)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(SendError::Closed),
            Err(TrySendError::Full(row)) => {
                events::channel_full(self.table, self.policy);
                match self.policy {
                    FullPolicy::Reject => Err(SendError::Full(self.table)),
                    FullPolicy::Block => {
                        let sender = self.sender.clone();
                        match tokio::task::spawn_blocking(move || sender.send(row)).await {
                            Ok(Ok(())) => Ok(()),
                            _ => Err(SendError::Closed),
                        }
                    }
                }
            }
        }
    }

    /// Queues a row if there is room, without waiting; hands the row back when the lane
    /// is full or closed.
    pub fn try_send(&self, row: R) -> Result<(), (R, SendError)> {
        match self.sender.try_send(Box::new(row)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(row)) => {
                events::channel_full(self.table, self.policy);
                Err((*row, SendError::Full(self.table)))
            }
            Err(TrySendError::Disconnected(row)) => Err((*row, SendError::Closed)),
        }
    }

    /// Queues a row if there is room; hands it back otherwise, for a caller that then
    /// takes the path applying the full policy (which counts it).
    pub fn try_send_quiet(&self, row: R) -> Result<(), R> {
        self.sender.try_send(Box::new(row)).map_err(|error| *error.into_inner())
    }

    /// Queues a row, waiting for room whatever the full policy.
    pub async fn send_waiting(&self, row: R) -> Result<(), SendError> {
        match self.sender.try_send(Box::new(row)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(SendError::Closed),
            Err(TrySendError::Full(row)) => {
                let sender = self.sender.clone();
                match tokio::task::spawn_blocking(move || sender.send(row)).await {
                    Ok(Ok(())) => Ok(()),
                    _ => Err(SendError::Closed),
                }
            }
        }
    }

    /// Queues a row from a plain (non-async) thread, blocking when full.
    pub fn send_blocking(&self, row: R) -> Result<(), SendError> {
        self.sender.send(Box::new(row)).map_err(|_| SendError::Closed)
    }

}
