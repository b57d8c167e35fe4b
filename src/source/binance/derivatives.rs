//! Binance USDⓈ-M derivatives data: mark and index prices with funding, liquidations,
//! and open interest polled over REST.
//!
//! Sources (Binance "USDⓈ-M Futures" docs, developers.binance.com/docs/derivatives/usds-margined-futures):
//! - "Mark Price Stream" (websocket-market-streams/Mark-Price-Stream), `<symbol>@markPrice@1s`:
//!   `{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}`.
//!   One subscription serves `mark_price` (a `mark_prices` row: mark `p`, index `i`, at
//!   the event time `E`) and `funding` (a `funding_rates` row: rate `r` for the funding
//!   at `T`). The estimated settle price `P` is not stored. A delivery contract sends
//!   `r` empty and `T` 0: no funding row. The stream does not say the funding interval:
//!   it comes from "Get Funding Rate Info" (market-data/rest-api/Get-Funding-Rate-Info),
//!   `GET /fapi/v1/fundingInfo`, which lists only the contracts whose funding Binance
//!   adjusted — `[{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.02500000",
//!   "adjustedFundingRateFloor":"-0.02500000","fundingIntervalHours":8,"disclaimer":false}]`
//!   — every other perpetual funding every 8 hours. It is asked for when `funding` is
//!   configured, at each connection and then every hour (a minute after a failure); until
//!   its first answer `interval` is NULL rather than a guess.
//! - "Liquidation Order Streams" (websocket-market-streams/Liquidation-Order-Streams),
//!   `<symbol>@forceOrder`: `{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}`.
//!   The row is the liquidation order as the venue states it: side `S` (the order's side:
//!   `SELL` closes a long), price `p`, original quantity `q`, at its trade time `T`. The
//!   filled quantity `z` and average price `ap` are not stored (the stream is a snapshot
//!   of at most one order per symbol and second, mostly `FILLED`, where `z` = `q`). No
//!   order id is sent.
//! - "Open Interest" (market-data/rest-api/Open-Interest), `GET /fapi/v1/openInterest?symbol=BTCUSDT`,
//!   weight 1: `{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}`;
//!   polled per configured symbol every `open_interest_poll_ms`, stored as `contracts`
//!   (base-asset units; `notional` NULL) at the answer's `time`. An answer whose `time`
//!   is not newer than the last one of its symbol is a duplicate, dropped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Deserialize;

use crate::record::{FundingRate, Liquidation, MarkPrice, OpenInterest, RejectReason, Rejection, Side, Timestamp};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Fetch, FetchError, Parsed, Sequences};
use crate::source::symbols::split_quote_asset;
use crate::source::values::{decimal, millis};

/// The path of the open interest poll.
pub const OPEN_INTEREST_PATH: &str = "/fapi/v1/openInterest";
/// Its weight (of the 2400 a minute).
const OPEN_INTEREST_WEIGHT: u32 = 1;
/// The path of the funding intervals' request.
const FUNDING_INFO_PATH: &str = "/fapi/v1/fundingInfo";
/// Its weight: 0 in Binance's table (it shares 500 requests per 5 minutes with
/// `fundingRate` instead); counted as 1 here so that it is never outside the budget.
const FUNDING_INFO_WEIGHT: u32 = 1;
/// How often the funding intervals are asked for again, and after a failure.
const FUNDING_INFO_POLL: Duration = Duration::from_secs(3_600);
const FUNDING_INFO_RETRY: Duration = Duration::from_secs(60);
/// The funding interval of a perpetual `fundingInfo` does not list.
const DEFAULT_FUNDING_HOURS: u32 = 8;

/// `<symbol>@markPrice@1s`.
#[derive(Debug, Deserialize)]
struct MarkPriceUpdate<'a> {
    #[serde(rename = "E")]
    event_time_ms: i64,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "p")]
    mark_price: &'a str,
    #[serde(rename = "i")]
    index_price: &'a str,
    /// Empty for a delivery contract.
    #[serde(rename = "r", default)]
    funding_rate: &'a str,
    /// 0 for a delivery contract.
    #[serde(rename = "T", default)]
    next_funding_time_ms: i64,
}

/// `<symbol>@forceOrder`.
#[derive(Debug, Deserialize)]
struct ForceOrder<'a> {
    #[serde(rename = "o", borrow)]
    order: LiquidationOrder<'a>,
}

#[derive(Debug, Deserialize)]
struct LiquidationOrder<'a> {
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    #[serde(rename = "p")]
    price: &'a str,
    #[serde(rename = "q")]
    quantity: &'a str,
    #[serde(rename = "T")]
    trade_time_ms: i64,
}

/// One element of the answer of `GET /fapi/v1/fundingInfo` (the caps and floors are not kept).
#[derive(Debug, Deserialize)]
struct FundingInfo<'a> {
    symbol: &'a str,
    #[serde(rename = "fundingIntervalHours")]
    interval_hours: u32,
}

/// The answer of `GET /fapi/v1/openInterest`.
#[derive(Debug, Deserialize)]
struct OpenInterestAnswer<'a> {
    #[serde(rename = "openInterest")]
    open_interest: &'a str,
    symbol: &'a str,
    time: i64,
}

/// The derivative channels of one USDⓈ-M source: which are configured, and the open
/// interest poll.
pub struct BinanceDerivatives {
    venue: &'static str,
    pub mark_price: bool,
    pub funding: bool,
    pub liquidations: bool,
    /// The symbols whose open interest is polled (venue spelling, upper case).
    open_interest: Vec<String>,
    poll_interval: Duration,
    open_interest_times: Sequences,
    /// The configured symbols (venue spelling, upper case).
    symbols: HashSet<String>,
    /// Hours between fundings of the configured symbols `fundingInfo` lists; `None`
    /// until it first answers.
    funding_hours: Option<HashMap<String, u32>>,
}

impl BinanceDerivatives {
    pub fn new(venue: &'static str) -> BinanceDerivatives {
        BinanceDerivatives {
            venue,
            mark_price: false,
            funding: false,
            liquidations: false,
            open_interest: Vec::new(),
            poll_interval: Duration::from_secs(60),
            open_interest_times: Sequences::duplicates_only("openInterest"),
            symbols: HashSet::new(),
            funding_hours: None,
        }
    }

    pub fn set_poll_interval(&mut self, interval: Duration) {
        self.poll_interval = interval;
    }

    /// Remembers what is configured (`symbols`; their open interest is polled when
    /// `open_interest`); a new connection polls from scratch.
    pub fn configure(&mut self, mark_price: bool, funding: bool, liquidations: bool, symbols: &[String], open_interest: bool) {
        (self.mark_price, self.funding, self.liquidations) = (mark_price, funding, liquidations);
        self.symbols = symbols.iter().map(|symbol| symbol.to_ascii_uppercase()).collect();
        let mut seen = HashSet::new();
        self.open_interest = match open_interest {
            true => symbols.iter().map(|symbol| symbol.to_ascii_uppercase()).filter(|symbol| seen.insert(symbol.clone())).collect(),
            false => Vec::new(),
        };
    }

    /// The first open interest poll of every configured symbol, and with `funding` the
    /// funding intervals.
    pub fn initial_fetches(&self) -> Vec<Fetch> {
        let mut fetches: Vec<Fetch> = self
            .open_interest
            .iter()
            .map(|symbol| {
                Fetch::get(format!("openInterest {symbol}"), format!("{OPEN_INTEREST_PATH}?symbol={symbol}"), OPEN_INTEREST_WEIGHT)
            })
            .collect();
        if self.funding {
            fetches.push(Fetch::get("fundingInfo", FUNDING_INFO_PATH, FUNDING_INFO_WEIGHT));
        }
        fetches
    }

    /// Whether a fetch of `path` is one of these.
    pub fn asked_for(path: &str) -> bool {
        path.starts_with(OPEN_INTEREST_PATH) || path.starts_with(FUNDING_INFO_PATH)
    }

    /// The funding interval of `symbol` (venue spelling, upper case) as the bars'
    /// intervals are written (`8h`), once `fundingInfo` has answered.
    fn funding_interval(&self, symbol: &str) -> Option<String> {
        let hours = self.funding_hours.as_ref()?.get(symbol).copied().unwrap_or(DEFAULT_FUNDING_HOURS);
        Some(format!("{hours}h"))
    }

    /// `markPriceUpdate`: a mark price row and/or a funding row, as configured.
    pub fn mark_price(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let update: MarkPriceUpdate = serde_json::from_str(payload).map_err(|error| invalid("markPriceUpdate", error))?;
        let time = millis("E", update.event_time_ms)?;
        let symbol = split_quote_asset(&update.symbol.to_ascii_uppercase());
        let mark = non_negative("p", update.mark_price)?;
        let index = non_negative("i", update.index_price)?;
        let funding = match update.funding_rate.trim() {
            "" => None,
            rate => Some(decimal("r", rate)?),
        };
        let next_funding_time = match update.next_funding_time_ms {
            0 => None,
            ms => Some(millis("T", ms)?),
        };
        if self.mark_price {
            parsed.records.push(crate::record::Record::MarkPrice(MarkPrice {
                time,
                received_at,
                venue: self.venue.to_string(),
                symbol: symbol.clone(),
                mark_price: Some(mark),
                index_price: Some(index),
            }));
        }
        if let (true, Some(rate)) = (self.funding, funding) {
            parsed.records.push(crate::record::Record::FundingRate(FundingRate {
                time,
                received_at,
                venue: self.venue.to_string(),
                symbol,
                rate,
                predicted_rate: None,
                next_funding_time,
                interval: self.funding_interval(&update.symbol.to_ascii_uppercase()),
            }));
        }
        Ok(())
    }

    /// `forceOrder`: one liquidation.
    pub fn force_order(&mut self, payload: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let event: ForceOrder = serde_json::from_str(payload).map_err(|error| invalid("forceOrder", error))?;
        let order = event.order;
        let side = match order.side {
            "SELL" => Side::Sell,
            "BUY" => Side::Buy,
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("forceOrder: `o.S` is {other:?}; expected \"BUY\" or \"SELL\""),
                ))
            }
        };
        if !self.liquidations {
            return Ok(());
        }
        parsed.records.push(crate::record::Record::Liquidation(Liquidation {
            time: millis("o.T", order.trade_time_ms)?,
            received_at,
            venue: self.venue.to_string(),
            symbol: split_quote_asset(&order.symbol.to_ascii_uppercase()),
            side,
            price: positive("o.p", order.price)?,
            quantity: positive("o.q", order.quantity)?,
            order_id: None,
        }));
        Ok(())
    }

    /// The answer to an open interest poll or to `fundingInfo`, and the next request
    /// (after a failure too).
    pub fn fetched(&mut self, fetch: &Fetch, outcome: Result<&str, &FetchError>, received_at: Timestamp, parsed: &mut Parsed) {
        let raw = match outcome {
            Ok(body) => body.to_string(),
            Err(error) => format!("{} {}: {error}", fetch.tag, fetch.path),
        };
        let answered = if fetch.path.starts_with(FUNDING_INFO_PATH) {
            let answered = self.funding_info_answer(outcome);
            parsed.fetches.push(fetch.clone().after(if answered.is_ok() { FUNDING_INFO_POLL } else { FUNDING_INFO_RETRY }));
            answered
        } else {
            parsed.fetches.push(fetch.clone().after(self.poll_interval));
            self.open_interest_answer(fetch, outcome, received_at, parsed)
        };
        if let Err(rejection) = answered {
            parsed.rejected.push((rejection, raw));
        }
    }

    /// Keeps the intervals `fundingInfo` lists for the configured symbols (an answer that
    /// does not read leaves the ones known before).
    fn funding_info_answer(&mut self, outcome: Result<&str, &FetchError>) -> Result<(), Rejection> {
        let body = outcome.map_err(|error| Rejection::new(RejectReason::InvalidRecord, format!("fundingInfo: {error}")))?;
        let answer: Vec<FundingInfo> = serde_json::from_str(body).map_err(|error| invalid("fundingInfo answer", error))?;
        let mut hours = HashMap::new();
        for info in answer.iter().filter(|info| self.symbols.contains(info.symbol)) {
            if info.interval_hours == 0 {
                return Err(Rejection::new(
                    RejectReason::OutOfRange,
                    format!("fundingInfo answer: `fundingIntervalHours` of {} is 0", info.symbol),
                ));
            }
            hours.insert(info.symbol.to_string(), info.interval_hours);
        }
        self.funding_hours = Some(hours);
        Ok(())
    }

    fn open_interest_answer(
        &mut self,
        fetch: &Fetch,
        outcome: Result<&str, &FetchError>,
        received_at: Timestamp,
        parsed: &mut Parsed,
    ) -> Result<(), Rejection> {
        let body = outcome.map_err(|error| Rejection::new(RejectReason::InvalidRecord, format!("open interest poll: {error}")))?;
        let answer: OpenInterestAnswer = serde_json::from_str(body).map_err(|error| invalid("openInterest answer", error))?;
        let asked = fetch.path.rsplit_once("symbol=").map_or("", |(_, symbol)| symbol);
        if !answer.symbol.eq_ignore_ascii_case(asked) {
            return Err(Rejection::new(
                RejectReason::InvalidRecord,
                format!("openInterest answer: `symbol` is {:?}; {asked} was asked for", answer.symbol),
            ));
        }
        let record = OpenInterest {
            time: millis("time", answer.time)?,
            received_at,
            venue: self.venue.to_string(),
            symbol: split_quote_asset(&answer.symbol.to_ascii_uppercase()),
            contracts: Some(non_negative("openInterest", answer.open_interest)?),
            notional: None,
        };
        if self.open_interest_times.admit_time(&record.symbol, record.time, parsed) {
            parsed.records.push(crate::record::Record::OpenInterest(record));
        }
        Ok(())
    }
}

fn non_negative(name: &str, text: &str) -> Result<f64, Rejection> {
    let value = decimal(name, text)?;
    if value < 0.0 {
        return Err(Rejection::new(RejectReason::OutOfRange, format!("`{name}` is {text}; expected a number >= 0")));
    }
    Ok(value)
}

fn positive(name: &str, text: &str) -> Result<f64, Rejection> {
    let value = decimal(name, text)?;
    if value <= 0.0 {
        return Err(Rejection::new(RejectReason::OutOfRange, format!("`{name}` is {text}; expected a number > 0")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn all() -> BinanceDerivatives {
        let mut derivatives = BinanceDerivatives::new("binance_futures");
        derivatives.configure(true, true, true, &["btcusdt".into(), "BTCUSDT".into()], true);
        derivatives
    }

    #[test]
    fn the_documented_mark_price_update_is_a_mark_and_a_funding_row() {
        let mut derivatives = all();
        let mut parsed = Parsed::default();
        let documented = r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}"#;
        derivatives.mark_price(documented, NOW, &mut parsed).unwrap();
        let [Record::MarkPrice(mark), Record::FundingRate(funding)] = parsed.records.as_slice() else { panic!("{:?}", parsed.records) };
        assert_eq!((mark.symbol.as_str(), mark.mark_price, mark.index_price), ("BTC-USDT", Some(11794.15), Some(11784.62659091)));
        assert_eq!(mark.time, Timestamp::from_unix_millis(1_562_305_380_000).unwrap());
        assert_eq!((funding.rate, funding.next_funding_time), (0.00038167, Timestamp::from_unix_millis(1_562_306_400_000)));
        assert_eq!((funding.predicted_rate, funding.interval.as_deref()), (None, None));
        // Funding only; a delivery contract's message has no funding.
        derivatives.configure(false, true, false, &[], false);
        let mut parsed = Parsed::default();
        derivatives.mark_price(documented, NOW, &mut parsed).unwrap();
        assert!(matches!(parsed.records.as_slice(), [Record::FundingRate(_)]));
        let delivery = r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT_250627","p":"1","i":"1","P":"1","r":"","T":0}"#;
        let mut parsed = Parsed::default();
        derivatives.mark_price(delivery, NOW, &mut parsed).unwrap();
        assert!(parsed.records.is_empty());
        let negative = r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"-1","i":"1","r":"0","T":0}"#;
        assert_eq!(derivatives.mark_price(negative, NOW, &mut parsed).unwrap_err().code, RejectReason::OutOfRange);
    }

    #[test]
    fn the_documented_force_order_is_a_sell_liquidation() {
        let mut derivatives = all();
        let mut parsed = Parsed::default();
        let documented = r#"{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}"#;
        derivatives.force_order(documented, NOW, &mut parsed).unwrap();
        let [Record::Liquidation(liquidation)] = parsed.records.as_slice() else { panic!() };
        assert_eq!((liquidation.side, liquidation.price, liquidation.quantity), (Side::Sell, 9910.0, 0.014));
        assert_eq!(liquidation.time, Timestamp::from_unix_millis(1_568_014_460_893).unwrap());
        let sideways = documented.replace(r#""S":"SELL""#, r#""S":"LONG""#);
        assert_eq!(derivatives.force_order(&sideways, NOW, &mut parsed).unwrap_err().code, RejectReason::InvalidField);
        let empty = documented.replace(r#""q":"0.014""#, r#""q":"0""#);
        assert_eq!(derivatives.force_order(&empty, NOW, &mut parsed).unwrap_err().code, RejectReason::OutOfRange);
    }

    #[test]
    fn open_interest_polls_again_after_answers_and_failures() {
        let mut derivatives = all();
        derivatives.set_poll_interval(Duration::from_millis(250));
        let fetches = derivatives.initial_fetches();
        assert_eq!(
            fetches,
            [
                Fetch::get("openInterest BTCUSDT", "/fapi/v1/openInterest?symbol=BTCUSDT", 1),
                Fetch::get("fundingInfo", "/fapi/v1/fundingInfo", 1)
            ],
            "one poll per symbol, and the funding intervals"
        );
        let fetch = &fetches[0];
        let mut parsed = Parsed::default();
        let documented = r#"{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}"#;
        derivatives.fetched(fetch, Ok(documented), NOW, &mut parsed);
        let [Record::OpenInterest(open_interest)] = parsed.records.as_slice() else { panic!() };
        assert_eq!((open_interest.contracts, open_interest.notional), (Some(10659.509), None));
        assert_eq!(parsed.fetches, [fetch.clone().after(Duration::from_millis(250))]);
        // The same answer again is a duplicate; a failure is dead-lettered and polled again.
        let mut parsed = Parsed::default();
        derivatives.fetched(fetch, Ok(documented), NOW, &mut parsed);
        assert_eq!((parsed.records.len(), parsed.duplicates), (0, 1));
        let mut parsed = Parsed::default();
        let refused = FetchError::Status { status: 400, body: r#"{"code":-1121,"msg":"Invalid symbol."}"#.into() };
        derivatives.fetched(fetch, Err(&refused), NOW, &mut parsed);
        assert_eq!((parsed.rejected.len(), parsed.fetches.len()), (1, 1));
        let mut parsed = Parsed::default();
        derivatives.fetched(fetch, Ok(r#"{"openInterest":"1","symbol":"ETHUSDT","time":1589437540011}"#), NOW, &mut parsed);
        assert_eq!((parsed.records.len(), parsed.rejected.len(), parsed.fetches.len()), (0, 1, 1), "another symbol's answer");
    }

    #[test]
    fn funding_intervals_come_from_funding_info_once_it_answers() {
        let mut derivatives = BinanceDerivatives::new("binance_futures");
        derivatives.configure(false, true, false, &["btcusdt".into(), "LPTUSDT".into(), "ETHUSDT".into()], false);
        let fetches = derivatives.initial_fetches();
        assert_eq!(fetches, [Fetch::get("fundingInfo", "/fapi/v1/fundingInfo", 1)], "funding alone asks for the intervals only");
        let info = &fetches[0];
        let interval_of = |derivatives: &mut BinanceDerivatives, symbol: &str| {
            let update = format!(
                r#"{{"e":"markPriceUpdate","E":1562305380000,"s":"{symbol}","p":"1","i":"1","P":"1","r":"0.0001","T":1562306400000}}"#
            );
            let mut parsed = Parsed::default();
            derivatives.mark_price(&update, NOW, &mut parsed).unwrap();
            let [Record::FundingRate(funding)] = parsed.records.as_slice() else { panic!("{:?}", parsed.records) };
            funding.interval.clone()
        };
        assert_eq!(interval_of(&mut derivatives, "BTCUSDT"), None, "unknown until fundingInfo answers");

        // The documented shape: only adjusted contracts are listed; XRPUSDT is not configured.
        let answer = r#"[{"symbol":"LPTUSDT","adjustedFundingRateCap":"0.02000000","adjustedFundingRateFloor":"-0.02000000","fundingIntervalHours":4,"disclaimer":false},
            {"symbol":"BTCUSDT","adjustedFundingRateCap":"0.03000000","adjustedFundingRateFloor":"-0.03000000","fundingIntervalHours":8,"disclaimer":false},
            {"symbol":"XRPUSDT","adjustedFundingRateCap":"0.02000000","adjustedFundingRateFloor":"-0.02000000","fundingIntervalHours":1,"disclaimer":false}]"#;
        let mut parsed = Parsed::default();
        derivatives.fetched(info, Ok(answer), NOW, &mut parsed);
        assert_eq!((parsed.rejected.len(), parsed.fetches.as_slice()), (0, [info.clone().after(FUNDING_INFO_POLL)].as_slice()));
        assert_eq!(derivatives.funding_hours.as_ref().map(HashMap::len), Some(2), "only the configured symbols are kept");
        let intervals: Vec<Option<String>> =
            ["LPTUSDT", "BTCUSDT", "ETHUSDT"].iter().map(|symbol| interval_of(&mut derivatives, symbol)).collect();
        assert_eq!(intervals, [Some("4h".to_string()), Some("8h".to_string()), Some("8h".to_string())], "ETHUSDT is not adjusted: 8h");

        // A failure or an answer that does not read is dead-lettered, asked again within a
        // minute, and leaves the intervals known.
        let refused = FetchError::Status { status: 429, body: String::new() };
        for outcome in [Err(&refused), Ok(r#"{"code":-1000}"#), Ok(r#"[{"symbol":"LPTUSDT","fundingIntervalHours":0}]"#)] {
            let mut parsed = Parsed::default();
            derivatives.fetched(info, outcome, NOW, &mut parsed);
            assert_eq!((parsed.rejected.len(), parsed.fetches.as_slice()), (1, [info.clone().after(FUNDING_INFO_RETRY)].as_slice()));
            assert_eq!(interval_of(&mut derivatives, "LPTUSDT"), Some("4h".to_string()));
        }
        // A later answer changes them: LPTUSDT moved to hourly funding.
        let mut parsed = Parsed::default();
        derivatives.fetched(info, Ok(r#"[{"symbol":"LPTUSDT","fundingIntervalHours":1}]"#), NOW, &mut parsed);
        assert_eq!(interval_of(&mut derivatives, "LPTUSDT"), Some("1h".to_string()));
        assert_eq!(interval_of(&mut derivatives, "BTCUSDT"), Some("8h".to_string()));
    }
}
