//! The seam through which rows become a custom table's typed values. Reading a push
//! `row` record is the push protocol's business (`source::push::row_convert`); the
//! router, below the sources, converts the rows it admits through a [`RowConverter`]
//! that `app` hands it.

use serde_json::Value;

use super::cell::CellValue;
use super::custom::{ColumnRule, CustomRow, CustomSchema};
use super::row::RowRecord;
use super::time::Timestamp;
use super::Rejection;

/// What normalizing a keyed row found: its values by column (`None`: not sent) and its
/// time column's value, when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedRow {
    pub time: Option<Timestamp>,
    pub values: Vec<Option<CellValue>>,
}

impl NormalizedRow {
    /// The integer value of column `index`, when it was sent (or defaulted) as one.
    pub fn integer(&self, index: usize) -> Option<i64> {
        self.values.get(index)?.as_ref()?.as_integer()
    }
}

/// Converts `row` records for custom tables; every rejection names the column and what
/// it expects.
pub trait RowConverter: Send + Sync + std::fmt::Debug {
    /// One JSON value (not `null`) for a column. `raw` is the value's JSON text, when
    /// the row's text was kept (numeric, real and jsonb values are read from it).
    fn cell(&self, rule: &ColumnRule, value: &Value, raw: Option<&str>) -> Result<CellValue, Rejection>;

    /// A row of a custom table appended to by COPY: only `insert`, every column filled
    /// (defaults, else NULL), the time column set.
    fn convert(&self, schema: &CustomSchema, row: &RowRecord) -> Result<CustomRow, Rejection>;

    /// A row of a keyed custom table, checked and rewritten in place as the normalized
    /// record the relational writer takes.
    fn normalize_keyed(&self, schema: &CustomSchema, row: &mut RowRecord) -> Result<NormalizedRow, Rejection>;
}
