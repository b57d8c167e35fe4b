//! Reading values as every input format writes them, one rule each: identifiers,
//! decimal numbers (JSON numbers or decimal strings), times (RFC 3339, integer epoch
//! nanoseconds held to the plausibility bound, epoch numbers of a file in a configured
//! or inferred unit) and bar intervals. The push protocol (`push`), the vendor files
//! (`file`), the configured feeds (`json`) and the venue adapters all read through
//! these; every refusal names the field and what was expected.
//!
//! A custom table's cells (`push::row_cells`) read times and floats through these too,
//! with refusals that also name the column's type.

use serde_json::Value;

use crate::config::TimeUnit;
use crate::record::{is_interval, EpochUnit, RejectReason, Rejection, Timestamp, INTERVAL_EXPECTED};

/// Longest accepted venue, symbol and id strings, in bytes.
pub const MAX_KEY_BYTES: usize = 128;

/// How a refused value is shown: cut to 40 characters, strings in quotes.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => shown_text(text),
        other => other.to_string().chars().take(40).collect(),
    }
}

fn shown_text(text: &str) -> String {
    format!("\"{}\"", text.chars().take(40).collect::<String>())
}

/// `invalid_field`: `name` holds something other than `expected`.
pub fn invalid_value(name: &str, expected: &str, got: &Value) -> Rejection {
    Rejection::new(RejectReason::InvalidField, format!("`{name}`: expected {expected}, got {}", shown(got)))
}

/// [`invalid_value`] for a value written as text (a file's field).
pub fn invalid_text(name: &str, expected: &str, got: &str) -> Rejection {
    Rejection::new(RejectReason::InvalidField, format!("`{name}`: expected {expected}, got {}", shown_text(got)))
}

/// A venue, symbol or id: non-empty, at most [`MAX_KEY_BYTES`] bytes, no control characters.
pub fn is_valid_key(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_KEY_BYTES && !has_control(text)
}

/// Whether `text` holds a control character (Unicode's `Cc`: U+0000–U+001F and
/// U+007F–U+009F). Each is encoded with a byte below 0x20, 0x7F or a lead byte 0xC2,
/// so text without those bytes — nearly every key — is decided on its bytes alone.
fn has_control(text: &str) -> bool {
    text.bytes().any(|byte| byte < 0x20 || byte == 0x7f || byte == 0xc2) && text.chars().any(char::is_control)
}

/// `text` as an identifier, or the refusal naming `name`.
pub fn key(name: &str, text: &str) -> Result<String, Rejection> {
    if !is_valid_key(text) {
        return Err(invalid_text(name, "a non-empty string of at most 128 bytes without control characters", text));
    }
    Ok(text.to_string())
}

/// Why a value is not a usable number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number at all.
    NotANumber,
    /// NaN or an infinity.
    NotFinite,
}

/// A decimal number written as text (`"97000.50"`, `"1e-3"`; spaces around it are
/// ignored), finite.
pub fn parse_number(text: &str) -> Result<f64, NumberError> {
    match parse_float::<f64>(text.trim()) {
        Ok(number) if number.is_finite() => Ok(number),
        Ok(_) | Err(FloatError::TooLarge) => Err(NumberError::NotFinite),
        Err(FloatError::NotANumber) => Err(NumberError::NotANumber),
    }
}

/// Why text is not a float of the wanted width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatError {
    /// Not a number at all.
    NotANumber,
    /// A finite number too large for the width (it would read as an infinity).
    TooLarge,
}

/// `f32` or `f64`, for [`parse_float`].
pub trait Float: std::str::FromStr + Copy {
    fn is_infinite(self) -> bool;
    fn is_finite(self) -> bool;
}

impl Float for f32 {
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }

    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Float for f64 {
    fn is_infinite(self) -> bool {
        f64::is_infinite(self)
    }

    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// Text (already trimmed) as a float of type `F`, rounded once by the standard parser.
/// NaN and the infinities are taken when written so (`NaN`, `inf`, `-Infinity`; whether
/// they are wanted is the caller's rule); a number too large for `F` is
/// [`FloatError::TooLarge`], never an infinity.
pub fn parse_float<F: Float>(text: &str) -> Result<F, FloatError> {
    let number: F = text.parse().map_err(|_| FloatError::NotANumber)?;
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let spelled_infinity = unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if number.is_infinite() && !spelled_infinity {
        return Err(FloatError::TooLarge);
    }
    Ok(number)
}

/// A JSON number or a decimal string, finite.
pub fn json_number(value: &Value) -> Result<f64, NumberError> {
    match value {
        Value::Number(number) => number.as_f64().ok_or(NumberError::NotANumber),
        Value::String(text) => parse_number(text),
        _ => Err(NumberError::NotANumber),
    }
}

fn not_finite(name: &str, shown: &str) -> Rejection {
    Rejection::new(RejectReason::NanOrInfinite, format!("`{name}` is {shown}; expected a finite number"))
}

/// A decimal string (`"97000.50"`) as a finite number: `invalid_field` when it is no
/// number, `nan_or_infinite` for NaN and infinities.
pub fn decimal(name: &str, text: &str) -> Result<f64, Rejection> {
    parse_number(text).map_err(|error| match error {
        NumberError::NotANumber => invalid_text(name, "a decimal number", text),
        NumberError::NotFinite => not_finite(name, &shown_text(text)),
    })
}

/// [`decimal`] for a JSON number or a decimal string.
pub fn number(name: &str, value: &Value) -> Result<f64, Rejection> {
    json_number(value).map_err(|error| match error {
        NumberError::NotANumber => invalid_value(name, "a number or a decimal string", value),
        NumberError::NotFinite => not_finite(name, &shown(value)),
    })
}

/// A fraction (`0.3675503331`) in percent (`36.75503331`), as implied volatilities are
/// stored: `text` is the fraction as written, `fraction` its value. The decimal with `e2`
/// appended is the written value times 100, rounded once: 36.75503331 rather than the
/// 36.755033310000004 of multiplying the rounded fraction. Text that cannot take the
/// suffix (an exponent of its own, too long) is multiplied.
pub fn percent_from_fraction(text: &str, fraction: f64) -> f64 {
    const MAX_DIGITS: usize = 62;
    let text = text.trim();
    if text.len() <= MAX_DIGITS && !text.contains(['e', 'E']) {
        let mut shifted = [0u8; MAX_DIGITS + 2];
        shifted[..text.len()].copy_from_slice(text.as_bytes());
        shifted[text.len()..text.len() + 2].copy_from_slice(b"e2");
        let percent = std::str::from_utf8(&shifted[..text.len() + 2]).ok().and_then(|shifted| shifted.parse::<f64>().ok());
        if let Some(percent) = percent.filter(|percent| percent.is_finite() && (percent / 100.0 - fraction).abs() <= fraction.abs() * 1e-12)
        {
            return percent;
        }
    }
    fraction * 100.0
}

/// Integer epoch nanoseconds; a count that is plausibly in a coarser unit (see
/// [`Timestamp::from_plausible_unix_nanos`]) is `time_out_of_range` with a hint.
pub fn epoch_nanos(name: &str, nanos: i64) -> Result<Timestamp, Rejection> {
    Timestamp::from_plausible_unix_nanos(nanos)
        .map_err(|implausible| Rejection::new(RejectReason::TimeOutOfRange, format!("`{name}`: {implausible}")))
}

/// Milliseconds since the Unix epoch (a venue's integer time).
pub fn millis(name: &str, value: i64) -> Result<Timestamp, Rejection> {
    Timestamp::from_unix_millis(value)
        .ok_or_else(|| Rejection::new(RejectReason::TimeOutOfRange, format!("`{name}`: {value} ms is out of range")))
}

/// An RFC 3339 time (`2014-11-07T08:19:27.028459Z`), kept to the microsecond.
pub fn rfc3339(name: impl std::fmt::Display, text: &str) -> Result<Timestamp, Rejection> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| Rejection::new(RejectReason::InvalidField, format!("`{name}`: expected an RFC 3339 time, got {}", shown_text(text))))
}

/// A time as producers write it in JSON: an RFC 3339 string or integer epoch nanoseconds.
pub fn json_time(name: &str, value: &Value) -> Result<Timestamp, Rejection> {
    json_time_or(name, value, |expected| invalid_value(name, expected, value))
}

/// [`json_time`] with the caller's refusal of a value that is neither, given what was
/// expected (a custom table's cell also names its column's type).
pub fn json_time_or(name: &str, value: &Value, invalid: impl Fn(&str) -> Rejection) -> Result<Timestamp, Rejection> {
    match value {
        Value::String(text) => Timestamp::parse_rfc3339(text).ok_or_else(|| invalid("an RFC 3339 time like 2026-11-22T12:00:00.123Z")),
        Value::Number(number) => {
            let nanos = number.as_i64().ok_or_else(|| invalid("integer epoch nanoseconds"))?;
            epoch_nanos(name, nanos)
        }
        _ => Err(invalid("an RFC 3339 string or integer epoch nanoseconds")),
    }
}

/// The epoch unit of a number with `integer_digits` digits before its point: the
/// configured one, or for [`TimeUnit::Auto`] the one that puts it in a plausible era.
pub fn epoch_unit(unit: TimeUnit, integer_digits: usize) -> EpochUnit {
    match unit {
        TimeUnit::Seconds => EpochUnit::Seconds,
        TimeUnit::Millis => EpochUnit::Millis,
        TimeUnit::Micros => EpochUnit::Micros,
        TimeUnit::Nanos => EpochUnit::Nanos,
        TimeUnit::Auto => match integer_digits {
            0..=10 => EpochUnit::Seconds,
            11..=13 => EpochUnit::Millis,
            14..=16 => EpochUnit::Micros,
            _ => EpochUnit::Nanos,
        },
    }
}

/// A bar length: digits without a leading zero, then a unit (s, m, h, d, w, mo, y),
/// e.g. `1m`, `4h`, `1d` (the rule is [`is_interval`], shared with the configuration).
pub fn interval(name: &str, text: String) -> Result<String, Rejection> {
    if !is_interval(&text) {
        return Err(invalid_text(name, INTERVAL_EXPECTED, &text));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_on_the_bytes_as_on_the_chars() {
        let mut buffer = [0u8; 8];
        for character in (0..=0x10ffff).filter_map(char::from_u32) {
            let text = character.encode_utf8(&mut buffer[1..]).len();
            buffer[0] = b'a';
            let text = std::str::from_utf8(&buffer[..=text]).unwrap();
            assert_eq!(has_control(text), character.is_control(), "U+{:04X}", character as u32);
        }
    }

    #[test]
    fn integer_nanoseconds_below_the_plausibility_bound_are_refused() {
        let bound = crate::record::MIN_PLAUSIBLE_EPOCH_NANOS;
        assert_eq!(epoch_nanos("time", bound), Ok(Timestamp::from_unix_nanos(bound)));
        let seconds = epoch_nanos("time", 1_795_348_800).unwrap_err();
        assert_eq!(seconds.code, RejectReason::TimeOutOfRange);
        assert!(seconds.detail.starts_with("`time`: 1795348800 as epoch nanoseconds is 1970-01-01"), "{seconds}");
        assert!(epoch_nanos("time", bound - 1).is_err());
        assert_eq!(epoch_nanos("time", -1), Ok(Timestamp(-1)), "before 1970 is not this rule's to refuse");
        let json = |text: &str| json_time("time", &serde_json::from_str(text).unwrap());
        assert_eq!(json("\"2026-11-22T12:00:00Z\""), Ok(Timestamp(1_795_348_800_000_000)));
        assert_eq!(json("1795348800000000000"), Ok(Timestamp(1_795_348_800_000_000)));
        for refused in ["1795348800000", "1.5e18", "true", "\"noon\""] {
            assert!(json(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn numbers_intervals_and_keys() {
        assert_eq!(decimal("p", " 97000.50 "), Ok(97000.5));
        assert_eq!(decimal("p", "1e-3"), Ok(0.001));
        assert_eq!(decimal("p", "12,5").unwrap_err().code, RejectReason::InvalidField);
        assert_eq!(decimal("p", "NaN").unwrap_err().code, RejectReason::NanOrInfinite);
        assert_eq!(number("p", &Value::from(2.5)), Ok(2.5));
        assert_eq!(number("p", &Value::Bool(true)).unwrap_err().code, RejectReason::InvalidField);
        assert_eq!(number("p", &Value::from("-inf")).unwrap_err().code, RejectReason::NanOrInfinite);
        for good in ["1m", "15m", "4h", "1d", "1w", "3mo", "1y", "30s"] {
            assert_eq!(interval("interval", good.to_string()).as_deref(), Ok(good));
        }
        for bad in ["m", "01m", "1", "1min", "1M", "-1m", ""] {
            assert!(interval("interval", bad.to_string()).is_err(), "{bad}");
        }
        assert_eq!(parse_float::<f32>("1e39"), Err(FloatError::TooLarge));
        assert_eq!(parse_float::<f64>("1e39"), Ok(1e39));
        assert!(parse_float::<f64>("-Infinity").is_ok_and(f64::is_infinite));
        assert!(parse_float::<f64>("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_float::<f64>("12,5"), Err(FloatError::NotANumber));
        assert_eq!(decimal("p", "1e400").unwrap_err().code, RejectReason::NanOrInfinite);
        assert!(is_valid_key("BTC-USDT") && !is_valid_key("") && !is_valid_key("a\u{7}b") && !is_valid_key(&"x".repeat(129)));
        assert_eq!(epoch_unit(TimeUnit::Auto, 10), EpochUnit::Seconds);
        assert_eq!(epoch_unit(TimeUnit::Auto, 13), EpochUnit::Millis);
        assert_eq!(epoch_unit(TimeUnit::Auto, 19), EpochUnit::Nanos);
    }
}
