//! Streaming technical indicators over bars: pure computation, no I/O. The only part
//! of the crate it uses is [`crate::record`].
//!
//! [`IndicatorEngine::on_bar`] takes one [`Bar`](crate::record::Bar) and returns the
//! `technical_indicators` row ([`TechnicalIndicators`](crate::record::TechnicalIndicators)) of that bar's series — one (venue, symbol, interval) — after it: the
//! values of a `technical_indicators` row. Every accepted bar gets a snapshot; a value
//! the series has too few bars for is `None` in it, so the caller decides whether a
//! partly empty row is worth writing. Each series has its own state, created on
//! its first bar, made of fixed-size rings and running sums: its memory does not grow
//! with the number of bars, and a bar costs O(1) work (a handful of additions per
//! indicator, plus the 2K comparisons of the swing test).
//!
//! # Order
//!
//! A series' bars must arrive in time order. A bar whose time equals the series' last
//! one ([`IndicatorError::DuplicateBar`]) or is earlier
//! ([`IndicatorError::OutOfOrderBar`]) is refused and changes nothing; so is a bar
//! with a non-finite price or volume. A gap in time means nothing special: the
//! indicators are defined per bar, so the bar after a gap is simply the next bar (as
//! in TA-Lib, which sees arrays, not clocks). Bars are taken as final: a producer that
//! sends a bar again with a later revision of the same period is refused.
//!
//! # Definitions
//!
//! Those of TA-Lib's default compatibility mode, counted in bars of the series; "bar
//! n" is the n-th bar, from 1. Each value is `None` before its first bar (TA-Lib's
//! lookback + 1).
//!
//! - **SMA 20, SMA 50**: the mean of the last N closes; from bar N.
//! - **EMA 20, EMA 50**: k = 2 / (N + 1), seeded with the simple mean of the first N
//!   closes (so the EMA equals the SMA on bar N), then `ema = (close − ema) · k + ema`.
//! - **RSI 14**: on the changes between consecutive closes, average gain and average
//!   loss are seeded with the means of the first 14 gains and losses (bar 15, after 14
//!   changes), then smoothed the Wilder way, `avg = (avg · 13 + x) / 14`. RSI =
//!   100 · gain / (gain + loss): 100 when the average loss is 0 and the gain is not, and
//!   0 when both are 0 — no movement at all — which is what TA-Lib returns for 0 / 0.
//!   TA-Lib treats a gain + loss below an absolute 1e-8 as 0 (and so reports 0 for a
//!   slowly rising coin priced in millionths); this engine tests for exact 0, which
//!   does not depend on the price scale. The two agree wherever the average gain +
//!   loss is at least 1e-8.
//! - **MACD 12/26/9** as `TA_MACD` computes it, which is not "EMA 12 of the closes
//!   minus EMA 26 of the closes". TA_MACD runs both EMAs from the same start bar: the
//!   slow EMA is seeded with the mean of closes 1–26, and the fast EMA with the mean of
//!   closes 15–26 — the 12 closes ending where the slow seed ends — instead of closes
//!   1–12. (TA_MACD calls its internal EMA for the fast and the slow period with the
//!   same start index, `startIdx − lookbackSignal`, and checks that both outputs begin
//!   there; an EMA's seed is the mean of the N values ending at its start index.) A
//!   standalone EMA 12 is seeded on bar 12 instead, and its seed still weighs
//!   (11/13)^22 ≈ 2.5 % at bar 34, so the two readings differ visibly.
//!   From bar 26, line = fast − slow; signal = EMA 9 of the line, seeded with the mean
//!   of its first 9 values (bars 26–34); histogram = line − signal. All three are
//!   reported from bar 34, TA-Lib's lookback of 33 for the whole function.
//! - **Bollinger 20, 2**: middle = SMA 20; σ = the population standard deviation (divided
//!   by 20, not 19) of the same 20 closes; upper / lower = middle ± 2σ; width =
//!   (upper − lower) / middle, a ratio (0.05, not 5 %), as pandas-ta's bandwidth without
//!   its ×100 and as TradingView's BBW; `None` when the middle is 0. From bar 20. TA-Lib
//!   takes a variance below an absolute 1e-8 as 0; this engine computes σ exactly
//!   enough (see `window.rs`) that a window of equal closes has σ = 0 and any other has
//!   σ within 1e-9 relative, whatever the price scale.
//! - **Volume SMA 10**: the mean of the last 10 volumes, from bar 10; **volume
//!   ratio** = this bar's volume / volume SMA 10, `None` while that mean is 0.
//! - **Support and resistance** ([`IndicatorConfig`]: K = `swing_window`, default 2,
//!   and `levels_kept`, default 3): bar j is a swing high when its high is strictly
//!   greater than the highs of bars j − K … j − 1 and j + 1 … j + K; it is known, and
//!   listed, from bar j + K on. `resistance_levels` are the highs of the most recent
//!   `levels_kept` swing highs, the most recent first; `support_levels` likewise the
//!   lows of swing lows (strictly less than the K lows on each side). A tie with any
//!   neighbour is not a swing. The levels are not filtered against the current price:
//!   a swing high the price has since risen through is still listed until newer swings
//!   push it out.
//!
//! # Float accuracy
//!
//! EMA, RSI and MACD are recursive, as in TA-Lib, and carry no drift beyond the
//! rounding of each step. The windowed means and σ use running sums about a pivot,
//! recomputed from the ring every window length and whenever cancellation threatens
//! (`window.rs`), so their error does not accumulate with the number of
//! bars. `tests/reference/indicators.py` recomputes every value of a 380-bar feed
//! from scratch and the tests hold the engine to it within 1e-9 relative.

mod config;
mod ema;
mod engine;
mod error;
mod momentum;
mod series;
mod swings;
mod window;

#[cfg(test)]
mod tests;

pub use config::{IndicatorConfig, IndicatorConfigError};
pub use engine::IndicatorEngine;
pub use error::IndicatorError;
