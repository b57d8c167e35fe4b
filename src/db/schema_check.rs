//! Before a writer sends a row it checks that its table has every column it writes,
//! with the type it encodes. A mismatch is a fatal error naming table and column:
//! binary COPY would otherwise fail with a far less helpful message.

use tokio_postgres::Client;

use super::DbError;
use crate::record::Table;

pub async fn verify_columns(client: &Client, table: Table) -> Result<(), DbError> {
    let relation = table.quoted_name();
    let exists = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation.as_ref()]).await?;
    if !exists.get::<_, bool>(0) {
        return Err(DbError::Schema(format!("table `{table}` does not exist; run `hypertick migrate --config …` first")));
    }
    let rows = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod)
               FROM pg_attribute
              WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped",
            &[&relation.as_ref()],
        )
        .await?;
    let mut problems = Vec::new();
    for column in table.columns() {
        let found = rows.iter().find(|row| row.get::<_, String>(0) == column.name);
        match found {
            None => problems.push(format!("table `{table}` has no column `{}` (expected {})", column.name, column.pg_type.sql_name())),
            Some(row) => {
                let actual: String = row.get(1);
                if actual != column.pg_type.sql_name() {
                    problems.push(format!("table `{table}` column `{}` is {actual}; expected {}", column.name, column.pg_type.sql_name()));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DbError::Schema(format!("schema mismatch: {}", problems.join("; "))))
    }
}
