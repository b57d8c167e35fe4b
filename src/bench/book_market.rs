//! The order books the book part of the benchmark writes: per symbol a book of
//! [`LEVELS`] price levels a side around a fixed mid, changed at random levels (a fifth
//! of the changes remove a level). The same changes come as OKX `books` pushes (for the
//! load generator; the daemon's OKX adapter and book keeper read them) and as
//! `BookDelta` rows (for raw COPY of the same rows). Bids stay below the mid and asks
//! above it, so the book never crosses.

use std::fmt::Write as _;

use crate::record::{BookDelta, BookSide, Timestamp};

/// Price levels a side.
pub const LEVELS: usize = 200;
/// Level changes in one update push (an OKX `books` push of a busy symbol carries tens).
pub const CHANGES_PER_PUSH: usize = 20;

/// One level change: side, price, size (0 removes).
type Change = (BookSide, f64, f64);

pub struct BookMarket {
    pub symbols: Vec<String>,
    /// The last `seqId` sent per symbol.
    sequences: Vec<i64>,
    rng: fastrand::Rng,
    next: usize,
}

impl BookMarket {
    pub fn new(symbols: &[String], seed: u64) -> BookMarket {
        BookMarket { symbols: symbols.to_vec(), sequences: vec![0; symbols.len()], rng: fastrand::Rng::with_seed(seed), next: 0 }
    }

    fn mid(index: usize) -> f64 {
        100.0 + (index as f64 * 37.0) % 5_000.0
    }

    fn price(index: usize, side: BookSide, level: usize) -> f64 {
        let offset = level as f64 * 0.01;
        let price = match side {
            BookSide::Bid => Self::mid(index) - offset,
            BookSide::Ask => Self::mid(index) + offset,
        };
        (price * 100.0).round() / 100.0
    }

    fn change(&mut self, index: usize) -> Change {
        let side = if self.rng.bool() { BookSide::Bid } else { BookSide::Ask };
        let price = Self::price(index, side, self.rng.usize(1..=LEVELS));
        let size = if self.rng.u8(0..5) == 0 { 0.0 } else { (self.rng.f64() * 10.0 * 1_000.0).round() / 1_000.0 + 0.001 };
        (side, price, size)
    }

    /// The snapshot push of symbol `index`: every level, size 1.
    pub fn okx_snapshot(&mut self, index: usize, time: Timestamp, out: &mut String) {
        self.sequences[index] += 1;
        let levels = |side| (1..=LEVELS).map(move |level| (side, Self::price(index, side, level), 1.0)).collect::<Vec<Change>>();
        let (bids, asks) = (levels(BookSide::Bid), levels(BookSide::Ask));
        write_push(out, &self.symbols[index], "snapshot", -1, self.sequences[index], time, &bids, &asks);
    }

    /// The next update push, round-robin over the symbols; returns its level changes.
    pub fn okx_update(&mut self, time: Timestamp, out: &mut String) -> usize {
        let index = self.next;
        self.next = (self.next + 1) % self.symbols.len().max(1);
        let changes: Vec<Change> = (0..CHANGES_PER_PUSH).map(|_| self.change(index)).collect();
        let (bids, asks): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(|(side, _, _)| *side == BookSide::Bid);
        let previous = self.sequences[index];
        self.sequences[index] += 1;
        write_push(out, &self.symbols[index], "update", previous, self.sequences[index], time, &bids, &asks);
        CHANGES_PER_PUSH
    }

    /// `rows` level changes as rows, spread evenly over `span_micros` before `end`.
    pub fn deltas(&mut self, rows: usize, end: Timestamp, span_micros: i64) -> Vec<BookDelta> {
        (0..rows)
            .map(|row| {
                let index = row % self.symbols.len().max(1);
                let (side, price, size) = self.change(index);
                self.sequences[index] += 1;
                let time = Timestamp(end.micros() - span_micros + (row as i64 * span_micros) / rows.max(1) as i64);
                BookDelta {
                    time,
                    received_at: time,
                    venue: "okx".into(),
                    symbol: self.symbols[index].clone(),
                    side,
                    price,
                    size,
                    sequence: self.sequences[index],
                    snapshot: false,
                }
            })
            .collect()
    }
}

#[allow(clippy::too_many_arguments)]
fn write_push(
    out: &mut String,
    symbol: &str,
    action: &str,
    previous: i64,
    sequence: i64,
    time: Timestamp,
    bids: &[Change],
    asks: &[Change],
) {
    out.clear();
    let _ = write!(out, r#"{{"arg":{{"channel":"books","instId":"{symbol}"}},"action":"{action}","data":[{{"asks":["#);
    write_levels(out, asks);
    out.push_str(r#"],"bids":["#);
    write_levels(out, bids);
    let _ = write!(out, r#"],"ts":"{}","checksum":0,"prevSeqId":{previous},"seqId":{sequence}}}]}}"#, time.micros() / 1_000);
}

fn write_levels(out: &mut String, levels: &[Change]) {
    for (index, (_, price, size)) in levels.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"["{price:.2}","{size}","0","1"]"#);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::feed::VenueAdapter;

    #[test]
    fn the_pushes_read_back_through_the_okx_adapter_as_their_changes() {
        let symbols = vec!["A-USDT".to_string(), "B-USDT".to_string()];
        let mut market = BookMarket::new(&symbols, 7);
        let mut adapter = crate::source::okx::OkxAdapter::new();
        adapter.subscriptions(&symbols, &[crate::config::Channel::Book]);
        let mut text = String::new();
        let mut rows = 0;
        for index in 0..2 {
            market.okx_snapshot(index, Timestamp(1_000_000), &mut text);
            let parsed = adapter.parse(&text, Timestamp(1_000_000)).unwrap();
            rows += parsed.records.iter().filter(|record| matches!(record, crate::record::Record::BookDelta(_))).count();
        }
        assert_eq!(rows, 2 * 2 * LEVELS, "every snapshot level stored");
        for push in 0..10 {
            let changes = market.okx_update(Timestamp(2_000_000 + push), &mut text);
            let parsed = adapter.parse(&text, Timestamp(2_000_000 + push)).unwrap();
            assert!(parsed.events.is_empty(), "no gap, checksum or crossing: {:?}", parsed.events);
            let deltas = parsed.records.iter().filter(|record| matches!(record, crate::record::Record::BookDelta(_))).count();
            assert_eq!(deltas, changes);
        }
    }
}
