//! Option contract names → their parts (underlying, expiry date, strike, call or put),
//! for the three naming schemes our venues use. Pure: no I/O, no allocation beyond the
//! result, and no input makes it panic — a name it cannot read is an error that says
//! what is wrong with it.
//!
//! | scheme | example | underlying |
//! |---|---|---|
//! | Deribit instrument name | `BTC-27DEC24-100000-C`, `ETH-3JAN25-3500-P`, `XRP_USDC-30JUN23-0d625-C` | `BTC`, `ETH`, `XRP-USDC` |
//! | OKX option instId | `BTC-USD-241227-100000-C` | `BTC-USD` |
//! | OCC symbol (US listed options) | `AAPL250117C00150000`, `AAPL  250117C00150000`, `O:AAPL250117C00150000` | `AAPL` |
//!
//! Deribit (<https://docs.deribit.com>, "Instrument naming"): `CURRENCY-DMMMYY-STRIKE-C|P`
//! for inverse options, `BASE_QUOTE-DMMMYY-STRIKE-C|P` for linear (USDC) ones; the day
//! has no leading zero (`3JAN25`; `03JAN25` is read too), and a fractional strike uses
//! `d` as its decimal point (`0d625` = 0.625). The underlying of a linear option is
//! written in our `BASE-QUOTE` form (`BTC_USDC` → `BTC-USDC`), the form of
//! [`symbols`](super::symbols) and of OKX's underlyings; Deribit's own spelling is that
//! with the first `-` turned back into `_`.
//!
//! OKX (<https://www.okx.com/docs-v5/en/>, instruments: `instId`, `uly`, `stk`):
//! `BASE-QUOTE-YYMMDD-STRIKE-C|P`, whose underlying (`uly`) is `BASE-QUOTE`; the strike
//! is a decimal number with `.` as its point.
//!
//! OCC (Options Clearing Corporation symbology, as Polygon and Alpaca write it): the
//! root (1–6 letters or digits, starting with a letter), the expiry as YYMMDD, `C` or
//! `P`, and the strike in thousandths as 8 digits (`00150500` = 150.5). The 21-character
//! form pads the root with spaces to 6; Polygon puts `O:` in front.
//!
//! Names are case-sensitive: every scheme writes its letters in upper case, and a
//! lower-case month, kind or underlying is refused rather than guessed at. Years are
//! two digits, 2000–2099. A strike must be positive; there is no way to write a
//! negative one in any of the schemes (a `-` is a separator), so one is refused as a
//! malformed name.
//!
//! A strike is the `f64` nearest to the decimal strike written in the name, exactly as
//! `str::parse::<f64>` rounds it: `150.5` and `0.5` are exact in binary, `0.625` too.

use chrono::NaiveDate;

/// Call or put: the records' own type, so a parsed contract fills an
/// [`OptionQuote`](crate::record::OptionQuote) as it is.
pub use crate::record::OptionKind;

/// What an option contract's name says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionContract {
    pub underlying: String,
    pub expiration: NaiveDate,
    /// Positive and finite.
    pub strike: f64,
    pub kind: OptionKind,
}

/// Why a name is not a readable option contract name. Names and parts in messages are
/// cut to [`SHOWN_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("empty option contract name")]
    Empty,
    #[error("not an option contract name: {0} (expected a Deribit, OKX or OCC option name)")]
    Unrecognized(String),
    #[error("not a Deribit option name: {0} (expected UNDERLYING-DMMMYY-STRIKE-C|P)")]
    NotDeribit(String),
    #[error("not an OKX option instId: {0} (expected BASE-QUOTE-YYMMDD-STRIKE-C|P)")]
    NotOkx(String),
    #[error("not an OCC symbol: {0} (expected ROOT, YYMMDD, C or P, and the strike in thousandths as 8 digits)")]
    NotOcc(String),
    #[error("bad underlying `{underlying}` in {name}")]
    BadUnderlying { name: String, underlying: String },
    #[error("bad expiry `{expiry}` in {name}")]
    BadExpiry { name: String, expiry: String },
    #[error("bad expiry month `{month}` in {name} (expected JAN … DEC)")]
    BadExpiryMonth { name: String, month: String },
    #[error("expiry `{expiry}` in {name} is not a calendar date")]
    NoSuchDate { name: String, expiry: String },
    #[error("bad strike `{strike}` in {name}")]
    BadStrike { name: String, strike: String },
    #[error("strike `{strike}` in {name} is not positive")]
    NonPositiveStrike { name: String, strike: String },
    #[error("bad option kind `{kind}` in {name} (expected C or P)")]
    BadKind { name: String, kind: String },
}

/// How much of an offending name an error message repeats.
pub const SHOWN_CHARS: usize = 64;

impl OptionContract {
    /// Reads a name in any of the three schemes: `O:`-prefixed or dash-free names are
    /// OCC symbols, four dash-separated parts a Deribit name, five an OKX instId.
    pub fn parse(name: &str) -> Result<OptionContract, ContractError> {
        if name.is_empty() {
            return Err(ContractError::Empty);
        }
        if name.starts_with("O:") || !name.contains('-') {
            return parse_occ(name);
        }
        // An empty part is a doubled dash, or a negative number written into a name.
        if name.split('-').any(str::is_empty) {
            return Err(ContractError::Unrecognized(shown(name)));
        }
        match name.split('-').count() {
            4 => parse_deribit(name),
            5 => parse_okx(name),
            _ => Err(ContractError::Unrecognized(shown(name))),
        }
    }
}

impl std::str::FromStr for OptionContract {
    type Err = ContractError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        OptionContract::parse(name)
    }
}

/// A Deribit option instrument name: `BTC-27DEC24-100000-C`, `XRP_USDC-30JUN23-0d625-C`.
pub fn parse_deribit(name: &str) -> Result<OptionContract, ContractError> {
    let parts: Vec<&str> = name.split('-').collect();
    let [underlying, expiry, strike, kind] = parts[..] else {
        return Err(ContractError::NotDeribit(shown(name)));
    };
    let underlying = match underlying.split_once('_') {
        None if is_asset(underlying) => underlying.to_string(),
        Some((base, quote)) if is_asset(base) && is_asset(quote) => format!("{base}-{quote}"),
        _ => return Err(bad_underlying(name, underlying)),
    };
    Ok(OptionContract {
        underlying,
        expiration: deribit_expiry(name, expiry)?,
        strike: strike_value(name, strike, 'd')?,
        kind: option_kind(name, kind)?,
    })
}

/// An OKX option instId: `BTC-USD-241227-100000-C`.
pub fn parse_okx(name: &str) -> Result<OptionContract, ContractError> {
    let parts: Vec<&str> = name.split('-').collect();
    let [base, quote, expiry, strike, kind] = parts[..] else {
        return Err(ContractError::NotOkx(shown(name)));
    };
    for asset in [base, quote] {
        if !is_asset(asset) {
            return Err(bad_underlying(name, asset));
        }
    }
    Ok(OptionContract {
        underlying: format!("{base}-{quote}"),
        expiration: yymmdd(name, expiry)?,
        strike: strike_value(name, strike, '.')?,
        kind: option_kind(name, kind)?,
    })
}

/// An OCC option symbol: `AAPL250117C00150000`, `AAPL  250117C00150000`, or with
/// Polygon's `O:` in front.
pub fn parse_occ(name: &str) -> Result<OptionContract, ContractError> {
    let symbol = name.strip_prefix("O:").unwrap_or(name);
    // Byte offsets below are character offsets only for ASCII.
    if !symbol.is_ascii() || !(16..=21).contains(&symbol.len()) {
        return Err(ContractError::NotOcc(shown(name)));
    }
    let (root_field, tail) = symbol.split_at(symbol.len() - 15);
    let root = root_field.trim_end_matches(' ');
    let padded = root.len() < root_field.len();
    let root_is_valid =
        root.starts_with(|c: char| c.is_ascii_uppercase()) && root.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !root_is_valid || (padded && root_field.len() != 6) {
        return Err(ContractError::NotOcc(shown(name)));
    }
    // The fixed-width tail: 6 digits, a letter, 8 digits. A name of another shape (a
    // strike one digit short, say) would otherwise be misread one field over.
    let (expiry, rest) = tail.split_at(6);
    let (kind, strike) = rest.split_at(1);
    let all_digits = |field: &str| field.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(expiry) || !kind.bytes().all(|b| b.is_ascii_uppercase()) || !all_digits(strike) {
        return Err(ContractError::NotOcc(shown(name)));
    }
    let expiration = yymmdd(name, expiry)?;
    let kind = option_kind(name, kind)?;
    let thousandths: u32 = strike.parse().map_err(|_| ContractError::BadStrike { name: shown(name), strike: shown(strike) })?;
    if thousandths == 0 {
        return Err(ContractError::NonPositiveStrike { name: shown(name), strike: strike.to_string() });
    }
    // Both operands are exact in f64, so the quotient is the double nearest to the
    // decimal strike, as parsing "150.5" would give.
    Ok(OptionContract { underlying: root.to_string(), expiration, strike: f64::from(thousandths) / 1000.0, kind })
}

/// `s` cut to [`SHOWN_CHARS`] characters for a message.
fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// A currency or asset code as the venues write it: upper-case letters and digits.
fn is_asset(code: &str) -> bool {
    !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn bad_underlying(name: &str, underlying: &str) -> ContractError {
    ContractError::BadUnderlying { name: shown(name), underlying: shown(underlying) }
}

fn option_kind(name: &str, kind: &str) -> Result<OptionKind, ContractError> {
    match kind {
        "C" => Ok(OptionKind::Call),
        "P" => Ok(OptionKind::Put),
        _ => Err(ContractError::BadKind { name: shown(name), kind: shown(kind) }),
    }
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// Deribit's `DMMMYY`: a day of one or two digits, a three-letter month, two digits of year.
fn deribit_expiry(name: &str, expiry: &str) -> Result<NaiveDate, ContractError> {
    let bad_expiry = || ContractError::BadExpiry { name: shown(name), expiry: shown(expiry) };
    let day_digits = expiry.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_digits) || !expiry.is_ascii() || expiry.len() != day_digits + 5 {
        return Err(bad_expiry());
    }
    let (day, rest) = expiry.split_at(day_digits);
    let (month, year) = rest.split_at(3);
    if !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_expiry());
    }
    let month_number = MONTHS
        .iter()
        .position(|candidate| *candidate == month)
        .ok_or_else(|| ContractError::BadExpiryMonth { name: shown(name), month: shown(month) })?;
    let (Ok(day), Ok(year)) = (day.parse::<u32>(), year.parse::<i32>()) else {
        return Err(bad_expiry());
    };
    NaiveDate::from_ymd_opt(2000 + year, month_number as u32 + 1, day)
        .ok_or_else(|| ContractError::NoSuchDate { name: shown(name), expiry: shown(expiry) })
}

/// `YYMMDD`, six digits.
fn yymmdd(name: &str, expiry: &str) -> Result<NaiveDate, ContractError> {
    if expiry.len() != 6 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ContractError::BadExpiry { name: shown(name), expiry: shown(expiry) });
    }
    let number = |range: std::ops::Range<usize>| expiry[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..2), number(2..4), number(4..6));
    if !(1..=12).contains(&month) {
        return Err(ContractError::BadExpiryMonth { name: shown(name), month: expiry[2..4].to_string() });
    }
    NaiveDate::from_ymd_opt(2000 + year as i32, month, day)
        .ok_or_else(|| ContractError::NoSuchDate { name: shown(name), expiry: expiry.to_string() })
}

/// A decimal strike with `point` as its decimal point (`d` on Deribit, `.` on OKX):
/// digits, optionally the point and more digits; positive.
fn strike_value(name: &str, strike: &str, point: char) -> Result<f64, ContractError> {
    let bad_strike = || ContractError::BadStrike { name: shown(name), strike: shown(strike) };
    let (whole, fraction) = match strike.split_once(point) {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (strike, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return Err(bad_strike());
    }
    let decimal = match fraction {
        Some(fraction) => format!("{whole}.{fraction}"),
        None => whole.to_string(),
    };
    let value: f64 = decimal.parse().map_err(|_| bad_strike())?;
    if !value.is_finite() {
        return Err(bad_strike());
    }
    if value <= 0.0 {
        return Err(ContractError::NonPositiveStrike { name: shown(name), strike: shown(strike) });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn valid_names_give_their_parts() {
        use OptionKind::{Call, Put};
        let cases: &[(&str, &str, NaiveDate, f64, OptionKind)] = &[
            ("BTC-27DEC24-100000-C", "BTC", date(2024, 12, 27), 100_000.0, Call),
            ("ETH-3JAN25-3500-P", "ETH", date(2025, 1, 3), 3_500.0, Put),
            ("ETH-03JAN25-3500-P", "ETH", date(2025, 1, 3), 3_500.0, Put),
            ("XRP-27DEC24-0d5-C", "XRP", date(2024, 12, 27), 0.5, Call),
            ("XRP_USDC-30JUN23-0d625-C", "XRP-USDC", date(2023, 6, 30), 0.625, Call),
            ("BTC_USDC-27DEC24-100000-C", "BTC-USDC", date(2024, 12, 27), 100_000.0, Call),
            ("SOL_USDC-29FEB24-102d5-P", "SOL-USDC", date(2024, 2, 29), 102.5, Put),
            ("BTC-USD-241227-100000-C", "BTC-USD", date(2024, 12, 27), 100_000.0, Call),
            ("ETH-USD-250103-3500-P", "ETH-USD", date(2025, 1, 3), 3_500.0, Put),
            ("BTC-USD-241217-92000.5-C", "BTC-USD", date(2024, 12, 17), 92_000.5, Call),
            ("AAPL250117C00150000", "AAPL", date(2025, 1, 17), 150.0, Call),
            ("AAPL250117P00150500", "AAPL", date(2025, 1, 17), 150.5, Put),
            ("AAPL  250117C00150000", "AAPL", date(2025, 1, 17), 150.0, Call),
            ("O:AAPL250117C00150000", "AAPL", date(2025, 1, 17), 150.0, Call),
            ("O:SPY251219C00650000", "SPY", date(2025, 12, 19), 650.0, Call),
            ("F250117P00012500", "F", date(2025, 1, 17), 12.5, Put),
            ("GOOGL1250117C00000500", "GOOGL1", date(2025, 1, 17), 0.5, Call),
            ("BRKB  250321C99999999", "BRKB", date(2025, 3, 21), 99_999.999, Call),
        ];
        for &(name, underlying, expiration, strike, kind) in cases {
            let contract = OptionContract::parse(name).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(contract, OptionContract { underlying: underlying.into(), expiration, strike, kind }, "{name}");
        }
    }

    #[test]
    fn strikes_are_the_exact_decimal() {
        assert_eq!(OptionContract::parse("AAPL250117C00150500").unwrap().strike.to_bits(), 150.5f64.to_bits());
        assert_eq!(OptionContract::parse("XRP-27DEC24-0d5-C").unwrap().strike.to_bits(), 0.5f64.to_bits());
        // Not exact in binary: the nearest double, as parsing the decimal gives it.
        assert_eq!(OptionContract::parse("AAPL250117C00000100").unwrap().strike, "0.1".parse::<f64>().unwrap());
        assert_eq!(OptionContract::parse("XRP_USDC-30JUN23-0d3-C").unwrap().strike, "0.3".parse::<f64>().unwrap());
    }

    #[test]
    fn invalid_names_say_what_is_wrong() {
        use ContractError as E;
        type IsExpected = fn(&ContractError) -> bool;
        let cases: &[(&str, IsExpected)] = &[
            ("", |e| matches!(e, E::Empty)),
            ("BTC-PERPETUAL", |e| matches!(e, E::Unrecognized(_))),
            ("BTC-27DEC24", |e| matches!(e, E::Unrecognized(_))),
            ("BTC-27DEC24--100-C", |e| matches!(e, E::Unrecognized(_))),
            ("BTC-USD-241227--100-C", |e| matches!(e, E::Unrecognized(_))),
            ("BTC-30FEB25-100000-C", |e| matches!(e, E::NoSuchDate { .. })),
            ("BTC-32JAN25-100000-C", |e| matches!(e, E::NoSuchDate { .. })),
            ("BTC-0JAN25-100000-C", |e| matches!(e, E::NoSuchDate { .. })),
            ("BTC-27dec24-100000-C", |e| matches!(e, E::BadExpiryMonth { month, .. } if month == "dec")),
            ("BTC-27DCE24-100000-C", |e| matches!(e, E::BadExpiryMonth { month, .. } if month == "DCE")),
            ("BTC-271DEC24-100000-C", |e| matches!(e, E::BadExpiry { .. })),
            ("BTC-27DEC2024-100000-C", |e| matches!(e, E::BadExpiry { .. })),
            ("BTC-DEC24-100000-C", |e| matches!(e, E::BadExpiry { .. })),
            ("BTC-27DEC24-0-C", |e| matches!(e, E::NonPositiveStrike { .. })),
            ("BTC-27DEC24-0d0-C", |e| matches!(e, E::NonPositiveStrike { .. })),
            ("BTC-27DEC24-1d-C", |e| matches!(e, E::BadStrike { .. })),
            ("BTC-27DEC24-d5-C", |e| matches!(e, E::BadStrike { .. })),
            ("BTC-27DEC24-0.5-C", |e| matches!(e, E::BadStrike { .. })),
            ("BTC-27DEC24-1e5-C", |e| matches!(e, E::BadStrike { .. })),
            ("BTC-27DEC24-100000-X", |e| matches!(e, E::BadKind { kind, .. } if kind == "X")),
            ("BTC-27DEC24-100000-c", |e| matches!(e, E::BadKind { .. })),
            ("btc-27DEC24-100000-C", |e| matches!(e, E::BadUnderlying { .. })),
            ("BTC_-27DEC24-100000-C", |e| matches!(e, E::BadUnderlying { .. })),
            ("A_B_C-27DEC24-100000-C", |e| matches!(e, E::BadUnderlying { .. })),
            ("BTC-USD-241327-100000-C", |e| matches!(e, E::BadExpiryMonth { month, .. } if month == "13")),
            ("BTC-USD-250230-100000-C", |e| matches!(e, E::NoSuchDate { .. })),
            ("BTC-USD-24122-100000-C", |e| matches!(e, E::BadExpiry { .. })),
            ("BTC-USD-241227-0-C", |e| matches!(e, E::NonPositiveStrike { .. })),
            ("BTC-USD-241227-100000d5-C", |e| matches!(e, E::BadStrike { .. })),
            ("BTC-usd-241227-100000-C", |e| matches!(e, E::BadUnderlying { .. })),
            ("AAPL250117C00000000", |e| matches!(e, E::NonPositiveStrike { .. })),
            ("AAPL250117X00150000", |e| matches!(e, E::BadKind { .. })),
            ("AAPL250230C00150000", |e| matches!(e, E::NoSuchDate { .. })),
            ("AAPL251317C00150000", |e| matches!(e, E::BadExpiryMonth { .. })),
            ("AAPL250117C0015000", |e| matches!(e, E::NotOcc(_))),
            ("AAPL250117C0015000X", |e| matches!(e, E::NotOcc(_))),
            ("AAPL250117c00150000", |e| matches!(e, E::NotOcc(_))),
            ("TOOLONG250117C00150000", |e| matches!(e, E::NotOcc(_))),
            ("aapl250117C00150000", |e| matches!(e, E::NotOcc(_))),
            ("AA PL250117C00150000", |e| matches!(e, E::NotOcc(_))),
            ("AAPL 250117C00150000", |e| matches!(e, E::NotOcc(_))),
            ("O:", |e| matches!(e, E::NotOcc(_))),
            ("AAPL25011éC00150000", |e| matches!(e, E::NotOcc(_))),
            ("250117C00150000", |e| matches!(e, E::NotOcc(_))),
        ];
        for (name, expected) in cases {
            let error = OptionContract::parse(name).expect_err(name);
            assert!(expected(&error), "{name}: {error:?}");
        }
    }

    #[test]
    fn messages_name_the_problem_and_the_name() {
        let message = |name: &str| OptionContract::parse(name).unwrap_err().to_string();
        assert_eq!(
            message("AAPL25"),
            "not an OCC symbol: AAPL25 (expected ROOT, YYMMDD, C or P, and the strike in thousandths as 8 digits)"
        );
        assert_eq!(message("BTC-27XYZ24-1-C"), "bad expiry month `XYZ` in BTC-27XYZ24-1-C (expected JAN … DEC)");
        assert_eq!(message("BTC-30FEB25-1-C"), "expiry `30FEB25` in BTC-30FEB25-1-C is not a calendar date");
        assert_eq!(message("BTC-USD-241227-0-C"), "strike `0` in BTC-USD-241227-0-C is not positive");
        let long = "X".repeat(500);
        assert_eq!(message(&long).chars().filter(|c| *c == 'X').count(), SHOWN_CHARS, "long names are cut");
    }

    #[test]
    fn the_scheme_specific_parsers_refuse_other_schemes() {
        assert!(matches!(parse_occ("BTC-27DEC24-100000-C"), Err(ContractError::NotOcc(_))));
        assert!(matches!(parse_okx("BTC-27DEC24-100000-C"), Err(ContractError::NotOkx(_))));
        assert!(matches!(parse_deribit("BTC-USD-241227-100000-C"), Err(ContractError::NotDeribit(_))));
        assert_eq!("ETH-3JAN25-3500-P".parse::<OptionContract>().unwrap().kind.as_str(), "put");
    }

    proptest! {
        #[test]
        fn no_string_makes_it_panic(name in ".*") {
            let _ = OptionContract::parse(&name);
            let _ = parse_occ(&name);
            let _ = parse_okx(&name);
            let _ = parse_deribit(&name);
        }

        #[test]
        fn no_name_shaped_string_makes_it_panic(name in "(O:)?[A-Z0-9a-z_ dD.é-]{0,24}") {
            if let Ok(contract) = OptionContract::parse(&name) {
                prop_assert!(contract.strike > 0.0 && contract.strike.is_finite());
                prop_assert!(!contract.underlying.is_empty());
            }
        }

        #[test]
        fn occ_symbols_read_back_what_was_written(
            root in "[A-Z][A-Z0-9]{0,5}",
            days in 0i64..36_500,
            thousandths in 1u32..=99_999_999,
            call in any::<bool>(),
            padded in any::<bool>(),
        ) {
            let expiration = date(2000, 1, 1) + chrono::Duration::days(days);
            let kind = if call { OptionKind::Call } else { OptionKind::Put };
            let root_field = if padded { format!("{root:<6}") } else { root.clone() };
            let name = format!("{root_field}{}{}{thousandths:08}", expiration.format("%y%m%d"), if call { 'C' } else { 'P' });
            let contract = OptionContract::parse(&name).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let strike: f64 = format!("{}.{:03}", thousandths / 1000, thousandths % 1000).parse().unwrap();
            prop_assert_eq!(contract, OptionContract { underlying: root, expiration, strike, kind });
        }

        #[test]
        fn deribit_names_read_back_what_was_written(
            base in "[A-Z]{2,5}",
            linear in any::<bool>(),
            days in 0i64..36_500,
            whole in 0u32..1_000_000,
            fraction in proptest::option::of("[0-9]{1,4}"),
            call in any::<bool>(),
        ) {
            let expiration = date(2000, 1, 1) + chrono::Duration::days(days);
            let strike_text = match &fraction {
                Some(fraction) => format!("{whole}d{fraction}"),
                None => whole.to_string(),
            };
            let strike: f64 = strike_text.replace('d', ".").parse().unwrap();
            prop_assume!(strike > 0.0);
            let currency = if linear { format!("{base}_USDC") } else { base.clone() };
            let month = MONTHS[expiration.month0() as usize];
            let name = format!("{currency}-{}{month}{}-{strike_text}-{}", expiration.format("%-d"), expiration.format("%y"), if call { 'C' } else { 'P' });
            let contract = OptionContract::parse(&name).map_err(|error| TestCaseError::fail(format!("{name}: {error}")))?;
            let underlying = if linear { format!("{base}-USDC") } else { base };
            let kind = if call { OptionKind::Call } else { OptionKind::Put };
            prop_assert_eq!(contract, OptionContract { underlying, expiration, strike, kind });
        }
    }
}
