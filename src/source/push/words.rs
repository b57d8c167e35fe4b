//! Eight bytes of a frame at a time, for the tick scanner (`scan.rs`): where a run of
//! ASCII digits ends and what it is worth, and where a string's plain bytes end (eight
//! at a time while eight are left, then one at a time). A
//! tick's time is nineteen digits and its strings are short: read a byte at a time they
//! took about a third of the scanner's time. The word is read little-endian, so its
//! lowest byte is the text's first; each function decides the first bytes exactly (a
//! borrow or carry between bytes only ever reaches bytes after the first one that ends
//! the run). The tests compare both with a byte-at-a-time reading.

use super::number::Digits;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
const ZEROS: u64 = ONES * b'0' as u64;

/// Where the ASCII digits of `bytes` from `at` end, their values pushed into `into`.
#[inline(always)]
pub(super) fn digit_run(bytes: &[u8], mut at: usize, into: &mut Digits) -> usize {
    // Eight bytes at a time while eight are left, then one at a time.
    while let Some(word) = word_at(bytes, at) {
        let count = leading_digits(word);
        if count == 0 {
            return at;
        }
        if into.has_room_for(count) {
            into.push_value(digits_value(word, count), count);
        } else {
            bytes[at..at + count].iter().for_each(|digit| into.push(*digit));
        }
        at += count;
        if count < 8 {
            return at;
        }
    }
    while let Some(digit @ b'0'..=b'9') = bytes.get(at).copied() {
        into.push(digit);
        at += 1;
    }
    at
}

/// Where a string's plain bytes (see [`plain_string_bytes`]) that start at `at` end: the
/// first `"`, `\` or control byte from there, or the end of `bytes`.
#[inline(always)]
pub(super) fn plain_string_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(word) = word_at(bytes, at) {
        let plain = plain_string_bytes(word);
        at += plain;
        if plain < 8 {
            return at;
        }
    }
    let rest = bytes.get(at..).unwrap_or_default();
    at + rest.iter().position(|byte| matches!(byte, b'"' | b'\\' | 0..=0x1f)).unwrap_or(rest.len())
}

/// The eight bytes of `bytes` from `at`, as a word whose lowest byte is the first;
/// `None` where fewer are left.
#[inline(always)]
pub(super) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// How many of the word's bytes, from the first, are ASCII digits (0–8).
#[inline(always)]
pub(super) fn leading_digits(word: u64) -> usize {
    // A digit is 0x30–0x39: its high nibble is 3, and adding 6 leaves it 3.
    let high_nibble_not_three = (word & HIGH_NIBBLES) ^ ZEROS;
    let above_nine = (word.wrapping_add(ONES * 6) & HIGH_NIBBLES) ^ ZEROS;
    ((high_nibble_not_three | above_nine).trailing_zeros() / 8) as usize
}

/// The value of the word's first `count` bytes (1–8), each an ASCII digit, the first
/// the most significant.
#[inline(always)]
pub(super) fn digits_value(word: u64, count: usize) -> u64 {
    debug_assert!((1..=8).contains(&count));
    // The digits' values moved to the word's top bytes; the zeros below them read as
    // leading zeros. Then pairs, fours and the eight are summed, each step one multiply.
    let digits = (word & (ONES * 0x0F)) << (8 * (8 - count));
    let pairs = digits.wrapping_mul(10 * 256 + 1) >> 8;
    let fours = (pairs & 0x00FF_00FF_00FF_00FF).wrapping_mul(100 * 65_536 + 1) >> 16;
    (fours & 0x0000_FFFF_0000_FFFF).wrapping_mul(10_000 * (1 << 32) + 1) >> 32
}

/// How many of the word's bytes, from the first, may stand in a string without escapes
/// (neither `"` nor `\` nor a control byte below 0x20) (0–8).
#[inline(always)]
pub(super) fn plain_string_bytes(word: u64) -> usize {
    let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    ((quote | backslash | control).trailing_zeros() / 8) as usize
}

/// The high bit of each zero byte of `word` (exact up to and including the first).
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(bytes: [u8; 8]) -> u64 {
        u64::from_le_bytes(bytes)
    }

    proptest::proptest! {
        #[test]
        fn digit_runs_read_as_a_byte_at_a_time_reads_them(bytes in proptest::array::uniform8(proptest::sample::select(
            b"0123456789/:\"\\ .-eE\x00\x1f\x7f\x80\xc2\xff\xfa".to_vec()
        ))) {
            let expected = bytes.iter().take_while(|byte| byte.is_ascii_digit()).count();
            proptest::prop_assert_eq!(leading_digits(word(bytes)), expected);
            if expected > 0 {
                let value = std::str::from_utf8(&bytes[..expected]).unwrap().parse::<u64>().unwrap();
                proptest::prop_assert_eq!(digits_value(word(bytes), expected), value);
            }
        }

        #[test]
        fn plain_string_bytes_end_where_a_byte_at_a_time_ends_them(bytes in proptest::array::uniform8(proptest::sample::select(
            b"ab09\"\\ \x00\x01\x1f\x20\x21\x5b\x5d\x7f\x80\xc2\xff".to_vec()
        ))) {
            let expected = bytes.iter().take_while(|byte| !matches!(byte, b'"' | b'\\' | 0..=0x1f)).count();
            proptest::prop_assert_eq!(plain_string_bytes(word(bytes)), expected);
        }
    }

    proptest::proptest! {
        /// Texts of every length, the run ending anywhere in or after an eight-byte word.
        #[test]
        fn runs_through_a_text_end_where_a_byte_at_a_time_ends_them(
            text in proptest::collection::vec(proptest::sample::select(b"0123456789ab\"\\ \x01".to_vec()), 0..40),
            from in 0usize..40,
        ) {
            let from = from.min(text.len());
            let plain = text[from..].iter().take_while(|byte| !matches!(byte, b'"' | b'\\' | 0..=0x1f)).count();
            proptest::prop_assert_eq!(plain_string_end(&text, from), from + plain);
            let (mut swar, mut one_by_one) = (Digits::default(), Digits::default());
            let digits = text[from..].iter().take_while(|byte| byte.is_ascii_digit()).count();
            text[from..from + digits].iter().for_each(|digit| one_by_one.push(*digit));
            proptest::prop_assert_eq!(digit_run(&text, from, &mut swar), from + digits);
            proptest::prop_assert_eq!((swar.value, swar.overflowed), (one_by_one.value, one_by_one.overflowed));
        }
    }

    #[test]
    fn eight_nines_and_every_run_length_of_a_time() {
        assert_eq!(digits_value(word(*b"99999999"), 8), 99_999_999);
        let time = b"17953488";
        for count in 1..=8 {
            let expected: u64 = std::str::from_utf8(&time[..count]).unwrap().parse().unwrap();
            assert_eq!(digits_value(word(*time), count), expected, "{count}");
        }
        assert_eq!(leading_digits(word(*b"123,\"pri")), 3);
        assert_eq!(plain_string_bytes(word(*b"tick\",\"v")), 4);
        assert_eq!(word_at(b"1234567", 0), None);
        assert_eq!(word_at(b"x12345678", 1), Some(word(*b"12345678")));
        assert_eq!(word_at(b"x", usize::MAX), None);
    }
}
