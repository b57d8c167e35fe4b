//! Hyperliquid public websocket (`wss://api.hyperliquid.xyz/ws`) and info endpoint
//! (`POST https://api.hyperliquid.xyz/info`), perpetuals of the first perp dex.
//!
//! Source: Hyperliquid docs (hyperliquid.gitbook.io/hyperliquid-docs), "For developers →
//! API → Websocket → Subscriptions" (subscription messages, `subscriptionResponse`, the
//! `WsTrade`, `WsBook`, `Candle` and `WsActiveAssetCtx` data formats), "Timeouts and
//! heartbeats" (`{"method":"ping"}` / `{"channel":"pong"}`), "Info endpoint →
//! Perpetuals" (`meta`), "Tick and lot size" and "Trading → Funding".
//!
//! Symbols: configured as the venue's coin names (`BTC`, `ETH`), subscribed as given, and
//! stored as `BTC-USD` (the venue's market name): perpetuals priced and settled in USDC
//! (the instrument specs say so: quote and settle `USDC`). Builder-deployed (`xyz:TSLA`)
//! and spot (`@107`) markets are not covered.
//!
//! Channels, one subscription per coin and channel:
//! - `trades` ← `trades`: `side` `B` (bid) is a buyer taking the ask, stored as a buy;
//!   `A` a sell. `tid` is the trade id.
//! - `bars` ← `candle` interval `1m`, stored once closed (see `normalize`).
//! - `book` ← `l2Book`: every push is a 20-level snapshot, stored as changes against
//!   the previous one (see `book`); `book_depth` 20 only.
//! - `funding`, `open_interest`, `mark_price` ← `activeAssetCtx` (see `derivatives`).
//! - `instruments` ← `/info` `{"type":"meta"}`, polled (see `instruments`).
//!
//! No quotes, tickers, aggregated trades, options or liquidations (the public websocket
//! has no liquidation stream). `wire` mirrors the venue's JSON.

pub mod book;
mod derivatives;
mod instruments;
mod normalize;
mod wire;

pub use normalize::{symbol_of, HyperliquidAdapter};
