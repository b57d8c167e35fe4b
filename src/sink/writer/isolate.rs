//! Finding, inside a batch's transaction, the rows the server refuses, so that every
//! other row commits and each refused row is dead-lettered with the server's reason.
//!
//! A refused part is halved under savepoints while that is cheap: a few refused rows in
//! a large batch are found in a handful of round trips. A small part is sent whole first,
//! like any part: the half beside a refused row usually holds none, and by COPY it lands
//! where the table's batches land (a direct-compress table's columnstore). Once a small
//! part is refused, or the batch has shown itself to be mostly refused (many halvings
//! already), the part is staged in a temporary table by the same binary COPY and inserted
//! row by row on the server (`hypertick_insert_each`, `sql/common/0007_isolation.sql`),
//! each row under its own subtransaction: 100,000 refused rows cost one statement, not
//! 200,000 round trips. A part that cannot even be staged (its bytes are refused on
//! input) goes on being halved down to single rows.

use bytes::Bytes;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Statement, Transaction};

use super::send_rows;
use crate::config::WriteMode;
use crate::record::Table;
use crate::sink::encoder::{encode_row_refs, EncodeRow};
use crate::sink::failure::{classify, describe, refuses_row, FailureKind};
use crate::sink::stage::{key_order, sort_in_columnstore_order};

/// Refused parts of at most this many rows are inserted row by row rather than halved.
const ROW_BY_ROW_AT_MOST: usize = 256;
/// After this many refused parts every refused part goes row by row: most of the batch
/// is refused, and halving would cost two round trips for each refused row.
const REFUSALS_BEFORE_ROW_BY_ROW: usize = 16;

const STAGING: &str = "pg_temp.hypertick_staging";

/// How one table's rows are written, for the isolation.
pub(in crate::sink) struct Target<'a> {
    pub table: Table,
    pub mode: WriteMode,
    /// Insert mode's `ON CONFLICT (key) DO NOTHING`, or empty.
    pub conflict_clause: &'a str,
    /// A SQLSTATE found repeating on this batch, taken as a row's refusal here too.
    pub escalated: Option<&'a str>,
}

/// Sends `rows[indices[start..end]]` for each pending `(start, end)` under savepoints
/// and isolates the refused rows (see the module doc). Returns the accepted rows'
/// indices and each refused row's index with the server's reason. `encoded_whole`,
/// when the caller has it, is the encoding of every row of `indices`: a part covering
/// them all is sent as it is rather than encoded again. Where the table's batches go out
/// in the columnstore's order ([`key_order`]), so do the parts: a direct-compress
/// writer's server sorts nothing, and each part is a COPY of its own.
pub(in crate::sink) async fn send_isolating<R: EncodeRow>(
    transaction: &mut Transaction<'_>,
    write: &Statement,
    target: &Target<'_>,
    rows: &[R],
    indices: &[usize],
    mut pending: Vec<(usize, usize)>,
    encoded_whole: Option<&Bytes>,
) -> Result<(Vec<usize>, Vec<(usize, String)>), tokio_postgres::Error> {
    // Put in order before the first part is encoded, not for a whole sent as it came
    // (the bus's batches, encoded in that order already): parts are positions in it.
    let mut indices = indices.to_vec();
    let mut in_order = !key_order(target.table, target.mode);
    let mut accepted = Vec::with_capacity(indices.len());
    let mut refused = Vec::new();
    let mut refusals = 0usize;
    // Parts whose bytes the staging COPY refused: only halving finds their rows.
    let mut unstageable: Vec<(usize, usize)> = Vec::new();
    // Small parts refused whole: they go row by row.
    let mut refused_small: Vec<(usize, usize)> = Vec::new();
    while let Some((start, end)) = pending.pop() {
        let part = match encoded_whole {
            Some(whole) if start == 0 && end == indices.len() => whole.clone(),
            _ => {
                if !in_order {
                    sort_in_columnstore_order(rows, &mut indices);
                    in_order = true;
                }
                let mut part = bytes::BytesMut::new();
                encode_row_refs(indices[start..end].iter().map(|index| &rows[*index]), &mut part);
                part.freeze()
            }
        };
        let row_by_row = end - start > 1
            && (refused_small.contains(&(start, end)) || refusals >= REFUSALS_BEFORE_ROW_BY_ROW)
            && !unstageable.contains(&(start, end));
        if row_by_row {
            if let Some(refused_in_part) = insert_each(transaction, target, &part).await? {
                let mut refused_in_part = refused_in_part.into_iter().peekable();
                for (offset, index) in indices[start..end].iter().enumerate() {
                    match refused_in_part.next_if(|(ordinal, _)| *ordinal == offset) {
                        Some((_, reason)) => refused.push((*index, reason)),
                        None => accepted.push(*index),
                    }
                }
                continue;
            }
            unstageable.push((start, end));
        }
        let savepoint = transaction.savepoint("isolate").await?;
        match send_rows(savepoint.client(), write, target.table, target.mode, &part).await {
            Ok(_) => {
                savepoint.commit().await?;
                accepted.extend_from_slice(&indices[start..end]);
            }
            Err(error) if refuses_row(&error, target.escalated) => {
                let reason = describe(&error);
                savepoint.rollback().await?;
                refusals += 1;
                if end - start == 1 {
                    refused.push((indices[start], reason));
                } else if end - start <= ROW_BY_ROW_AT_MOST && !unstageable.contains(&(start, end)) {
                    refused_small.push((start, end));
                    pending.push((start, end));
                } else {
                    let middle = start + (end - start) / 2;
                    for half in [(middle, end), (start, middle)] {
                        if unstageable.contains(&(start, end)) {
                            unstageable.push(half);
                        }
                        pending.push(half);
                    }
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok((accepted, refused))
}

/// Stages `part` and inserts it row by row under a savepoint. Returns each refused
/// row's ordinal in the part (ascending) with its reason, or `None` when the part
/// cannot be staged (its bytes are refused on input): nothing of it is then inserted.
async fn insert_each(
    transaction: &mut Transaction<'_>,
    target: &Target<'_>,
    part: &Bytes,
) -> Result<Option<Vec<(usize, String)>>, tokio_postgres::Error> {
    let columns = crate::db::quote_identifiers(&target.table.columns().iter().map(|column| column.name).collect::<Vec<_>>());
    let savepoint = transaction.savepoint("stage").await?;
    let staged = async {
        savepoint
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {STAGING};
                 CREATE TEMP TABLE hypertick_staging ON COMMIT DROP AS SELECT {columns} FROM {} WITH NO DATA",
                target.table.quoted_name()
            ))
            .await?;
        let copy = savepoint.prepare(&format!("COPY {STAGING} ({columns}) FROM STDIN (FORMAT binary)")).await?;
        send_rows(savepoint.client(), &copy, target.table, WriteMode::Copy, part).await
    };
    if let Err(error) = staged.await {
        if classify(&error) == FailureKind::Retry {
            return Err(error);
        }
        // Refused as bytes, or the server cannot stage (no COPY, no temporary tables).
        savepoint.rollback().await?;
        return Ok(None);
    }
    let states: Vec<&str> = target.escalated.into_iter().collect();
    let target_name = target.table.quoted_name();
    let parameters: [&(dyn ToSql + Sync); 4] = [&target_name.as_ref(), &columns, &target.conflict_clause, &states];
    let refused = savepoint
        .query(
            "SELECT row_ordinal, row_state, row_constraint, row_message
               FROM hypertick_insert_each($1::text::regclass, 'pg_temp.hypertick_staging'::regclass, $2, $3, $4::text[])",
            &parameters,
        )
        .await?;
    savepoint.batch_execute(&format!("DROP TABLE {STAGING}")).await?;
    savepoint.commit().await?;
    Ok(Some(
        refused
            .iter()
            .map(|row| {
                let ordinal = row.get::<_, i32>(0).max(0) as usize;
                let state: String = row.get(1);
                let constraint = row.get::<_, Option<String>>(2).map(|name| format!(" [constraint {name}]")).unwrap_or_default();
                let message: String = row.get(3);
                (ordinal, format!("{message}{constraint} [{state}]"))
            })
            .collect(),
    ))
}
