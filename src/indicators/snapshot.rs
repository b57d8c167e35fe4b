//! What the engine reports after each bar: one `technical_indicators` row's worth.

use crate::record::{TechnicalIndicators, Timestamp};

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

impl Snapshot {
    /// The `technical_indicators` row of this snapshot; `received_at` is the bar's, so
    /// the row's latency counts from when the bar arrived.
    pub fn into_record(self, received_at: Timestamp) -> TechnicalIndicators {
        TechnicalIndicators {
            time: self.time,
            received_at,
            venue: self.venue,
            symbol: self.symbol,
            interval: self.interval,
            sma_20: self.sma_20,
            sma_50: self.sma_50,
            ema_20: self.ema_20,
            ema_50: self.ema_50,
            rsi: self.rsi_14,
            macd_line: self.macd_line,
            macd_signal: self.macd_signal,
            macd_histogram: self.macd_histogram,
            bb_upper: self.bb_upper,
            bb_middle: self.bb_middle,
            bb_lower: self.bb_lower,
            bb_width: self.bb_width,
            volume_sma_10: self.volume_sma_10,
            volume_ratio: self.volume_ratio,
            support_levels: self.support_levels,
            resistance_levels: self.resistance_levels,
        }
    }
}
