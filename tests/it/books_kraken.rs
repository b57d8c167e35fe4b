//! Kraken v2 `book` against the fake venue over real websockets. The fake venue keeps a
//! deeper book than the subscribed depth of 10 and sends what Kraken sends: the top 10
//! levels in a snapshot, then the changes within them — a level an insertion pushes out
//! goes without a message, a level coming into scope arrives as an insertion — each
//! message with the CRC32 of the top 10 asks and bids written as the venue writes its
//! numbers (JSON numbers with trailing zeros). An update whose checksum does not match
//! (`checksum_mismatch`) is answered by unsubscribing and subscribing the book again
//! and the fresh snapshot (`resync`); a dropped connection is a `gap` with reason
//! `reconnect` before the new connection's snapshot. The stored book equals the venue's
//! top 10 level for level at the end and after the levels pushed out came back into
//! scope, and `book_verified` is false exactly where it could not be trusted.

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};

use crate::book_feed::{book_at_ms, book_events, snapshot_rows, stored_book, verified_at_ms, VenueBook};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, source};
use crate::support::{self, wait_for_count};

const PAIR: &str = "BTC/USD";
/// The symbol as stored.
const SYMBOL: &str = "BTC-USD";
const DEPTH: usize = 10;

type Levels = Vec<(String, String)>;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Kraken's checksum: the top 10 asks then the top 10 bids, each price and quantity
/// without its decimal point and leading zeros, CRC32.
fn checksum(book: &VenueBook) -> u32 {
    let digits = |text: &str| text.replace('.', "").trim_start_matches('0').to_string();
    let mut text = String::new();
    for (price, size) in book.asks().iter().take(10).chain(book.bids().iter().take(10)) {
        text.push_str(&digits(price));
        text.push_str(&digits(size));
    }
    crc32fast::hash(text.as_bytes())
}

/// Levels as Kraken writes them: JSON numbers, as written.
fn levels(levels: &[(String, String)]) -> String {
    let items: Vec<String> = levels.iter().map(|(price, qty)| format!(r#"{{"price":{price},"qty":{qty}}}"#)).collect();
    format!("[{}]", items.join(","))
}

fn top(levels: Levels) -> Levels {
    levels.into_iter().take(DEPTH).collect()
}

/// The venue's top 10 as a snapshot message.
fn snapshot(book: &VenueBook, ms: i64) -> String {
    format!(
        r#"{{"channel":"book","type":"snapshot","data":[{{"symbol":"{PAIR}","bids":{},"asks":{},"checksum":{},"timestamp":"{}"}}]}}"#,
        levels(&top(book.bids())),
        levels(&top(book.asks())),
        checksum(book),
        rfc3339(ms)
    )
}

/// What Kraken sends of one side's change within the top 10: levels gone from the book
/// with quantity 0, new or changed ones, and the ones coming into scope; nothing for a
/// level pushed out of scope.
fn within_scope(before: Levels, after: Levels, full_after: &Levels) -> Levels {
    let mut sent = Levels::new();
    for (price, _) in &before {
        let in_scope = after.iter().any(|(p, _)| p == price);
        let in_book = full_after.iter().any(|(p, _)| p == price);
        if !in_scope && !in_book {
            sent.push((price.clone(), "0.00000000".into()));
        }
    }
    for level in &after {
        if !before.contains(level) {
            sent.push(level.clone());
        }
    }
    sent
}

/// Applies a change to the venue's book and writes the update Kraken sends for it;
/// `spoil` changes the checksum.
fn update(book: &mut VenueBook, ms: i64, bids: &[(&str, &str)], asks: &[(&str, &str)], spoil: bool) -> String {
    let (bids_before, asks_before) = (top(book.bids()), top(book.asks()));
    book.change(bids, asks);
    let sent_bids = within_scope(bids_before, top(book.bids()), &book.bids());
    let sent_asks = within_scope(asks_before, top(book.asks()), &book.asks());
    format!(
        r#"{{"channel":"book","type":"update","data":[{{"symbol":"{PAIR}","bids":{},"asks":{},"checksum":{},"timestamp":"{}"}}]}}"#,
        levels(&sent_bids),
        levels(&sent_asks),
        checksum(book) ^ u32::from(spoil),
        rfc3339(ms)
    )
}

fn subscribed(id: &str) -> String {
    format!(
        r#"{{"method":"subscribe","result":{{"channel":"book","depth":10,"snapshot":true,"symbol":"{PAIR}"}},"success":true,"time_in":"2026-11-22T12:00:00.000001Z","time_out":"2026-11-22T12:00:00.000002Z"{id}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_book_checksums_truncation_resync_and_reconnect() {
    let base = now_ms() / 1_000 * 1_000 - 600_000;
    let at = |seconds: i64| base + seconds * 1_000;
    // Eleven levels a side: the eleventh is beyond the subscribed depth.
    let bid_prices: Vec<String> = (0..11).map(|index| format!("{:.2}", 100.0 - f64::from(index) * 0.1)).collect();
    let ask_prices: Vec<String> = (0..11).map(|index| format!("{:.2}", 100.1 + f64::from(index) * 0.1)).collect();
    let bids: Vec<(&str, &str)> = bid_prices.iter().map(|price| (price.as_str(), "1.00000000")).collect();
    let asks: Vec<(&str, &str)> = ask_prices.iter().map(|price| (price.as_str(), "0.50000000")).collect();
    let mut venue_book = VenueBook::new(&bids, &asks);

    let mut first = vec![Step::Expect(r#""channel":"book""#, subscribed(r#","req_id":{id}"#)), Step::Send(snapshot(&venue_book, at(0)))];
    // 99.95 is inserted: 99.10 leaves the top 10 without a message.
    first.push(Step::Send(update(&mut venue_book, at(1), &[("99.95", "0.25000000")], &[], false)));
    // 99.10 is cancelled out of scope (nothing sent); an ask changes.
    first.push(Step::Send(update(&mut venue_book, at(2), &[("99.10", "0")], &[("100.10", "2.50000000")], false)));
    // The best bid goes: 99.00 comes into scope. A store that kept 99.10 would show it here.
    first.push(Step::Send(update(&mut venue_book, at(3), &[("100.00", "0")], &[], false)));
    let after_3 = venue_book.clone();
    first.push(Step::Send(update(&mut venue_book, at(4), &[("99.50", "3.00000000")], &[], true)));
    first.push(Step::Expect(
        r#""method":"unsubscribe""#,
        format!(
            r#"{{"method":"unsubscribe","result":{{"channel":"book","depth":10,"symbol":"{PAIR}"}},"success":true,"time_in":"2026-11-22T12:00:00.000001Z","time_out":"2026-11-22T12:00:00.000002Z"}}"#
        ),
    ));
    first.push(Step::Expect(r#""method":"subscribe""#, subscribed("")));
    first.push(Step::Send(snapshot(&venue_book, at(5))));
    first.push(Step::Send(update(&mut venue_book, at(6), &[], &[("100.15", "0.70000000")], false)));
    first.push(Step::Sleep(std::time::Duration::from_millis(200)));
    first.push(Step::Drop);
    // The book moved while the connection was down.
    venue_book.change(&[("99.95", "0")], &[]);
    let mut second = vec![Step::Expect(r#""channel":"book""#, subscribed(r#","req_id":{id}"#)), Step::Send(snapshot(&venue_book, at(8)))];
    second.push(Step::Send(update(&mut venue_book, at(9), &[("99.90", "4.00000000")], &[], false)));
    // The best ask goes: the next one comes into scope (two levels sent).
    second.push(Step::Send(update(&mut venue_book, at(10), &[], &[("100.10", "0")], false)));
    second.push(Step::Silence);

    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let mut config = support::config_for(&cluster);
    let mut kraken = source(SourceKind::Kraken, venue.url(), &[PAIR], &[Channel::Book]);
    kraken.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    config.sources = vec![kraken];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    let last = format!("SELECT count(*) FROM book_deltas WHERE time = to_timestamp({}::float8 / 1000)", at(10));
    assert_eq!(wait_for_count(&live, &last, 2).await, 2);
    daemon.stop().await.expect("clean stop");

    let expected = top_expected(&venue_book);
    assert_eq!(stored_book(&live, "kraken", SYMBOL, 1000).await, expected, "the stored book is the venue's top 10");
    assert_eq!(expected.len(), 19, "9 bids, 10 asks");
    assert_eq!(book_at_ms(&live, "kraken", SYMBOL, at(3), 1000).await, top_expected(&after_3), "no level kept past its scope");

    let events = book_events(&live, "kraken").await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["checksum_mismatch", "resync", "gap", "resync"], "{events:?}");
    assert_eq!(events[0].1["computed"].as_u64().map(|computed| computed ^ 1), events[0].1["expected"].as_u64());
    assert_eq!((events[0].1["sequence"].as_i64(), events[1].1["sequence"].as_i64()), (Some(5), Some(6)));
    assert_eq!((events[2].1["reason"].as_str(), events[3].1["sequence"].as_i64()), (Some("reconnect"), Some(8)));

    let received = venue.received.lock().unwrap().clone();
    let unsubscribes: Vec<&String> = received.iter().filter(|text| text.contains("unsubscribe")).collect();
    assert_eq!(
        unsubscribes,
        [r#"{"method":"unsubscribe","params":{"channel":"book","depth":10,"symbol":["BTC/USD"]}}"#],
        "one request for the one break"
    );
    let broken: i64 = live.query_one("SELECT count(*) FROM book_deltas WHERE sequence = 5", &[]).await.unwrap().get(0);
    assert_eq!(broken, 0, "nothing of the message that broke the book is stored");

    for (seconds, verified) in
        [(-1, false), (0, true), (3, true), (4, false), (5, true), (6, true), (7, false), (8, true), (9, true), (10, true)]
    {
        assert_eq!(verified_at_ms(&live, "kraken", SYMBOL, at(seconds)).await, verified, "verified {seconds} s in");
    }
    let pictures = snapshot_rows(&live, "kraken", SYMBOL).await;
    let sequences: Vec<(String, i64)> = pictures.iter().map(|(reason, sequence, _, _)| (reason.clone(), *sequence)).collect();
    assert_eq!(sequences, [("sync".to_string(), 1), ("sync".into(), 6), ("sync".into(), 8)]);
    let dead: i64 = live.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0);
    assert_eq!(dead, 0);
}

/// The venue's top 10 a side as `book_at` returns it.
fn top_expected(book: &VenueBook) -> Vec<crate::book_feed::BookLevel> {
    book.expected(DEPTH)
}
