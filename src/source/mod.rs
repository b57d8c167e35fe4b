//! Where records come from. A source turns some input into normalized records and
//! hands them to the [`Router`](crate::pipeline::Router); it never knows about
//! batches or the database: the push websocket server (`push`), and venue feeds run by
//! the shared websocket connector (`feed`) with one adapter folder per venue
//! (`alpaca`, `binance`, `bybit`, `coinbase`, `deribit`, `hyperliquid`, `kraken`, `okx`,
//! `polygon`), the
//! generic adapter for feeds described in the configuration (`json`), and the symbol
//! normalization they share (`symbols`); `contracts`, which reads option contract
//! names (Deribit, OKX, OCC) into underlying, expiry, strike and call/put; `file`, the
//! vendor files (CSV, NDJSON; plain, gzip, zstd) `hypertick import` reads; `values`, the
//! one reading of identifiers, numbers, times and intervals they all share; and `check`,
//! the checks of the configuration that only the sources can make (what each venue
//! offers, the credentials it reads, the push server's TLS files).
//! **Only this module knows input formats.**

pub mod alpaca;
pub mod binance;
pub mod bybit;
mod check;
pub mod coinbase;
pub mod contracts;
pub mod deribit;
pub mod feed;
pub mod file;
pub mod hyperliquid;
pub mod json;
pub mod kraken;
pub mod okx;
pub mod polygon;
pub mod push;
pub mod symbols;
pub mod values;

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::pipeline::Router;

pub use check::check_sources;

/// What every source gets to run with.
#[derive(Clone)]
pub struct SourceContext {
    pub router: Router,
    /// Where a venue source reports being connected or not, for `/readyz`.
    pub health: std::sync::Arc<crate::metrics::Health>,
    /// Cancelled when the daemon stops; a source then finishes what it is handling and returns.
    pub shutdown: CancellationToken,
}

pub type SourceFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A producer of records. `run` returns when `shutdown` is cancelled.
pub trait Source: Send {
    /// A short name for logs and metric labels.
    fn name(&self) -> &str;
    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture;
}

/// Builds the source a `[[sources]]` entry describes. Fails only for a json source
/// whose description does not compile, which `check-config` refuses first.
pub fn from_config(config: &crate::config::SourceConfig) -> anyhow::Result<Box<dyn Source>> {
    Ok(Box::new(feed::FeedSource::new(config.clone(), adapter_from_config(config)?)))
}

/// The venue adapter of a `[[sources]]` entry.
pub fn adapter_from_config(config: &crate::config::SourceConfig) -> anyhow::Result<Box<dyn feed::VenueAdapter>> {
    use crate::config::SourceKind;
    let mut adapter: Box<dyn feed::VenueAdapter> = match config.kind {
        SourceKind::Binance => Box::new(binance::BinanceAdapter::spot()),
        SourceKind::BinanceFutures => Box::new(binance::BinanceAdapter::futures()),
        SourceKind::Coinbase => Box::new(coinbase::CoinbaseAdapter::new()),
        SourceKind::Bybit => Box::new(bybit::BybitAdapter::spot()),
        SourceKind::BybitLinear => Box::new(bybit::BybitAdapter::linear()),
        SourceKind::BybitInverse => Box::new(bybit::BybitAdapter::inverse()),
        SourceKind::Kraken => Box::new(kraken::KrakenAdapter::new()),
        SourceKind::Okx => Box::new(okx::OkxAdapter::new()),
        SourceKind::Deribit => Box::new(deribit::DeribitAdapter::new()),
        SourceKind::Alpaca => Box::new(alpaca::AlpacaAdapter::from_env()),
        SourceKind::Polygon => Box::new(polygon::PolygonAdapter::from_env()),
        SourceKind::Hyperliquid => Box::new(hyperliquid::HyperliquidAdapter::new()),
        SourceKind::Json => {
            Box::new(json::JsonAdapter::new(config).map_err(|error| anyhow::anyhow!("source `{}`: {error}", config.name()))?)
        }
    };
    let settings = feed::book::BookSettings::of(config, adapter.book_depths());
    adapter.set_book(settings);
    adapter.set_polls(feed::PollSettings::of(config));
    Ok(adapter)
}
