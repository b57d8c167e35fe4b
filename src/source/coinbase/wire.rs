//! Coinbase Exchange websocket message types as the venue sends them. Every message is
//! a JSON object with a `type`; prices and sizes are decimal strings; times are RFC 3339
//! strings with microseconds.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// Just the `type` of any message, to route it.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    pub message_type: Option<&'a str>,
}

/// The subscribe request:
/// `{"type":"subscribe","product_ids":["ETH-USD","ETH-EUR"],"channels":["matches","ticker"]}`.
/// Products given at the root apply to every listed channel.
#[derive(Debug, Serialize)]
pub struct Subscribe<'a> {
    #[serde(rename = "type")]
    pub message_type: &'static str,
    pub product_ids: &'a [String],
    pub channels: Vec<&'static str>,
}

/// `match` (and `last_match`, sent once per product right after subscribing to
/// `matches`):
/// `{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",
/// "taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z",
/// "product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}`.
#[derive(Debug, Deserialize)]
pub struct Match<'a> {
    /// Contiguous per product.
    pub trade_id: u64,
    pub product_id: &'a str,
    pub price: &'a str,
    pub size: &'a str,
    /// The side of the **maker** order: `sell` means the taker bought.
    pub side: &'a str,
    pub time: &'a str,
}

/// `ticker`, sent on every match (cascades are batched):
/// `{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79",
/// "volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027",
/// "best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040",
/// "side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}`.
/// The best bid and offer fields are optional: `ticker_batch`-style payloads and some
/// snapshots leave them out, and then there is no quote to store. `price` (the last trade)
/// and the 24-hour statistics are optional too; without `price` there is no ticker.
#[derive(Debug, Deserialize)]
pub struct Ticker<'a> {
    pub product_id: &'a str,
    /// The product's message sequence number: it rises with every message of the
    /// product, so tickers of matches sharing a microsecond still have distinct ones.
    #[serde(default)]
    pub sequence: Option<u64>,
    /// The last trade's price.
    #[serde(default)]
    pub price: Option<&'a str>,
    /// The price 24 hours ago.
    #[serde(default)]
    pub open_24h: Option<&'a str>,
    #[serde(default)]
    pub high_24h: Option<&'a str>,
    #[serde(default)]
    pub low_24h: Option<&'a str>,
    /// Base currency volume over 24 hours.
    #[serde(default)]
    pub volume_24h: Option<&'a str>,
    #[serde(default)]
    pub best_bid: Option<&'a str>,
    #[serde(default)]
    pub best_bid_size: Option<&'a str>,
    #[serde(default)]
    pub best_ask: Option<&'a str>,
    #[serde(default)]
    pub best_ask_size: Option<&'a str>,
    #[serde(default)]
    pub time: Option<&'a str>,
}

/// `snapshot` of `level2_batch` (and `level2`), the whole book of a product:
/// `{"type":"snapshot","product_id":"BTC-USD","bids":[["10101.10","0.45054140"]],"asks":[["10102.55","0.57753524"]]}`.
/// A level is `[price, size]`. The documented message has no `time`; one that has it is read.
#[derive(Debug, Deserialize)]
pub struct L2Snapshot<'a> {
    pub product_id: &'a str,
    #[serde(default)]
    pub time: Option<&'a str>,
    #[serde(borrow, default)]
    pub bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    pub asks: Vec<(&'a str, &'a str)>,
}

/// `l2update`, the levels that changed:
/// `{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80000000","0.162567"]]}`.
/// A change is `[side, price, size]`, `buy` a bid and `sell` an ask, size `"0"` removing
/// the level. There is no sequence number.
#[derive(Debug, Deserialize)]
pub struct L2Update<'a> {
    pub product_id: &'a str,
    pub time: &'a str,
    #[serde(borrow, default)]
    pub changes: Vec<(&'a str, &'a str, &'a str)>,
}

/// The answer to a subscribe request, listing every current subscription:
/// `{"type":"subscriptions","channels":[{"name":"matches","product_ids":["ETH-USD","ETH-EUR"]},
/// {"name":"ticker","product_ids":["ETH-USD","ETH-EUR"]}]}`. It carries no request id; only
/// whether anything is subscribed matters to us.
#[derive(Debug, Deserialize)]
pub struct Subscriptions {
    #[serde(default)]
    pub channels: Vec<IgnoredAny>,
}

/// `{"type":"error","message":"Failed to subscribe","reason":"BTC-USDX is not a valid product"}`.
/// `reason` is not always present.
#[derive(Debug, Deserialize)]
pub struct Error {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let text = r#"{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}"#;
        let envelope: Envelope = serde_json::from_str(text).unwrap();
        assert_eq!(envelope.message_type, Some("match"));
        let trade: Match = serde_json::from_str(text).unwrap();
        assert_eq!(
            (trade.trade_id, trade.product_id, trade.price, trade.size, trade.side, trade.time),
            (10, "BTC-USD", "400.23", "5.23512", "sell", "2014-11-07T08:19:27.028459Z")
        );
        let ticker: Ticker = serde_json::from_str(
            r#"{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}"#,
        )
        .unwrap();
        assert_eq!(
            (ticker.product_id, ticker.best_bid, ticker.best_bid_size, ticker.best_ask, ticker.best_ask_size),
            ("ETH-USD", Some("1285.04"), Some("0.46688654"), Some("1285.27"), Some("1.56637040"))
        );
        assert_eq!(ticker.time, Some("2022-10-19T23:28:22.061769Z"));
        assert_eq!(
            (ticker.price, ticker.open_24h, ticker.high_24h, ticker.low_24h, ticker.volume_24h),
            (Some("1285.22"), Some("1310.79"), Some("1313.8"), Some("1280.52"), Some("245532.79269678"))
        );
        let subscriptions: Subscriptions = serde_json::from_str(
            r#"{"type":"subscriptions","channels":[{"name":"matches","product_ids":["ETH-USD","ETH-EUR"]},{"name":"ticker","product_ids":["ETH-USD","ETH-EUR"]}]}"#,
        )
        .unwrap();
        assert_eq!(subscriptions.channels.len(), 2);
        let error: Error =
            serde_json::from_str(r#"{"type":"error","message":"Failed to subscribe","reason":"BTC-USDX is not a valid product"}"#).unwrap();
        assert_eq!((error.message.as_str(), error.reason.as_deref()), ("Failed to subscribe", Some("BTC-USDX is not a valid product")));
    }

    #[test]
    fn the_subscribe_request_has_the_documented_shape() {
        let products = vec!["ETH-USD".to_string(), "ETH-EUR".to_string()];
        let request = Subscribe { message_type: "subscribe", product_ids: &products, channels: vec!["matches", "ticker"] };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"type":"subscribe","product_ids":["ETH-USD","ETH-EUR"],"channels":["matches","ticker"]}"#
        );
    }
}
