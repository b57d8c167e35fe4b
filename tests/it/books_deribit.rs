//! Deribit `book.{instrument}.100ms` against the fake venue over real websockets: a
//! snapshot and changes (`new`, `change`, `delete`) linked by `change_id` /
//! `prev_change_id`, a missed change (a `gap`) answered by `public/unsubscribe` and
//! `public/subscribe` of the channel and the fresh snapshot (`resync`), a change of the
//! old subscription still in flight dropped, then a dropped connection (a `gap` with
//! reason `reconnect`) and the new connection's snapshot. The stored book at the end
//! equals the venue's book level for level, and `book_verified` is false exactly where
//! the stored book could not be trusted.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};
use serde_json::json;

use crate::book_feed::{book_at_ms, book_events, snapshot_rows, stored_book, verified_at_ms, VenueBook};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const INSTRUMENT: &str = "BTC-PERPETUAL";
const CHANNEL: &str = "book.BTC-PERPETUAL.100ms";

/// The answers to `public/set_heartbeat` and `public/subscribe` on a new connection.
fn acks() -> [Step; 2] {
    [
        Step::Expect("public/set_heartbeat", r#"{"jsonrpc":"2.0","id":{id},"result":"ok"}"#.to_string()),
        Step::Expect("public/subscribe", format!(r#"{{"jsonrpc":"2.0","id":{{id}},"result":["{CHANNEL}"]}}"#)),
    ]
}

/// The answers to a resynchronisation's two requests.
fn resubscribed() -> [Step; 2] {
    [
        Step::Expect("public/unsubscribe", format!(r#"{{"jsonrpc":"2.0","id":{{id}},"result":["{CHANNEL}"]}}"#)),
        Step::Expect("public/subscribe", format!(r#"{{"jsonrpc":"2.0","id":{{id}},"result":["{CHANNEL}"]}}"#)),
    ]
}

/// A notification of the book channel; prices and amounts written as JSON numbers.
fn notification(data: serde_json::Value) -> String {
    json!({ "jsonrpc": "2.0", "method": "subscription", "params": { "channel": CHANNEL, "data": data } }).to_string()
}

fn numbers(action: &str, price: &str, amount: &str) -> serde_json::Value {
    let number = |text: &str| serde_json::Value::Number(text.parse().unwrap());
    json!([action, number(price), number(amount)])
}

/// The venue's whole book as a snapshot.
fn snapshot(book: &VenueBook, change_id: i64, ts: i64) -> String {
    let side = |levels: Vec<(String, String)>| levels.iter().map(|(price, size)| numbers("new", price, size)).collect::<Vec<_>>();
    notification(json!({ "type": "snapshot", "timestamp": ts, "instrument_name": INSTRUMENT, "change_id": change_id,
                         "bids": side(book.bids()), "asks": side(book.asks()) }))
}

/// Applies a change to the venue's book and writes its notification: a size of 0 is a
/// `delete`, a price not in the book `new`, else `change`.
fn change(book: &mut VenueBook, change_id: i64, prev: i64, ts: i64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    let side = |held: Vec<(String, String)>, changes: &[(&str, &str)]| {
        changes
            .iter()
            .map(|(price, size)| {
                let action = if size.parse::<f64>().unwrap() == 0.0 {
                    "delete"
                } else if held.iter().any(|(held, _)| held.parse::<f64>().unwrap() == price.parse::<f64>().unwrap()) {
                    "change"
                } else {
                    "new"
                };
                numbers(action, price, size)
            })
            .collect::<Vec<_>>()
    };
    let (bid_levels, ask_levels) = (side(book.bids(), bids), side(book.asks(), asks));
    book.change(bids, asks);
    notification(json!({ "type": "change", "timestamp": ts, "prev_change_id": prev, "instrument_name": INSTRUMENT,
                         "change_id": change_id, "bids": bid_levels, "asks": ask_levels }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deribit_books_gap_resync_and_reconnect() {
    let base = now_ms() / 1_000 * 1_000 - 600_000;
    let at = |seconds: i64| base + seconds * 1_000;
    let mut venue_book = VenueBook::new(
        &[("97000.5", "1000"), ("97000", "2500"), ("96999.5", "300")],
        &[("97001", "1200"), ("97001.5", "40"), ("97002", "7000")],
    );
    let mut first = acks().to_vec();
    first.push(Step::Send(snapshot(&venue_book, 10, at(0))));
    first.push(Step::Send(change(&mut venue_book, 11, 10, at(1), &[("97000.5", "1500")], &[("97001", "0"), ("97000.8", "90")])));
    let after_11 = venue_book.clone();
    // Change 12 never reaches the daemon: 13 is a gap.
    let _missed = change(&mut venue_book, 12, 11, at(2), &[], &[("97003", "10")]);
    first.push(Step::Send(change(&mut venue_book, 13, 12, at(2), &[("96999", "20")], &[])));
    // Sent before the venue read the unsubscribe: dropped, the book waits for its snapshot.
    first.push(Step::Send(change(&mut venue_book, 14, 13, at(2) + 100, &[("97000", "2400")], &[])));
    first.extend(resubscribed());
    first.push(Step::Send(snapshot(&venue_book, 20, at(3))));
    first.push(Step::Send(change(&mut venue_book, 21, 20, at(4), &[("97000", "0")], &[("97001.5", "45")])));
    first.push(Step::Sleep(Duration::from_millis(200)));
    first.push(Step::Drop);
    // The book moved while the connection was down.
    venue_book.change(&[("97000.25", "5")], &[("97002", "0")]);
    let mut second = acks().to_vec();
    second.push(Step::Send(snapshot(&venue_book, 40, at(9))));
    second.push(Step::Send(change(&mut venue_book, 41, 40, at(10), &[("97000.5", "0")], &[("97000.8", "95")])));
    second.push(Step::Send(change(&mut venue_book, 42, 41, at(11), &[("96998", "60")], &[("97004", "1")])));
    second.push(Step::Silence);

    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut deribit = source(SourceKind::Deribit, venue.url(), &[INSTRUMENT], &[Channel::Book]);
    deribit.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    config.sources = vec![deribit];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM book_deltas WHERE sequence = 42", 2).await, 2);
    daemon.stop().await.expect("clean stop");

    let expected = venue_book.expected(1_000);
    assert_eq!(stored_book(&live, "deribit", INSTRUMENT, 1_000).await, expected, "the stored book is the venue's next snapshot");
    assert_eq!(expected.len(), 8, "4 bids, 4 asks");

    let events = book_events(&live, "deribit").await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["gap", "resync", "gap", "resync"], "{events:?}");
    assert_eq!(
        (events[0].1["last"].as_i64(), events[0].1["previous"].as_i64(), events[0].1["sequence"].as_i64()),
        (Some(11), Some(12), Some(13))
    );
    assert_eq!((events[0].1["venue"].as_str(), events[0].1["symbol"].as_str()), (Some("deribit"), Some(INSTRUMENT)));
    assert_eq!(events[1].1["sequence"], 20);
    assert_eq!(events[2].1["reason"], "reconnect");
    assert_eq!(events[3].1["sequence"], 40);

    // One resynchronisation: the channel unsubscribed, then subscribed again.
    let received = venue.received.lock().unwrap().clone();
    let requests: Vec<(String, serde_json::Value)> = received
        .iter()
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .filter(|request| request["method"] != "public/set_heartbeat")
        .map(|request| (request["method"].as_str().unwrap_or_default().to_string(), request["params"]["channels"].clone()))
        .collect();
    assert_eq!(
        requests,
        [
            ("public/subscribe".to_string(), json!([CHANNEL])),
            ("public/unsubscribe".to_string(), json!([CHANNEL])),
            ("public/subscribe".to_string(), json!([CHANNEL])),
            ("public/subscribe".to_string(), json!([CHANNEL])),
        ],
        "{received:?}"
    );

    // Nothing stored across the break: no row of 13 nor of 14.
    let broken: i64 = live.query_one("SELECT count(*) FROM book_deltas WHERE sequence IN (12, 13, 14)", &[]).await.unwrap().get(0);
    assert_eq!(broken, 0);
    let deletes: i64 = live.query_one("SELECT count(*) FROM book_deltas WHERE NOT snapshot AND size = 0", &[]).await.unwrap().get(0);
    assert_eq!(deletes, 3, "each delete stored as size 0");
    assert_eq!(book_at_ms(&live, "deribit", INSTRUMENT, at(1), 10).await, after_11.expected(10));
    for (seconds, verified) in
        [(-1, false), (0, true), (1, true), (2, false), (3, true), (4, true), (5, false), (8, false), (9, true), (11, true)]
    {
        assert_eq!(verified_at_ms(&live, "deribit", INSTRUMENT, at(seconds)).await, verified, "verified {seconds} s in");
    }
    let pictures = snapshot_rows(&live, "deribit", INSTRUMENT).await;
    let sequences: Vec<(String, i64)> = pictures.iter().map(|(reason, sequence, _, _)| (reason.clone(), *sequence)).collect();
    assert_eq!(sequences, [("sync".to_string(), 10), ("sync".into(), 20), ("sync".into(), 40)]);
    let dead: i64 = live.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0);
    assert_eq!(dead, 0, "the responses to the resynchronisation are no dead letters");
}
