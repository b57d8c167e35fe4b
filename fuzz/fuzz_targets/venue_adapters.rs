//! Any text as a message of every venue, before and after subscribing: records, a
//! rejection or nothing, never a panic.
#![no_main]

use hypertick::config::Channel;
use hypertick::record::Timestamp;
use hypertick::source::feed::VenueAdapter;
use hypertick::source::{alpaca, binance, bybit, coinbase, deribit, hyperliquid, kraken, okx, polygon};
use libfuzzer_sys::fuzz_target;

fn adapters() -> Vec<Box<dyn VenueAdapter>> {
    vec![
        Box::new(binance::BinanceAdapter::spot()),
        Box::new(binance::BinanceAdapter::futures()),
        Box::new(coinbase::CoinbaseAdapter::new()),
        Box::new(bybit::BybitAdapter::spot()),
        Box::new(bybit::BybitAdapter::linear()),
        Box::new(bybit::BybitAdapter::inverse()),
        Box::new(kraken::KrakenAdapter::new()),
        Box::new(okx::OkxAdapter::new()),
        Box::new(deribit::DeribitAdapter::new()),
        Box::new(hyperliquid::HyperliquidAdapter::new()),
        Box::new(alpaca::AlpacaAdapter::new("key", "secret")),
        Box::new(polygon::PolygonAdapter::new("key")),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let now = Timestamp(1_795_348_800_000_000);
    for mut adapter in adapters() {
        let _ = adapter.parse(text, now);
        let channels = [
            Channel::Trades,
            Channel::Quotes,
            Channel::Bars,
            Channel::Tickers,
            Channel::Options,
            Channel::Book,
            Channel::Funding,
            Channel::OpenInterest,
            Channel::MarkPrice,
            Channel::Liquidations,
        ];
        let offered: Vec<Channel> = channels.into_iter().collect();
        adapter.subscriptions(&["BTC-USDT".to_string(), "BTC-27DEC26-100000-C".to_string()], &offered);
        let _ = adapter.parse(text, now);
        let _ = adapter.parse(text, now);
    }
});
