//! The PGCOPY binary encoder: rows in, bytes for `COPY … FROM STDIN (FORMAT binary)`
//! out. Pure functions over `BytesMut`, no I/O, so they can run on any thread and be
//! benchmarked and property-tested alone.
//!
//! Format (PostgreSQL docs, "COPY", binary format): an 11-byte signature, a 32-bit
//! flags field, a 32-bit header-extension length, then per tuple a 16-bit field count
//! and per field a 32-bit length (-1 for NULL) followed by the value in the type's
//! binary send format, then a 16-bit -1 trailer. All integers are big-endian.

use bytes::{BufMut, BytesMut};

use crate::record::{Table, Timestamp};

/// Signature, flags (0: no OIDs) and header-extension length (0).
const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const TRAILER: i16 = -1;
/// The jsonb binary format's version byte.
const JSONB_VERSION: u8 = 1;

/// A row type the COPY writers can encode. Implemented in `sink::rows` for each record.
pub trait CopyRow: Send + Sync + std::fmt::Debug + 'static {
    /// The table this row goes to; its columns define the encoding order.
    const TABLE: Table;
    /// Writes one tuple: `fields.start_tuple(n)` then one call per column.
    fn encode(&self, fields: &mut TupleEncoder<'_>);
    /// When hypertick received the data (for receipt→commit latency).
    fn received_at(&self) -> Timestamp;
    /// The partitioning time, for tables partitioned on `time`.
    fn partition_time(&self) -> Option<Timestamp>;
    /// The (venue, symbol) this row is about, for the `instruments` table.
    fn instrument(&self) -> Option<(&str, &str)> {
        None
    }
}

/// Writes the fields of tuples into a buffer.
pub struct TupleEncoder<'a> {
    buffer: &'a mut BytesMut,
}

impl<'a> TupleEncoder<'a> {
    #[inline]
    pub fn start_tuple(&mut self, field_count: i16) {
        self.buffer.put_i16(field_count);
    }

    #[inline]
    pub fn null(&mut self) {
        self.buffer.put_i32(-1);
    }

    #[inline]
    pub fn timestamptz(&mut self, value: Timestamp) {
        self.buffer.put_i32(8);
        self.buffer.put_i64(value.to_postgres_micros());
    }

    #[inline]
    pub fn float8(&mut self, value: f64) {
        self.buffer.put_i32(8);
        self.buffer.put_f64(value);
    }

    #[inline]
    pub fn int2(&mut self, value: i16) {
        self.buffer.put_i32(2);
        self.buffer.put_i16(value);
    }

    #[inline]
    pub fn int8(&mut self, value: i64) {
        self.buffer.put_i32(8);
        self.buffer.put_i64(value);
    }

    /// Text: callers guarantee no NUL bytes (validated at ingest, sanitized for dead letters).
    #[inline]
    pub fn text(&mut self, value: &str) {
        self.buffer.put_i32(value.len() as i32);
        self.buffer.put_slice(value.as_bytes());
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
    pub fn optional_int8(&mut self, value: Option<i64>) {
        match value {
            Some(number) => self.int8(number),
            None => self.null(),
        }
    }

    /// jsonb: a version byte then the JSON text; the length is patched in afterwards.
    pub fn jsonb(&mut self, value: &serde_json::Value) {
        let length_at = self.buffer.len();
        self.buffer.put_i32(0);
        self.buffer.put_u8(JSONB_VERSION);
        let writer = (&mut *self.buffer).writer();
        // Serializing a `Value` into memory cannot fail.
        let _ = serde_json::to_writer(writer, value);
        let length = (self.buffer.len() - length_at - 4) as i32;
        self.buffer[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
    }
}

/// Encodes `rows` as one complete PGCOPY binary stream appended to `buffer`.
pub fn encode_rows<R: CopyRow>(rows: &[R], buffer: &mut BytesMut) {
    buffer.reserve(HEADER.len() + 2 + rows.len() * 96);
    buffer.put_slice(HEADER);
    let mut fields = TupleEncoder { buffer };
    for row in rows {
        row.encode(&mut fields);
    }
    buffer.put_i16(TRAILER);
}

/// The `COPY … FROM STDIN (FORMAT binary)` statement for a table, columns in encoding order.
pub fn copy_statement(table: Table) -> String {
    let columns: Vec<String> = table.columns().iter().map(|column| format!("\"{}\"", column.name)).collect();
    format!("COPY {} ({}) FROM STDIN (FORMAT binary)", table.name(), columns.join(", "))
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
