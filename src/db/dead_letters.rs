//! Retention of `dead_letters`: rows older than `tables.dead_letters.retention_days`
//! are deleted in slices, so one run never holds a long transaction or a large lock.

use tokio_postgres::Client;

use super::DbError;

/// Rows deleted per statement.
const DELETE_SLICE: i64 = 10_000;

/// Deletes dead letters received more than `retention_days` days ago; returns how many.
pub async fn delete_expired_dead_letters(client: &Client, retention_days: u32) -> Result<u64, DbError> {
    if retention_days == 0 {
        return Ok(0);
    }
    let statement = client
        .prepare(
            "DELETE FROM dead_letters WHERE id IN (
                 SELECT id FROM dead_letters WHERE received_at < now() - make_interval(days => $1) LIMIT $2)",
        )
        .await?;
    let days = i32::try_from(retention_days).unwrap_or(i32::MAX);
    let mut deleted = 0;
    loop {
        let slice = client.execute(&statement, &[&days, &DELETE_SLICE]).await?;
        deleted += slice;
        if slice < DELETE_SLICE as u64 {
            return Ok(deleted);
        }
    }
}
