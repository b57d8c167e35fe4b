//! Coinbase Exchange market data feed (`wss://ws-feed.exchange.coinbase.com`).
//!
//! Source: Coinbase Exchange "WebSocket Feed" overview and channels
//! (docs.cdp.coinbase.com/exchange/websocket-feed/overview, .../channels). One subscribe
//! request names every product and channel; the venue answers with a `subscriptions`
//! message listing what is subscribed. Our `trades` channel is Coinbase's `matches`
//! (`match` and `last_match` → ticks); `quotes` and `tickers` are both `ticker`,
//! subscribed once (its best bid and offer → quotes, its 24-hour statistics → tickers).
//! Our `book` is `level2_batch` (`snapshot` and `l2update`, the public 50 ms batches;
//! see `book` for what is stored and checked). Coinbase offers no aggregated trades or
//! bars on this feed, so `agg_trades` and `bars` are left out of the subscription. `wire` mirrors the venue's JSON;
//! `normalize` maps it onto our records.

mod book;
mod normalize;
mod wire;

pub use normalize::CoinbaseAdapter;
