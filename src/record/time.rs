//! Timestamps as microseconds since the Unix epoch, with the conversions the rest of
//! the daemon needs (RFC 3339 and epoch times in any unit in, PostgreSQL's epoch out).

use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z, the resolution of `timestamptz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Timestamp(pub i64);

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const POSTGRES_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// The unit of an epoch time: seconds, milliseconds, microseconds or nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

impl EpochUnit {
    /// The power of ten that turns a count of this unit into microseconds.
    fn micros_exponent(self) -> i32 {
        match self {
            EpochUnit::Seconds => 6,
            EpochUnit::Millis => 3,
            EpochUnit::Micros => 0,
            EpochUnit::Nanos => -3,
        }
    }
}

/// Integer epoch nanoseconds below this (1970-04-26) are almost surely a count of a
/// coarser unit: the push protocol refuses them with a hint rather than store 1970.
pub const MIN_PLAUSIBLE_EPOCH_NANOS: i64 = 10_000_000_000_000_000;

/// A count of epoch nanoseconds below [`MIN_PLAUSIBLE_EPOCH_NANOS`] (and not negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImplausibleNanos(pub i64);

impl fmt::Display for ImplausibleNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} as epoch nanoseconds is {}; send nanoseconds (this looks like seconds, milliseconds or microseconds)",
            self.0,
            Timestamp::from_unix_nanos(self.0)
        )
    }
}

/// Significant digits kept from a decimal epoch time; an i128 holds 38.
const MAX_DECIMAL_DIGITS: usize = 36;

impl Timestamp {
    pub const MICROS_PER_SECOND: i64 = 1_000_000;

    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(since_epoch.as_micros() as i64)
    }

    pub fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos.div_euclid(1_000))
    }

    /// Epoch nanoseconds, unless the count is plausibly one of a coarser unit: from 0 up
    /// to [`MIN_PLAUSIBLE_EPOCH_NANOS`]. Negative counts (before 1970) are left to the
    /// time checks that know the table.
    pub fn from_plausible_unix_nanos(nanos: i64) -> Result<Self, ImplausibleNanos> {
        if (0..MIN_PLAUSIBLE_EPOCH_NANOS).contains(&nanos) {
            return Err(ImplausibleNanos(nanos));
        }
        Ok(Self::from_unix_nanos(nanos))
    }

    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        millis.checked_mul(1_000).map(Timestamp)
    }

    /// An integer count of `unit` since the epoch, exactly; sub-microsecond digits are
    /// cut (rounding down, as [`Timestamp::from_unix_nanos`]). `None` when out of range.
    pub fn from_unix(value: i64, unit: EpochUnit) -> Option<Self> {
        match unit {
            EpochUnit::Seconds => value.checked_mul(Self::MICROS_PER_SECOND).map(Timestamp),
            EpochUnit::Millis => Self::from_unix_millis(value),
            EpochUnit::Micros => Some(Timestamp(value)),
            EpochUnit::Nanos => Some(Self::from_unix_nanos(value)),
        }
    }

    /// A decimal count of `unit` since the epoch (`"1700000000.123456"`,
    /// `"1700000000123"`, `"1.7e9"`), converted exactly in integer arithmetic: no
    /// floating point is involved, and digits below a microsecond are cut (rounding
    /// down). `None` for anything that is not a plain decimal number, or out of range.
    pub fn parse_unix_decimal(text: &str, unit: EpochUnit) -> Option<Self> {
        let bytes = text.as_bytes();
        let (negative, mut position) = match bytes.first()? {
            b'-' => (true, 1),
            b'+' => (false, 1),
            _ => (false, 0),
        };
        let mut mantissa: i128 = 0;
        let mut significant = 0usize;
        let mut digits = 0usize;
        // Power of ten applied to the mantissa: fraction digits lower it, integer digits
        // past the kept precision raise it.
        let mut exponent: i64 = i64::from(unit.micros_exponent());
        let mut in_fraction = false;
        while let Some(&byte) = bytes.get(position) {
            match byte {
                b'0'..=b'9' => {
                    digits += 1;
                    if significant < MAX_DECIMAL_DIGITS {
                        if mantissa != 0 || byte != b'0' {
                            significant += 1;
                        }
                        mantissa = mantissa * 10 + i128::from(byte - b'0');
                        if in_fraction {
                            exponent -= 1;
                        }
                    } else if !in_fraction {
                        exponent += 1;
                    }
                }
                b'.' if !in_fraction => in_fraction = true,
                _ => break,
            }
            position += 1;
        }
        if digits == 0 {
            return None;
        }
        if let Some(b'e' | b'E') = bytes.get(position) {
            let written = std::str::from_utf8(&bytes[position + 1..]).ok()?;
            let digits_only = written.strip_prefix(['+', '-']).unwrap_or(written);
            if digits_only.is_empty() || !digits_only.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            exponent += written.parse::<i64>().ok().filter(|power| power.abs() <= 1_000)?;
            position = bytes.len();
        }
        if position != bytes.len() {
            return None;
        }
        if negative {
            mantissa = -mantissa;
        }
        let micros = if mantissa == 0 {
            0
        } else if exponent >= 0 {
            let scale = 10i128.checked_pow(u32::try_from(exponent).ok()?)?;
            mantissa.checked_mul(scale)?
        } else {
            match 10i128.checked_pow(u32::try_from(-exponent).ok()?) {
                Some(scale) => mantissa.div_euclid(scale),
                // More than 38 digits below a microsecond: less than one in magnitude.
                None => {
                    if negative {
                        -1
                    } else {
                        0
                    }
                }
            }
        };
        i64::try_from(micros).ok().map(Timestamp)
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

    /// The UTC calendar date of this moment (1970-01-01 when it is out of chrono's range).
    pub fn utc_date(self) -> chrono::NaiveDate {
        chrono::DateTime::from_timestamp_micros(self.0).map_or(chrono::NaiveDate::default(), |datetime| datetime.date_naive())
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

/// The bar-length units, shortest first.
const INTERVAL_UNITS: [&str; 7] = ["s", "m", "h", "d", "w", "mo", "y"];

/// What a bar length looks like, for messages.
pub const INTERVAL_EXPECTED: &str = "a length like 1m, 5m, 1h, 1d (units s, m, h, d, w, mo, y)";

/// Whether `text` is a bar length as every source reads one: digits without a leading
/// zero, then a unit (s, m, h, d, w, mo, y), e.g. `1m`, `4h`, `1d`. Lengths are kept as
/// written: `60m` and `1h` are different intervals.
pub fn is_interval(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && !text.starts_with('0') && INTERVAL_UNITS.contains(&&text[digits..])
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
    fn epoch_integers_in_every_unit_convert_exactly() {
        let cases = [
            (1_700_000_000, EpochUnit::Seconds, Some(1_700_000_000_000_000)),
            (1_700_000_000_123, EpochUnit::Millis, Some(1_700_000_000_123_000)),
            (1_700_000_000_123_456, EpochUnit::Micros, Some(1_700_000_000_123_456)),
            (1_700_000_000_123_456_789, EpochUnit::Nanos, Some(1_700_000_000_123_456)),
            (-1, EpochUnit::Nanos, Some(-1)),
            (i64::MAX, EpochUnit::Seconds, None),
            (i64::MAX, EpochUnit::Millis, None),
        ];
        for (value, unit, micros) in cases {
            assert_eq!(Timestamp::from_unix(value, unit), micros.map(Timestamp), "{value} {unit:?}");
        }
    }

    #[test]
    fn decimal_epoch_times_convert_exactly() {
        let cases = [
            ("1700000000.123456", EpochUnit::Seconds, Some(1_700_000_000_123_456)),
            ("1700000000.1234567", EpochUnit::Seconds, Some(1_700_000_000_123_456)),
            ("1700000000.1", EpochUnit::Seconds, Some(1_700_000_000_100_000)),
            ("1700000000", EpochUnit::Seconds, Some(1_700_000_000_000_000)),
            ("1700000000.", EpochUnit::Seconds, Some(1_700_000_000_000_000)),
            ("+1700000000.5", EpochUnit::Seconds, Some(1_700_000_000_500_000)),
            ("1700000000123", EpochUnit::Millis, Some(1_700_000_000_123_000)),
            ("1700000000123.456", EpochUnit::Millis, Some(1_700_000_000_123_456)),
            ("1700000000123456", EpochUnit::Micros, Some(1_700_000_000_123_456)),
            ("1700000000123456789", EpochUnit::Nanos, Some(1_700_000_000_123_456)),
            ("1700000000123456999.9", EpochUnit::Nanos, Some(1_700_000_000_123_456)),
            ("1.7e9", EpochUnit::Seconds, Some(1_700_000_000_000_000)),
            ("1.7000000001234567E18", EpochUnit::Nanos, Some(1_700_000_000_123_456)),
            ("17000000001234567e-7", EpochUnit::Seconds, Some(1_700_000_000_123_456)),
            ("0.000001", EpochUnit::Seconds, Some(1)),
            ("0.0000009", EpochUnit::Seconds, Some(0)),
            ("-0.0000001", EpochUnit::Seconds, Some(-1)),
            ("-1.5", EpochUnit::Seconds, Some(-1_500_000)),
            ("000000000000000000000000000000000000000001", EpochUnit::Seconds, Some(1_000_000)),
            ("1700000000.12345678901234567890123456789", EpochUnit::Seconds, Some(1_700_000_000_123_456)),
            ("1e-400", EpochUnit::Seconds, Some(0)),
            ("9223372036854.775807", EpochUnit::Seconds, Some(i64::MAX)),
            ("9223372036854.775808", EpochUnit::Seconds, None),
            ("1e30", EpochUnit::Seconds, None),
            ("", EpochUnit::Seconds, None),
            ("-", EpochUnit::Seconds, None),
            (".", EpochUnit::Seconds, None),
            ("1.2.3", EpochUnit::Seconds, None),
            ("12abc", EpochUnit::Seconds, None),
            ("1e", EpochUnit::Seconds, None),
            ("1e+", EpochUnit::Seconds, None),
            (" 17", EpochUnit::Seconds, None),
            ("NaN", EpochUnit::Seconds, None),
            ("inf", EpochUnit::Seconds, None),
        ];
        for (text, unit, micros) in cases {
            assert_eq!(Timestamp::parse_unix_decimal(text, unit), micros.map(Timestamp), "{text} {unit:?}");
        }
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
