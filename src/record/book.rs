//! Order books: level changes (`book_deltas`) and periodic top-N pictures
//! (`book_snapshots`). A snapshot's levels are stored as delta rows marked `snapshot`:
//! together they replace the book; the `book_snapshots` rows are a cheap read of the
//! top levels at an instant, taken at every synchronisation and at an interval.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// Which side of the book a level is on, stored as `bid` or `ask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookSide {
    Bid,
    Ask,
}

impl BookSide {
    pub fn as_str(self) -> &'static str {
        match self {
            BookSide::Bid => "bid",
            BookSide::Ask => "ask",
        }
    }

    pub fn parse(text: &str) -> Option<BookSide> {
        match text {
            "bid" | "buy" | "b" => Some(BookSide::Bid),
            "ask" | "sell" | "a" => Some(BookSide::Ask),
            _ => None,
        }
    }
}

/// One level change of one book: the new size at a price (0 removes the level). Rows
/// with `snapshot` set belong to a full snapshot (same `time` and `sequence`), which
/// replaces the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookDelta {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub side: BookSide,
    pub price: f64,
    pub size: f64,
    /// The venue's sequence or update id of the message this level came in.
    pub sequence: i64,
    pub snapshot: bool,
}

/// Why a `book_snapshots` row was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotReason {
    /// The periodic picture (`book_snapshot_interval_ms`).
    Interval,
    /// The book was (re)synchronised from a venue snapshot.
    Sync,
}

impl SnapshotReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotReason::Interval => "interval",
            SnapshotReason::Sync => "sync",
        }
    }

    pub fn parse(text: &str) -> Option<SnapshotReason> {
        match text {
            "interval" => Some(SnapshotReason::Interval),
            "sync" => Some(SnapshotReason::Sync),
            _ => None,
        }
    }
}

/// The top `depth` levels of one book at an instant, best first on each side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub sequence: i64,
    pub bid_prices: Vec<f64>,
    pub bid_sizes: Vec<f64>,
    pub ask_prices: Vec<f64>,
    pub ask_sizes: Vec<f64>,
    /// The depth asked for (a side may hold fewer levels).
    pub depth: i32,
    pub reason: SnapshotReason,
}
