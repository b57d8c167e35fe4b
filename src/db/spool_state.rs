//! The spool's committed sequences as the database holds them: per stream (table), a
//! watermark in `ingest_offsets` (`spool/<table>`) and the ranges committed above it in
//! `ingest_spool_ranges`.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::DbError;
use crate::record::DeadLetter;
use crate::spool::CommitTracker;

fn offset_stream(table: &str) -> String {
    format!("spool/{table}")
}

/// Each stream's committed sequences, keyed by table name.
pub async fn load_spool_commits(client: &Client) -> Result<HashMap<String, CommitTracker>, DbError> {
    let mut trackers: HashMap<String, CommitTracker> = HashMap::new();
    for row in client.query("SELECT substr(stream, 7), position FROM ingest_offsets WHERE stream LIKE 'spool/%'", &[]).await? {
        trackers.insert(row.get(0), CommitTracker::new(row.get::<_, i64>(1) as u64));
    }
    for row in
        client.query("SELECT stream, first_sequence, last_sequence FROM ingest_spool_ranges ORDER BY stream, first_sequence", &[]).await?
    {
        let tracker = trackers.entry(row.get(0)).or_default();
        tracker.commit(row.get::<_, i64>(1) as u64, row.get::<_, i64>(2) as u64);
    }
    Ok(trackers)
}

/// Stores `letter` and marks `ranges` of the spool stream `table` committed, in one
/// transaction: a spooled record that ends as a dead letter (refused on replay, or lost
/// to a damaged segment) is then neither replayed nor reported again, and the stream's
/// watermark moves past it.
pub async fn record_spool_release(client: &mut Client, table: &str, ranges: &[(u64, u64)], letter: &DeadLetter) -> Result<(), DbError> {
    let transaction = client.transaction().await?;
    transaction
        .execute(
            "INSERT INTO dead_letters (received_at, source, reason, detail, raw) VALUES (now(), $1, $2, $3, $4)",
            &[&letter.source, &letter.reason, &letter.detail, &letter.raw],
        )
        .await?;
    insert_spool_ranges(&transaction, table, ranges).await?;
    transaction.commit().await?;
    Ok(())
}

/// Marks `ranges` of the spool stream `table` committed without a row behind them: the
/// sequences an offline start set aside and never gave out.
pub async fn commit_spool_ranges(client: &Client, table: &str, ranges: &[(u64, u64)]) -> Result<(), DbError> {
    insert_spool_ranges(client, table, ranges).await?;
    Ok(())
}

/// The statement recording committed sequence ranges of a spool stream (`$1` stream,
/// `$2` firsts, `$3` lasts); the writers prepare it once per connection.
pub const INSERT_SPOOL_RANGES: &str = "INSERT INTO ingest_spool_ranges (stream, first_sequence, last_sequence)
     SELECT $1, first, last FROM unnest($2::int8[], $3::int8[]) AS ranges(first, last)";

/// Records `ranges` of the spool stream `table` with `client` (a transaction, usually).
async fn insert_spool_ranges(
    client: &impl tokio_postgres::GenericClient,
    table: &str,
    ranges: &[(u64, u64)],
) -> Result<(), tokio_postgres::Error> {
    if ranges.is_empty() {
        return Ok(());
    }
    let firsts: Vec<i64> = ranges.iter().map(|(first, _)| *first as i64).collect();
    let lasts: Vec<i64> = ranges.iter().map(|(_, last)| *last as i64).collect();
    client.execute(INSERT_SPOOL_RANGES, &[&table, &firsts, &lasts]).await.map(|_| ())
}

/// Folds the ranges of `table` at or below `watermark` into its `ingest_offsets` row.
pub async fn compact_spool_commits(client: &mut Client, table: &str, watermark: u64) -> Result<u64, DbError> {
    fold(client, &offset_stream(table), "DELETE FROM ingest_spool_ranges WHERE stream = $1 AND last_sequence <= $2", table, watermark).await
}

/// Folds a bus stream's claimed sequences at or below `watermark` into its
/// `ingest_offsets` row (`offset_stream`).
pub async fn fold_bus_claims(client: &mut Client, offset_stream: &str, stream_key: &str, watermark: u64) -> Result<u64, DbError> {
    fold(client, offset_stream, "DELETE FROM ingest_bus_messages WHERE stream = $1 AND sequence <= $2", stream_key, watermark).await
}

/// In one transaction: raises `offset_stream`'s position to `watermark` (never lowers
/// it) and runs `delete` (`$1` = `key`, `$2` = `watermark`); returns the rows deleted.
async fn fold(client: &mut Client, offset_stream: &str, delete: &str, key: &str, watermark: u64) -> Result<u64, DbError> {
    let transaction = client.transaction().await?;
    transaction
        .execute(
            "INSERT INTO ingest_offsets (stream, position) VALUES ($1, $2)
             ON CONFLICT (stream) DO UPDATE SET position = greatest(ingest_offsets.position, EXCLUDED.position), updated_at = now()",
            &[&offset_stream, &(watermark as i64)],
        )
        .await?;
    let deleted = transaction.execute(delete, &[&key, &(watermark as i64)]).await?;
    transaction.commit().await?;
    Ok(deleted)
}

/// The keys of the `limit` most recently committed record ids.
pub async fn load_recent_ids(client: &Client, limit: usize) -> Result<Vec<u128>, DbError> {
    let rows = client.query("SELECT key_high, key_low FROM ingest_ids ORDER BY committed_at DESC LIMIT $1", &[&(limit as i64)]).await?;
    Ok(rows.iter().map(|row| (u128::from(row.get::<_, i64>(0) as u64) << 64) | u128::from(row.get::<_, i64>(1) as u64)).collect())
}

/// Deletes the record ids beyond the `keep` most recent; returns how many.
pub async fn trim_ids(client: &Client, keep: usize) -> Result<u64, DbError> {
    Ok(client
        .execute(
            "DELETE FROM ingest_ids WHERE committed_at <
                 (SELECT committed_at FROM ingest_ids ORDER BY committed_at DESC OFFSET $1 LIMIT 1)",
            &[&(keep as i64)],
        )
        .await?)
}
