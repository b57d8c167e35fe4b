//! Binance spot and USDⓈ-M futures market streams.
//!
//! Source: Binance "WebSocket Streams" (spot: developers.binance.com/docs/binance-spot-api-docs/web-socket-streams;
//! futures: .../derivatives/usds-margined-futures/websocket-market-streams). Raw
//! (`/ws`) and combined (`/stream`, `{"stream": …, "data": …}`) message forms are both
//! understood. `book` is the `book` channel: the diff depth stream synchronised with the
//! REST depth snapshot (see its module doc). `wire` mirrors the venue's JSON; `normalize` maps it onto our records.

pub mod book;
mod normalize;
mod wire;

pub use normalize::BinanceAdapter;
