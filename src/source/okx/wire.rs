//! OKX v5 public websocket messages as the venue sends them. Prices, sizes and times are
//! all strings (times are milliseconds since the Unix epoch, as text).
//!
//! Every JSON message is either an event (`event`: `subscribe`, `error`, …, with `arg`,
//! `code`, `msg`, `connId` and, when the request had one, `id`) or a channel push (`arg`
//! naming the channel and instrument, `data`); [`Envelope`] reads both shapes and leaves
//! `data` raw until the channel says what it holds. Channel names, instrument ids and
//! numbers never contain JSON escapes and are borrowed as `&str`; free text (`msg`, `id`)
//! may, and is a `Cow`. The heartbeat answer is the bare text `pong`, not JSON.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::values::millis;

/// Any JSON message. A channel push:
/// `{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[…]}`;
/// a subscribe acknowledgement, one per subscribed arg:
/// `{"id":"1","event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"accb8e21"}`;
/// an error: `{"id":"1","event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\", \"argss\":[{ \"channel\" : \"tickers\", \"instId\" : \"BTC-USDT\"}]}","connId":"a4d3ae55"}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow, default)]
    pub event: Option<&'a str>,
    #[serde(borrow, default)]
    pub arg: Option<Arg<'a>>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    /// `books` pushes: `snapshot` or `update`.
    #[serde(borrow, default)]
    pub action: Option<&'a str>,
    /// Error code, e.g. `60012` (invalid request) or `60018` (no such channel/instrument).
    #[serde(borrow, default)]
    pub code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub msg: Option<Cow<'a, str>>,
    /// Echo of the request's `id`, when it had one.
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
}

/// One subscription: `{"channel":"trades","instId":"BTC-USDT"}`, or for a channel of a
/// whole instrument family `{"channel":"opt-summary","instFamily":"BTC-USD"}`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Arg<'a> {
    #[serde(borrow)]
    pub channel: &'a str,
    #[serde(rename = "instId", borrow, default)]
    pub inst_id: Option<&'a str>,
    #[serde(rename = "instFamily", borrow, default)]
    pub inst_family: Option<&'a str>,
    /// `liquidation-orders` is subscribed per instrument type: `{"channel":"liquidation-orders","instType":"SWAP"}`.
    #[serde(rename = "instType", borrow, default)]
    pub inst_type: Option<&'a str>,
}

/// One element of `trades` data:
/// `{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}`.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(rename = "instId", borrow)]
    pub inst_id: &'a str,
    /// Numeric, increasing per instrument; the last fill id when `count` > 1.
    #[serde(rename = "tradeId", borrow)]
    pub trade_id: &'a str,
    #[serde(borrow)]
    pub px: &'a str,
    #[serde(borrow)]
    pub sz: &'a str,
    /// The taker's side: `buy` or `sell`.
    #[serde(borrow)]
    pub side: &'a str,
    /// Trade time, milliseconds as text.
    #[serde(borrow)]
    pub ts: &'a str,
}

/// One element of `tickers` data:
/// `{"instType":"SPOT","instId":"BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11",
/// "bidPx":"8888.88","bidSz":"5","open24h":"9000","high24h":"10000","low24h":"8888.88","volCcy24h":"2222",
/// "vol24h":"2222","sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}`.
/// A side without orders has empty strings. The 24-hour fields are optional here (an
/// empty or missing one is unknown): `open24h` is the price 24 hours ago; for `SPOT`
/// (and `MARGIN`) `vol24h` is in the base currency and `volCcy24h` in the quote
/// currency, for `SWAP` and `FUTURES` `vol24h` counts contracts and `volCcy24h` is in
/// the base currency.
#[derive(Debug, Deserialize)]
pub struct Ticker<'a> {
    /// `SPOT`, `MARGIN`, `SWAP`, `FUTURES` or `OPTION`.
    #[serde(rename = "instType", borrow, default)]
    pub inst_type: Option<&'a str>,
    #[serde(rename = "instId", borrow)]
    pub inst_id: &'a str,
    /// The last trade's price.
    #[serde(borrow, default)]
    pub last: Option<&'a str>,
    #[serde(rename = "open24h", borrow, default)]
    pub open_24h: Option<&'a str>,
    #[serde(rename = "high24h", borrow, default)]
    pub high_24h: Option<&'a str>,
    #[serde(rename = "low24h", borrow, default)]
    pub low_24h: Option<&'a str>,
    #[serde(rename = "vol24h", borrow, default)]
    pub vol_24h: Option<&'a str>,
    #[serde(rename = "volCcy24h", borrow, default)]
    pub vol_ccy_24h: Option<&'a str>,
    #[serde(rename = "bidPx", borrow)]
    pub bid_px: &'a str,
    #[serde(rename = "bidSz", borrow)]
    pub bid_sz: &'a str,
    #[serde(rename = "askPx", borrow)]
    pub ask_px: &'a str,
    #[serde(rename = "askSz", borrow)]
    pub ask_sz: &'a str,
    #[serde(borrow)]
    pub ts: &'a str,
}

/// One element of `opt-summary` data, one option contract of the subscribed family
/// (OKX API v5, "Option summary channel"; every contract of the family is pushed at once):
/// `{"instType":"OPTION","instId":"BTC-USD-241013-70000-P","uly":"BTC-USD","delta":"-1.1180902625",
/// "gamma":"2.2361957091","vega":"0.0000000001","theta":"0.0000032334","lever":"8.465747567",
/// "markVol":"0.3675503331","bidVol":"0","askVol":"1.1669998535","realVol":"","deltaBS":"-0.9999672034",
/// "gammaBS":"0.0000000002","thetaBS":"28.2649858387","vegaBS":"0.0000114332","ts":"1728703155650",
/// "fwdPx":"62604.6993093463","volLv":"0.2044711229"}`.
///
/// Units: `markVol`, `bidVol`, `askVol` are implied volatilities as fractions (0.3675 =
/// 36.75 %), `"0"` or empty when there is none; `fwdPx` is the forward price of the
/// underlying for the contract's expiry. `deltaBS`, `gammaBS`, `vegaBS`, `thetaBS` are the
/// Black-Scholes greeks; `delta`, `gamma`, `vega`, `theta` (OKX's price-adjusted greeks, in
/// coin terms) are not read. There are no prices: bid, ask and last are on the `tickers`
/// channel of each contract.
#[derive(Debug, Deserialize)]
pub struct OptionSummary<'a> {
    #[serde(rename = "instId", borrow)]
    pub inst_id: &'a str,
    #[serde(rename = "deltaBS", borrow, default)]
    pub delta_bs: &'a str,
    #[serde(rename = "gammaBS", borrow, default)]
    pub gamma_bs: &'a str,
    #[serde(rename = "vegaBS", borrow, default)]
    pub vega_bs: &'a str,
    #[serde(rename = "thetaBS", borrow, default)]
    pub theta_bs: &'a str,
    #[serde(rename = "markVol", borrow, default)]
    pub mark_vol: &'a str,
    #[serde(rename = "bidVol", borrow, default)]
    pub bid_vol: &'a str,
    #[serde(rename = "askVol", borrow, default)]
    pub ask_vol: &'a str,
    #[serde(rename = "fwdPx", borrow, default)]
    pub fwd_px: &'a str,
    /// Update time, milliseconds as text.
    #[serde(borrow)]
    pub ts: &'a str,
}

/// One row of `candle<bar>` data, an array of strings:
/// `["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","529.58","0"]` =
/// `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`.
#[derive(Debug, PartialEq)]
pub struct Candle<'a> {
    /// Bar open time, milliseconds as text.
    pub ts: &'a str,
    pub open: &'a str,
    pub high: &'a str,
    pub low: &'a str,
    pub close: &'a str,
    /// Volume in the base asset (spot).
    pub vol: &'a str,
    /// Volume in the quote asset; with `vol` it gives the bar's VWAP.
    pub vol_ccy_quote: &'a str,
    /// `"1"` once the bar is final, `"0"` while it is still open.
    pub confirm: &'a str,
}

impl<'a> Candle<'a> {
    /// Reads a row; `None` when it has fewer than the nine documented fields.
    pub fn from_row(row: &[&'a str]) -> Option<Self> {
        match row {
            [ts, open, high, low, close, vol, _vol_ccy, vol_ccy_quote, confirm, ..] => {
                Some(Candle { ts, open, high, low, close, vol, vol_ccy_quote, confirm })
            }
            _ => None,
        }
    }
}

/// Milliseconds since the Unix epoch written as text (`"1630048897897"`).
pub(super) fn millis_text(field: &str, text: &str) -> Result<Timestamp, Rejection> {
    let ms = text
        .parse::<i64>()
        .map_err(|_| Rejection::new(RejectReason::InvalidField, format!("`{field}`: expected milliseconds as a string, got \"{text}\"")))?;
    millis(field, ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let push: Envelope = serde_json::from_str(
            r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}"#,
        )
        .unwrap();
        assert_eq!(push.arg, Some(Arg { channel: "trades", inst_id: Some("BTC-USDT"), inst_family: None, inst_type: None }));
        assert_eq!(push.event, None);
        let trades: Vec<Trade> = serde_json::from_str(push.data.unwrap().get()).unwrap();
        assert_eq!(
            (trades[0].trade_id, trades[0].px, trades[0].sz, trades[0].side, trades[0].ts),
            ("130639474", "42219.9", "0.12060306", "buy", "1630048897897")
        );

        let ticker: Envelope = serde_json::from_str(
            r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11","bidPx":"8888.88","bidSz":"5","open24h":"9000","high24h":"10000","low24h":"8888.88","volCcy24h":"2222","vol24h":"2222","sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}]}"#,
        )
        .unwrap();
        let tickers: Vec<Ticker> = serde_json::from_str(ticker.data.unwrap().get()).unwrap();
        assert_eq!(
            (tickers[0].bid_px, tickers[0].bid_sz, tickers[0].ask_px, tickers[0].ask_sz, tickers[0].ts),
            ("8888.88", "5", "9999.99", "11", "1597026383085")
        );
        assert_eq!(
            (tickers[0].inst_type, tickers[0].last, tickers[0].open_24h, tickers[0].high_24h),
            (Some("SPOT"), Some("9999.99"), Some("9000"), Some("10000"))
        );
        assert_eq!((tickers[0].low_24h, tickers[0].vol_24h, tickers[0].vol_ccy_24h), (Some("8888.88"), Some("2222"), Some("2222")));

        let candle: Envelope = serde_json::from_str(
            r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","529.58","0"]]}"#,
        )
        .unwrap();
        let rows: Vec<Vec<&str>> = serde_json::from_str(candle.data.unwrap().get()).unwrap();
        let bar = Candle::from_row(&rows[0]).unwrap();
        assert_eq!(
            (bar.ts, bar.open, bar.close, bar.vol, bar.vol_ccy_quote, bar.confirm),
            ("1597026383085", "8533.02", "8548.26", "45247", "529.58", "0")
        );
        assert_eq!(Candle::from_row(&rows[0][..8]), None);

        let summary: Envelope = serde_json::from_str(
            r#"{"arg":{"channel":"opt-summary","instFamily":"BTC-USD"},"data":[{"instType":"OPTION","instId":"BTC-USD-241013-70000-P","uly":"BTC-USD","delta":"-1.1180902625","gamma":"2.2361957091","vega":"0.0000000001","theta":"0.0000032334","lever":"8.465747567","markVol":"0.3675503331","bidVol":"0","askVol":"1.1669998535","realVol":"","deltaBS":"-0.9999672034","gammaBS":"0.0000000002","thetaBS":"28.2649858387","vegaBS":"0.0000114332","ts":"1728703155650","fwdPx":"62604.6993093463","volLv":"0.2044711229"}]}"#,
        )
        .unwrap();
        assert_eq!(summary.arg, Some(Arg { channel: "opt-summary", inst_id: None, inst_family: Some("BTC-USD"), inst_type: None }));
        let summaries: Vec<OptionSummary> = serde_json::from_str(summary.data.unwrap().get()).unwrap();
        let option = &summaries[0];
        assert_eq!((option.inst_id, option.ts, option.fwd_px), ("BTC-USD-241013-70000-P", "1728703155650", "62604.6993093463"));
        assert_eq!(
            [option.delta_bs, option.gamma_bs, option.vega_bs, option.theta_bs],
            ["-0.9999672034", "0.0000000002", "0.0000114332", "28.2649858387"]
        );
        assert_eq!([option.mark_vol, option.bid_vol, option.ask_vol], ["0.3675503331", "0", "1.1669998535"]);
        let summary_ack: Envelope = serde_json::from_str(
            r#"{"id":"1512","event":"subscribe","arg":{"channel":"opt-summary","instFamily":"BTC-USD"},"connId":"a4d3ae55"}"#,
        )
        .unwrap();
        assert_eq!(summary_ack.arg.unwrap().inst_family, Some("BTC-USD"));

        let ack: Envelope =
            serde_json::from_str(r#"{"id":"1","event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"accb8e21"}"#)
                .unwrap();
        assert_eq!((ack.event, ack.id.as_deref(), ack.arg.unwrap().inst_id), (Some("subscribe"), Some("1"), Some("BTC-USDT")));
        let error: Envelope = serde_json::from_str(
            r#"{"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\", \"argss\":[{ \"channel\" : \"tickers\", \"instId\" : \"BTC-USDT\"}]}","connId":"a4d3ae55"}"#,
        )
        .unwrap();
        assert_eq!((error.event, error.code.as_deref(), error.id), (Some("error"), Some("60012"), None));
        assert!(error.msg.unwrap().starts_with("Invalid request: {\"op\""));
    }
}

/// One element of `books` data:
/// `{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085",
/// "checksum":-855196043,"prevSeqId":-1,"seqId":123456}`. A level is `[price, size,
/// deprecated "0", order count]`; size `"0"` removes the level in an update.
#[derive(Debug, Deserialize)]
pub struct BookData<'a> {
    #[serde(borrow, default)]
    pub asks: Vec<Vec<&'a str>>,
    #[serde(borrow, default)]
    pub bids: Vec<Vec<&'a str>>,
    #[serde(borrow)]
    pub ts: &'a str,
    #[serde(default)]
    pub checksum: i64,
    #[serde(rename = "prevSeqId")]
    pub prev_seq_id: i64,
    #[serde(rename = "seqId")]
    pub seq_id: i64,
}
