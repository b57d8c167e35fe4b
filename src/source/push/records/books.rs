//! The order-book records: a level's change (`book_delta`) and a whole book
//! (`book_snapshot`), its sides checked for order and bounded in levels.

use serde_json::Value;

use super::super::fields::{invalid, Fields};
use crate::record::{BookDelta, BookSide, BookSnapshot, RejectReason, Rejection, SnapshotReason, Timestamp};

const BOOK_DELTA_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "side", "price", "size", "sequence", "snapshot"];
const BOOK_SNAPSHOT_FIELDS: &[&str] =
    &["type", "id", "venue", "symbol", "time", "sequence", "bid_prices", "bid_sizes", "ask_prices", "ask_sizes", "depth", "reason"];
/// Most levels a pushed `book_snapshot` side may hold.
const MAX_BOOK_SNAPSHOT_LEVELS: usize = 5_000;

fn sequence(fields: &Fields<'_>, name: &str) -> Result<i64, Rejection> {
    let value = fields.required(name)?;
    fields.optional_count(name)?.ok_or_else(|| invalid(name, "a non-negative integer", value))
}

pub(in crate::source::push) fn parse_book_delta(fields: &Fields<'_>, received_at: Timestamp) -> Result<BookDelta, Rejection> {
    fields.only(BOOK_DELTA_FIELDS, "book_delta")?;
    fields.optional_key("id")?;
    let side = fields.required("side")?;
    let side = match side {
        Value::String(text) => BookSide::parse(text),
        _ => None,
    }
    .ok_or_else(|| invalid("side", "\"bid\" or \"ask\"", side))?;
    let snapshot = match fields.present("snapshot") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => return Err(invalid("snapshot", "true or false", other)),
    };
    Ok(BookDelta {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        side,
        price: fields.number("price")?,
        size: fields.non_negative("size")?,
        sequence: sequence(fields, "sequence")?,
        snapshot,
    })
}

/// One side's prices and sizes: as many of each, sizes ≥ 0, prices strictly ordered
/// best first (`descending` for bids).
fn book_side(fields: &Fields<'_>, prices: &str, sizes: &str, descending: bool) -> Result<(Vec<f64>, Vec<f64>), Rejection> {
    let price_list = fields.optional_numbers(prices, MAX_BOOK_SNAPSHOT_LEVELS)?;
    let size_list = fields.optional_numbers(sizes, MAX_BOOK_SNAPSHOT_LEVELS)?;
    if price_list.len() != size_list.len() {
        return Err(Rejection::new(
            RejectReason::InvalidField,
            format!("`{prices}` holds {} numbers and `{sizes}` {}: expected as many of each", price_list.len(), size_list.len()),
        ));
    }
    if let Some(index) = size_list.iter().position(|size| *size < 0.0) {
        return Err(Rejection::new(RejectReason::InvalidField, format!("`{sizes}[{index}]`: expected a number ≥ 0")));
    }
    let order = if descending { "descending" } else { "ascending" };
    if let Some(index) = price_list.windows(2).position(|pair| if descending { pair[0] <= pair[1] } else { pair[0] >= pair[1] }) {
        return Err(Rejection::new(
            RejectReason::InvalidField,
            format!("`{prices}[{}]`: prices must be strictly {order}, best first", index + 1),
        ));
    }
    Ok((price_list, size_list))
}

pub(in crate::source::push) fn parse_book_snapshot(fields: &Fields<'_>, received_at: Timestamp) -> Result<BookSnapshot, Rejection> {
    fields.only(BOOK_SNAPSHOT_FIELDS, "book_snapshot")?;
    fields.optional_key("id")?;
    let (bid_prices, bid_sizes) = book_side(fields, "bid_prices", "bid_sizes", true)?;
    let (ask_prices, ask_sizes) = book_side(fields, "ask_prices", "ask_sizes", false)?;
    let levels = bid_prices.len().max(ask_prices.len());
    let depth = match fields.present("depth") {
        None => levels,
        Some(value) => match value {
            Value::Number(number) => number.as_u64().and_then(|depth| usize::try_from(depth).ok()),
            _ => None,
        }
        .filter(|depth| *depth >= levels && *depth <= MAX_BOOK_SNAPSHOT_LEVELS)
        .ok_or_else(|| invalid("depth", &format!("an integer from {levels} (the longest side) to {MAX_BOOK_SNAPSHOT_LEVELS}"), value))?,
    };
    let reason = match fields.present("reason") {
        None => SnapshotReason::Interval,
        Some(value) => match value {
            Value::String(text) => SnapshotReason::parse(text),
            _ => None,
        }
        .ok_or_else(|| invalid("reason", "\"interval\" or \"sync\"", value))?,
    };
    Ok(BookSnapshot {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        sequence: sequence(fields, "sequence")?,
        bid_prices,
        bid_sizes,
        ask_prices,
        ask_sizes,
        // At most MAX_BOOK_SNAPSHOT_LEVELS, checked above.
        depth: i32::try_from(depth).unwrap_or(i32::MAX),
        reason,
    })
}
