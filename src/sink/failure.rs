//! One place decides what a database error means for a batch (the retry logic of a
//! sink is one method, not scattered matches), and how it is described.
//!
//! Every error ends in a decision: a connection or availability fault is retried (the
//! server will come back), a refusal of the rows' content is isolated to the rows that
//! caused it and dead-lettered, and a table that cannot take our rows stops its writer.
//! An error that no class marks as the rows' fault but that repeats on the same batch
//! while the server keeps answering is taken as the rows' fault too
//! ([`RepeatGuard`]): the same batch is never sent forever.

use crate::db::DbError;

/// What to do after a failed batch write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The connection or server failed: reconnect, back off, send the batch again.
    Retry,
    /// The server refused some row's content: isolate and dead-letter those rows.
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

/// SQLSTATE classes in which the server refuses a row for what it holds: data
/// exceptions (22: bad values, NUL bytes, out of range), integrity constraints (23:
/// unique, foreign key, check, not null), and program limits (54: an index row or a
/// value too large for the server, e.g. a 3,000-character key in a btree).
pub const ROW_LEVEL_CLASSES: [&str; 3] = ["22", "23", "54"];

/// Classifies by SQLSTATE class; errors without one are connection-level.
pub fn classify(error: &tokio_postgres::Error) -> FailureKind {
    let Some(db_error) = error.as_db_error() else {
        return FailureKind::Retry;
    };
    classify_state(db_error.code().code())
}

/// [`classify`] for a SQLSTATE.
pub fn classify_state(code: &str) -> FailureKind {
    // 22P03 "invalid binary representation": a column's type differs from what we encode.
    if code == "22P03" {
        return FailureKind::Fatal;
    }
    let class = code.get(..2).unwrap_or("");
    if ROW_LEVEL_CLASSES.contains(&class) {
        return FailureKind::Data;
    }
    match class {
        // Syntax/access rule violations, unsupported features, authorization, catalog.
        "42" | "0A" | "28" | "3D" | "3F" => FailureKind::Fatal,
        // Connection exceptions, rollbacks, resources, operator intervention, I/O,
        // and anything unexpected: retry with backoff, loudly counted, and isolated
        // once it repeats on the same batch (`RepeatGuard`).
        _ => FailureKind::Retry,
    }
}

/// The relational writer's statements name the columns a producer sent, so a syntax or
/// rule error there (42: a type that does not fit, a column the row cannot write) is
/// that row's fault, not the deployment's; insufficient privilege (42501) still is.
pub fn classify_row_statement(error: &tokio_postgres::Error) -> FailureKind {
    match error.as_db_error().map(|db_error| db_error.code().code()) {
        Some(code) if code.starts_with("42") && code != "42501" => FailureKind::Data,
        _ => classify(error),
    }
}

/// The server's message with its SQLSTATE, constraint, detail and context, so a dead
/// letter and a log line say exactly why (tokio-postgres's own `Display` of a server
/// error is only "db error").
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => {
            let detail = db_error.detail().map(|detail| format!(" ({detail})")).unwrap_or_default();
            let constraint = db_error.constraint().map(|name| format!(" [constraint {name}]")).unwrap_or_default();
            let context = db_error.where_().map(|context| format!(" ({context})")).unwrap_or_default();
            format!("{}{detail}{constraint} [{}]{context}", db_error.message(), db_error.code().code())
        }
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// A failed attempt: what to do, the SQLSTATE when the server answered, and why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    pub sqlstate: Option<String>,
    pub message: String,
}

impl Failure {
    pub fn retry(message: impl Into<String>) -> Self {
        Failure { kind: FailureKind::Retry, sqlstate: None, message: message.into() }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        let sqlstate = error.as_db_error().map(|db_error| db_error.code().code().to_string());
        Failure { kind: classify(&error), sqlstate, message: describe(&error) }
    }
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        let sqlstate = match &error {
            DbError::Postgres(error) | DbError::Connect { error, .. } => {
                error.as_db_error().map(|db_error| db_error.code().code().to_string())
            }
            _ => None,
        };
        Failure { kind: error.failure_kind(), sqlstate, message: error.to_string() }
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

/// Watches one batch's retried failures. An error the server answered with a SQLSTATE
/// (so the server is up and talking) that comes back on the same batch
/// [`RepeatGuard::LIMIT`] times in a row, each time after a fresh connection, is not
/// the server's trouble but the batch's: the guard turns it into [`FailureKind::Data`]
/// so the rows are isolated, and remembers the SQLSTATE so the isolation treats it as
/// a refusal of the row that raises it. Failures without a SQLSTATE (a refused or
/// broken connection: the server is down) are retried for as long as they last.
#[derive(Debug, Default)]
pub struct RepeatGuard {
    last_state: Option<String>,
    repeats: u32,
}

impl RepeatGuard {
    pub const LIMIT: u32 = 3;

    /// Takes a failed attempt of the batch and returns what to do with it.
    pub fn judge(&mut self, failure: &mut Failure) -> FailureKind {
        if failure.kind != FailureKind::Retry {
            return failure.kind;
        }
        match &failure.sqlstate {
            Some(state) if self.last_state.as_deref() == Some(state.as_str()) => self.repeats += 1,
            Some(state) => {
                self.last_state = Some(state.clone());
                self.repeats = 1;
            }
            None => {
                self.last_state = None;
                self.repeats = 0;
            }
        }
        if self.repeats >= Self::LIMIT {
            failure.kind = FailureKind::Data;
            failure.message = format!("{} (repeated {} times on this batch while the server answered)", failure.message, self.repeats);
        }
        failure.kind
    }

    /// The SQLSTATE the guard turned into a row-level refusal, if any.
    pub fn row_level_state(&self) -> Option<&str> {
        (self.repeats >= Self::LIMIT).then_some(self.last_state.as_deref()).flatten()
    }
}

/// Whether `error` refuses a row, counting `escalated` (a SQLSTATE the [`RepeatGuard`]
/// found repeating) as a refusal too.
pub fn refuses_row(error: &tokio_postgres::Error, escalated: Option<&str>) -> bool {
    let Some(db_error) = error.as_db_error() else { return false };
    let code = db_error.code().code();
    classify_state(code) == FailureKind::Data || escalated == Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_classified_by_class() {
        for (state, kind) in [
            ("23505", FailureKind::Data),
            ("23503", FailureKind::Data),
            ("22P02", FailureKind::Data),
            ("22021", FailureKind::Data),
            ("54000", FailureKind::Data),
            ("22P03", FailureKind::Fatal),
            ("42P01", FailureKind::Fatal),
            ("42501", FailureKind::Fatal),
            ("28P01", FailureKind::Fatal),
            ("57P01", FailureKind::Retry),
            ("53100", FailureKind::Retry),
            ("40001", FailureKind::Retry),
            ("XX000", FailureKind::Retry),
            ("", FailureKind::Retry),
        ] {
            assert_eq!(classify_state(state), kind, "{state}");
        }
    }

    fn failure(state: Option<&str>) -> Failure {
        Failure { kind: FailureKind::Retry, sqlstate: state.map(str::to_string), message: "m".into() }
    }

    #[test]
    fn a_server_error_repeating_on_one_batch_becomes_a_row_refusal() {
        let mut guard = RepeatGuard::default();
        assert_eq!(guard.judge(&mut failure(Some("XX000"))), FailureKind::Retry);
        assert_eq!(guard.judge(&mut failure(Some("XX000"))), FailureKind::Retry);
        assert_eq!(guard.row_level_state(), None);
        let mut third = failure(Some("XX000"));
        assert_eq!(guard.judge(&mut third), FailureKind::Data);
        assert!(third.message.contains("repeated 3 times"), "{}", third.message);
        assert_eq!(guard.row_level_state(), Some("XX000"));
    }

    #[test]
    fn connection_failures_and_changing_errors_are_retried() {
        let mut guard = RepeatGuard::default();
        for _ in 0..10 {
            assert_eq!(guard.judge(&mut failure(None)), FailureKind::Retry);
        }
        for state in ["57P01", "XX000", "57P01", "XX000", "57P01"] {
            assert_eq!(guard.judge(&mut failure(Some(state))), FailureKind::Retry);
        }
        // A connection failure in between starts the count again.
        guard.judge(&mut failure(Some("XX000")));
        guard.judge(&mut failure(Some("XX000")));
        guard.judge(&mut failure(None));
        assert_eq!(guard.judge(&mut failure(Some("XX000"))), FailureKind::Retry);
    }

    #[test]
    fn data_and_fatal_are_left_as_they_are() {
        let mut guard = RepeatGuard::default();
        let mut data = Failure { kind: FailureKind::Data, sqlstate: Some("23505".into()), message: String::new() };
        assert_eq!(guard.judge(&mut data), FailureKind::Data);
        let mut fatal = Failure { kind: FailureKind::Fatal, sqlstate: Some("42P01".into()), message: String::new() };
        assert_eq!(guard.judge(&mut fatal), FailureKind::Fatal);
    }
}
