//! OKX derivatives channels → records (OKX API v5 docs, "WebSocket / Public channel":
//! "Funding rate channel", "Open interest channel", "Mark price channel", "Index tickers
//! channel", "Liquidation orders channel"). Every value is a string, times milliseconds as
//! text.
//!
//! - `funding` ← `funding-rate` of each `-SWAP` symbol (dated futures have no funding and
//!   are not subscribed): `fundingRate` is the rate, `nextFundingRate` (empty unless OKX
//!   publishes a prediction for the instrument) the predicted rate, `fundingTime` the
//!   next funding time, and the interval is `nextFundingTime − fundingTime` (`8h`, `4h`,
//!   `1h`) where both are sent, else NULL.
//! - `open_interest` ← `open-interest`: `oi` in contracts, `oiUsd` as the notional (in
//!   USD; `oiCcy`, the base-currency amount, is not stored).
//! - `mark_price` ← `mark-price` (`markPx`, index NULL) and `index-tickers` of the
//!   contract's index (`BTC-USDT` for `BTC-USDT-SWAP`, `BTC-USD` for `BTC-USD-250328`):
//!   the index's rows carry the index name as `symbol` and a NULL mark.
//! - `liquidations` ← `liquidation-orders`, subscribed by instrument type (`SWAP` and/or
//!   `FUTURES`, as the configured symbols need); OKX pushes every liquidation of the type
//!   and only the configured instruments are kept. Each of `details[]` is one order:
//!   `side` is the liquidation order's side (`posSide` the position's), `bkPx` the
//!   bankruptcy price, `sz` the size in contracts (not in the base currency: multiply
//!   by the instrument's `contract_size` in `instrument_specs`). No order id is sent.

use std::collections::HashSet;

use serde::Deserialize;

use super::wire::millis_text;
use crate::record::{FundingRate, Liquidation, MarkPrice, OpenInterest, Record, RejectReason, Rejection, Side, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;
use crate::source::values::decimal as number;

pub const FUNDING_RATE: &str = "funding-rate";
pub const OPEN_INTEREST: &str = "open-interest";
pub const MARK_PRICE: &str = "mark-price";
pub const INDEX_TICKERS: &str = "index-tickers";
pub const LIQUIDATIONS: &str = "liquidation-orders";

const VENUE: &str = "okx";

/// `SWAP`, `FUTURES`, `OPTION` or `SPOT`, from the shape of an instrument id.
pub fn inst_type(inst_id: &str) -> &'static str {
    let parts: Vec<&str> = inst_id.split('-').collect();
    match parts.as_slice() {
        [_, _, "SWAP"] => "SWAP",
        [_, _, date] if date.len() == 6 && date.bytes().all(|b| b.is_ascii_digit()) => "FUTURES",
        [_, _, _, _, _] => "OPTION",
        _ => "SPOT",
    }
}

/// The index a swap or future follows (`BTC-USDT` for `BTC-USDT-SWAP`); none for others.
pub fn index_of(inst_id: &str) -> Option<String> {
    match inst_type(inst_id) {
        "SWAP" | "FUTURES" => inst_id.rsplit_once('-').map(|(index, _)| index.to_string()),
        _ => None,
    }
}

/// One element of `funding-rate` data:
/// `{"formulaType":"noRate","fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"",
/// "instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period",
/// "minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1700755200000","premium":"0.0001233824646391",
/// "settFundingRate":"0.0001699799259033","settState":"settled","sign":"","ts":"1700724675402"}`.
#[derive(Debug, Deserialize)]
struct Funding<'a> {
    #[serde(rename = "instId", borrow)]
    inst_id: &'a str,
    #[serde(rename = "fundingRate", borrow)]
    funding_rate: &'a str,
    #[serde(rename = "nextFundingRate", borrow, default)]
    next_funding_rate: &'a str,
    #[serde(rename = "fundingTime", borrow, default)]
    funding_time: &'a str,
    #[serde(rename = "nextFundingTime", borrow, default)]
    next_funding_time: &'a str,
    #[serde(borrow)]
    ts: &'a str,
}

/// One element of `open-interest` data:
/// `{"instId":"LTC-USD-SWAP","instType":"SWAP","oi":"5000","oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}`.
#[derive(Debug, Deserialize)]
struct Interest<'a> {
    #[serde(rename = "instId", borrow)]
    inst_id: &'a str,
    #[serde(borrow, default)]
    oi: &'a str,
    #[serde(rename = "oiUsd", borrow, default)]
    oi_usd: &'a str,
    #[serde(borrow)]
    ts: &'a str,
}

/// One element of `mark-price` data:
/// `{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"42310.6","ts":"1630049139746"}`.
#[derive(Debug, Deserialize)]
struct Mark<'a> {
    #[serde(rename = "instId", borrow)]
    inst_id: &'a str,
    #[serde(rename = "markPx", borrow)]
    mark_px: &'a str,
    #[serde(borrow)]
    ts: &'a str,
}

/// One element of `index-tickers` data:
/// `{"instId":"BTC-USDT","idxPx":"0.1","high24h":"0.5","low24h":"0.1","open24h":"0.1","sodUtc0":"0.1","sodUtc8":"0.1","ts":"1597026383085"}`.
#[derive(Debug, Deserialize)]
struct IndexTicker<'a> {
    #[serde(rename = "instId", borrow)]
    inst_id: &'a str,
    #[serde(rename = "idxPx", borrow)]
    idx_px: &'a str,
    #[serde(borrow)]
    ts: &'a str,
}

/// One element of `liquidation-orders` data:
/// `{"details":[{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],
/// "instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}`.
#[derive(Debug, Deserialize)]
struct LiquidationOrders<'a> {
    #[serde(rename = "instId", borrow)]
    inst_id: &'a str,
    #[serde(borrow)]
    details: Vec<LiquidationDetail<'a>>,
}

#[derive(Debug, Deserialize)]
struct LiquidationDetail<'a> {
    #[serde(rename = "bkPx", borrow)]
    bk_px: &'a str,
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow)]
    sz: &'a str,
    #[serde(borrow)]
    ts: &'a str,
}

/// The funding interval between two funding times, as bar intervals are written.
fn interval(from_ms: i64, to_ms: i64) -> Option<String> {
    let gap = to_ms.checked_sub(from_ms).filter(|gap| *gap > 0)?;
    if gap % 3_600_000 == 0 {
        Some(format!("{}h", gap / 3_600_000))
    } else if gap % 60_000 == 0 {
        Some(format!("{}m", gap / 60_000))
    } else {
        None
    }
}

fn optional(field: &str, text: &str) -> Result<Option<f64>, Rejection> {
    if text.is_empty() {
        return Ok(None);
    }
    number(field, text).map(Some)
}

fn optional_millis(field: &str, text: &str) -> Result<Option<Timestamp>, Rejection> {
    if text.is_empty() {
        return Ok(None);
    }
    millis_text(field, text).map(Some)
}

/// The derivatives channels of one OKX source: what to keep of `liquidation-orders`.
#[derive(Debug, Default)]
pub struct OkxDerivatives {
    /// The configured instrument ids (`liquidation-orders` carries every instrument of a type).
    configured: HashSet<String>,
}

impl OkxDerivatives {
    pub fn set_symbols(&mut self, symbols: &[String]) {
        self.configured = symbols.iter().cloned().collect();
    }

    /// A push of one of the channels above; `false` when `channel` is none of them.
    pub fn push(&self, channel: &str, data: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<bool, Rejection> {
        let records = match channel {
            FUNDING_RATE => funding(data, received_at)?,
            OPEN_INTEREST => open_interest(data, received_at)?,
            MARK_PRICE => mark_price(data, received_at)?,
            INDEX_TICKERS => index_tickers(data, received_at)?,
            LIQUIDATIONS => self.liquidations(data, received_at)?,
            _ => return Ok(false),
        };
        parsed.records.extend(records);
        Ok(true)
    }

    fn liquidations(&self, data: &str, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
        let elements: Vec<LiquidationOrders> = serde_json::from_str(data).map_err(|error| invalid(LIQUIDATIONS, error))?;
        let mut records = Vec::new();
        for element in elements.iter().filter(|element| self.configured.contains(element.inst_id)) {
            for detail in &element.details {
                let side = match detail.side {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    other => {
                        return Err(Rejection::new(
                            RejectReason::InvalidField,
                            format!("`details[].side`: expected \"buy\" or \"sell\", got \"{other}\""),
                        ))
                    }
                };
                records.push(Record::Liquidation(Liquidation {
                    time: millis_text("details[].ts", detail.ts)?,
                    received_at,
                    venue: VENUE.into(),
                    symbol: element.inst_id.to_string(),
                    side,
                    price: number("details[].bkPx", detail.bk_px)?,
                    quantity: number("details[].sz", detail.sz)?,
                    order_id: None,
                }));
            }
        }
        Ok(records)
    }
}

fn funding(data: &str, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
    let elements: Vec<Funding> = serde_json::from_str(data).map_err(|error| invalid(FUNDING_RATE, error))?;
    let mut records = Vec::with_capacity(elements.len());
    for element in &elements {
        let next_funding_time = optional_millis("fundingTime", element.funding_time)?;
        let following = optional_millis("nextFundingTime", element.next_funding_time)?;
        let interval = match (next_funding_time, following) {
            (Some(from), Some(to)) => interval(from.micros() / 1_000, to.micros() / 1_000),
            _ => None,
        };
        records.push(Record::FundingRate(FundingRate {
            time: millis_text("ts", element.ts)?,
            received_at,
            venue: VENUE.into(),
            symbol: element.inst_id.to_string(),
            rate: number("fundingRate", element.funding_rate)?,
            predicted_rate: optional("nextFundingRate", element.next_funding_rate)?,
            next_funding_time,
            interval,
        }));
    }
    Ok(records)
}

fn open_interest(data: &str, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
    let elements: Vec<Interest> = serde_json::from_str(data).map_err(|error| invalid(OPEN_INTEREST, error))?;
    let mut records = Vec::with_capacity(elements.len());
    for element in &elements {
        let (contracts, notional) = (optional("oi", element.oi)?, optional("oiUsd", element.oi_usd)?);
        if contracts.is_none() && notional.is_none() {
            return Err(Rejection::new(RejectReason::MissingField, "open-interest: neither `oi` nor `oiUsd`"));
        }
        records.push(Record::OpenInterest(OpenInterest {
            time: millis_text("ts", element.ts)?,
            received_at,
            venue: VENUE.into(),
            symbol: element.inst_id.to_string(),
            contracts,
            notional,
        }));
    }
    Ok(records)
}

fn mark_price(data: &str, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
    let elements: Vec<Mark> = serde_json::from_str(data).map_err(|error| invalid(MARK_PRICE, error))?;
    let mut records = Vec::with_capacity(elements.len());
    for element in &elements {
        records.push(Record::MarkPrice(MarkPrice {
            time: millis_text("ts", element.ts)?,
            received_at,
            venue: VENUE.into(),
            symbol: element.inst_id.to_string(),
            mark_price: Some(number("markPx", element.mark_px)?),
            index_price: None,
        }));
    }
    Ok(records)
}

fn index_tickers(data: &str, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
    let elements: Vec<IndexTicker> = serde_json::from_str(data).map_err(|error| invalid(INDEX_TICKERS, error))?;
    let mut records = Vec::with_capacity(elements.len());
    for element in &elements {
        records.push(Record::MarkPrice(MarkPrice {
            time: millis_text("ts", element.ts)?,
            received_at,
            venue: VENUE.into(),
            symbol: element.inst_id.to_string(),
            mark_price: None,
            index_price: Some(number("idxPx", element.idx_px)?),
        }));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn instrument_types_and_indexes() {
        assert_eq!(inst_type("BTC-USDT-SWAP"), "SWAP");
        assert_eq!(inst_type("BTC-USD-250328"), "FUTURES");
        assert_eq!(inst_type("BTC-USD-250328-100000-C"), "OPTION");
        assert_eq!(inst_type("BTC-USDT"), "SPOT");
        assert_eq!(index_of("BTC-USDT-SWAP").as_deref(), Some("BTC-USDT"));
        assert_eq!(index_of("BTC-USD-250328").as_deref(), Some("BTC-USD"));
        assert_eq!(index_of("BTC-USDT"), None);
        assert_eq!(interval(1_700_726_400_000, 1_700_755_200_000).as_deref(), Some("8h"));
        assert_eq!(interval(1_700_726_400_000, 1_700_726_400_000), None);
    }

    #[test]
    fn documented_pushes_become_records() {
        let derivatives = OkxDerivatives::default();
        let mut parsed = Parsed::default();
        let funding_data = r#"[{"formulaType":"noRate","fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"","instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1700755200000","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033","settState":"settled","sign":"","ts":"1700724675402"}]"#;
        assert!(derivatives.push(FUNDING_RATE, funding_data, at(1), &mut parsed).unwrap());
        assert_eq!(
            parsed.records,
            [Record::FundingRate(FundingRate {
                time: at(1_700_724_675_402),
                received_at: at(1),
                venue: "okx".into(),
                symbol: "BTC-USD-SWAP".into(),
                rate: 0.0001875391284828,
                predicted_rate: None,
                next_funding_time: Some(at(1_700_726_400_000)),
                interval: Some("8h".into()),
            })]
        );
        let mut parsed = Parsed::default();
        let bad = r#"[{"instId":"BTC-USD-SWAP","oi":"","oiUsd":"","ts":"1"}]"#;
        assert_eq!(derivatives.push(OPEN_INTEREST, bad, at(1), &mut parsed).unwrap_err().code, RejectReason::MissingField);
        let liquidation = r#"[{"details":[{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"}]"#;
        assert!(derivatives.push(LIQUIDATIONS, liquidation, at(1), &mut parsed).unwrap());
        assert!(parsed.records.is_empty(), "an instrument not configured is not kept");
        let mut configured = OkxDerivatives::default();
        configured.set_symbols(&["IOST-USDT-SWAP".to_string()]);
        configured.push(LIQUIDATIONS, liquidation, at(1), &mut parsed).unwrap();
        assert_eq!(
            parsed.records,
            [Record::Liquidation(Liquidation {
                time: at(1_692_266_434_010),
                received_at: at(1),
                venue: "okx".into(),
                symbol: "IOST-USDT-SWAP".into(),
                side: Side::Buy,
                price: 0.007831,
                quantity: 13.0,
                order_id: None,
            })]
        );
        assert!(!configured.push("trades", "[]", at(1), &mut parsed).unwrap());
    }
}
