//! The PGCOPY binary encoder: rows in, bytes for `COPY … FROM STDIN (FORMAT binary)`
//! out. Pure functions over `BytesMut`, no I/O, so they can run on any thread and be
//! benchmarked and property-tested alone.
//!
//! Format (PostgreSQL docs, "COPY", binary format): an 11-byte signature, a 32-bit
//! flags field, a 32-bit header-extension length, then per tuple a 16-bit field count
//! and per field a 32-bit length (-1 for NULL) followed by the value in the type's
//! binary send format, then a 16-bit -1 trailer. All integers are big-endian.

use bytes::BytesMut;
use chrono::Datelike;

use crate::record::{Instrument, Table, Timestamp};

/// Signature, flags (0: no OIDs) and header-extension length (0).
const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const TRAILER: i16 = -1;
/// The jsonb binary format's version byte.
const JSONB_VERSION: u8 = 1;
/// `float8`'s type OID, written in the header of a `float8[]`.
const FLOAT8_OID: u32 = 701;
/// `text`'s type OID, written in the header of a `text[]`.
const TEXT_OID: u32 = 25;
/// Bytes of an array's fixed header: dimensions, has-null flag, element type.
const ARRAY_HEADER_LEN: usize = 12;

/// Days between 2000-01-01 (PostgreSQL's epoch) and `date`.
fn days_since_postgres_epoch(date: chrono::NaiveDate) -> i32 {
    const POSTGRES_EPOCH_DAYS_FROM_CE: i32 = 730_120;
    date.num_days_from_ce() - POSTGRES_EPOCH_DAYS_FROM_CE
}

/// A row the PGCOPY encoder can write. Implemented in `sink::rows` for each record and
/// in `sink::cells` for custom-table rows; the writers take the table as a value, so
/// tables known only at run time use the same path.
pub trait EncodeRow: crate::record::ApproxBytes + Send + Sync + std::fmt::Debug + 'static {
    /// The exact number of bytes `encode` writes (sum the `*_LEN` constants and `*_len`
    /// functions of [`TupleEncoder`]). The buffer is sized from it once per batch.
    fn encoded_len(&self) -> usize;
    /// Writes one tuple: `fields.start_tuple(n)` then one call per column.
    fn encode(&self, fields: &mut TupleEncoder<'_>);
    /// When hypertick received the data (for receipt→commit latency).
    fn received_at(&self) -> Timestamp;
    /// The partitioning time, for tables partitioned on a time column.
    fn partition_time(&self) -> Option<Timestamp>;
    /// The (venue, symbol) this row is about, for the `instruments` table.
    fn instrument(&self) -> Option<(&str, &str)> {
        None
    }
    /// Who the row came from: its venue, or the producer's source (the bus subject token).
    fn origin(&self) -> &str {
        self.instrument().map_or("none", |(venue, _)| venue)
    }
    /// What this row tells about its instrument; asked only of the first row of an
    /// instrument a table's writers see.
    fn describe_instrument(&self) -> Option<Instrument> {
        self.instrument().map(|(venue, symbol)| Instrument::new(venue, symbol))
    }
    /// The row's value of its table's columnstore segment key (`db::builtin_segmentby`),
    /// by which a direct-compress batch is ordered; `None`: not known here (a custom row).
    fn segment_key(&self) -> Option<&str> {
        self.instrument().map(|(_, symbol)| symbol)
    }
    /// The row as kept in a dead letter when the database refuses it.
    fn dead_letter_raw(&self) -> String {
        format!("{self:?}")
    }
}

/// A row type whose table is known at compile time: every built-in record.
pub trait CopyRow: EncodeRow {
    /// The table this row goes to; its columns define the encoding order.
    const TABLE: Table;
}

/// Writes the fields of tuples into a buffer sized in advance. Fixed-size values are
/// stored as fixed-size arrays, which compile to plain moves: measured, the generic
/// `BufMut::put_*` path spent most of its time in a `memmove` call per field.
pub struct TupleEncoder<'a> {
    pub(super) out: &'a mut [u8],
    pub(super) at: usize,
}

impl<'a> TupleEncoder<'a> {
    /// Bytes of a tuple's field count.
    pub const TUPLE_LEN: usize = 2;
    /// Bytes of a NULL field.
    pub const NULL_LEN: usize = 4;
    /// Bytes of a `timestamptz`, `float8` or `int8` field.
    pub const EIGHT_BYTE_LEN: usize = 12;
    /// Bytes of an `int2` field.
    pub const INT2_LEN: usize = 6;
    /// Bytes of an `int4` or `float4` field.
    pub const FOUR_BYTE_LEN: usize = 8;
    /// Bytes of a `bool` field.
    pub const BOOL_LEN: usize = 5;
    /// Bytes of a `uuid` field.
    pub const UUID_LEN: usize = 20;

    /// Bytes of a text field.
    #[inline]
    pub fn text_len(value: &str) -> usize {
        4 + value.len()
    }

    #[inline]
    pub fn optional_text_len(value: Option<&str>) -> usize {
        value.map_or(Self::NULL_LEN, Self::text_len)
    }

    #[inline]
    pub fn optional_eight_byte_len<T>(value: Option<T>) -> usize {
        if value.is_some() {
            Self::EIGHT_BYTE_LEN
        } else {
            Self::NULL_LEN
        }
    }

    /// Bytes of a `date` field.
    pub const DATE_LEN: usize = 8;

    /// Bytes of a one-dimensional `float8[]` field without NULL elements.
    #[inline]
    pub fn float8_array_len(values: &[f64]) -> usize {
        let dimensions = if values.is_empty() { 0 } else { 8 };
        4 + 12 + dimensions + values.len() * Self::EIGHT_BYTE_LEN
    }

    /// Bytes of a one-dimensional `text[]` field without NULL elements.
    #[inline]
    pub fn text_array_len(values: &[String]) -> usize {
        let dimensions = if values.is_empty() { 0 } else { 8 };
        4 + ARRAY_HEADER_LEN + dimensions + values.iter().map(|value| 4 + value.len()).sum::<usize>()
    }

    /// Bytes of a jsonb field holding this JSON text.
    #[inline]
    pub fn jsonb_text_len(text: &str) -> usize {
        4 + 1 + text.len()
    }

    /// Bytes of a jsonb field (serializes the value to measure it).
    pub fn jsonb_len(value: &serde_json::Value) -> usize {
        4 + 1 + serde_json::to_vec(value).map_or(2, |text| text.len())
    }

    #[inline]
    pub(super) fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        self.out[self.at..self.at + N].copy_from_slice(&bytes);
        self.at += N;
    }

    #[inline]
    pub fn start_tuple(&mut self, field_count: i16) {
        self.put(field_count.to_be_bytes());
    }

    #[inline]
    pub fn null(&mut self) {
        self.put((-1i32).to_be_bytes());
    }

    #[inline]
    pub fn timestamptz(&mut self, value: Timestamp) {
        self.int8(value.to_postgres_micros());
    }

    #[inline]
    pub fn float8(&mut self, value: f64) {
        self.put(8i32.to_be_bytes());
        self.put(value.to_be_bytes());
    }

    #[inline]
    pub fn int2(&mut self, value: i16) {
        self.put(2i32.to_be_bytes());
        self.put(value.to_be_bytes());
    }

    #[inline]
    pub fn int4(&mut self, value: i32) {
        self.put(4i32.to_be_bytes());
        self.put(value.to_be_bytes());
    }

    #[inline]
    pub fn float4(&mut self, value: f32) {
        self.put(4i32.to_be_bytes());
        self.put(value.to_be_bytes());
    }

    /// bool: one byte, 1 or 0.
    #[inline]
    pub fn bool(&mut self, value: bool) {
        self.put(1i32.to_be_bytes());
        self.put([u8::from(value)]);
    }

    /// uuid: its 16 bytes in order.
    #[inline]
    pub fn uuid(&mut self, value: &[u8; 16]) {
        self.put(16i32.to_be_bytes());
        self.put(*value);
    }

    #[inline]
    pub fn int8(&mut self, value: i64) {
        self.put(8i32.to_be_bytes());
        self.put(value.to_be_bytes());
    }

    /// Text: callers guarantee no NUL bytes (validated at ingest, sanitized for dead letters).
    #[inline]
    pub fn text(&mut self, value: &str) {
        self.put((value.len() as i32).to_be_bytes());
        self.out[self.at..self.at + value.len()].copy_from_slice(value.as_bytes());
        self.at += value.len();
    }

    #[inline]
    pub fn optional_text(&mut self, value: Option<&str>) {
        match value {
            Some(text) => self.text(text),
            None => self.null(),
        }
    }

    #[inline]
    pub fn optional_float8(&mut self, value: Option<f64>) {
        match value {
            Some(number) => self.float8(number),
            None => self.null(),
        }
    }

    #[inline]
    pub fn optional_timestamptz(&mut self, value: Option<Timestamp>) {
        match value {
            Some(time) => self.timestamptz(time),
            None => self.null(),
        }
    }

    #[inline]
    pub fn optional_int8(&mut self, value: Option<i64>) {
        match value {
            Some(number) => self.int8(number),
            None => self.null(),
        }
    }

    /// date: days since 2000-01-01.
    #[inline]
    pub fn date(&mut self, value: chrono::NaiveDate) {
        self.put(4i32.to_be_bytes());
        self.put(days_since_postgres_epoch(value).to_be_bytes());
    }

    /// A one-dimensional `float8[]` (array_send: dimensions, has-null flag, element type,
    /// then per dimension its length and lower bound, then the elements as fields).
    pub fn float8_array(&mut self, values: &[f64]) {
        let body = ARRAY_HEADER_LEN + if values.is_empty() { 0 } else { 8 } + values.len() * Self::EIGHT_BYTE_LEN;
        self.put((body as i32).to_be_bytes());
        self.put(i32::from(!values.is_empty()).to_be_bytes());
        self.put(0i32.to_be_bytes());
        self.put(FLOAT8_OID.to_be_bytes());
        if !values.is_empty() {
            self.put((values.len() as i32).to_be_bytes());
            self.put(1i32.to_be_bytes());
        }
        for value in values {
            self.float8(*value);
        }
    }

    /// A one-dimensional `text[]` without NULL elements (array_send, as for `float8[]`;
    /// each element is a text field). Callers guarantee no NUL bytes.
    pub fn text_array(&mut self, values: &[String]) {
        let body = Self::text_array_len(values) - 4;
        self.put((body as i32).to_be_bytes());
        self.put(i32::from(!values.is_empty()).to_be_bytes());
        self.put(0i32.to_be_bytes());
        self.put(TEXT_OID.to_be_bytes());
        if !values.is_empty() {
            self.put((values.len() as i32).to_be_bytes());
            self.put(1i32.to_be_bytes());
        }
        for value in values {
            self.text(value);
        }
    }

    /// jsonb from JSON text (checked JSON, without NUL characters).
    pub fn jsonb_text(&mut self, text: &str) {
        self.put(((text.len() + 1) as i32).to_be_bytes());
        self.put([JSONB_VERSION]);
        self.out[self.at..self.at + text.len()].copy_from_slice(text.as_bytes());
        self.at += text.len();
    }

    /// jsonb: a version byte then the JSON text.
    pub fn jsonb(&mut self, value: &serde_json::Value) {
        let text = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        self.put(((text.len() + 1) as i32).to_be_bytes());
        self.put([JSONB_VERSION]);
        self.out[self.at..self.at + text.len()].copy_from_slice(&text);
        self.at += text.len();
    }
}

/// Encodes `rows` as one complete PGCOPY binary stream appended to `buffer`.
pub fn encode_rows<R: EncodeRow>(rows: &[R], buffer: &mut BytesMut) {
    encode_row_refs(rows.iter(), buffer);
}

/// [`encode_rows`] for any sequence of rows (a subset of a batch, say).
pub fn encode_row_refs<'a, R: EncodeRow>(rows: impl Iterator<Item = &'a R> + Clone, buffer: &mut BytesMut) {
    let body: usize = rows.clone().map(EncodeRow::encoded_len).sum();
    encode_row_refs_sized(rows, body, buffer);
}

/// [`encode_row_refs`] of rows whose `encoded_len`s sum to `body`. The sum does not
/// depend on the rows' order: a caller sending rows in another order than it holds
/// them sums them in its own, which reads its memory in sequence, once.
pub fn encode_row_refs_sized<'a, R: EncodeRow>(rows: impl Iterator<Item = &'a R>, body: usize, buffer: &mut BytesMut) {
    let start = buffer.len();
    let total = HEADER.len() + body + 2;
    buffer.resize(start + total, 0);
    let out = &mut buffer[start..];
    out[..HEADER.len()].copy_from_slice(HEADER);
    let mut fields = TupleEncoder { out, at: HEADER.len() };
    for row in rows {
        let row_start = fields.at;
        row.encode(&mut fields);
        debug_assert_eq!(fields.at - row_start, row.encoded_len(), "{row:?}: encoded_len disagrees with encode");
    }
    let at = fields.at;
    debug_assert_eq!(at, HEADER.len() + body, "the rows' encoded_len sum is their body's length");
    out[at..at + 2].copy_from_slice(&TRAILER.to_be_bytes());
}

/// The `COPY … FROM STDIN (FORMAT binary)` statement for a table, columns in encoding order.
pub fn copy_statement(table: Table) -> String {
    let columns: Vec<String> = table.columns().iter().map(|column| format!("\"{}\"", column.name)).collect();
    format!("COPY {} ({}) FROM STDIN (FORMAT binary)", table.quoted_name(), columns.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Side, Tick};

    #[test]
    fn tick_bytes_match_the_documented_layout() {
        let tick = Tick {
            time: Timestamp::from_postgres_micros(1),
            received_at: Timestamp::from_postgres_micros(2),
            venue: "x".into(),
            symbol: "AB".into(),
            price: 1.5,
            size: 2.0,
            side: Side::Sell,
            trade_id: None,
        };
        let mut buffer = BytesMut::new();
        encode_rows(&[tick], &mut buffer);
        let mut expected: Vec<u8> = HEADER.to_vec();
        expected.extend(8i16.to_be_bytes());
        for micros in [1i64, 2] {
            expected.extend(8i32.to_be_bytes());
            expected.extend(micros.to_be_bytes());
        }
        expected.extend(1i32.to_be_bytes());
        expected.extend(b"x");
        expected.extend(2i32.to_be_bytes());
        expected.extend(b"AB");
        for number in [1.5f64, 2.0] {
            expected.extend(8i32.to_be_bytes());
            expected.extend(number.to_be_bytes());
        }
        expected.extend(2i32.to_be_bytes());
        expected.extend((-1i16).to_be_bytes());
        expected.extend((-1i32).to_be_bytes());
        expected.extend((-1i16).to_be_bytes());
        assert_eq!(&buffer[..], &expected[..]);
    }

    #[test]
    fn copy_statement_lists_columns_in_order() {
        assert_eq!(
            copy_statement(Table::Quotes),
            "COPY quotes (\"time\", \"received_at\", \"venue\", \"symbol\", \"bid_price\", \
             \"bid_size\", \"ask_price\", \"ask_size\") FROM STDIN (FORMAT binary)"
        );
    }
}
