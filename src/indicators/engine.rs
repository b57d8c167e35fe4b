//! The engine: one [`SeriesState`] per (venue, symbol, interval), created on the
//! series' first bar, and the checks a bar passes before it changes any state.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::record::{Bar, Timestamp};

use super::series::SeriesState;
use crate::record::TechnicalIndicators;

/// The engine's settings. The indicator periods are fixed by the Swing Sage set (the
/// columns of `technical_indicators`); only the support / resistance detection is
/// tunable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorConfig {
    /// K: a swing high's high must be strictly above the highs of the K bars on each
    /// side of it (a swing low's low strictly below), and is confirmed K bars later.
    pub swing_window: usize,
    /// How many of the most recent swing highs (and lows) a snapshot lists.
    pub levels_kept: usize,
}

impl IndicatorConfig {
    pub const MAX_SWING_WINDOW: usize = 50;
    pub const MAX_LEVELS_KEPT: usize = 16;

    /// Checks both settings, reporting every problem at once.
    pub fn validate(&self) -> Result<(), Vec<IndicatorConfigError>> {
        let mut problems = Vec::new();
        if !(1..=Self::MAX_SWING_WINDOW).contains(&self.swing_window) {
            problems.push(IndicatorConfigError::SwingWindow(self.swing_window));
        }
        if !(1..=Self::MAX_LEVELS_KEPT).contains(&self.levels_kept) {
            problems.push(IndicatorConfigError::LevelsKept(self.levels_kept));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        IndicatorConfig { swing_window: 2, levels_kept: 3 }
    }
}

/// An [`IndicatorConfig`] setting out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorConfigError {
    #[error("swing_window is {0}; it must be 1 to {max}", max = IndicatorConfig::MAX_SWING_WINDOW)]
    SwingWindow(usize),
    #[error("levels_kept is {0}; it must be 1 to {max}", max = IndicatorConfig::MAX_LEVELS_KEPT)]
    LevelsKept(usize),
}

/// Why a bar was refused. A refused bar changes no state.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    #[error("bar at {time} repeats the time of its series' last bar")]
    DuplicateBar { time: Timestamp },
    #[error("bar at {time} is older than its series' last bar at {last}")]
    OutOfOrderBar { time: Timestamp, last: Timestamp },
    #[error("bar at {time} has a non-finite {field}")]
    NonFinite { time: Timestamp, field: &'static str },
    #[error("bar would start a series beyond the engine's limit of {} series", IndicatorEngine::MAX_SERIES)]
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

/// Streaming indicators for any number of series, one bar at a time.
#[derive(Debug)]
pub struct IndicatorEngine {
    config: IndicatorConfig,
    series: HashMap<SeriesKey, SeriesState>,
}

impl IndicatorEngine {
    /// Series beyond this many are refused, so that a producer inventing symbols
    /// cannot grow memory without bound. A series holds about 2 KiB (its state, its
    /// key, its map slot), so the engine stays near 100 MB at most.
    pub const MAX_SERIES: usize = 50_000;

    pub fn new(config: IndicatorConfig) -> Result<Self, Vec<IndicatorConfigError>> {
        config.validate()?;
        Ok(IndicatorEngine { config, series: HashMap::new() })
    }

    /// Takes the next bar of its series (created on its first bar) and returns the
    /// series' indicators after it. A refused bar — a time not strictly after the
    /// series' last bar, a non-finite price or volume, a new series past
    /// [`Self::MAX_SERIES`] — changes nothing.
    pub fn on_bar(&mut self, bar: &Bar) -> Result<TechnicalIndicators, IndicatorError> {
        let fields = [("open", bar.open), ("high", bar.high), ("low", bar.low), ("close", bar.close), ("volume", bar.volume)];
        if let Some(&(field, _)) = fields.iter().find(|(_, value)| !value.is_finite()) {
            return Err(IndicatorError::NonFinite { time: bar.time, field });
        }
        let borrowed: (&str, &str, &str) = (&bar.venue, &bar.symbol, &bar.interval);
        if let Some(state) = self.series.get_mut(&borrowed as &dyn KeyParts) {
            return state.on_bar(bar);
        }
        if self.series.len() >= Self::MAX_SERIES {
            return Err(IndicatorError::TooManySeries);
        }
        let mut state = SeriesState::new(&self.config);
        let snapshot = state.on_bar(bar)?;
        let key = SeriesKey { venue: bar.venue.clone(), symbol: bar.symbol.clone(), interval: bar.interval.clone() };
        self.series.insert(key, state);
        Ok(snapshot)
    }

    /// How many series the engine holds.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Drops a series' state, so that its next bar starts it afresh. True if it existed.
    pub fn forget(&mut self, venue: &str, symbol: &str, interval: &str) -> bool {
        self.series.remove(&(venue, symbol, interval) as &dyn KeyParts).is_some()
    }

    pub fn config(&self) -> &IndicatorConfig {
        &self.config
    }

    #[cfg(test)]
    pub(crate) fn series_state(&self, venue: &str, symbol: &str, interval: &str) -> Option<&SeriesState> {
        self.series.get(&(venue, symbol, interval) as &dyn KeyParts)
    }
}

/// A series' key, owned by the map.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeriesKey {
    venue: String,
    symbol: String,
    interval: String,
}

/// The three parts of a key, owned or borrowed, so that the map keyed by
/// [`SeriesKey`] can be searched with a bar's strings without allocating.
trait KeyParts {
    fn parts(&self) -> (&str, &str, &str);
}

impl KeyParts for SeriesKey {
    fn parts(&self) -> (&str, &str, &str) {
        (&self.venue, &self.symbol, &self.interval)
    }
}

impl KeyParts for (&str, &str, &str) {
    fn parts(&self) -> (&str, &str, &str) {
        (self.0, self.1, self.2)
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for SeriesKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

// `SeriesKey` and `dyn KeyParts` hash and compare through `parts()` alike, as
// `Borrow` requires.
impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl Hash for dyn KeyParts + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}
