//! The fast path for the commonest push record, a plain tick: read straight into a
//! struct of borrowed fields, with no intermediate JSON tree. It takes only what it can
//! decide alone — JSON-number prices and sizes, strings without escapes, integer or
//! RFC 3339 times — and hands anything else, valid or not, to the general path
//! (`protocol::parse_object`), which alone writes rejections. On what it accepts it
//! yields exactly the general path's tick (checked by the tests below, and by the
//! push_protocol fuzz target, which compares both paths).

use std::fmt;

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

use crate::record::{ShortText, Side, Tick, Timestamp};
use crate::source::values::is_valid_key;

/// A string without escapes, or an integer (`Unsigned` only above `i64::MAX`).
#[derive(Debug)]
pub(super) enum Scalar<'a> {
    Text(&'a str),
    Signed(i64),
    Unsigned(u64),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string without escapes or an integer")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Text(text))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Signed(value))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Scalar<'a>, E> {
                Ok(i64::try_from(value).map_or(Scalar::Unsigned(value), Scalar::Signed))
            }
        }
        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TickWire<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'a str,
    #[serde(default, borrow)]
    pub(super) id: Option<Scalar<'a>>,
    pub(super) venue: &'a str,
    pub(super) symbol: &'a str,
    #[serde(borrow)]
    pub(super) time: Scalar<'a>,
    pub(super) price: f64,
    pub(super) size: f64,
    #[serde(default, borrow)]
    pub(super) side: Option<&'a str>,
    #[serde(default, borrow)]
    pub(super) trade_id: Option<Scalar<'a>>,
}

/// An optional identifier as the general path reads it; `Err` = let it decide.
fn optional_key(value: Option<&Scalar<'_>>) -> Result<Option<ShortText>, ()> {
    match value {
        None => Ok(None),
        Some(Scalar::Text(text)) if is_valid_key(text) => Ok(Some(ShortText::new(text))),
        Some(Scalar::Signed(number)) => Ok(Some(ShortText::new(itoa::Buffer::new().format(*number)))),
        Some(Scalar::Unsigned(number)) => Ok(Some(ShortText::new(itoa::Buffer::new().format(*number)))),
        Some(Scalar::Text(_)) => Err(()),
    }
}

/// The tick in `raw` and its `id`, or `None` when the general path must read it.
pub(super) fn tick(raw: &str, received_at: Timestamp) -> Option<(Tick, Option<String>)> {
    // An object only: a struct also deserializes from an array of its fields in order.
    if !raw.trim_start().starts_with('{') {
        return None;
    }
    let wire: TickWire<'_> = serde_json::from_str(raw).ok()?;
    read(&wire, received_at)
}

/// The tick a wire holds and its `id`, or `None` when the general path must read it.
pub(super) fn read(wire: &TickWire<'_>, received_at: Timestamp) -> Option<(Tick, Option<String>)> {
    if wire.kind != "tick" || !is_valid_key(wire.venue) || !is_valid_key(wire.symbol) || wire.size < 0.0 {
        return None;
    }
    if !wire.price.is_finite() || !wire.size.is_finite() {
        return None;
    }
    let time = match wire.time {
        Scalar::Text(text) => Timestamp::parse_rfc3339(text)?,
        Scalar::Signed(nanos) => Timestamp::from_plausible_unix_nanos(nanos).ok()?,
        _ => return None,
    };
    let side = match wire.side {
        None => Side::Unknown,
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        Some(_) => return None,
    };
    let id = optional_key(wire.id.as_ref()).ok()?.map(ShortText::into_string);
    let trade_id = optional_key(wire.trade_id.as_ref()).ok()?;
    let tick = Tick {
        time,
        received_at,
        venue: ShortText::new(wire.venue),
        symbol: ShortText::new(wire.symbol),
        price: wire.price,
        size: wire.size,
        side,
        trade_id,
    };
    Some((tick, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    #[test]
    fn what_the_fast_path_takes_it_reads_exactly_as_the_general_path() {
        let variants = [
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":101.25,"size":2,"side":"buy","trade_id":"42"}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00.5Z","price":0.1,"size":0,"trade_id":18446744073709551615}"#,
            r#"{"id":"a-1","type":"tick","venue":"v","symbol":"S","time":-5,"price":-1e300,"size":1e-7,"side":"sell","trade_id":-3}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":123456789012345678901234567890,"size":0.30000000000000004,"side":null,"trade_id":null,"id":7}"#,
            // Handed to the general path (accepted there or refused with a reason):
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":"101.25","size":2}"#,
            r#"{"type":"tick","venue":"v\u0041","symbol":"S","time":1795348800123456789,"price":1,"size":2}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800,"price":1,"size":2}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":1,"size":-2}"#,
            r#"{"type":"tick","venue":"","symbol":"S","time":1795348800123456789,"price":1,"size":2}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":1,"size":2,"side":"up"}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":1,"size":2,"extra":1}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","symbol":"T","time":1795348800123456789,"price":1,"size":2}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789.5,"price":1,"size":2}"#,
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800123456789,"price":1,"size":2,"trade_id":1.5}"#,
            r#"{"type":"quote","venue":"v","symbol":"S","time":1795348800123456789,"bid_price":1,"bid_size":2,"ask_price":3,"ask_size":4}"#,
            r#"["tick",null,"v","S",1795348800123456789,1.5,2,"buy","1"]"#,
        ];
        let mut taken = 0;
        for raw in variants {
            let mut general_id = None;
            let general = super::super::protocol::parse_object_general(raw, NOW, &mut general_id);
            if let Some((tick, id)) = tick(raw, NOW) {
                taken += 1;
                assert_eq!(general, Ok(Record::Tick(tick)), "{raw}");
                assert_eq!(general_id, id, "{raw}");
            }
        }
        assert_eq!(taken, 4, "the first four variants take the fast path");
    }

    #[test]
    fn a_frames_wires_stay_within_what_the_frame_bounds() {
        // What `scan::frame`'s documentation says: a wire under 170 bytes, a tick at least 68.
        assert!(std::mem::size_of::<TickWire<'_>>() < 170, "{}", std::mem::size_of::<TickWire<'_>>());
        let smallest = r#"{"type":"tick","venue":"v","symbol":"S","time":1,"price":1,"size":1}"#;
        assert_eq!(smallest.len(), 68);
        assert!(super::super::scan::frame(&format!("[{smallest}]")).is_some_and(|wires| wires.len() == 1));
    }
}
