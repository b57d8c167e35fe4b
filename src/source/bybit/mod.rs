//! Bybit v5 public streams: spot (`bybit`), and the linear (`bybit_linear`: USDT and
//! USDC perpetuals and futures) and inverse (`bybit_inverse`) derivatives streams, which
//! add funding, open interest, mark and index prices (`derivatives`, from the `tickers`
//! topic), liquidations (`allLiquidation`) and the REST instrument specifications
//! (`instruments`); `category` says what differs between the three.
//!
//! Source: Bybit V5 API, "WebSocket Stream" (bybit-exchange.github.io/docs/v5/ws/connect,
//! .../v5/websocket/public/trade, .../orderbook, .../kline, .../ticker). Topics used:
//! `publicTrade` (ticks), `orderbook.1` (level-1 book → quotes), `kline.1` (confirmed
//! 1-minute bars), `tickers` (24-hour statistics → tickers) and `orderbook.{50,200,1000}`
//! (the `book` channel, see `book`); Bybit has no
//! aggregated-trade stream, so `agg_trades` subscribes to nothing.
//! Bybit expects an application heartbeat (`{"req_id":"…","op":"ping"}`, about every
//! 20 s) besides websocket pings; its answer parses as nothing. `wire` mirrors the
//! venue's JSON; `normalize` maps it onto our records.

mod book;
mod category;
mod derivatives;
mod instruments;
mod normalize;
mod wire;

#[cfg(test)]
mod derivatives_tests;

pub use normalize::BybitAdapter;
