//! Kraken WebSocket v2 message types as the venue sends them. Prices and quantities are
//! JSON numbers; times are RFC 3339 strings with up to nine fractional digits; symbols
//! are written `BASE/QUOTE`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{RejectReason, Rejection};

/// Just enough of any message to route it: market data carries `channel`; answers to
/// requests carry `method` instead, and are read as a [`Response`].
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(default)]
    pub channel: Option<&'a str>,
    /// `snapshot` or `update`.
    #[serde(rename = "type", default)]
    pub kind: Option<&'a str>,
    /// The list of events of a market-data message, parsed per channel.
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

/// `trade` (snapshot: the 50 most recent trades; then one update per match):
/// `{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,
/// "qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}`
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    pub symbol: &'a str,
    /// The taker's side: `buy` or `sell`.
    pub side: &'a str,
    pub price: f64,
    pub qty: f64,
    /// A sequence number per book: consecutive trades of a symbol have consecutive ids.
    pub trade_id: u64,
    pub timestamp: &'a str,
}

/// `ticker` (level 1; snapshot then updates):
/// `{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,
/// "ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,
/// "low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2023-09-25T09:04:31.742648Z"}]}`
/// `last` is the last trade's price (only guaranteed if traded within the past 24 hours);
/// `volume` is 24-hour base currency volume, `vwap` its volume-weighted average price,
/// `low` and `high` the 24-hour range, `change` the 24-hour price change in the quote
/// currency and `change_pct` in percentage points (`-0.17` is −0.17 %).
#[derive(Debug, Deserialize)]
pub struct Ticker<'a> {
    pub symbol: &'a str,
    pub bid: f64,
    pub bid_qty: f64,
    pub ask: f64,
    pub ask_qty: f64,
    #[serde(default)]
    pub last: Option<f64>,
    #[serde(default)]
    pub volume: Option<f64>,
    #[serde(default)]
    pub vwap: Option<f64>,
    #[serde(default)]
    pub low: Option<f64>,
    #[serde(default)]
    pub high: Option<f64>,
    #[serde(default)]
    pub change: Option<f64>,
    #[serde(default)]
    pub change_pct: Option<f64>,
    /// Only in newer versions of the feed; without it our receipt time stands in.
    #[serde(default)]
    pub timestamp: Option<&'a str>,
}

/// `ohlc`: the candle of the current interval, re-sent on every trade while it is open
/// (the snapshot also holds recent closed candles):
/// `{"channel":"ohlc","type":"update","timestamp":"2023-10-04T16:26:30.524394914Z","data":[{"symbol":"MATIC/USD",
/// "open":0.5624,"high":0.5628,"low":0.5622,"close":0.5627,"trades":12,"volume":30927.68066226,"vwap":0.5626,
/// "interval_begin":"2023-10-04T16:25:00.000000000Z","interval":1,"timestamp":"2023-10-04T16:26:00.000000Z"}]}`
#[derive(Debug, Deserialize)]
pub struct Candle<'a> {
    pub symbol: &'a str,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    #[serde(default)]
    pub vwap: Option<f64>,
    /// Documented as a float; the values are whole numbers.
    #[serde(default)]
    pub trades: Option<f64>,
    /// The start of the candle's interval: the bar's `time`.
    pub interval_begin: &'a str,
    /// The candle length in minutes.
    pub interval: u32,
}

/// The answer to a request. A subscribe request is answered once per symbol, all with
/// the request's `req_id`:
/// `{"method":"subscribe","result":{"channel":"ticker","snapshot":true,"symbol":"ALGO/USD"},"success":true,
/// "time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z","req_id":3}`;
/// a refusal: `{"error":"Currency pair not supported","method":"subscribe","req_id":3,"success":false,
/// "symbol":"ABC/USD","time_in":"…","time_out":"…"}`; the answer to a ping:
/// `{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}`.
#[derive(Debug, Deserialize)]
pub struct Response<'a> {
    #[serde(default)]
    pub method: Option<&'a str>,
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub req_id: Option<u64>,
    #[serde(borrow, default)]
    pub error: Option<Cow<'a, str>>,
    /// Refusals name the symbol at the top level, acknowledgements inside `result`.
    #[serde(borrow, default)]
    pub symbol: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub result: Option<SubscribeResult<'a>>,
}

/// `result` of an acknowledgement: the channel, the symbol and the options it applies to.
#[derive(Debug, Deserialize)]
pub struct SubscribeResult<'a> {
    #[serde(borrow, default)]
    pub symbol: Option<Cow<'a, str>>,
}

// Not parsed beyond the channel name, as they carry nothing to store:
// `heartbeat`: `{"channel":"heartbeat"}` (about once a second when nothing else is sent);
// `status`: `{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":13834774380200032777,
// "system":"online","version":"2.0.0"}]}` (on connect and when the trading engine's state changes).

/// `BTC/USD` → `BTC-USD`.
pub fn normalize_symbol(venue_symbol: &str) -> String {
    venue_symbol.replace('/', "-")
}

/// Parses a channel's `data` list. Errors are rare, so only then is the message parsed
/// a second time to name the offending field.
pub(super) fn items<'a, T: Deserialize<'a>>(channel: &str, data: Option<&'a RawValue>) -> Result<Vec<T>, Rejection> {
    let Some(data) = data else {
        return Err(Rejection::new(RejectReason::InvalidField, format!("`data`: missing from a `{channel}` message")));
    };
    serde_json::from_str(data.get()).map_err(|error| {
        let mut deserializer = serde_json::Deserializer::from_str(data.get());
        match serde_path_to_error::deserialize::<_, Vec<T>>(&mut deserializer) {
            Err(located) => {
                let path = located.path().to_string();
                let path = if path == "." { String::new() } else { path };
                Rejection::new(RejectReason::InvalidField, format!("`{channel}` `data{path}`: {}", located.inner()))
            }
            Ok(_) => Rejection::new(RejectReason::InvalidField, format!("`{channel}` `data`: {error}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let trade: Envelope = serde_json::from_str(
            r#"{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}"#,
        )
        .unwrap();
        assert_eq!(trade.channel, Some("trade"));
        let trades: Vec<Trade> = serde_json::from_str(trade.data.unwrap().get()).unwrap();
        assert_eq!((trades[0].symbol, trades[0].side, trades[0].price, trades[0].qty), ("MATIC/USD", "buy", 0.5147, 6423.46326));
        assert_eq!((trades[0].trade_id, trades[0].timestamp), (4665846, "2023-09-25T07:48:36.925533Z"));

        let ticker: Envelope = serde_json::from_str(
            r#"{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2023-09-25T09:04:31.742648Z"}]}"#,
        )
        .unwrap();
        let tickers: Vec<Ticker> = serde_json::from_str(ticker.data.unwrap().get()).unwrap();
        assert_eq!((tickers[0].bid, tickers[0].bid_qty, tickers[0].ask, tickers[0].ask_qty), (0.10025, 740.0, 0.10036, 1361.44813783));
        assert_eq!(tickers[0].timestamp, Some("2023-09-25T09:04:31.742648Z"));
        assert_eq!(
            (tickers[0].last, tickers[0].volume, tickers[0].vwap, tickers[0].low, tickers[0].high),
            (Some(0.10035), Some(997038.98383185), Some(0.10148), Some(0.09979), Some(0.10285))
        );
        assert_eq!((tickers[0].change, tickers[0].change_pct), (Some(-0.00017), Some(-0.17)));
        let without_time: Vec<Ticker> =
            serde_json::from_str(r#"[{"symbol":"ALGO/USD","bid":0.1,"bid_qty":1,"ask":0.2,"ask_qty":2,"last":0.1}]"#).unwrap();
        assert_eq!(without_time[0].timestamp, None);

        let ohlc: Envelope = serde_json::from_str(
            r#"{"channel":"ohlc","type":"update","timestamp":"2023-10-04T16:26:30.524394914Z","data":[{"symbol":"MATIC/USD","open":0.5624,"high":0.5628,"low":0.5622,"close":0.5627,"trades":12,"volume":30927.68066226,"vwap":0.5626,"interval_begin":"2023-10-04T16:25:00.000000000Z","interval":1,"timestamp":"2023-10-04T16:26:00.000000Z"}]}"#,
        )
        .unwrap();
        let candles: Vec<Candle> = serde_json::from_str(ohlc.data.unwrap().get()).unwrap();
        assert_eq!((candles[0].open, candles[0].close, candles[0].trades, candles[0].vwap), (0.5624, 0.5627, Some(12.0), Some(0.5626)));
        assert_eq!((candles[0].interval_begin, candles[0].interval), ("2023-10-04T16:25:00.000000000Z", 1));

        let ack: Response = serde_json::from_str(
            r#"{"method":"subscribe","result":{"channel":"ticker","snapshot":true,"symbol":"ALGO/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z","req_id":3}"#,
        )
        .unwrap();
        assert_eq!((ack.method, ack.success, ack.req_id), (Some("subscribe"), Some(true), Some(3)));
        assert_eq!(ack.result.and_then(|result| result.symbol).as_deref(), Some("ALGO/USD"));
        let refusal: Response = serde_json::from_str(
            r#"{"error":"Currency pair not supported","method":"subscribe","req_id":3,"success":false,"symbol":"ABC/USD","time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#,
        )
        .unwrap();
        assert_eq!(
            (refusal.success, refusal.error.as_deref(), refusal.symbol.as_deref()),
            (Some(false), Some("Currency pair not supported"), Some("ABC/USD"))
        );
        let pong: Response = serde_json::from_str(
            r#"{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}"#,
        )
        .unwrap();
        assert_eq!((pong.method, pong.req_id), (Some("pong"), Some(101)));

        let heartbeat: Envelope = serde_json::from_str(r#"{"channel":"heartbeat"}"#).unwrap();
        assert_eq!((heartbeat.channel, heartbeat.data.is_none()), (Some("heartbeat"), true));
        let status: Envelope = serde_json::from_str(
            r#"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":13834774380200032777,"system":"online","version":"2.0.0"}]}"#,
        )
        .unwrap();
        assert_eq!(status.channel, Some("status"));
    }
}
