//! Coinbase `level2_batch` against the fake venue over real websockets: a snapshot and
//! `l2update`s, an update that crosses the book (`crossed`) answered by unsubscribing and
//! subscribing the product's channel and the fresh snapshot (`resync`), an update of the
//! old subscription still in flight dropped, then a dropped connection (a `gap` with
//! reason `reconnect`) and the new connection's snapshot. Coinbase sends no sequence and
//! its snapshot no time: the snapshots are stored at their receipt, read back here, and
//! the updates (timed before them) at a microsecond after their snapshot. The stored book
//! at the end equals the venue's book level for level; `book_at` at each snapshot is
//! that snapshot; `book_verified` is false across each break.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};
use serde_json::json;

use crate::book_feed::{book_events, snapshot_rows, stored_book, BookLevel, VenueBook};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const PRODUCT: &str = "BTC-USD";

fn subscribed() -> String {
    format!(r#"{{"type":"subscriptions","channels":[{{"name":"level2_batch","product_ids":["{PRODUCT}"]}}]}}"#)
}

/// The venue's whole book as a `snapshot` (it has no time).
fn snapshot(book: &VenueBook) -> String {
    json!({ "type": "snapshot", "product_id": PRODUCT, "bids": book.bids(), "asks": book.asks() }).to_string()
}

/// Applies changes to the venue's book and writes the `l2update`.
fn update(book: &mut VenueBook, time: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    book.change(bids, asks);
    let changes: Vec<serde_json::Value> = bids
        .iter()
        .map(|(price, size)| json!(["buy", price, size]))
        .chain(asks.iter().map(|(price, size)| json!(["sell", price, size])))
        .collect();
    json!({ "type": "l2update", "product_id": PRODUCT, "time": time, "changes": changes }).to_string()
}

/// `book_at` at a stored time (as text) plus `micros`.
async fn book_at(client: &tokio_postgres::Client, at: &str, micros: i64) -> Vec<BookLevel> {
    client
        .query(
            "SELECT side, level, price, size
               FROM book_at('coinbase', $1, $2::text::timestamptz + $3::int8 * interval '1 microsecond', 1000)",
            &[&PRODUCT, &at, &micros],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

async fn verified(client: &tokio_postgres::Client, at: &str, micros: i64) -> bool {
    client
        .query_one(
            "SELECT book_verified('coinbase', $1, $2::text::timestamptz + $3::int8 * interval '1 microsecond')",
            &[&PRODUCT, &at, &micros],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_books_crossed_resync_and_reconnect() {
    // Update times well before any receipt: each is stored just after its snapshot.
    let base = hypertick::record::Timestamp((now_ms() - 600_000) * 1_000);
    let time = |seconds: i64| base.saturating_add_micros(seconds * 1_000_000).to_string();
    let mut venue_book = VenueBook::new(
        &[("97000.01", "0.5"), ("96999.50", "1.25"), ("96998.00", "3")],
        &[("97000.02", "0.75"), ("97001.00", "2"), ("97003.10", "0.1")],
    );
    let first_book = venue_book.clone();
    let mut first = vec![Step::Expect("subscribe", subscribed()), Step::Send(snapshot(&venue_book))];
    first.push(Step::Send(update(&mut venue_book, &time(1), &[("97000.01", "0.6")], &[("97000.02", "0")])));
    first.push(Step::Send(update(&mut venue_book, &time(2), &[("96999.75", "4")], &[("97000.50", "1.5")])));
    // A bid at the best ask: the book is crossed.
    let crossed_bid = ("97000.50", "0.2");
    first.push(Step::Send(update(&mut venue_book.clone(), &time(3), &[crossed_bid], &[])));
    // Sent before the venue read the unsubscribe: dropped, the book waits for its snapshot.
    first.push(Step::Send(update(&mut venue_book, &time(3), &[("96998.00", "2")], &[])));
    first.push(Step::Expect(r#""type":"unsubscribe""#, r#"{"type":"subscriptions","channels":[]}"#.to_string()));
    first.push(Step::Expect(r#""type":"subscribe""#, subscribed()));
    first.push(Step::Sleep(Duration::from_millis(20)));
    let second_book = venue_book.clone();
    first.push(Step::Send(snapshot(&venue_book)));
    first.push(Step::Send(update(&mut venue_book, &time(4), &[("97000.01", "0")], &[("97001.00", "2.5")])));
    first.push(Step::Send(update(&mut venue_book, &time(5), &[("96997.25", "8")], &[])));
    let before_drop = venue_book.clone();
    first.push(Step::Sleep(Duration::from_millis(200)));
    first.push(Step::Drop);
    // The book moved while the connection was down.
    venue_book.change(&[("96999.50", "0")], &[("97000.30", "0.4")]);
    let third_book = venue_book.clone();
    let mut second = vec![Step::Expect("subscribe", subscribed()), Step::Send(snapshot(&venue_book))];
    second.push(Step::Send(update(&mut venue_book, &time(9), &[("96999.90", "1")], &[("97003.10", "0")])));
    second.push(Step::Send(update(&mut venue_book, &time(10), &[], &[("97000.40", "0.9")])));
    second.push(Step::Silence);

    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut coinbase = source(SourceKind::Coinbase, venue.url(), &[PRODUCT], &[Channel::Book]);
    coinbase.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    config.sources = vec![coinbase];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    // Our numbering: snapshot 1, updates 2 and 3, the crossing 4, the stale update 5,
    // snapshot 6, updates 7 and 8; after the reconnect snapshot 9, updates 10 and 11.
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM book_deltas WHERE sequence = 11", 1).await, 1);
    daemon.stop().await.expect("clean stop");

    let expected = venue_book.expected(1_000);
    assert_eq!(stored_book(&live, "coinbase", PRODUCT, 1_000).await, expected, "the stored book is the venue's next snapshot");
    assert_eq!(expected.len(), 8, "4 bids, 4 asks");

    let events = book_events(&live, "coinbase").await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["crossed", "resync", "gap", "resync"], "{events:?}");
    assert_eq!((events[0].1["best_bid"].as_f64(), events[0].1["best_ask"].as_f64()), (Some(97000.5), Some(97000.5)));
    assert_eq!(
        (events[0].1["venue"].as_str(), events[0].1["symbol"].as_str(), events[0].1["sequence"].as_i64()),
        (Some("coinbase"), Some(PRODUCT), Some(4))
    );
    assert_eq!(events[1].1["sequence"], 6);
    assert_eq!(events[2].1["reason"], "reconnect");
    assert_eq!(events[3].1["sequence"], 9);

    let received = venue.received.lock().unwrap().clone();
    let requests: Vec<serde_json::Value> = received.iter().map(|text| serde_json::from_str(text).unwrap()).collect();
    let level2 = |kind: &str| json!({ "type": kind, "product_ids": [PRODUCT], "channels": ["level2_batch"] });
    assert_eq!(requests, [level2("subscribe"), level2("unsubscribe"), level2("subscribe"), level2("subscribe")], "{received:?}");

    // Nothing stored across the break: neither the crossing update nor the stale one.
    let broken: i64 = live.query_one("SELECT count(*) FROM book_deltas WHERE sequence IN (4, 5)", &[]).await.unwrap().get(0);
    assert_eq!(broken, 0);
    let pictures = snapshot_rows(&live, "coinbase", PRODUCT).await;
    let sequences: Vec<(String, i64)> = pictures.iter().map(|(reason, sequence, _, _)| (reason.clone(), *sequence)).collect();
    assert_eq!(sequences, [("sync".to_string(), 1), ("sync".into(), 6), ("sync".into(), 9)]);

    // The snapshots' receipt times, and every update a microsecond after its snapshot.
    let snapshot_times: Vec<String> = live
        .query("SELECT t::text FROM (SELECT DISTINCT time AS t FROM book_deltas WHERE snapshot) s ORDER BY t", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(snapshot_times.len(), 3);
    let late: i64 = live
        .query_one(
            "SELECT count(*) FROM book_deltas d WHERE NOT snapshot AND time <> (
                 SELECT max(s.time) + interval '1 microsecond' FROM book_deltas s WHERE s.snapshot AND s.time < d.time)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(late, 0, "updates timed before their snapshot's receipt are stored just after it");
    let (first_at, second_at, third_at) = (&snapshot_times[0], &snapshot_times[1], &snapshot_times[2]);
    assert_eq!(book_at(&live, first_at, 0).await, first_book.expected(1_000));
    assert_eq!(book_at(&live, second_at, 0).await, second_book.expected(1_000));
    assert_eq!(book_at(&live, third_at, -1).await, before_drop.expected(1_000));
    assert_eq!(book_at(&live, third_at, 0).await, third_book.expected(1_000));
    for (at, micros, expected) in [
        (first_at, -1, false),
        (first_at, 0, true),
        (first_at, 1, false), // the crossing, stored a microsecond after the snapshot
        (second_at, -1, false),
        (second_at, 0, true),
        (second_at, 1, true),
        (second_at, 2, false), // the connection lost after the last update applied
        (third_at, -1, false),
        (third_at, 0, true),
        (third_at, 1, true),
    ] {
        assert_eq!(verified(&live, at, micros).await, expected, "verified at {at} {micros:+} µs");
    }
    let dead: i64 = live.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0);
    assert_eq!(dead, 0, "the answers to the resynchronisation are no dead letters");
}
