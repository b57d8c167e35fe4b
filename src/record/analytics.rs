//! Derived series: the technical indicator set computed per closed bar, open-ended
//! named indicator values, and market signals from analysts, models and agents.

use serde::{Deserialize, Serialize};

use super::{JsonText, Timestamp};

/// The indicator set for one bar of one series (`time` is the bar's open). Each value
/// is `None` until the series has enough bars for it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TechnicalIndicators {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub interval: String,
    pub sma_20: Option<f64>,
    pub sma_50: Option<f64>,
    pub ema_20: Option<f64>,
    pub ema_50: Option<f64>,
    pub rsi: Option<f64>,
    pub macd_line: Option<f64>,
    pub macd_signal: Option<f64>,
    pub macd_histogram: Option<f64>,
    pub bb_upper: Option<f64>,
    pub bb_middle: Option<f64>,
    pub bb_lower: Option<f64>,
    pub bb_width: Option<f64>,
    pub volume_sma_10: Option<f64>,
    pub volume_ratio: Option<f64>,
    /// Recent swing lows, most recent first.
    pub support_levels: Vec<f64>,
    /// Recent swing highs, most recent first.
    pub resistance_levels: Vec<f64>,
}

/// One value of a named indicator a producer computed (anything beyond the fixed set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorValue {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: Option<String>,
    pub symbol: String,
    pub interval: String,
    pub name: String,
    pub value: f64,
}

/// A market signal: a trading agent's call, a news item's score, a model's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub time: Timestamp,
    pub received_at: Timestamp,
    /// Who produced it (an agent, a model, a news source).
    pub source: String,
    pub category: String,
    pub symbol: Option<String>,
    /// `long`, `short`, `neutral`, … as the producer writes it.
    pub direction: Option<String>,
    pub strength: Option<f64>,
    pub confidence: Option<f64>,
    /// `low`, `medium`, `high`, … as the producer writes it.
    pub impact: Option<String>,
    pub content: Option<String>,
    /// The JSON exactly as the producer wrote it, numbers digit for digit.
    pub payload: Option<JsonText>,
}
