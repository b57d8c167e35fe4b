//! Hyperliquid websocket and `/info` messages as the venue sends them ("Websocket →
//! Subscriptions", "Info endpoint → Perpetuals"). Prices and sizes are decimal strings;
//! times are milliseconds since the Unix epoch as JSON numbers. The asset context's
//! numbers are documented as numbers but sent as strings: both are read.
//!
//! Every message is `{"channel": …, "data": …}`; [`Envelope`] leaves `data` raw until the
//! channel says what it holds.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Any message: `{"channel":"trades","data":[…]}`,
/// `{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}}`,
/// `{"channel":"pong"}`, `{"channel":"error","data":"Invalid subscription …"}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    pub channel: &'a str,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

/// The `data` of a `subscriptionResponse`: the request echoed.
#[derive(Debug, Deserialize)]
pub struct SubscriptionResponse {
    #[serde(default)]
    pub method: String,
    pub subscription: SubscriptionKey,
}

/// A subscription as requested and echoed: `{"type":"candle","coin":"BTC","interval":"1m"}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
pub struct SubscriptionKey {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub coin: Option<String>,
    #[serde(default)]
    pub interval: Option<String>,
}

/// One element of `trades` data (`WsTrade`):
/// `{"coin":"BTC","side":"B","px":"97432.5","sz":"0.1","hash":"0x…","time":1700000000000,"tid":123,"users":["0x…","0x…"]}`.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(borrow)]
    pub coin: &'a str,
    /// The aggressor's side: `B` (bid: the buyer took the ask) or `A` (ask: the seller hit the bid).
    #[serde(borrow)]
    pub side: &'a str,
    #[serde(borrow)]
    pub px: &'a str,
    #[serde(borrow)]
    pub sz: &'a str,
    pub time: i64,
    /// "ID unique across all assets".
    pub tid: u64,
}

/// `l2Book` data (`WsBook`), a snapshot of up to 20 levels a side:
/// `{"coin":"BTC","levels":[[{"px":"97000","sz":"1.5","n":3}],[{"px":"97001","sz":"0.2","n":1}]],"time":1700000000000}`;
/// `levels` is `[bids, asks]`, best first.
#[derive(Debug, Deserialize)]
pub struct Book<'a> {
    #[serde(borrow)]
    pub coin: &'a str,
    #[serde(borrow)]
    pub levels: (Vec<BookLevel<'a>>, Vec<BookLevel<'a>>),
    pub time: i64,
}

/// `WsLevel`: price, size and the number of orders.
#[derive(Debug, Deserialize)]
pub struct BookLevel<'a> {
    #[serde(borrow)]
    pub px: &'a str,
    #[serde(borrow)]
    pub sz: &'a str,
}

/// `candle` data (`Candle`), the current candle of a coin and interval, re-sent as it
/// changes: `{"t":1700000040000,"T":1700000099999,"s":"BTC","i":"1m","o":"97000","c":"97010",
/// "h":"97020","l":"96990","v":"12.5","n":42}` (open time, close time, coin, interval,
/// open, close, high, low, volume in the coin, number of trades).
#[derive(Debug, Deserialize)]
pub struct Candle<'a> {
    pub t: i64,
    #[serde(borrow)]
    pub s: &'a str,
    #[serde(borrow)]
    pub i: &'a str,
    #[serde(borrow)]
    pub o: &'a str,
    #[serde(borrow)]
    pub c: &'a str,
    #[serde(borrow)]
    pub h: &'a str,
    #[serde(borrow)]
    pub l: &'a str,
    #[serde(borrow)]
    pub v: &'a str,
    pub n: i64,
}

/// `activeAssetCtx` data of a perpetual (`WsActiveAssetCtx`): `{"coin":"BTC","ctx":{…}}`.
#[derive(Debug, Deserialize)]
pub struct ActiveAssetCtx<'a> {
    #[serde(borrow)]
    pub coin: &'a str,
    pub ctx: PerpsAssetCtx,
}

/// `PerpsAssetCtx`: `{"dayNtlVlm":"…","prevDayPx":"…","markPx":"97000.0","midPx":"97000.5",
/// "funding":"0.0000125","openInterest":"12345.6","oraclePx":"96990.0","premium":"…",
/// "impactPxs":[…]}`. Only the fields stored are read; each is a number or a decimal string.
#[derive(Debug, Deserialize)]
pub struct PerpsAssetCtx {
    /// The current hourly funding rate, a fraction.
    pub funding: Value,
    /// Open interest in the coin.
    #[serde(rename = "openInterest")]
    pub open_interest: Value,
    #[serde(rename = "markPx")]
    pub mark_px: Value,
    #[serde(rename = "oraclePx")]
    pub oracle_px: Value,
}

/// The `/info` answer to `{"type":"meta"}`: `{"universe":[…],"marginTables":[…]}`.
#[derive(Debug, Deserialize)]
pub struct Meta {
    pub universe: Vec<Value>,
}

/// One `universe` entry: `{"name":"BTC","szDecimals":5,"maxLeverage":50}`, with
/// `"onlyIsolated":true` or `"isDelisted":true` where they apply.
#[derive(Debug, Deserialize)]
pub struct Asset {
    pub name: String,
    #[serde(rename = "szDecimals")]
    pub sz_decimals: u32,
    #[serde(rename = "isDelisted", default)]
    pub is_delisted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shapes_parse() {
        let ack: Envelope = serde_json::from_str(
            r#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}}"#,
        )
        .unwrap();
        assert_eq!(ack.channel, "subscriptionResponse");
        let response: SubscriptionResponse = serde_json::from_str(ack.data.unwrap().get()).unwrap();
        assert_eq!(response.method, "subscribe");
        assert_eq!(response.subscription, SubscriptionKey { kind: "trades".into(), coin: Some("SOL".into()), interval: None });

        let pong: Envelope = serde_json::from_str(r#"{"channel":"pong"}"#).unwrap();
        assert!(pong.data.is_none());

        let trades: Vec<Trade> = serde_json::from_str(
            r#"[{"coin":"BTC","side":"A","px":"97432.5","sz":"0.1","hash":"0xab","time":1700000000000,"tid":123,"users":["0x1","0x2"]}]"#,
        )
        .unwrap();
        assert_eq!((trades[0].coin, trades[0].side, trades[0].px, trades[0].sz), ("BTC", "A", "97432.5", "0.1"));
        assert_eq!((trades[0].time, trades[0].tid), (1_700_000_000_000, 123));

        let book: Book = serde_json::from_str(
            r#"{"coin":"BTC","levels":[[{"px":"97000","sz":"1.5","n":3}],[{"px":"97001","sz":"0.2","n":1},{"px":"97002","sz":"4","n":2}]],"time":1700000000000}"#,
        )
        .unwrap();
        assert_eq!((book.levels.0.len(), book.levels.1.len(), book.levels.1[1].px), (1, 2, "97002"));

        let candle: Candle = serde_json::from_str(
            r#"{"t":1700000040000,"T":1700000099999,"s":"BTC","i":"1m","o":"97000","c":"97010","h":"97020","l":"96990","v":"12.5","n":42}"#,
        )
        .unwrap();
        assert_eq!((candle.t, candle.s, candle.i, candle.v, candle.n), (1_700_000_040_000, "BTC", "1m", "12.5", 42));

        let ctx: ActiveAssetCtx = serde_json::from_str(
            r#"{"coin":"BTC","ctx":{"dayNtlVlm":"1.0","prevDayPx":"96000","markPx":"97000.0","midPx":"97000.5","funding":"0.0000125","openInterest":"12345.6","oraclePx":"96990.0","premium":"0.0001","impactPxs":["96999","97001"]}}"#,
        )
        .unwrap();
        assert_eq!((ctx.coin, ctx.ctx.funding.as_str(), ctx.ctx.oracle_px.as_str()), ("BTC", Some("0.0000125"), Some("96990.0")));

        let meta: Meta = serde_json::from_str(
            r#"{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},{"name":"LOOM","szDecimals":1,"maxLeverage":3,"onlyIsolated":true,"isDelisted":true}],"marginTables":[]}"#,
        )
        .unwrap();
        let loom: Asset = serde_json::from_value(meta.universe[1].clone()).unwrap();
        assert_eq!((loom.name.as_str(), loom.sz_decimals, loom.is_delisted), ("LOOM", 1, true));
    }
}
