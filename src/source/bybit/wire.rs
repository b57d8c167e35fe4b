//! Bybit v5 public websocket messages as the venue sends them. Prices and sizes are
//! decimal strings; times are milliseconds since the Unix epoch.
//!
//! Every message is either an operation response (`op`, `success`, `ret_msg`, `req_id`)
//! or a topic push (`topic`, `type`, `ts`, `data`); [`Envelope`] reads both shapes and
//! leaves `data` raw until the topic says what it holds. Names, prices and topics never
//! contain JSON escapes and are borrowed as `&str`; free text (`ret_msg`, `req_id`) may,
//! and is a `Cow`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Any message. A topic push:
/// `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[…]}`;
/// an operation response (subscribe acknowledgement, pong):
/// `{"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"10001","op":"subscribe"}`,
/// `{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow, default)]
    pub topic: Option<&'a str>,
    /// `snapshot` or `delta` (order books); trades and klines are always `snapshot`.
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a str>,
    /// When the venue's market-data service produced the message.
    #[serde(default)]
    pub ts: Option<i64>,
    /// Order books: when the matching engine produced the update.
    #[serde(default)]
    pub cts: Option<i64>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub op: Option<&'a str>,
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(borrow, default)]
    pub ret_msg: Option<Cow<'a, str>>,
    /// Echo of the request's `req_id`; empty or absent when the request had none.
    #[serde(borrow, default)]
    pub req_id: Option<Cow<'a, str>>,
}

/// One element of `publicTrade.<symbol>` data:
/// `{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}`.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(rename = "T")]
    pub trade_time_ms: i64,
    #[serde(rename = "s", borrow)]
    pub symbol: Cow<'a, str>,
    /// The taker's side: `Buy` or `Sell`.
    #[serde(rename = "S", borrow)]
    pub taker_side: Cow<'a, str>,
    #[serde(rename = "v", borrow)]
    pub size: Cow<'a, str>,
    #[serde(rename = "p", borrow)]
    pub price: Cow<'a, str>,
    /// An opaque string, unique but not sequential: no gap check is possible.
    #[serde(rename = "i", borrow)]
    pub trade_id: Cow<'a, str>,
}

/// `orderbook.<depth>.<symbol>` data:
/// `{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724}`.
/// A level with size `"0"` in a delta has gone from the book.
#[derive(Debug, Deserialize)]
pub struct OrderBook<'a> {
    #[serde(rename = "s", borrow)]
    pub symbol: Cow<'a, str>,
    /// `[price, size]` pairs.
    #[serde(rename = "b", borrow, default)]
    pub bids: Vec<[&'a str; 2]>,
    #[serde(rename = "a", borrow, default)]
    pub asks: Vec<[&'a str; 2]>,
    /// Update id, contiguous per symbol; a snapshot (also one with `u` = 1 after a
    /// service restart) starts the series over.
    pub u: u64,
}

/// One element of `kline.<interval>.<symbol>` data:
/// `{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677",
/// "low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}`.
#[derive(Debug, Deserialize)]
pub struct Kline<'a> {
    pub start: i64,
    #[serde(borrow)]
    pub interval: Cow<'a, str>,
    #[serde(borrow)]
    pub open: Cow<'a, str>,
    #[serde(borrow)]
    pub high: Cow<'a, str>,
    #[serde(borrow)]
    pub low: Cow<'a, str>,
    #[serde(borrow)]
    pub close: Cow<'a, str>,
    /// Base asset volume.
    #[serde(borrow)]
    pub volume: Cow<'a, str>,
    /// Quote asset volume; with `volume` it gives the bar's VWAP.
    #[serde(borrow)]
    pub turnover: Cow<'a, str>,
    /// Is this the bar's final update? Only confirmed bars are stored.
    pub confirm: bool,
}

/// `tickers.<symbol>` data on the spot stream (a snapshot every push; `ts` of the
/// envelope is when Bybit produced it):
/// `{"topic":"tickers.BTCUSDT","ts":1673853746003,"type":"snapshot","cs":2588407389,"data":{"symbol":"BTCUSDT",
/// "lastPrice":"21109.77","highPrice24h":"21426.99","lowPrice24h":"20575","prevPrice24h":"20704.93",
/// "volume24h":"6780.866843","turnover24h":"141946527.22907118","price24hPcnt":"0.0196","usdIndexPrice":"21120.2400136"}}`.
#[derive(Debug, Deserialize)]
pub struct SpotTicker<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(rename = "lastPrice", borrow)]
    pub last_price: Cow<'a, str>,
    #[serde(rename = "highPrice24h", borrow)]
    pub high_price_24h: Cow<'a, str>,
    #[serde(rename = "lowPrice24h", borrow)]
    pub low_price_24h: Cow<'a, str>,
    /// The market price 24 hours ago.
    #[serde(rename = "prevPrice24h", borrow)]
    pub prev_price_24h: Cow<'a, str>,
    /// Base asset volume.
    #[serde(rename = "volume24h", borrow)]
    pub volume_24h: Cow<'a, str>,
    /// Quote asset volume.
    #[serde(rename = "turnover24h", borrow)]
    pub turnover_24h: Cow<'a, str>,
    /// The 24-hour change as a **fraction** of `prevPrice24h`: `"0.0196"` is +1.96 %.
    #[serde(rename = "price24hPcnt", borrow)]
    pub price_24h_fraction: Cow<'a, str>,
}

/// `tickers.<symbol>` data on the linear and inverse streams (Bybit V5 "Ticker",
/// bybit-exchange.github.io/docs/v5/websocket/public/ticker): a snapshot after subscribing,
/// then deltas every 100 ms that carry only the fields that changed ("If a response param
/// is not found in the message, then its value has not changed"), so every field but the
/// symbol is optional. The documented linear snapshot:
/// `{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick",
/// "price24hPcnt":"0.017103","lastPrice":"17216.00","prevPrice24h":"16926.50","highPrice24h":"17281.50",
/// "lowPrice24h":"16915.00","prevPrice1h":"17238.00","markPrice":"17217.33","indexPrice":"17227.36",
/// "openInterest":"68744.761","openInterestValue":"1183601235.91","turnover24h":"1570383121.943499",
/// "volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","bid1Price":"17215.50",
/// "bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}`.
/// Dated futures send `fundingRate` `""` and `nextFundingTime` `"0"`.
#[derive(Debug, Deserialize)]
pub struct DerivativeTicker<'a> {
    #[serde(borrow)]
    pub symbol: Cow<'a, str>,
    #[serde(rename = "lastPrice", borrow, default)]
    pub last_price: Option<Cow<'a, str>>,
    #[serde(rename = "highPrice24h", borrow, default)]
    pub high_price_24h: Option<Cow<'a, str>>,
    #[serde(rename = "lowPrice24h", borrow, default)]
    pub low_price_24h: Option<Cow<'a, str>>,
    #[serde(rename = "prevPrice24h", borrow, default)]
    pub prev_price_24h: Option<Cow<'a, str>>,
    /// Linear: in the base coin; inverse: in contracts of 1 USD.
    #[serde(rename = "volume24h", borrow, default)]
    pub volume_24h: Option<Cow<'a, str>>,
    /// Linear: in the quote coin; inverse: in the base coin.
    #[serde(rename = "turnover24h", borrow, default)]
    pub turnover_24h: Option<Cow<'a, str>>,
    /// A fraction, as on spot.
    #[serde(rename = "price24hPcnt", borrow, default)]
    pub price_24h_fraction: Option<Cow<'a, str>>,
    #[serde(rename = "markPrice", borrow, default)]
    pub mark_price: Option<Cow<'a, str>>,
    #[serde(rename = "indexPrice", borrow, default)]
    pub index_price: Option<Cow<'a, str>>,
    /// Linear: in the base coin; inverse: in contracts (USD).
    #[serde(rename = "openInterest", borrow, default)]
    pub open_interest: Option<Cow<'a, str>>,
    /// Linear: in the quote coin; inverse: in the base (settlement) coin.
    #[serde(rename = "openInterestValue", borrow, default)]
    pub open_interest_value: Option<Cow<'a, str>>,
    /// Milliseconds since the epoch, as a string.
    #[serde(rename = "nextFundingTime", borrow, default)]
    pub next_funding_time: Option<Cow<'a, str>>,
    #[serde(rename = "fundingRate", borrow, default)]
    pub funding_rate: Option<Cow<'a, str>>,
    /// The funding interval in hours (`"8"`), where sent.
    #[serde(rename = "fundingIntervalHour", default)]
    pub funding_interval_hour: Option<serde_json::Value>,
}

/// One element of `allLiquidation.<symbol>` data (Bybit V5 "All Liquidation",
/// bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation):
/// `{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}`.
#[derive(Debug, Deserialize)]
pub struct LiquidationEvent<'a> {
    #[serde(rename = "T")]
    pub time_ms: i64,
    #[serde(rename = "s", borrow)]
    pub symbol: Cow<'a, str>,
    /// The side of the liquidated POSITION: "When you receive a Buy update, this means
    /// that a long position has been liquidated".
    #[serde(rename = "S", borrow)]
    pub position_side: Cow<'a, str>,
    /// The executed size.
    #[serde(rename = "v", borrow)]
    pub size: Cow<'a, str>,
    /// The bankruptcy price.
    #[serde(rename = "p", borrow)]
    pub price: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let push: Envelope = serde_json::from_str(
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}"#,
        )
        .unwrap();
        assert_eq!((push.topic, push.kind, push.ts), (Some("publicTrade.BTCUSDT"), Some("snapshot"), Some(1672304486868)));
        let trades: Vec<Trade> = serde_json::from_str(push.data.unwrap().get()).unwrap();
        assert_eq!((&*trades[0].taker_side, &*trades[0].price, &*trades[0].size), ("Buy", "16578.50", "0.001"));
        assert_eq!(&*trades[0].trade_id, "20f43950-d8dd-5b31-9112-a178eb6023af");

        let book: Envelope = serde_json::from_str(
            r#"{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724},"cts":1672304484976}"#,
        )
        .unwrap();
        assert_eq!(book.cts, Some(1672304484976));
        let data: OrderBook = serde_json::from_str(book.data.unwrap().get()).unwrap();
        assert_eq!((&*data.symbol, data.u, data.bids[0][0], data.asks[0][1]), ("BTCUSDT", 18521288, "16493.50", "0.029"));

        let kline: Envelope = serde_json::from_str(
            r#"{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}"#,
        )
        .unwrap();
        let bars: Vec<Kline> = serde_json::from_str(kline.data.unwrap().get()).unwrap();
        assert_eq!((bars[0].start, &*bars[0].interval, &*bars[0].turnover, bars[0].confirm), (1672324800000, "5", "34666.4005", false));

        let ticker: Envelope = serde_json::from_str(
            r#"{"topic":"tickers.BTCUSDT","ts":1673853746003,"type":"snapshot","cs":2588407389,"data":{"symbol":"BTCUSDT","lastPrice":"21109.77","highPrice24h":"21426.99","lowPrice24h":"20575","prevPrice24h":"20704.93","volume24h":"6780.866843","turnover24h":"141946527.22907118","price24hPcnt":"0.0196","usdIndexPrice":"21120.2400136"}}"#,
        )
        .unwrap();
        assert_eq!((ticker.topic, ticker.ts), (Some("tickers.BTCUSDT"), Some(1673853746003)));
        let data: SpotTicker = serde_json::from_str(ticker.data.unwrap().get()).unwrap();
        assert_eq!(
            (&*data.symbol, &*data.last_price, &*data.prev_price_24h, &*data.price_24h_fraction),
            ("BTCUSDT", "21109.77", "20704.93", "0.0196")
        );
        assert_eq!(
            (&*data.high_price_24h, &*data.low_price_24h, &*data.volume_24h, &*data.turnover_24h),
            ("21426.99", "20575", "6780.866843", "141946527.22907118")
        );

        let ack: Envelope = serde_json::from_str(
            r#"{"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"10001","op":"subscribe"}"#,
        )
        .unwrap();
        assert_eq!((ack.op, ack.success, ack.req_id.as_deref(), ack.topic), (Some("subscribe"), Some(true), Some("10001"), None));
        let pong: Envelope =
            serde_json::from_str(r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#)
                .unwrap();
        assert_eq!((pong.op, pong.ret_msg.as_deref(), pong.req_id), (Some("ping"), Some("pong"), None));
    }

    #[test]
    fn documented_derivative_examples_parse() {
        let ticker: Envelope = serde_json::from_str(
            r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick","price24hPcnt":"0.017103","lastPrice":"17216.00","prevPrice24h":"16926.50","highPrice24h":"17281.50","lowPrice24h":"16915.00","prevPrice1h":"17238.00","markPrice":"17217.33","indexPrice":"17227.36","openInterest":"68744.761","openInterestValue":"1183601235.91","turnover24h":"1570383121.943499","volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#,
        )
        .unwrap();
        let data: DerivativeTicker = serde_json::from_str(ticker.data.unwrap().get()).unwrap();
        assert_eq!(
            (data.mark_price.as_deref(), data.funding_rate.as_deref(), data.next_funding_time.as_deref(), data.funding_interval_hour),
            (Some("17217.33"), Some("-0.000212"), Some("1673280000000"), None)
        );
        let delta: DerivativeTicker = serde_json::from_str(r#"{"symbol":"BTCUSDT","markPrice":"17217.40"}"#).unwrap();
        assert_eq!((delta.mark_price.as_deref(), delta.last_price, delta.open_interest), (Some("17217.40"), None, None));

        let liquidation: Envelope = serde_json::from_str(
            r#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}"#,
        )
        .unwrap();
        let events: Vec<LiquidationEvent> = serde_json::from_str(liquidation.data.unwrap().get()).unwrap();
        assert_eq!(
            (events[0].time_ms, &*events[0].position_side, &*events[0].size, &*events[0].price),
            (1739502302929, "Sell", "20000", "0.04499")
        );
    }
}
