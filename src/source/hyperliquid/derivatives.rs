//! Hyperliquid `activeAssetCtx` (a perpetual's asset context, pushed about once a
//! second) into `funding_rates`, `open_interest` and `mark_prices`, each as its channel
//! is subscribed (`funding`, `open_interest`, `mark_price`; one subscription feeds all three).
//!
//! - `funding`: `ctx.funding` is the current hourly rate (Hyperliquid funds every hour,
//!   "Trading → Funding"), interval `1h`; the venue sends no predicted rate and no next
//!   funding time: `next_funding_time` is the next whole hour (UTC) after the push was
//!   received, which is when Hyperliquid settles.
//! - `open_interest`: `ctx.openInterest`, in the coin (stored as `contracts`: one
//!   contract is one coin); no notional is sent, so `notional` stays NULL.
//! - `mark_price`: `ctx.markPx` as the mark, `ctx.oraclePx` (the oracle price the
//!   contract's funding follows) as the index price.
//!
//! The push carries no time: every row is timed at receipt (`time` = `received_at`).

use super::wire::ActiveAssetCtx;
use crate::record::{FundingRate, MarkPrice, OpenInterest, Record, Rejection, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::values::number;

/// The subscription type.
pub const ACTIVE_ASSET_CTX: &str = "activeAssetCtx";
/// Hyperliquid's funding interval.
pub const FUNDING_INTERVAL: &str = "1h";
const HOUR_MICROS: i64 = 3_600 * Timestamp::MICROS_PER_SECOND;

/// Which of the context's rows a source stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtxChannels {
    pub funding: bool,
    pub open_interest: bool,
    pub mark_price: bool,
}

/// The whole hour after `at`.
pub fn next_hour(at: Timestamp) -> Timestamp {
    Timestamp((at.micros().div_euclid(HOUR_MICROS) + 1).saturating_mul(HOUR_MICROS))
}

/// The rows of one `activeAssetCtx` push; `symbol` is our symbol for its coin. Every
/// field is read before any row is made: a bad one rejects the push whole.
pub fn asset_ctx(
    data: &str,
    channels: CtxChannels,
    symbol: impl Fn(&str) -> String,
    received_at: Timestamp,
) -> Result<Vec<Record>, Rejection> {
    let push: ActiveAssetCtx = serde_json::from_str(data).map_err(|error| invalid(ACTIVE_ASSET_CTX, error))?;
    let funding = number("ctx.funding", &push.ctx.funding)?;
    let open_interest = number("ctx.openInterest", &push.ctx.open_interest)?;
    let mark = number("ctx.markPx", &push.ctx.mark_px)?;
    let oracle = number("ctx.oraclePx", &push.ctx.oracle_px)?;
    let (venue, symbol) = ("hyperliquid".to_string(), symbol(push.coin));
    let mut records = Vec::with_capacity(3);
    if channels.funding {
        records.push(Record::FundingRate(FundingRate {
            time: received_at,
            received_at,
            venue: venue.clone(),
            symbol: symbol.clone(),
            rate: funding,
            predicted_rate: None,
            next_funding_time: Some(next_hour(received_at)),
            interval: Some(FUNDING_INTERVAL.into()),
        }));
    }
    if channels.open_interest {
        records.push(Record::OpenInterest(OpenInterest {
            time: received_at,
            received_at,
            venue: venue.clone(),
            symbol: symbol.clone(),
            contracts: Some(open_interest),
            notional: None,
        }));
    }
    if channels.mark_price {
        records.push(Record::MarkPrice(MarkPrice {
            time: received_at,
            received_at,
            venue,
            symbol,
            mark_price: Some(mark),
            index_price: Some(oracle),
        }));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &str = r#"{"coin":"ETH","ctx":{"dayNtlVlm":"1169046.29","prevDayPx":"3400.0","markPx":"3412.5","midPx":"3412.45","funding":"0.0000125","openInterest":"52036.1","oraclePx":"3411.9","premium":"0.0001","impactPxs":["3412.4","3412.6"]}}"#;

    #[test]
    fn one_push_feeds_the_three_tables() {
        let at = Timestamp::from_unix_millis(1_700_000_123_456).unwrap();
        let all = CtxChannels { funding: true, open_interest: true, mark_price: true };
        let records = asset_ctx(PUSH, all, |coin| format!("{coin}-USD"), at).unwrap();
        let [Record::FundingRate(funding), Record::OpenInterest(oi), Record::MarkPrice(mark)] = records.as_slice() else {
            panic!("{records:?}")
        };
        assert_eq!((funding.symbol.as_str(), funding.rate, funding.interval.as_deref()), ("ETH-USD", 0.0000125, Some("1h")));
        assert_eq!(funding.next_funding_time, Timestamp::from_unix_millis(1_700_002_800_000));
        assert_eq!((funding.time, funding.predicted_rate), (at, None));
        assert_eq!((oi.contracts, oi.notional), (Some(52036.1), None));
        assert_eq!((mark.mark_price, mark.index_price), (Some(3412.5), Some(3411.9)));
        let only_mark = CtxChannels { mark_price: true, ..CtxChannels::default() };
        assert_eq!(asset_ctx(PUSH, only_mark, |coin| coin.into(), at).unwrap().len(), 1);
    }

    #[test]
    fn numbers_as_numbers_are_read_and_a_bad_one_rejects() {
        let at = Timestamp(0);
        let all = CtxChannels { funding: true, open_interest: true, mark_price: true };
        let numeric = r#"{"coin":"BTC","ctx":{"markPx":97000.5,"funding":-0.00001,"openInterest":10,"oraclePx":96999}}"#;
        assert_eq!(asset_ctx(numeric, all, |coin| coin.into(), at).unwrap().len(), 3);
        let bad = r#"{"coin":"BTC","ctx":{"markPx":"x","funding":"0","openInterest":"1","oraclePx":"1"}}"#;
        assert!(asset_ctx(bad, all, |coin| coin.into(), at).unwrap_err().detail.contains("ctx.markPx"));
        assert!(asset_ctx(r#"{"coin":"BTC"}"#, all, |coin| coin.into(), at).is_err());
    }

    #[test]
    fn the_next_funding_is_the_next_whole_hour() {
        assert_eq!(next_hour(Timestamp(0)), Timestamp(HOUR_MICROS));
        assert_eq!(next_hour(Timestamp(HOUR_MICROS - 1)), Timestamp(HOUR_MICROS));
        assert_eq!(next_hour(Timestamp(HOUR_MICROS)), Timestamp(2 * HOUR_MICROS));
    }
}
