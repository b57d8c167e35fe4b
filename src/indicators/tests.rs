//! The engine against values computed independently (`tests/reference/indicators.py`,
//! full recomputation over windows), hand-checkable cases, refusals and memory bounds.

use serde_json::Value;

use super::*;
use crate::record::{Bar, TechnicalIndicators, Timestamp};

const REFERENCE: &str = include_str!("../../tests/reference/indicators_expected.json");

const MINUTE: i64 = 60 * Timestamp::MICROS_PER_SECOND;

fn bar_at(interval: &str, minute: i64, close: f64) -> Bar {
    Bar {
        time: Timestamp(1_767_225_600_000_000 + minute * MINUTE),
        received_at: Timestamp(0),
        venue: "test".to_string(),
        symbol: "AAA-USD".to_string(),
        interval: interval.to_string(),
        open: close,
        high: close + 0.5,
        low: close - 0.5,
        close,
        volume: 100.0 + close,
        vwap: None,
        trades: None,
    }
}

fn engine() -> IndicatorEngine {
    IndicatorEngine::new(IndicatorConfig::default()).expect("the default config is valid")
}

fn number(value: &Value, field: &str) -> f64 {
    value[field].as_f64().unwrap_or_else(|| panic!("{field} is a number in {value}"))
}

fn reference_bar(value: &Value) -> Bar {
    let text = |field: &str| value[field].as_str().unwrap_or_else(|| panic!("{field} in {value}")).to_string();
    Bar {
        time: Timestamp(value["time"].as_i64().expect("time in µs")),
        received_at: Timestamp(0),
        venue: text("venue"),
        symbol: text("symbol"),
        interval: text("interval"),
        open: number(value, "open"),
        high: number(value, "high"),
        low: number(value, "low"),
        close: number(value, "close"),
        volume: number(value, "volume"),
        vwap: None,
        trades: None,
    }
}

/// Equal within 1e-9 relative, or 1e-12 absolute near zero.
fn assert_close(got: f64, want: f64, what: &str) {
    let tolerance = (1e-9 * want.abs()).max(1e-12);
    assert!((got - want).abs() <= tolerance, "{what}: got {got}, want {want} (off by {:e})", (got - want).abs());
}

fn assert_optional(got: Option<f64>, want: &Value, what: &str) {
    match (got, want.as_f64()) {
        (Some(got), Some(want)) => assert_close(got, want, what),
        (None, None) if want.is_null() => {}
        (got, _) => panic!("{what}: got {got:?}, want {want}"),
    }
}

fn assert_levels(got: &[f64], want: &Value, what: &str) {
    let want = want.as_array().unwrap_or_else(|| panic!("{what} is an array"));
    assert_eq!(got.len(), want.len(), "{what}: got {got:?}, want {want:?}");
    for (index, (got, want)) in got.iter().zip(want).enumerate() {
        assert_close(*got, want.as_f64().expect("a level is a number"), &format!("{what}[{index}]"));
    }
}

#[test]
fn matches_the_reference_values_on_every_bar() {
    let entries: Vec<Value> = serde_json::from_str(REFERENCE).expect("the reference file is JSON");
    assert!(entries.len() > 300);
    let mut engine = engine();
    let mut compared = 0;
    for (position, entry) in entries.iter().enumerate() {
        let bar = reference_bar(&entry["bar"]);
        let result = engine.on_bar(&bar);
        let expected = &entry["expected"];
        if expected == "refused" {
            assert!(result.is_err(), "entry {position}: the bar at {} is refused", bar.time);
            continue;
        }
        let snapshot = result.unwrap_or_else(|error| panic!("entry {position}: {error}"));
        assert_eq!(
            (snapshot.time, &snapshot.venue, &snapshot.symbol, &snapshot.interval),
            (bar.time, &bar.venue, &bar.symbol, &bar.interval)
        );
        let at = |field: &str| format!("entry {position} ({} {}), {field}", bar.interval, bar.time);
        let values = [
            ("sma_20", snapshot.sma_20),
            ("sma_50", snapshot.sma_50),
            ("ema_20", snapshot.ema_20),
            ("ema_50", snapshot.ema_50),
            ("rsi_14", snapshot.rsi),
            ("macd_line", snapshot.macd_line),
            ("macd_signal", snapshot.macd_signal),
            ("macd_histogram", snapshot.macd_histogram),
            ("bb_upper", snapshot.bb_upper),
            ("bb_middle", snapshot.bb_middle),
            ("bb_lower", snapshot.bb_lower),
            ("bb_width", snapshot.bb_width),
            ("volume_sma_10", snapshot.volume_sma_10),
            ("volume_ratio", snapshot.volume_ratio),
        ];
        for (field, got) in values {
            assert_optional(got, &expected[field], &at(field));
        }
        assert_levels(&snapshot.support_levels, &expected["support_levels"], &at("support_levels"));
        assert_levels(&snapshot.resistance_levels, &expected["resistance_levels"], &at("resistance_levels"));
        let expected_fields = expected.as_object().map(|fields| fields.len());
        assert_eq!(expected_fields, Some(values.len() + 2), "every expected field is compared");
        compared += 1;
    }
    assert_eq!(compared, entries.len() - 2);
    assert_eq!(engine.series_count(), 2);
}

#[test]
fn simple_cases_by_hand() {
    // Closes 1, 2, …, 20: SMA 20 = 10.5 and the EMA 20 seed is that mean; the
    // population σ of 1..=20 is √((20² − 1) / 12) = √33.25.
    let mut engine = engine();
    let snapshots: Vec<TechnicalIndicators> = (1..=20).map(|n| engine.on_bar(&bar_at("1m", n, n as f64)).expect("in order")).collect();
    let last = &snapshots[19];
    assert_eq!(snapshots[18].sma_20, None);
    assert_eq!(last.sma_20, Some(10.5));
    assert_eq!(last.ema_20, Some(10.5));
    assert_eq!(last.bb_middle, Some(10.5));
    assert_close(last.bb_upper.expect("20 bars"), 10.5 + 2.0 * 33.25_f64.sqrt(), "bb_upper");
    assert_close(last.bb_width.expect("20 bars"), 4.0 * 33.25_f64.sqrt() / 10.5, "bb_width");
    // Strictly rising: no losses, RSI 100 from the 15th bar.
    assert_eq!(snapshots[13].rsi, None);
    assert!(snapshots[14..].iter().all(|snapshot| snapshot.rsi == Some(100.0)));
    // Volumes 101, …, 120: the last 10 average 115.5.
    assert_eq!(snapshots[8].volume_sma_10, None);
    assert_eq!(last.volume_sma_10, Some(115.5));
    assert_eq!(last.volume_ratio, Some(120.0 / 115.5));
    // A straight line has no swings.
    assert!(last.support_levels.is_empty() && last.resistance_levels.is_empty());
}

/// One indicator of a snapshot.
type Field = fn(&TechnicalIndicators) -> Option<f64>;

#[test]
fn lookbacks_match_ta_lib() {
    let mut engine = engine();
    let first_bar = |snapshots: &[TechnicalIndicators], value: Field| {
        snapshots.iter().position(|snapshot| value(snapshot).is_some()).map(|index| index + 1)
    };
    let snapshots: Vec<TechnicalIndicators> =
        (0..60).map(|n| engine.on_bar(&bar_at("1m", n, 100.0 + (n % 7) as f64)).expect("in order")).collect();
    let cases: [(&str, Field, usize); 10] = [
        ("sma_20", |s| s.sma_20, 20),
        ("sma_50", |s| s.sma_50, 50),
        ("ema_20", |s| s.ema_20, 20),
        ("ema_50", |s| s.ema_50, 50),
        ("rsi_14", |s| s.rsi, 15),
        ("macd_line", |s| s.macd_line, 34),
        ("macd_signal", |s| s.macd_signal, 34),
        ("macd_histogram", |s| s.macd_histogram, 34),
        ("bb_upper", |s| s.bb_upper, 20),
        ("volume_sma_10", |s| s.volume_sma_10, 10),
    ];
    for (name, value, first) in cases {
        assert_eq!(first_bar(&snapshots, value), Some(first), "{name}");
    }
    // EMA 50 seeds on SMA 50.
    assert_eq!(snapshots[49].ema_50, snapshots[49].sma_50);
}

#[test]
fn refused_bars_leave_the_series_untouched() {
    let mut clean = engine();
    let mut disturbed = engine();
    for minute in 0..40 {
        let bar = bar_at("1m", minute, 100.0 + (minute % 5) as f64);
        let expected = clean.on_bar(&bar).expect("in order");
        assert_eq!(disturbed.on_bar(&bar).as_ref(), Ok(&expected));
        let mut repeat = bar.clone();
        repeat.close = 1e6;
        assert_eq!(disturbed.on_bar(&repeat), Err(IndicatorError::DuplicateBar { time: bar.time }));
        if minute > 0 {
            let older = bar_at("1m", minute - 1, 1e6);
            let refusal = IndicatorError::OutOfOrderBar { time: older.time, last: bar.time };
            assert_eq!(disturbed.on_bar(&older), Err(refusal));
        }
        let mut broken = bar_at("1m", minute + 1, 100.0);
        broken.high = f64::NAN;
        assert_eq!(disturbed.on_bar(&broken), Err(IndicatorError::NonFinite { time: broken.time, field: "high" }));
    }
    let mut broken_first = bar_at("5m", 0, 100.0);
    broken_first.volume = f64::INFINITY;
    assert_eq!(disturbed.on_bar(&broken_first).map_err(|error| error.code()), Err("non_finite"));
    assert_eq!(disturbed.series_count(), 1, "a refused first bar starts no series");
    // After all the refusals, both engines still agree.
    let next = bar_at("1m", 40, 103.0);
    assert_eq!(disturbed.on_bar(&next), clean.on_bar(&next));
}

#[test]
fn series_are_independent_and_can_be_forgotten() {
    let mut engine = engine();
    for minute in 0..20 {
        engine.on_bar(&bar_at("1m", minute, 10.0)).expect("in order");
        engine.on_bar(&bar_at("5m", minute, 20.0)).expect("in order");
    }
    assert_eq!(engine.series_count(), 2);
    assert_eq!(engine.on_bar(&bar_at("1m", 20, 10.0)).expect("in order").sma_20, Some(10.0));
    assert!(engine.forget("test", "AAA-USD", "5m"));
    assert!(!engine.forget("test", "AAA-USD", "5m"));
    // A forgotten series starts over, so an earlier time is accepted again.
    let restarted = engine.on_bar(&bar_at("5m", 0, 20.0)).expect("a fresh series");
    assert_eq!(restarted.sma_20, None);
}

#[test]
fn memory_per_series_stays_bounded() {
    let config = IndicatorConfig { swing_window: 3, levels_kept: 5 };
    let mut engine = IndicatorEngine::new(config).expect("valid");
    let capacities = |engine: &IndicatorEngine| engine.series_state("test", "AAA-USD", "1m").expect("the series exists").ring_capacities();
    engine.on_bar(&bar_at("1m", 0, 100.0)).expect("first bar");
    let at_start = capacities(&engine);
    assert_eq!(at_start, vec![20, 50, 10, 7, 7, 5, 5]);
    let mut state: u32 = 3;
    for minute in 1..10_000 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let close = 100.0 + f64::from(state >> 16) / 1000.0;
        let snapshot = engine.on_bar(&bar_at("1m", minute, close)).expect("in order");
        assert!(snapshot.support_levels.len() <= 5 && snapshot.resistance_levels.len() <= 5);
        if minute == 9_999 {
            assert_eq!((snapshot.support_levels.len(), snapshot.resistance_levels.len()), (5, 5));
        }
    }
    assert_eq!(capacities(&engine), at_start);
}

#[test]
fn config_is_validated_all_at_once() {
    assert_eq!(
        IndicatorEngine::new(IndicatorConfig { swing_window: 0, levels_kept: 17 }).map(|_| ()),
        Err(vec![IndicatorConfigError::SwingWindow(0), IndicatorConfigError::LevelsKept(17)])
    );
    assert!(IndicatorEngine::new(IndicatorConfig { swing_window: 50, levels_kept: 1 }).is_ok());
}
