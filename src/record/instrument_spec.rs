//! Instrument reference data, point in time (`instrument_specs`): what a venue's
//! exchange-information endpoint says about one instrument — tick and lot sizes,
//! minimums, contract size, linear or inverse, settlement currency, expiry, strike,
//! status. Each observation is inserted as a version valid from when it was received;
//! the table's trigger (`sql/common/0011_instrument_specs.sql`) keeps only changes: an
//! observation equal to the current version is dropped, a different one closes the
//! current version (`valid_to`) and becomes the new one.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::{OptionKind, RowRecord, Timestamp};

/// The table's name, as `row` records name it.
pub const INSTRUMENT_SPECS_TABLE: &str = "instrument_specs";

/// What kind of instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    Spot,
    Perpetual,
    Future,
    Option,
}

impl InstrumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentKind::Spot => "spot",
            InstrumentKind::Perpetual => "perpetual",
            InstrumentKind::Future => "future",
            InstrumentKind::Option => "option",
        }
    }
}

/// How a derivative's profit is paid: in the quote currency (linear) or in the base
/// currency (inverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractType {
    Linear,
    Inverse,
}

impl ContractType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractType::Linear => "linear",
            ContractType::Inverse => "inverse",
        }
    }
}

/// Whether the instrument trades, as the venue's status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentStatus {
    /// Listed but not yet trading (pre-launch, pre-trading).
    Pending,
    Trading,
    /// Trading suspended (halt, break, settlement in progress).
    Halted,
    /// No longer trading (delisted, expired, settled).
    Delisted,
}

impl InstrumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentStatus::Pending => "pending",
            InstrumentStatus::Trading => "trading",
            InstrumentStatus::Halted => "halted",
            InstrumentStatus::Delisted => "delisted",
        }
    }
}

/// One instrument as the venue's reference data describes it; `None` where the venue
/// does not say.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentSpec {
    pub venue: String,
    /// Our symbol (as the adapter normalizes the symbols of its records).
    pub symbol: String,
    pub venue_symbol: String,
    pub kind: InstrumentKind,
    /// `None` for spot.
    pub contract_type: Option<ContractType>,
    pub base_currency: Option<String>,
    pub quote_currency: Option<String>,
    pub settle_currency: Option<String>,
    /// The price increment.
    pub tick_size: Option<f64>,
    /// The quantity increment.
    pub lot_size: Option<f64>,
    /// The smallest order quantity.
    pub min_size: Option<f64>,
    /// The smallest order value, in the quote currency.
    pub min_notional: Option<f64>,
    /// What one contract is worth (the multiplier: 100 USD for an inverse contract,
    /// 0.01 BTC for a linear one); 1 where quantities are in the base currency.
    pub contract_size: Option<f64>,
    pub expiry: Option<Timestamp>,
    pub strike: Option<f64>,
    pub option_type: Option<OptionKind>,
    pub status: InstrumentStatus,
}

impl InstrumentSpec {
    /// A spot or derivative instrument known by its names, kind and status only; the
    /// adapter fills in the rest.
    pub fn new(venue: &str, symbol: &str, venue_symbol: &str, kind: InstrumentKind, status: InstrumentStatus) -> Self {
        InstrumentSpec {
            venue: venue.to_string(),
            symbol: symbol.to_string(),
            venue_symbol: venue_symbol.to_string(),
            kind,
            contract_type: None,
            base_currency: None,
            quote_currency: None,
            settle_currency: None,
            tick_size: None,
            lot_size: None,
            min_size: None,
            min_notional: None,
            contract_size: None,
            expiry: None,
            strike: None,
            option_type: None,
            status,
        }
    }

    /// The columns of the spec (every one, NULL where unknown), without the key and times.
    pub fn fields(&self) -> Map<String, Value> {
        // Whole numbers as integers, so `numeric` keeps `5`, not `5.0`.
        let number = |value: Option<f64>| match value.filter(|number| number.is_finite()) {
            None => Value::Null,
            Some(whole) if whole.fract() == 0.0 && whole.abs() < 9.0e15 => json!(whole as i64),
            Some(number) => json!(number),
        };
        let mut row = Map::new();
        row.insert("venue".into(), json!(self.venue));
        row.insert("symbol".into(), json!(self.symbol));
        row.insert("venue_symbol".into(), json!(self.venue_symbol));
        row.insert("kind".into(), json!(self.kind.as_str()));
        row.insert("contract_type".into(), self.contract_type.map_or(Value::Null, |kind| json!(kind.as_str())));
        row.insert("base_currency".into(), json!(self.base_currency));
        row.insert("quote_currency".into(), json!(self.quote_currency));
        row.insert("settle_currency".into(), json!(self.settle_currency));
        row.insert("tick_size".into(), number(self.tick_size));
        row.insert("lot_size".into(), number(self.lot_size));
        row.insert("min_size".into(), number(self.min_size));
        row.insert("min_notional".into(), number(self.min_notional));
        row.insert("contract_size".into(), number(self.contract_size));
        row.insert("expiry".into(), self.expiry.map_or(Value::Null, |expiry| json!(rfc3339(expiry))));
        row.insert("strike".into(), number(self.strike));
        row.insert("option_type".into(), self.option_type.map_or(Value::Null, |kind| json!(kind.as_str())));
        row.insert("status".into(), json!(self.status.as_str()));
        row
    }

    /// The insert of this observation as a version valid from `received_at`.
    pub fn version_row(&self, received_at: Timestamp) -> RowRecord {
        let mut row = self.fields();
        row.insert("valid_from".into(), json!(rfc3339(received_at)));
        RowRecord::insert(INSTRUMENT_SPECS_TABLE, row, received_at)
    }

    /// The names of the columns whose values differ from `earlier`'s, for the
    /// `instrument_changed` feed event.
    pub fn changed_fields(&self, earlier: &InstrumentSpec) -> Vec<(String, Value, Value)> {
        let (now, before) = (self.fields(), earlier.fields());
        now.into_iter()
            .filter_map(|(name, value)| {
                let old = before.get(&name).cloned().unwrap_or(Value::Null);
                (old != value).then_some((name, old, value))
            })
            .collect()
    }
}

fn rfc3339(time: Timestamp) -> String {
    Utc.timestamp_micros(time.micros()).single().map_or_else(String::new, |at| at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_row_sends_every_column_and_its_time() {
        let mut spec = InstrumentSpec::new("binance", "BTC-USDT-PERP", "BTCUSDT", InstrumentKind::Perpetual, InstrumentStatus::Trading);
        spec.contract_type = Some(ContractType::Linear);
        spec.tick_size = Some(0.1);
        let row = spec.version_row(Timestamp::from_unix_millis(1_700_000_000_123).unwrap());
        assert_eq!(row.columns.len(), 18);
        let fields: Value = serde_json::from_str(&row.json).unwrap();
        assert_eq!(fields["valid_from"], "2023-11-14T22:13:20.123000Z");
        assert_eq!(fields["tick_size"], json!(0.1));
        assert_eq!(fields["min_notional"], Value::Null);
        assert_eq!(fields["contract_type"], "linear");
        let mut later = spec.clone();
        later.tick_size = Some(0.5);
        later.status = InstrumentStatus::Halted;
        let changed: Vec<String> = later.changed_fields(&spec).into_iter().map(|(name, _, _)| name).collect();
        assert_eq!(changed, ["status", "tick_size"]);
    }
}
