//! Hyperliquid instrument reference data: `POST /info` with `{"type":"meta"}` ("Info
//! endpoint → Perpetuals: retrieve perpetuals metadata"), polled on every connection and
//! every `instruments_poll_ms`. Each `universe` entry of a configured coin becomes an
//! [`InstrumentSpec`]: a linear perpetual settled in USDC (base the coin, quote USDC,
//! contract size 1: sizes are in the coin), status `delisted` when `isDelisted`, else
//! `trading`.
//!
//! Sizes: `lot_size` is 10^−szDecimals ("Tick and lot size": sizes are rounded to
//! `szDecimals`). Prices: Hyperliquid has no fixed tick. A price may have at most 5
//! significant figures and at most 6 − szDecimals decimals (integers are always
//! allowed), so the increment depends on the price. `tick_size` stores the decimals
//! bound, 10^−(6 − szDecimals): the finest increment the venue ever allows for the coin.
//! At prices with more than one integer digit the 5-significant-figure rule is coarser
//! (BTC at 97 000 moves by 1, not by 0.1): a reader needing the increment at a price
//! applies that rule as well. A change of `szDecimals` changes both and makes a new
//! version. `min_size` and `min_notional` are not in the answer and stay NULL.

use super::wire::{Asset, Meta};
use crate::record::{ContractType, InstrumentKind, InstrumentSpec, InstrumentStatus, RejectReason, Rejection};
use crate::source::feed::fields::invalid_record as invalid;

/// The path and body of the request, and its weight in Hyperliquid's budget (1200 a
/// minute per IP; `meta` weighs 20, "Rate limits").
pub const INFO_PATH: &str = "/info";
pub const META_BODY: &str = r#"{"type":"meta"}"#;
pub const META_WEIGHT: u32 = 20;
/// Price decimals of a perpetual at most, before `szDecimals` is taken off.
const MAX_PRICE_DECIMALS: u32 = 6;

/// Specs read, and entries refused (each with its text).
pub type Specs = (Vec<InstrumentSpec>, Vec<(Rejection, String)>);

/// The specs of the configured `coins` in a `meta` answer (`symbol` gives our symbol for
/// a coin), and each configured entry that could not be read, with its text.
pub fn specs(body: &str, coins: &[String], symbol: impl Fn(&str) -> String) -> Result<Specs, Rejection> {
    let meta: Meta = serde_json::from_str(body).map_err(|error| invalid("meta", error))?;
    let mut specs = Vec::new();
    let mut rejected = Vec::new();
    for entry in &meta.universe {
        let Some(name) = entry.get("name").and_then(|name| name.as_str()) else { continue };
        if !coins.iter().any(|coin| coin == name) {
            continue;
        }
        match serde_json::from_value::<Asset>(entry.clone()).map_err(|error| invalid("meta universe entry", error)).and_then(spec_of) {
            Ok(mut spec) => {
                spec.symbol = symbol(name);
                specs.push(spec);
            }
            Err(rejection) => rejected.push((rejection, entry.to_string())),
        }
    }
    Ok((specs, rejected))
}

fn spec_of(asset: Asset) -> Result<InstrumentSpec, Rejection> {
    if asset.sz_decimals > MAX_PRICE_DECIMALS {
        return Err(Rejection::new(
            RejectReason::InvalidField,
            format!("`szDecimals`: expected at most {MAX_PRICE_DECIMALS} for a perpetual, got {}", asset.sz_decimals),
        ));
    }
    let status = if asset.is_delisted { InstrumentStatus::Delisted } else { InstrumentStatus::Trading };
    let mut spec = InstrumentSpec::new("hyperliquid", &asset.name, &asset.name, InstrumentKind::Perpetual, status);
    spec.contract_type = Some(ContractType::Linear);
    spec.base_currency = Some(asset.name.clone());
    spec.quote_currency = Some("USDC".into());
    spec.settle_currency = Some("USDC".into());
    spec.lot_size = Some(power_of_ten(asset.sz_decimals));
    spec.tick_size = Some(power_of_ten(MAX_PRICE_DECIMALS - asset.sz_decimals));
    spec.contract_size = Some(1.0);
    Ok(spec)
}

/// 10^−decimals as the nearest double to the decimal (`0.001`, not `0.1 * 0.1 * 0.1`).
fn power_of_ten(decimals: u32) -> f64 {
    format!("1e-{decimals}").parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},{"name":"ETH","szDecimals":4,"maxLeverage":50},{"name":"HPOS","szDecimals":0,"maxLeverage":3,"onlyIsolated":true},{"name":"LOOM","szDecimals":1,"maxLeverage":3,"onlyIsolated":true,"isDelisted":true}],"marginTables":[]}"#;

    #[test]
    fn configured_coins_become_specs() {
        let coins = ["BTC".to_string(), "LOOM".to_string(), "NOPE".to_string()];
        let (specs, rejected) = specs(META, &coins, |coin| format!("{coin}-USD")).unwrap();
        assert!(rejected.is_empty());
        assert_eq!(specs.len(), 2, "configured coins only");
        let btc = &specs[0];
        assert_eq!(
            (btc.symbol.as_str(), btc.venue_symbol.as_str(), btc.kind, btc.status),
            ("BTC-USD", "BTC", InstrumentKind::Perpetual, InstrumentStatus::Trading)
        );
        assert_eq!((btc.lot_size, btc.tick_size, btc.contract_size), (Some(0.00001), Some(0.1), Some(1.0)));
        assert_eq!(
            (btc.quote_currency.as_deref(), btc.settle_currency.as_deref(), btc.contract_type),
            (Some("USDC"), Some("USDC"), Some(ContractType::Linear))
        );
        assert_eq!((specs[1].status, specs[1].lot_size, specs[1].tick_size), (InstrumentStatus::Delisted, Some(0.1), Some(0.00001)));
    }

    #[test]
    fn a_bad_entry_is_rejected_alone_and_a_bad_answer_whole() {
        let body = r#"{"universe":[{"name":"BTC","szDecimals":"five"},{"name":"ETH","szDecimals":9},{"name":"SOL","szDecimals":2}]}"#;
        let coins = ["BTC".to_string(), "ETH".to_string(), "SOL".to_string()];
        let (specs, rejected) = specs(body, &coins, |coin| coin.to_string()).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(rejected.len(), 2);
        assert!(rejected[1].0.detail.contains("szDecimals"), "{:?}", rejected[1]);
        assert!(super::specs("[]", &coins, |coin| coin.to_string()).is_err());
    }
}
