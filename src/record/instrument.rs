//! What the symbol master (`instruments`) records about one (venue, symbol).

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::{OptionKind, RowRecord, Timestamp};

/// One instrument as far as the data seen so far describes it; unknown parts are `None`
/// and never overwrite what the table already knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub venue: String,
    pub symbol: String,
    /// The symbol as the venue writes it (`BTCUSDT` for our `BTC-USDT`).
    pub venue_symbol: Option<String>,
    /// `crypto`, `equity`, `future`, `option`, …
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

    /// A symbol a venue feed is configured with: ours, the venue's spelling of it, and
    /// its asset class when the adapter knows it.
    pub fn listed(venue: &str, symbol: &str, venue_symbol: &str, asset_class: Option<&'static str>) -> Self {
        Instrument { venue_symbol: Some(venue_symbol.to_string()), asset_class, ..Instrument::new(venue, symbol) }
    }

    /// The upsert of this instrument into `instruments` for the relational writer. Only
    /// the known columns are sent, and the writer's upsert of `instruments` (the sink's
    /// one) keeps what the table knows where a row has nothing.
    pub fn upsert_row(&self, received_at: Timestamp) -> RowRecord {
        RowRecord::upsert("instruments", self.known_fields(), received_at)
    }

    /// The known columns of this instrument's `instruments` row, as JSON.
    pub fn known_fields(&self) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert("venue".into(), json!(self.venue));
        row.insert("symbol".into(), json!(self.symbol));
        if let Some(venue_symbol) = &self.venue_symbol {
            row.insert("venue_symbol".into(), json!(venue_symbol));
        }
        if let Some(asset_class) = self.asset_class {
            row.insert("asset_class".into(), json!(asset_class));
        }
        if let Some(underlying) = &self.underlying {
            row.insert("underlying".into(), json!(underlying));
        }
        if let Some(expiration) = self.expiration {
            row.insert("expiration".into(), json!(expiration.format("%Y-%m-%d").to_string()));
        }
        if let Some(strike) = self.strike.filter(|strike| strike.is_finite()) {
            row.insert("strike".into(), json!(strike));
        }
        if let Some(option_type) = self.option_type {
            row.insert("option_type".into(), json!(option_type.as_str()));
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_row_carries_only_what_is_known() {
        let listed = Instrument::listed("binance", "BTC-USDT", "BTCUSDT", Some("crypto"));
        let row = listed.upsert_row(Timestamp(1));
        assert_eq!(row.columns, ["asset_class", "symbol", "venue", "venue_symbol"]);
        assert_eq!(
            serde_json::from_str::<Value>(&row.json).unwrap(),
            json!({"venue": "binance", "symbol": "BTC-USDT", "venue_symbol": "BTCUSDT", "asset_class": "crypto"})
        );
        let unclassified = Instrument::listed("examplevenue", "BTC-USD", "BTC/USD", None).upsert_row(Timestamp(1));
        assert_eq!(unclassified.columns, ["symbol", "venue", "venue_symbol"]);
        let option = Instrument {
            underlying: Some("BTC".into()),
            expiration: NaiveDate::from_ymd_opt(2024, 12, 27),
            strike: Some(100000.0),
            option_type: Some(OptionKind::Call),
            ..Instrument::listed("deribit", "BTC-27DEC24-100000-C", "BTC-27DEC24-100000-C", Some("option"))
        };
        let row = option.upsert_row(Timestamp(1));
        let fields: Value = serde_json::from_str(&row.json).unwrap();
        assert_eq!(
            (fields["expiration"].as_str(), fields["strike"].as_f64(), fields["option_type"].as_str()),
            (Some("2024-12-27"), Some(100000.0), Some("call"))
        );
    }
}
