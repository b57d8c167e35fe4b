//! One parser per push record type: which fields it takes, which are required, and the
//! checks beyond types (a bar's high and low bound its open and close, …).

use super::fields::Fields;
use serde_json::value::RawValue;
use serde_json::Value;

use super::fields::invalid;
use super::option_contract::{self, GivenParts};
use crate::record::{
    Bar, IndicatorValue, OptionQuote, Quote, RejectReason, Rejection, RowOp, RowRecord, Signal, TechnicalIndicators, Tick, Ticker,
    Timestamp,
};
use crate::source::values;

mod books;
mod derivatives;

pub(super) use books::{parse_book_delta, parse_book_snapshot};
pub(super) use derivatives::{parse_funding, parse_liquidation, parse_mark_price, parse_open_interest};

const TICK_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "price", "size", "side", "trade_id"];
const QUOTE_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "bid_price", "bid_size", "ask_price", "ask_size"];
const BAR_FIELDS: &[&str] =
    &["type", "id", "venue", "symbol", "time", "interval", "open", "high", "low", "close", "volume", "vwap", "trades"];

pub(super) fn parse_tick(fields: &Fields<'_>, received_at: Timestamp) -> Result<Tick, Rejection> {
    fields.only(TICK_FIELDS, "tick")?;
    fields.optional_key("id")?;
    Ok(Tick {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?.into(),
        symbol: fields.key("symbol")?.into(),
        price: fields.number("price")?,
        size: fields.non_negative("size")?,
        side: fields.side("side")?,
        trade_id: fields.optional_key("trade_id")?.map(Into::into),
    })
}

pub(super) fn parse_quote(fields: &Fields<'_>, received_at: Timestamp) -> Result<Quote, Rejection> {
    fields.only(QUOTE_FIELDS, "quote")?;
    fields.optional_key("id")?;
    Ok(Quote {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        bid_price: fields.number("bid_price")?,
        bid_size: fields.non_negative("bid_size")?,
        ask_price: fields.number("ask_price")?,
        ask_size: fields.non_negative("ask_size")?,
    })
}

pub(super) fn parse_bar(fields: &Fields<'_>, received_at: Timestamp) -> Result<Bar, Rejection> {
    fields.only(BAR_FIELDS, "bar")?;
    fields.optional_key("id")?;
    let bar = Bar {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        interval: fields.interval("interval")?,
        open: fields.number("open")?,
        high: fields.number("high")?,
        low: fields.number("low")?,
        close: fields.number("close")?,
        volume: fields.non_negative("volume")?,
        vwap: fields.optional_number("vwap")?,
        trades: fields.optional_count("trades")?,
    };
    if bar.high < bar.low || bar.high < bar.open.max(bar.close) || bar.low > bar.open.min(bar.close) {
        return Err(Rejection::new(
            RejectReason::InconsistentBar,
            format!("high {} and low {} must bound open {} and close {}", bar.high, bar.low, bar.open, bar.close),
        ));
    }
    Ok(bar)
}

const TICKER_FIELDS: &[&str] = &[
    "type",
    "id",
    "venue",
    "symbol",
    "time",
    "last",
    "open_24h",
    "high_24h",
    "low_24h",
    "volume_24h",
    "quote_volume_24h",
    "change",
    "change_pct",
];
const OPTION_QUOTE_FIELDS: &[&str] = &[
    "type",
    "id",
    "venue",
    "symbol",
    "underlying",
    "option_type",
    "strike",
    "expiration",
    "time",
    "bid",
    "ask",
    "last",
    "mark",
    "volume",
    "open_interest",
    "delta",
    "gamma",
    "theta",
    "vega",
    "rho",
    "iv",
    "bid_iv",
    "ask_iv",
    "underlying_price",
    "iv_unit",
];
const INDICATOR_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "interval", "name", "value"];
const SIGNAL_FIELDS: &[&str] =
    &["type", "id", "source", "time", "category", "symbol", "direction", "strength", "confidence", "impact", "content", "payload"];

pub(super) fn parse_ticker(fields: &Fields<'_>, received_at: Timestamp) -> Result<Ticker, Rejection> {
    fields.only(TICKER_FIELDS, "ticker")?;
    fields.optional_key("id")?;
    Ok(Ticker {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        last: fields.number("last")?,
        open_24h: fields.optional_number("open_24h")?,
        high_24h: fields.optional_number("high_24h")?,
        low_24h: fields.optional_number("low_24h")?,
        volume_24h: fields.optional_number("volume_24h")?,
        quote_volume_24h: fields.optional_number("quote_volume_24h")?,
        change: fields.optional_number("change")?,
        change_pct: fields.optional_number("change_pct")?,
    })
}

/// An `option_quote`. `underlying`, `option_type`, `strike` and `expiration` may be left
/// out when `symbol` is a contract name they can be read from (see `option_contract`).
pub(super) fn parse_option_quote(fields: &Fields<'_>, received_at: Timestamp) -> Result<OptionQuote, Rejection> {
    fields.only(OPTION_QUOTE_FIELDS, "option_quote")?;
    fields.optional_key("id")?;
    let time = fields.time("time")?;
    let venue = fields.key("venue")?;
    let symbol = fields.key("symbol")?;
    let given = GivenParts {
        underlying: fields.optional("underlying", Fields::key)?,
        option_type: fields.optional("option_type", Fields::option_kind)?,
        strike: fields.optional("strike", Fields::positive)?,
        expiration: fields.optional("expiration", Fields::date)?,
    };
    let parts = option_contract::resolve(&symbol, given)?;
    let iv_unit = volatility_unit(fields)?;
    Ok(OptionQuote {
        time,
        received_at,
        venue,
        symbol,
        underlying: parts.underlying,
        option_type: parts.option_type,
        strike: parts.strike,
        expiration: parts.expiration,
        bid: fields.optional_number("bid")?,
        ask: fields.optional_number("ask")?,
        last: fields.optional_number("last")?,
        mark: fields.optional_number("mark")?,
        volume: fields.optional_number("volume")?,
        open_interest: fields.optional_number("open_interest")?,
        delta: fields.optional_number("delta")?,
        gamma: fields.optional_number("gamma")?,
        theta: fields.optional_number("theta")?,
        vega: fields.optional_number("vega")?,
        rho: fields.optional_number("rho")?,
        iv: implied_volatility(fields, "iv", iv_unit)?,
        bid_iv: implied_volatility(fields, "bid_iv", iv_unit)?,
        ask_iv: implied_volatility(fields, "ask_iv", iv_unit)?,
        underlying_price: fields.optional_number("underlying_price")?,
    })
}

/// The unit of an `option_quote`'s implied volatilities, from its `iv_unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VolatilityUnit {
    /// 55.5 is 55.5 % (the default, and how volatilities are stored).
    Percent,
    /// 0.555 is 55.5 %: multiplied by 100 once, here.
    Fraction,
}

fn volatility_unit(fields: &Fields<'_>) -> Result<VolatilityUnit, Rejection> {
    match fields.present("iv_unit") {
        None => Ok(VolatilityUnit::Percent),
        Some(Value::String(text)) if text == "percent" => Ok(VolatilityUnit::Percent),
        Some(Value::String(text)) if text == "fraction" => Ok(VolatilityUnit::Fraction),
        Some(other) => Err(invalid("iv_unit", "\"percent\" (the default) or \"fraction\"", other)),
    }
}

/// An implied volatility in percent. In percent, a value strictly between 0 and 1 is
/// refused: it is almost surely a fraction, which stored as percent would read 100
/// times too low.
fn implied_volatility(fields: &Fields<'_>, name: &str, unit: VolatilityUnit) -> Result<Option<f64>, Rejection> {
    let Some(value) = fields.present(name) else {
        return Ok(None);
    };
    let number = values::number(name, value)?;
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match unit {
        VolatilityUnit::Percent if number > 0.0 && number < 1.0 => Err(Rejection::new(
            RejectReason::InvalidField,
            format!(
                "`{name}`: {} looks like a fraction; implied volatilities are in percent (55.5 is 55.5 %): send {} or set \"iv_unit\": \"fraction\"",
                super::fields::truncate(&text, 40),
                values::percent_from_fraction(&text, number)
            ),
        )),
        VolatilityUnit::Percent => Ok(Some(number)),
        VolatilityUnit::Fraction => Ok(Some(values::percent_from_fraction(&text, number))),
    }
}

pub(super) fn parse_indicator(fields: &Fields<'_>, received_at: Timestamp) -> Result<IndicatorValue, Rejection> {
    fields.only(INDICATOR_FIELDS, "indicator")?;
    fields.optional_key("id")?;
    Ok(IndicatorValue {
        time: fields.time("time")?,
        received_at,
        venue: fields.optional_key("venue")?,
        symbol: fields.key("symbol")?,
        interval: fields.interval("interval")?,
        name: fields.key("name")?,
        value: fields.number("value")?,
    })
}

/// The fields of a `technical_indicators` record: the envelope, the key, the 14 value
/// columns as the table names them, the levels.
const TECHNICAL_INDICATORS_FIELDS: &[&str] = &[
    "type",
    "id",
    "venue",
    "symbol",
    "time",
    "interval",
    "sma_20",
    "sma_50",
    "ema_20",
    "ema_50",
    "rsi",
    "macd_line",
    "macd_signal",
    "macd_histogram",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_width",
    "volume_sma_10",
    "volume_ratio",
    "support_levels",
    "resistance_levels",
];
/// The value columns among [`TECHNICAL_INDICATORS_FIELDS`].
const TECHNICAL_INDICATOR_VALUES: &[&str] = TECHNICAL_INDICATORS_FIELDS.split_at(6).1.split_at(14).0;
/// Most support or resistance levels one record carries.
const MAX_LEVELS: usize = 64;

/// A producer's own `technical_indicators` row: any subset of the value columns (at
/// least one), support and resistance as arrays of numbers (absent: empty).
pub(super) fn parse_technical_indicators(fields: &Fields<'_>, received_at: Timestamp) -> Result<TechnicalIndicators, Rejection> {
    fields.only(TECHNICAL_INDICATORS_FIELDS, "technical_indicators")?;
    fields.optional_key("id")?;
    let value = |name: &str| fields.optional_number(name);
    let row = TechnicalIndicators {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        interval: fields.interval("interval")?,
        sma_20: value("sma_20")?,
        sma_50: value("sma_50")?,
        ema_20: value("ema_20")?,
        ema_50: value("ema_50")?,
        rsi: value("rsi")?,
        macd_line: value("macd_line")?,
        macd_signal: value("macd_signal")?,
        macd_histogram: value("macd_histogram")?,
        bb_upper: value("bb_upper")?,
        bb_middle: value("bb_middle")?,
        bb_lower: value("bb_lower")?,
        bb_width: value("bb_width")?,
        volume_sma_10: value("volume_sma_10")?,
        volume_ratio: value("volume_ratio")?,
        support_levels: fields.optional_numbers("support_levels", MAX_LEVELS)?,
        resistance_levels: fields.optional_numbers("resistance_levels", MAX_LEVELS)?,
    };
    let has_values = TECHNICAL_INDICATOR_VALUES.iter().any(|name| fields.present(name).is_some())
        || !row.support_levels.is_empty()
        || !row.resistance_levels.is_empty();
    if !has_values {
        return Err(Rejection::new(
            RejectReason::MissingField,
            format!("expected at least one of {}, support_levels, resistance_levels", TECHNICAL_INDICATOR_VALUES.join(", ")),
        ));
    }
    Ok(row)
}

/// A `signal`. `raw` is the element's text: the payload is kept as written there.
pub(super) fn parse_signal(fields: &Fields<'_>, raw: &str, received_at: Timestamp) -> Result<Signal, Rejection> {
    fields.only(SIGNAL_FIELDS, "signal")?;
    fields.optional_key("id")?;
    Ok(Signal {
        time: fields.time("time")?,
        received_at,
        source: fields.key("source")?,
        category: fields.key("category")?,
        symbol: fields.optional_key("symbol")?,
        direction: fields.optional_key("direction")?,
        strength: fields.optional_number("strength")?,
        confidence: fields.optional_number("confidence")?,
        impact: fields.optional_key("impact")?,
        content: fields.optional_text("content")?,
        payload: fields.optional_json_text("payload", raw)?,
    })
}

const ROW_FIELDS: &[&str] = &["type", "id", "table", "op", "row"];
/// Longest accepted row object, in bytes of JSON.
const MAX_ROW_BYTES: usize = 256 * 1024;

/// A `row` record. `raw` is the element's text: the row object is kept as sent, so
/// that its numbers reach PostgreSQL's `numeric` without passing through a float.
pub(super) fn parse_row(fields: &Fields<'_>, raw: &str, received_at: Timestamp) -> Result<RowRecord, Rejection> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        row: Option<&'a RawValue>,
    }
    fields.only(ROW_FIELDS, "row")?;
    fields.optional_key("id")?;
    let table = fields.key("table")?;
    let op = match fields.required("op")? {
        Value::String(text) if text == "insert" => RowOp::Insert,
        Value::String(text) if text == "upsert" => RowOp::Upsert,
        Value::String(text) if text == "update" => RowOp::Update,
        other => return Err(invalid("op", "\"insert\", \"upsert\" or \"update\"", other)),
    };
    let row = fields.required("row")?;
    let Value::Object(map) = row else {
        return Err(invalid("row", "an object of column → value", row));
    };
    if map.is_empty() {
        return Err(invalid("row", "at least one column", row));
    }
    fields.optional_json("row")?;
    let envelope: Envelope<'_> =
        serde_json::from_str(raw).map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not valid JSON: {error}")))?;
    let json = envelope.row.map(RawValue::get).unwrap_or("{}");
    if json.len() > MAX_ROW_BYTES {
        return Err(Rejection::new(
            RejectReason::InvalidField,
            format!("`row` is {} bytes; at most {MAX_ROW_BYTES} are accepted", json.len()),
        ));
    }
    let mut columns: Vec<String> = map.keys().cloned().collect();
    columns.sort_unstable();
    Ok(RowRecord { received_at, table, op, json: json.to_string(), columns, key: String::new(), fields: map.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Table;

    #[test]
    fn a_technical_indicators_record_takes_exactly_the_tables_columns() {
        let written_by_the_daemon = ["received_at"];
        let columns: Vec<&str> = Table::TechnicalIndicators
            .columns()
            .iter()
            .map(|column| column.name)
            .filter(|name| !written_by_the_daemon.contains(name))
            .collect();
        let mut fields: Vec<&str> = TECHNICAL_INDICATORS_FIELDS[2..].to_vec();
        let mut expected = columns.clone();
        fields.sort_unstable();
        expected.sort_unstable();
        assert_eq!(fields, expected);
        let values: Vec<&str> = columns
            .into_iter()
            .filter(|name| !["time", "venue", "symbol", "interval", "support_levels", "resistance_levels"].contains(name))
            .collect();
        assert_eq!(TECHNICAL_INDICATOR_VALUES, values.as_slice());
    }
}
