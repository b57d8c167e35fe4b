//! Option quotes: one contract's prices, greeks and implied volatilities at a moment.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Call or put, stored as the text `call` / `put`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OptionKind {
    Call,
    Put,
}

impl OptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OptionKind::Call => "call",
            OptionKind::Put => "put",
        }
    }
}

/// One option contract's quote. `symbol` is the contract as the venue names it
/// (`BTC-27DEC24-100000-C`, `AAPL250117C00150000`); `underlying`, `strike`,
/// `expiration` and `option_type` are its parts, so a chain is one `WHERE underlying = …`.
/// Implied volatilities (`iv`, `bid_iv`, `ask_iv`) are annualized and in percent
/// (`55.1` = 55.1 %) whatever unit the venue uses; adapters convert. Prices and greeks
/// are as the venue publishes them (Deribit's inverse options are priced in the
/// underlying currency, e.g. BTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionQuote {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub underlying: String,
    pub option_type: OptionKind,
    pub strike: f64,
    pub expiration: NaiveDate,
    pub bid: Option<f64>,
    pub ask: Option<f64>,
    pub last: Option<f64>,
    pub mark: Option<f64>,
    pub volume: Option<f64>,
    pub open_interest: Option<f64>,
    pub delta: Option<f64>,
    pub gamma: Option<f64>,
    pub theta: Option<f64>,
    pub vega: Option<f64>,
    pub rho: Option<f64>,
    pub iv: Option<f64>,
    pub bid_iv: Option<f64>,
    pub ask_iv: Option<f64>,
    pub underlying_price: Option<f64>,
}
