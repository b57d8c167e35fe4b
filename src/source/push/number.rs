//! A JSON number as the tick scanner (`scan.rs`) reads it: its digits summed while it
//! is scanned, so that an integer, or a decimal of at most 2^53 in its digits and 22
//! places, is known without reading its text again; anything else is parsed from the
//! text. The scanner's tests compare both with the standard library's parse.

use super::fast::Scalar;

/// A number's text and what was read of it on the way.
pub(super) struct Number<'a> {
    pub text: &'a str,
    pub integer: bool,
    pub negative: bool,
    /// All its digits (integer part, then fraction) as one integer; `None` when they
    /// overflow `u64` or the number has an exponent.
    pub mantissa: Option<u64>,
    pub fraction_digits: usize,
}

impl Number<'_> {
    /// As `f64`: correctly rounded, as `str::parse` reads the text; `None` out of range.
    pub fn to_f64(&self) -> Option<f64> {
        let value = match self.mantissa {
            // Clinger's fast path: both operands are exact doubles and IEEE division
            // rounds correctly, so the quotient is the decimal correctly rounded.
            Some(mantissa) if mantissa <= 1 << 53 && self.fraction_digits < POWERS_OF_TEN.len() => {
                let magnitude = mantissa as f64 / POWERS_OF_TEN[self.fraction_digits];
                if self.negative {
                    -magnitude
                } else {
                    magnitude
                }
            }
            _ => self.text.parse().ok()?,
        };
        value.is_finite().then_some(value)
    }

    /// As an integer that fits `i64` (or `u64` above it); `None` for anything else.
    pub fn to_integer<'a>(&self) -> Option<Scalar<'a>> {
        if !self.integer {
            return None;
        }
        let magnitude = self.mantissa?;
        if self.negative {
            // Down to i64::MIN, whose magnitude is one more than i64::MAX.
            (magnitude <= i64::MAX as u64 + 1).then(|| Scalar::Signed((magnitude as i64).wrapping_neg()))
        } else {
            Some(i64::try_from(magnitude).map_or(Scalar::Unsigned(magnitude), Scalar::Signed))
        }
    }
}

/// Digits accumulated into an integer as they are scanned.
#[derive(Default)]
pub(super) struct Digits {
    pub value: u64,
    count: usize,
    pub overflowed: bool,
}

impl Digits {
    /// Whether `count` more digits keep the value below 10^19 (inside u64, unchecked).
    #[inline(always)]
    pub fn has_room_for(&self, count: usize) -> bool {
        self.count + count <= 19
    }

    /// Appends `count` digits worth `value` (where [`Digits::has_room_for`] them).
    #[inline(always)]
    pub fn push_value(&mut self, value: u64, count: usize) {
        self.value = self.value * POWERS_OF_TEN_U64[count] + value;
        self.count += count;
    }

    pub fn push(&mut self, digit: u8) {
        let digit = u64::from(digit - b'0');
        // Nineteen digits stay below 10^19, inside u64; only more are checked.
        if self.count < 19 {
            self.value = self.value * 10 + digit;
        } else {
            match self.value.checked_mul(10).and_then(|value| value.checked_add(digit)) {
                Some(value) => self.value = value,
                None => self.overflowed = true,
            }
        }
        self.count += 1;
    }
}

/// The powers of ten a run of up to eight digits shifts a value by.
const POWERS_OF_TEN_U64: [u64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// The powers of ten a double holds exactly.
const POWERS_OF_TEN: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
