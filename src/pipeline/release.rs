//! A spooled record that ends as a dead letter instead of a row (it no longer decodes,
//! it is refused when read back, or it was lost to a damaged segment) still counts as
//! done for the spool: its sequences are released together with the dead letter, in
//! one transaction where there is a database, so the committed watermark never waits
//! for them and the spool can always free its segments.

use tokio::sync::mpsc;

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
