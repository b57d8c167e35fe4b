//! Why the engine refuses a bar, and the series limit behind one of the refusals.

use crate::record::Timestamp;

/// Series beyond this many are refused, so that a producer inventing symbols cannot
/// grow memory without bound. A series holds about 2 KiB (its state, its key, its map
/// slot), so the engine stays near 100 MB at most.
pub const MAX_SERIES: usize = 50_000;

/// Why a bar was refused. A refused bar changes no state.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    #[error("bar at {time} repeats the time of its series' last bar")]
    DuplicateBar { time: Timestamp },
    #[error("bar at {time} is older than its series' last bar at {last}")]
    OutOfOrderBar { time: Timestamp, last: Timestamp },
    #[error("bar at {time} has a non-finite {field}")]
    NonFinite { time: Timestamp, field: &'static str },
    #[error("bar would start a series beyond the engine's limit of {} series", MAX_SERIES)]
    TooManySeries,
}

impl IndicatorError {
    /// A short, bounded reason code, fit for a metric label or a dead letter's reason.
    pub fn code(&self) -> &'static str {
        match self {
            IndicatorError::DuplicateBar { .. } => "duplicate_bar",
            IndicatorError::OutOfOrderBar { .. } => "out_of_order_bar",
            IndicatorError::NonFinite { .. } => "non_finite",
            IndicatorError::TooManySeries => "too_many_series",
        }
    }
}
