//! Binance spot and USDⓈ-M books against the fake venue: the diff depth stream over a
//! real websocket and the REST depth snapshot from the fake venue's HTTP side. Events
//! buffered before the snapshot, events the snapshot covers (dropped), a missed event (a
//! `gap`) answered by a second REST fetch that the venue refuses with `429` and
//! `Retry-After` (a `rate_limited` event, a wait, the fetch again) and the `resync`, then
//! a dropped connection (a `gap` with reason `reconnect`) and the new connection's
//! snapshot. The stored book at the end equals the venue's level for level; spot by the
//! `U`/`u` rule, futures by `pu`. The spot capture replayed through `hypertick replay`
//! rebuilds the same book at every instant, its snapshots read from the capture.

use std::time::Duration;

use hypertick::app::Daemon;
use hypertick::config::{Channel, SourceKind};
use serde_json::json;

use crate::book_feed::{book_at_ms, book_events, stored_book, verified_at_ms, VenueBook};
use crate::fake_rest::{FakeRest, Reply};
use crate::fake_venue::{FakeVenue, Step};
use crate::feeds::{now_ms, replay_captures, source};
use crate::support::{self, wait_for_count};

const SYMBOL: &str = "BTCUSDT";

/// The venue's side of the test: its book, its update ids, its clock.
struct Venue {
    futures: bool,
    book: VenueBook,
    /// `u` of the last event the venue produced (sent or not).
    last_u: i64,
    /// Event time (ms) of that event.
    last_ms: i64,
    base_ms: i64,
}

impl Venue {
    fn at(&self, seconds: i64) -> i64 {
        self.base_ms + seconds * 1_000
    }

    /// The next diff event, covering `ids` update ids, sent `seconds` in.
    fn event(&mut self, ids: i64, seconds: i64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> String {
        self.book.change(bids, asks);
        let (first, last, previous) = (self.last_u + 1, self.last_u + ids, self.last_u);
        self.last_u = last;
        self.last_ms = self.at(seconds);
        let mut event = json!({ "e": "depthUpdate", "E": self.last_ms, "s": SYMBOL, "U": first, "u": last,
                                "b": levels(bids), "a": levels(asks) });
        if self.futures {
            event["T"] = json!(self.last_ms - 1);
            event["pu"] = json!(previous);
        }
        event.to_string()
    }

    /// The REST snapshot of the book as it stands (its `lastUpdateId` the last event's `u`).
    fn snapshot(&self) -> String {
        let mut snapshot = json!({ "lastUpdateId": self.last_u, "bids": levels(&self.book.bids()), "asks": levels(&self.book.asks()) });
        if self.futures {
            snapshot["E"] = json!(self.last_ms);
            snapshot["T"] = json!(self.last_ms - 1);
        }
        snapshot.to_string()
    }
}

fn levels(levels: &[(impl AsRef<str>, impl AsRef<str>)]) -> serde_json::Value {
    levels.iter().map(|(price, size)| json!([price.as_ref(), size.as_ref()])).collect()
}

fn subscribed() -> Step {
    Step::Expect("SUBSCRIBE", r#"{"result":null,"id":{id}}"#.into())
}

/// The scenario of the module doc, on spot or futures; spot is replayed too.
async fn scenario(futures: bool) {
    let base_ms = now_ms() / 1_000 * 1_000 - 600_000;
    let mut venue = Venue {
        futures,
        book: VenueBook::new(&[("100.5", "1"), ("100.4", "2"), ("100.3", "3")], &[("100.6", "1"), ("100.7", "2")]),
        last_u: 100,
        last_ms: base_ms,
        base_ms,
    };
    let mut replies = Vec::new();
    let mut first = vec![subscribed()];
    // 101-103: asks for the snapshot; the snapshot covers it (dropped).
    first.push(Step::Send(venue.event(3, 1, &[("100.5", "1.5")], &[])));
    replies.push(Reply::ok(venue.snapshot()));
    // Buffered or applied, whichever comes first: both meet the snapshot.
    first.push(Step::Send(venue.event(3, 2, &[("100.2", "4")], &[("100.6", "0")])));
    first.push(Step::Send(venue.event(1, 3, &[], &[("100.8", "1")])));
    let after_three = venue.book.clone();
    // 108-109 never reaches the daemon: 110-111 is a gap.
    let _missed = venue.event(2, 4, &[("100.4", "0")], &[]);
    first.push(Step::Sleep(Duration::from_millis(300)));
    first.push(Step::Send(venue.event(2, 5, &[("100.1", "1")], &[])));
    // The second fetch is refused for a second; the third gets the snapshot at 113.
    replies.push(Reply::too_many_requests(1));
    first.push(Step::Send(venue.event(2, 6, &[], &[("100.7", "2.5")])));
    replies.push(Reply::ok(venue.snapshot()));
    first.push(Step::Send(venue.event(2, 7, &[("100.3", "0")], &[])));
    // Past the refusal and the fetch after it.
    first.push(Step::Sleep(Duration::from_millis(2_500)));
    first.push(Step::Send(venue.event(1, 8, &[("100.45", "0.7")], &[])));
    first.push(Step::Sleep(Duration::from_millis(200)));
    first.push(Step::Drop);
    // The book moved while the connection was down.
    let _unseen = venue.event(50, 9, &[], &[("100.6", "0.3")]);
    let mut second = vec![subscribed()];
    second.push(Step::Send(venue.event(5, 10, &[("100.5", "2")], &[])));
    replies.push(Reply::ok(venue.snapshot()));
    second.push(Step::Send(venue.event(3, 11, &[], &[("100.8", "0")])));
    let final_u = venue.last_u;
    second.push(Step::Silence);

    let rest = FakeRest::start(replies).await;
    let ws = FakeVenue::start(vec![first, second]).await;
    let cluster = support::start_cluster();
    let captures = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&cluster);
    let kind = if futures { SourceKind::BinanceFutures } else { SourceKind::Binance };
    let mut binance = source(kind, ws.url(), &[SYMBOL], &[Channel::Book]);
    binance.silence_timeout_ms = std::num::NonZeroU64::new(60_000).unwrap();
    binance.rest_url = Some(rest.url());
    binance.record = Some(captures.path().to_path_buf());
    config.sources = vec![binance];
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let live = support::sql(&cluster).await;
    let last_row = format!("SELECT count(*) FROM book_deltas WHERE sequence = {final_u} AND NOT snapshot");
    assert_eq!(wait_for_count(&live, &last_row, 1).await, 1);
    daemon.stop().await.expect("clean stop");

    let venue_name = if futures { "binance_futures" } else { "binance" };
    let symbol = "BTC-USDT";
    let expected = venue.book.expected(1_000);
    assert_eq!(stored_book(&live, venue_name, symbol, 1_000).await, expected, "the stored book is the venue's");
    assert_eq!(expected.len(), 6, "4 bids, 2 asks");
    assert_eq!(book_at_ms(&live, venue_name, symbol, venue.at(3), 10).await, after_three.expected(10));

    let path = if futures { "/fapi/v1/depth?symbol=BTCUSDT&limit=1000" } else { "/api/v3/depth?symbol=BTCUSDT&limit=1000" };
    let requests = rest.requests.lock().unwrap().clone();
    assert_eq!(requests, vec![path.to_string(); 4], "first snapshot, the refused one, its retry, the reconnect's");

    let events = book_events(&live, venue_name).await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["gap", "resync", "gap", "resync"], "{events:?}");
    assert_eq!((events[0].1["last"].as_i64(), events[0].1["sequence"].as_i64()), (Some(107), Some(111)));
    assert_eq!(events[1].1["sequence"], 113);
    assert_eq!(events[2].1["reason"], "reconnect");
    let rate_limited: Vec<serde_json::Value> = live
        .query("SELECT detail FROM feed_events WHERE source = $1 AND kind = 'rate_limited'", &[&venue_name])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(rate_limited.len(), 1, "{rate_limited:?}");
    assert_eq!((rate_limited[0]["status"].as_u64(), rate_limited[0]["retry_after_s"].as_u64()), (Some(429), Some(1)));

    // The event that broke the book is not stored; the one the first snapshot ends with
    // is dropped on spot (`u <= lastUpdateId`) and applied again on futures (`u < lastUpdateId` dropped).
    let delta_rows = |sequence: i64| {
        let live = &live;
        async move {
            let query = "SELECT count(*) FROM book_deltas WHERE NOT snapshot AND sequence = $1";
            live.query_one(query, &[&sequence]).await.unwrap().get::<_, i64>(0)
        }
    };
    assert_eq!(delta_rows(111).await, 0);
    assert_eq!(delta_rows(103).await, if futures { 1 } else { 0 });
    for (seconds, verified) in [(0, false), (1, true), (3, true), (5, false), (6, true), (7, true), (9, false), (10, true), (11, true)] {
        assert_eq!(verified_at_ms(&live, venue_name, symbol, venue.at(seconds)).await, verified, "verified {seconds} s in");
    }
    let dead: i64 = live.query_one("SELECT count(*) FROM dead_letters", &[]).await.unwrap().get(0);
    assert_eq!(dead, 0);
    if futures {
        return;
    }

    // Replay the capture into a fresh database: the snapshots come from the capture.
    let replayed = replay_captures(&cluster, &live, captures.path(), "binance", &[SYMBOL], &["book"]).await;
    assert_eq!(stored_book(&replayed, venue_name, symbol, 1_000).await, expected);
    for half_seconds in -2..26 {
        let instant = base_ms + half_seconds * 500;
        assert_eq!(
            book_at_ms(&replayed, venue_name, symbol, instant, 1_000).await,
            book_at_ms(&live, venue_name, symbol, instant, 1_000).await,
            "the replayed book {half_seconds} half-seconds in"
        );
        assert_eq!(verified_at_ms(&replayed, venue_name, symbol, instant).await, verified_at_ms(&live, venue_name, symbol, instant).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_spot_books_buffer_refetch_rate_limits_reconnect_and_replay() {
    scenario(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_futures_books_follow_pu() {
    scenario(true).await;
}
