//! Alpaca market data v2 (stocks) websocket messages as the venue sends them. Every
//! server message is a JSON array of objects with a `T` type; prices and sizes are JSON
//! numbers; times are RFC 3339 strings with nanoseconds. Symbols, exchange codes and
//! times never contain JSON escapes and are borrowed as `&str`; free text (`msg`) may,
//! and is a `Cow`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Just the `T` of one array element, to route it.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(rename = "T", borrow)]
    pub message_type: &'a str,
}

/// A control message: `{"T":"success","msg":"connected"}` on connect,
/// `{"T":"success","msg":"authenticated"}` after the auth request.
#[derive(Debug, Deserialize)]
pub struct Success<'a> {
    #[serde(borrow)]
    pub msg: Cow<'a, str>,
}

/// `{"T":"error","code":402,"msg":"auth failed"}`; other codes include 401 (not
/// authenticated), 404 (auth timeout), 405 (symbol limit exceeded), 406 (connection
/// limit exceeded), 409 (insufficient subscription).
#[derive(Debug, Deserialize)]
pub struct Error<'a> {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(borrow, default)]
    pub msg: Option<Cow<'a, str>>,
}

/// `{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.31,"s":100,"c":["@"],"z":"C","t":"2024-02-26T14:30:00.123456789Z"}`:
/// trade id `i` (per reporting exchange `x`), price `p`, size `s` in shares, conditions
/// `c`, tape `z`, time `t`.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(rename = "S", borrow)]
    pub symbol: &'a str,
    pub i: u64,
    #[serde(borrow, default)]
    pub x: &'a str,
    pub p: f64,
    pub s: f64,
    #[serde(borrow)]
    pub t: &'a str,
}

/// `{"T":"q","S":"AAPL","bx":"V","bp":187.30,"bs":3,"ax":"V","ap":187.32,"as":2,"c":["R"],"z":"C","t":"2024-02-26T14:30:00.123456789Z"}`:
/// bid/ask exchange, price and size; sizes are in round lots (usually 100 shares).
#[derive(Debug, Deserialize)]
pub struct Quote<'a> {
    #[serde(rename = "S", borrow)]
    pub symbol: &'a str,
    pub bp: f64,
    pub bs: f64,
    pub ap: f64,
    #[serde(rename = "as")]
    pub ask_size: f64,
    #[serde(borrow)]
    pub t: &'a str,
}

/// A minute bar: `{"T":"b","S":"AAPL","o":187.1,"h":187.4,"l":187.0,"c":187.31,"v":12000,"t":"2024-02-26T14:30:00Z","n":95,"vw":187.25}`;
/// `t` is the bar's start, `n` its number of trades, `vw` its VWAP.
#[derive(Debug, Deserialize)]
pub struct Bar<'a> {
    #[serde(rename = "S", borrow)]
    pub symbol: &'a str,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
    #[serde(borrow)]
    pub t: &'a str,
    #[serde(default)]
    pub n: Option<i64>,
    #[serde(default)]
    pub vw: Option<f64>,
}

/// `{"action":"auth","key":"…","secret":"…"}`. No `Debug`: it holds the secret.
#[derive(Serialize)]
pub struct Auth<'a> {
    pub action: &'static str,
    pub key: &'a str,
    pub secret: &'a str,
}

/// `{"action":"subscribe","trades":["AAPL"],"quotes":["AAPL"],"bars":["AAPL"]}`; empty
/// lists are left out.
#[derive(Debug, Serialize)]
pub struct Subscribe<'a> {
    pub action: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trades: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quotes: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bars: Vec<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn documented_examples_parse() {
        let message = r#"[{"T":"t","S":"AAPL","i":52983525029461,"x":"V","p":187.31,"s":100,"c":["@"],"z":"C","t":"2024-02-26T14:30:00.123456789Z"},{"T":"q","S":"AAPL","bx":"V","bp":187.30,"bs":3,"ax":"V","ap":187.32,"as":2,"c":["R"],"z":"C","t":"2024-02-26T14:30:00.223456789Z"},{"T":"b","S":"AAPL","o":187.1,"h":187.4,"l":187.0,"c":187.31,"v":12000,"t":"2024-02-26T14:30:00Z","n":95,"vw":187.25}]"#;
        let elements: Vec<&RawValue> = serde_json::from_str(message).unwrap();
        let types: Vec<&str> =
            elements.iter().map(|element| serde_json::from_str::<Envelope>(element.get()).unwrap().message_type).collect();
        assert_eq!(types, ["t", "q", "b"]);
        let trade: Trade = serde_json::from_str(elements[0].get()).unwrap();
        assert_eq!(
            (trade.symbol, trade.i, trade.x, trade.p, trade.s, trade.t),
            ("AAPL", 52983525029461, "V", 187.31, 100.0, "2024-02-26T14:30:00.123456789Z")
        );
        let quote: Quote = serde_json::from_str(elements[1].get()).unwrap();
        assert_eq!((quote.symbol, quote.bp, quote.bs, quote.ap, quote.ask_size), ("AAPL", 187.30, 3.0, 187.32, 2.0));
        let bar: Bar = serde_json::from_str(elements[2].get()).unwrap();
        assert_eq!(
            (bar.o, bar.h, bar.l, bar.c, bar.v, bar.t, bar.n, bar.vw),
            (187.1, 187.4, 187.0, 187.31, 12000.0, "2024-02-26T14:30:00Z", Some(95), Some(187.25))
        );

        let success: Success = serde_json::from_str(r#"{"T":"success","msg":"authenticated"}"#).unwrap();
        assert_eq!(success.msg, "authenticated");
        let error: Error = serde_json::from_str(r#"{"T":"error","code":402,"msg":"auth failed"}"#).unwrap();
        assert_eq!((error.code, error.msg.as_deref()), (Some(402), Some("auth failed")));
    }

    #[test]
    fn requests_have_the_documented_shape() {
        let auth = Auth { action: "auth", key: "KEY", secret: "SE\"CRET" };
        assert_eq!(serde_json::to_string(&auth).unwrap(), r#"{"action":"auth","key":"KEY","secret":"SE\"CRET"}"#);
        let subscribe = Subscribe { action: "subscribe", trades: vec!["AAPL"], quotes: vec![], bars: vec!["AAPL", "MSFT"] };
        assert_eq!(serde_json::to_string(&subscribe).unwrap(), r#"{"action":"subscribe","trades":["AAPL"],"bars":["AAPL","MSFT"]}"#);
    }
}
