//! What an adapter hands the book keeper: a venue's levels (numbers and the text they
//! were written in, which checksums are computed over) and its snapshots and updates;
//! and the price a side's map is keyed by.

use std::cmp::Ordering;

use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::values;

/// A price as a map key, ordered by value (`total_cmp`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Price(pub(super) f64);

impl Eq for Price {}

impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Price {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One level as the venue wrote it: the numbers, and their text (checksums are
/// computed over the text).
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub price: f64,
    pub size: f64,
    pub price_text: Box<str>,
    pub size_text: Box<str>,
}

impl Level {
    pub fn new(price_text: &str, size_text: &str, price: f64, size: f64) -> Level {
        Level { price, size, price_text: price_text.into(), size_text: size_text.into() }
    }

    /// A level from the venue's decimal texts: a finite price and a size that is not
    /// negative, or a rejection naming `field` (`bids`, `asks`, …).
    pub fn parse(field: &str, price_text: &str, size_text: &str) -> Result<Level, Rejection> {
        let price = values::decimal(&format!("{field} price"), price_text)?;
        let size = values::decimal(&format!("{field} size"), size_text)?;
        if size < 0.0 {
            return Err(Rejection::new(RejectReason::InvalidField, format!("`{field}` size: {size_text} is negative")));
        }
        Ok(Level::new(price_text, size_text, price, size))
    }
}

/// A snapshot or an update of one symbol's book, as the adapter read it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BookUpdate {
    /// The venue's event time.
    pub time: Timestamp,
    pub received_at: Timestamp,
    /// The venue's sequence or update id of this message.
    pub sequence: i64,
    /// The id of the message this one follows, where the venue says (`prevSeqId`).
    pub previous: Option<i64>,
    /// Changed levels (size 0 removes), or in a snapshot the whole side.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    /// The venue's checksum of the book after this message, if it sends one.
    pub checksum: Option<u32>,
}
