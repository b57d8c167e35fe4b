//! An `option_quote`'s contract parts — underlying, option_type, strike, expiration —
//! given by the producer, read from the contract name in `symbol`, or both, and then in
//! agreement. The names read are the OCC (`AAPL250117C00150000`, `O:AAPL250117C00150000`),
//! Deribit (`BTC-27DEC26-100000-C`) and OKX (`BTC-USD-261225-100000-C`) ones of
//! [`contracts`](crate::source::contracts).
//!
//! A part that is not given is read from the name; a given part that differs from the
//! name is refused (`inconsistent_option`). One exception: an OCC root is not always the
//! underlying's ticker (`SPXW` options are on `SPX`, an adjusted `AAPL1` contract is on
//! `AAPL`), so a given underlying is kept whatever the root; the root fills it only when
//! it is missing. A symbol that is no readable contract name needs every part given.

use chrono::NaiveDate;

use crate::record::{OptionKind, RejectReason, Rejection};
use crate::source::contracts::{parse_occ, OptionContract};

/// Strikes agreeing to this relative difference are the same strike: a producer's float
/// arithmetic may be off in the last bits of the decimal the name writes.
const STRIKE_TOLERANCE: f64 = 1e-9;

/// The parts a producer sent, each optional.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct GivenParts {
    pub underlying: Option<String>,
    pub option_type: Option<OptionKind>,
    pub strike: Option<f64>,
    pub expiration: Option<NaiveDate>,
}

/// The parts an option quote is stored with.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Parts {
    pub underlying: String,
    pub option_type: OptionKind,
    pub strike: f64,
    pub expiration: NaiveDate,
}

/// The parts of the contract `symbol`, from what was given and what the name says.
pub(super) fn resolve(symbol: &str, given: GivenParts) -> Result<Parts, Rejection> {
    let (contract, occ) = match parse_occ(symbol) {
        Ok(contract) => (contract, true),
        Err(_) => match OptionContract::parse(symbol) {
            Ok(contract) => (contract, false),
            Err(error) => return all_given(given, &error.to_string()),
        },
    };
    if let Some(underlying) = given.underlying.as_deref().filter(|underlying| !occ && *underlying != contract.underlying) {
        return Err(inconsistent(symbol, "underlying", underlying, &contract.underlying));
    }
    if let Some(kind) = given.option_type.filter(|kind| *kind != contract.kind) {
        return Err(inconsistent(symbol, "option_type", kind.as_str(), contract.kind.as_str()));
    }
    if let Some(strike) = given.strike.filter(|strike| !same_strike(*strike, contract.strike)) {
        return Err(inconsistent(symbol, "strike", &strike.to_string(), &contract.strike.to_string()));
    }
    if let Some(expiration) = given.expiration.filter(|expiration| *expiration != contract.expiration) {
        return Err(inconsistent(symbol, "expiration", &expiration.to_string(), &contract.expiration.to_string()));
    }
    Ok(Parts {
        underlying: given.underlying.unwrap_or(contract.underlying),
        option_type: contract.kind,
        strike: given.strike.unwrap_or(contract.strike),
        expiration: contract.expiration,
    })
}

/// A symbol no scheme reads: every part must have been given.
fn all_given(given: GivenParts, why_unreadable: &str) -> Result<Parts, Rejection> {
    let missing = |field: &str| {
        Rejection::new(
            RejectReason::MissingField,
            format!("`{field}` is required when `symbol` is no option contract name to read it from ({why_unreadable})"),
        )
    };
    Ok(Parts {
        underlying: given.underlying.ok_or_else(|| missing("underlying"))?,
        option_type: given.option_type.ok_or_else(|| missing("option_type"))?,
        strike: given.strike.ok_or_else(|| missing("strike"))?,
        expiration: given.expiration.ok_or_else(|| missing("expiration"))?,
    })
}

fn same_strike(given: f64, named: f64) -> bool {
    (given - named).abs() <= STRIKE_TOLERANCE * named.abs()
}

fn inconsistent(symbol: &str, field: &str, given: &str, named: &str) -> Rejection {
    Rejection::new(
        RejectReason::InconsistentOption,
        format!("`{field}` {given} contradicts the contract name `{symbol}`, whose {field} is {named}; send the name's value or leave `{field}` out"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use OptionKind::{Call, Put};

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn parts(underlying: &str, option_type: OptionKind, strike: f64, expiration: NaiveDate) -> Parts {
        Parts { underlying: underlying.into(), option_type, strike, expiration }
    }

    #[test]
    fn missing_parts_are_read_from_the_name() {
        let cases = [
            ("AAPL250117C00150000", parts("AAPL", Call, 150.0, date(2025, 1, 17))),
            ("O:AAPL250117P00150500", parts("AAPL", Put, 150.5, date(2025, 1, 17))),
            ("AAPL  250117C00150000", parts("AAPL", Call, 150.0, date(2025, 1, 17))),
            ("BTC-27DEC26-100000-C", parts("BTC", Call, 100_000.0, date(2026, 12, 27))),
            ("XRP_USDC-30JUN26-0d625-P", parts("XRP-USDC", Put, 0.625, date(2026, 6, 30))),
            ("BTC-USD-261225-100000-P", parts("BTC-USD", Put, 100_000.0, date(2026, 12, 25))),
        ];
        for (symbol, expected) in cases {
            assert_eq!(resolve(symbol, GivenParts::default()), Ok(expected), "{symbol}");
        }
        // Some given, the rest read; given values that agree are kept.
        let given = GivenParts { underlying: Some("BTC".into()), strike: Some(100_000.0), ..GivenParts::default() };
        assert_eq!(resolve("BTC-27DEC26-100000-C", given), Ok(parts("BTC", Call, 100_000.0, date(2026, 12, 27))));
        let all = GivenParts {
            underlying: Some("AAPL".into()),
            option_type: Some(Call),
            strike: Some(150.0),
            expiration: Some(date(2025, 1, 17)),
        };
        assert_eq!(resolve("O:AAPL250117C00150000", all), Ok(parts("AAPL", Call, 150.0, date(2025, 1, 17))));
        // A strike off in its last bits is the name's strike.
        let close = GivenParts { strike: Some(0.1 + 0.2), ..GivenParts::default() };
        assert!(resolve("AAPL250117C00000300", close).is_ok());
    }

    #[test]
    fn an_occ_root_does_not_have_to_be_the_underlying() {
        let given = GivenParts { underlying: Some("SPX".into()), ..GivenParts::default() };
        assert_eq!(resolve("SPXW261218C05000000", given), Ok(parts("SPX", Call, 5_000.0, date(2026, 12, 18))));
        let adjusted = GivenParts { underlying: Some("AAPL".into()), ..GivenParts::default() };
        assert_eq!(resolve("AAPL1250117C00150000", adjusted).unwrap().underlying, "AAPL");
        assert_eq!(resolve("SPXW261218C05000000", GivenParts::default()).unwrap().underlying, "SPXW", "the root when none is given");
    }

    #[test]
    fn given_parts_that_contradict_the_name_are_refused() {
        let cases = [
            ("BTC-27DEC26-100000-C", GivenParts { underlying: Some("ETH".into()), ..GivenParts::default() }, "`underlying` ETH", "is BTC"),
            (
                "BTC-USD-261225-100000-P",
                GivenParts { underlying: Some("BTC".into()), ..GivenParts::default() },
                "`underlying` BTC",
                "is BTC-USD",
            ),
            ("BTC-27DEC26-100000-C", GivenParts { option_type: Some(Put), ..GivenParts::default() }, "`option_type` put", "is call"),
            ("AAPL250117C00150000", GivenParts { strike: Some(155.0), ..GivenParts::default() }, "`strike` 155", "is 150"),
            (
                "O:AAPL250117C00150000",
                GivenParts { expiration: Some(date(2025, 1, 18)), ..GivenParts::default() },
                "`expiration` 2025-01-18",
                "is 2025-01-17",
            ),
        ];
        for (symbol, given, said, named) in cases {
            let rejection = resolve(symbol, given).expect_err(symbol);
            assert_eq!(rejection.code, RejectReason::InconsistentOption, "{rejection}");
            assert!(
                rejection.detail.contains(said) && rejection.detail.contains(named) && rejection.detail.contains(symbol),
                "{rejection}"
            );
        }
    }

    #[test]
    fn a_name_no_scheme_reads_needs_every_part() {
        let all =
            GivenParts { underlying: Some("ACME".into()), option_type: Some(Put), strike: Some(12.5), expiration: Some(date(2026, 3, 20)) };
        assert_eq!(resolve("ACME-MAR-12.5-PUT-X", all.clone()), Ok(parts("ACME", Put, 12.5, date(2026, 3, 20))));
        for (missing, given) in [
            ("underlying", GivenParts { underlying: None, ..all.clone() }),
            ("option_type", GivenParts { option_type: None, ..all.clone() }),
            ("strike", GivenParts { strike: None, ..all.clone() }),
            ("expiration", GivenParts { expiration: None, ..all.clone() }),
        ] {
            let rejection = resolve("my-contract", given).expect_err(missing);
            assert_eq!(rejection.code, RejectReason::MissingField);
            assert!(rejection.detail.starts_with(&format!("`{missing}` is required when `symbol`")), "{rejection}");
            assert!(rejection.detail.contains("my-contract"), "the reason the name is unreadable: {rejection}");
        }
        // A name of a known shape but an impossible date says so.
        let rejection = resolve("BTC-30FEB26-100000-C", GivenParts::default()).unwrap_err();
        assert!(rejection.detail.contains("is not a calendar date"), "{rejection}");
    }
}
