//! PGCOPY fields for custom-table values: each [`CellValue`] in its type's binary send
//! format, and rows of custom tables as tuples of them.
//!
//! `numeric` follows PostgreSQL's `numeric_send` (src/backend/utils/adt/numeric.c):
//! four 16-bit header words — the number of base-10000 digits, the weight (the power of
//! 10000 of the first digit), the sign (0x0000 positive, 0x4000 negative, 0xC000 NaN,
//! 0xD000 +Infinity, 0xF000 −Infinity) and the display scale — then the digits, most
//! significant first. The groups are cut from the exact decimal digits so that the
//! stored value is the text the producer sent, digit for digit.

use super::encoder::{EncodeRow, TupleEncoder as T};
use crate::record::{CellValue, CustomRow, Decimal, DecimalKind, Timestamp};

const NUMERIC_POSITIVE: u16 = 0x0000;
const NUMERIC_NEGATIVE: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_POSITIVE_INFINITY: u16 = 0xD000;
const NUMERIC_NEGATIVE_INFINITY: u16 = 0xF000;
/// Decimal digits per base-10000 digit.
const DECIMAL_DIGITS_PER_GROUP: i64 = 4;

/// The power of 10000 of the first and last base-10000 digits of a finite, non-zero value.
fn group_span(value: &Decimal) -> (i64, i64) {
    let lowest_power = i64::from(value.exponent());
    let highest_power = lowest_power + value.digits().len() as i64 - 1;
    (highest_power.div_euclid(DECIMAL_DIGITS_PER_GROUP), lowest_power.div_euclid(DECIMAL_DIGITS_PER_GROUP))
}

/// How many base-10000 digits the value sends. Leading and trailing zero groups cannot
/// occur: the decimal digits start and end with a non-zero digit.
fn numeric_group_count(value: &Decimal) -> usize {
    if value.digits().is_empty() {
        return 0;
    }
    let (weight, lowest) = group_span(value);
    (weight - lowest + 1) as usize
}

/// Bytes of a `numeric` field.
pub fn numeric_len(value: &Decimal) -> usize {
    4 + 8 + 2 * numeric_group_count(value)
}

/// Writes a `numeric` field.
pub fn encode_numeric(fields: &mut T<'_>, value: &Decimal) {
    let groups = numeric_group_count(value);
    fields.put(((8 + 2 * groups) as i32).to_be_bytes());
    let sign = match value.kind() {
        DecimalKind::Positive => NUMERIC_POSITIVE,
        DecimalKind::Negative => NUMERIC_NEGATIVE,
        DecimalKind::NaN => NUMERIC_NAN,
        DecimalKind::Infinity => NUMERIC_POSITIVE_INFINITY,
        DecimalKind::NegativeInfinity => NUMERIC_NEGATIVE_INFINITY,
    };
    let weight = if groups == 0 { 0 } else { group_span(value).0 };
    let scale = if value.is_special() { 0 } else { value.scale() };
    // numeric_recv reads the count as unsigned: the widest numeric has 36 864 groups.
    fields.put((groups as u16).to_be_bytes());
    fields.put((weight as i16).to_be_bytes());
    fields.put(sign.to_be_bytes());
    fields.put(scale.to_be_bytes());
    if groups == 0 {
        return;
    }
    let digits = value.digits();
    let lowest_power = i64::from(value.exponent());
    // The decimal digit whose place is 10^power, 0 outside the digits.
    let digit_at = |power: i64| -> u16 {
        let offset = power - lowest_power;
        if offset < 0 || offset >= digits.len() as i64 {
            0
        } else {
            u16::from(digits[digits.len() - 1 - offset as usize])
        }
    };
    for group in 0..groups as i64 {
        let base_power = (weight - group) * DECIMAL_DIGITS_PER_GROUP;
        let group_value =
            digit_at(base_power + 3) * 1000 + digit_at(base_power + 2) * 100 + digit_at(base_power + 1) * 10 + digit_at(base_power);
        fields.put(group_value.to_be_bytes());
    }
}

/// Bytes of one value's field.
#[inline]
pub fn cell_len(value: &CellValue) -> usize {
    match value {
        CellValue::Null => T::NULL_LEN,
        CellValue::Bool(_) => T::BOOL_LEN,
        CellValue::Int2(_) => T::INT2_LEN,
        CellValue::Int4(_) | CellValue::Float4(_) => T::FOUR_BYTE_LEN,
        CellValue::Int8(_) | CellValue::Float8(_) | CellValue::TimestampTz(_) => T::EIGHT_BYTE_LEN,
        CellValue::Numeric(decimal) => numeric_len(decimal),
        CellValue::Text(text) => T::text_len(text),
        CellValue::Date(_) => T::DATE_LEN,
        CellValue::Jsonb(text) => T::jsonb_text_len(text),
        CellValue::Uuid(_) => T::UUID_LEN,
        CellValue::TextArray(items) => T::text_array_len(items),
        CellValue::Float8Array(items) => T::float8_array_len(items),
    }
}

/// Writes one value's field.
#[inline]
pub fn encode_cell(fields: &mut T<'_>, value: &CellValue) {
    match value {
        CellValue::Null => fields.null(),
        CellValue::Bool(flag) => fields.bool(*flag),
        CellValue::Int2(number) => fields.int2(*number),
        CellValue::Int4(number) => fields.int4(*number),
        CellValue::Int8(number) => fields.int8(*number),
        CellValue::Float4(number) => fields.float4(*number),
        CellValue::Float8(number) => fields.float8(*number),
        CellValue::Numeric(decimal) => encode_numeric(fields, decimal),
        CellValue::Text(text) => fields.text(text),
        CellValue::TimestampTz(time) => fields.timestamptz(*time),
        CellValue::Date(date) => fields.date(*date),
        CellValue::Jsonb(text) => fields.jsonb_text(text),
        CellValue::Uuid(bytes) => fields.uuid(bytes),
        CellValue::TextArray(items) => fields.text_array(items),
        CellValue::Float8Array(items) => fields.float8_array(items),
    }
}

impl EncodeRow for CustomRow {
    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN + self.values.iter().map(cell_len).sum::<usize>()
    }

    #[inline]
    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(self.values.len() as i16);
        for value in &self.values {
            encode_cell(fields, value);
        }
    }

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        Some(self.time)
    }

    fn dead_letter_raw(&self) -> String {
        self.to_push_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numeric field's bytes after its length: ndigits, weight, sign, dscale, digits.
    fn numeric_words(text: &str) -> Vec<u16> {
        let value = Decimal::parse(text).unwrap();
        let mut out = vec![0u8; numeric_len(&value)];
        let mut fields = T { out: &mut out, at: 0 };
        encode_numeric(&mut fields, &value);
        assert_eq!(fields.at, numeric_len(&value), "{text}: numeric_len disagrees");
        assert_eq!(i32::from_be_bytes(out[..4].try_into().unwrap()) as usize, out.len() - 4);
        out[4..].chunks(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])).collect()
    }

    #[test]
    fn numerics_are_sent_as_postgres_numeric_send_writes_them() {
        // Expected words from `SELECT numeric_send('…'::numeric)` on PostgreSQL 15, except
        // the display scale of the infinities: PostgreSQL sends 32 there (bits of its
        // short header), which numeric_recv ignores for special values; we send 0.
        let cases: &[(&str, &[u16])] = &[
            ("0", &[0, 0, 0, 0]),
            ("0.00", &[0, 0, 0, 2]),
            ("1", &[1, 0, 0, 0, 1]),
            ("12345.678", &[3, 1, 0, 3, 1, 2345, 6780]),
            ("-12345.678", &[3, 1, 0x4000, 3, 1, 2345, 6780]),
            ("10000", &[1, 1, 0, 0, 1]),
            ("0.0001", &[1, 0xFFFF, 0, 4, 1]),
            ("0.00012", &[2, 0xFFFF, 0, 5, 1, 2000]),
            ("19.99", &[2, 0, 0, 2, 19, 9900]),
            ("1e20", &[1, 5, 0, 0, 1]),
            ("123456789012345678901234567890.123456789", &[11, 7, 0, 9, 12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9000]),
            ("NaN", &[0, 0, 0xC000, 0]),
            ("Infinity", &[0, 0, 0xD000, 0]),
            ("-Infinity", &[0, 0, 0xF000, 0]),
        ];
        for (text, words) in cases {
            assert_eq!(numeric_words(text), words.to_vec(), "{text}");
        }
    }

    #[test]
    fn custom_rows_measure_what_they_write() {
        let row = CustomRow {
            table: crate::record::Table::Ticks,
            received_at: Timestamp(1),
            time: Timestamp(2),
            values: vec![
                CellValue::Null,
                CellValue::Bool(true),
                CellValue::Int2(-2),
                CellValue::Int4(7),
                CellValue::Int8(-9),
                CellValue::Float4(1.5),
                CellValue::Float8(2.5),
                CellValue::Numeric(Decimal::parse("-0.000120").unwrap()),
                CellValue::Text("é".into()),
                CellValue::TimestampTz(Timestamp(3)),
                CellValue::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
                CellValue::Jsonb("{\"a\": 1}".into()),
                CellValue::Uuid([7; 16]),
                CellValue::TextArray(vec![String::new(), "ab".into()]),
                CellValue::TextArray(Vec::new()),
                CellValue::Float8Array(vec![1.0]),
            ],
        };
        let mut buffer = bytes::BytesMut::new();
        super::super::encoder::encode_rows(std::slice::from_ref(&row), &mut buffer);
        assert_eq!(buffer.len(), 19 + row.encoded_len() + 2);
    }
}
