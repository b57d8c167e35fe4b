//! A spooled record that ends as a dead letter instead of a row (it no longer decodes,
//! it is refused when read back, or it was lost to a damaged segment) still counts as
//! done for the spool: its sequences are released together with the dead letter, in
//! one transaction where there is a database, so the committed watermark never waits
//! for them and the spool can always free its segments.

use tokio::sync::mpsc;

use super::router::Router;
use crate::metrics::events;
use crate::record::DeadLetter;

/// A dead letter that releases spooled sequences.
#[derive(Debug)]
pub struct SpoolRelease {
    pub stream: u16,
    /// Inclusive ranges; empty when the dead letter releases nothing (a loss whose
    /// sequences are not known).
    pub ranges: Vec<(u64, u64)>,
    pub letter: DeadLetter,
}

/// Releases waiting for their transaction. Each holds one dead letter, which is bounded
/// in bytes (`DeadLetter::MAX_RAW_BYTES` for its detail and raw text).
pub const RELEASE_QUEUE: usize = 64;

pub type ReleaseSender = mpsc::Sender<SpoolRelease>;

impl Router {
    /// Dead-letters spooled sequences of `stream` and counts them as done.
    pub async fn dead_letter_spooled(&self, stream: u16, ranges: Vec<(u64, u64)>, letter: DeadLetter) {
        let Some(gate) = &self.spool else {
            return self.dead_letter(letter).await;
        };
        let Some(releases) = &gate.releases else {
            // No database here (a bus edge): the dead letter goes its usual way and the
            // sequences are done for this run.
            self.dead_letter(letter).await;
            gate.progress.committed(stream, &ranges);
            return;
        };
        events::dead_lettered(&letter);
        if let Err(mpsc::error::SendError(release)) = releases.send(SpoolRelease { stream, ranges, letter }).await {
            // Stopping: the sequences stay in the spool and are found again on the next start.
            events::dead_letter_unqueued(&release.letter, &"the spool release writer has stopped");
        }
    }
}
