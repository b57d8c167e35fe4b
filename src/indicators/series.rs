//! The state of one series — one (venue, symbol, interval) — and the step that takes a
//! bar through every indicator.

use crate::record::{Bar, Timestamp};

use super::config::IndicatorConfig;
use super::ema::Ema;
use super::error::IndicatorError;
use super::momentum::{Macd, Rsi};
use super::swings::SwingLevels;
use super::window::RollingWindow;
use crate::record::TechnicalIndicators;

// The Swing Sage set: these periods are the columns of `technical_indicators`.
const SMA_SHORT: usize = 20;
const SMA_LONG: usize = 50;
const EMA_SHORT: usize = 20;
const EMA_LONG: usize = 50;
const RSI_PERIOD: usize = 14;
const MACD_FAST: usize = 12;
const MACD_SLOW: usize = 26;
const MACD_SIGNAL: usize = 9;
const BOLLINGER_PERIOD: usize = 20;
const BOLLINGER_DEVIATIONS: f64 = 2.0;
const VOLUME_PERIOD: usize = 10;

// SMA 20 is the Bollinger middle: the two share one window.
const _: () = assert!(SMA_SHORT == BOLLINGER_PERIOD);

/// Everything the engine remembers about one series: fixed-size rings and a few
/// running values, none of which grows with the number of bars.
#[derive(Debug, Clone)]
pub(crate) struct SeriesState {
    last_time: Option<Timestamp>,
    /// The Bollinger window; its mean is also SMA 20.
    closes_short: RollingWindow,
    closes_long: RollingWindow,
    volumes: RollingWindow,
    ema_short: Ema,
    ema_long: Ema,
    rsi: Rsi,
    macd: Macd,
    swings: SwingLevels,
}

impl SeriesState {
    pub(crate) fn new(config: &IndicatorConfig) -> Self {
        SeriesState {
            last_time: None,
            closes_short: RollingWindow::new(BOLLINGER_PERIOD),
            closes_long: RollingWindow::new(SMA_LONG),
            volumes: RollingWindow::new(VOLUME_PERIOD),
            ema_short: Ema::new(EMA_SHORT),
            ema_long: Ema::new(EMA_LONG),
            rsi: Rsi::new(RSI_PERIOD),
            macd: Macd::new(MACD_FAST, MACD_SLOW, MACD_SIGNAL),
            swings: SwingLevels::new(config.swing_window, config.levels_kept),
        }
    }

    /// Takes the series' next bar. A bar not strictly later than the last one is
    /// refused and leaves the state as it was. The bar's values must be finite (the
    /// engine checks before calling).
    pub(crate) fn on_bar(&mut self, bar: &Bar) -> Result<TechnicalIndicators, IndicatorError> {
        if let Some(last) = self.last_time {
            if bar.time == last {
                return Err(IndicatorError::DuplicateBar { time: bar.time });
            }
            if bar.time < last {
                return Err(IndicatorError::OutOfOrderBar { time: bar.time, last });
            }
        }
        self.last_time = Some(bar.time);

        self.closes_short.push(bar.close);
        self.closes_long.push(bar.close);
        self.volumes.push(bar.volume);
        let ema_short = self.ema_short.push(bar.close);
        let ema_long = self.ema_long.push(bar.close);
        let rsi = self.rsi.push(bar.close);
        let macd = self.macd.push(bar.close);
        self.swings.push(bar.high, bar.low);

        let middle = self.closes_short.mean();
        let deviation = self.closes_short.population_variance().map(f64::sqrt);
        let (bb_upper, bb_lower) = match (middle, deviation) {
            (Some(middle), Some(deviation)) => {
                (Some(middle + BOLLINGER_DEVIATIONS * deviation), Some(middle - BOLLINGER_DEVIATIONS * deviation))
            }
            _ => (None, None),
        };
        let bb_width = match (bb_upper, bb_lower, middle) {
            (Some(upper), Some(lower), Some(middle)) if middle != 0.0 => Some((upper - lower) / middle),
            _ => None,
        };
        let volume_sma = self.volumes.mean();
        let volume_ratio = volume_sma.filter(|&average| average != 0.0).map(|average| bar.volume / average);

        Ok(TechnicalIndicators {
            time: bar.time,
            received_at: bar.received_at,
            venue: bar.venue.clone(),
            symbol: bar.symbol.clone(),
            interval: bar.interval.clone(),
            sma_20: middle,
            sma_50: self.closes_long.mean(),
            ema_20: ema_short,
            ema_50: ema_long,
            rsi,
            macd_line: macd.map(|values| values.line),
            macd_signal: macd.map(|values| values.signal),
            macd_histogram: macd.map(|values| values.histogram),
            bb_upper,
            bb_middle: middle,
            bb_lower,
            bb_width,
            volume_sma_10: volume_sma,
            volume_ratio,
            support_levels: self.swings.support_levels(),
            resistance_levels: self.swings.resistance_levels(),
        })
    }

    /// The capacity of every ring the series holds; the same after any number of bars.
    #[cfg(test)]
    pub(crate) fn ring_capacities(&self) -> Vec<usize> {
        let mut capacities = vec![self.closes_short.capacity(), self.closes_long.capacity(), self.volumes.capacity()];
        capacities.extend(self.swings.ring_capacities());
        capacities
    }
}
