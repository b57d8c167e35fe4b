//! The indicator stage: closed bars of the configured symbols and intervals, once
//! queued for `bars`, go through the streaming indicator engine, and each snapshot is
//! queued as a `technical_indicators` row.

use std::sync::Mutex;

use crate::config::IndicatorsConfig;
use crate::indicators::{IndicatorConfig, IndicatorEngine};
use crate::metrics::events;
use crate::record::{Bar, TechnicalIndicators};

/// The engine and which bars feed it; shared by every clone of the router.
#[derive(Debug)]
pub struct IndicatorStage {
    wanted: IndicatorsConfig,
    engine: Mutex<IndicatorEngine>,
}

impl IndicatorStage {
    /// `None` when no symbols are configured (the engine is off).
    pub fn from_config(config: &IndicatorsConfig) -> Option<IndicatorStage> {
        if config.symbols.is_empty() {
            return None;
        }
        let settings = IndicatorConfig { swing_window: config.swing_window, levels_kept: config.levels_kept };
        // Validation has checked the settings; out-of-range ones fall back to the defaults.
        let engine = IndicatorEngine::new(settings).or_else(|_| IndicatorEngine::new(IndicatorConfig::default())).ok()?;
        Some(IndicatorStage { wanted: config.clone(), engine: Mutex::new(engine) })
    }

    pub fn covers(&self, bar: &Bar) -> bool {
        self.wanted.covers(&bar.symbol, &bar.interval)
    }

    /// Advances the bar's series. A bar the series cannot take (a repeat, out of order,
    /// not finite) is counted and yields no row; the bar itself is stored regardless.
    pub fn on_bar(&self, bar: &Bar) -> Option<TechnicalIndicators> {
        let result = self.engine.lock().unwrap_or_else(|poison| poison.into_inner()).on_bar(bar);
        match result {
            Ok(indicators) => Some(indicators),
            Err(error) => {
                events::indicator_bar_skipped(error.code(), &error);
                None
            }
        }
    }
}
