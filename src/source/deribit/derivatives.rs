//! Deribit derivatives data → records (Deribit API v2 docs, "Subscriptions":
//! `ticker.{instrument_name}.{interval}`, `deribit_price_index.{index_name}`,
//! `trades.{instrument_name}.{interval}`).
//!
//! From the ticker of a future or perpetual (the channel the quotes use, subscribed once):
//! - `funding` (perpetuals only): Deribit accrues funding continuously rather than at
//!   funding times, and publishes two rates: `funding_8h`, the funding of the last
//!   8 hours, and `current_funding`, the rate accruing now. `rate` is `funding_8h` (an
//!   8-hour rate, comparable with the 8-hour rates of other venues; `interval` is `8h`),
//!   `predicted_rate` is `current_funding`, `next_funding_time` is NULL. A ticker without
//!   `funding_8h` gives no funding row.
//! - `open_interest`: `open_interest` is in USD for the inverse contracts (`BTC-PERPETUAL`,
//!   `BTC-27DEC24`: their amounts are USD) and is stored as the notional; for the linear
//!   ones (`BTC_USDC-PERPETUAL`) it is in the base currency and stored as `contracts`
//!   (base-currency units, as for Binance USDⓈ-M).
//! - `mark_price`: `mark_price` and `index_price`.
//!
//! `mark_price` also subscribes `deribit_price_index.{index}` for the configured symbols
//! that are index names (`btc_usd`: lower case with an underscore); its rows carry the
//! index name as `symbol`, `price` as the index price and a NULL mark. Index names
//! subscribe nothing else.
//!
//! `liquidations`: a trade of `trades.{instrument}.raw` with `liquidation` is a fill of a
//! liquidation order. `direction` is the taker's side, so with `"T"` (the taker was
//! liquidated) the liquidation order's side is `direction`, with `"M"` (the maker) the
//! opposite side, and with `"MT"` both sides were liquidation orders: two rows, one buy
//! and one sell. Price and `amount` as the trade's (USD for inverse contracts, the base
//! currency for linear ones); Deribit's public trades carry no order id.
//!
//! Option names have none of these (their tickers are option quotes).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::wire::{millis_raw, number, optional_number, Ticker, Trade};
use crate::record::{FundingRate, Liquidation, MarkPrice, OpenInterest, Record, RejectReason, Rejection, Side, Timestamp};
use crate::source::contracts::parse_deribit;
use crate::source::feed::fields::invalid_record as invalid;

const VENUE: &str = "deribit";
pub const PRICE_INDEX: &str = "deribit_price_index";

/// Whether a configured symbol is an index name (`btc_usd`) rather than an instrument.
pub fn is_index_name(symbol: &str) -> bool {
    symbol.contains('_') && symbol.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `data` of `deribit_price_index.{index_name}`: `{"timestamp":1550588002899,"price":3937.89,"index_name":"btc_usd"}`.
#[derive(Debug, Deserialize)]
struct PriceIndex<'a> {
    #[serde(borrow)]
    index_name: &'a str,
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    timestamp: &'a RawValue,
}

/// Which derivatives channels one Deribit source asked for.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeribitDerivatives {
    pub funding: bool,
    pub open_interest: bool,
    pub mark_price: bool,
    pub liquidations: bool,
}

impl DeribitDerivatives {
    /// Whether an instrument's ticker is needed for these channels.
    pub fn wants_ticker(&self) -> bool {
        self.funding || self.open_interest || self.mark_price
    }

    /// The funding, open interest and mark price rows of a ticker, as asked for.
    pub fn ticker(&self, ticker: &Ticker, time: Timestamp, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
        let mut records = Vec::new();
        let name = ticker.instrument_name;
        if !self.wants_ticker() || parse_deribit(name).is_ok() {
            return Ok(records);
        }
        let (venue, symbol) = (VENUE.to_string(), name.to_string());
        if self.funding && name.ends_with("PERPETUAL") {
            if let Some(rate) = optional_number("funding_8h", ticker.funding_8h)? {
                records.push(Record::FundingRate(FundingRate {
                    time,
                    received_at,
                    venue: venue.clone(),
                    symbol: symbol.clone(),
                    rate,
                    predicted_rate: optional_number("current_funding", ticker.current_funding)?,
                    next_funding_time: None,
                    interval: Some("8h".into()),
                }));
            }
        }
        if self.open_interest {
            if let Some(open_interest) = optional_number("open_interest", ticker.open_interest)? {
                let linear = name.split('-').next().is_some_and(|currency| currency.contains('_'));
                let (contracts, notional) = if linear { (Some(open_interest), None) } else { (None, Some(open_interest)) };
                records.push(Record::OpenInterest(OpenInterest {
                    time,
                    received_at,
                    venue: venue.clone(),
                    symbol: symbol.clone(),
                    contracts,
                    notional,
                }));
            }
        }
        if self.mark_price {
            let (mark_price, index_price) =
                (optional_number("mark_price", ticker.mark_price)?, optional_number("index_price", ticker.index_price)?);
            if mark_price.is_some() || index_price.is_some() {
                records.push(Record::MarkPrice(MarkPrice { time, received_at, venue, symbol, mark_price, index_price }));
            }
        }
        Ok(records)
    }

    /// The liquidation rows of a trade (none unless it carries `liquidation`).
    pub fn liquidations(&self, trade: &Trade, received_at: Timestamp) -> Result<Vec<Record>, Rejection> {
        let Some(which) = trade.liquidation.filter(|_| self.liquidations) else { return Ok(Vec::new()) };
        let taker = match trade.direction {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("`direction`: expected \"buy\" or \"sell\", got \"{other}\""),
                ))
            }
        };
        let maker = if taker == Side::Buy { Side::Sell } else { Side::Buy };
        let sides = match which {
            "T" => vec![taker],
            "M" => vec![maker],
            "MT" | "TM" => vec![taker, maker],
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("`liquidation`: expected \"M\", \"T\" or \"MT\", got \"{other}\""),
                ))
            }
        };
        let (time, price, quantity) =
            (millis_raw("timestamp", trade.timestamp)?, number("price", trade.price)?, number("amount", trade.amount)?);
        Ok(sides
            .into_iter()
            .map(|side| {
                Record::Liquidation(Liquidation {
                    time,
                    received_at,
                    venue: VENUE.into(),
                    symbol: trade.instrument_name.to_string(),
                    side,
                    price,
                    quantity,
                    order_id: None,
                })
            })
            .collect())
    }
}

/// A `deribit_price_index` notification: the index price, under the index's name.
pub fn price_index(data: &str, received_at: Timestamp) -> Result<Record, Rejection> {
    let index: PriceIndex = serde_json::from_str(data).map_err(|error| invalid(PRICE_INDEX, error))?;
    Ok(Record::MarkPrice(MarkPrice {
        time: millis_raw("timestamp", index.timestamp)?,
        received_at,
        venue: VENUE.into(),
        symbol: index.index_name.to_string(),
        mark_price: None,
        index_price: Some(number("price", index.price)?),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn liquidation_sides_follow_who_was_liquidated() {
        let all = DeribitDerivatives { liquidations: true, ..DeribitDerivatives::default() };
        let trade = |liquidation: &str| {
            format!(
                r#"{{"trade_seq":30289432,"trade_id":"48079254","timestamp":1590484156350,"tick_direction":0,"price":8950,"mark_price":8948.9,"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"sell","amount":10{liquidation}}}"#
            )
        };
        let sides = |text: &str| -> Vec<Side> {
            let trade: Trade = serde_json::from_str(text).unwrap();
            all.liquidations(&trade, at(1))
                .unwrap()
                .into_iter()
                .map(|record| match record {
                    Record::Liquidation(liquidation) => liquidation.side,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(sides(&trade("")), []);
        assert_eq!(sides(&trade(r#","liquidation":"T""#)), [Side::Sell]);
        assert_eq!(sides(&trade(r#","liquidation":"M""#)), [Side::Buy]);
        assert_eq!(sides(&trade(r#","liquidation":"MT""#)), [Side::Sell, Side::Buy]);
        let bad_text = trade(r#","liquidation":"X""#);
        let bad: Trade = serde_json::from_str(&bad_text).unwrap();
        assert_eq!(all.liquidations(&bad, at(1)).unwrap_err().code, RejectReason::InvalidField);
        assert!(is_index_name("btc_usd") && !is_index_name("BTC_USDC") && !is_index_name("BTC-PERPETUAL"));
        assert_eq!(
            price_index(r#"{"timestamp":1550588002899,"price":3937.89,"index_name":"btc_usd"}"#, at(1)).unwrap(),
            Record::MarkPrice(MarkPrice {
                time: at(1_550_588_002_899),
                received_at: at(1),
                venue: "deribit".into(),
                symbol: "btc_usd".into(),
                mark_price: None,
                index_price: Some(3937.89),
            })
        );
    }
}
