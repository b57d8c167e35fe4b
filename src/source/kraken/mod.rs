//! Kraken spot market data over WebSocket v2 (`wss://ws.kraken.com/v2`).
//!
//! Source: Kraken "Spot WebSocket v2" reference (docs.kraken.com/api/docs/websocket-v2/:
//! `trade`, `ticker`, `ohlc`, `book`, `heartbeat`, `status`, `ping`). Every message is a JSON
//! object: market data as `{"channel": …, "type": "snapshot"|"update", "data": [...]}`,
//! answers to requests as `{"method": …, "success": …, "req_id": …}`. `wire` mirrors
//! that JSON; `normalize` maps it onto our records.

mod book;
mod normalize;
mod wire;

pub use normalize::KrakenAdapter;
pub use wire::normalize_symbol;
