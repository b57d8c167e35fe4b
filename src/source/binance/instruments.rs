//! Binance `instruments`: the configured symbols' reference data from the exchange
//! information endpoint, fetched as a connection opens and every `instruments_poll_ms`,
//! each symbol's spec handed to [`SpecVersions`] (a new `instrument_specs` version and an
//! `instrument_changed` event when it changed).
//!
//! Sources: USDⓈ-M "Exchange Information" (developers.binance.com/docs/derivatives/
//! usds-margined-futures/market-data/rest-api/Exchange-Information), `GET /fapi/v1/exchangeInfo`,
//! weight 1, every contract at once (a few MB: `max_message_bytes` must hold it); spot
//! "Exchange information" (developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints),
//! `GET /api/v3/exchangeInfo?symbols=["BTCUSDT",…]`, weight 20, the configured pairs only
//! (the venue refuses the whole request, `-1121 Invalid symbol.`, when one is unknown).
//! Filters (".../filters"): `PRICE_FILTER.tickSize` → `tick_size`, `LOT_SIZE.stepSize` →
//! `lot_size`, `LOT_SIZE.minQty` → `min_size`, `MIN_NOTIONAL.notional` (futures) or
//! `NOTIONAL` / `MIN_NOTIONAL` `.minNotional` (spot) → `min_notional`; a 0 (the rule
//! disabled) is NULL.
//!
//! Futures: `contractType` `PERPETUAL` (and `PERPETUAL_DELIVERING`)
//! is a perpetual, `CURRENT_MONTH`, `NEXT_MONTH`, `CURRENT_QUARTER`, `NEXT_QUARTER` a
//! future expiring at `deliveryDate`; every USDⓈ-M contract is linear, counted in the base
//! asset (contract size 1), settled in `marginAsset`. Status (`status`): `TRADING` →
//! trading; `PENDING_TRADING`, `PRE_TRADING` → pending; `BREAK`, `HALT`, `END_OF_DAY`,
//! `POST_TRADING`, `AUCTION_MATCH`, `PRE_DELIVERING`, `DELIVERING`, `PRE_SETTLE`, `SETTLING`
//! → halted; `DELIVERED`, `CLOSE`, `DELISTED`, `CANCELLED` → delisted. A symbol with
//! another contract type or status is dead-lettered (its spec would be a guess); so is a
//! configured symbol the answer does not list.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::record::{ContractType, InstrumentKind, InstrumentSpec, InstrumentStatus, RejectReason, Rejection, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, SpecVersions};
use crate::source::symbols::split_quote_asset;
use crate::source::values::{millis, number};

pub const FUTURES_PATH: &str = "/fapi/v1/exchangeInfo";
pub const SPOT_PATH: &str = "/api/v3/exchangeInfo";
const FUTURES_WEIGHT: u32 = 1;
const SPOT_WEIGHT: u32 = 20;

#[derive(Debug, Deserialize)]
struct ExchangeInfo {
    symbols: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SymbolInfo {
    symbol: String,
    status: String,
    base_asset: Option<String>,
    quote_asset: Option<String>,
    margin_asset: Option<String>,
    contract_type: Option<String>,
    delivery_date: Option<i64>,
    #[serde(default)]
    filters: Vec<Value>,
}

/// The `instruments` channel of one Binance source.
#[derive(Debug)]
pub struct BinanceInstruments {
    futures: bool,
    venue: &'static str,
    /// The configured symbols (venue spelling, upper case), in order; empty: not configured.
    symbols: Vec<String>,
    interval: Duration,
    versions: SpecVersions,
}

impl BinanceInstruments {
    pub fn new(futures: bool, venue: &'static str) -> BinanceInstruments {
        BinanceInstruments { futures, venue, symbols: Vec::new(), interval: Duration::from_secs(3_600), versions: SpecVersions::default() }
    }

    pub fn set_poll_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// The configured symbols, when the channel is configured (none otherwise).
    pub fn configure(&mut self, symbols: &[String]) {
        let mut seen = HashSet::new();
        self.symbols = symbols.iter().map(|symbol| symbol.to_ascii_uppercase()).filter(|symbol| seen.insert(symbol.clone())).collect();
    }

    /// The first fetch of a connection, if the channel is configured.
    pub fn initial_fetches(&self) -> Vec<Fetch> {
        if self.symbols.is_empty() {
            return Vec::new();
        }
        if self.futures {
            return vec![Fetch::get("exchangeInfo", FUTURES_PATH, FUTURES_WEIGHT)];
        }
        // `symbols=["BTCUSDT","ETHUSDT"]`, URL-encoded.
        let quoted: Vec<String> = self.symbols.iter().map(|symbol| format!("%22{symbol}%22")).collect();
        vec![Fetch::get("exchangeInfo", format!("{SPOT_PATH}?symbols=%5B{}%5D", quoted.join("%2C")), SPOT_WEIGHT)]
    }

    /// The answer: a spec per configured symbol, and the next fetch (after a failure too).
    pub fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp, parsed: &mut Parsed) {
        parsed.fetches.push(fetch.clone().after(self.interval));
        let body = match outcome {
            Ok(body) => body,
            Err(error) => {
                let rejection = Rejection::new(RejectReason::InvalidRecord, format!("exchange information: {error}"));
                parsed.rejected.push((rejection, format!("{} {}: {error}", fetch.tag, fetch.path)));
                return;
            }
        };
        let info: ExchangeInfo = match serde_json::from_str(body) {
            Ok(info) => info,
            Err(error) => {
                parsed.rejected.push((invalid("exchangeInfo", error), body.to_string()));
                return;
            }
        };
        let mut found = HashSet::new();
        for entry in &info.symbols {
            let Some(symbol) = entry.get("symbol").and_then(Value::as_str) else { continue };
            if !self.symbols.iter().any(|wanted| wanted == symbol) || !found.insert(symbol.to_string()) {
                continue;
            }
            match self.spec(entry) {
                Ok(spec) => self.versions.observe(spec, received_at, parsed),
                Err(rejection) => parsed.rejected.push((rejection, entry.to_string())),
            }
        }
        for missing in self.symbols.iter().filter(|symbol| !found.contains(*symbol)) {
            let rejection = Rejection::new(RejectReason::InvalidRecord, format!("exchange information lists no symbol {missing}"));
            parsed.rejected.push((rejection, format!("{} {}", fetch.tag, fetch.path)));
        }
    }

    fn spec(&self, entry: &Value) -> Result<InstrumentSpec, Rejection> {
        let info = SymbolInfo::deserialize(entry).map_err(|error| invalid("exchangeInfo symbol", error))?;
        let status = status(&info.status)?;
        let kind = if self.futures {
            match info.contract_type.as_deref().unwrap_or("") {
                "PERPETUAL" | "PERPETUAL_DELIVERING" => InstrumentKind::Perpetual,
                "CURRENT_MONTH" | "NEXT_MONTH" | "CURRENT_QUARTER" | "NEXT_QUARTER" => InstrumentKind::Future,
                other => {
                    return Err(Rejection::new(
                        RejectReason::InvalidField,
                        format!("{}: `contractType` is {other:?}; expected PERPETUAL or a delivery contract type", info.symbol),
                    ))
                }
            }
        } else {
            InstrumentKind::Spot
        };
        let mut spec = InstrumentSpec::new(self.venue, &split_quote_asset(&info.symbol), &info.symbol, kind, status);
        spec.base_currency = info.base_asset;
        spec.quote_currency = info.quote_asset;
        if self.futures {
            spec.contract_type = Some(ContractType::Linear);
            spec.settle_currency = info.margin_asset;
            spec.contract_size = Some(1.0);
            if kind == InstrumentKind::Future {
                let delivery = info.delivery_date.ok_or_else(|| {
                    Rejection::new(RejectReason::MissingField, format!("{}: a delivery contract without `deliveryDate`", info.symbol))
                })?;
                spec.expiry = Some(millis("deliveryDate", delivery)?);
            }
        }
        for filter in &info.filters {
            match filter.get("filterType").and_then(Value::as_str) {
                Some("PRICE_FILTER") => spec.tick_size = enabled(filter, "tickSize")?,
                Some("LOT_SIZE") => {
                    spec.lot_size = enabled(filter, "stepSize")?;
                    spec.min_size = enabled(filter, "minQty")?;
                }
                Some("MIN_NOTIONAL") if self.futures => spec.min_notional = enabled(filter, "notional")?,
                Some("MIN_NOTIONAL" | "NOTIONAL") => spec.min_notional = enabled(filter, "minNotional")?,
                _ => {}
            }
        }
        Ok(spec)
    }
}

/// A filter's value; 0 (the rule disabled) or absent is `None`, a negative one refused.
fn enabled(filter: &Value, name: &str) -> Result<Option<f64>, Rejection> {
    let Some(value) = filter.get(name) else { return Ok(None) };
    let value = number(name, value)?;
    if value < 0.0 {
        return Err(Rejection::new(RejectReason::OutOfRange, format!("filter `{name}` is {value}; expected a number >= 0")));
    }
    Ok((value > 0.0).then_some(value))
}

fn status(text: &str) -> Result<InstrumentStatus, Rejection> {
    Ok(match text {
        "TRADING" => InstrumentStatus::Trading,
        "PENDING_TRADING" | "PRE_TRADING" => InstrumentStatus::Pending,
        "BREAK" | "HALT" | "END_OF_DAY" | "POST_TRADING" | "AUCTION_MATCH" | "PRE_DELIVERING" | "DELIVERING" | "PRE_SETTLE"
        | "SETTLING" => InstrumentStatus::Halted,
        "DELIVERED" | "CLOSE" | "DELISTED" | "CANCELLED" => InstrumentStatus::Delisted,
        other => return Err(Rejection::new(RejectReason::InvalidField, format!("`status` is {other:?}; not a Binance symbol status"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    /// The documented USDⓈ-M entry (BLZUSDT), and a quarterly contract.
    pub const FUTURES: &str = r#"{"timezone":"UTC","serverTime":1565613908500,"symbols":[
        {"symbol":"BLZUSDT","pair":"BLZUSDT","contractType":"PERPETUAL","deliveryDate":4133404800000,"onboardDate":1598252400000,"status":"TRADING","baseAsset":"BLZ","quoteAsset":"USDT","marginAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","maxPrice":"300","minPrice":"0.0001","tickSize":"0.0001"},{"filterType":"LOT_SIZE","maxQty":"10000000","minQty":"1","stepSize":"1"},{"filterType":"MIN_NOTIONAL","notional":"5.0"},{"filterType":"PERCENT_PRICE","multiplierUp":"1.1500","multiplierDown":"0.8500","multiplierDecimal":"4"}]},
        {"symbol":"BTCUSDT_250627","pair":"BTCUSDT","contractType":"CURRENT_QUARTER","deliveryDate":1751011200000,"status":"SETTLING","baseAsset":"BTC","quoteAsset":"USDT","marginAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.1"},{"filterType":"LOT_SIZE","minQty":"0.001","stepSize":"0.001"}]},
        {"symbol":"ETHUSDT","contractType":"PERPETUAL","status":"TRADING","filters":[]}]}"#;

    fn specs(parsed: &Parsed) -> Vec<serde_json::Value> {
        parsed
            .records
            .iter()
            .map(|record| match record {
                Record::Row(row) => serde_json::from_str(&row.json).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn futures_specs_of_the_configured_symbols_only() {
        let mut instruments = BinanceInstruments::new(true, "binance_futures");
        instruments.configure(&["blzusdt".into(), "BTCUSDT_250627".into()]);
        let fetch = &instruments.initial_fetches()[0];
        assert_eq!((fetch.path.as_str(), fetch.weight), ("/fapi/v1/exchangeInfo", 1));
        let mut parsed = Parsed::default();
        instruments.fetched(fetch, Ok(FUTURES), NOW, &mut parsed);
        let rows = specs(&parsed);
        assert_eq!(rows.len(), 2, "ETHUSDT is not configured");
        let blz = &rows[0];
        assert_eq!(
            (blz["symbol"].as_str(), blz["kind"].as_str(), blz["contract_type"].as_str()),
            (Some("BLZ-USDT"), Some("perpetual"), Some("linear"))
        );
        assert_eq!(
            (blz["tick_size"].as_f64(), blz["lot_size"].as_f64(), blz["min_size"].as_f64(), blz["min_notional"].as_f64()),
            (Some(0.0001), Some(1.0), Some(1.0), Some(5.0))
        );
        assert_eq!(
            (blz["settle_currency"].as_str(), blz["expiry"].is_null(), blz["status"].as_str()),
            (Some("USDT"), true, Some("trading"))
        );
        let quarter = &rows[1];
        assert_eq!((quarter["kind"].as_str(), quarter["status"].as_str()), (Some("future"), Some("halted")));
        assert_eq!(quarter["expiry"], "2025-06-27T08:00:00.000000Z");
        assert_eq!(parsed.fetches, [fetch.clone().after(Duration::from_secs(3_600))]);
        assert!(parsed.rejected.is_empty() && parsed.events.is_empty());
    }

    #[test]
    fn spot_asks_for_its_pairs_and_unknown_statuses_or_missing_symbols_are_refused() {
        let mut instruments = BinanceInstruments::new(false, "binance");
        assert!(instruments.initial_fetches().is_empty(), "not configured");
        instruments.configure(&["BTCUSDT".into(), "ethbtc".into()]);
        let fetch = &instruments.initial_fetches()[0];
        assert_eq!(fetch.path, "/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22%2C%22ETHBTC%22%5D");
        assert_eq!(fetch.weight, 20);
        let answer = r#"{"symbols":[{"symbol":"ETHBTC","status":"BREAK","baseAsset":"ETH","quoteAsset":"BTC","filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00000100","maxPrice":"100000.00000000","tickSize":"0.00000100"},{"filterType":"LOT_SIZE","minQty":"0.00010000","maxQty":"100000.00000000","stepSize":"0.00010000"},{"filterType":"NOTIONAL","minNotional":"0.00010000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}]},
            {"symbol":"BTCUSDT","status":"SOMETHING_NEW","filters":[]}]}"#;
        let mut parsed = Parsed::default();
        instruments.fetched(fetch, Ok(answer), NOW, &mut parsed);
        let rows = specs(&parsed);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0]["kind"].as_str(), rows[0]["status"].as_str(), rows[0]["contract_type"].is_null()),
            (Some("spot"), Some("halted"), true)
        );
        assert_eq!((rows[0]["tick_size"].as_f64(), rows[0]["min_notional"].as_f64()), (Some(0.000001), Some(0.0001)));
        assert_eq!(parsed.rejected.len(), 1);
        assert!(parsed.rejected[0].0.detail.contains("SOMETHING_NEW"), "{}", parsed.rejected[0].0.detail);
        let mut parsed = Parsed::default();
        instruments.fetched(fetch, Ok(r#"{"symbols":[]}"#), NOW, &mut parsed);
        assert_eq!(parsed.rejected.len(), 2, "both configured symbols missing");
        assert_eq!(parsed.fetches.len(), 1);
    }

    #[test]
    fn a_tick_size_change_is_an_instrument_changed_event() {
        let mut instruments = BinanceInstruments::new(true, "binance_futures");
        instruments.configure(&["BLZUSDT".into()]);
        let fetch = &instruments.initial_fetches()[0];
        let mut parsed = Parsed::default();
        instruments.fetched(fetch, Ok(FUTURES), NOW, &mut parsed);
        instruments.fetched(fetch, Ok(&FUTURES.replace(r#""tickSize":"0.0001""#, r#""tickSize":"0.001""#)), NOW, &mut parsed);
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.events[0].1["changes"], serde_json::json!({ "tick_size": { "from": 0.0001, "to": 0.001 } }));
    }
}
