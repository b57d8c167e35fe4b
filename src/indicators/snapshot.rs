//! What the engine reports after each bar: one `technical_indicators` row's worth.

use crate::record::Timestamp;

/// The indicators of one series after one bar, with the bar's key and time.
///
/// A value is `None` until the series has had enough bars for it (its TA-Lib
/// lookback, counted in bars of this series: see the module documentation), and
/// `volume_ratio` and `bb_width` are also `None` where their divisor is 0. The level
/// lists are empty until a swing has been confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The bar's open time.
    pub time: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub interval: String,
    /// From the 20th bar.
    pub sma_20: Option<f64>,
    /// From the 50th bar.
    pub sma_50: Option<f64>,
    /// From the 20th bar.
    pub ema_20: Option<f64>,
    /// From the 50th bar.
    pub ema_50: Option<f64>,
    /// From the 15th bar (14 changes).
    pub rsi_14: Option<f64>,
    /// MACD 12/26/9, all three from the 34th bar.
    pub macd_line: Option<f64>,
    pub macd_signal: Option<f64>,
    pub macd_histogram: Option<f64>,
    /// Bollinger 20 / 2σ, all four from the 20th bar.
    pub bb_upper: Option<f64>,
    pub bb_middle: Option<f64>,
    pub bb_lower: Option<f64>,
    /// (upper − lower) / middle, a ratio (0.05, not 5 %).
    pub bb_width: Option<f64>,
    /// From the 10th bar.
    pub volume_sma_10: Option<f64>,
    /// This bar's volume / `volume_sma_10`.
    pub volume_ratio: Option<f64>,
    /// The most recent swing lows, the most recent first, at most `levels_kept`.
    pub support_levels: Vec<f64>,
    /// The most recent swing highs, the most recent first, at most `levels_kept`.
    pub resistance_levels: Vec<f64>,
}
