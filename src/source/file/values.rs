//! A file row's values as text, converted into typed record fields: identifiers,
//! numbers, times (RFC 3339, or epoch numbers in a configured or inferred unit), sides
//! and bar intervals. Every refusal names the field and what was expected.

use std::borrow::Cow;

pub use crate::config::TimeUnit;
use crate::record::{RejectReason, Rejection, Side, Timestamp};
use crate::source::values::{self, epoch_unit, invalid_text as invalid};

/// One row's values in the order of its table's fields (see `mapping`), as text;
/// `None` for a value that is absent, empty or `null`.
pub struct Values<'a> {
    pub(super) texts: &'a [Option<Cow<'a, str>>],
    pub(super) names: &'static [&'static str],
    pub(super) time_unit: TimeUnit,
}

impl<'a> Values<'a> {
    fn text(&self, index: usize) -> Option<&str> {
        self.texts.get(index).and_then(|text| text.as_deref())
    }

    fn required(&self, index: usize) -> Result<&str, Rejection> {
        self.text(index).ok_or_else(|| Rejection::new(RejectReason::MissingField, format!("`{}` is required", self.names[index])))
    }

    /// A required identifier: non-empty, at most 128 bytes, no control characters.
    pub fn key(&self, index: usize) -> Result<String, Rejection> {
        let text = self.required(index)?;
        values::key(self.names[index], text)
    }

    pub fn optional_key(&self, index: usize) -> Result<Option<String>, Rejection> {
        self.text(index).map(|text| values::key(self.names[index], text)).transpose()
    }

    pub fn number(&self, index: usize) -> Result<f64, Rejection> {
        values::decimal(self.names[index], self.required(index)?)
    }

    pub fn optional_number(&self, index: usize) -> Result<Option<f64>, Rejection> {
        self.text(index).map(|text| values::decimal(self.names[index], text)).transpose()
    }

    pub fn non_negative(&self, index: usize) -> Result<f64, Rejection> {
        let text = self.required(index)?;
        let number = values::decimal(self.names[index], text)?;
        if number < 0.0 {
            return Err(invalid(self.names[index], "a number ≥ 0", text));
        }
        Ok(number)
    }

    pub fn optional_count(&self, index: usize) -> Result<Option<i64>, Rejection> {
        let Some(text) = self.text(index) else { return Ok(None) };
        match text.trim().parse::<i64>() {
            Ok(count) if count >= 0 => Ok(Some(count)),
            _ => Err(invalid(self.names[index], "a non-negative integer", text)),
        }
    }

    /// RFC 3339 (`2026-11-22T12:00:00.123Z`; a space for the `T` and a missing offset,
    /// meaning UTC, are accepted too) or an epoch number in the file's time unit.
    pub fn time(&self, index: usize) -> Result<Timestamp, Rejection> {
        let name = self.names[index];
        let text = self.required(index)?.trim();
        let looks_like_epoch = text.bytes().all(|byte| byte.is_ascii_digit() || matches!(byte, b'.' | b'-' | b'+' | b'e' | b'E'))
            && text.bytes().skip(1).all(|byte| byte != b'-');
        if looks_like_epoch {
            let integer_digits = text.trim_start_matches(['-', '+']).trim_start_matches('0').bytes().take_while(u8::is_ascii_digit).count();
            return Timestamp::parse_unix_decimal(text, epoch_unit(self.time_unit, integer_digits))
                .ok_or_else(|| invalid(name, "an epoch number in range", text));
        }
        parse_calendar_time(text).ok_or_else(|| invalid(name, "an RFC 3339 time like 2026-11-22T12:00:00.123Z, or an epoch number", text))
    }

    /// `buy`, `b` or `1` (the buyer took liquidity); `sell`, `s` or `-1`; absent,
    /// `unknown` or `0` for unknown. Case is ignored.
    pub fn side(&self, index: usize) -> Result<Side, Rejection> {
        let Some(text) = self.text(index) else { return Ok(Side::Unknown) };
        let trimmed = text.trim();
        let is = |names: &[&str]| names.iter().any(|name| trimmed.eq_ignore_ascii_case(name));
        if is(&["buy", "b", "1"]) {
            Ok(Side::Buy)
        } else if is(&["sell", "s", "-1"]) {
            Ok(Side::Sell)
        } else if is(&["unknown", "0", ""]) {
            Ok(Side::Unknown)
        } else {
            Err(invalid(self.names[index], "buy, sell, b, s, 1, -1 or 0", text))
        }
    }

    /// A bar length (`1m`, `4h`, `1d`; see [`values::interval`]).
    pub fn interval(&self, index: usize) -> Result<String, Rejection> {
        values::interval(self.names[index], self.key(index)?)
    }
}

fn parse_calendar_time(text: &str) -> Option<Timestamp> {
    if let Some(time) = parse_utc_fast(text.as_bytes()) {
        return Some(time);
    }
    if let Some(time) = Timestamp::parse_rfc3339(text) {
        return Some(time);
    }
    let with_t = text.replacen(' ', "T", 1);
    if let Some(time) = Timestamp::parse_rfc3339(&with_t) {
        return Some(time);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(&with_t, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(Timestamp(naive.and_utc().timestamp_micros()))
}

/// The common written form `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (or a space for the
/// `T`), read without the general parser: a large file holds millions of them.
/// Anything else (offsets, leap seconds, odd widths) is left to `chrono`.
fn parse_utc_fast(bytes: &[u8]) -> Option<Timestamp> {
    let (zone, body) = bytes.split_last()?;
    if *zone != b'Z' || body.len() < 19 || !matches!(body[10], b'T' | b' ') {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        body[range].iter().try_fold(0i64, |value, byte| byte.is_ascii_digit().then(|| value * 10 + i64::from(byte - b'0')))
    };
    if body[4] != b'-' || body[7] != b'-' || body[13] != b':' || body[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut micros = 0i64;
    if body.len() > 19 {
        let fraction = body[19..].strip_prefix(b".")?;
        if fraction.is_empty() || fraction.len() > 9 || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for (position, byte) in fraction.iter().take(6).enumerate() {
            micros += i64::from(byte - b'0') * 10i64.pow(5 - position as u32);
        }
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(Timestamp(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(texts: &[Option<&'static str>], unit: TimeUnit) -> (Vec<Option<Cow<'static, str>>>, TimeUnit) {
        (texts.iter().map(|text| text.map(Cow::Borrowed)).collect(), unit)
    }

    #[test]
    fn times_in_every_written_form() {
        let expected = Timestamp::parse_rfc3339("2026-11-22T12:00:00.123456Z").unwrap();
        for (text, unit) in [
            ("2026-11-22T12:00:00.123456Z", TimeUnit::Auto),
            ("2026-11-22 12:00:00.123456+00:00", TimeUnit::Auto),
            ("2026-11-22 12:00:00.123456", TimeUnit::Auto),
            ("1795348800.123456", TimeUnit::Auto),
            ("1795348800123.456", TimeUnit::Auto),
            ("1795348800123456", TimeUnit::Auto),
            ("1795348800123456000", TimeUnit::Auto),
            ("1795348800123456", TimeUnit::Micros),
        ] {
            let (texts, unit) = values(&[Some(text)], unit);
            let row = Values { texts: &texts, names: &["time"], time_unit: unit };
            assert_eq!(row.time(0), Ok(expected), "{text}");
        }
        let (texts, unit) = values(&[Some("yesterday")], TimeUnit::Auto);
        let row = Values { texts: &texts, names: &["time"], time_unit: unit };
        assert_eq!(row.time(0).unwrap_err().code, RejectReason::InvalidField);
    }

    #[test]
    fn the_fast_time_path_agrees_with_chrono() {
        let mut random = fastrand::Rng::with_seed(3);
        for _ in 0..20_000 {
            let micros = random.i64(0..8_000_000_000_000_000);
            let text = Timestamp(micros).to_string();
            assert_eq!(parse_utc_fast(text.as_bytes()), Some(Timestamp(micros)), "{text}");
            let short = format!("{}Z", &text[..19 + random.usize(0..8).min(7)].trim_end_matches('.'));
            assert_eq!(parse_utc_fast(short.as_bytes()), Timestamp::parse_rfc3339(&short), "{short}");
        }
        for text in
            ["2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+01:00"]
        {
            assert_eq!(parse_utc_fast(text.as_bytes()), None, "{text}");
        }
        assert_eq!(parse_utc_fast(b"2024-02-29 23:59:59.1234567Z"), Timestamp::parse_rfc3339("2024-02-29T23:59:59.123456Z"));
    }

    #[test]
    fn numbers_sides_and_keys_are_checked() {
        let (texts, unit) = values(&[Some("NaN"), Some("-1"), Some("SELL"), Some("x\u{7}y"), None], TimeUnit::Auto);
        let row = Values { texts: &texts, names: &["price", "size", "side", "symbol", "venue"], time_unit: unit };
        assert_eq!(row.number(0).unwrap_err().code, RejectReason::NanOrInfinite);
        assert!(row.non_negative(1).unwrap_err().detail.contains("≥ 0"));
        assert_eq!(row.side(2), Ok(Side::Sell));
        assert_eq!(row.key(3).unwrap_err().code, RejectReason::InvalidField);
        assert_eq!(row.key(4).unwrap_err().code, RejectReason::MissingField);
        assert_eq!(row.side(4), Ok(Side::Unknown));
    }
}
