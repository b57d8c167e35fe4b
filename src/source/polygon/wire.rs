//! Polygon.io stocks websocket messages as the venue sends them: a JSON array of events,
//! each an object whose `ev` names its type. Prices and sizes are JSON numbers, times
//! are milliseconds since the Unix epoch. Numeric fields are kept as raw JSON text
//! (`&RawValue`) so that a malformed one is rejected naming the field. Tickers never
//! contain JSON escapes and are borrowed as `&str`; free text (`message`) may, and is a
//! `Cow`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The event type of one array element: `{"ev":"T",…}`.
#[derive(Debug, Deserialize)]
pub struct Head<'a> {
    #[serde(borrow)]
    pub ev: Cow<'a, str>,
}

/// A status event:
/// `{"ev":"status","status":"connected","message":"Connected Successfully"}`,
/// `{"ev":"status","status":"auth_success","message":"authenticated"}`,
/// `{"ev":"status","status":"auth_failed","message":"authentication failed"}`,
/// `{"ev":"status","status":"success","message":"subscribed to: T.AAPL"}`.
#[derive(Debug, Deserialize)]
pub struct Status<'a> {
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

/// A trade:
/// `{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784,"q":3681328}`.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    #[serde(borrow)]
    pub sym: &'a str,
    /// Trade id, unique per exchange (`x`) and ticker.
    #[serde(borrow)]
    pub i: Cow<'a, str>,
    /// Price.
    #[serde(borrow)]
    pub p: &'a RawValue,
    /// Size in shares.
    #[serde(borrow)]
    pub s: &'a RawValue,
    /// SIP timestamp, milliseconds.
    #[serde(borrow)]
    pub t: &'a RawValue,
    /// Sequence number: increasing and unique per ticker, not always contiguous.
    #[serde(borrow)]
    pub q: &'a RawValue,
}

/// An NBBO quote:
/// `{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"t":1536036818784,"q":50385480}`.
#[derive(Debug, Deserialize)]
pub struct Quote<'a> {
    #[serde(borrow)]
    pub sym: &'a str,
    #[serde(borrow)]
    pub bp: &'a RawValue,
    #[serde(borrow)]
    pub bs: &'a RawValue,
    #[serde(borrow)]
    pub ap: &'a RawValue,
    #[serde(rename = "as", borrow)]
    pub ask_size: &'a RawValue,
    #[serde(borrow)]
    pub t: &'a RawValue,
    #[serde(borrow)]
    pub q: &'a RawValue,
}

/// A minute aggregate:
/// `{"ev":"AM","sym":"GTE","v":4110,"av":9470157,"op":0.4372,"vw":0.4488,"o":0.4488,"c":0.4486,"h":0.4489,"l":0.4486,"a":0.4352,"z":685,"s":1610144640000,"e":1610144700000}`.
#[derive(Debug, Deserialize)]
pub struct Aggregate<'a> {
    #[serde(borrow)]
    pub sym: &'a str,
    /// Volume of this minute.
    #[serde(borrow)]
    pub v: &'a RawValue,
    /// This minute's volume-weighted average price.
    #[serde(borrow)]
    pub vw: &'a RawValue,
    #[serde(borrow)]
    pub o: &'a RawValue,
    #[serde(borrow)]
    pub c: &'a RawValue,
    #[serde(borrow)]
    pub h: &'a RawValue,
    #[serde(borrow)]
    pub l: &'a RawValue,
    /// Start of the minute, milliseconds.
    #[serde(borrow)]
    pub s: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_parse() {
        let connected: Vec<&RawValue> =
            serde_json::from_str(r#"[{"ev":"status","status":"connected","message":"Connected Successfully"}]"#).unwrap();
        let head: Head = serde_json::from_str(connected[0].get()).unwrap();
        let status: Status = serde_json::from_str(connected[0].get()).unwrap();
        assert_eq!(
            (head.ev.as_ref(), status.status.as_ref(), status.message.as_deref()),
            ("status", "connected", Some("Connected Successfully"))
        );

        let events: Vec<&RawValue> = serde_json::from_str(
            r#"[{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784,"q":3681328},
                {"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"t":1536036818784,"q":50385480},
                {"ev":"AM","sym":"GTE","v":4110,"av":9470157,"op":0.4372,"vw":0.4488,"o":0.4488,"c":0.4486,"h":0.4489,"l":0.4486,"a":0.4352,"z":685,"s":1610144640000,"e":1610144700000}]"#,
        )
        .unwrap();
        let heads: Vec<String> = events.iter().map(|event| serde_json::from_str::<Head>(event.get()).unwrap().ev.into_owned()).collect();
        assert_eq!(heads, ["T", "Q", "AM"]);
        let trade: Trade = serde_json::from_str(events[0].get()).unwrap();
        assert_eq!(
            (trade.sym, trade.i.as_ref(), trade.p.get(), trade.s.get(), trade.t.get(), trade.q.get()),
            ("MSFT", "12345", "114.125", "100", "1536036818784", "3681328")
        );
        let quote: Quote = serde_json::from_str(events[1].get()).unwrap();
        assert_eq!(
            (quote.bp.get(), quote.bs.get(), quote.ap.get(), quote.ask_size.get(), quote.q.get()),
            ("114.125", "100", "114.128", "160", "50385480")
        );
        let bar: Aggregate = serde_json::from_str(events[2].get()).unwrap();
        assert_eq!(
            (bar.sym, bar.v.get(), bar.vw.get(), bar.o.get(), bar.h.get(), bar.l.get(), bar.c.get(), bar.s.get()),
            ("GTE", "4110", "0.4488", "0.4488", "0.4489", "0.4486", "0.4486", "1610144640000")
        );
    }
}
