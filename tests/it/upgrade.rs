//! Files written by an earlier release are read back correctly: a spool holding one
//! record of every kind (each under its table's stream) and a bus journal naming those
//! streams. The fixture under `tests/fixtures/upgrade-0.1/` was written by release 0.1
//! (before the table registry); the stream numbers and the spool's record tags in it are
//! on-disk ids that no later change may renumber.
//!
//! To write a fixture for a new format version, run this file's tests with
//! `HYPERTICK_WRITE_UPGRADE_FIXTURE=<dir>`: they write into `<dir>` instead of reading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hypertick::bus::journal::Journal;
use hypertick::record::{
    Bar, IndicatorValue, JsonText, OptionKind, OptionQuote, Quote, Record, RowOp, RowRecord, Side, Signal, Table, TechnicalIndicators,
    Tick, Ticker, Timestamp,
};
use hypertick::spool::{codec, Spool, SpoolSettings};

const FIXTURE: &str = "tests/fixtures/upgrade-0.1";

/// The stream numbers release 0.1 wrote, by table: pinned here as literals.
const STREAMS: [(&str, u16); 18] = [
    ("ticks", 0),
    ("quotes", 1),
    ("bars", 2),
    ("tickers", 3),
    ("options_quotes", 4),
    ("technical_indicators", 5),
    ("indicator_values", 6),
    ("signals", 7),
    ("feed_events", 8),
    ("dead_letters", 9),
    ("relational", 10),
    ("custom_tables", 11),
    ("book_deltas", 12),
    ("book_snapshots", 13),
    ("funding_rates", 14),
    ("open_interest", 15),
    ("mark_prices", 16),
    ("liquidations", 17),
];

fn stream_of(name: &str) -> u16 {
    STREAMS.iter().find(|(table, _)| *table == name).map(|(_, stream)| *stream).expect("a pinned stream")
}

/// One record of every kind, the stream it was spooled under, and its producer id key.
fn records() -> Vec<(u16, Record, u128)> {
    let time = Timestamp(1_795_348_800_123_456);
    let later = Timestamp(1_795_348_801_000_000);
    let row = |table: &str, json: &str, key: &str| RowRecord {
        received_at: later,
        table: table.into(),
        op: RowOp::Upsert,
        json: json.into(),
        columns: {
            let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
            let mut columns: Vec<String> = fields.keys().cloned().collect();
            columns.sort_unstable();
            columns
        },
        key: key.into(),
        fields: serde_json::from_str(json).unwrap(),
    };
    vec![
        (
            stream_of("ticks"),
            Record::Tick(Tick {
                time,
                received_at: later,
                venue: "binance".into(),
                symbol: "BTC-USDT".into(),
                price: 97_000.5,
                size: 0.25,
                side: Side::Sell,
                trade_id: Some("42".into()),
            }),
            0,
        ),
        (
            stream_of("quotes"),
            Record::Quote(Quote {
                time,
                received_at: later,
                venue: "coinbase".into(),
                symbol: "ETH-USD".into(),
                bid_price: 3_000.25,
                bid_size: 1.5,
                ask_price: 3_000.5,
                ask_size: 2.0,
            }),
            7,
        ),
        (
            stream_of("bars"),
            Record::Bar(Bar {
                time,
                received_at: later,
                venue: "alpaca".into(),
                symbol: "AAPL".into(),
                interval: "1m".into(),
                open: 190.0,
                high: 191.5,
                low: 189.75,
                close: 191.0,
                volume: 12_000.0,
                vwap: Some(190.6),
                trades: Some(321),
            }),
            0,
        ),
        (
            stream_of("tickers"),
            Record::Ticker(Ticker {
                time,
                received_at: later,
                venue: "kraken".into(),
                symbol: "BTC/USD".into(),
                last: 97_100.0,
                open_24h: Some(96_000.0),
                high_24h: Some(98_000.0),
                low_24h: None,
                volume_24h: Some(1_234.5),
                quote_volume_24h: None,
                change: Some(1_100.0),
                change_pct: Some(1.1458),
            }),
            0,
        ),
        (
            stream_of("options_quotes"),
            Record::OptionQuote(OptionQuote {
                time,
                received_at: later,
                venue: "deribit".into(),
                symbol: "BTC-27DEC26-100000-C".into(),
                underlying: "BTC".into(),
                option_type: OptionKind::Call,
                strike: 100_000.0,
                expiration: chrono::NaiveDate::from_ymd_opt(2026, 12, 27).unwrap(),
                bid: Some(0.04),
                ask: Some(0.045),
                last: None,
                mark: Some(0.041),
                volume: None,
                open_interest: Some(12.0),
                delta: Some(0.4),
                gamma: Some(0.00002),
                theta: None,
                vega: Some(60.0),
                rho: None,
                iv: Some(55.5),
                bid_iv: None,
                ask_iv: None,
                underlying_price: Some(97_000.0),
            }),
            0,
        ),
        (
            stream_of("technical_indicators"),
            Record::TechnicalIndicators(TechnicalIndicators {
                time,
                received_at: later,
                venue: "binance".into(),
                symbol: "BTC-USDT".into(),
                interval: "1m".into(),
                rsi: Some(55.0),
                sma_20: Some(96_900.0),
                support_levels: vec![96_000.0, 95_500.0],
                resistance_levels: vec![98_000.0],
                ..TechnicalIndicators::default()
            }),
            0,
        ),
        (
            stream_of("indicator_values"),
            Record::IndicatorValue(IndicatorValue {
                time,
                received_at: later,
                venue: None,
                symbol: "SPY".into(),
                interval: "5m".into(),
                name: "vwap_dev".into(),
                value: -0.75,
            }),
            0,
        ),
        (
            stream_of("signals"),
            Record::Signal(Signal {
                time,
                received_at: later,
                source: "agent-7".into(),
                category: "technical".into(),
                symbol: Some("NVDA".into()),
                direction: Some("long".into()),
                strength: Some(0.5),
                confidence: Some(0.8),
                impact: None,
                content: Some("breakout".into()),
                // Release 0.1 stored the payload's text; it reads back as that text.
                payload: Some(JsonText::from_checked(r#"{"levels":[1,2],"nested":{"ok":true}}"#)),
            }),
            u128::MAX - 7,
        ),
        (
            stream_of("relational"),
            Record::Row(row("orders", r#"{"id":"o-1","price":12345678901234.123456789,"status":"open"}"#, "\"o-1\"")),
            0,
        ),
        (
            stream_of("custom_tables"),
            Record::Row(row("fx_rates", r#"{"pair":"EURUSD","rate":"1.0842","at":"2026-11-30T12:00:00Z"}"#, "")),
            0,
        ),
    ]
}

/// The committed ranges the fixture's journal holds, by stream: one closed batch per
/// stream, and one batch of `ticks` left open with one of its two messages acknowledged.
fn journal_batches() -> Vec<(&'static str, u64, u64)> {
    vec![("ticks", 1, 5), ("quotes", 1, 2), ("signals", 3, 9), ("relational", 1, 4), ("custom_tables", 1, 1), ("options_quotes", 2, 2)]
}

fn settings(dir: &Path) -> SpoolSettings {
    SpoolSettings { dir: dir.to_path_buf(), max_bytes: 1 << 24, segment_bytes: 1 << 20, fsync_interval: Duration::from_millis(1) }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn write_fixture(dir: &Path) {
    let (spool, _) = Spool::open(settings(&dir.join("spool")), &HashMap::new()).unwrap();
    for (stream, record, id) in records() {
        let mut payload = Vec::new();
        codec::encode(&record, id, &mut payload);
        spool.append(stream, &payload).unwrap();
    }
    spool.sync().unwrap();
    let (journal, _) = Journal::open(&dir.join("bus")).unwrap();
    for (table, first, last) in journal_batches() {
        let counter = journal.begin_batch(stream_of(table), first, last, 1).unwrap();
        journal.acked(counter, counter).unwrap();
    }
    let open = journal.begin_batch(stream_of("ticks"), 6, 9, 2).unwrap();
    journal.acked(open, open).unwrap();
}

fn fixture_copy() -> Option<tempfile::TempDir> {
    if let Ok(dir) = std::env::var("HYPERTICK_WRITE_UPGRADE_FIXTURE") {
        static WRITE: std::sync::Once = std::sync::Once::new();
        WRITE.call_once(|| write_fixture(&PathBuf::from(dir)));
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&root.join("spool"), &copy.path().join("spool"));
    copy_dir(&root.join("bus"), &copy.path().join("bus"));
    Some(copy)
}

#[test]
fn stream_numbers_of_release_0_1_name_the_same_tables() {
    for table in Table::ALL {
        assert_eq!(table.spool_stream(), stream_of(table.name()), "{table}");
        assert_eq!(table.spool_stream_name(), table.name());
    }
    assert_eq!(Table::CUSTOM_SPOOL_STREAM, stream_of("custom_tables"));
    assert_eq!(Table::CUSTOM_SPOOL_STREAM_NAME, "custom_tables");
}

#[test]
fn a_spool_written_by_release_0_1_reads_back_record_for_record() {
    let Some(copy) = fixture_copy() else { return };
    let (spool, recovered) = Spool::open(settings(&copy.path().join("spool")), &HashMap::new()).unwrap();
    assert!(recovered.damaged.is_empty() && recovered.losses.is_empty(), "{recovered:?}");
    let mut read = Vec::new();
    for segment in &recovered.replay {
        for entry in spool.read_segment(*segment).unwrap() {
            let (record, id) = codec::decode(&entry.payload).unwrap_or_else(|error| panic!("stream {}: {error}", entry.stream));
            read.push((entry.stream, record, id));
        }
    }
    let expected = records();
    assert_eq!(read.len(), expected.len());
    for ((stream, record, id), (expected_stream, expected_record, expected_id)) in read.iter().zip(&expected) {
        assert_eq!((stream, record, id), (expected_stream, expected_record, expected_id));
        // The table today's code routes the record to owns the stream it was spooled under.
        let table = record.table();
        let Record::Row(row) = record else {
            assert_eq!(table.spool_stream(), *stream, "{table}");
            continue;
        };
        if row.table == "fx_rates" {
            assert_eq!(*stream, Table::CUSTOM_SPOOL_STREAM);
        } else {
            assert_eq!((table, table.spool_stream()), (Table::Relational, *stream));
        }
    }
}

#[test]
fn a_bus_journal_written_by_release_0_1_reads_back_stream_for_stream() {
    let Some(copy) = fixture_copy() else { return };
    let (_journal, recovered) = Journal::open(&copy.path().join("bus")).unwrap();
    for (table, first, last) in journal_batches() {
        let tracker = recovered.committed.get(&stream_of(table)).unwrap_or_else(|| panic!("{table}: no committed ranges"));
        assert!((first..=last).all(|sequence| tracker.is_committed(sequence)), "{table}: {first}..={last}");
    }
    let named: HashMap<u16, &str> = Table::ALL.iter().map(|table| (table.spool_stream(), table.name())).collect();
    assert_eq!(named[&Table::Ticks.spool_stream()], "ticks");
    assert_eq!(recovered.open.len(), 1);
    let open = &recovered.open[0];
    assert_eq!((open.stream, open.first, open.last, open.count, open.acked.len()), (Table::Ticks.spool_stream(), 6, 9, 2, 1));
}
