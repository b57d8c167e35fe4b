//! Bybit v5 spot `orderbook.50` (the `book` channel) beside `orderbook.1` (`quotes`) on
//! one connection to the fake venue over real websockets: a snapshot and deltas with
//! consecutive update ids `u`, a lost delta (a `gap`) answered by unsubscribing and
//! subscribing the topic and the fresh snapshot (`resync`), a snapshot the venue pushes
//! unasked (it replaces the book, no event), then a dropped connection (a `gap` with
//! reason `reconnect`) and the new connection's snapshot. The stored book equals the
//! venue's level for level, `book_verified` is false exactly where the stored book could
//! not be trusted, and the level-1 topic still yields quotes.

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::book_feed::{book_at_ms, book_events, snapshot_rows, stored_book, verified_at_ms, VenueBook};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const VENUE_SYMBOL: &str = "BTCUSDT";
const SYMBOL: &str = "BTC-USDT";
const TOPIC: &str = "orderbook.50.BTCUSDT";

fn ack(op: &str) -> String {
    format!(r#"{{"success":true,"ret_msg":"{op}","conn_id":"fake","req_id":{{id}},"op":"{op}"}}"#)
}

fn levels(levels: &[(impl AsRef<str>, impl AsRef<str>)]) -> serde_json::Value {
    levels.iter().map(|(price, size)| serde_json::json!([price.as_ref(), size.as_ref()])).collect()
}

fn push(kind: &str, u: u64, bids: serde_json::Value, asks: serde_json::Value, ms: i64) -> String {
    serde_json::json!({ "topic": TOPIC, "type": kind, "ts": ms + 2,
                        "data": { "s": VENUE_SYMBOL, "b": bids, "a": asks, "u": u, "seq": 70_000 + u }, "cts": ms })
    .to_string()
}

/// The venue's whole book as a snapshot.
fn snapshot(book: &VenueBook, u: u64, ms: i64) -> String {
    push("snapshot", u, levels(&book.bids()), levels(&book.asks()), ms)
}

/// Applies a change to the venue's book and writes its delta.
fn delta(book: &mut VenueBook, u: u64, ms: i64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
    book.change(bids, asks);
    push("delta", u, levels(bids), levels(asks), ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_book_gap_resync_unasked_snapshot_reconnect_and_quotes() {
    let base = now_ms() / 1_000 * 1_000 - 600_000;
    let at = |seconds: i64| base + seconds * 1_000;
    let mut venue_book =
        VenueBook::new(&[("97000.10", "1.5"), ("97000.00", "2"), ("96999.50", "0.25")], &[("97000.50", "0.8"), ("97001.00", "3")]);
    let level_one = format!(
        r#"{{"topic":"orderbook.1.{VENUE_SYMBOL}","type":"snapshot","ts":{ts},"data":{{"s":"{VENUE_SYMBOL}","b":[["97000.10","1.5"]],"a":[["97000.50","0.8"]],"u":5,"seq":70005}},"cts":{cts}}}"#,
        ts = at(0) + 1,
        cts = at(0)
    );
    let mut first =
        vec![Step::Expect(r#""op":"subscribe""#, ack("subscribe")), Step::Send(level_one), Step::Send(snapshot(&venue_book, 100, at(0)))];
    first.push(Step::Send(delta(&mut venue_book, 101, at(1), &[("97000.10", "0"), ("97000.05", "0.6")], &[])));
    let after_101 = venue_book.clone();
    // 102 never reaches the daemon: 103 is a gap.
    let _lost = delta(&mut venue_book, 102, at(2), &[], &[("97000.50", "1.1")]);
    first.push(Step::Send(delta(&mut venue_book, 103, at(2), &[("96999.00", "4")], &[])));
    first.push(Step::Expect(r#""op":"unsubscribe""#, ack("unsubscribe")));
    first.push(Step::Expect(r#""op":"subscribe""#, ack("subscribe")));
    first.push(Step::Send(snapshot(&venue_book, 200, at(3))));
    first.push(Step::Send(delta(&mut venue_book, 201, at(4), &[], &[("97001.00", "0"), ("97002.00", "5")])));
    // Bybit re-sends a snapshot when it had a problem of its own: it replaces the book.
    venue_book.change(&[("97000.00", "2.2")], &[]);
    first.push(Step::Send(snapshot(&venue_book, 202, at(5))));
    first.push(Step::Send(delta(&mut venue_book, 203, at(6), &[("96999.50", "0.75")], &[])));
    first.push(Step::Sleep(std::time::Duration::from_millis(200)));
    first.push(Step::Drop);
    // The book moved while the connection was down.
    venue_book.change(&[("96999.00", "0")], &[("97000.40", "0.1")]);
    let mut second = vec![Step::Expect(r#""op":"subscribe""#, ack("subscribe")), Step::Send(snapshot(&venue_book, 300, at(8)))];
    second.push(Step::Send(delta(&mut venue_book, 301, at(9), &[("97000.05", "0.9")], &[])));
    second.push(Step::Send(delta(&mut venue_book, 302, at(10), &[], &[("97000.50", "0")])));
    second.push(Step::Silence);

    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut bybit = source(SourceKind::Bybit, venue.url(), &[VENUE_SYMBOL], &[Channel::Quotes, Channel::Book]);
    bybit.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    config.sources = vec![bybit];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM book_deltas WHERE sequence = 302", 1).await, 1);
    daemon.stop().await.expect("clean stop");

    let expected = venue_book.expected(50);
    assert_eq!(stored_book(&live, "bybit", SYMBOL, 50).await, expected, "the stored book is the venue's next snapshot");
    assert_eq!(expected.len(), 5, "3 bids, 2 asks");
    assert_eq!(book_at_ms(&live, "bybit", SYMBOL, at(1), 50).await, after_101.expected(50));

    let events = book_events(&live, "bybit").await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["gap", "resync", "gap", "resync"], "{events:?}");
    assert_eq!((events[0].1["last"].as_i64(), events[0].1["sequence"].as_i64()), (Some(101), Some(103)));
    assert_eq!(events[1].1["sequence"], 200);
    assert_eq!((events[2].1["reason"].as_str(), events[3].1["sequence"].as_i64()), (Some("reconnect"), Some(300)));

    let received = venue.received.lock().unwrap().clone();
    assert_eq!(
        received.iter().filter(|text| text.contains("unsubscribe")).collect::<Vec<_>>(),
        [r#"{"args":["orderbook.50.BTCUSDT"],"op":"unsubscribe","req_id":"book"}"#],
        "one request for the one break"
    );
    assert!(
        received[0].contains(r#""args":["orderbook.1.BTCUSDT","orderbook.50.BTCUSDT"]"#),
        "quotes and book on one connection: {received:?}"
    );
    let broken: i64 = live.query_one("SELECT count(*) FROM book_deltas WHERE sequence IN (102, 103)", &[]).await.unwrap().get(0);
    assert_eq!(broken, 0);

    for (seconds, verified) in
        [(-1, false), (0, true), (1, true), (2, false), (3, true), (5, true), (6, true), (7, false), (8, true), (10, true)]
    {
        assert_eq!(verified_at_ms(&live, "bybit", SYMBOL, at(seconds)).await, verified, "verified {seconds} s in");
    }
    let pictures = snapshot_rows(&live, "bybit", SYMBOL).await;
    let sequences: Vec<(String, i64)> = pictures.iter().map(|(reason, sequence, _, _)| (reason.clone(), *sequence)).collect();
    assert_eq!(sequences, [("sync".to_string(), 100), ("sync".into(), 200), ("sync".into(), 202), ("sync".into(), 300)]);

    // The level-1 topic still feeds quotes.
    let quote = live
        .query_one("SELECT bid_price, bid_size, ask_price, ask_size FROM quotes WHERE venue = 'bybit' AND symbol = $1", &[&SYMBOL])
        .await
        .unwrap();
    assert_eq!(
        (quote.get::<_, f64>(0), quote.get::<_, f64>(1), quote.get::<_, f64>(2), quote.get::<_, f64>(3)),
        (97000.10, 1.5, 97000.50, 0.8)
    );
    let dead: i64 = live.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0);
    assert_eq!(dead, 0);
}
