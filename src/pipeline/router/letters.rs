//! Dead letters and feed events: the lanes beside the tables', which a source reaches
//! through the router like its records.

use crate::metrics::events;
use crate::record::{DeadLetter, FeedEvent};

use super::super::lane::{SendError, Sequenced};
use super::super::release::SpoolRelease;
use super::Router;

impl Router {
    /// Keeps a dead letter: counted and logged (sampled) here, written by its writer.
    /// Never waits: when the dead-letter lane is at its bound (`tables.dead_letters`
    /// `channel_capacity` / `channel_max_bytes`), the letter is dropped, counted in
    /// `hypertick_dead_letters_dropped_total{reason}` and sampled to the log, so that
    /// hostile input cannot grow memory or stall its own connection on its refusals.
    pub async fn dead_letter(&self, letter: DeadLetter) {
        events::dead_lettered(&letter);
        match self.lanes.dead_letters.try_send_uncounted(Sequenced::unspooled(letter)) {
            Ok(()) => {}
            Err((unsent, SendError::Full(_))) => events::dead_letter_dropped(&unsent.row),
            Err((unsent, error)) => events::dead_letter_unqueued(&unsent.row, &error),
        }
    }

    /// Keeps the dead letter of a record that was accepted before (read back from the
    /// spool): waits for room rather than dropping it, as the producer was told it was taken.
    pub async fn dead_letter_waiting(&self, letter: DeadLetter) {
        events::dead_lettered(&letter);
        if let Err(error) = self.lanes.dead_letters.send_waiting(Sequenced::unspooled(letter.clone())).await {
            events::dead_letter_unqueued(&letter, &error);
        }
    }

    /// Dead-letters spooled sequences of `stream` and counts them as done: released
    /// together with the dead letter, in one transaction where there is a database.
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
        if let Err(tokio::sync::mpsc::error::SendError(release)) = releases.send(SpoolRelease { stream, ranges, letter }).await {
            // Stopping: the sequences stay in the spool and are found again on the next start.
            events::dead_letter_unqueued(&release.letter, &"the spool release writer has stopped");
        }
    }

    pub async fn feed_event(&self, event: FeedEvent) {
        if self.lanes.feed_events.send(Sequenced::unspooled(event)).await.is_err() {
            tracing::debug!("feed event dropped during shutdown");
        }
    }
}
