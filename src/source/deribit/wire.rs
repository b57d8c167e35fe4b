//! Deribit API v2 websocket messages as the venue sends them (JSON-RPC 2.0).
//!
//! Every message is either a response to one of our requests (`id` with `result` or
//! `error`) or a notification (`method`: `subscription` or `heartbeat`, with `params`).
//! [`Envelope`] reads both shapes and leaves `params.data` raw until the channel says
//! what it holds. Prices, amounts, sequence numbers and times are JSON numbers; the ones
//! records are made of are kept raw ([`RawValue`]) so a bad one is rejected naming its
//! field. Instrument names and channel names never contain JSON escapes and are borrowed
//! as `&str`; free text (`error.message`) may, and is a `Cow`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::values::{decimal, millis};

/// Any message. A response: `{"jsonrpc":"2.0","id":1,"result":["trades.BTC-PERPETUAL.raw"]}`
/// (subscribe), `{"jsonrpc":"2.0","id":2,"result":"ok"}` (set_heartbeat),
/// `{"jsonrpc":"2.0","id":3,"result":{"version":"1.2.26"}}` (test);
/// an error: `{"jsonrpc":"2.0","id":1,"error":{"message":"Invalid params","data":{"reason":"wrong format","param":"channels"},"code":-32602}}`;
/// a notification: `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[…]}}`
/// or `{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// The request's id, on responses.
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(borrow, default)]
    pub method: Option<&'a str>,
    #[serde(borrow, default)]
    pub params: Option<Params<'a>>,
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub error: Option<RpcError<'a>>,
}

/// `params` of a notification: `channel` and `data` for `subscription`, `type`
/// (`heartbeat` or `test_request`) for `heartbeat`.
#[derive(Debug, Deserialize)]
pub struct Params<'a> {
    #[serde(borrow, default)]
    pub channel: Option<&'a str>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a str>,
}

/// A JSON-RPC error: `{"code":-32602,"message":"Invalid params","data":{…}}`.
#[derive(Debug, Deserialize)]
pub struct RpcError<'a> {
    #[serde(default)]
    pub code: i64,
    #[serde(borrow, default)]
    pub message: Cow<'a, str>,
}

/// One element of `trades.{instrument}.{interval}` data:
/// `{"trade_seq":30289432,"trade_id":"48079254","timestamp":1590484156350,"tick_direction":0,
/// "price":8950,"mark_price":8948.9,"instrument_name":"BTC-PERPETUAL","index_price":8955.88,
/// "direction":"sell","amount":10}`; option trades also carry `iv`.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(borrow)]
    pub instrument_name: &'a str,
    #[serde(borrow)]
    pub trade_id: &'a str,
    /// Contiguous per instrument.
    #[serde(borrow)]
    pub trade_seq: &'a RawValue,
    /// Milliseconds since the Unix epoch.
    #[serde(borrow)]
    pub timestamp: &'a RawValue,
    #[serde(borrow)]
    pub price: &'a RawValue,
    /// Contracts (USD for perpetuals and futures, the base currency for options).
    #[serde(borrow)]
    pub amount: &'a RawValue,
    /// The taker's side: `buy` or `sell`.
    #[serde(borrow)]
    pub direction: &'a str,
    /// Only on a trade of a liquidation: `"M"` the maker's order was a liquidation, `"T"`
    /// the taker's, `"MT"` both.
    #[serde(borrow, default)]
    pub liquidation: Option<&'a str>,
}

/// `data` of `ticker.{instrument}.{interval}`. An option's:
/// `{"timestamp":1752057345721,"state":"open","stats":{"high":null,"low":null,"price_change":null,
/// "volume":0,"volume_usd":0},"greeks":{"delta":0.71138,"gamma":0.00001,"vega":389.29255,
/// "theta":-25.13021,"rho":524.77921},"index_price":108827.5,"instrument_name":"BTC-26JUN26-100000-C",
/// "last_price":0.247,"settlement_price":0.24231149,"min_price":0.1975,"max_price":0.3015,
/// "open_interest":1.2,"mark_price":0.2425,"best_bid_price":0.2395,"mark_iv":45.43,"ask_iv":46.18,
/// "bid_iv":44.54,"underlying_price":116086.34,"underlying_index":"BTC-26JUN26","best_ask_price":0.245,
/// "interest_rate":0,"estimated_delivery_price":108827.5,"best_ask_amount":2,"best_bid_amount":2}`.
/// A perpetual's or future's has no `greeks`, implied volatilities or `underlying_*`.
/// A side without orders has a `null` (or 0) price, and an option's IV of that side is 0.
///
/// Units (Deribit API v2, "ticker" and "Options"): an inverse option's prices
/// (`best_*_price`, `last_price`, `mark_price`) are in the underlying currency (BTC, ETH),
/// a linear (USDC) option's in USDC; `*_iv` are annualized implied volatilities in
/// percent; `greeks` are Deribit's own, stored unchanged; `underlying_price` is the
/// price of `underlying_index` (the future of the expiry, or the index) in the quote
/// currency (USD, USDC); `open_interest` and `stats.volume` (24 h) are in contracts.
///
/// Every number is kept raw, so only the fields a record needs are converted, and a bad
/// one is rejected naming its field.
#[derive(Debug, Deserialize)]
pub struct Ticker<'a> {
    #[serde(borrow)]
    pub instrument_name: &'a str,
    /// Milliseconds since the Unix epoch.
    #[serde(borrow)]
    pub timestamp: &'a RawValue,
    #[serde(borrow, default)]
    pub best_bid_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub best_bid_amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub best_ask_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub best_ask_amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub last_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub mark_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub open_interest: Option<&'a RawValue>,
    /// The price of the index the instrument follows.
    #[serde(borrow, default)]
    pub index_price: Option<&'a RawValue>,
    /// Perpetuals only: the funding rate now, and the funding of the last 8 hours.
    #[serde(borrow, default)]
    pub current_funding: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub funding_8h: Option<&'a RawValue>,
    /// Options only, like the fields below.
    #[serde(borrow, default)]
    pub mark_iv: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub bid_iv: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub ask_iv: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub underlying_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub greeks: Option<Greeks<'a>>,
    #[serde(borrow, default)]
    pub stats: Option<Stats<'a>>,
}

/// Option sensitivities of a ticker: `{"delta":0.71138,"gamma":0.00001,"vega":389.29255,"theta":-25.13021,"rho":524.77921}`.
#[derive(Debug, Deserialize)]
pub struct Greeks<'a> {
    #[serde(borrow, default)]
    pub delta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub gamma: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub vega: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub theta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub rho: Option<&'a RawValue>,
}

/// A ticker's 24-hour statistics: `{"high":null,"low":null,"price_change":null,"volume":0,"volume_usd":0}`;
/// a perpetual's, from the documented `ticker.BTC-PERPETUAL.raw` notification:
/// `{"volume_usd":284061480,"volume":7871.02139035,"price_change":0.7229,"low":35213.5,"high":36824.5}`.
/// Every field may be `null` (no trades).
#[derive(Debug, Deserialize)]
pub struct Stats<'a> {
    /// Traded in the last 24 hours: contracts for options, the base currency otherwise.
    #[serde(borrow, default)]
    pub volume: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub high: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub low: Option<&'a RawValue>,
    /// In USD.
    #[serde(borrow, default)]
    pub volume_usd: Option<&'a RawValue>,
    /// In the quote currency (futures and spot).
    #[serde(borrow, default)]
    pub volume_notional: Option<&'a RawValue>,
    /// The 24-hour price change in **percent** (`0.7229` is +0.7229 %).
    #[serde(borrow, default)]
    pub price_change: Option<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let push: Envelope = serde_json::from_str(
            r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"trade_seq":30289432,"trade_id":"48079254","timestamp":1590484156350,"tick_direction":0,"price":8950,"mark_price":8948.9,"instrument_name":"BTC-PERPETUAL","index_price":8955.88,"direction":"sell","amount":10}]}}"#,
        )
        .unwrap();
        let params = push.params.unwrap();
        assert_eq!((push.method, params.channel, push.id), (Some("subscription"), Some("trades.BTC-PERPETUAL.raw"), None));
        let trades: Vec<Trade> = serde_json::from_str(params.data.unwrap().get()).unwrap();
        let trade = &trades[0];
        assert_eq!(
            (
                trade.instrument_name,
                trade.trade_id,
                trade.trade_seq.get(),
                trade.timestamp.get(),
                trade.price.get(),
                trade.amount.get(),
                trade.direction
            ),
            ("BTC-PERPETUAL", "48079254", "30289432", "1590484156350", "8950", "10", "sell")
        );

        let ticker: Envelope = serde_json::from_str(
            r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-26JUN26-100000-C.100ms","data":{"timestamp":1752057345721,"state":"open","stats":{"high":null,"low":null,"price_change":null,"volume":0,"volume_usd":0},"greeks":{"delta":0.71138,"gamma":0.00001,"vega":389.29255,"theta":-25.13021,"rho":524.77921},"index_price":108827.5,"instrument_name":"BTC-26JUN26-100000-C","last_price":0.247,"settlement_price":0.24231149,"min_price":0.1975,"max_price":0.3015,"open_interest":1.2,"mark_price":0.2425,"best_bid_price":0.2395,"mark_iv":45.43,"ask_iv":46.18,"bid_iv":44.54,"underlying_price":116086.34,"underlying_index":"BTC-26JUN26","best_ask_price":0.245,"interest_rate":0,"estimated_delivery_price":108827.5,"best_ask_amount":2,"best_bid_amount":2}}}"#,
        )
        .unwrap();
        let ticker: Ticker = serde_json::from_str(ticker.params.unwrap().data.unwrap().get()).unwrap();
        fn raw(value: Option<&RawValue>) -> Option<&str> {
            value.map(RawValue::get)
        }
        assert_eq!((ticker.instrument_name, ticker.timestamp.get()), ("BTC-26JUN26-100000-C", "1752057345721"));
        assert_eq!(
            [ticker.best_bid_price, ticker.best_bid_amount, ticker.best_ask_price, ticker.best_ask_amount].map(raw),
            [Some("0.2395"), Some("2"), Some("0.245"), Some("2")]
        );
        assert_eq!(
            [ticker.last_price, ticker.mark_price, ticker.open_interest, ticker.underlying_price].map(raw),
            [Some("0.247"), Some("0.2425"), Some("1.2"), Some("116086.34")]
        );
        assert_eq!([ticker.mark_iv, ticker.bid_iv, ticker.ask_iv].map(raw), [Some("45.43"), Some("44.54"), Some("46.18")]);
        let greeks = ticker.greeks.unwrap();
        assert_eq!(
            [greeks.delta, greeks.gamma, greeks.vega, greeks.theta, greeks.rho].map(raw),
            [Some("0.71138"), Some("0.00001"), Some("389.29255"), Some("-25.13021"), Some("524.77921")]
        );
        assert_eq!(raw(ticker.stats.unwrap().volume), Some("0"));
        // Nulls (no bid, no trade yet, no volume) read as nothing; the IV of the empty side is 0.
        let no_bid: Ticker = serde_json::from_str(
            r#"{"timestamp":1752057345721,"instrument_name":"BTC-26JUN26-160000-C","best_bid_price":null,"best_bid_amount":0,"bid_iv":0,"last_price":null,"stats":{"high":null,"volume":null}}"#,
        )
        .unwrap();
        assert_eq!([no_bid.best_bid_price, no_bid.last_price, no_bid.stats.unwrap().volume].map(raw), [None, None, None]);
        assert_eq!(raw(no_bid.bid_iv), Some("0"));
        // A perpetual's ticker has no option fields; an empty side is null.
        let perpetual: Ticker = serde_json::from_str(
            r#"{"timestamp":1623060194301,"instrument_name":"BTC-PERPETUAL","best_bid_price":null,"best_bid_amount":0,"best_ask_price":36001,"best_ask_amount":100,"mark_price":36000.2,"open_interest":502097590,"index_price":36000.5}"#,
        )
        .unwrap();
        assert!(perpetual.best_bid_price.is_none() && perpetual.greeks.is_none() && perpetual.mark_iv.is_none());

        let ack: Envelope = serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"result":["trades.BTC-PERPETUAL.raw"]}"#).unwrap();
        assert_eq!((ack.id, ack.result.unwrap().get(), ack.method), (Some(1), r#"["trades.BTC-PERPETUAL.raw"]"#, None));
        let error: Envelope = serde_json::from_str(
            r#"{"jsonrpc":"2.0","id":1,"error":{"message":"Invalid params","data":{"reason":"wrong format","param":"channels"},"code":-32602}}"#,
        )
        .unwrap();
        let rpc = error.error.unwrap();
        assert_eq!((error.id, rpc.code, rpc.message.as_ref()), (Some(1), -32602, "Invalid params"));
        let heartbeat: Envelope =
            serde_json::from_str(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#).unwrap();
        assert_eq!((heartbeat.method, heartbeat.params.unwrap().kind), (Some("heartbeat"), Some("test_request")));
    }
}

/// `data` of `book.{instrument}.{interval}`: a snapshot
/// `{"type":"snapshot","timestamp":1554373962454,"instrument_name":"BTC-PERPETUAL","change_id":297217,
/// "bids":[["new",5042.64,30],["new",5042.5,10]],"asks":[["new",5043.3,40]]}`, then changes
/// `{"type":"change","timestamp":1554373911330,"prev_change_id":297217,"instrument_name":"BTC-PERPETUAL",
/// "change_id":297218,"bids":[["delete",5042.64,0]],"asks":[["change",5043.3,35],["new",5044,12]]}`.
/// A level is `[action, price, amount]`, the action `new`, `change` or `delete`; prices
/// and amounts are JSON numbers, kept raw.
#[derive(Debug, Deserialize)]
pub struct BookData<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: &'a str,
    #[serde(borrow)]
    pub instrument_name: &'a str,
    /// Milliseconds since the Unix epoch.
    #[serde(borrow)]
    pub timestamp: &'a RawValue,
    pub change_id: i64,
    /// On changes: the `change_id` of the notification before.
    #[serde(default)]
    pub prev_change_id: Option<i64>,
    #[serde(borrow, default)]
    pub bids: Vec<(&'a str, &'a RawValue, &'a RawValue)>,
    #[serde(borrow, default)]
    pub asks: Vec<(&'a str, &'a RawValue, &'a RawValue)>,
}

/// A JSON number kept raw, as a finite `f64`.
pub fn number(field: &str, raw: &RawValue) -> Result<f64, Rejection> {
    decimal(field, raw.get())
}

/// An optional JSON number kept raw (`null` and absent are none), as a finite `f64`.
pub fn optional_number(field: &str, raw: Option<&RawValue>) -> Result<Option<f64>, Rejection> {
    raw.map(|raw| number(field, raw)).transpose()
}

/// A JSON number kept raw, as a whole number.
pub fn whole(field: &str, raw: &RawValue) -> Result<u64, Rejection> {
    raw.get()
        .parse::<u64>()
        .map_err(|_| Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected a whole number, got {}", raw.get())))
}

/// A JSON number of milliseconds since the Unix epoch, kept raw.
pub fn millis_raw(field: &str, raw: &RawValue) -> Result<Timestamp, Rejection> {
    let ms = raw
        .get()
        .parse::<i64>()
        .map_err(|_| Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected milliseconds, got {}", raw.get())))?;
    millis(field, ms)
}
