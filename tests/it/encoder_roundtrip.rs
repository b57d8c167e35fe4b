//! Property test: random rows of every table, encoded by our PGCOPY encoder, COPYed
//! into a real PostgreSQL and read back, come back equal — NULLs, extreme and special
//! floats (NaN, ±∞, −0, subnormals), empty and non-ASCII strings, and the edges of
//! PostgreSQL's timestamp range.

use bytes::BytesMut;
use futures_util::SinkExt;
use hypertick::record::{Bar, DeadLetter, FeedEvent, Quote, Side, Table, Tick, Timestamp};
use hypertick::sink::{copy_statement, encode_rows, CopyRow};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use tokio_postgres::Client;

use crate::support;

/// PostgreSQL's earliest timestamptz in µs since 2000-01-01 (4714-11-24 BC). Its
/// latest (294276 AD) lies past what µs since 1970 in an i64 can hold, so the upper
/// edge tested is `Timestamp(i64::MAX)`, year 294247.
const POSTGRES_MIN_MICROS: i64 = -211_813_488_000_000_000;

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        Just(Timestamp(0)),
        Just(Timestamp(-1)),
        Just(Timestamp::from_postgres_micros(0)),
        Just(Timestamp::from_postgres_micros(POSTGRES_MIN_MICROS)),
        Just(Timestamp(i64::MAX)),
        (Timestamp::from_postgres_micros(POSTGRES_MIN_MICROS).micros()..=i64::MAX).prop_map(Timestamp),
        (0i64..4_102_444_800_000_000).prop_map(Timestamp),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 2.0),
        Just(f64::MAX),
        Just(f64::MIN),
        any::<f64>(),
        -1e6f64..1e6,
    ]
}

/// Text PostgreSQL can store: any Unicode but NUL, including empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("日本語 ✓ émoji 🚀".to_string()),
        "[^\u{0}]{0,40}",
    ]
}

fn tick() -> impl Strategy<Value = Tick> {
    (timestamp(), timestamp(), text(), text(), float(), float(), prop_oneof![Just(Side::Buy), Just(Side::Sell), Just(Side::Unknown)], proptest::option::of(text()))
        .prop_map(|(time, received_at, venue, symbol, price, size, side, trade_id)| Tick {
            time, received_at, venue, symbol, price, size, side, trade_id,
        })
}

fn quote() -> impl Strategy<Value = Quote> {
    (timestamp(), timestamp(), text(), text(), float(), float(), float(), float()).prop_map(
        |(time, received_at, venue, symbol, bid_price, bid_size, ask_price, ask_size)| Quote {
            time, received_at, venue, symbol, bid_price, bid_size, ask_price, ask_size,
        },
    )
}

fn bar() -> impl Strategy<Value = Bar> {
    (
        (timestamp(), timestamp(), text(), text(), text()),
        (float(), float(), float(), float(), float()),
        (proptest::option::of(float()), proptest::option::of(any::<i64>())),
    )
        .prop_map(|((time, received_at, venue, symbol, interval), (open, high, low, close, volume), (vwap, trades))| Bar {
            time, received_at, venue, symbol, interval, open, high, low, close, volume, vwap, trades,
        })
}

fn feed_event() -> impl Strategy<Value = FeedEvent> {
    (timestamp(), timestamp(), text(), proptest::collection::btree_map("[a-z]{1,8}", prop_oneof![text().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)], 0..4))
        .prop_map(|(time, received_at, source, detail)| FeedEvent {
            time,
            received_at,
            source,
            kind: "gap",
            detail: serde_json::Value::Object(detail.into_iter().collect()),
        })
}

fn dead_letter() -> impl Strategy<Value = DeadLetter> {
    (timestamp(), text(), text(), text()).prop_map(|(received_at, source, detail, raw)| DeadLetter {
        received_at, source, reason: "invalid_json", detail, raw,
    })
}

/// A timestamptz read back exactly as PostgreSQL stores it: µs since 2000-01-01.
struct RawTimestamp(i64);

impl<'a> postgres_types::FromSql<'a> for RawTimestamp {
    fn from_sql(_: &postgres_types::Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawTimestamp(i64::from_be_bytes(raw.try_into()?)))
    }

    fn accepts(ty: &postgres_types::Type) -> bool {
        *ty == postgres_types::Type::TIMESTAMPTZ
    }
}

/// Column `index` of `row` as µs since the Unix epoch.
fn micros(row: &tokio_postgres::Row, index: usize) -> i64 {
    Timestamp::from_postgres_micros(row.get::<_, RawTimestamp>(index).0).micros()
}

fn same_float(left: f64, right: f64) -> bool {
    (left.is_nan() && right.is_nan()) || left.to_bits() == right.to_bits()
}

/// Copies `rows` into a plain (unpartitioned) twin of their table and returns the
/// rows as read back, each column as text-or-bits so that comparisons are exact.
async fn copy_into_twin<R: CopyRow>(client: &Client, rows: &[R]) -> Vec<tokio_postgres::Row> {
    let table = R::TABLE.name();
    let twin = format!("roundtrip_{table}");
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {twin}; CREATE TABLE {twin} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY); \
             ALTER TABLE {twin} ADD COLUMN copy_order bigserial"
        ))
        .await
        .expect("twin table");
    let mut buffer = BytesMut::new();
    encode_rows(rows, &mut buffer);
    let statement = copy_statement(R::TABLE).replacen(&format!("COPY {table} "), &format!("COPY {twin} "), 1);
    let sink = client.copy_in::<_, bytes::Bytes>(statement.as_str()).await.expect("copy in");
    futures_util::pin_mut!(sink);
    sink.send(buffer.freeze()).await.expect("send rows");
    let copied = sink.finish().await.expect("COPY accepted the encoded rows");
    assert_eq!(copied as usize, rows.len());
    let columns: Vec<String> = R::TABLE.columns().iter().map(|column| format!("\"{}\"", column.name)).collect();
    client
        .query(&format!("SELECT {} FROM {twin} ORDER BY copy_order", columns.join(", ")), &[])
        .await
        .expect("read back")
}

fn check_ticks(rows: &[Tick], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(row.received_at.micros(), micros(read, 1));
        prop_assert_eq!(&row.venue, &read.get::<_, String>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert!(same_float(row.price, read.get(4)), "price {} vs {}", row.price, read.get::<_, f64>(4));
        prop_assert!(same_float(row.size, read.get(5)));
        prop_assert_eq!(row.side as i16, read.get::<_, i16>(6));
        prop_assert_eq!(&row.trade_id, &read.get::<_, Option<String>>(7));
    }
    Ok(())
}

fn check_quotes(rows: &[Quote], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(row.received_at.micros(), micros(read, 1));
        prop_assert_eq!(&row.venue, &read.get::<_, String>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        for (index, value) in [row.bid_price, row.bid_size, row.ask_price, row.ask_size].into_iter().enumerate() {
            prop_assert!(same_float(value, read.get(4 + index)));
        }
    }
    Ok(())
}

fn check_bars(rows: &[Bar], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(row.received_at.micros(), micros(read, 1));
        prop_assert_eq!(&row.venue, &read.get::<_, String>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert_eq!(&row.interval, &read.get::<_, String>(4));
        for (index, value) in [row.open, row.high, row.low, row.close, row.volume].into_iter().enumerate() {
            prop_assert!(same_float(value, read.get(5 + index)));
        }
        let vwap: Option<f64> = read.get(10);
        prop_assert_eq!(row.vwap.is_some(), vwap.is_some());
        if let (Some(sent), Some(back)) = (row.vwap, vwap) {
            prop_assert!(same_float(sent, back));
        }
        prop_assert_eq!(row.trades, read.get::<_, Option<i64>>(11));
    }
    Ok(())
}

fn check_feed_events(rows: &[FeedEvent], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.source, &read.get::<_, String>(2));
        prop_assert_eq!(row.kind.to_string(), read.get::<_, String>(3));
        prop_assert_eq!(&row.detail, &read.get::<_, serde_json::Value>(4));
    }
    Ok(())
}

fn check_dead_letters(rows: &[DeadLetter], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.received_at.micros(), micros(read, 0));
        prop_assert_eq!(&row.source, &read.get::<_, String>(1));
        prop_assert_eq!(row.reason.to_string(), read.get::<_, String>(2));
        prop_assert_eq!(&row.detail, &read.get::<_, String>(3));
        prop_assert_eq!(&row.raw, &read.get::<_, String>(4));
    }
    Ok(())
}

#[test]
fn random_rows_round_trip_through_postgres() {
    let cluster = support::start_cluster();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = runtime.block_on(async {
        let mut client = support::sql(&cluster).await;
        hypertick::db::migrate(&mut client, hypertick::db::Profile::Vanilla).await.expect("migrate");
        client
    });
    let cases = ProptestConfig { cases: 48, ..ProptestConfig::default() };
    let rows = |strategy| proptest::collection::vec(strategy, 0..40);

    TestRunner::new(cases.clone())
        .run(&rows(tick().boxed()), |rows| check_ticks(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("ticks round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(quote(), 0..40), |rows| check_quotes(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("quotes round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(bar(), 0..40), |rows| check_bars(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("bars round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(feed_event(), 0..20), |rows| check_feed_events(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("feed events round-trip");
    TestRunner::new(cases)
        .run(&proptest::collection::vec(dead_letter(), 0..20), |rows| check_dead_letters(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("dead letters round-trip");
    assert_eq!(Table::ALL.len(), 5, "a new table needs its round-trip case here");
}
