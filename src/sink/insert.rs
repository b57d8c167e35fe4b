//! Insert mode: `INSERT INTO t (…) SELECT * FROM unnest($1::timestamptz[], …)` with one
//! array parameter per column, optionally `ON CONFLICT (key) DO NOTHING`. For
//! connection poolers and servers that cannot take COPY, and for deduplication.
//!
//! The arrays are cut from the PGCOPY bytes the encoder already made: a binary array
//! element is laid out exactly like a COPY field (a 32-bit length, -1 for NULL, then
//! the value's binary form), so each field moves to its column's array as it is.

use bytes::{Buf, BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};

use crate::record::{PgType, Table};

/// Bytes before the first tuple: signature, flags, header-extension length.
const COPY_HEADER_LEN: usize = 19;

/// The statement for a table's columns, with the conflict clause when a key is given.
pub fn insert_statement(table: Table, conflict_key: &[String]) -> String {
    let columns: Vec<String> = table.columns().iter().map(|column| format!("\"{}\"", column.name)).collect();
    let arrays: Vec<String> = table
        .columns()
        .iter()
        .enumerate()
        .map(|(index, column)| format!("${}::{}[]", index + 1, array_element_sql(column.pg_type)))
        .collect();
    let mut statement = format!("INSERT INTO {} ({}) SELECT * FROM unnest({})", table.quoted_name(), columns.join(", "), arrays.join(", "));
    if !conflict_key.is_empty() {
        statement.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", crate::db::quote_identifiers(conflict_key)));
    }
    statement
}

fn array_element_sql(pg_type: PgType) -> &'static str {
    match pg_type {
        PgType::TimestampTz => "timestamptz",
        PgType::Text => "text",
        PgType::Float8 => "float8",
        PgType::Int2 => "int2",
        PgType::Int8 => "int8",
        PgType::Jsonb => "jsonb",
        PgType::Date => "date",
        PgType::Int4 => "int4",
        PgType::Float4 => "float4",
        PgType::Bool => "bool",
        PgType::Uuid => "uuid",
        // The column's precision applies on insert, as the value was already fitted to it.
        PgType::Numeric(_) => "numeric",
        // Sent as text; the insert's assignment cast checks the length again.
        PgType::Varchar(_) => "text",
        // Arrays of arrays cannot be unnested row by row; validation keeps tables with
        // array columns on COPY (`Table::supports_insert_mode`).
        PgType::Float8Array => "float8[]",
        PgType::TextArray => "text[]",
    }
}

fn element_type(pg_type: PgType) -> Type {
    match pg_type {
        PgType::TimestampTz => Type::TIMESTAMPTZ,
        PgType::Text => Type::TEXT,
        PgType::Float8 => Type::FLOAT8,
        PgType::Int2 => Type::INT2,
        PgType::Int8 => Type::INT8,
        PgType::Jsonb => Type::JSONB,
        PgType::Date => Type::DATE,
        PgType::Int4 => Type::INT4,
        PgType::Float4 => Type::FLOAT4,
        PgType::Bool => Type::BOOL,
        PgType::Uuid => Type::UUID,
        PgType::Numeric(_) => Type::NUMERIC,
        PgType::Varchar(_) => Type::TEXT,
        PgType::Float8Array => Type::FLOAT8_ARRAY,
        PgType::TextArray => Type::TEXT_ARRAY,
    }
}

/// One column's values as a one-dimensional PostgreSQL array in binary form.
#[derive(Debug)]
pub struct ColumnArray {
    element: Type,
    count: i32,
    has_null: bool,
    elements: BytesMut,
}

impl ColumnArray {
    /// How many values the array holds.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl ToSql for ColumnArray {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // Array binary format (arrayfuncs.c array_send): ndim, has-null flag, element
        // type OID, then per dimension its length and lower bound, then the elements.
        let dimensions = if self.count == 0 { 0 } else { 1 };
        out.put_i32(dimensions);
        out.put_i32(i32::from(self.has_null));
        out.put_u32(self.element.oid());
        if dimensions == 1 {
            out.put_i32(self.count);
            out.put_i32(1);
        }
        out.put_slice(&self.elements);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    to_sql_checked!();
}

/// Splits a PGCOPY stream of `table` rows into one array per column.
pub fn column_arrays(table: Table, copy: &[u8]) -> Vec<ColumnArray> {
    let mut arrays: Vec<ColumnArray> = table
        .columns()
        .iter()
        .map(|column| ColumnArray { element: element_type(column.pg_type), count: 0, has_null: false, elements: BytesMut::new() })
        .collect();
    let mut input = &copy[COPY_HEADER_LEN.min(copy.len())..];
    while input.remaining() >= 2 {
        let fields = input.get_i16();
        if fields < 0 {
            break;
        }
        for array in arrays.iter_mut().take(fields as usize) {
            let length = input.get_i32();
            array.count += 1;
            array.elements.put_i32(length);
            if length < 0 {
                array.has_null = true;
            } else {
                array.elements.put_slice(&input[..length as usize]);
                input.advance(length as usize);
            }
        }
    }
    arrays
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_names_every_column_and_its_array_type() {
        assert_eq!(
            insert_statement(Table::Quotes, &[]),
            "INSERT INTO quotes (\"time\", \"received_at\", \"venue\", \"symbol\", \"bid_price\", \"bid_size\", \
             \"ask_price\", \"ask_size\") SELECT * FROM unnest($1::timestamptz[], $2::timestamptz[], $3::text[], \
             $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::float8[])"
        );
        assert!(insert_statement(Table::Ticks, &["time".into(), "trade_id".into()])
            .ends_with(" ON CONFLICT (\"time\", \"trade_id\") DO NOTHING"));
    }
}
