//! Binance spot and USDⓈ-M futures market streams.
//!
//! Source: Binance "WebSocket Streams" (spot: developers.binance.com/docs/binance-spot-api-docs/web-socket-streams;
//! futures: .../derivatives/usds-margined-futures/websocket-market-streams). Raw
//! (`/ws`) and combined (`/stream`, `{"stream": …, "data": …}`) message forms are both
//! understood. `book` is the `book` channel: the diff depth stream synchronised with the
//! REST depth snapshot (see its module doc). `wire` mirrors the venue's JSON; `normalize` maps it onto our records.
//! `derivatives` (USDⓈ-M: mark price and funding, liquidations, open interest polled over
//! REST) and `instruments` (exchange information, both markets) have their own module docs.

pub mod book;
mod derivatives;
mod instruments;
mod normalize;
mod wire;

pub use normalize::BinanceAdapter;
