//! Derivatives data: funding rates, open interest, mark and index prices, liquidations.
//!
//! Four narrow tables rather than one wide one. Venues publish these at different
//! cadences and on different channels (OKX has one channel each, Binance puts mark, index
//! and funding in one message, open interest is polled over REST on Binance, an index
//! price belongs to an index rather than a contract), and quants ask for one of them at a
//! time: "the funding paid at each funding time", "open interest against price", "the
//! basis of mark over index". A wide row would be mostly NULL on the venues that send
//! each value apart, and every as-of read would have to look for the last non-NULL value
//! of its column; a narrow table answers with the last row.
//!
//! Every row is one venue message as sent (a venue repeating an unchanged funding rate
//! every second stores one row a second: the columnstore keeps repeats nearly free).

use serde::{Deserialize, Serialize};

use super::{Side, Timestamp};

/// One funding-rate publication of a perpetual contract (`funding_rates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FundingRate {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    /// The rate for the funding at `next_funding_time` as the venue publishes it (a
    /// fraction per funding interval: 0.0001 = 0.01 %).
    pub rate: f64,
    /// The venue's estimate of the following period's rate, where it sends one.
    pub predicted_rate: Option<f64>,
    /// When the funding of `rate` is settled.
    pub next_funding_time: Option<Timestamp>,
    /// The funding interval as the bars' intervals are written (`8h`, `1h`), where known.
    pub interval: Option<String>,
}

/// Open interest of a contract (`open_interest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenInterest {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    /// Open interest in the venue's unit: contracts, or base-currency units on venues
    /// that count in them (Binance USDⓈ-M, Bybit linear, Hyperliquid).
    pub contracts: Option<f64>,
    /// Open interest valued in the quote or settlement currency, where sent.
    pub notional: Option<f64>,
}

/// A mark price and/or an index price (`mark_prices`). `symbol` is the contract; for a
/// venue's index stream that belongs to no contract (OKX `index-tickers`, Deribit
/// `deribit_price_index`) it is the index's name and `mark_price` is NULL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkPrice {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub mark_price: Option<f64>,
    /// The index (or oracle) price the contract follows.
    pub index_price: Option<f64>,
}

/// One forced liquidation (`liquidations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Liquidation {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    /// The side of the liquidation order, stored like a trade's side: `Sell` (-1) closes
    /// a long position, `Buy` (1) closes a short. Adapters convert venues that name the
    /// position side instead.
    pub side: Side,
    pub price: f64,
    pub quantity: f64,
    /// The venue's order id, where sent.
    pub order_id: Option<String>,
}
