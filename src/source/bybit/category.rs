//! Bybit's product categories: one public stream each (Bybit V5 "Connect",
//! bybit-exchange.github.io/docs/v5/ws/connect), and what differs between them — the
//! `venue` written in records, the endpoint, the channels offered, the REST `category`
//! and how a venue symbol becomes ours.
//!
//! Symbols keep the spot form whatever the category: `BTCUSDT` is `BTC-USDT` on `bybit`
//! (spot), and the perpetual `BTCUSDT` is also `BTC-USDT`, on `bybit_linear`: the venue
//! tells the two apart, as `binance` and `binance_futures` do. A dated contract keeps its
//! expiry after the pair (`BTCUSDT-26DEC25` → `BTC-USDT-26DEC25`; USDC futures such as
//! `BTC-26DEC25` stay as written). Inverse contracts are quoted in USD
//! (`BTCUSD` → `BTC-USD`; the quarterly `BTCUSDH26` → `BTC-USD-H26`).

use crate::config::Channel;
use crate::source::symbols::split_quote_asset;

/// Which public stream a Bybit source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Spot,
    /// USDT and USDC perpetuals and futures.
    Linear,
    /// Inverse (coin-margined) perpetuals and futures.
    Inverse,
}

/// The spot channels (`publicTrade`, the top of the book, `kline.1`, `tickers`,
/// `orderbook.{depth}`; no aggregated trades).
const SPOT_CHANNELS: &[Channel] = &[Channel::Trades, Channel::Quotes, Channel::Bars, Channel::Tickers, Channel::Book];

/// The linear and inverse channels: the spot ones, the derivative values of `tickers`
/// (funding, open interest, mark and index prices), `allLiquidation` and the REST
/// instrument specifications.
const DERIVATIVE_CHANNELS: &[Channel] = &[
    Channel::Trades,
    Channel::Quotes,
    Channel::Bars,
    Channel::Tickers,
    Channel::Book,
    Channel::Funding,
    Channel::OpenInterest,
    Channel::MarkPrice,
    Channel::Liquidations,
    Channel::Instruments,
];

impl Category {
    /// The `venue` of this category's records.
    pub fn venue(self) -> &'static str {
        match self {
            Category::Spot => "bybit",
            Category::Linear => "bybit_linear",
            Category::Inverse => "bybit_inverse",
        }
    }

    pub fn default_url(self) -> &'static str {
        match self {
            Category::Spot => "wss://stream.bybit.com/v5/public/spot",
            Category::Linear => "wss://stream.bybit.com/v5/public/linear",
            Category::Inverse => "wss://stream.bybit.com/v5/public/inverse",
        }
    }

    /// The `category` parameter of Bybit's REST market endpoints.
    pub fn rest_category(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
            Category::Inverse => "inverse",
        }
    }

    pub fn channels(self) -> &'static [Channel] {
        match self {
            Category::Spot => SPOT_CHANNELS,
            Category::Linear | Category::Inverse => DERIVATIVE_CHANNELS,
        }
    }

    /// The `instruments` asset class of this category's symbols.
    pub fn asset_class(self) -> &'static str {
        match self {
            Category::Spot => "crypto",
            Category::Linear | Category::Inverse => "future",
        }
    }

    /// A venue symbol (in capitals) as our records carry it (see the module doc).
    pub fn symbol(self, venue_symbol: &str) -> String {
        match self {
            Category::Spot | Category::Linear => match venue_symbol.split_once('-') {
                Some((pair, expiry)) => format!("{}-{expiry}", split_quote_asset(pair)),
                None => split_quote_asset(venue_symbol),
            },
            Category::Inverse => inverse_symbol(venue_symbol),
        }
    }
}

/// `BTCUSD` → `BTC-USD`, `BTCUSDH26` → `BTC-USD-H26` (a futures month code and year);
/// anything else as written.
fn inverse_symbol(venue_symbol: &str) -> String {
    if let Some(base) = venue_symbol.strip_suffix("USD").filter(|base| !base.is_empty()) {
        return format!("{base}-USD");
    }
    let split = venue_symbol.len().checked_sub(3).and_then(|at| Some((venue_symbol.get(..at)?, venue_symbol.get(at..)?)));
    if let Some((pair, code)) = split {
        let dated = matches!(code.as_bytes(), [month, year @ ..] if b"FGHJKMNQUVXZ".contains(month) && year.iter().all(u8::is_ascii_digit));
        if let Some(base) = pair.strip_suffix("USD").filter(|base| dated && !base.is_empty()) {
            return format!("{base}-USD-{code}");
        }
    }
    venue_symbol.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_per_category() {
        for (category, venue, ours) in [
            (Category::Spot, "BTCUSDT", "BTC-USDT"),
            (Category::Linear, "BTCUSDT", "BTC-USDT"),
            (Category::Linear, "ETHUSDC", "ETH-USDC"),
            (Category::Linear, "BTCUSDT-26DEC25", "BTC-USDT-26DEC25"),
            (Category::Linear, "BTC-26DEC25", "BTC-26DEC25"),
            (Category::Linear, "BTCPERP", "BTCPERP"),
            (Category::Inverse, "BTCUSD", "BTC-USD"),
            (Category::Inverse, "ETHUSDH26", "ETH-USD-H26"),
            (Category::Inverse, "BTCUSDZ25", "BTC-USD-Z25"),
            (Category::Inverse, "USD", "USD"),
            (Category::Inverse, "BTCUSDA25", "BTCUSDA25"),
            (Category::Inverse, "ÉUSDH26", "É-USD-H26"),
            (Category::Inverse, "aaaaÉaa", "aaaaÉaa"),
            (Category::Inverse, "H26", "H26"),
        ] {
            assert_eq!(category.symbol(venue), ours, "{category:?} {venue}");
        }
    }
}
