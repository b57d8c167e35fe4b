//! Which spool streams spill, and the wake-ups of their readers (see `spill`). Appends
//! and the spill switch of a stream share its lock, so no record slips past a switch.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::record::Table;
use crate::spool::StreamCursor;

#[derive(Debug, Default)]
pub struct SpillState {
    /// The cursor of the reader while the table is spilling.
    pub cursor: Option<StreamCursor>,
}

/// Per table: whether it spills, and the wake-up for its reader.
#[derive(Debug)]
pub struct Spills {
    states: Vec<Mutex<SpillState>>,
    wakes: Vec<Notify>,
}

impl Default for Spills {
    fn default() -> Self {
        Spills {
            states: (0..Table::SPOOL_STREAMS).map(|_| Mutex::new(SpillState::default())).collect(),
            wakes: (0..Table::SPOOL_STREAMS).map(|_| Notify::new()).collect(),
        }
    }
}

impl Spills {
    /// The table's spill state; held across an append and the queueing decision.
    pub fn lock(&self, stream: u16) -> MutexGuard<'_, SpillState> {
        self.states[stream as usize].lock().unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn wake(&self, stream: u16) {
        self.wakes[stream as usize].notify_one();
    }

    /// Resolves at the stream's next wake-up.
    pub async fn woken(&self, stream: u16) {
        self.wakes[stream as usize].notified().await;
    }
}
