//! Why a piece of input was not accepted: a [`RejectReason`] (one variant per cause,
//! with the stable label that metrics, dead letters and push acks carry) and a specific
//! explanation.

/// The cause of a refusal. [`RejectReason::as_str`] is its label: the metric label,
/// the `reason` column of `dead_letters` and the start of a push ack's reason. The
/// labels are a public interface and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// `binary_frame`: a websocket frame was binary, not text.
    BinaryFrame,
    /// `database_unavailable`: the database has not answered since the start, so a relational row cannot be checked yet.
    DatabaseUnavailable,
    /// `empty_frame`: a frame held no JSON.
    EmptyFrame,
    /// `frame_too_large`: a frame is over the configured size.
    FrameTooLarge,
    /// `inconsistent_bar`: a bar's prices contradict each other.
    InconsistentBar,
    /// `inconsistent_option`: an option quote's fields contradict its contract name.
    InconsistentOption,
    /// `invalid_csv`: a file line is not valid CSV.
    InvalidCsv,
    /// `invalid_field`: a field's value is not what it should be.
    InvalidField,
    /// `invalid_json`: the input is not valid JSON.
    InvalidJson,
    /// `invalid_utf8`: a file's field or a text frame is not valid UTF-8.
    InvalidUtf8,
    /// `invalid_record`: a message does not have the documented shape.
    InvalidRecord,
    /// `missing_field`: a required field is absent or null.
    MissingField,
    /// `missing_type`: a push record has no `type`.
    MissingType,
    /// `nan_or_infinite`: a number is NaN or infinite.
    NanOrInfinite,
    /// `not_an_object`: a push element is not a JSON object.
    NotAnObject,
    /// `not_on_edge`: no longer given (relational rows travel over the bus since they
    /// are published by edges); the code stays reserved.
    NotOnEdge,
    /// `older_than_retention`: the record's time is older than its table keeps.
    OlderThanRetention,
    /// `out_of_range`: a value does not fit its column.
    OutOfRange,
    /// `queue_full`: the table's channel is full.
    QueueFull,
    /// `rate_limited`: the producer sends frames faster than allowed.
    RateLimited,
    /// `record_too_large`: a record is over its table's size limit.
    RecordTooLarge,
    /// `rejected_by_database`: the database refused a row that had been accepted.
    RejectedByDatabase,
    /// `shutting_down`: the daemon is stopping.
    ShuttingDown,
    /// `spool_error`: the spool could not take the record.
    SpoolError,
    /// `spool_full`: the spool is full.
    SpoolFull,
    /// `subscription_refused`: a venue refused a subscription or the login.
    SubscriptionRefused,
    /// `time_out_of_range`: a time is out of range or implausible.
    TimeOutOfRange,
    /// `unknown_column`: a row names a column its table does not have.
    UnknownColumn,
    /// `unknown_field`: a record has a field its type does not have.
    UnknownField,
    /// `unknown_table`: a row names a table that is not known.
    UnknownTable,
    /// `unknown_type`: a message type is not known or not handled.
    UnknownType,
    /// `unmatched`: a message matches no rule of a configured feed.
    Unmatched,
}

impl RejectReason {
    /// Every reason, for tests and documentation.
    pub const ALL: [RejectReason; 32] = [
        RejectReason::BinaryFrame,
        RejectReason::DatabaseUnavailable,
        RejectReason::EmptyFrame,
        RejectReason::FrameTooLarge,
        RejectReason::InconsistentBar,
        RejectReason::InconsistentOption,
        RejectReason::InvalidCsv,
        RejectReason::InvalidField,
        RejectReason::InvalidJson,
        RejectReason::InvalidUtf8,
        RejectReason::InvalidRecord,
        RejectReason::MissingField,
        RejectReason::MissingType,
        RejectReason::NanOrInfinite,
        RejectReason::NotAnObject,
        RejectReason::NotOnEdge,
        RejectReason::OlderThanRetention,
        RejectReason::OutOfRange,
        RejectReason::QueueFull,
        RejectReason::RateLimited,
        RejectReason::RecordTooLarge,
        RejectReason::RejectedByDatabase,
        RejectReason::ShuttingDown,
        RejectReason::SpoolError,
        RejectReason::SpoolFull,
        RejectReason::SubscriptionRefused,
        RejectReason::TimeOutOfRange,
        RejectReason::UnknownColumn,
        RejectReason::UnknownField,
        RejectReason::UnknownTable,
        RejectReason::UnknownType,
        RejectReason::Unmatched,
    ];

    /// The stable label.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::BinaryFrame => "binary_frame",
            RejectReason::DatabaseUnavailable => "database_unavailable",
            RejectReason::EmptyFrame => "empty_frame",
            RejectReason::FrameTooLarge => "frame_too_large",
            RejectReason::InconsistentBar => "inconsistent_bar",
            RejectReason::InconsistentOption => "inconsistent_option",
            RejectReason::InvalidCsv => "invalid_csv",
            RejectReason::InvalidField => "invalid_field",
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::InvalidRecord => "invalid_record",
            RejectReason::MissingField => "missing_field",
            RejectReason::MissingType => "missing_type",
            RejectReason::NanOrInfinite => "nan_or_infinite",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::NotOnEdge => "not_on_edge",
            RejectReason::OlderThanRetention => "older_than_retention",
            RejectReason::OutOfRange => "out_of_range",
            RejectReason::QueueFull => "queue_full",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::RecordTooLarge => "record_too_large",
            RejectReason::RejectedByDatabase => "rejected_by_database",
            RejectReason::ShuttingDown => "shutting_down",
            RejectReason::SpoolError => "spool_error",
            RejectReason::SpoolFull => "spool_full",
            RejectReason::SubscriptionRefused => "subscription_refused",
            RejectReason::TimeOutOfRange => "time_out_of_range",
            RejectReason::UnknownColumn => "unknown_column",
            RejectReason::UnknownField => "unknown_field",
            RejectReason::UnknownTable => "unknown_table",
            RejectReason::UnknownType => "unknown_type",
            RejectReason::Unmatched => "unmatched",
        }
    }

    /// The reasons that say "not now" rather than "not this": the daemon is full, busy
    /// or stopping, or the producer is over its rate. The input itself is fine, so a
    /// producer should send it again later, and it is not kept as a dead letter.
    pub fn is_backpressure(self) -> bool {
        matches!(
            self,
            RejectReason::QueueFull
                | RejectReason::SpoolFull
                | RejectReason::ShuttingDown
                | RejectReason::RateLimited
                | RejectReason::DatabaseUnavailable
        )
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a piece of input was not accepted: the reason (the metric label and the dead
/// letter's `reason`) and a specific explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectReason,
    pub detail: String,
}

impl Rejection {
    pub fn new(code: RejectReason, detail: impl Into<String>) -> Self {
        Rejection { code, detail: detail.into() }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels reach metrics, `dead_letters.reason` and push acks: pinned here.
    #[test]
    fn labels_are_pinned() {
        let labels: Vec<&str> = RejectReason::ALL.iter().map(|reason| reason.as_str()).collect();
        assert_eq!(
            labels,
            [
                "binary_frame",
                "database_unavailable",
                "empty_frame",
                "frame_too_large",
                "inconsistent_bar",
                "inconsistent_option",
                "invalid_csv",
                "invalid_field",
                "invalid_json",
                "invalid_utf8",
                "invalid_record",
                "missing_field",
                "missing_type",
                "nan_or_infinite",
                "not_an_object",
                "not_on_edge",
                "older_than_retention",
                "out_of_range",
                "queue_full",
                "rate_limited",
                "record_too_large",
                "rejected_by_database",
                "shutting_down",
                "spool_error",
                "spool_full",
                "subscription_refused",
                "time_out_of_range",
                "unknown_column",
                "unknown_field",
                "unknown_table",
                "unknown_type",
                "unmatched",
            ]
        );
    }

    #[test]
    fn backpressure_is_the_retry_later_set() {
        let retry_later: Vec<&str> =
            RejectReason::ALL.iter().filter(|reason| reason.is_backpressure()).map(|reason| reason.as_str()).collect();
        assert_eq!(retry_later, ["database_unavailable", "queue_full", "rate_limited", "shutting_down", "spool_full"]);
    }

    #[test]
    fn a_rejection_shows_its_label_first() {
        let rejection = Rejection::new(RejectReason::SpoolFull, "the spool holds 2 of 2 bytes");
        assert_eq!(rejection.to_string(), "spool_full: the spool holds 2 of 2 bytes");
    }
}
