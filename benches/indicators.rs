//! Bars per second through `IndicatorEngine::on_bar`: one series, and 1000 series fed
//! round-robin (each bar a different series, so every step touches cold state). Both
//! measure the steady state: the engine has taken one full pass first, so every
//! indicator is past its lookback, and each timed pass shifts the bars' times forward
//! so they stay in order. The figure includes building each bar's `TechnicalIndicators` row (its key
//! strings and level lists), as a caller pays for it.
// A benchmark harness: a failure here is a broken setup, and `unwrap` says where.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hypertick::indicators::{IndicatorConfig, IndicatorEngine};
use hypertick::record::{Bar, Timestamp};

const BARS: usize = 100_000;
const MINUTE_MICROS: i64 = 60_000_000;

/// `BARS` bars of random walks, `series` of them interleaved: bar i belongs to series
/// i % series.
fn bars(series: usize) -> Vec<Bar> {
    let mut state: u32 = 42;
    let mut random = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        f64::from(state) / f64::from(u32::MAX)
    };
    let mut closes = vec![100.0; series];
    (0..BARS)
        .map(|i| {
            let open = closes[i % series];
            let close = open + random() - 0.5;
            closes[i % series] = close;
            Bar {
                time: Timestamp(1_767_225_600_000_000 + (i / series) as i64 * MINUTE_MICROS),
                received_at: Timestamp(0),
                venue: "binance".to_string(),
                symbol: format!("SYM{:04}-USDT", i % series),
                interval: "1m".to_string(),
                open,
                high: open.max(close) + random() * 0.2,
                low: open.min(close) - random() * 0.2,
                close,
                volume: 1.0 + random() * 100.0,
                vwap: None,
                trades: None,
            }
        })
        .collect()
}

/// Feeds every bar once, then moves its time past the last bar of its series.
fn feed(engine: &mut IndicatorEngine, bars: &mut [Bar], shift_micros: i64) {
    for bar in bars.iter_mut() {
        black_box(engine.on_bar(bar).expect("bars in order"));
        bar.time = Timestamp(bar.time.micros() + shift_micros);
    }
}

fn bench_series(c: &mut Criterion, name: &str, series: usize) {
    let mut bars = bars(series);
    let shift_micros = (BARS / series) as i64 * MINUTE_MICROS;
    let mut engine = IndicatorEngine::new(IndicatorConfig::default()).expect("valid config");
    feed(&mut engine, &mut bars, shift_micros);
    assert_eq!(engine.series_count(), series);

    let mut group = c.benchmark_group("indicators");
    group.throughput(Throughput::Elements(BARS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iterations {
                let start = Instant::now();
                feed(&mut engine, &mut bars, shift_micros);
                elapsed += start.elapsed();
            }
            elapsed
        })
    });
    group.finish();
}

fn indicators(c: &mut Criterion) {
    bench_series(c, "on_bar/1_series", 1);
    bench_series(c, "on_bar/1000_series_round_robin", 1000);
}

criterion_group!(benches, indicators);
criterion_main!(benches);
