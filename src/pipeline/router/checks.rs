//! What a record must pass before it is queued: its event time against its table's
//! retention and the clock, its size, and a custom table's row converted (or a keyed
//! table's normalized and checked against the relational catalog).

use crate::record::{ApproxBytes, CellValue, CustomRow, Record, RejectReason, Rejection, RowRecord, Table, Timestamp};

use super::super::keyed::row_retention_micros;
use super::super::retention::{check_event_time, check_interval_time};
use super::{CustomLane, Router};

impl Router {
    /// Checks a record's event time: not before 1970, not too far ahead, inside retention.
    pub fn check_time(&self, table: Table, time: Timestamp, now: Timestamp) -> Result<(), Rejection> {
        let retention = match table.index() {
            Some(index) => self.limits.retention_micros[index],
            None => self.custom_tables.get(table.name()).and_then(|lane| lane.retention_micros),
        };
        self.check_time_within(table, retention, time, now)
    }

    /// [`Router::check_time`] for a record: a bar against its interval's retention.
    pub fn check_record_time(&self, record: &Record, now: Timestamp) -> Result<(), Rejection> {
        match record {
            Record::Bar(bar) if !self.limits.bar_retention.is_empty() => {
                let table_retention = Table::Bars.index().and_then(|index| self.limits.retention_micros[index]);
                let limits = &self.limits;
                check_interval_time(
                    Table::Bars,
                    table_retention,
                    &limits.bar_retention,
                    &bar.interval,
                    limits.max_future_micros,
                    bar.time,
                    now,
                )
            }
            _ => self.check_time(record.table(), record.time(), now),
        }
    }

    /// Refuses a record larger than its table's `max_record_bytes`.
    pub fn check_size(&self, record: &Record) -> Result<(), Rejection> {
        self.check_bytes(record.table(), record.approx_bytes())
    }

    /// Refuses `bytes` over `table`'s `max_record_bytes` (a custom table has none here).
    pub(super) fn check_bytes(&self, table: Table, bytes: usize) -> Result<(), Rejection> {
        let Some(index) = table.index() else { return Ok(()) };
        let limit = self.limits.max_record_bytes[index];
        if bytes > limit {
            return Err(Rejection::new(
                RejectReason::RecordTooLarge,
                format!("the record takes about {bytes} bytes in memory; the limit is {limit} (tables.{table}.max_record_bytes)"),
            ));
        }
        Ok(())
    }

    pub(super) fn check_time_within(&self, table: Table, retention: Option<i64>, time: Timestamp, now: Timestamp) -> Result<(), Rejection> {
        check_event_time(table, retention, self.limits.max_future_micros, time, now)
    }

    /// An unknown table's refusal lists the custom tables as well as the relational ones.
    pub(super) fn also_naming_custom_tables(&self, mut rejection: Rejection) -> Rejection {
        if rejection.code == RejectReason::UnknownTable && !self.custom_tables.is_empty() {
            let mut names: Vec<&str> = self.custom_tables.keys().map(String::as_str).collect();
            names.retain(|name| !self.keyed_tables.contains_key(*name));
            names.sort_unstable();
            rejection.detail.push_str(&format!(", or a custom table: {}", names.join(", ")));
        }
        rejection
    }

    /// A custom table's row converted to its typed values, its time column checked like
    /// any record's time; `None` when the row is not for a custom table.
    pub(super) fn convert_custom(&self, row: &RowRecord, now: Option<Timestamp>) -> Option<Result<(&CustomLane, CustomRow), Rejection>> {
        let lane = self.custom_tables.get(&row.table)?;
        Some(self.rows.convert(&lane.schema, row).and_then(|converted| {
            if let Some(now) = now {
                let own_days = lane.retention_index.and_then(|index| converted.values.get(index)).and_then(CellValue::as_integer);
                let column = lane.retention_index.map_or("", |index| lane.schema.columns[index].name.as_str());
                let retention = row_retention_micros(lane.retention_micros, own_days, column)?;
                self.check_time_within(lane.schema.table, retention, converted.time, now)?;
            }
            Ok((lane, converted))
        }))
    }

    /// A keyed custom table's row checked against its columns, normalized in place and
    /// checked against the relational catalog; `None` when the row is not for one.
    pub(super) fn normalize_keyed(&self, row: &mut RowRecord, now: Timestamp) -> Option<Result<(), Rejection>> {
        let lane = self.keyed_tables.get(&row.table)?;
        Some((|| {
            lane.refuse_op(row)?;
            let normalized = self.rows.normalize_keyed(&lane.schema, row)?;
            if let Some(time) = normalized.time {
                let own_days = lane.retention_index.and_then(|index| normalized.integer(index));
                let column = lane.retention_index.map_or("", |index| lane.schema.columns[index].name.as_str());
                let retention = row_retention_micros(lane.retention_micros, own_days, column)?;
                self.check_time_within(lane.schema.table, retention, time, now)?;
            }
            self.catalog.get().check_normalized(row)
        })())
    }
}
