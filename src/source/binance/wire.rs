//! Binance message types as the venue sends them. Prices and quantities are decimal
//! strings; times are milliseconds since the Unix epoch.

use serde::Deserialize;

/// `<symbol>@trade`:
/// `{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}`
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(rename = "s")]
    pub symbol: &'a str,
    #[serde(rename = "t")]
    pub trade_id: u64,
    #[serde(rename = "p")]
    pub price: &'a str,
    #[serde(rename = "q")]
    pub quantity: &'a str,
    #[serde(rename = "T")]
    pub trade_time_ms: i64,
    /// Is the buyer the market maker? Then the seller was the taker.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `<symbol>@aggTrade`:
/// `{"e":"aggTrade","E":123456789,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":123456785,"m":true,"M":true}`
#[derive(Debug, Deserialize)]
pub struct AggTrade<'a> {
    #[serde(rename = "s")]
    pub symbol: &'a str,
    #[serde(rename = "a")]
    pub aggregate_id: u64,
    #[serde(rename = "p")]
    pub price: &'a str,
    #[serde(rename = "q")]
    pub quantity: &'a str,
    #[serde(rename = "T")]
    pub trade_time_ms: i64,
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `<symbol>@bookTicker`. Spot: `{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`;
/// futures add `"e":"bookTicker"`, `"E"` (event time) and `"T"` (transaction time).
#[derive(Debug, Deserialize)]
pub struct BookTicker<'a> {
    #[serde(rename = "s")]
    pub symbol: &'a str,
    #[serde(rename = "b")]
    pub bid_price: &'a str,
    #[serde(rename = "B")]
    pub bid_quantity: &'a str,
    #[serde(rename = "a")]
    pub ask_price: &'a str,
    #[serde(rename = "A")]
    pub ask_quantity: &'a str,
    /// Futures only; spot book tickers carry no time, so our receipt time stands in.
    #[serde(rename = "T", default)]
    pub transaction_time_ms: Option<i64>,
}

/// `<symbol>@kline_<interval>`: `{"e":"kline","E":…,"s":"BNBBTC","k":{"t":…,"T":…,"i":"1m",
/// "o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000",…}}`
#[derive(Debug, Deserialize)]
pub struct Kline<'a> {
    #[serde(rename = "s")]
    pub symbol: &'a str,
    #[serde(rename = "k", borrow)]
    pub bar: KlineBar<'a>,
}

#[derive(Debug, Deserialize)]
pub struct KlineBar<'a> {
    #[serde(rename = "t")]
    pub open_time_ms: i64,
    #[serde(rename = "i")]
    pub interval: &'a str,
    #[serde(rename = "o")]
    pub open: &'a str,
    #[serde(rename = "h")]
    pub high: &'a str,
    #[serde(rename = "l")]
    pub low: &'a str,
    #[serde(rename = "c")]
    pub close: &'a str,
    #[serde(rename = "v")]
    pub volume: &'a str,
    /// Quote asset volume; with `volume` it gives the bar's VWAP.
    #[serde(rename = "q")]
    pub quote_volume: &'a str,
    #[serde(rename = "n")]
    pub trades: i64,
    /// Is this bar closed? Only closed bars are stored.
    #[serde(rename = "x")]
    pub closed: bool,
}

/// `<symbol>@ticker`, the rolling 24-hour statistics, pushed every second. Spot:
/// `{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018",
/// "x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010",
/// "h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}`;
/// USDⓈ-M futures send the same without `x`, `b`, `B`, `a` and `A`.
#[derive(Debug, Deserialize)]
pub struct Ticker24h<'a> {
    /// Event time: the ticker's `time`.
    #[serde(rename = "E")]
    pub event_time_ms: i64,
    #[serde(rename = "s")]
    pub symbol: &'a str,
    /// Last price minus the open price 24 hours ago.
    #[serde(rename = "p")]
    pub price_change: &'a str,
    /// `p` in percent of the open price (`"250.00"` is 250 %).
    #[serde(rename = "P")]
    pub price_change_percent: &'a str,
    #[serde(rename = "c")]
    pub last_price: &'a str,
    #[serde(rename = "o")]
    pub open_price: &'a str,
    #[serde(rename = "h")]
    pub high_price: &'a str,
    #[serde(rename = "l")]
    pub low_price: &'a str,
    /// Base asset volume.
    #[serde(rename = "v")]
    pub volume: &'a str,
    /// Quote asset volume.
    #[serde(rename = "q")]
    pub quote_volume: &'a str,
}

/// The answer to a SUBSCRIBE request: `{"result":null,"id":1}`, or an error
/// `{"error":{"code":2,"msg":"Invalid request"},"id":1}`.
#[derive(Debug, Deserialize)]
pub struct Response<'a> {
    pub id: Option<u64>,
    #[serde(borrow, default)]
    pub error: Option<ErrorBody<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody<'a> {
    pub code: i64,
    pub msg: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let trade: Trade = serde_json::from_str(
            r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#,
        )
        .unwrap();
        assert_eq!((trade.symbol, trade.trade_id, trade.price, trade.buyer_is_maker), ("BNBBTC", 12345, "0.001", true));
        let agg: AggTrade = serde_json::from_str(
            r#"{"e":"aggTrade","E":123456789,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":123456785,"m":true,"M":true}"#,
        )
        .unwrap();
        assert_eq!(agg.aggregate_id, 12345);
        let book: BookTicker = serde_json::from_str(
            r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
        )
        .unwrap();
        assert_eq!((book.bid_price, book.ask_quantity, book.transaction_time_ms), ("25.35190000", "40.66000000", None));
        let kline: Kline = serde_json::from_str(
            r#"{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}"#,
        )
        .unwrap();
        assert_eq!((kline.bar.interval, kline.bar.trades, kline.bar.closed), ("1m", 100, false));
        let ticker: Ticker24h = serde_json::from_str(
            r#"{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}"#,
        )
        .unwrap();
        assert_eq!(
            (ticker.event_time_ms, ticker.symbol, ticker.last_price, ticker.open_price),
            (1672515782136, "BNBBTC", "0.0025", "0.0010")
        );
        assert_eq!((ticker.high_price, ticker.low_price, ticker.volume, ticker.quote_volume), ("0.0025", "0.0010", "10000", "18"));
        assert_eq!((ticker.price_change, ticker.price_change_percent), ("0.0015", "250.00"));
        let futures: Ticker24h = serde_json::from_str(
            r#"{"e":"24hrTicker","E":123456789,"s":"BTCUSDT","p":"0.0015","P":"250.00","w":"0.0018","c":"0.0025","Q":"10","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}"#,
        )
        .unwrap();
        assert_eq!((futures.event_time_ms, futures.symbol), (123456789, "BTCUSDT"));
        let error: Response = serde_json::from_str(r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#).unwrap();
        assert_eq!(error.error.map(|e| e.code), Some(2));
    }
}
