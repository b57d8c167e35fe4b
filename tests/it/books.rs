//! Order books stored and read back: `book_delta` and `book_snapshot` rows pushed to a
//! running daemon land in `book_deltas` and `book_snapshots`, and on both profiles
//! `book_at` rebuilds the book at any instant from the latest snapshot plus the later
//! deltas while `book_verified` says whether that instant lies in a verified stretch
//! (a break recorded in `feed_events`, then a resync snapshot).

use hypertick::app::Daemon;
use hypertick::config::ProfileChoice;
use hypertick::db::throwaway::ThrowawayCluster;
use hypertick::record::Timestamp;

use crate::support::{self, array, push, refused_indexes, wait_for_count};

const SECOND: i64 = 1_000_000;

fn delta(time: Timestamp, side: &str, price: f64, size: f64, sequence: i64, snapshot: bool) -> String {
    format!(
        r#"{{"type":"book_delta","venue":"test","symbol":"BOOK","time":"{time}","side":"{side}","price":{price},"size":{size},"sequence":{sequence},"snapshot":{snapshot}}}"#
    )
}

type Level = (String, i32, f64, f64);

async fn book_at(client: &tokio_postgres::Client, at: Timestamp, depth: i32) -> Vec<Level> {
    client
        .query("SELECT side, level, price, size FROM book_at('test', 'BOOK', $1::text::timestamptz, $2)", &[&at.to_string(), &depth])
        .await
        .expect("book_at")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

async fn verified(client: &tokio_postgres::Client, symbol: &str, at: Timestamp) -> bool {
    client
        .query_one("SELECT book_verified('test', $1, $2::text::timestamptz)", &[&symbol, &at.to_string()])
        .await
        .expect("book_verified")
        .get(0)
}

fn levels(side: &str, levels: &[(f64, f64)]) -> Vec<Level> {
    levels.iter().enumerate().map(|(index, (price, size))| (side.to_string(), index as i32 + 1, *price, *size)).collect()
}

fn book(bids: &[(f64, f64)], asks: &[(f64, f64)]) -> Vec<Level> {
    let mut book = levels("bid", bids);
    book.extend(levels("ask", asks));
    book
}

async fn books_read_back(cluster: &ThrowawayCluster, profile: ProfileChoice) {
    let mut config = support::config_for(cluster);
    config.schema.profile = profile;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let base = Timestamp::now().0 / SECOND * SECOND + SECOND;
    let t = |seconds: i64| Timestamp(base + seconds * SECOND);

    let frame = array(&[
        // The first snapshot (sequence 10), then two updates.
        delta(t(0), "bid", 100.0, 1.0, 10, true),
        delta(t(0), "bid", 99.0, 2.0, 10, true),
        delta(t(0), "bid", 98.0, 3.0, 10, true),
        delta(t(0), "ask", 101.0, 1.0, 10, true),
        delta(t(0), "ask", 102.0, 2.0, 10, true),
        delta(t(0), "ask", 103.0, 3.0, 10, true),
        delta(t(1), "bid", 100.0, 5.0, 11, false),
        delta(t(1), "ask", 101.0, 0.0, 11, false),
        delta(t(2), "bid", 99.5, 4.0, 12, false),
        // After the break (recorded below at t(3)) nothing until the resync snapshot.
        delta(t(5), "bid", 97.0, 1.0, 20, true),
        delta(t(5), "ask", 104.0, 2.0, 20, true),
        delta(t(5), "ask", 105.0, 1.0, 20, true),
        delta(t(6), "ask", 104.0, 3.0, 21, false),
        delta(t(6), "bid", 96.0, 7.0, 21, false),
    ]);
    let ack = push(&mut socket, &frame).await;
    assert_eq!(ack["accepted"], 14, "{ack}");
    let snapshot = format!(
        r#"{{"type":"book_snapshot","venue":"test","symbol":"BOOK","time":"{}","sequence":20,"bid_prices":[97],"bid_sizes":[1],"ask_prices":[104,105],"ask_sizes":["2",1],"depth":5,"reason":"sync"}}"#,
        t(5)
    );
    assert_eq!(push(&mut socket, &snapshot).await["accepted"], 1);

    // Hostile rows are refused, each for its own reason.
    let refused = array(&[
        delta(t(7), "middle", 1.0, 1.0, 1, false),
        delta(t(7), "bid", 1.0, -1.0, 1, false),
        delta(t(7), "bid", 1.0, 1.0, -3, false),
        format!(r#"{{"type":"book_delta","venue":"test","symbol":"BOOK","time":"{}","side":"bid","price":1,"size":1}}"#, t(7)),
        format!(
            r#"{{"type":"book_snapshot","venue":"test","symbol":"BOOK","time":"{}","sequence":1,"bid_prices":[1,2],"bid_sizes":[1,1]}}"#,
            t(7)
        ),
        format!(
            r#"{{"type":"book_snapshot","venue":"test","symbol":"BOOK","time":"{}","sequence":1,"ask_prices":[1,2],"ask_sizes":[1]}}"#,
            t(7)
        ),
        format!(
            r#"{{"type":"book_snapshot","venue":"test","symbol":"BOOK","time":"{}","sequence":1,"ask_prices":[1],"ask_sizes":[1],"reason":"whim"}}"#,
            t(7)
        ),
    ]);
    let ack = push(&mut socket, &refused).await;
    assert_eq!(ack["accepted"], 0, "{ack}");
    assert_eq!(refused_indexes(&ack), (0..7).collect(), "{ack}");
    let messages = ack["rejected"].to_string();
    for expected in ["`side`", "`size`", "`sequence`", "strictly descending", "as many of each", "`reason`"] {
        assert!(messages.contains(expected), "{expected} in {messages}");
    }

    let client = support::sql(cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM book_deltas WHERE symbol = 'BOOK'", 14).await, 14);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM book_snapshots", 1).await, 1);
    let row = client
        .query_one("SELECT sequence, bid_prices, bid_sizes, ask_prices, ask_sizes, depth, reason FROM book_snapshots", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 20);
    assert_eq!(row.get::<_, Vec<f64>>(1), [97.0]);
    assert_eq!(row.get::<_, Vec<f64>>(2), [1.0]);
    assert_eq!(row.get::<_, Vec<f64>>(3), [104.0, 105.0]);
    assert_eq!(row.get::<_, Vec<f64>>(4), [2.0, 1.0]);
    assert_eq!((row.get::<_, i32>(5), row.get::<_, String>(6)), (5, "sync".to_string()));
    drop(socket);
    daemon.stop().await.expect("clean stop");

    // The break: a gap for BOOK, and a checksum mismatch of another symbol later.
    for (time, kind, symbol) in [(t(3), "gap", "BOOK"), (t(6), "checksum_mismatch", "OTHER")] {
        client
            .execute(
                "INSERT INTO feed_events (time, received_at, source, kind, detail)
                 VALUES ($1::text::timestamptz, now(), 'test-feed', $2, jsonb_build_object('venue', 'test', 'symbol', $3::text, 'from', 13, 'to', 15))",
                &[&time.to_string(), &kind, &symbol],
            )
            .await
            .expect("insert a feed event");
    }

    assert_eq!(book_at(&client, Timestamp(t(0).0 - 1), 10).await, [], "no snapshot yet: no book");
    assert!(!verified(&client, "BOOK", Timestamp(t(0).0 - 1)).await);
    let first = book(&[(100.0, 1.0), (99.0, 2.0), (98.0, 3.0)], &[(101.0, 1.0), (102.0, 2.0), (103.0, 3.0)]);
    assert_eq!(book_at(&client, t(0), 10).await, first);
    let updated = book(&[(100.0, 5.0), (99.5, 4.0), (99.0, 2.0), (98.0, 3.0)], &[(102.0, 2.0), (103.0, 3.0)]);
    assert_eq!(book_at(&client, t(2), 10).await, updated, "deltas applied level by level, size 0 removes");
    assert_eq!(book_at(&client, t(2), 2).await, book(&[(100.0, 5.0), (99.5, 4.0)], &[(102.0, 2.0), (103.0, 3.0)]), "depth");
    assert_eq!(book_at(&client, Timestamp(t(2).0 - 1), 1).await, book(&[(100.0, 5.0)], &[(102.0, 2.0)]));
    assert_eq!(book_at(&client, t(4), 10).await, updated, "inside the break the last stored book is read");
    let resynced = book(&[(97.0, 1.0), (96.0, 7.0)], &[(104.0, 3.0), (105.0, 1.0)]);
    assert_eq!(book_at(&client, t(6), 10).await, resynced, "the resync snapshot replaces the book");
    assert_eq!(book_at(&client, t(5), 10).await, book(&[(97.0, 1.0)], &[(104.0, 2.0), (105.0, 1.0)]));

    let stretch: Vec<bool> = futures_util::future::join_all((0..=6).map(|second| verified(&client, "BOOK", t(second)))).await;
    assert_eq!(stretch, [true, true, true, false, false, true, true], "verified, broken from the gap, verified from the resync");
    assert!(!verified(&client, "OTHER", t(6)).await, "no snapshot of OTHER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_read_back_on_vanilla() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    books_read_back(&cluster, ProfileChoice::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_read_back_on_timescaledb() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    books_read_back(&cluster, ProfileChoice::Timescaledb).await;
}
