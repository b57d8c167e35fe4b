//! Property test: random rows of every table, encoded by our PGCOPY encoder, COPYed
//! into a real PostgreSQL and read back, come back equal — NULLs, extreme and special
//! floats (NaN, ±∞, −0, subnormals), empty and non-ASCII strings, and the edges of
//! PostgreSQL's timestamp range.

use bytes::BytesMut;
use futures_util::SinkExt;
use hypertick::record::{
    Bar, BookDelta, BookSide, BookSnapshot, DeadLetter, FeedEvent, FundingRate, IndicatorValue, JsonText, Liquidation, MarkPrice,
    OpenInterest, OptionKind, OptionQuote, Quote, Side, Signal, SnapshotReason, Table, TechnicalIndicators, Tick, Ticker, Timestamp,
};
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
    prop_oneof![Just(String::new()), Just("日本語 ✓ émoji 🚀".to_string()), "[^\u{0}]{0,40}",]
}

fn tick() -> impl Strategy<Value = Tick> {
    (
        timestamp(),
        timestamp(),
        text(),
        text(),
        float(),
        float(),
        prop_oneof![Just(Side::Buy), Just(Side::Sell), Just(Side::Unknown)],
        proptest::option::of(text()),
    )
        .prop_map(|(time, received_at, venue, symbol, price, size, side, trade_id)| Tick {
            time,
            received_at,
            venue: venue.into(),
            symbol: symbol.into(),
            price,
            size,
            side,
            trade_id: trade_id.map(Into::into),
        })
}

fn quote() -> impl Strategy<Value = Quote> {
    (timestamp(), timestamp(), text(), text(), float(), float(), float(), float()).prop_map(
        |(time, received_at, venue, symbol, bid_price, bid_size, ask_price, ask_size)| Quote {
            time,
            received_at,
            venue,
            symbol,
            bid_price,
            bid_size,
            ask_price,
            ask_size,
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
            time,
            received_at,
            venue,
            symbol,
            interval,
            open,
            high,
            low,
            close,
            volume,
            vwap,
            trades,
        })
}

fn feed_event() -> impl Strategy<Value = FeedEvent> {
    (
        timestamp(),
        timestamp(),
        text(),
        proptest::collection::btree_map(
            "[a-z]{1,8}",
            prop_oneof![text().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)],
            0..4,
        ),
    )
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
        received_at,
        source,
        reason: "invalid_json",
        detail,
        raw,
    })
}

fn optional_floats<const N: usize>() -> impl Strategy<Value = [Option<f64>; N]> {
    proptest::array::uniform(proptest::option::of(float()))
}

fn ticker() -> impl Strategy<Value = Ticker> {
    (timestamp(), timestamp(), text(), text(), float(), optional_floats::<7>()).prop_map(
        |(time, received_at, venue, symbol, last, [open_24h, high_24h, low_24h, volume_24h, quote_volume_24h, change, change_pct])| {
            Ticker { time, received_at, venue, symbol, last, open_24h, high_24h, low_24h, volume_24h, quote_volume_24h, change, change_pct }
        },
    )
}

/// Dates across most of PostgreSQL's range (4713 BC to far beyond 9999 AD).
fn date() -> impl Strategy<Value = chrono::NaiveDate> {
    prop_oneof![
        Just(chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()),
        Just(chrono::NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()),
        (-1_700_000i32..3_000_000).prop_map(|days| chrono::NaiveDate::from_num_days_from_ce_opt(days).unwrap()),
    ]
}

fn option_quote() -> impl Strategy<Value = OptionQuote> {
    (
        (timestamp(), timestamp(), text(), text(), text()),
        (prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)], float(), date()),
        optional_floats::<15>(),
    )
        .prop_map(|((time, received_at, venue, symbol, underlying), (option_type, strike, expiration), values)| {
            let [bid, ask, last, mark, volume, open_interest, delta, gamma, theta, vega, rho, iv, bid_iv, ask_iv, underlying_price] =
                values;
            OptionQuote {
                time,
                received_at,
                venue,
                symbol,
                underlying,
                option_type,
                strike,
                expiration,
                bid,
                ask,
                last,
                mark,
                volume,
                open_interest,
                delta,
                gamma,
                theta,
                vega,
                rho,
                iv,
                bid_iv,
                ask_iv,
                underlying_price,
            }
        })
}

fn technical_indicators() -> impl Strategy<Value = TechnicalIndicators> {
    (
        (timestamp(), timestamp(), text(), text(), text()),
        optional_floats::<14>(),
        (proptest::collection::vec(float(), 0..4), proptest::collection::vec(float(), 0..4)),
    )
        .prop_map(|((time, received_at, venue, symbol, interval), values, (support_levels, resistance_levels))| {
            let [sma_20, sma_50, ema_20, ema_50, rsi, macd_line, macd_signal, macd_histogram, bb_upper, bb_middle, bb_lower, bb_width, volume_sma_10, volume_ratio] = values;
            TechnicalIndicators {
                time, received_at, venue, symbol, interval, sma_20, sma_50, ema_20, ema_50, rsi, macd_line, macd_signal,
                macd_histogram, bb_upper, bb_middle, bb_lower, bb_width, volume_sma_10, volume_ratio, support_levels,
                resistance_levels,
            }
        })
}

fn indicator_value() -> impl Strategy<Value = IndicatorValue> {
    (timestamp(), timestamp(), proptest::option::of(text()), text(), text(), text(), float()).prop_map(
        |(time, received_at, venue, symbol, interval, name, value)| IndicatorValue {
            time,
            received_at,
            venue,
            symbol,
            interval,
            name,
            value,
        },
    )
}

fn book_delta() -> impl Strategy<Value = BookDelta> {
    (timestamp(), timestamp(), text(), text(), any::<bool>(), float(), float(), any::<i64>(), any::<bool>()).prop_map(
        |(time, received_at, venue, symbol, bid, price, size, sequence, snapshot)| BookDelta {
            time,
            received_at,
            venue,
            symbol,
            side: if bid { BookSide::Bid } else { BookSide::Ask },
            price,
            size,
            sequence,
            snapshot,
        },
    )
}

fn book_snapshot() -> impl Strategy<Value = BookSnapshot> {
    let floats = || proptest::collection::vec(float(), 0..6);
    ((timestamp(), timestamp(), text(), text(), any::<i64>()), (floats(), floats(), floats(), floats()), any::<i32>(), any::<bool>())
        .prop_map(|((time, received_at, venue, symbol, sequence), (bid_prices, bid_sizes, ask_prices, ask_sizes), depth, sync)| {
            BookSnapshot {
                time,
                received_at,
                venue,
                symbol,
                sequence,
                bid_prices,
                bid_sizes,
                ask_prices,
                ask_sizes,
                depth,
                reason: if sync { SnapshotReason::Sync } else { SnapshotReason::Interval },
            }
        })
}

fn funding_rate() -> impl Strategy<Value = FundingRate> {
    (
        timestamp(),
        timestamp(),
        text(),
        text(),
        float(),
        optional_floats::<1>(),
        proptest::option::of(timestamp()),
        proptest::option::of(text()),
    )
        .prop_map(|(time, received_at, venue, symbol, rate, [predicted_rate], next_funding_time, interval)| FundingRate {
            time,
            received_at,
            venue,
            symbol,
            rate,
            predicted_rate,
            next_funding_time,
            interval,
        })
}

fn open_interest() -> impl Strategy<Value = OpenInterest> {
    (timestamp(), timestamp(), text(), text(), optional_floats::<2>()).prop_map(
        |(time, received_at, venue, symbol, [contracts, notional])| OpenInterest { time, received_at, venue, symbol, contracts, notional },
    )
}

fn mark_price() -> impl Strategy<Value = MarkPrice> {
    (timestamp(), timestamp(), text(), text(), optional_floats::<2>()).prop_map(
        |(time, received_at, venue, symbol, [mark_price, index_price])| MarkPrice {
            time,
            received_at,
            venue,
            symbol,
            mark_price,
            index_price,
        },
    )
}

fn liquidation() -> impl Strategy<Value = Liquidation> {
    (timestamp(), timestamp(), text(), text(), any::<bool>(), float(), float(), proptest::option::of(text())).prop_map(
        |(time, received_at, venue, symbol, buy, price, quantity, order_id)| Liquidation {
            time,
            received_at,
            venue,
            symbol,
            side: if buy { Side::Buy } else { Side::Sell },
            price,
            quantity,
            order_id,
        },
    )
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    proptest::collection::btree_map(
        "[a-z]{1,8}",
        prop_oneof![text().prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)],
        0..4,
    )
    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect()))
}

fn signal() -> impl Strategy<Value = Signal> {
    (
        (timestamp(), timestamp(), text(), text(), proptest::option::of(text())),
        (proptest::option::of(text()), proptest::option::of(float()), proptest::option::of(float())),
        (proptest::option::of(text()), proptest::option::of(text()), proptest::option::of(json_object())),
    )
        .prop_map(|((time, received_at, source, category, symbol), (direction, strength, confidence), (impact, content, payload))| {
            let payload = payload.map(|payload: serde_json::Value| JsonText::from(&payload));
            Signal { time, received_at, source, category, symbol, direction, strength, confidence, impact, content, payload }
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
    client.query(&format!("SELECT {} FROM {twin} ORDER BY copy_order", columns.join(", ")), &[]).await.expect("read back")
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
        let trade_id: Option<String> = read.get(7);
        prop_assert_eq!(row.trade_id.as_deref(), trade_id.as_deref());
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

/// Optional floats read back from consecutive columns starting at `first`.
fn check_optional_floats(sent: &[Option<f64>], read: &tokio_postgres::Row, first: usize) -> Result<(), TestCaseError> {
    for (offset, value) in sent.iter().enumerate() {
        let back: Option<f64> = read.get(first + offset);
        prop_assert_eq!(value.is_some(), back.is_some(), "column {}", first + offset);
        if let (Some(sent), Some(back)) = (value, back) {
            prop_assert!(same_float(*sent, back), "column {}: {} vs {}", first + offset, sent, back);
        }
    }
    Ok(())
}

fn check_tickers(rows: &[Ticker], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(row.received_at.micros(), micros(read, 1));
        prop_assert_eq!(&row.venue, &read.get::<_, String>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert!(same_float(row.last, read.get(4)));
        let optional = [row.open_24h, row.high_24h, row.low_24h, row.volume_24h, row.quote_volume_24h, row.change, row.change_pct];
        check_optional_floats(&optional, read, 5)?;
    }
    Ok(())
}

fn check_option_quotes(rows: &[OptionQuote], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert_eq!(&row.underlying, &read.get::<_, String>(4));
        prop_assert_eq!(row.option_type.as_str(), read.get::<_, String>(5));
        prop_assert!(same_float(row.strike, read.get(6)));
        prop_assert_eq!(row.expiration, read.get::<_, chrono::NaiveDate>(7));
        let optional = [
            row.bid,
            row.ask,
            row.last,
            row.mark,
            row.volume,
            row.open_interest,
            row.delta,
            row.gamma,
            row.theta,
            row.vega,
            row.rho,
            row.iv,
            row.bid_iv,
            row.ask_iv,
            row.underlying_price,
        ];
        check_optional_floats(&optional, read, 8)?;
    }
    Ok(())
}

fn check_technical_indicators(rows: &[TechnicalIndicators], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.interval, &read.get::<_, String>(4));
        let optional = [
            row.sma_20,
            row.sma_50,
            row.ema_20,
            row.ema_50,
            row.rsi,
            row.macd_line,
            row.macd_signal,
            row.macd_histogram,
            row.bb_upper,
            row.bb_middle,
            row.bb_lower,
            row.bb_width,
            row.volume_sma_10,
            row.volume_ratio,
        ];
        check_optional_floats(&optional, read, 5)?;
        for (sent, column) in [(&row.support_levels, 19), (&row.resistance_levels, 20)] {
            let back: Vec<f64> = read.get(column);
            prop_assert_eq!(sent.len(), back.len());
            for (sent, back) in sent.iter().zip(back) {
                prop_assert!(same_float(*sent, back));
            }
        }
    }
    Ok(())
}

fn check_indicator_values(rows: &[IndicatorValue], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.venue, &read.get::<_, Option<String>>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert_eq!(&row.interval, &read.get::<_, String>(4));
        prop_assert_eq!(&row.name, &read.get::<_, String>(5));
        prop_assert!(same_float(row.value, read.get(6)));
    }
    Ok(())
}

fn check_book_deltas(rows: &[BookDelta], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.venue, &read.get::<_, String>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert_eq!(row.side.as_str(), read.get::<_, String>(4));
        prop_assert!(same_float(row.price, read.get(5)));
        prop_assert!(same_float(row.size, read.get(6)));
        prop_assert_eq!(row.sequence, read.get::<_, i64>(7));
        prop_assert_eq!(row.snapshot, read.get::<_, bool>(8));
    }
    Ok(())
}

fn check_book_snapshots(rows: &[BookSnapshot], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.venue, &read.get::<_, String>(2));
        prop_assert_eq!(&row.symbol, &read.get::<_, String>(3));
        prop_assert_eq!(row.sequence, read.get::<_, i64>(4));
        for (sent, column) in [(&row.bid_prices, 5), (&row.bid_sizes, 6), (&row.ask_prices, 7), (&row.ask_sizes, 8)] {
            let back: Vec<f64> = read.get(column);
            prop_assert_eq!(sent.len(), back.len());
            for (sent, back) in sent.iter().zip(back) {
                prop_assert!(same_float(*sent, back));
            }
        }
        prop_assert_eq!(row.depth, read.get::<_, i32>(9));
        prop_assert_eq!(row.reason.as_str(), read.get::<_, String>(10));
    }
    Ok(())
}

/// venue and symbol, in columns 2 and 3 of every market table.
fn check_series_key(venue: &str, symbol: &str, read: &tokio_postgres::Row) -> Result<(), TestCaseError> {
    prop_assert_eq!(venue, read.get::<_, String>(2));
    prop_assert_eq!(symbol, read.get::<_, String>(3));
    Ok(())
}

fn check_funding_rates(rows: &[FundingRate], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        check_series_key(&row.venue, &row.symbol, read)?;
        prop_assert!(same_float(row.rate, read.get(4)));
        check_optional_floats(&[row.predicted_rate], read, 5)?;
        let next: Option<RawTimestamp> = read.get(6);
        prop_assert_eq!(row.next_funding_time.map(|time| time.micros()), next.map(|raw| Timestamp::from_postgres_micros(raw.0).micros()));
        prop_assert_eq!(&row.interval, &read.get::<_, Option<String>>(7));
    }
    Ok(())
}

fn check_open_interest(rows: &[OpenInterest], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        check_series_key(&row.venue, &row.symbol, read)?;
        check_optional_floats(&[row.contracts, row.notional], read, 4)?;
    }
    Ok(())
}

fn check_mark_prices(rows: &[MarkPrice], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        check_series_key(&row.venue, &row.symbol, read)?;
        check_optional_floats(&[row.mark_price, row.index_price], read, 4)?;
    }
    Ok(())
}

fn check_liquidations(rows: &[Liquidation], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(row.received_at.micros(), micros(read, 1));
        check_series_key(&row.venue, &row.symbol, read)?;
        prop_assert_eq!(row.side as i16, read.get::<_, i16>(4));
        prop_assert!(same_float(row.price, read.get(5)));
        prop_assert!(same_float(row.quantity, read.get(6)));
        prop_assert_eq!(&row.order_id, &read.get::<_, Option<String>>(7));
    }
    Ok(())
}

fn check_signals(rows: &[Signal], back: &[tokio_postgres::Row]) -> Result<(), TestCaseError> {
    prop_assert_eq!(rows.len(), back.len());
    for (row, read) in rows.iter().zip(back) {
        prop_assert_eq!(row.time.micros(), micros(read, 0));
        prop_assert_eq!(&row.source, &read.get::<_, String>(2));
        prop_assert_eq!(&row.category, &read.get::<_, String>(3));
        prop_assert_eq!(&row.symbol, &read.get::<_, Option<String>>(4));
        prop_assert_eq!(&row.direction, &read.get::<_, Option<String>>(5));
        check_optional_floats(&[row.strength, row.confidence], read, 6)?;
        prop_assert_eq!(&row.impact, &read.get::<_, Option<String>>(8));
        prop_assert_eq!(&row.content, &read.get::<_, Option<String>>(9));
        let payload = row.payload.as_ref().map(|payload| serde_json::from_str::<serde_json::Value>(payload.as_str()).expect("JSON text"));
        prop_assert_eq!(&payload, &read.get::<_, Option<serde_json::Value>>(10));
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
        .run(&proptest::collection::vec(ticker(), 0..40), |rows| check_tickers(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("tickers round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(option_quote(), 0..40), |rows| {
            check_option_quotes(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("option quotes round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(technical_indicators(), 0..40), |rows| {
            check_technical_indicators(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("technical indicators round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(indicator_value(), 0..40), |rows| {
            check_indicator_values(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("indicator values round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(signal(), 0..40), |rows| check_signals(&rows, &runtime.block_on(copy_into_twin(&client, &rows))))
        .expect("signals round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(book_delta(), 0..40), |rows| {
            check_book_deltas(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("book deltas round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(book_snapshot(), 0..20), |rows| {
            check_book_snapshots(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("book snapshots round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(funding_rate(), 0..40), |rows| {
            check_funding_rates(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("funding rates round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(open_interest(), 0..40), |rows| {
            check_open_interest(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("open interest round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(mark_price(), 0..40), |rows| {
            check_mark_prices(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("mark prices round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(liquidation(), 0..40), |rows| {
            check_liquidations(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("liquidations round-trip");
    TestRunner::new(cases.clone())
        .run(&proptest::collection::vec(feed_event(), 0..20), |rows| {
            check_feed_events(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("feed events round-trip");
    TestRunner::new(cases)
        .run(&proptest::collection::vec(dead_letter(), 0..20), |rows| {
            check_dead_letters(&rows, &runtime.block_on(copy_into_twin(&client, &rows)))
        })
        .expect("dead letters round-trip");
    assert_eq!(Table::ALL.len(), 17, "a new table needs its round-trip case here");
}
