//! Our PGCOPY encoder against tokio-postgres's binary COPY path, on the same rows, in
//! the same run.
//!
//! - `encode/*`: pure encoding into memory. `tokio_postgres_to_sql` is the per-value
//!   `ToSql::to_sql_checked` loop that `BinaryCopyInWriter::write_raw` runs for each
//!   row (tokio-postgres 0.7 `binary_copy.rs`), on rows held in the types its users
//!   pass (`chrono::DateTime<Utc>`, `String`, `f64`, …). `BinaryCopyInWriter` itself
//!   only exists on a live connection, so it is measured in the next group.
//! - `encode/hypertick/custom_*`: custom-table rows, whose values are `CellValue`s
//!   encoded by type at run time: `custom_tick_shape` is a tick's columns declared as a
//!   custom table (the same data as `ticks`, so the difference is the dynamic path),
//!   `custom_price_tracking` the example's `price_tracking` (uuid, numeric(10,2),
//!   varchar, text, timestamptz, jsonb). `convert/*` is the router's step before it:
//!   a push `row` record's JSON into those values.
//! - `copy_into_postgres/*`: 10 000 ticks into a real (throwaway) PostgreSQL: our
//!   encoder + one `copy_in` send, against the real `BinaryCopyInWriter`. Skipped when
//!   no PostgreSQL server binaries are installed.
// A benchmark harness: a failure here is a broken setup, and `unwrap` says where.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::SinkExt;
use hypertick::record::{Bar, CellValue, ColumnRule, CustomRow, CustomSchema, RowOp, RowRecord, Side, Table, Tick, Timestamp};
use hypertick::sink::{copy_statement, encode_rows};
use hypertick::source::push::{row_convert, PushRows};
use postgres_types::{IsNull, ToSql, Type};

const ROWS: usize = 10_000;

fn ticks(count: usize) -> Vec<Tick> {
    let start = 1_795_348_800_000_000i64;
    (0..count)
        .map(|i| Tick {
            time: Timestamp(start + i as i64 * 137),
            received_at: Timestamp(start + i as i64 * 137 + 950),
            venue: "binance".into(),
            symbol: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "AAPL"][i % 4].into(),
            price: 97_000.0 + (i % 1_000) as f64 * 0.01,
            size: 0.001 * (1 + i % 50) as f64,
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            trade_id: Some((3_000_000_000u64 + i as u64).to_string().into()),
        })
        .collect()
}

fn bars(count: usize) -> Vec<Bar> {
    let start = 1_795_348_800_000_000i64;
    (0..count)
        .map(|i| Bar {
            time: Timestamp(start + i as i64 * 60_000_000),
            received_at: Timestamp(start + i as i64 * 60_000_000 + 1_000),
            venue: "binance".to_string(),
            symbol: "BTCUSDT".to_string(),
            interval: "1m".to_string(),
            open: 97_000.0,
            high: 97_100.0,
            low: 96_900.0,
            close: 97_050.0,
            volume: 12.5,
            vwap: Some(97_010.0),
            trades: Some(345),
        })
        .collect()
}

/// The ticks as rows of a custom table with a tick's columns.
fn custom_tick_rows(rows: &[Tick]) -> Vec<CustomRow> {
    let columns = Table::Ticks
        .columns()
        .iter()
        .map(|column| ColumnRule {
            name: column.name.to_string(),
            pg_type: column.pg_type,
            nullable: true,
            default: None,
            allow_nan: false,
        })
        .collect();
    let schema = CustomSchema::new("bench_custom_ticks", columns, "time").expect("a tick's columns");
    rows.iter()
        .map(|tick| CustomRow {
            table: schema.table,
            received_at: tick.received_at,
            time: tick.time,
            values: vec![
                CellValue::TimestampTz(tick.time),
                CellValue::TimestampTz(tick.received_at),
                CellValue::Text(tick.venue.to_string()),
                CellValue::Text(tick.symbol.to_string()),
                CellValue::Float8(tick.price),
                CellValue::Float8(tick.size),
                CellValue::Int2(tick.side as i16),
                tick.trade_id.as_ref().map_or(CellValue::Null, |id| CellValue::Text(id.to_string())),
            ],
        })
        .collect()
}

/// `price_tracking` of `config/examples/custom_tables.toml`.
fn price_tracking_schema() -> CustomSchema {
    let example = include_str!("../config/examples/custom_tables.toml");
    let config = hypertick::app::load_config_str(example, Vec::new()).expect("the example is valid");
    config.custom_tables[0].schema(&PushRows).expect("price_tracking")
}

/// Push `row` records for `price_tracking`, as the router receives them.
fn price_tracking_records(count: usize) -> Vec<RowRecord> {
    let start = 1_795_348_800_000_000i64;
    (0..count)
        .map(|i| {
            let json = format!(
                r#"{{"id":"0b7a3c1e-4f5d-4e6a-9b8c-{:012x}","deal_id":"7c9e6679-7425-40de-944b-e07fc1f9{:04x}","price":"{}.{:02}","currency":"USD","source":"amazon","tracked_at":"{}","meta_data":{{"seller":"acme","rank":{}}}}}"#,
                i,
                i % 4096,
                10 + i % 990,
                i % 100,
                Timestamp(start + i as i64 * 1_000_000),
                i % 50
            );
            let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).expect("valid JSON");
            let mut columns: Vec<String> = fields.keys().cloned().collect();
            columns.sort_unstable();
            RowRecord { received_at: Timestamp(start), table: "price_tracking".into(), op: RowOp::Insert, json, columns, key: String::new(), fields }
        })
        .collect()
}

/// A tick as a tokio-postgres user holds it.
struct PostgresTick {
    time: DateTime<Utc>,
    received_at: DateTime<Utc>,
    venue: String,
    symbol: String,
    price: f64,
    size: f64,
    side: i16,
    trade_id: Option<String>,
}

struct PostgresBar {
    time: DateTime<Utc>,
    received_at: DateTime<Utc>,
    venue: String,
    symbol: String,
    interval: String,
    prices: [f64; 5],
    vwap: Option<f64>,
    trades: Option<i64>,
}

fn datetime(stamp: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(stamp.micros()).expect("in range")
}

fn postgres_ticks(rows: &[Tick]) -> Vec<PostgresTick> {
    rows.iter()
        .map(|t| PostgresTick {
            time: datetime(t.time),
            received_at: datetime(t.received_at),
            venue: t.venue.to_string(),
            symbol: t.symbol.to_string(),
            price: t.price,
            size: t.size,
            side: t.side as i16,
            trade_id: t.trade_id.as_ref().map(ToString::to_string),
        })
        .collect()
}

fn postgres_bars(rows: &[Bar]) -> Vec<PostgresBar> {
    rows.iter()
        .map(|b| PostgresBar {
            time: datetime(b.time),
            received_at: datetime(b.received_at),
            venue: b.venue.clone(),
            symbol: b.symbol.clone(),
            interval: b.interval.clone(),
            prices: [b.open, b.high, b.low, b.close, b.volume],
            vwap: b.vwap,
            trades: b.trades,
        })
        .collect()
}

const TICK_TYPES: [Type; 8] =
    [Type::TIMESTAMPTZ, Type::TIMESTAMPTZ, Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::INT2, Type::TEXT];
const BAR_TYPES: [Type; 12] = [
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::INT8,
];

/// One row as `BinaryCopyInWriter::write_raw` encodes it: the field count, then per
/// value a length slot, `to_sql_checked`, and the length patched in.
fn write_values(values: &[&(dyn ToSql + Sync)], types: &[Type], buffer: &mut BytesMut) {
    buffer.put_i16(types.len() as i16);
    for (value, ty) in values.iter().zip(types) {
        let index = buffer.len();
        buffer.put_i32(0);
        let length = match value.to_sql_checked(ty, buffer).expect("encodable") {
            IsNull::Yes => -1,
            IsNull::No => (buffer.len() - index - 4) as i32,
        };
        buffer[index..index + 4].copy_from_slice(&length.to_be_bytes());
    }
}

fn header(buffer: &mut BytesMut) {
    buffer.put_slice(b"PGCOPY\n\xff\r\n\0");
    buffer.put_i32(0);
    buffer.put_i32(0);
}

fn tokio_postgres_encode_ticks(rows: &[PostgresTick], buffer: &mut BytesMut) {
    header(buffer);
    for row in rows {
        let values: [&(dyn ToSql + Sync); 8] =
            [&row.time, &row.received_at, &row.venue, &row.symbol, &row.price, &row.size, &row.side, &row.trade_id];
        write_values(&values, &TICK_TYPES, buffer);
    }
    buffer.put_i16(-1);
}

fn tokio_postgres_encode_bars(rows: &[PostgresBar], buffer: &mut BytesMut) {
    header(buffer);
    for row in rows {
        let [open, high, low, close, volume] = &row.prices;
        let values: [&(dyn ToSql + Sync); 12] =
            [&row.time, &row.received_at, &row.venue, &row.symbol, &row.interval, open, high, low, close, volume, &row.vwap, &row.trades];
        write_values(&values, &BAR_TYPES, buffer);
    }
    buffer.put_i16(-1);
}

fn encode(c: &mut Criterion) {
    let tick_rows = ticks(ROWS);
    let tick_pg = postgres_ticks(&tick_rows);
    let bar_rows = bars(ROWS);
    let bar_pg = postgres_bars(&bar_rows);

    // Both encoders must produce the same bytes, or the comparison means nothing.
    let (mut ours, mut theirs) = (BytesMut::new(), BytesMut::new());
    encode_rows(&tick_rows, &mut ours);
    tokio_postgres_encode_ticks(&tick_pg, &mut theirs);
    assert_eq!(ours, theirs, "tick encodings differ");
    let (mut ours, mut theirs) = (BytesMut::new(), BytesMut::new());
    encode_rows(&bar_rows, &mut ours);
    tokio_postgres_encode_bars(&bar_pg, &mut theirs);
    assert_eq!(ours, theirs, "bar encodings differ");

    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function(BenchmarkId::new("hypertick", "ticks"), |b| {
        b.iter(|| {
            let mut buffer = BytesMut::with_capacity(ROWS * 96);
            encode_rows(&tick_rows, &mut buffer);
            buffer
        })
    });
    group.bench_function(BenchmarkId::new("tokio_postgres_to_sql", "ticks"), |b| {
        b.iter(|| {
            let mut buffer = BytesMut::with_capacity(ROWS * 96);
            tokio_postgres_encode_ticks(&tick_pg, &mut buffer);
            buffer
        })
    });
    group.bench_function(BenchmarkId::new("hypertick", "bars"), |b| {
        b.iter(|| {
            let mut buffer = BytesMut::with_capacity(ROWS * 140);
            encode_rows(&bar_rows, &mut buffer);
            buffer
        })
    });
    group.bench_function(BenchmarkId::new("tokio_postgres_to_sql", "bars"), |b| {
        b.iter(|| {
            let mut buffer = BytesMut::with_capacity(ROWS * 140);
            tokio_postgres_encode_bars(&bar_pg, &mut buffer);
            buffer
        })
    });

    // Custom tables: the same ticks through the dynamic path, and the example's
    // price_tracking rows.
    let custom_ticks = custom_tick_rows(&tick_rows);
    let (mut ours, mut static_path) = (BytesMut::new(), BytesMut::new());
    encode_rows(&custom_ticks, &mut ours);
    encode_rows(&tick_rows, &mut static_path);
    assert_eq!(ours, static_path, "a tick encodes the same as a custom row");
    let schema = price_tracking_schema();
    let records = price_tracking_records(ROWS);
    let prices: Vec<CustomRow> = records.iter().map(|record| row_convert::convert(&schema, record).expect("a valid row")).collect();
    assert!(prices.iter().all(|row| row.values.len() == 7 && !row.values.contains(&CellValue::Null)));
    group.bench_function(BenchmarkId::new("hypertick", "custom_tick_shape"), |b| {
        b.iter(|| {
            let mut buffer = BytesMut::with_capacity(ROWS * 96);
            encode_rows(&custom_ticks, &mut buffer);
            buffer
        })
    });
    group.bench_function(BenchmarkId::new("hypertick", "custom_price_tracking"), |b| {
        b.iter(|| {
            let mut buffer = BytesMut::with_capacity(ROWS * 160);
            encode_rows(&prices, &mut buffer);
            buffer
        })
    });
    group.finish();

    let mut group = c.benchmark_group("convert");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("price_tracking_row_json", |b| {
        b.iter(|| records.iter().map(|record| row_convert::convert(&schema, record).expect("a valid row")).collect::<Vec<_>>())
    });
    group.finish();
}

fn copy_into_postgres(c: &mut Criterion) {
    use hypertick::db::throwaway::{find_bindir, ClusterOptions, ThrowawayCluster};
    use tokio_postgres::binary_copy::BinaryCopyInWriter;

    if find_bindir().is_none() {
        eprintln!("copy_into_postgres: skipped, no PostgreSQL server binaries");
        return;
    }
    let cluster = ThrowawayCluster::start(ClusterOptions { fsync: false, settings: Vec::new() }).expect("cluster");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async {
        let mut client = hypertick::db::connect(&cluster.url("hypertick"), Duration::from_secs(10)).await.unwrap();
        hypertick::db::migrate(&mut client, hypertick::db::Profile::Vanilla).await.unwrap();
        // A plain table with the same columns and index, so partitions play no part.
        client
            .batch_execute("CREATE UNLOGGED TABLE bench_ticks (LIKE ticks); CREATE INDEX ON bench_ticks (symbol, time DESC)")
            .await
            .unwrap();
        client
    });
    let statement = copy_statement(Table::Ticks).replacen("COPY ticks ", "COPY bench_ticks ", 1);
    let tick_rows = ticks(ROWS);
    let tick_pg = postgres_ticks(&tick_rows);

    let mut group = c.benchmark_group("copy_into_postgres");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("hypertick_encoder", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    client.batch_execute("TRUNCATE bench_ticks").await.unwrap();
                    let started = Instant::now();
                    let mut buffer = BytesMut::with_capacity(ROWS * 96);
                    encode_rows(&tick_rows, &mut buffer);
                    let sink = client.copy_in::<_, bytes::Bytes>(statement.as_str()).await.unwrap();
                    futures_util::pin_mut!(sink);
                    sink.send(buffer.freeze()).await.unwrap();
                    assert_eq!(sink.finish().await.unwrap(), ROWS as u64);
                    total += started.elapsed();
                }
                total
            })
        })
    });
    group.bench_function("tokio_postgres_binary_copy_in_writer", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    client.batch_execute("TRUNCATE bench_ticks").await.unwrap();
                    let started = Instant::now();
                    let sink = client.copy_in(statement.as_str()).await.unwrap();
                    let writer = BinaryCopyInWriter::new(sink, &TICK_TYPES);
                    futures_util::pin_mut!(writer);
                    for row in &tick_pg {
                        writer
                            .as_mut()
                            .write(&[&row.time, &row.received_at, &row.venue, &row.symbol, &row.price, &row.size, &row.side, &row.trade_id])
                            .await
                            .unwrap();
                    }
                    assert_eq!(writer.finish().await.unwrap(), ROWS as u64);
                    total += started.elapsed();
                }
                total
            })
        })
    });
    group.finish();
    drop(client);
    drop(cluster);
}

criterion_group!(benches, encode, copy_into_postgres);
criterion_main!(benches);
