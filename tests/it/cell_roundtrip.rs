//! Property test: random values of every type custom tables support, encoded by our
//! PGCOPY encoder (`CellValue` fields of a `CustomRow`), COPYed into a real PostgreSQL
//! and read back, come back exactly:
//!
//! - `numeric` digit for digit: random decimal strings of up to 40 digits, signs, leading
//!   and trailing zeros, exponents up to ±300, zero with a scale, NaN and ±Infinity,
//!   read back as text and compared with PostgreSQL's own reading of the same string
//!   (and with our `Decimal`'s text); `numeric(20,6)` rounded by us as PostgreSQL rounds;
//! - bool, int2/int4/int8 with their edges, float4/float8 with NaN, ±∞, −0 and
//!   subnormals (bit for bit), dates across PostgreSQL's range, timestamptz, text and
//!   varchar, jsonb text (numbers kept exactly), uuid, text[] with empty strings, float8[];
//! - NULL in every column.

use bytes::BytesMut;
use futures_util::SinkExt;
use hypertick::record::{format_uuid, CellValue, ColumnRule, CustomRow, CustomSchema, Decimal, NumericTypmod, PgType, Timestamp};
use hypertick::sink::{copy_statement, encode_rows};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use tokio_postgres::Client;

use crate::support;

/// PostgreSQL's earliest timestamptz, in µs since 2000-01-01 (4714-11-24 BC).
const POSTGRES_MIN_MICROS: i64 = -211_813_488_000_000_000;
/// PostgreSQL's first date, 4714-11-24 BC, in days from 0001-01-01.
const POSTGRES_MIN_DATE_DAYS_FROM_CE: i32 = -1_721_060;
const TYPED_NUMERIC: NumericTypmod = NumericTypmod { precision: 20, scale: 6 };

/// One generated row; `None` is NULL.
#[derive(Debug, Clone)]
struct Generated {
    at: Timestamp,
    flag: Option<bool>,
    small: Option<i16>,
    int: Option<i32>,
    big: Option<i64>,
    real: Option<f32>,
    double: Option<f64>,
    numeric: Option<String>,
    typed_numeric: Option<String>,
    text: Option<String>,
    short: Option<String>,
    day: Option<chrono::NaiveDate>,
    json: Option<String>,
    uuid: Option<[u8; 16]>,
    texts: Option<Vec<String>>,
    doubles: Option<Vec<f64>>,
}

const COLUMNS: [(&str, &str); 16] = [
    ("at", "timestamptz"),
    ("flag", "bool"),
    ("small", "int2"),
    ("int", "int4"),
    ("big", "int8"),
    ("real", "float4"),
    ("double", "float8"),
    ("numeric", "numeric"),
    ("typed_numeric", "numeric(20,6)"),
    ("text", "text"),
    ("short", "varchar(8)"),
    ("day", "date"),
    ("json", "jsonb"),
    ("uuid", "uuid"),
    ("texts", "text[]"),
    ("doubles", "float8[]"),
];

fn schema() -> CustomSchema {
    let columns = COLUMNS
        .iter()
        .map(|(name, type_name)| ColumnRule {
            name: name.to_string(),
            pg_type: PgType::from_config_name(type_name).unwrap(),
            nullable: *name != "at",
            default: None,
            allow_nan: true,
        })
        .collect();
    CustomSchema::new("roundtrip_cells", columns, "at").unwrap()
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        Just(Timestamp(0)),
        Just(Timestamp::from_postgres_micros(POSTGRES_MIN_MICROS)),
        Just(Timestamp(i64::MAX)),
        (Timestamp::from_postgres_micros(POSTGRES_MIN_MICROS).micros()..=i64::MAX).prop_map(Timestamp),
    ]
}

fn float4() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(-0.0f32),
        Just(f32::MIN_POSITIVE / 4.0),
        Just(f32::MAX),
        Just(f32::MIN),
        any::<f32>(),
    ]
}

fn float8() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 2.0),
        Just(f64::MAX),
        any::<f64>(),
    ]
}

fn int2() -> impl Strategy<Value = i16> {
    prop_oneof![Just(i16::MIN), Just(i16::MAX), Just(0), Just(-1), any::<i16>()]
}

fn int4() -> impl Strategy<Value = i32> {
    prop_oneof![Just(i32::MIN), Just(i32::MAX), Just(0), Just(-1), any::<i32>()]
}

fn int8() -> impl Strategy<Value = i64> {
    prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1), any::<i64>()]
}

/// Decimal strings as producers write them.
fn decimal_text() -> impl Strategy<Value = String> {
    let written = (
        prop_oneof![Just(""), Just("-"), Just("+")],
        "[0-9]{0,25}",
        proptest::option::of("[0-9]{0,15}"),
        proptest::option::of((prop_oneof![Just('e'), Just('E')], -300i32..=300)),
    )
        .prop_map(|(sign, integer, fraction, exponent)| {
            let mut text = format!("{sign}{integer}");
            if let Some(fraction) = &fraction {
                text.push('.');
                text.push_str(fraction);
            }
            if integer.is_empty() && fraction.as_deref().is_none_or(str::is_empty) {
                text.push('0');
            }
            if let Some((letter, power)) = exponent {
                text.push_str(&format!("{letter}{power}"));
            }
            text
        });
    prop_oneof![
        1 => prop_oneof![
            Just("NaN".to_string()),
            Just("Infinity".to_string()),
            Just("-Infinity".to_string()),
            Just("0".to_string()),
            Just("-0.000".to_string()),
            Just("99999999999999.9999995".to_string()),
            Just("-0.0000005".to_string()),
        ],
        8 => written,
    ]
}

/// Text PostgreSQL can store: any Unicode but NUL, including empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), Just("日本語 ✓ émoji 🚀".to_string()), "[^\u{0}]{0,40}"]
}

fn date() -> impl Strategy<Value = chrono::NaiveDate> {
    use chrono::Datelike;
    let last = chrono::NaiveDate::MAX.num_days_from_ce();
    prop_oneof![
        Just(chrono::NaiveDate::from_num_days_from_ce_opt(POSTGRES_MIN_DATE_DAYS_FROM_CE).unwrap()),
        Just(chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()),
        Just(chrono::NaiveDate::MAX),
        (POSTGRES_MIN_DATE_DAYS_FROM_CE..=last).prop_map(|days| chrono::NaiveDate::from_num_days_from_ce_opt(days).unwrap()),
    ]
}

/// JSON text with long decimal numbers, which jsonb keeps exactly.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        text().prop_map(|text| serde_json::Value::String(text).to_string()),
        any::<i64>().prop_map(|number| number.to_string()),
        "-?[1-9][0-9]{0,30}\\.[0-9]{1,20}",
        Just("true".to_string()),
        Just("null".to_string()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4).prop_map(|map| {
                let fields: Vec<String> = map.into_iter().map(|(key, value)| format!("\"{key}\": {value}")).collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    })
}

fn generated() -> impl Strategy<Value = Generated> {
    use proptest::option::of;
    (
        (timestamp(), of(any::<bool>()), of(int2()), of(int4()), of(int8()), of(float4()), of(float8())),
        (of(decimal_text()), of(decimal_text()), of(text()), of("[^\u{0}]{0,8}"), of(date())),
        (
            of(json_text()),
            of(any::<[u8; 16]>()),
            of(proptest::collection::vec(text(), 0..5)),
            of(proptest::collection::vec(float8(), 0..5)),
        ),
    )
        .prop_map(
            |((at, flag, small, int, big, real, double), (numeric, typed_numeric, text, short, day), (json, uuid, texts, doubles))| {
                Generated { at, flag, small, int, big, real, double, numeric, typed_numeric, text, short, day, json, uuid, texts, doubles }
            },
        )
}

/// The row as the encoder gets it. A typed-numeric string that does not fit
/// numeric(20,6) is sent as NULL (and expected back as NULL).
fn to_row(schema: &CustomSchema, generated: &Generated) -> CustomRow {
    let cell = |value: Option<CellValue>| value.unwrap_or(CellValue::Null);
    let numeric = |text: &String| CellValue::Numeric(Decimal::parse(text).unwrap());
    let typed = generated
        .typed_numeric
        .as_ref()
        .and_then(|text| Decimal::parse(text).unwrap().fit_typmod(TYPED_NUMERIC).ok())
        .map(CellValue::Numeric);
    CustomRow {
        table: schema.table,
        received_at: generated.at,
        time: generated.at,
        values: vec![
            CellValue::TimestampTz(generated.at),
            cell(generated.flag.map(CellValue::Bool)),
            cell(generated.small.map(CellValue::Int2)),
            cell(generated.int.map(CellValue::Int4)),
            cell(generated.big.map(CellValue::Int8)),
            cell(generated.real.map(CellValue::Float4)),
            cell(generated.double.map(CellValue::Float8)),
            cell(generated.numeric.as_ref().map(numeric)),
            cell(typed),
            cell(generated.text.clone().map(CellValue::Text)),
            cell(generated.short.clone().map(CellValue::Text)),
            cell(generated.day.map(CellValue::Date)),
            cell(generated.json.clone().map(CellValue::Jsonb)),
            cell(generated.uuid.map(CellValue::Uuid)),
            cell(generated.texts.clone().map(CellValue::TextArray)),
            cell(generated.doubles.clone().map(CellValue::Float8Array)),
        ],
    }
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

fn same_f64(left: f64, right: f64) -> bool {
    (left.is_nan() && right.is_nan()) || left.to_bits() == right.to_bits()
}

fn same_f32(left: f32, right: f32) -> bool {
    (left.is_nan() && right.is_nan()) || left.to_bits() == right.to_bits()
}

/// What PostgreSQL itself makes of each text as `sql_type`, in order (NULL in, NULL out).
async fn server_reading(client: &Client, texts: &[Option<String>], sql_type: &str) -> Vec<Option<String>> {
    let query = format!("SELECT (t::{sql_type})::text FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n");
    client.query(&query, &[&texts]).await.expect("the server reads the same texts").iter().map(|row| row.get(0)).collect()
}

async fn round_trip(client: &Client, schema: &CustomSchema, generated: &[Generated]) -> Result<(), TestCaseError> {
    let rows: Vec<CustomRow> = generated.iter().map(|row| to_row(schema, row)).collect();
    client.batch_execute("TRUNCATE roundtrip_cells").await.unwrap();
    let mut buffer = BytesMut::new();
    encode_rows(&rows, &mut buffer);
    let sink = client.copy_in::<_, bytes::Bytes>(copy_statement(schema.table).as_str()).await.expect("copy in");
    futures_util::pin_mut!(sink);
    sink.send(buffer.freeze()).await.expect("send rows");
    let copied = sink.finish().await.expect("COPY accepted the encoded values");
    prop_assert_eq!(copied as usize, rows.len());

    let back = client
        .query(
            "SELECT at, flag, small, \"int\", big, \"real\", double, numeric::text, typed_numeric::text, text, short, day,
                    json::text, uuid::text, texts, doubles
               FROM roundtrip_cells ORDER BY copy_order",
            &[],
        )
        .await
        .expect("read back");
    prop_assert_eq!(back.len(), rows.len());
    let numerics: Vec<Option<String>> = generated.iter().map(|row| row.numeric.clone()).collect();
    let expected_numerics = server_reading(client, &numerics, "numeric").await;
    // Only the values that fit were sent; the others went as NULL.
    let typed: Vec<Option<String>> = generated
        .iter()
        .zip(&rows)
        .map(|(sent, row)| if row.values[8] == CellValue::Null { None } else { sent.typed_numeric.clone() })
        .collect();
    let expected_typed = server_reading(client, &typed, "numeric(20,6)").await;
    let jsons: Vec<Option<String>> = generated.iter().map(|row| row.json.clone()).collect();
    let expected_jsons = server_reading(client, &jsons, "jsonb").await;

    for (index, (sent, read)) in generated.iter().zip(&back).enumerate() {
        prop_assert_eq!(Timestamp::from_postgres_micros(read.get::<_, RawTimestamp>(0).0), sent.at);
        prop_assert_eq!(read.get::<_, Option<bool>>(1), sent.flag);
        prop_assert_eq!(read.get::<_, Option<i16>>(2), sent.small);
        prop_assert_eq!(read.get::<_, Option<i32>>(3), sent.int);
        prop_assert_eq!(read.get::<_, Option<i64>>(4), sent.big);
        let real: Option<f32> = read.get(5);
        prop_assert!(
            real.is_some() == sent.real.is_some() && real.zip(sent.real).is_none_or(|(a, b)| same_f32(a, b)),
            "real {:?} vs {:?}",
            real,
            sent.real
        );
        let double: Option<f64> = read.get(6);
        prop_assert!(double.is_some() == sent.double.is_some() && double.zip(sent.double).is_none_or(|(a, b)| same_f64(a, b)));
        let numeric: Option<String> = read.get(7);
        prop_assert_eq!(&numeric, &expected_numerics[index], "numeric {:?}", sent.numeric);
        if let Some(text) = &sent.numeric {
            let ours = Decimal::parse(text).unwrap().to_string();
            prop_assert_eq!(numeric.as_deref(), Some(ours.as_str()), "our text of {}", text);
        }
        prop_assert_eq!(&read.get::<_, Option<String>>(8), &expected_typed[index], "numeric(20,6) {:?}", sent.typed_numeric);
        prop_assert_eq!(&read.get::<_, Option<String>>(9), &sent.text);
        prop_assert_eq!(&read.get::<_, Option<String>>(10), &sent.short);
        prop_assert_eq!(read.get::<_, Option<chrono::NaiveDate>>(11), sent.day);
        prop_assert_eq!(&read.get::<_, Option<String>>(12), &expected_jsons[index], "jsonb {:?}", sent.json);
        prop_assert_eq!(read.get::<_, Option<String>>(13), sent.uuid.as_ref().map(format_uuid));
        prop_assert_eq!(&read.get::<_, Option<Vec<String>>>(14), &sent.texts);
        let doubles: Option<Vec<f64>> = read.get(15);
        prop_assert_eq!(doubles.as_ref().map(Vec::len), sent.doubles.as_ref().map(Vec::len));
        if let (Some(back), Some(sent)) = (&doubles, &sent.doubles) {
            prop_assert!(back.iter().zip(sent).all(|(a, b)| same_f64(*a, *b)), "{:?} vs {:?}", back, sent);
        }
    }
    Ok(())
}

#[test]
fn random_values_of_every_custom_column_type_round_trip_through_postgres() {
    let cluster = support::start_cluster();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let schema = schema();
    let client = runtime.block_on(async {
        let client = support::sql(&cluster).await;
        let columns: Vec<String> =
            schema.table.columns().iter().map(|column| format!("\"{}\" {}", column.name, column.pg_type.sql_name())).collect();
        client
            .batch_execute(&format!("CREATE TABLE roundtrip_cells ({}, copy_order bigserial)", columns.join(", ")))
            .await
            .expect("the table");
        client
    });
    TestRunner::new(ProptestConfig { cases: 64, ..ProptestConfig::default() })
        .run(&proptest::collection::vec(generated(), 0..30), |rows| runtime.block_on(round_trip(&client, &schema, &rows)))
        .expect("every value round-trips");
}
