//! OKX `books` against the fake venue over real websockets, recorded and replayed: a
//! snapshot and updates with their CRC32 checksums, a missed update (a `gap`), an update
//! whose checksum does not match (`checksum_mismatch`), each answered by unsubscribing
//! and subscribing the book again and the fresh snapshot (`resync`), then a dropped
//! connection (a `gap` with reason `reconnect`) and the new connection's snapshot. The
//! stored book at the end equals the venue's book level for level, `book_verified` is
//! false exactly where the stored book could not be trusted, and `hypertick replay` of the
//! capture rebuilds the same book at every instant.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};
use serde_json::json;

use crate::book_feed::{book_at_ms, book_events, snapshot_rows, stored_book, verified_at_ms, VenueBook};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, replay_captures, source};
use crate::support::{self, wait_for_count};

const INST: &str = "BTC-USDT";

fn ack(with_id: bool) -> String {
    let id = if with_id { r#""id":{id},"# } else { "" };
    format!(r#"{{{id}"event":"subscribe","arg":{{"channel":"books","instId":"{INST}"}},"connId":"fake"}}"#)
}

/// OKX's checksum of a book: CRC32 of the top 25 levels, bid and ask interleaved, as a
/// signed 32-bit number.
fn checksum(book: &VenueBook) -> i32 {
    let (bids, asks) = (book.bids(), book.asks());
    let mut parts = Vec::new();
    for index in 0..25 {
        for side in [&bids, &asks] {
            if let Some((price, size)) = side.get(index) {
                parts.push(format!("{price}:{size}"));
            }
        }
    }
    crc32fast::hash(parts.join(":").as_bytes()) as i32
}

fn levels(levels: &[(impl AsRef<str>, impl AsRef<str>)]) -> serde_json::Value {
    levels.iter().map(|(price, size)| json!([price.as_ref(), size.as_ref(), "0", "1"])).collect()
}

/// The venue's whole book as a snapshot push.
fn snapshot(book: &VenueBook, seq: i64, ts: i64) -> String {
    json!({ "arg": { "channel": "books", "instId": INST }, "action": "snapshot",
            "data": [{ "bids": levels(&book.bids()), "asks": levels(&book.asks()), "ts": ts.to_string(),
                       "checksum": checksum(book), "prevSeqId": -1, "seqId": seq }] })
    .to_string()
}

/// Applies a change to the venue's book and writes its update push; `checksum_offset`
/// spoils the checksum.
fn update(
    book: &mut VenueBook,
    seq: i64,
    prev: i64,
    ts: i64,
    bids: &[(&str, &str)],
    asks: &[(&str, &str)],
    checksum_offset: i32,
) -> String {
    book.change(bids, asks);
    json!({ "arg": { "channel": "books", "instId": INST }, "action": "update",
            "data": [{ "bids": levels(bids), "asks": levels(asks), "ts": ts.to_string(),
                       "checksum": checksum(book).wrapping_add(checksum_offset), "prevSeqId": prev, "seqId": seq }] })
    .to_string()
}

fn resubscribed() -> [Step; 2] {
    [
        Step::Expect("unsubscribe", format!(r#"{{"event":"unsubscribe","arg":{{"channel":"books","instId":"{INST}"}},"connId":"fake"}}"#)),
        Step::Expect(r#""op":"subscribe""#, ack(false)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_books_break_resync_reconnect_and_replay() {
    let base = now_ms() / 1_000 * 1_000 - 600_000;
    let at = |seconds: i64| base + seconds * 1_000;
    let mut venue_book =
        VenueBook::new(&[("100.5", "1"), ("100.4", "2"), ("100.3", "3")], &[("100.6", "1"), ("100.7", "2"), ("100.8", "3")]);
    let mut first = vec![Step::Expect(r#""op":"subscribe""#, ack(true)), Step::Send(snapshot(&venue_book, 10, at(0)))];
    first.push(Step::Send(update(&mut venue_book, 11, 10, at(1), &[("100.5", "1.5")], &[("100.6", "0")], 0)));
    let after_11 = venue_book.clone();
    // Update 12 never reaches the daemon: 13 is a gap.
    let _missed = update(&mut venue_book, 12, 11, at(2), &[], &[("100.9", "4")], 0);
    first.push(Step::Send(update(&mut venue_book, 13, 12, at(2), &[("100.2", "1")], &[], 0)));
    first.extend(resubscribed());
    first.push(Step::Send(snapshot(&venue_book, 20, at(3))));
    first.push(Step::Send(update(&mut venue_book, 21, 20, at(4), &[("100.4", "0")], &[], 0)));
    // Past the pacing of resynchronisation requests (0.5 s after the first).
    first.push(Step::Sleep(Duration::from_millis(700)));
    first.push(Step::Send(update(&mut venue_book, 22, 21, at(5), &[], &[("100.7", "2.5")], 1)));
    first.extend(resubscribed());
    first.push(Step::Send(snapshot(&venue_book, 30, at(6))));
    first.push(Step::Send(update(&mut venue_book, 31, 30, at(7), &[("100.45", "0.7")], &[], 0)));
    first.push(Step::Sleep(Duration::from_millis(200)));
    first.push(Step::Drop);
    // The book moved while the connection was down.
    venue_book.change(&[], &[("100.6", "0.3")]);
    let mut second = vec![Step::Expect(r#""op":"subscribe""#, ack(true)), Step::Send(snapshot(&venue_book, 40, at(9)))];
    second.push(Step::Send(update(&mut venue_book, 41, 40, at(10), &[("100.5", "2")], &[], 0)));
    second.push(Step::Send(update(&mut venue_book, 42, 41, at(11), &[], &[("100.8", "0")], 0)));
    second.push(Step::Silence);

    let venue = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let captures = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&cluster);
    let mut recording = source(SourceKind::Okx, venue.url(), &[INST], &[Channel::Book]);
    recording.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    recording.record = Some(captures.path().to_path_buf());
    config.sources = vec![recording];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&live, "SELECT count(*) FROM book_deltas WHERE sequence = 42", 1).await, 1);
    daemon.stop().await.expect("clean stop");

    let expected = venue_book.expected(400);
    assert_eq!(stored_book(&live, "okx", INST, 400).await, expected, "the stored book is the venue's next snapshot");
    assert_eq!(expected.len(), 7, "4 bids, 3 asks");

    let events = book_events(&live, "okx").await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["gap", "resync", "checksum_mismatch", "resync", "gap", "resync"], "{events:?}");
    assert_eq!(
        (events[0].1["last"].as_i64(), events[0].1["previous"].as_i64(), events[0].1["sequence"].as_i64()),
        (Some(11), Some(12), Some(13))
    );
    assert_eq!(events[1].1["sequence"], 20);
    assert_eq!(events[2].1["sequence"], 22);
    assert_eq!(events[4].1["reason"], "reconnect");
    assert_eq!(events[5].1["sequence"], 40);

    let received = venue.received.lock().unwrap().clone();
    let resync_requests = received.iter().filter(|text| text.contains("unsubscribe")).count();
    assert_eq!(resync_requests, 2, "one request per break: {received:?}");
    assert!(received.contains(&r#"{"args":[{"channel":"books","instId":"BTC-USDT"}],"op":"unsubscribe"}"#.to_string()), "{received:?}");

    // Nothing stored across a break: no row of 13 or 22, nor of what came before each resync.
    let broken: i64 = live.query_one("SELECT count(*) FROM book_deltas WHERE sequence IN (12, 13, 22)", &[]).await.unwrap().get(0);
    assert_eq!(broken, 0);
    // The book at an instant, and whether it was verified then.
    assert_eq!(book_at_ms(&live, "okx", INST, at(1), 10).await, after_11.expected(10));
    for (seconds, verified) in [
        (-1, false),
        (0, true),
        (1, true),
        (2, false),
        (3, true),
        (4, true),
        (5, false),
        (6, true),
        (7, true),
        (8, false),
        (9, true),
        (11, true),
    ] {
        assert_eq!(verified_at_ms(&live, "okx", INST, at(seconds)).await, verified, "verified {seconds} s in");
    }
    let pictures = snapshot_rows(&live, "okx", INST).await;
    let sequences: Vec<(String, i64)> = pictures.iter().map(|(reason, sequence, _, _)| (reason.clone(), *sequence)).collect();
    assert_eq!(sequences, [("sync".to_string(), 10), ("sync".into(), 20), ("sync".into(), 30), ("sync".into(), 40)]);
    let dead: i64 = live.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0);
    assert_eq!(dead, 0);

    // Replay the capture into a fresh database: the same book at every instant.
    let replayed = replay_captures(&cluster, &live, captures.path(), "okx", &[INST], &["book"]).await;
    assert_eq!(stored_book(&replayed, "okx", INST, 400).await, expected);
    for half_seconds in -2..24 {
        let instant = base + half_seconds * 500;
        assert_eq!(
            book_at_ms(&replayed, "okx", INST, instant, 400).await,
            book_at_ms(&live, "okx", INST, instant, 400).await,
            "the replayed book {half_seconds} half-seconds in"
        );
        assert_eq!(verified_at_ms(&replayed, "okx", INST, instant).await, verified_at_ms(&live, "okx", INST, instant).await);
    }
}
