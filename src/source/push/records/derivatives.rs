//! The derivatives records: funding rates, open interest, mark and index prices,
//! liquidations.

use serde_json::Value;

use super::super::fields::{invalid, Fields};
use crate::record::{FundingRate, Liquidation, MarkPrice, OpenInterest, RejectReason, Rejection, Timestamp};

const FUNDING_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "rate", "predicted_rate", "next_funding_time", "interval"];
const OPEN_INTEREST_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "contracts", "notional"];
const MARK_PRICE_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "mark_price", "index_price"];
const LIQUIDATION_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "side", "price", "quantity", "order_id"];

pub(in crate::source::push) fn parse_funding(fields: &Fields<'_>, received_at: Timestamp) -> Result<FundingRate, Rejection> {
    fields.only(FUNDING_FIELDS, "funding")?;
    fields.optional_key("id")?;
    Ok(FundingRate {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        rate: fields.number("rate")?,
        predicted_rate: fields.optional_number("predicted_rate")?,
        next_funding_time: fields.optional("next_funding_time", Fields::time)?,
        interval: fields.optional("interval", Fields::interval)?,
    })
}

/// At least one of two optional numbers ≥ 0 (`what`: the record type, for the message).
fn one_of_non_negative(fields: &Fields<'_>, first: &str, second: &str, what: &str) -> Result<(Option<f64>, Option<f64>), Rejection> {
    let (a, b) = (fields.optional(first, Fields::non_negative)?, fields.optional(second, Fields::non_negative)?);
    if a.is_none() && b.is_none() {
        return Err(Rejection::new(RejectReason::MissingField, format!("{what}: expected `{first}` or `{second}` (or both)")));
    }
    Ok((a, b))
}

pub(in crate::source::push) fn parse_open_interest(fields: &Fields<'_>, received_at: Timestamp) -> Result<OpenInterest, Rejection> {
    fields.only(OPEN_INTEREST_FIELDS, "open_interest")?;
    fields.optional_key("id")?;
    let (contracts, notional) = one_of_non_negative(fields, "contracts", "notional", "open_interest")?;
    Ok(OpenInterest {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        contracts,
        notional,
    })
}

pub(in crate::source::push) fn parse_mark_price(fields: &Fields<'_>, received_at: Timestamp) -> Result<MarkPrice, Rejection> {
    fields.only(MARK_PRICE_FIELDS, "mark_price")?;
    fields.optional_key("id")?;
    let (mark_price, index_price) = one_of_non_negative(fields, "mark_price", "index_price", "mark_price")?;
    Ok(MarkPrice {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        mark_price,
        index_price,
    })
}

pub(in crate::source::push) fn parse_liquidation(fields: &Fields<'_>, received_at: Timestamp) -> Result<Liquidation, Rejection> {
    fields.only(LIQUIDATION_FIELDS, "liquidation")?;
    fields.optional_key("id")?;
    let side = fields.required("side")?;
    let side = match side {
        Value::String(text) if text == "buy" => crate::record::Side::Buy,
        Value::String(text) if text == "sell" => crate::record::Side::Sell,
        other => return Err(invalid("side", "\"buy\" or \"sell\" (the liquidation order's side)", other)),
    };
    Ok(Liquidation {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        side,
        price: fields.positive("price")?,
        quantity: fields.positive("quantity")?,
        order_id: fields.optional_key("order_id")?,
    })
}
