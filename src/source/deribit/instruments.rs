//! Deribit instrument reference data (`instruments` channel) from REST
//! `GET /api/v2/public/get_instrument?instrument_name=BTC-PERPETUAL` (Deribit API v2 docs,
//! "Market data / public/get_instrument"), polled per configured instrument (index names
//! excepted) at connect and every `instruments_poll_ms`.
//!
//! The answer: `{"jsonrpc":"2.0","result":{"tick_size":0.5,"tick_size_steps":[],"taker_commission":0.0005,
//! "settlement_period":"perpetual","settlement_currency":"BTC","quote_currency":"USD","price_index":"btc_usd",
//! "min_trade_amount":10,"maker_commission":0,"kind":"future","is_active":true,"instrument_name":"BTC-PERPETUAL",
//! "instrument_type":"reversed","expiration_timestamp":32503708800000,"creation_timestamp":1534242287000,
//! "counter_currency":"USD","contract_size":10,"base_currency":"BTC"},"usIn":…,"usOut":…,"usDiff":…,"testnet":false}`.
//! Mapped onto [`InstrumentSpec`]: `kind` `future` with `settlement_period` `perpetual` →
//! perpetual (its far `expiration_timestamp`, the year 3000, is no expiry), other
//! `future` → future, `option`, `spot`; combos are refused. `instrument_type` `linear` →
//! linear, `reversed` → inverse. `tick_size`; `min_trade_amount` is both the minimum and
//! the increment of an order's amount (USD for inverse futures, the base currency
//! otherwise) → min size and lot size; `contract_size`; `settlement_currency`;
//! `expiration_timestamp`; `strike`, `option_type`; `is_active` true → trading, false →
//! delisted. Deribit sends no minimum notional.
//!
//! A final failure (a `4xx` answer, such as the `400` of an unknown instrument, or a
//! JSON-RPC `error`) is dead-lettered and the poll goes on.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::derivatives::is_index_name;
use crate::record::{ContractType, InstrumentKind, InstrumentSpec, InstrumentStatus, OptionKind, RejectReason, Rejection, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, PollSettings, RestSpec, SpecVersions};
use crate::source::values::{decimal, millis};

/// What the fetches of this module are tagged with, before the instrument name.
pub const TAG: &str = "instruments:";
const PATH: &str = "/api/v2/public/get_instrument";
/// `expiration_timestamp` of a perpetual: 3000-01-01.
const NO_EXPIRY_MS: i64 = 32_503_708_800_000;

pub fn rest() -> RestSpec {
    // Public non-matching-engine requests: 20 a second sustained.
    RestSpec { base_url: "https://www.deribit.com".into(), weight_per_minute: 1_200 }
}

#[derive(Debug, Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    result: Option<Instrument<'a>>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
struct Instrument<'a> {
    #[serde(borrow)]
    instrument_name: &'a str,
    #[serde(borrow)]
    kind: &'a str,
    #[serde(borrow, default)]
    instrument_type: Option<&'a str>,
    #[serde(borrow, default)]
    settlement_period: Option<&'a str>,
    #[serde(borrow, default)]
    base_currency: Option<&'a str>,
    #[serde(borrow, default)]
    quote_currency: Option<&'a str>,
    #[serde(borrow, default)]
    settlement_currency: Option<&'a str>,
    #[serde(borrow, default)]
    tick_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    min_trade_amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    contract_size: Option<&'a RawValue>,
    #[serde(borrow, default)]
    expiration_timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    strike: Option<&'a RawValue>,
    #[serde(borrow, default)]
    option_type: Option<&'a str>,
    is_active: bool,
}

fn optional(field: &str, raw: Option<&RawValue>) -> Result<Option<f64>, Rejection> {
    raw.filter(|raw| raw.get() != "null").map(|raw| decimal(field, raw.get())).transpose()
}

fn spec(instrument: &Instrument) -> Result<InstrumentSpec, Rejection> {
    let kind = match (instrument.kind, instrument.settlement_period) {
        ("future", Some("perpetual")) => InstrumentKind::Perpetual,
        ("future", _) => InstrumentKind::Future,
        ("option", _) => InstrumentKind::Option,
        ("spot", _) => InstrumentKind::Spot,
        (other, _) => return Err(Rejection::new(RejectReason::InvalidField, format!("`kind`: \"{other}\" is not handled"))),
    };
    let status = if instrument.is_active { InstrumentStatus::Trading } else { InstrumentStatus::Delisted };
    let name = instrument.instrument_name;
    let mut spec = InstrumentSpec::new("deribit", name, name, kind, status);
    spec.contract_type = match (kind, instrument.instrument_type) {
        (InstrumentKind::Spot, _) => None,
        (_, Some("linear")) => Some(ContractType::Linear),
        (_, Some("reversed")) => Some(ContractType::Inverse),
        _ => None,
    };
    spec.base_currency = instrument.base_currency.map(str::to_string);
    spec.quote_currency = instrument.quote_currency.map(str::to_string);
    spec.settle_currency = instrument.settlement_currency.map(str::to_string);
    spec.tick_size = optional("tick_size", instrument.tick_size)?;
    spec.min_size = optional("min_trade_amount", instrument.min_trade_amount)?;
    spec.lot_size = spec.min_size;
    spec.contract_size = optional("contract_size", instrument.contract_size)?;
    spec.expiry = match instrument.expiration_timestamp.filter(|_| kind != InstrumentKind::Perpetual) {
        Some(raw) => {
            let ms = raw.get().parse::<i64>().map_err(|_| {
                Rejection::new(RejectReason::InvalidField, format!("`expiration_timestamp`: expected milliseconds, got {}", raw.get()))
            })?;
            (ms < NO_EXPIRY_MS).then(|| millis("expiration_timestamp", ms)).transpose()?
        }
        None => None,
    };
    spec.strike = optional("strike", instrument.strike)?;
    spec.option_type = match instrument.option_type {
        Some("call") => Some(OptionKind::Call),
        Some("put") => Some(OptionKind::Put),
        _ => None,
    };
    Ok(spec)
}

/// The `instruments` poll of one Deribit source.
#[derive(Debug, Default)]
pub struct DeribitInstruments {
    interval: std::time::Duration,
    /// The configured instrument names, when `instruments` is subscribed.
    symbols: Vec<String>,
    versions: SpecVersions,
}

impl DeribitInstruments {
    pub fn set_polls(&mut self, polls: PollSettings) {
        self.interval = polls.instruments;
    }

    /// The symbols to poll for (none: no poll); index names are skipped.
    pub fn set_symbols(&mut self, symbols: &[String]) {
        self.symbols = symbols.iter().filter(|symbol| !is_index_name(symbol)).cloned().collect();
    }

    pub fn initial_fetches(&self) -> Vec<Fetch> {
        self.symbols.iter().map(|name| Fetch::get(format!("{TAG}{name}"), format!("{PATH}?instrument_name={name}"), 1)).collect()
    }

    /// The answer of one instrument's poll: its version, or a dead letter; and the next round.
    pub fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp) -> Parsed {
        let mut parsed = Parsed::default();
        parsed.fetches.push(fetch.clone().after(self.interval));
        let name = fetch.tag.strip_prefix(TAG).unwrap_or(&fetch.tag);
        match outcome {
            Ok(body) => {
                if let Err(rejection) = self.answer(name, body, received_at, &mut parsed) {
                    parsed.rejected.push((rejection, body.to_string()));
                }
            }
            Err(error) => parsed.rejected.push((
                Rejection::new(RejectReason::SubscriptionRefused, format!("instrument {name}: {error}")),
                format!("GET {}", fetch.path),
            )),
        }
        parsed
    }

    fn answer(&mut self, name: &str, body: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let answer: Answer = serde_json::from_str(body).map_err(|error| invalid("get_instrument", error))?;
        match (answer.result, answer.error) {
            (_, Some(error)) => {
                Err(Rejection::new(RejectReason::SubscriptionRefused, format!("instrument {name}: Deribit answered {}", error.get())))
            }
            (Some(instrument), None) if instrument.instrument_name == name => {
                self.versions.observe(spec(&instrument)?, received_at, parsed);
                Ok(())
            }
            (Some(instrument), None) => Err(Rejection::new(
                RejectReason::InvalidRecord,
                format!("instrument {name}: the answer describes {}", instrument.instrument_name),
            )),
            (None, None) => Err(Rejection::new(RejectReason::MissingField, format!("instrument {name}: no `result`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn fields(parsed: &Parsed) -> serde_json::Value {
        let [Record::Row(row)] = parsed.records.as_slice() else { panic!("{:?}", parsed.records) };
        serde_json::from_str(&row.json).unwrap()
    }

    #[test]
    fn documented_answers_are_versions_and_errors_dead_letters() {
        let mut instruments = DeribitInstruments::default();
        instruments.set_symbols(&["BTC-PERPETUAL".into(), "btc_usd".into(), "BTC-27SEP19-5000-C".into()]);
        let fetches = instruments.initial_fetches();
        assert_eq!(
            fetches,
            [
                Fetch::get("instruments:BTC-PERPETUAL", "/api/v2/public/get_instrument?instrument_name=BTC-PERPETUAL", 1),
                Fetch::get("instruments:BTC-27SEP19-5000-C", "/api/v2/public/get_instrument?instrument_name=BTC-27SEP19-5000-C", 1),
            ]
        );
        let at = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
        let perpetual = r#"{"jsonrpc":"2.0","result":{"tick_size":0.5,"tick_size_steps":[],"taker_commission":0.0005,"settlement_period":"perpetual","settlement_currency":"BTC","quote_currency":"USD","price_index":"btc_usd","min_trade_amount":10,"maker_commission":0,"kind":"future","is_active":true,"instrument_name":"BTC-PERPETUAL","instrument_type":"reversed","expiration_timestamp":32503708800000,"creation_timestamp":1534242287000,"counter_currency":"USD","contract_size":10,"base_currency":"BTC"},"usIn":1,"usOut":2,"usDiff":1,"testnet":false}"#;
        let parsed = instruments.fetched(&fetches[0], Ok(perpetual), at);
        let row = fields(&parsed);
        assert_eq!(
            (&row["kind"], &row["contract_type"], &row["tick_size"], &row["lot_size"], &row["contract_size"], &row["expiry"]),
            (&"perpetual".into(), &"inverse".into(), &0.5.into(), &10.into(), &10.into(), &serde_json::Value::Null)
        );
        let option = r#"{"jsonrpc":"2.0","id":2627,"result":{"tick_size":0.0005,"taker_commission":0.0003,"strike":5000,"settlement_period":"month","settlement_currency":"BTC","quote_currency":"BTC","option_type":"call","min_trade_amount":0.1,"maker_commission":0.0003,"kind":"option","is_active":true,"instrument_name":"BTC-27SEP19-5000-C","expiration_timestamp":1569571200000,"creation_timestamp":1550230200000,"contract_size":1,"base_currency":"BTC"}}"#;
        let row = fields(&instruments.fetched(&fetches[1], Ok(option), at));
        assert_eq!(
            (&row["kind"], &row["strike"], &row["option_type"], &row["expiry"]),
            (&"option".into(), &5000.into(), &"call".into(), &"2019-09-27T08:00:00.000000Z".into())
        );
        let refused =
            FetchError::Status { status: 400, body: r#"{"jsonrpc":"2.0","error":{"message":"Invalid params","code":-32602}}"#.into() };
        let parsed = instruments.fetched(&fetches[0], Err(&refused), at);
        assert_eq!((parsed.records.len(), parsed.rejected.len(), parsed.fetches.len()), (0, 1, 1));
        assert_eq!(parsed.rejected[0].0.code, RejectReason::SubscriptionRefused);
    }
}
