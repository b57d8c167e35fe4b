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
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub mark_price: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub index_price: Option<f64>,
    /// Options only: the trade's implied volatility.
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub iv: Option<f64>,
}

/// `data` of `ticker.{instrument}.{interval}`:
/// `{"timestamp":1623060194301,"stats":{…},"state":"open","settlement_price":36.5,
/// "open_interest":1.2,"min_price":0.0001,"max_price":0.1,"mark_price":0.0505,"mark_iv":98.6,
/// "last_price":0.05,"interest_rate":0,"instrument_name":"BTC-27DEC24-100000-C",
/// "index_price":36000.5,"greeks":{"vega":1.53,"theta":-2.4,"rho":0.8,"gamma":0.00005,"delta":0.45},
/// "estimated_delivery_price":36000.5,"bid_iv":95.1,"best_bid_price":0.05,"best_bid_amount":5,
/// "best_ask_price":0.051,"best_ask_amount":3,"ask_iv":101.2,"underlying_price":36100.2,
/// "underlying_index":"BTC-27DEC24"}`. A side without orders has a `null` (or 0) price.
///
/// The option fields (`greeks`, the implied volatilities, `underlying_price`,
/// `open_interest`, `mark_price`, `index_price`) are read but not stored yet: quotes keep the
/// best bid and ask only.
#[derive(Debug, Deserialize)]
pub struct Ticker<'a> {
    #[serde(borrow)]
    pub instrument_name: &'a str,
    /// Milliseconds since the Unix epoch.
    #[serde(borrow)]
    pub timestamp: &'a RawValue,
    /// The last trade's price; `null` when the instrument has not traded.
    #[serde(borrow, default)]
    pub last_price: Option<&'a RawValue>,
    /// The 24-hour statistics.
    #[serde(default)]
    pub stats: Option<TickerStats>,
    #[serde(borrow, default)]
    pub best_bid_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub best_bid_amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub best_ask_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub best_ask_amount: Option<&'a RawValue>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub mark_price: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub index_price: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub open_interest: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub mark_iv: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub bid_iv: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub ask_iv: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub underlying_price: Option<f64>,
    // Read for later use (options), not stored yet.
    #[allow(dead_code)]
    #[serde(default)]
    pub greeks: Option<Greeks>,
}

/// `stats` of a ticker, over the last 24 hours; a perpetual's, from the documented
/// `ticker.BTC-PERPETUAL.raw` notification:
/// `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.raw","data":{"timestamp":1623060194301,
/// "stats":{"volume_usd":284061480,"volume":7871.02139035,"price_change":0.7229,"low":35213.5,"high":36824.5},"state":"open",
/// "settlement_price":36169.49,"open_interest":502097590,"min_price":35898.37,"max_price":36991.72,"mark_price":36446.51,
/// "last_price":36457.5,"interest_value":1.7362511643080387,"instrument_name":"BTC-PERPETUAL","index_price":36441.64,
/// "funding_8h":0.0000211,"estimated_delivery_price":36441.64,"current_funding":0,"best_bid_price":36442.5,
/// "best_bid_amount":5000,"best_ask_price":36443,"best_ask_amount":100}}}`.
/// Every field may be `null` (no trades).
#[derive(Debug, Deserialize, PartialEq)]
pub struct TickerStats {
    #[serde(default)]
    pub high: Option<f64>,
    #[serde(default)]
    pub low: Option<f64>,
    /// In the base currency.
    #[serde(default)]
    pub volume: Option<f64>,
    /// In USD.
    #[serde(default)]
    pub volume_usd: Option<f64>,
    /// In the quote currency (futures and spot).
    #[serde(default)]
    pub volume_notional: Option<f64>,
    /// The 24-hour price change in **percent** (`0.7229` is +0.7229 %).
    #[serde(default)]
    pub price_change: Option<f64>,
}

/// Option sensitivities of a ticker: `{"delta":0.45,"gamma":0.00005,"theta":-2.4,"vega":1.53,"rho":0.8}`.
#[derive(Debug, Deserialize, PartialEq)]
pub struct Greeks {
    #[serde(default)]
    pub delta: Option<f64>,
    #[serde(default)]
    pub gamma: Option<f64>,
    #[serde(default)]
    pub theta: Option<f64>,
    #[serde(default)]
    pub vega: Option<f64>,
    #[serde(default)]
    pub rho: Option<f64>,
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
            (trade.instrument_name, trade.trade_id, trade.trade_seq.get(), trade.timestamp.get(), trade.price.get(), trade.amount.get(), trade.direction),
            ("BTC-PERPETUAL", "48079254", "30289432", "1590484156350", "8950", "10", "sell")
        );
        assert_eq!((trade.mark_price, trade.index_price, trade.iv), (Some(8948.9), Some(8955.88), None));

        let ticker: Envelope = serde_json::from_str(
            r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-27DEC24-100000-C.100ms","data":{"timestamp":1623060194301,"stats":{"volume_usd":1000,"volume":1.5,"price_change":1.2,"low":0.04,"high":0.06},"state":"open","settlement_price":0.05,"open_interest":1.2,"min_price":0.0001,"max_price":0.1,"mark_price":0.0505,"mark_iv":98.6,"last_price":0.05,"interest_rate":0,"instrument_name":"BTC-27DEC24-100000-C","index_price":36000.5,"greeks":{"vega":1.53,"theta":-2.4,"rho":0.8,"gamma":0.00005,"delta":0.45},"estimated_delivery_price":36000.5,"bid_iv":95.1,"best_bid_price":0.05,"best_bid_amount":5,"best_ask_price":0.051,"best_ask_amount":3,"ask_iv":101.2,"underlying_price":36100.2,"underlying_index":"BTC-27DEC24"}}}"#,
        )
        .unwrap();
        let ticker: Ticker = serde_json::from_str(ticker.params.unwrap().data.unwrap().get()).unwrap();
        assert_eq!(ticker.instrument_name, "BTC-27DEC24-100000-C");
        assert_eq!(
            (ticker.best_bid_price.unwrap().get(), ticker.best_bid_amount.unwrap().get(), ticker.best_ask_price.unwrap().get(), ticker.best_ask_amount.unwrap().get()),
            ("0.05", "5", "0.051", "3")
        );
        assert_eq!((ticker.mark_iv, ticker.bid_iv, ticker.ask_iv, ticker.underlying_price), (Some(98.6), Some(95.1), Some(101.2), Some(36100.2)));
        assert_eq!((ticker.open_interest, ticker.mark_price, ticker.index_price), (Some(1.2), Some(0.0505), Some(36000.5)));
        assert_eq!(
            ticker.greeks,
            Some(Greeks { delta: Some(0.45), gamma: Some(0.00005), theta: Some(-2.4), vega: Some(1.53), rho: Some(0.8) })
        );
        let perpetual: Envelope = serde_json::from_str(
            r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.raw","data":{"timestamp":1623060194301,"stats":{"volume_usd":284061480,"volume":7871.02139035,"price_change":0.7229,"low":35213.5,"high":36824.5},"state":"open","settlement_price":36169.49,"open_interest":502097590,"min_price":35898.37,"max_price":36991.72,"mark_price":36446.51,"last_price":36457.5,"interest_value":1.7362511643080387,"instrument_name":"BTC-PERPETUAL","index_price":36441.64,"funding_8h":0.0000211,"estimated_delivery_price":36441.64,"current_funding":0,"best_bid_price":36442.5,"best_bid_amount":5000,"best_ask_price":36443,"best_ask_amount":100}}}"#,
        )
        .unwrap();
        let perpetual: Ticker = serde_json::from_str(perpetual.params.unwrap().data.unwrap().get()).unwrap();
        assert_eq!(perpetual.last_price.map(RawValue::get), Some("36457.5"));
        assert_eq!(
            perpetual.stats,
            Some(TickerStats { high: Some(36824.5), low: Some(35213.5), volume: Some(7871.02139035), volume_usd: Some(284061480.0), volume_notional: None, price_change: Some(0.7229) })
        );
        let untraded: TickerStats = serde_json::from_str(r#"{"volume_usd":0,"volume":0,"price_change":null,"low":null,"high":null}"#).unwrap();
        assert_eq!((untraded.price_change, untraded.high, untraded.volume), (None, None, Some(0.0)));
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
        let heartbeat: Envelope = serde_json::from_str(r#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#).unwrap();
        assert_eq!((heartbeat.method, heartbeat.params.unwrap().kind), (Some("heartbeat"), Some("test_request")));
    }
}
