//! The `instruments` channel of the linear and inverse sources: each configured symbol's
//! specification from Bybit V5 "Get Instruments Info"
//! (bybit-exchange.github.io/docs/v5/market/instrument),
//! `GET /v5/market/instruments-info?category={linear|inverse}&symbol={symbol}`, fetched as
//! a connection opens and then every `instruments_poll_ms`, each answer handed to
//! [`SpecVersions`] (a version row; an `instrument_changed` event when it changed).
//!
//! The mapping: `contractType` `LinearPerpetual` / `InversePerpetual` → a perpetual,
//! `LinearFutures` / `InverseFutures` → a future (linear or inverse as named);
//! `baseCoin`, `quoteCoin`, `settleCoin`; `priceFilter.tickSize` → tick size;
//! `lotSizeFilter.qtyStep` → lot size, `.minOrderQty` → minimum size,
//! `.minNotionalValue` (linear only) → minimum notional; a contract size of 1 (linear
//! quantities are in the base coin, an inverse contract is 1 USD); `deliveryTime` →
//! expiry for futures only (on a perpetual it is a delisting time, or `"0"`); `status`
//! `PreLaunch` → pending, `Trading` → trading, `Settling` / `Delivering` → halted,
//! `Closed` → delisted.
//!
//! One request per symbol (weight 1; Bybit allows 600 requests per 5 s per IP, "Rate
//! Limit Rules", bybit-exchange.github.io/docs/v5/rate-limit). A venue error (`retCode`
//! not 0), an answer without the symbol or a final HTTP failure is a dead letter, and
//! the poll goes on: the next round is asked for whatever the answer.

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use super::category::Category;
use crate::record::{ContractType, InstrumentKind, InstrumentSpec, InstrumentStatus, RejectReason, Rejection, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, RestSpec, SpecVersions};
use crate::source::values::{decimal, millis};

/// Bybit's REST base.
pub const REST_BASE: &str = "https://api.bybit.com";
/// 600 requests per 5 s, as weight per minute.
pub const WEIGHT_PER_MINUTE: u32 = 600 * 12;
/// The tag of an instruments fetch: this prefix and the venue symbol.
const TAG_PREFIX: &str = "instruments ";

/// The answer: `{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[…],"nextPageCursor":""},"retExtInfo":{},"time":1735809771618}`.
#[derive(Debug, Deserialize)]
struct Answer<'a> {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(rename = "retMsg", borrow, default)]
    ret_msg: Cow<'a, str>,
    #[serde(default, borrow)]
    result: Option<AnswerResult<'a>>,
}

#[derive(Debug, Deserialize)]
struct AnswerResult<'a> {
    #[serde(borrow, default)]
    list: Vec<InstrumentInfo<'a>>,
}

/// One element of `result.list` (linear): `{"symbol":"BTCUSDT","contractType":"LinearPerpetual","status":"Trading",
/// "baseCoin":"BTC","quoteCoin":"USDT","launchTime":"1585526400000","deliveryTime":"0","deliveryFeeRate":"",
/// "priceScale":"2","leverageFilter":{"minLeverage":"1","maxLeverage":"100.00","leverageStep":"0.01"},
/// "priceFilter":{"minPrice":"0.10","maxPrice":"1999999.80","tickSize":"0.10"},"lotSizeFilter":{"maxOrderQty":"1190.000",
/// "minOrderQty":"0.001","qtyStep":"0.001","postOnlyMaxOrderQty":"1190.000","maxMktOrderQty":"500.000","minNotionalValue":"5"},
/// "unifiedMarginTrade":true,"fundingInterval":480,"settleCoin":"USDT","copyTrading":"both",
/// "upperFundingRate":"0.00375","lowerFundingRate":"-0.00375"}`.
#[derive(Debug, Deserialize)]
struct InstrumentInfo<'a> {
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    #[serde(rename = "contractType", borrow)]
    contract_type: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(rename = "baseCoin", borrow, default)]
    base_coin: Cow<'a, str>,
    #[serde(rename = "quoteCoin", borrow, default)]
    quote_coin: Cow<'a, str>,
    #[serde(rename = "settleCoin", borrow, default)]
    settle_coin: Cow<'a, str>,
    #[serde(rename = "deliveryTime", borrow, default)]
    delivery_time: Cow<'a, str>,
    #[serde(rename = "priceFilter", borrow)]
    price_filter: PriceFilter<'a>,
    #[serde(rename = "lotSizeFilter", borrow)]
    lot_size_filter: LotSizeFilter<'a>,
}

#[derive(Debug, Deserialize)]
struct PriceFilter<'a> {
    #[serde(rename = "tickSize", borrow)]
    tick_size: Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
struct LotSizeFilter<'a> {
    #[serde(rename = "qtyStep", borrow)]
    qty_step: Cow<'a, str>,
    #[serde(rename = "minOrderQty", borrow, default)]
    min_order_qty: Option<Cow<'a, str>>,
    #[serde(rename = "minNotionalValue", borrow, default)]
    min_notional_value: Option<Cow<'a, str>>,
}

/// The instruments poll of one source.
#[derive(Debug)]
pub struct Instruments {
    category: Category,
    /// Venue symbols (capitals) of the configured symbols, when `instruments` is configured.
    symbols: Vec<String>,
    interval: Duration,
    versions: SpecVersions,
}

impl Instruments {
    pub fn new(category: Category) -> Instruments {
        Instruments { category, symbols: Vec::new(), interval: Duration::from_secs(3_600), versions: SpecVersions::default() }
    }

    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// The symbols to poll (none: the channel is not configured).
    pub fn set_symbols(&mut self, symbols: Vec<String>) {
        self.symbols = symbols;
    }

    pub fn rest(&self) -> Option<RestSpec> {
        match self.category {
            Category::Spot => None,
            Category::Linear | Category::Inverse => {
                Some(RestSpec { base_url: REST_BASE.to_string(), weight_per_minute: WEIGHT_PER_MINUTE })
            }
        }
    }

    /// One fetch per configured symbol.
    pub fn initial_fetches(&self) -> Vec<Fetch> {
        self.symbols
            .iter()
            .map(|symbol| {
                Fetch::get(
                    format!("{TAG_PREFIX}{symbol}"),
                    format!("/v5/market/instruments-info?category={}&symbol={symbol}", self.category.rest_category()),
                    1,
                )
            })
            .collect()
    }

    /// Whether this is an instruments fetch.
    pub fn owns(fetch: &Fetch) -> bool {
        fetch.tag.starts_with(TAG_PREFIX)
    }

    /// An answer: its spec (or a dead letter), and the next round.
    pub fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp, parsed: &mut Parsed) {
        parsed.fetches.push(fetch.clone().after(self.interval));
        let venue_symbol = fetch.tag.strip_prefix(TAG_PREFIX).unwrap_or(fetch.tag.as_str());
        let spec = outcome
            .map_err(|error| Rejection::new(RejectReason::InvalidRecord, error.to_string()))
            .and_then(|body| self.spec(venue_symbol, body));
        match spec {
            Ok(spec) => self.versions.observe(spec, received_at, parsed),
            Err(rejection) => {
                let raw = outcome.map_or_else(|_| format!("{} {}", fetch.tag, fetch.path), str::to_string);
                let detail = format!("instruments-info of {venue_symbol}: {}", rejection.detail);
                parsed.rejected.push((Rejection::new(rejection.code, detail), raw));
            }
        }
    }

    fn spec(&self, venue_symbol: &str, body: &str) -> Result<InstrumentSpec, Rejection> {
        let answer: Answer = serde_json::from_str(body).map_err(|error| invalid("instruments-info", error))?;
        if answer.ret_code != 0 {
            return Err(Rejection::new(RejectReason::InvalidRecord, format!("retCode {}: {}", answer.ret_code, answer.ret_msg)));
        }
        let info = answer
            .result
            .into_iter()
            .flat_map(|result| result.list)
            .find(|info| info.symbol == venue_symbol)
            .ok_or_else(|| Rejection::new(RejectReason::InvalidRecord, "the answer does not list the symbol"))?;
        let (kind, contract_type) = match &*info.contract_type {
            "LinearPerpetual" => (InstrumentKind::Perpetual, ContractType::Linear),
            "LinearFutures" => (InstrumentKind::Future, ContractType::Linear),
            "InversePerpetual" => (InstrumentKind::Perpetual, ContractType::Inverse),
            "InverseFutures" => (InstrumentKind::Future, ContractType::Inverse),
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("`contractType`: expected LinearPerpetual, LinearFutures, InversePerpetual or InverseFutures, got \"{other}\""),
                ))
            }
        };
        let status = match &*info.status {
            "PreLaunch" => InstrumentStatus::Pending,
            "Trading" => InstrumentStatus::Trading,
            "Settling" | "Delivering" => InstrumentStatus::Halted,
            "Closed" => InstrumentStatus::Delisted,
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("`status`: expected PreLaunch, Trading, Settling, Delivering or Closed, got \"{other}\""),
                ))
            }
        };
        let text = |value: &str| (!value.is_empty()).then(|| value.to_string());
        let optional = |name: &str, value: Option<&str>| match value {
            None | Some("") => Ok(None),
            Some(value) => decimal(name, value).map(Some),
        };
        let mut spec = InstrumentSpec::new(self.category.venue(), &self.category.symbol(venue_symbol), venue_symbol, kind, status);
        spec.contract_type = Some(contract_type);
        spec.base_currency = text(&info.base_coin);
        spec.quote_currency = text(&info.quote_coin);
        spec.settle_currency = text(&info.settle_coin);
        spec.tick_size = Some(positive("priceFilter.tickSize", &info.price_filter.tick_size)?);
        spec.lot_size = Some(positive("lotSizeFilter.qtyStep", &info.lot_size_filter.qty_step)?);
        spec.min_size = optional("lotSizeFilter.minOrderQty", info.lot_size_filter.min_order_qty.as_deref())?;
        spec.min_notional = optional("lotSizeFilter.minNotionalValue", info.lot_size_filter.min_notional_value.as_deref())?;
        spec.contract_size = Some(1.0);
        spec.expiry = match (kind, &*info.delivery_time) {
            (InstrumentKind::Future, "" | "0") | (InstrumentKind::Perpetual, _) => None,
            (_, text) => {
                let ms = text.parse::<i64>().map_err(|_| {
                    Rejection::new(RejectReason::InvalidField, format!("`deliveryTime`: expected milliseconds, got \"{text}\""))
                })?;
                Some(millis("deliveryTime", ms)?)
            }
        };
        Ok(spec)
    }
}

/// An increment: a number above zero.
fn positive(name: &str, text: &str) -> Result<f64, Rejection> {
    let value = decimal(name, text)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(Rejection::new(RejectReason::OutOfRange, format!("`{name}`: expected a number above 0, got \"{text}\"")))
    }
}
