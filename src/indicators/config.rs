//! The engine's settings (the support / resistance detection) and their checks.

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
