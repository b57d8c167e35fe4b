//! What every venue's `book` test shares: [`VenueBook`], the book the fake venue holds
//! (its next snapshot is that book), changed step by step as the test's script sends
//! changes; and readers of what the daemon stored — `book_at` at the last stored
//! instant, `book_verified`, the break and resync events, the `book_snapshots` rows.

use std::collections::BTreeMap;

/// A level as `book_at` returns it: (side, level, price, size).
pub type BookLevel = (String, i32, f64, f64);

/// A price as a map key: the text's value in units of 1e-9.
fn key(price: &str) -> i128 {
    let value: f64 = price.parse().unwrap();
    (value * 1e9).round() as i128
}

/// The venue's book: levels with the venue's texts.
#[derive(Debug, Clone, Default)]
pub struct VenueBook {
    bids: BTreeMap<i128, (String, String)>,
    asks: BTreeMap<i128, (String, String)>,
}

impl VenueBook {
    /// A book holding these (price, size) levels.
    pub fn new(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> VenueBook {
        let mut book = VenueBook::default();
        book.change(bids, asks);
        book
    }

    /// Applies changes: a size that parses as 0 removes the level.
    pub fn change(&mut self, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        for (levels, changes) in [(&mut self.bids, bids), (&mut self.asks, asks)] {
            for (price, size) in changes {
                if size.parse::<f64>().unwrap() == 0.0 {
                    levels.remove(&key(price));
                } else {
                    levels.insert(key(price), (price.to_string(), size.to_string()));
                }
            }
        }
    }

    /// The bids, best (highest) first, as the venue writes them.
    pub fn bids(&self) -> Vec<(String, String)> {
        self.bids.values().rev().cloned().collect()
    }

    /// The asks, best (lowest) first.
    pub fn asks(&self) -> Vec<(String, String)> {
        self.asks.values().cloned().collect()
    }

    /// What `book_at` should return for this book at `depth`: bids then asks, best first.
    pub fn expected(&self, depth: usize) -> Vec<BookLevel> {
        let mut rows = Vec::new();
        for (side, levels) in [("bid", self.bids()), ("ask", self.asks())] {
            for (index, (price, size)) in levels.into_iter().take(depth).enumerate() {
                rows.push((side.to_string(), index as i32 + 1, price.parse().unwrap(), size.parse().unwrap()));
            }
        }
        rows
    }
}

/// `book_at` at the last stored instant of the symbol's book.
pub async fn stored_book(client: &tokio_postgres::Client, venue: &str, symbol: &str, depth: i32) -> Vec<BookLevel> {
    client
        .query(
            "SELECT side, level, price, size FROM book_at($1, $2,
                 (SELECT max(time) FROM book_deltas WHERE venue = $1 AND symbol = $2), $3)",
            &[&venue, &symbol, &depth],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

/// `book_at` at an instant given in milliseconds since the epoch.
pub async fn book_at_ms(client: &tokio_postgres::Client, venue: &str, symbol: &str, at_ms: i64, depth: i32) -> Vec<BookLevel> {
    client
        .query(
            "SELECT side, level, price, size FROM book_at($1, $2, to_timestamp($3::float8 / 1000), $4)",
            &[&venue, &symbol, &(at_ms as f64), &depth],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

/// `book_verified` at an instant in milliseconds since the epoch.
pub async fn verified_at_ms(client: &tokio_postgres::Client, venue: &str, symbol: &str, at_ms: i64) -> bool {
    client
        .query_one("SELECT book_verified($1, $2, to_timestamp($3::float8 / 1000))", &[&venue, &symbol, &(at_ms as f64)])
        .await
        .unwrap()
        .get(0)
}

/// The source's book events (`gap`, `checksum_mismatch`, `crossed`, `resync`) in the
/// order written: (kind, detail).
pub async fn book_events(client: &tokio_postgres::Client, source: &str) -> Vec<(String, serde_json::Value)> {
    client
        .query(
            "SELECT kind, detail FROM feed_events
              WHERE source = $1 AND kind IN ('gap', 'checksum_mismatch', 'crossed', 'resync')
              ORDER BY time, received_at",
            &[&source],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The `book_snapshots` rows of a symbol, oldest first: (reason, sequence, bid prices, ask prices).
pub async fn snapshot_rows(client: &tokio_postgres::Client, venue: &str, symbol: &str) -> Vec<(String, i64, Vec<f64>, Vec<f64>)> {
    client
        .query(
            "SELECT reason, sequence, bid_prices, ask_prices FROM book_snapshots
              WHERE venue = $1 AND symbol = $2 ORDER BY time, sequence",
            &[&venue, &symbol],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}
