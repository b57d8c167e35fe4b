//! One place decides what a database error means for a batch (the retry logic of a
//! sink is one method, not scattered matches).

use crate::db::DbError;

/// What to do after a failed batch write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The connection or server failed: reconnect, back off, send the batch again.
    Retry,
    /// The server refused some row's content: split the batch to find and dead-letter it.
    Data,
    /// The table does not match what we write, or we may not write it: stop.
    Fatal,
}

impl FailureKind {
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Retry => "retry",
            FailureKind::Data => "data",
            FailureKind::Fatal => "fatal",
        }
    }
}

/// Classifies by SQLSTATE class; errors without one are connection-level.
pub fn classify(error: &tokio_postgres::Error) -> FailureKind {
    let Some(db_error) = error.as_db_error() else {
        return FailureKind::Retry;
    };
    let code = db_error.code().code();
    // 22P03 "invalid binary representation": a column's type differs from what we encode.
    if code == "22P03" {
        return FailureKind::Fatal;
    }
    match &code[..2] {
        "22" | "23" => FailureKind::Data,
        // Syntax/access rule violations, unsupported features, authorization, catalog.
        "42" | "0A" | "28" | "3D" | "3F" => FailureKind::Fatal,
        // Connection exceptions, rollbacks, resources, operator intervention, I/O,
        // and anything unexpected: retry with backoff, loudly counted.
        _ => FailureKind::Retry,
    }
}

impl DbError {
    /// What a failure of partition or schema work means for the batch waiting on it.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            DbError::Postgres(error) | DbError::Connect { error, .. } => classify(error),
            DbError::ConnectTimeout { .. } => FailureKind::Retry,
            DbError::Migration { .. } | DbError::Schema(_) | DbError::InvalidUrl(_) | DbError::Tls(_) => FailureKind::Fatal,
        }
    }
}
