//! Rows waiting for what they need: the parent row a foreign key names (a fill sent
//! before its order), or, for an `update`, the row itself. They are kept in
//! `relational_waiting`, inserted and deleted in the transactions of the batches that
//! park and settle them, so a waiting row survives a restart and is written once.

use std::time::Duration;

use tokio_postgres::{Client, GenericClient};

use crate::record::{RelationalCatalog, RowOp, RowRecord, Timestamp};

/// Why a row waits: a missing parent or a missing row, with the server's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WaitReason {
    /// `missing_parent` or `missing_row`: the dead-letter reason if it never arrives.
    pub code: &'static str,
    pub detail: String,
}

impl WaitReason {
    pub fn missing_parent(detail: String) -> Self {
        WaitReason { code: "missing_parent", detail }
    }

    pub fn missing_row(detail: String) -> Self {
        WaitReason { code: "missing_row", detail }
    }

    fn from_stored(code: &str, detail: String) -> Self {
        if code == "missing_row" {
            WaitReason::missing_row(detail)
        } else {
            WaitReason::missing_parent(detail)
        }
    }
}

/// One waiting row.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    /// Its `relational_waiting.id`.
    pub id: i64,
    /// When it started waiting.
    pub since: Timestamp,
    pub row: RowRecord,
    pub reason: WaitReason,
}

/// `[relational] wait_ms`, `wait_max_rows`, `wait_max_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    pub wait: Duration,
    pub max_rows: usize,
    pub max_bytes: u64,
}

impl Waiting {
    pub fn bytes(&self) -> u64 {
        self.row.json.len() as u64
    }

    /// Whether it has waited its time at `now`.
    pub fn expired(&self, policy: &WaitPolicy, now: Timestamp) -> bool {
        now.0.saturating_sub(self.since.0) >= i64::try_from(policy.wait.as_micros()).unwrap_or(i64::MAX)
    }
}

pub(super) const PARK: &str =
    "INSERT INTO relational_waiting (waiting_since, received_at, table_name, op, row_json, reason, detail, row_key)
     VALUES (to_timestamp($1::float8 / 1e6), to_timestamp($2::float8 / 1e6), $3, $4, $5, $6, $7, NULLIF($8, '')) RETURNING id";

pub(super) const SETTLE: &str = "DELETE FROM relational_waiting WHERE id = ANY($1)";

/// What [`lock`] found: the ids of every row it locked (the held rows still waiting and
/// the others), and the rows other writers parked under a key the batch writes.
pub(super) struct Locked {
    pub locked: std::collections::HashSet<i64>,
    pub of_keys: Vec<Waiting>,
}

/// Locks, until the transaction `client` runs ends, the rows of `waiting` still in
/// `relational_waiting` and the rows other writers parked whose table and key are among
/// `keys` (`(table, key)` of the rows about to be written): a newer row of a key must
/// not overtake an older one that waits, whichever writer holds it. One statement, in id
/// order, so that writers sharing the table never wait on each other in a circle (a
/// writer in the middle of retrying such a row is waited for).
pub(super) async fn lock(
    client: &impl GenericClient,
    catalog: &RelationalCatalog,
    waiting: &[Waiting],
    keys: &[(&str, &str)],
) -> Result<Locked, tokio_postgres::Error> {
    if waiting.is_empty() && keys.is_empty() {
        return Ok(Locked { locked: std::collections::HashSet::new(), of_keys: Vec::new() });
    }
    let ids: Vec<i64> = waiting.iter().map(|entry| entry.id).collect();
    let (tables, keys): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let rows = client
        .query(
            "SELECT id FROM relational_waiting
              WHERE id = ANY($1)
                 OR (table_name, row_key) IN (SELECT * FROM unnest($2::text[], $3::text[]))
              ORDER BY id FOR UPDATE",
            &[&ids, &tables, &keys],
        )
        .await?;
    let locked: std::collections::HashSet<i64> = rows.iter().map(|row| row.get(0)).collect();
    let held: std::collections::HashSet<i64> = ids.into_iter().collect();
    let others: Vec<i64> = locked.iter().copied().filter(|id| !held.contains(id)).collect();
    if others.is_empty() {
        return Ok(Locked { locked, of_keys: Vec::new() });
    }
    // Locked above; only these rows' contents are read.
    let rows = client.query(&format!("SELECT {COLUMNS} FROM relational_waiting WHERE id = ANY($1) ORDER BY id"), &[&others]).await?;
    // A row the catalog no longer takes is left to the writer that holds it.
    let (of_keys, _) = read(rows, catalog);
    Ok(Locked { locked, of_keys })
}

/// Parks `row` in the transaction `client` runs; returns its id.
pub(super) async fn park(
    client: &impl GenericClient,
    statement: &tokio_postgres::Statement,
    row: &RowRecord,
    since: Timestamp,
    reason: &WaitReason,
) -> Result<i64, tokio_postgres::Error> {
    let since_micros = since.0 as f64;
    let received_micros = row.received_at.0 as f64;
    let found = client
        .query_one(
            statement,
            &[&since_micros, &received_micros, &row.table, &row.op.as_str(), &row.json, &reason.code, &reason.detail, &row.key],
        )
        .await?;
    Ok(found.get(0))
}

/// Reads the waiting rows, oldest first. A row the catalog no longer takes (its table
/// dropped from `[relational] tables`, say) is returned apart with the reason, to be
/// dead-lettered.
pub(super) async fn load(
    client: &Client,
    catalog: &RelationalCatalog,
) -> Result<(Vec<Waiting>, Vec<(Waiting, String)>), tokio_postgres::Error> {
    let rows = client.query(&format!("SELECT {COLUMNS} FROM relational_waiting ORDER BY id"), &[]).await?;
    Ok(read(rows, catalog))
}

/// Reads, oldest first, at most `max_rows` waiting rows whose ids are not in `held`: rows
/// another writer parked and nobody retries (a writer that died and did not come back).
/// Rows another writer's transaction has locked right now are skipped (`SKIP LOCKED`):
/// that writer is settling or keeping them. Taking a row here locks nothing; every
/// attempt locks the rows it retries `FOR UPDATE` and finds a row another writer
/// settled meanwhile gone, so a row two writers hold is still written once.
pub(super) async fn adopt(
    client: &Client,
    catalog: &RelationalCatalog,
    held: &[i64],
    max_rows: usize,
) -> Result<(Vec<Waiting>, Vec<(Waiting, String)>), tokio_postgres::Error> {
    let limit = i64::try_from(max_rows).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM relational_waiting WHERE NOT (id = ANY($1)) ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"),
            &[&held, &limit],
        )
        .await?;
    Ok(read(rows, catalog))
}

const COLUMNS: &str = "id, (extract(epoch FROM waiting_since) * 1e6)::bigint, (extract(epoch FROM received_at) * 1e6)::bigint,
                    table_name, op, row_json, reason, detail";

fn read(rows: Vec<tokio_postgres::Row>, catalog: &RelationalCatalog) -> (Vec<Waiting>, Vec<(Waiting, String)>) {
    let mut waiting = Vec::with_capacity(rows.len());
    let mut unusable = Vec::new();
    for stored in rows {
        let id: i64 = stored.get(0);
        let since = Timestamp(stored.get::<_, i64>(1));
        let received_at = Timestamp(stored.get::<_, i64>(2));
        let table: String = stored.get(3);
        let op = match stored.get::<_, &str>(4) {
            "update" => RowOp::Update,
            "upsert" => RowOp::Upsert,
            _ => RowOp::Insert,
        };
        let json: String = stored.get(5);
        let reason = WaitReason::from_stored(stored.get(6), stored.get(7));
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap_or_default();
        let mut columns: Vec<String> = fields.keys().cloned().collect();
        columns.sort_unstable();
        let mut row = RowRecord { received_at, table, op, json, columns, key: String::new(), fields };
        // Its values were checked when it was taken (and a keyed custom table's row
        // normalized, a NaN its column allows kept): only the catalog may have changed.
        let checked = catalog.check_normalized(&mut row);
        let entry = Waiting { id, since, row, reason };
        match checked {
            Ok(()) => waiting.push(entry),
            Err(rejection) => unusable.push((entry, rejection.to_string())),
        }
    }
    (waiting, unusable)
}
