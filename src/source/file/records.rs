//! The records a file can hold, field by field: which fields each importable table
//! takes (the push protocol's names), which are required, and how a row's values
//! become a record, with the same checks as the push protocol.

use super::values::Values;
use crate::record::{Bar, Quote, RejectReason, Rejection, Table, Tick, Ticker, Timestamp};

/// A record type `hypertick import` can read from a file.
pub trait FileRecord: Sized + Send + 'static {
    const TABLE: Table;
    /// Field names, in the order `Values` holds them.
    const FIELDS: &'static [&'static str];
    /// Fields a file must provide (a column, a key, or a constant).
    const REQUIRED: &'static [&'static str];
    fn from_values(values: &Values<'_>, received_at: Timestamp) -> Result<Self, Rejection>;
    /// The event time, checked against retention before the row is sent.
    fn time(&self) -> Timestamp;
    /// A bar's interval, which decides its retention (`tables.bars.retention_by_interval`).
    fn interval(&self) -> Option<&str> {
        None
    }
}

/// The fields of an importable table, `None` for any other table.
pub fn fields_of(table: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match table {
        "ticks" => Some((Tick::FIELDS, Tick::REQUIRED)),
        "quotes" => Some((Quote::FIELDS, Quote::REQUIRED)),
        "bars" => Some((Bar::FIELDS, Bar::REQUIRED)),
        "tickers" => Some((Ticker::FIELDS, Ticker::REQUIRED)),
        _ => None,
    }
}

impl FileRecord for Tick {
    const TABLE: Table = Table::Ticks;
    const FIELDS: &'static [&'static str] = &["time", "venue", "symbol", "price", "size", "side", "trade_id"];
    const REQUIRED: &'static [&'static str] = &["time", "venue", "symbol", "price", "size"];
    fn from_values(values: &Values<'_>, received_at: Timestamp) -> Result<Self, Rejection> {
        Ok(Tick {
            time: values.time(0)?,
            received_at,
            venue: values.key(1)?.into(),
            symbol: values.key(2)?.into(),
            price: values.number(3)?,
            size: values.non_negative(4)?,
            side: values.side(5)?,
            trade_id: values.optional_key(6)?.map(Into::into),
        })
    }
    fn time(&self) -> Timestamp {
        self.time
    }
}

impl FileRecord for Quote {
    const TABLE: Table = Table::Quotes;
    const FIELDS: &'static [&'static str] = &["time", "venue", "symbol", "bid_price", "bid_size", "ask_price", "ask_size"];
    const REQUIRED: &'static [&'static str] = Self::FIELDS;
    fn from_values(values: &Values<'_>, received_at: Timestamp) -> Result<Self, Rejection> {
        Ok(Quote {
            time: values.time(0)?,
            received_at,
            venue: values.key(1)?,
            symbol: values.key(2)?,
            bid_price: values.number(3)?,
            bid_size: values.non_negative(4)?,
            ask_price: values.number(5)?,
            ask_size: values.non_negative(6)?,
        })
    }
    fn time(&self) -> Timestamp {
        self.time
    }
}

impl FileRecord for Bar {
    const TABLE: Table = Table::Bars;
    const FIELDS: &'static [&'static str] =
        &["time", "venue", "symbol", "interval", "open", "high", "low", "close", "volume", "vwap", "trades"];
    const REQUIRED: &'static [&'static str] = &["time", "venue", "symbol", "interval", "open", "high", "low", "close", "volume"];
    fn from_values(values: &Values<'_>, received_at: Timestamp) -> Result<Self, Rejection> {
        let bar = Bar {
            time: values.time(0)?,
            received_at,
            venue: values.key(1)?,
            symbol: values.key(2)?,
            interval: values.interval(3)?,
            open: values.number(4)?,
            high: values.number(5)?,
            low: values.number(6)?,
            close: values.number(7)?,
            volume: values.non_negative(8)?,
            vwap: values.optional_number(9)?,
            trades: values.optional_count(10)?,
        };
        if bar.high < bar.low || bar.high < bar.open.max(bar.close) || bar.low > bar.open.min(bar.close) {
            return Err(Rejection::new(
                RejectReason::InconsistentBar,
                format!("high {} and low {} must bound open {} and close {}", bar.high, bar.low, bar.open, bar.close),
            ));
        }
        Ok(bar)
    }
    fn time(&self) -> Timestamp {
        self.time
    }
    fn interval(&self) -> Option<&str> {
        Some(&self.interval)
    }
}

impl FileRecord for Ticker {
    const TABLE: Table = Table::Tickers;
    const FIELDS: &'static [&'static str] =
        &["time", "venue", "symbol", "last", "open_24h", "high_24h", "low_24h", "volume_24h", "quote_volume_24h", "change", "change_pct"];
    const REQUIRED: &'static [&'static str] = &["time", "venue", "symbol", "last"];
    fn from_values(values: &Values<'_>, received_at: Timestamp) -> Result<Self, Rejection> {
        Ok(Ticker {
            time: values.time(0)?,
            received_at,
            venue: values.key(1)?,
            symbol: values.key(2)?,
            last: values.number(3)?,
            open_24h: values.optional_number(4)?,
            high_24h: values.optional_number(5)?,
            low_24h: values.optional_number(6)?,
            volume_24h: values.optional_number(7)?,
            quote_volume_24h: values.optional_number(8)?,
            change: values.optional_number(9)?,
            change_pct: values.optional_number(10)?,
        })
    }
    fn time(&self) -> Timestamp {
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{import_fields, IMPORTABLE_TABLES};

    #[test]
    fn the_fields_are_the_columns_but_received_at() {
        for table in IMPORTABLE_TABLES {
            let (fields, required) = fields_of(table.name()).unwrap();
            assert_eq!(fields, import_fields(table), "{table}");
            assert!(required.iter().all(|field| fields.contains(field)));
        }
    }
}
