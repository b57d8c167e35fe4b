//! A hand-written reader for the commonest frame, a JSON array of plain tick objects,
//! into the same borrowed [`TickWire`]s the `serde_json` path reads. Measured, reading
//! such frames with `serde_json` took about a fifth of the daemon's CPU at the highest
//! push rates; this reader makes one pass over the bytes with no generic machinery.
//!
//! It declines (`None`) anything it is not sure of — a key or string with an escape, a
//! control character in a string, a duplicate or unknown key, a number outside the
//! JSON grammar or out of range, `-0`, anything that is not an object, trailing text —
//! and the frame is then split and read by the general path, which alone writes
//! rejections. Where it accepts a frame it yields exactly what
//! `serde_json::from_str::<Vec<TickWire>>` yields (the tests below, and the
//! push_protocol fuzz target through `frame_path_agrees`, compare them).
//!
//! Three shortcuts keep it at about 160 ns a tick (criterion `push_decoder`, 260 ns
//! without the first two): each key is first compared with the one the documented order
//! puts next; a number's digits are summed while it is scanned, so an integer or a
//! decimal of up to 2^53 in its digits and 22 places needs no second reading of its text;
//! and digits and strings are read eight bytes at a time where eight are left
//! (`words.rs`; 93.3 → 80.8 µs a frame of 500 ticks).

use super::fast::{Scalar, TickWire};
use super::number::{Digits, Number};
use super::words;

/// The ticks of a frame (a JSON array) every element of which has a plain tick's shape,
/// read in one pass; `None` when any element does not (or the frame is not valid JSON),
/// and the frame is then split and read element by element. What an element holds is
/// checked by `fast::read`, which may still hand it to the general path. The wires borrow
/// the frame's text; each is under 170 bytes and a tick element takes at least 68, so they
/// hold at most about 2.5 times the frame's size (`server.max_frame_bytes` bounds it).
pub(super) fn frame(text: &str) -> Option<Vec<TickWire<'_>>> {
    let mut cursor = Cursor { text, bytes: text.as_bytes(), at: 0 };
    cursor.skip_whitespace();
    cursor.expect(b'[')?;
    // A tick object takes at least 68 bytes: room for as many as the frame can hold,
    // so the list never grows (the bound stated above).
    let mut wires = Vec::with_capacity(text.len() / 68 + 1);
    cursor.skip_whitespace();
    if cursor.peek() == Some(b']') {
        cursor.at += 1;
    } else {
        loop {
            cursor.skip_whitespace();
            wires.push(cursor.object()?);
            cursor.skip_whitespace();
            match cursor.next()? {
                b',' => continue,
                b']' => break,
                _ => return None,
            }
        }
    }
    cursor.skip_whitespace();
    (cursor.at == cursor.bytes.len()).then_some(wires)
}

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

/// Fills a field once; a second value for it declines the frame (as a duplicate field
/// fails deserialization).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// One tick object.
    fn object(&mut self) -> Option<TickWire<'a>> {
        self.expect(b'{')?;
        let (mut kind, mut id, mut venue, mut symbol, mut time) = (None, None, None, None, None);
        let (mut price, mut size, mut side, mut trade_id) = (None, None, None, None);
        let mut predicted = 0;
        loop {
            self.skip_whitespace();
            let field = self.field(&mut predicted)?;
            self.skip_whitespace();
            self.expect(b':')?;
            self.skip_whitespace();
            match field {
                Field::Type => set(&mut kind, self.string()?)?,
                Field::Venue => set(&mut venue, self.string()?)?,
                Field::Symbol => set(&mut symbol, self.string()?)?,
                Field::Time => set(&mut time, self.scalar()?)?,
                Field::Price => set(&mut price, self.float()?)?,
                Field::Size => set(&mut size, self.float()?)?,
                Field::Side => {
                    let value = if self.null() { None } else { Some(self.string()?) };
                    set(&mut side, value)?
                }
                Field::Id => {
                    let value = if self.null() { None } else { Some(self.scalar()?) };
                    set(&mut id, value)?
                }
                Field::TradeId => {
                    let value = if self.null() { None } else { Some(self.scalar()?) };
                    set(&mut trade_id, value)?
                }
            }
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        Some(TickWire {
            kind: kind?,
            id: id.flatten(),
            venue: venue?,
            symbol: symbol?,
            time: time?,
            price: price?,
            size: size?,
            side: side.flatten(),
            trade_id: trade_id.flatten(),
        })
    }

    /// The next key. Producers write a tick's keys in one order, mostly the documented
    /// one ([`KEYS`]): the key that follows the previous one there (`predicted`) is
    /// compared first, and only another is read as a string and looked up.
    fn field(&mut self, predicted: &mut usize) -> Option<Field> {
        if let Some((quoted, field)) = KEYS.get(*predicted) {
            // Compared as one 16-byte word where the frame has that many bytes left.
            let found = match self.bytes.get(self.at..self.at + 16) {
                Some(word) => word.try_into().is_ok_and(|word| u128::from_le_bytes(word) & KEY_MASKS[*predicted] == KEY_WORDS[*predicted]),
                None => self.bytes[self.at..].starts_with(quoted),
            };
            if found {
                self.at += quoted.len();
                *predicted += 1;
                return Some(*field);
            }
        }
        let key = self.string()?;
        let position = KEYS.iter().position(|(quoted, _)| &quoted[1..quoted.len() - 1] == key.as_bytes())?;
        *predicted = position + 1;
        Some(KEYS[position].1)
    }

    /// `null`, taken if it is there.
    fn null(&mut self) -> bool {
        let found = self.bytes[self.at..].starts_with(b"null");
        if found {
            self.at += 4;
        }
        found
    }

    /// A string without escapes or control characters.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let end = words::plain_string_end(self.bytes, start);
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        self.text.get(start..end)
    }

    /// A number in JSON's grammar: its text, and its digits read on the way (the
    /// number's value is then mostly known without reading the text again).
    #[inline(always)]
    fn number(&mut self) -> Option<Number<'a>> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let mut digits = Digits::default();
        match self.next()? {
            b'0' => {}
            first @ b'1'..=b'9' => {
                digits.push(first);
                self.digits(&mut digits);
            }
            _ => return None,
        }
        let mut integer = true;
        let mut fraction_digits = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let before = self.at;
            self.digits(&mut digits);
            fraction_digits = self.at - before;
            if fraction_digits == 0 {
                return None;
            }
            integer = false;
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.one_or_more_digits()?;
            integer = false;
            exponent = true;
        }
        let text = self.text.get(start..self.at)?;
        // `-0` reads as a float in one place and an integer in another: the general path decides.
        if integer && text == "-0" {
            return None;
        }
        let mantissa = (!digits.overflowed && !exponent).then_some(digits.value);
        Some(Number { text, integer, negative, mantissa, fraction_digits })
    }

    #[inline(always)]
    fn digits(&mut self, into: &mut Digits) {
        self.at = words::digit_run(self.bytes, self.at, into);
    }

    fn one_or_more_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits(&mut Digits::default());
        (self.at > start).then_some(())
    }

    /// A number as `f64`: correctly rounded, as `serde_json` with `float_roundtrip`
    /// reads it; one out of range declines.
    #[inline(always)]
    fn float(&mut self) -> Option<f64> {
        self.number()?.to_f64()
    }

    /// A string without escapes, or an integer that fits `i64` or `u64`.
    #[inline(always)]
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        if self.peek()? == b'"' {
            return self.string().map(Scalar::Text);
        }
        self.number()?.to_integer()
    }
}

/// A tick object's keys, quoted, in the order the protocol documents them.
const KEYS: [(&[u8], Field); 9] = [
    (b"\"type\"", Field::Type),
    (b"\"venue\"", Field::Venue),
    (b"\"symbol\"", Field::Symbol),
    (b"\"time\"", Field::Time),
    (b"\"price\"", Field::Price),
    (b"\"size\"", Field::Size),
    (b"\"side\"", Field::Side),
    (b"\"trade_id\"", Field::TradeId),
    (b"\"id\"", Field::Id),
];

/// Each of [`KEYS`] as the low bytes of a little-endian 16-byte word, and the mask of those bytes.
const KEY_WORDS: [u128; 9] = key_words().0;
const KEY_MASKS: [u128; 9] = key_words().1;

const fn key_words() -> ([u128; 9], [u128; 9]) {
    let (mut words, mut masks) = ([0; 9], [0; 9]);
    let mut key = 0;
    while key < KEYS.len() {
        let quoted = KEYS[key].0;
        let mut byte = 0;
        while byte < quoted.len() {
            words[key] |= (quoted[byte] as u128) << (8 * byte);
            masks[key] |= 0xff << (8 * byte);
            byte += 1;
        }
        key += 1;
    }
    (words, masks)
}

#[derive(Clone, Copy)]
enum Field {
    Type,
    Id,
    Venue,
    Symbol,
    Time,
    Price,
    Size,
    Side,
    TradeId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agrees(text: &str) -> Result<bool, String> {
        let serde: Option<Vec<TickWire<'_>>> = serde_json::from_str(text).ok();
        match (frame(text), serde) {
            // Compared as printed, so that -0.0 and 0.0 differ.
            (Some(scanned), Some(read)) if format!("{scanned:?}") == format!("{read:?}") => Ok(true),
            (None, _) => Ok(false),
            (scanned, read) => Err(format!("{text}: scanned {scanned:?}, serde_json {read:?}")),
        }
    }

    const TICK: &str =
        r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":101.25,"size":2,"side":"buy","trade_id":"42"}"#;

    #[test]
    fn frames_of_plain_ticks_read_as_serde_json_reads_them() {
        let frames = [
            format!("[{TICK}]"),
            format!(" [ {TICK} ,\n\t{TICK}\r] "),
            "[]".to_string(),
            "[ ]".to_string(),
            r#"[{"size":1e-7,"price":-1e300,"time":"2026-11-22T12:00:00.5Z","symbol":"S","venue":"v","type":"tick"}]"#.to_string(),
            r#"[{"type":"tick","id":"a-1","venue":"v","symbol":"S","time":-5,"price":0.30000000000000004,"size":0,"side":null,"trade_id":null}]"#.to_string(),
            r#"[{"type":"tick","id":7,"venue":"v","symbol":"S","time":18446744073709551615,"price":123456789012345678901234567890,"size":2.5E+3,"trade_id":-9223372036854775808}]"#.to_string(),
            r#"[{"type":"quote","venue":"é","symbol":"","time":0,"price":0.0,"size":-0.0,"side":"up"}]"#.to_string(),
        ];
        for text in &frames {
            assert_eq!(agrees(text), Ok(true), "{text}");
        }
    }

    #[test]
    fn anything_else_is_declined_never_read_differently() {
        let frames = [
            // Not frames of tick objects, or not JSON at all.
            "",
            "{}",
            "[",
            "[{}]",
            r#"[["tick",null,"v","S",1795348800123456789,1.5,2,"buy","1"]]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1},]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1}] x"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1,}]"#,
            // Missing, unknown and duplicate keys.
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1,"extra":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1,"size":2}]"#,
            // Escapes, control characters, and numbers outside the grammar or range.
            r#"[{"type":"tick","venue":"v\u0041","symbol":"S","time":1,"price":1,"size":1}]"#,
            "[{\"type\":\"tick\",\"venue\":\"v\t\",\"symbol\":\"S\",\"time\":1,\"price\":1,\"size\":1}]",
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":01,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1.,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":.5,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":+1,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1e400,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":NaN,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1.5,"price":1,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":-0,"price":1,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":-0,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":99999999999999999999,"price":1,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":null,"price":1,"size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":"1","size":1}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1,"side":5}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1,"trade_id":1.5}]"#,
            r#"[{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1,"trade_id":nul}]"#,
        ];
        for text in frames {
            assert_eq!(agrees(text), Ok(false), "{text}");
        }
    }

    /// `Cursor::float` on a number's text alone, as a frame's `price` reads it.
    fn float_of(text: &str) -> Option<f64> {
        let mut cursor = Cursor { text, bytes: text.as_bytes(), at: 0 };
        cursor.float().filter(|_| cursor.at == text.len())
    }

    #[test]
    fn numbers_read_on_the_way_are_the_numbers_the_text_holds() {
        for text in [
            "0",
            "0.5",
            "0.0012",
            "-0.0",
            "101.25",
            "-7.25",
            "0.1",
            "0.3",
            "123456.789",
            "9007199254740992",
            "9007199254740993",
            "900719925474099.3",
            "1.0000000000000000000001",
            "0.0000000000000000000001",
            "18446744073709551615",
            "18446744073709551616",
            "4.9406564584124654e-324",
            "1e22",
            "1.5e-7",
        ] {
            let expected: f64 = text.parse().unwrap();
            // Compared as bits, so that -0.0 and 0.0 differ.
            assert_eq!(float_of(text).map(f64::to_bits), Some(expected.to_bits()), "{text}");
        }
        let scalar_of = |text: &str| {
            let mut cursor = Cursor { text, bytes: text.as_bytes(), at: 0 };
            format!("{:?}", cursor.scalar())
        };
        assert_eq!(scalar_of("-9223372036854775808"), "Some(Signed(-9223372036854775808))");
        assert_eq!(scalar_of("9223372036854775808"), "Some(Unsigned(9223372036854775808))");
        assert_eq!(scalar_of("-9223372036854775809"), "None");
        assert_eq!(scalar_of("18446744073709551616"), "None");
        assert_eq!(scalar_of("-5"), "Some(Signed(-5))");
    }

    proptest::proptest! {
        /// Decimals of every length of integer part and fraction, on and off the fast
        /// path, read as the standard library reads their text.
        #[test]
        fn any_decimal_reads_as_its_text_reads(
            whole in 0u64..u64::MAX,
            whole_digits in 1usize..21,
            fraction in 0u64..u64::MAX,
            fraction_digits in 0usize..26,
            negative in proptest::bool::ANY,
        ) {
            let whole = whole.to_string();
            let whole = whole[..whole_digits.min(whole.len())].to_string();
            let fraction = format!("{fraction:020}{fraction:020}");
            let mut text = format!("{}{whole}", if negative { "-" } else { "" });
            if fraction_digits > 0 {
                text.push('.');
                text.push_str(&fraction[..fraction_digits]);
            }
            let expected = (text != "-0").then(|| text.parse::<f64>().unwrap().to_bits());
            proptest::prop_assert_eq!(float_of(&text).map(f64::to_bits), expected, "{}", text);
        }
    }

    proptest::proptest! {
        /// Any cut, insertion or change of one byte of a frame of ticks is read as
        /// `serde_json` reads it, or declined.
        #[test]
        fn a_damaged_frame_is_read_as_serde_json_reads_it_or_declined(
            position in 0usize..400,
            byte in proptest::sample::select(b"{}[]\",:0123456789-+.eE \\nulltrufasx".to_vec()),
            action in 0u8..3,
        ) {
            let mut text = format!("[{TICK},{}]", TICK.replace("101.25", "-7.5e-3").replace("\"42\"", "12"));
            let position = position.min(text.len());
            match action {
                0 => text.truncate(position),
                1 => text.insert(position, byte as char),
                _ => {
                    if position < text.len() {
                        text.replace_range(position..position + 1, &(byte as char).to_string());
                    }
                }
            }
            proptest::prop_assert!(agrees(&text).is_ok(), "{:?}", agrees(&text));
        }
    }
}
