//! OKX instrument reference data (`instruments` channel) from REST
//! `GET /api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP` (OKX API v5 docs,
//! "Public Data / Get instruments"; rate limit 20 requests per 2 s per IP), polled per
//! configured instrument at connect and every `instruments_poll_ms`.
//!
//! The answer: `{"code":"0","msg":"","data":[{"alias":"","baseCcy":"","category":"1","ctMult":"1",
//! "ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","expTime":"","instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP",
//! "instType":"SWAP","lever":"100","listTime":"1606468572000","lotSz":"1","maxLmtSz":"100000000","minSz":"1",
//! "optType":"","quoteCcy":"","settleCcy":"USDT","state":"live","stk":"","tickSz":"0.1","uly":"BTC-USDT"}]}`.
//! Mapped onto [`InstrumentSpec`]: `tickSz` → tick size, `lotSz` → lot size, `minSz` →
//! minimum size (contracts for derivatives), `ctVal` × `ctMult` → contract size (in
//! `ctValCcy`; 1 for spot), `ctType` → linear/inverse, `settleCcy`, `expTime` → expiry,
//! `stk`/`optType` for options; base and quote from `uly` (`BTC-USDT`) for derivatives,
//! `baseCcy`/`quoteCcy` for spot. `state`: `live` trading, `suspend` halted, `preopen`
//! pending, `expired` delisted; `test` (a test instrument) and anything else is refused.
//! OKX sends no minimum notional.
//!
//! Only the configured instruments are stored. A final failure (a `4xx` answer, or an
//! answer with a non-zero `code`) is dead-lettered and the poll goes on.

use serde::Deserialize;

use super::derivatives::inst_type;
use super::wire::millis_text;
use crate::record::{ContractType, InstrumentKind, InstrumentSpec, InstrumentStatus, OptionKind, RejectReason, Rejection, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, PollSettings, RestSpec, SpecVersions};
use crate::source::values::decimal as number;

/// What the fetches of this module are tagged with, before the instrument id.
pub const TAG: &str = "instruments:";
const PATH: &str = "/api/v5/public/instruments";

pub fn rest() -> RestSpec {
    // 20 requests per 2 s.
    RestSpec { base_url: "https://www.okx.com".into(), weight_per_minute: 600 }
}

#[derive(Debug, Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    code: &'a str,
    #[serde(borrow, default)]
    msg: &'a str,
    #[serde(default)]
    data: Vec<Instrument<'a>>,
}

#[derive(Debug, Deserialize)]
struct Instrument<'a> {
    #[serde(rename = "instType", borrow)]
    inst_type: &'a str,
    #[serde(rename = "instId", borrow)]
    inst_id: &'a str,
    #[serde(borrow, default)]
    uly: &'a str,
    #[serde(rename = "baseCcy", borrow, default)]
    base_ccy: &'a str,
    #[serde(rename = "quoteCcy", borrow, default)]
    quote_ccy: &'a str,
    #[serde(rename = "settleCcy", borrow, default)]
    settle_ccy: &'a str,
    #[serde(rename = "ctVal", borrow, default)]
    ct_val: &'a str,
    #[serde(rename = "ctMult", borrow, default)]
    ct_mult: &'a str,
    #[serde(rename = "ctType", borrow, default)]
    ct_type: &'a str,
    #[serde(rename = "tickSz", borrow, default)]
    tick_sz: &'a str,
    #[serde(rename = "lotSz", borrow, default)]
    lot_sz: &'a str,
    #[serde(rename = "minSz", borrow, default)]
    min_sz: &'a str,
    #[serde(rename = "expTime", borrow, default)]
    exp_time: &'a str,
    #[serde(borrow, default)]
    stk: &'a str,
    #[serde(rename = "optType", borrow, default)]
    opt_type: &'a str,
    #[serde(borrow)]
    state: &'a str,
}

fn optional(field: &str, text: &str) -> Result<Option<f64>, Rejection> {
    if text.is_empty() {
        return Ok(None);
    }
    number(field, text).map(Some)
}

fn text(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn spec(instrument: &Instrument) -> Result<InstrumentSpec, Rejection> {
    let kind = match instrument.inst_type {
        "SWAP" => InstrumentKind::Perpetual,
        "FUTURES" => InstrumentKind::Future,
        "OPTION" => InstrumentKind::Option,
        "SPOT" | "MARGIN" => InstrumentKind::Spot,
        other => return Err(Rejection::new(RejectReason::InvalidField, format!("`instType`: \"{other}\" is not handled"))),
    };
    let status = match instrument.state {
        "live" => InstrumentStatus::Trading,
        "suspend" => InstrumentStatus::Halted,
        "preopen" => InstrumentStatus::Pending,
        "expired" => InstrumentStatus::Delisted,
        other => {
            return Err(Rejection::new(
                RejectReason::InvalidField,
                format!("`state`: expected live, suspend, preopen or expired, got \"{other}\""),
            ))
        }
    };
    let mut spec = InstrumentSpec::new("okx", instrument.inst_id, instrument.inst_id, kind, status);
    spec.contract_type = match instrument.ct_type {
        "linear" => Some(ContractType::Linear),
        "inverse" => Some(ContractType::Inverse),
        _ => None,
    };
    let (base, quote) = match (kind, instrument.uly.split_once('-')) {
        (InstrumentKind::Spot, _) | (_, None) => (text(instrument.base_ccy), text(instrument.quote_ccy)),
        (_, Some((base, quote))) => (text(base), text(quote)),
    };
    spec.base_currency = base;
    spec.quote_currency = quote;
    spec.settle_currency = text(instrument.settle_ccy);
    spec.tick_size = optional("tickSz", instrument.tick_sz)?;
    spec.lot_size = optional("lotSz", instrument.lot_sz)?;
    spec.min_size = optional("minSz", instrument.min_sz)?;
    spec.contract_size = match (kind, optional("ctVal", instrument.ct_val)?) {
        (InstrumentKind::Spot, _) => Some(1.0),
        (_, Some(value)) => Some(optional("ctMult", instrument.ct_mult)?.map_or(value, |multiplier| value * multiplier)),
        (_, None) => None,
    };
    spec.expiry = if instrument.exp_time.is_empty() { None } else { Some(millis_text("expTime", instrument.exp_time)?) };
    spec.strike = optional("stk", instrument.stk)?;
    spec.option_type = match instrument.opt_type {
        "C" => Some(OptionKind::Call),
        "P" => Some(OptionKind::Put),
        _ => None,
    };
    Ok(spec)
}

/// The `instruments` poll of one OKX source.
#[derive(Debug, Default)]
pub struct OkxInstruments {
    interval: std::time::Duration,
    /// The configured instrument ids, when `instruments` is subscribed.
    symbols: Vec<String>,
    versions: SpecVersions,
}

impl OkxInstruments {
    pub fn set_polls(&mut self, polls: PollSettings) {
        self.interval = polls.instruments;
    }

    /// The symbols to poll for (none: no poll).
    pub fn set_symbols(&mut self, symbols: Vec<String>) {
        self.symbols = symbols;
    }

    pub fn initial_fetches(&self) -> Vec<Fetch> {
        self.symbols
            .iter()
            .map(|inst_id| Fetch::get(format!("{TAG}{inst_id}"), format!("{PATH}?instType={}&instId={inst_id}", inst_type(inst_id)), 1))
            .collect()
    }

    /// The answer of one instrument's poll: its version, or a dead letter; and the next round.
    pub fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp) -> Parsed {
        let mut parsed = Parsed::default();
        parsed.fetches.push(fetch.clone().after(self.interval));
        let inst_id = fetch.tag.strip_prefix(TAG).unwrap_or(&fetch.tag);
        match outcome {
            Ok(body) => {
                if let Err(rejection) = self.answer(inst_id, body, received_at, &mut parsed) {
                    parsed.rejected.push((rejection, body.to_string()));
                }
            }
            Err(error) => parsed.rejected.push((
                Rejection::new(RejectReason::SubscriptionRefused, format!("instruments of {inst_id}: {error}")),
                format!("GET {}", fetch.path),
            )),
        }
        parsed
    }

    fn answer(&mut self, inst_id: &str, body: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let answer: Answer = serde_json::from_str(body).map_err(|error| invalid("instruments", error))?;
        if answer.code != "0" {
            return Err(Rejection::new(
                RejectReason::SubscriptionRefused,
                format!("instruments of {inst_id}: OKX answered code {} {}", answer.code, answer.msg),
            ));
        }
        let mut found = false;
        for instrument in answer.data.iter().filter(|instrument| instrument.inst_id == inst_id) {
            found = true;
            self.versions.observe(spec(instrument)?, received_at, parsed);
        }
        if !found {
            return Err(Rejection::new(RejectReason::MissingField, format!("instruments: no `data` element for {inst_id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn the_documented_answer_is_a_version_and_a_refusal_a_dead_letter() {
        let mut instruments = OkxInstruments::default();
        instruments.set_polls(PollSettings::default());
        instruments.set_symbols(vec!["BTC-USDT-SWAP".into()]);
        let fetches = instruments.initial_fetches();
        assert_eq!(fetches, [Fetch::get("instruments:BTC-USDT-SWAP", "/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP", 1)]);
        let body = r#"{"code":"0","msg":"","data":[{"alias":"","baseCcy":"","category":"1","ctMult":"1","ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","expTime":"","instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","lever":"100","listTime":"1606468572000","lotSz":"1","maxLmtSz":"100000000","minSz":"1","optType":"","quoteCcy":"","settleCcy":"USDT","state":"live","stk":"","tickSz":"0.1","uly":"BTC-USDT"}]}"#;
        let at = Timestamp::from_unix_millis(1_700_000_000_000).unwrap();
        let parsed = instruments.fetched(&fetches[0], Ok(body), at);
        assert_eq!(parsed.fetches, [fetches[0].clone().after(PollSettings::default().instruments)]);
        let [Record::Row(row)] = parsed.records.as_slice() else { panic!("{:?}", parsed.records) };
        let fields: serde_json::Value = serde_json::from_str(&row.json).unwrap();
        assert_eq!(
            (&fields["kind"], &fields["contract_type"], &fields["tick_size"], &fields["contract_size"], &fields["status"]),
            (&"perpetual".into(), &"linear".into(), &0.1.into(), &0.01.into(), &"trading".into())
        );
        assert_eq!(
            (&fields["base_currency"], &fields["quote_currency"], &fields["settle_currency"]),
            (&"BTC".into(), &"USDT".into(), &"USDT".into())
        );

        let refused = FetchError::Status { status: 400, body: r#"{"code":"51001","msg":"Instrument ID does not exist"}"#.into() };
        let parsed = instruments.fetched(&fetches[0], Err(&refused), at);
        assert_eq!(parsed.fetches.len(), 1, "the poll goes on");
        assert_eq!(parsed.rejected[0].0.code, RejectReason::SubscriptionRefused);
        let parsed = instruments.fetched(&fetches[0], Ok(r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#), at);
        assert_eq!((parsed.records.len(), parsed.rejected.len(), parsed.fetches.len()), (0, 1, 1));
    }
}
