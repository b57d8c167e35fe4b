//! Timestamps as microseconds since the Unix epoch, with the conversions the rest of
//! the daemon needs (RFC 3339 and epoch nanoseconds in, PostgreSQL's epoch out).

use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z, the resolution of `timestamptz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const POSTGRES_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

impl Timestamp {
    pub const MICROS_PER_SECOND: i64 = 1_000_000;

    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since_epoch.as_micros() as i64)
    }

    pub fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos.div_euclid(1_000))
    }

    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        millis.checked_mul(1_000).map(Timestamp)
    }

    /// Parses an RFC 3339 timestamp (`2026-11-22T12:00:00.123456Z`, any offset).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = chrono::DateTime::parse_from_rfc3339(text).ok()?;
        Some(Timestamp(parsed.timestamp_micros()))
    }

    /// The value PostgreSQL's binary `timestamptz` format carries.
    pub fn to_postgres_micros(self) -> i64 {
        self.0 - POSTGRES_EPOCH_OFFSET_MICROS
    }

    pub fn from_postgres_micros(micros: i64) -> Self {
        Timestamp(micros + POSTGRES_EPOCH_OFFSET_MICROS)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn saturating_sub_micros(self, micros: i64) -> Self {
        Timestamp(self.0.saturating_sub(micros))
    }

    pub fn saturating_add_micros(self, micros: i64) -> Self {
        Timestamp(self.0.saturating_add(micros))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match chrono::DateTime::from_timestamp_micros(self.0) {
            Some(datetime) => write!(f, "{}", datetime.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
            None => write!(f, "{}µs", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_offsets_and_fractions() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-01-01T00:00:00Z", POSTGRES_EPOCH_OFFSET_MICROS),
            ("2026-11-22T12:00:00.123456Z", 1_795_348_800_123_456),
            ("2026-11-22T13:00:00.5+01:00", 1_795_348_800_500_000),
        ];
        for (text, micros) in cases {
            assert_eq!(Timestamp::parse_rfc3339(text), Some(Timestamp(micros)), "{text}");
        }
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
        assert_eq!(Timestamp::parse_rfc3339("2026-11-22"), None);
    }

    #[test]
    fn nanos_round_down_including_before_the_epoch() {
        assert_eq!(Timestamp::from_unix_nanos(1_999), Timestamp(1));
        assert_eq!(Timestamp::from_unix_nanos(-1), Timestamp(-1));
    }

    #[test]
    fn postgres_epoch_round_trips() {
        let stamp = Timestamp(1_795_348_800_123_456);
        assert_eq!(Timestamp::from_postgres_micros(stamp.to_postgres_micros()), stamp);
        assert_eq!(Timestamp(POSTGRES_EPOCH_OFFSET_MICROS).to_postgres_micros(), 0);
    }
}
