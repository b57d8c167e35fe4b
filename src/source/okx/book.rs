//! OKX `books` rules for the book keeper ([`BookRules`]).
//!
//! Continuity: every push carries `seqId` and `prevSeqId`; a push follows the last one
//! applied when its `prevSeqId` is that push's `seqId` (a push without changes repeats
//! it: `seqId` equals `prevSeqId`). The snapshot's `prevSeqId` is -1.
//!
//! Checksum ("Checksum" in the order book channel docs): over the top 25 levels, the
//! text `bid1price:bid1size:ask1price:ask1size:bid2price:…` (a side with fewer levels
//! simply contributes none), CRC32, sent as a signed 32-bit integer. OKX deprecated the
//! field in June 2026: it stays in pushes but is always 0, so 0 means no checksum and
//! `seqId`/`prevSeqId` is then the only check.
//!
//! The channel is `books`: 400 levels per side, a snapshot on subscribing, then updates
//! every 100 ms (the tick-by-tick `books-l2-tbt` and `books50-l2-tbt` need a logged-in
//! VIP account and are not offered). A fresh snapshot is asked for by unsubscribing and
//! subscribing the instrument's `books` again.

use serde_json::json;

use super::wire::{millis_text, BookData};
use crate::record::{RejectReason, Rejection, Timestamp};
use crate::source::feed::book::{Applied, Book, BookKeeper, BookRules, BookSettings, BookUpdate, Level};
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::Parsed;

/// The channel name.
pub const BOOKS: &str = "books";
/// The `book_depth` it takes.
pub const DEPTHS: &[u32] = &[400];

/// Levels per side the checksum covers.
pub const CHECKSUM_LEVELS: usize = 25;

pub struct OkxBookRules;

impl BookRules for OkxBookRules {
    fn follows(&self, last: i64, update: &BookUpdate) -> bool {
        update.previous == Some(last)
    }

    fn checksum(&self, book: &Book) -> Option<u32> {
        Some(checksum(book.bids(), book.asks()))
    }
}

/// The books of one OKX connection.
pub struct OkxBooks {
    keeper: BookKeeper<OkxBookRules>,
}

impl OkxBooks {
    pub fn new(settings: &BookSettings) -> OkxBooks {
        OkxBooks { keeper: BookKeeper::with_settings("okx", OkxBookRules, settings) }
    }

    /// A new connection subscribes again: every book waits for its snapshot.
    pub fn reset(&mut self, now: Timestamp) {
        self.keeper.reset(now);
    }

    /// One `books` push (`action` `snapshot` or `update`) of `inst_id`.
    pub fn push(
        &mut self,
        inst_id: &str,
        action: Option<&str>,
        data: &str,
        received_at: Timestamp,
        parsed: &mut Parsed,
    ) -> Result<(), Rejection> {
        let elements: Vec<BookData> = serde_json::from_str(data).map_err(|error| invalid(BOOKS, error))?;
        let snapshot = match action {
            Some("snapshot") => true,
            Some("update") => false,
            other => {
                return Err(Rejection::new(
                    RejectReason::InvalidField,
                    format!("books: `action` must be \"snapshot\" or \"update\", got {other:?}"),
                ))
            }
        };
        for element in &elements {
            let update = BookUpdate {
                time: millis_text("ts", element.ts)?,
                received_at,
                sequence: element.seq_id,
                previous: Some(element.prev_seq_id),
                bids: levels("bids", &element.bids)?,
                asks: levels("asks", &element.asks)?,
                checksum: sent_checksum(element.checksum),
            };
            let applied =
                if snapshot { self.keeper.snapshot(inst_id, &update, parsed) } else { self.keeper.update(inst_id, &update, parsed) };
            if applied == Applied::Resync {
                let arg = json!({ "channel": BOOKS, "instId": inst_id });
                parsed.replies.push(json!({ "op": "unsubscribe", "args": [arg] }).to_string());
                parsed.replies.push(json!({ "op": "subscribe", "args": [arg] }).to_string());
                // The rest of this push belongs to the broken book.
                break;
            }
        }
        Ok(())
    }
}

/// `[price, size, "0", orders]` levels.
fn levels(field: &str, levels: &[Vec<&str>]) -> Result<Vec<Level>, Rejection> {
    levels
        .iter()
        .map(|level| match level.as_slice() {
            [price, size, ..] => Level::parse(field, price, size),
            _ => Err(Rejection::new(RejectReason::InvalidField, format!("`{field}`: a level needs a price and a size"))),
        })
        .collect()
}

/// The venue's checksum field as the keeper compares it: its 32 bits, none for 0.
pub fn sent_checksum(checksum: i64) -> Option<u32> {
    // The field is a signed 32-bit integer; its bits are the CRC.
    (checksum != 0).then_some(checksum as i32 as u32)
}

/// The CRC32 of the top 25 levels, interleaved bid then ask.
pub fn checksum<'a>(bids: impl Iterator<Item = &'a Level>, asks: impl Iterator<Item = &'a Level>) -> u32 {
    let mut bids = bids.take(CHECKSUM_LEVELS);
    let mut asks = asks.take(CHECKSUM_LEVELS);
    let mut text = String::new();
    loop {
        let (bid, ask) = (bids.next(), asks.next());
        if bid.is_none() && ask.is_none() {
            break;
        }
        for level in [bid, ask].into_iter().flatten() {
            if !text.is_empty() {
                text.push(':');
            }
            text.push_str(&level.price_text);
            text.push(':');
            text.push_str(&level.size_text);
        }
    }
    crc32fast::hash(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: &str, size: &str) -> Level {
        Level::new(price, size, price.parse().unwrap(), size.parse().unwrap())
    }

    #[test]
    fn the_checksum_interleaves_bids_and_asks_and_reads_the_venue_text() {
        let bids = [level("3366.1", "7"), level("3366", "6")];
        let asks = [level("3366.8", "9"), level("3368", "8")];
        assert_eq!(checksum(bids.iter(), asks.iter()), crc32fast::hash(b"3366.1:7:3366.8:9:3366:6:3368:8"));

        // Unequal sides: the longer one's remaining levels follow alone.
        let asks = [level("3366.8", "9")];
        assert_eq!(checksum(bids.iter(), asks.iter()), crc32fast::hash(b"3366.1:7:3366.8:9:3366:6"));

        // Only the top 25 levels count; the text is the venue's, not a reformatted number.
        let many: Vec<Level> = (0..30).map(|index| level(&format!("{}.10", 100 - index), "1")).collect();
        let top: String = many[..25].iter().map(|l| format!("{}:{}", l.price_text, l.size_text)).collect::<Vec<_>>().join(":");
        assert_eq!(checksum(many.iter(), [].iter()), crc32fast::hash(top.as_bytes()));
    }

    #[test]
    fn the_signed_field_keeps_its_bits_and_zero_is_no_checksum() {
        assert_eq!(sent_checksum(0), None);
        assert_eq!(sent_checksum(-1), Some(u32::MAX));
        assert_eq!(sent_checksum(i64::from(i32::MIN)), Some(0x8000_0000));
        assert_eq!(sent_checksum(123), Some(123));
    }

    #[test]
    fn a_push_follows_when_its_previous_id_is_the_last_one() {
        let update = |previous| BookUpdate { sequence: 12, previous, ..BookUpdate::default() };
        assert!(OkxBookRules.follows(11, &update(Some(11))));
        assert!(!OkxBookRules.follows(10, &update(Some(11))));
        assert!(!OkxBookRules.follows(11, &update(None)));
    }
}
