//! A push frame's elements: a JSON object, or a JSON array of them. A frame of plain
//! ticks (the commonest, and the one that comes at the highest rates) is read in one
//! pass; any other is split first and its elements read one by one
//! ([`super::protocol::parse_element`]).

use serde_json::value::RawValue;

use super::protocol::parse_element;
use super::{fast, scan};
use crate::record::{Record, RejectReason, Rejection, Tick, Timestamp};

/// One element of a frame, with its position and raw text.
#[derive(Debug)]
pub struct ParsedElement<'a> {
    pub index: usize,
    pub raw: &'a str,
    pub result: Result<Record, Rejection>,
    /// The record's `id`, when it parsed: a resend of an id already seen is harmless.
    pub id: Option<String>,
}

/// Splits a frame into its elements' raw text, not parsed yet (an element is parsed
/// when it is routed, so a frame's records are never all held at once). A frame that is
/// not valid JSON as a whole is one rejection.
pub fn split_frame(text: &str) -> Result<Vec<&str>, Rejection> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(Rejection::new(RejectReason::EmptyFrame, "the frame holds no JSON"));
    }
    if trimmed.starts_with('[') {
        let elements: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("the frame's array is not valid JSON: {error}")))?;
        Ok(elements.into_iter().map(RawValue::get).collect())
    } else {
        Ok(vec![text])
    }
}

/// A frame's elements, each read when it is routed. A frame of plain ticks (the
/// commonest, and the one that comes at the highest rates) is read in one pass by the
/// hand-written reader ([`scan::frame`]); any other is split first ([`split_frame`]) and
/// its elements read one by one. Either way an element reads exactly as [`parse_element`] reads its text,
/// and its text is at hand for a dead letter ([`Frame::raw`], split when first asked).
/// The one pass is tried on every array: a frame that turns out to hold something else
/// is read up to that element twice (at once, when its first element is not a tick).
pub struct Frame<'a> {
    text: &'a str,
    ticks: Option<Vec<fast::TickWire<'a>>>,
    raws: Option<Vec<&'a str>>,
}

impl<'a> Frame<'a> {
    /// Opens a frame; a frame that is not valid JSON as a whole is one rejection.
    pub fn open(text: &'a str) -> Result<Frame<'a>, Rejection> {
        let ticks = if text.trim_start().starts_with('[') { scan::frame(text) } else { None };
        let raws = match ticks {
            Some(_) => None,
            None => Some(split_frame(text)?),
        };
        Ok(Frame { text, ticks, raws })
    }

    pub fn len(&self) -> usize {
        self.ticks.as_ref().map_or_else(|| self.raws.as_ref().map_or(0, Vec::len), Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `index`: its record, and its `id` when the record parsed.
    pub fn parse(&mut self, index: usize, received_at: Timestamp) -> (Result<Record, Rejection>, Option<String>) {
        if let Some((tick, id)) = self.plain_tick(index, received_at) {
            return (Ok(Record::Tick(tick)), id);
        }
        self.parse_general(index, received_at)
    }

    /// The element at `index` as [`Frame::parse`] reads it, when it is a plain tick read
    /// in the frame's one pass: the tick and its `id`, without the tick ever taking the
    /// shape of a [`Record`] (which is three times a tick's size to move). `None`: read it
    /// with [`Frame::parse_general`].
    pub fn plain_tick(&self, index: usize, received_at: Timestamp) -> Option<(Tick, Option<String>)> {
        self.ticks.as_ref().and_then(|ticks| fast::read(ticks.get(index)?, received_at))
    }

    /// The element at `index` as [`Frame::parse`] reads it when [`Frame::plain_tick`] has
    /// not.
    pub fn parse_general(&mut self, index: usize, received_at: Timestamp) -> (Result<Record, Rejection>, Option<String>) {
        parse_element(self.raw(index), received_at)
    }

    /// The element's text.
    pub fn raw(&mut self, index: usize) -> &'a str {
        let text = self.text;
        // A frame read in one pass is valid JSON, so it splits.
        let raws = self.raws.get_or_insert_with(|| split_frame(text).unwrap_or_default());
        raws.get(index).copied().unwrap_or(text)
    }
}

/// Whether a frame reads the same through [`Frame`] as split and read element by
/// element (for the push_protocol fuzz target and the tests): the same records, ids and
/// texts, or both refusing the frame.
#[doc(hidden)]
pub fn frame_path_agrees(text: &str) -> bool {
    let now = Timestamp(1_795_348_800_000_000);
    let (Ok(mut frame), Ok(raws)) = (Frame::open(text), split_frame(text)) else {
        return Frame::open(text).is_err() && split_frame(text).is_err();
    };
    frame.len() == raws.len()
        && raws.iter().enumerate().all(|(index, raw)| frame.parse(index, now) == parse_element(raw, now) && frame.raw(index) == *raw)
}

/// Opens a frame and parses every element.
pub fn parse_frame(text: &str, received_at: Timestamp) -> Result<Vec<ParsedElement<'_>>, Rejection> {
    let mut frame = Frame::open(text)?;
    Ok((0..frame.len())
        .map(|index| {
            let (result, id) = frame.parse(index, received_at);
            ParsedElement { index, raw: frame.raw(index), result, id }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    #[test]
    fn a_frame_read_in_one_pass_reads_as_the_same_frame_split() {
        let tick = |time: i64, extra: &str| {
            format!(r#"{{"type":"tick","venue":"v","symbol":"S","time":{time},"price":101.25,"size":2,"side":"buy"{extra}}}"#)
        };
        let ticks: Vec<String> = (0..5).map(|n| tick(1_795_348_800_000_000_000 + n, &format!(r#","id":{n}"#))).collect();
        let frames = [
            format!("[{}]", ticks.join(",")),
            format!(" [ {} ] ", ticks.join(" , ")),
            // Every element a tick's shape, some refused or handed to the general path.
            format!("[{},{},{}]", ticks[0], tick(5, ""), tick(1_795_348_800_000_000_000, r#","trade_id":"a b""#)),
            format!(r#"[{},{{"type":"tick","venue":"v","symbol":"S","time":1795348800000000000,"price":1,"size":-2}}]"#, ticks[1]),
            // Not every element a tick's shape: split and read one by one.
            format!(
                r#"[{},{{"type":"quote","venue":"v","symbol":"S","time":1795348800000000000,"bid_price":1,"bid_size":2,"ask_price":3,"ask_size":4}}]"#,
                ticks[2]
            ),
            format!(r#"[{},{{"type":"tick","venue":"vA","symbol":"S","time":1795348800000000000,"price":1,"size":2}},7,"x",[]]"#, ticks[3]),
            format!("[{},", ticks[4]),
            "[]".to_string(),
            ticks[0].clone(),
            "{".to_string(),
        ];
        for frame in &frames {
            assert!(frame_path_agrees(frame), "{frame}");
        }
        let mut one_pass = Frame::open(&frames[0]).unwrap();
        assert!(one_pass.ticks.is_some() && one_pass.raws.is_none(), "plain ticks are read in one pass, not split");
        assert_eq!(one_pass.parse(4, NOW).1.as_deref(), Some("4"));
        assert!(one_pass.raws.is_none(), "nothing split while every element reads as a tick");
        assert_eq!(one_pass.raw(1), ticks[1]);
        assert!(Frame::open(&frames[4]).unwrap().ticks.is_none(), "a quote among ticks: split");
        assert_eq!(Frame::open(&frames[6]).err().map(|rejection| rejection.code), Some(RejectReason::InvalidJson));
    }
}
