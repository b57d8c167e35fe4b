//! What the symbol master (`instruments`) records about one (venue, symbol).

use chrono::NaiveDate;

use super::OptionKind;

/// One instrument as far as the data seen so far describes it; unknown parts are `None`
/// and never overwrite what the table already knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub venue: String,
    pub symbol: String,
    /// The symbol as the venue writes it (`BTCUSDT` for our `BTC-USDT`).
    pub venue_symbol: Option<String>,
    /// `crypto`, `equity`, `option`, …
    pub asset_class: Option<&'static str>,
    pub underlying: Option<String>,
    pub expiration: Option<NaiveDate>,
    pub strike: Option<f64>,
    pub option_type: Option<OptionKind>,
}

impl Instrument {
    /// An instrument known only by its venue and symbol.
    pub fn new(venue: &str, symbol: &str) -> Self {
        Instrument {
            venue: venue.to_string(),
            symbol: symbol.to_string(),
            venue_symbol: None,
            asset_class: None,
            underlying: None,
            expiration: None,
            strike: None,
            option_type: None,
        }
    }
}
