//! Keyed custom tables as the router sees them: a custom table with a primary, unique
//! or foreign key has no COPY lane; its rows are converted against its schema,
//! normalized (the router's `RowConverter`) and queued for the relational writer. Also the per-row
//! retention every custom table with a `retention_column` applies at admission.

use crate::record::{CustomSchema, RejectReason, Rejection, RowOp, RowRecord};

/// A keyed custom table: its rows are converted against its schema, normalized, and
/// written by the relational writer.
#[derive(Debug)]
pub struct KeyedLane {
    pub schema: CustomSchema,
    /// The table's retention, µs (rows leaving out their own, when it has a retention column).
    pub retention_micros: Option<i64>,
    /// The column holding each row's own retention in days (`retention_column`).
    pub retention_index: Option<usize>,
    /// Whether the table declares a primary key (`update` goes by it).
    pub primary_key: bool,
    /// Whether the table has a key an `upsert` conflicts on (primary, else first unique).
    pub upsert_key: bool,
}

impl KeyedLane {
    pub(super) fn refuse_op(&self, row: &RowRecord) -> Result<(), Rejection> {
        let table = self.schema.name();
        let missing = match row.op {
            RowOp::Update if !self.primary_key => "an update goes by the primary key",
            RowOp::Upsert if !self.upsert_key => "an upsert conflicts on the primary key (or else the first unique key)",
            _ => return Ok(()),
        };
        Err(Rejection::new(
            RejectReason::InvalidField,
            format!(
                "`op`: {table} declares no primary_key and {missing}; use \"insert\" or declare primary_key in its [[custom_tables]] entry"
            ),
        ))
    }
}

/// The retention of one row, µs: its own days when its table has a retention column and
/// the row fills it (0 keeps it for good), else the table's.
pub fn row_retention_micros(table_retention: Option<i64>, own_days: Option<i64>, column: &str) -> Result<Option<i64>, Rejection> {
    match own_days {
        None => Ok(table_retention),
        Some(0) => Ok(None),
        Some(days) if days < 0 => {
            Err(Rejection::new(RejectReason::OutOfRange, format!("`{column}`: {days} days; expected 0 (keep for good) or more")))
        }
        Some(days) => Ok(Some(days.saturating_mul(86_400_000_000))),
    }
}
