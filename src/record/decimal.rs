//! Exact decimal numbers for `numeric` columns: read from the text a producer sent,
//! digit for digit, never through a float. A [`Decimal`] keeps the significant digits,
//! a power of ten and the display scale (PostgreSQL's `dscale`, the digits shown after
//! the point), which is all `numeric` stores; the sink turns it into PostgreSQL's
//! base-10000 binary form.

use std::fmt;

use super::column::NumericTypmod;

/// Most digits after the decimal point a `numeric` can display (`NUMERIC_DSCALE_MAX`).
pub const NUMERIC_MAX_SCALE: u16 = 0x3FFF;
/// Most digits before the decimal point a `numeric` can hold (PostgreSQL's limit of
/// 131072, as the weight of base-10000 digits is a 16-bit number).
pub const NUMERIC_MAX_INTEGER_DIGITS: i64 = 131_072;
/// Exponents beyond this are refused before any arithmetic (their values would be
/// far outside `numeric` anyway).
const MAX_EXPONENT_MAGNITUDE: i64 = 1_000_000;

/// Whether a decimal is a finite number and its sign, or a special value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalKind {
    Positive,
    Negative,
    NaN,
    Infinity,
    NegativeInfinity,
}

/// An exact decimal number: `digits × 10^exponent`, shown with `scale` digits after
/// the point. Finite values keep no leading or trailing zero digits (zero has none and
/// is positive); special values have no digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    kind: DecimalKind,
    /// Significant decimal digits, each 0 to 9, most significant first.
    digits: Vec<u8>,
    exponent: i32,
    scale: u16,
}

/// Why a text is not a decimal this daemon can store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a decimal number at all.
    Syntax,
    /// A number, but outside what `numeric` (or the column's precision) can hold.
    OutOfRange(String),
}

impl Decimal {
    pub fn kind(&self) -> DecimalKind {
        self.kind
    }

    /// The significant digits (0–9), most significant first; empty for zero and specials.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The power of ten of the last digit.
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// Digits shown after the decimal point.
    pub fn scale(&self) -> u16 {
        self.scale
    }

    pub fn is_special(&self) -> bool {
        matches!(self.kind, DecimalKind::NaN | DecimalKind::Infinity | DecimalKind::NegativeInfinity)
    }

    fn special(kind: DecimalKind) -> Decimal {
        Decimal { kind, digits: Vec::new(), exponent: 0, scale: 0 }
    }

    /// Reads a decimal as PostgreSQL's `numeric` input does: optional sign, digits with
    /// an optional point, an optional exponent (`1.5e-3`), surrounding spaces; or `NaN`,
    /// `Infinity`, `-Infinity` (also `inf`), any case. The scale is the number of digits
    /// written after the point minus the exponent (at least 0), so `12.50` keeps its
    /// trailing zero and `1.5e3` is `1500`.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let text = text.trim();
        let (negative, unsigned) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if unsigned.eq_ignore_ascii_case("nan") && unsigned.len() == text.len() {
            return Ok(Decimal::special(DecimalKind::NaN));
        }
        if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
            return Ok(Decimal::special(if negative { DecimalKind::NegativeInfinity } else { DecimalKind::Infinity }));
        }
        let bytes = unsigned.as_bytes();
        let mut digits: Vec<u8> = Vec::with_capacity(bytes.len());
        let mut fraction_digits: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        let mut position = 0;
        while let Some(&byte) = bytes.get(position) {
            match byte {
                b'0'..=b'9' => {
                    seen_digit = true;
                    // Leading zeros carry nothing; the point position is kept by the count.
                    if !(digits.is_empty() && byte == b'0') {
                        digits.push(byte - b'0');
                    }
                    if seen_point {
                        fraction_digits += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            position += 1;
        }
        if !seen_digit {
            return Err(DecimalError::Syntax);
        }
        let mut written_exponent: i64 = 0;
        if let Some(b'e' | b'E') = bytes.get(position) {
            let power = &unsigned[position + 1..];
            let magnitude = power.strip_prefix(['+', '-']).unwrap_or(power);
            if magnitude.is_empty() || !magnitude.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(DecimalError::Syntax);
            }
            let magnitude = magnitude.trim_start_matches('0');
            if magnitude.len() > 7 {
                return Err(DecimalError::OutOfRange("its exponent is too large for numeric".into()));
            }
            written_exponent = power.parse::<i64>().map_err(|_| DecimalError::Syntax)?;
            position = bytes.len();
        }
        if position != bytes.len() || written_exponent.abs() > MAX_EXPONENT_MAGNITUDE {
            return Err(if position != bytes.len() {
                DecimalError::Syntax
            } else {
                DecimalError::OutOfRange("its exponent is too large for numeric".into())
            });
        }
        let scale = (fraction_digits - written_exponent).max(0);
        let exponent = written_exponent - fraction_digits;
        let kind = if negative { DecimalKind::Negative } else { DecimalKind::Positive };
        Decimal::finite(kind, digits, exponent, scale)
    }

    /// Builds a finite value, stripping zeros and checking `numeric`'s limits.
    fn finite(kind: DecimalKind, mut digits: Vec<u8>, mut exponent: i64, scale: i64) -> Result<Decimal, DecimalError> {
        let leading = digits.iter().take_while(|digit| **digit == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if scale > i64::from(NUMERIC_MAX_SCALE) {
            return Err(DecimalError::OutOfRange(format!(
                "it has {scale} digits after the point; numeric shows at most {NUMERIC_MAX_SCALE}"
            )));
        }
        if digits.is_empty() {
            return Ok(Decimal { kind: DecimalKind::Positive, digits, exponent: 0, scale: scale as u16 });
        }
        let integer_digits = digits.len() as i64 + exponent;
        if integer_digits > NUMERIC_MAX_INTEGER_DIGITS {
            return Err(DecimalError::OutOfRange(format!(
                "it has {integer_digits} digits before the point; numeric holds at most {NUMERIC_MAX_INTEGER_DIGITS}"
            )));
        }
        // The scale counts every written fraction digit, so no digit lies below it.
        debug_assert!(exponent >= -scale);
        Ok(Decimal { kind, digits, exponent: exponent as i32, scale: scale as u16 })
    }

    /// Rounds half away from zero to `scale` digits after the point (as PostgreSQL
    /// rounds `numeric`) and shows that many.
    fn round_to_scale(mut self, scale: u16) -> Decimal {
        self.scale = scale;
        let lowest_kept = -i64::from(scale);
        let exponent = i64::from(self.exponent);
        if self.is_special() || exponent >= lowest_kept {
            return self;
        }
        let dropped = (lowest_kept - exponent) as usize;
        if dropped > self.digits.len() {
            // Every digit lies below half a unit of the last kept place.
            self.digits.clear();
            self.exponent = 0;
            self.kind = DecimalKind::Positive;
            return self;
        }
        let round_up = self.digits[self.digits.len() - dropped] >= 5;
        self.digits.truncate(self.digits.len() - dropped);
        let mut exponent = lowest_kept;
        if round_up {
            let mut position = self.digits.len();
            loop {
                if position == 0 {
                    self.digits.insert(0, 1);
                    break;
                }
                position -= 1;
                if self.digits[position] == 9 {
                    self.digits[position] = 0;
                } else {
                    self.digits[position] += 1;
                    break;
                }
            }
        }
        while self.digits.last() == Some(&0) {
            self.digits.pop();
            exponent += 1;
        }
        if self.digits.is_empty() {
            self.kind = DecimalKind::Positive;
            exponent = 0;
        }
        self.exponent = exponent as i32;
        self
    }

    /// Applies a column's `numeric(p, s)`: rounds to `s` digits after the point, shows
    /// `s` of them, and refuses a value needing more than `p − s` before the point.
    /// NaN fits any precision; infinities fit none (PostgreSQL refuses them too).
    pub fn fit_typmod(self, typmod: NumericTypmod) -> Result<Decimal, DecimalError> {
        match self.kind {
            DecimalKind::NaN => return Ok(self),
            DecimalKind::Infinity | DecimalKind::NegativeInfinity => {
                return Err(DecimalError::OutOfRange(format!(
                    "numeric({},{}) cannot hold an infinite value",
                    typmod.precision, typmod.scale
                )))
            }
            DecimalKind::Positive | DecimalKind::Negative => {}
        }
        let rounded = self.round_to_scale(typmod.scale);
        let integer_digits = (rounded.digits.len() as i64 + i64::from(rounded.exponent)).max(0);
        let allowed = i64::from(typmod.precision - typmod.scale);
        if !rounded.digits.is_empty() && integer_digits > allowed {
            return Err(DecimalError::OutOfRange(format!(
                "numeric({},{}) holds at most {allowed} digit(s) before the point; this value has {integer_digits}",
                typmod.precision, typmod.scale
            )));
        }
        Ok(rounded)
    }
}

/// The text PostgreSQL prints for the value: `-12.3400`, `0.001`, `NaN`, `Infinity`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecimalKind::NaN => return f.write_str("NaN"),
            DecimalKind::Infinity => return f.write_str("Infinity"),
            DecimalKind::NegativeInfinity => return f.write_str("-Infinity"),
            DecimalKind::Negative => f.write_str("-")?,
            DecimalKind::Positive => {}
        }
        let digit_at = |power: i64| -> char {
            // The digit whose place is 10^power.
            let index = self.digits.len() as i64 - 1 - (power - i64::from(self.exponent));
            if self.digits.is_empty() || index < 0 || index >= self.digits.len() as i64 {
                '0'
            } else {
                char::from(b'0' + self.digits[index as usize])
            }
        };
        let highest = if self.digits.is_empty() { 0 } else { (self.digits.len() as i64 + i64::from(self.exponent) - 1).max(0) };
        let mut text = String::with_capacity(highest as usize + usize::from(self.scale) + 2);
        for power in (0..=highest).rev() {
            text.push(digit_at(power));
        }
        if self.scale > 0 {
            text.push('.');
            for power in 1..=i64::from(self.scale) {
                text.push(digit_at(-power));
            }
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        Decimal::parse(text).unwrap_or_else(|error| panic!("{text}: {error:?}")).to_string()
    }

    #[test]
    fn text_reads_back_as_postgres_prints_it() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("-0.00", "0.00"),
            ("12.50", "12.50"),
            ("+012.5", "12.5"),
            ("  7 ", "7"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            ("1.50e1", "15.0"),
            ("1.5E-3", "0.0015"),
            ("-0.000120", "-0.000120"),
            ("12345678901234.123456789", "12345678901234.123456789"),
            ("100000000000000000000000000000000000000", "100000000000000000000000000000000000000"),
            ("nan", "NaN"),
            ("NaN", "NaN"),
            ("-Infinity", "-Infinity"),
            ("inf", "Infinity"),
        ];
        for (text, expected) in cases {
            assert_eq!(shown(text), expected, "{text}");
        }
    }

    #[test]
    fn digits_and_exponent_are_normalized() {
        let value = Decimal::parse("-0012.3400").unwrap();
        assert_eq!((value.kind(), value.digits(), value.exponent(), value.scale()), (DecimalKind::Negative, &[1, 2, 3, 4][..], -2, 4));
        let zero = Decimal::parse("-0.000").unwrap();
        assert_eq!((zero.kind(), zero.digits().len(), zero.scale()), (DecimalKind::Positive, 0, 3));
    }

    #[test]
    fn malformed_text_is_refused() {
        for text in ["", "-", ".", "1.2.3", "1e", "1e+", "12a", "0x10", "1_000", "--1", "NaNa", "-nan", "e5", "1 2"] {
            assert_eq!(Decimal::parse(text), Err(DecimalError::Syntax), "{text:?}");
        }
        assert!(matches!(Decimal::parse("1e99999999"), Err(DecimalError::OutOfRange(_))));
        assert!(matches!(Decimal::parse("1e200000"), Err(DecimalError::OutOfRange(_))));
        assert!(matches!(Decimal::parse("1e-20000"), Err(DecimalError::OutOfRange(_))));
    }

    #[test]
    fn typmods_round_half_away_from_zero_and_bound_the_integer_digits() {
        let typmod = |precision, scale| NumericTypmod { precision, scale };
        let fit = |text: &str, precision, scale| Decimal::parse(text).unwrap().fit_typmod(typmod(precision, scale));
        let cases = [
            ("19.99", (10, 2), "19.99"),
            ("19.9", (10, 2), "19.90"),
            ("19.995", (10, 2), "20.00"),
            ("-19.995", (10, 2), "-20.00"),
            ("19.994999", (10, 2), "19.99"),
            ("0.004", (10, 2), "0.00"),
            ("-0.004", (10, 2), "0.00"),
            ("0.005", (3, 2), "0.01"),
            ("99999999.99", (10, 2), "99999999.99"),
            ("123.456789", (15, 6), "123.456789"),
            ("7", (5, 0), "7"),
            ("NaN", (10, 2), "NaN"),
        ];
        for (text, (precision, scale), expected) in cases {
            assert_eq!(fit(text, precision, scale).unwrap().to_string(), expected, "{text} as numeric({precision},{scale})");
        }
        for (text, precision, scale) in [("100000000", 10, 2), ("99999999.995", 10, 2), ("10", 1, 0), ("Infinity", 10, 2)] {
            assert!(matches!(fit(text, precision, scale), Err(DecimalError::OutOfRange(_))), "{text} as numeric({precision},{scale})");
        }
    }
}
