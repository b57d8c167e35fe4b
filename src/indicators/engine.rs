//! The engine: one [`SeriesState`] per (venue, symbol, interval), created on the
//! series' first bar, and the checks a bar passes before it changes any state.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::record::Bar;

use super::config::{IndicatorConfig, IndicatorConfigError};
use super::error::{IndicatorError, MAX_SERIES};
use super::series::SeriesState;
use crate::record::TechnicalIndicators;

/// Streaming indicators for any number of series, one bar at a time.
#[derive(Debug)]
pub struct IndicatorEngine {
    config: IndicatorConfig,
    series: HashMap<SeriesKey, SeriesState>,
}

impl IndicatorEngine {
    /// Series beyond this many are refused ([`MAX_SERIES`]).
    pub const MAX_SERIES: usize = MAX_SERIES;

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
