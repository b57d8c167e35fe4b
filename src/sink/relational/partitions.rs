//! Partitions for the rows of keyed custom tables on vanilla PostgreSQL: a row whose
//! time falls where no partition exists yet (a backfill, a late row) would be refused by
//! the server, so the relational writer creates the partitions a batch's rows fall in
//! before writing it, as the COPY writers do (TimescaleDB makes its chunks itself).

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::Client;

use crate::db::{DbError, Partitions};
use crate::record::{RowRecord, Table, Timestamp};

/// The keyed custom tables that are range-partitioned, by name, and the partitions.
#[derive(Clone, Default)]
pub struct KeyedPartitions {
    pub partitions: Option<Arc<Partitions>>,
    pub tables: HashMap<String, Table>,
}

impl KeyedPartitions {
    /// Creates the partitions the rows' times fall in that are missing.
    pub(super) async fn ensure(&self, client: &mut Client, rows: &[RowRecord]) -> Result<(), DbError> {
        let Some(partitions) = &self.partitions else { return Ok(()) };
        if self.tables.is_empty() {
            return Ok(());
        }
        let mut slots: HashMap<Table, Vec<i64>> = HashMap::new();
        for row in rows {
            let Some(table) = self.tables.get(&row.table) else { continue };
            let time = row.fields.get(table.time_column()).and_then(|value| value.as_str()).and_then(Timestamp::parse_rfc3339);
            if let Some(slot) = time.and_then(|time| partitions.slot_start(*table, time)) {
                let table_slots = slots.entry(*table).or_default();
                if !table_slots.contains(&slot) {
                    table_slots.push(slot);
                }
            }
        }
        for (table, table_slots) in slots {
            if !partitions.covers(table, &table_slots) {
                partitions.ensure(client, table, &table_slots).await?;
            }
        }
        Ok(())
    }
}
