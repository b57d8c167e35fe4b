//! The book keeper's tests.

use super::*;

/// `previous` must name the last sequence; the checksum is the number of levels.
struct Rules;

impl BookRules for Rules {
    fn follows(&self, last: i64, update: &BookUpdate) -> bool {
        update.previous == Some(last)
    }

    fn checksum(&self, book: &Book) -> Option<u32> {
        Some((book.bids().count() + book.asks().count()) as u32)
    }
}

fn level(price: f64, size: f64) -> Level {
    Level::new(&price.to_string(), &size.to_string(), price, size)
}

fn message(second: i64, sequence: i64, previous: Option<i64>, bids: &[(f64, f64)], asks: &[(f64, f64)]) -> BookUpdate {
    BookUpdate {
        time: Timestamp(second * 1_000_000),
        received_at: Timestamp(second * 1_000_000),
        sequence,
        previous,
        bids: bids.iter().map(|(price, size)| level(*price, *size)).collect(),
        asks: asks.iter().map(|(price, size)| level(*price, *size)).collect(),
        checksum: None,
    }
}

type Sides = (Vec<(f64, f64)>, Vec<(f64, f64)>);

fn sides(keeper: &BookKeeper<Rules>) -> Sides {
    let book = keeper.book("X").unwrap();
    (book.bids().map(|l| (l.price, l.size)).collect(), book.asks().map(|l| (l.price, l.size)).collect())
}

fn deltas(parsed: &Parsed) -> Vec<(BookSide, f64, f64, i64, bool)> {
    parsed
        .records
        .iter()
        .filter_map(|record| match record {
            Record::BookDelta(row) => Some((row.side, row.price, row.size, row.sequence, row.snapshot)),
            _ => None,
        })
        .collect()
}

fn pictures(parsed: &Parsed) -> Vec<&BookSnapshot> {
    parsed.records.iter().filter_map(|record| if let Record::BookSnapshot(row) = record { Some(row) } else { None }).collect()
}

fn kinds(parsed: &Parsed) -> Vec<&'static str> {
    parsed.events.iter().map(|(kind, _)| *kind).collect()
}

#[test]
fn snapshot_then_updates_level_by_level() {
    let mut keeper = BookKeeper::new("v", Rules, 100, 2, 0);
    let mut parsed = Parsed::default();
    let snapshot = message(1, 10, None, &[(99.0, 1.0), (100.0, 2.0), (98.0, 3.0)], &[(101.0, 1.0), (102.0, 2.0)]);
    assert_eq!(keeper.snapshot("X", &snapshot, &mut parsed), Applied::Applied);
    assert_eq!(
        deltas(&parsed),
        [
            (BookSide::Bid, 100.0, 2.0, 10, true),
            (BookSide::Bid, 99.0, 1.0, 10, true),
            (BookSide::Bid, 98.0, 3.0, 10, true),
            (BookSide::Ask, 101.0, 1.0, 10, true),
            (BookSide::Ask, 102.0, 2.0, 10, true),
        ]
    );
    let picture = pictures(&parsed);
    assert_eq!(picture.len(), 1);
    assert_eq!((picture[0].bid_prices.clone(), picture[0].ask_sizes.clone()), (vec![100.0, 99.0], vec![1.0, 2.0]));
    assert_eq!((picture[0].reason, picture[0].depth), (SnapshotReason::Sync, 2));
    assert!(kinds(&parsed).is_empty(), "a first snapshot is no resync");

    let mut parsed = Parsed::default();
    let update = message(2, 11, Some(10), &[(100.0, 0.0), (99.5, 4.0)], &[(101.0, 5.0)]);
    assert_eq!(keeper.update("X", &update, &mut parsed), Applied::Applied);
    assert_eq!(
        deltas(&parsed),
        [(BookSide::Bid, 100.0, 0.0, 11, false), (BookSide::Bid, 99.5, 4.0, 11, false), (BookSide::Ask, 101.0, 5.0, 11, false)]
    );
    assert_eq!(sides(&keeper), (vec![(99.5, 4.0), (99.0, 1.0), (98.0, 3.0)], vec![(101.0, 5.0), (102.0, 2.0)]));
    assert!(pictures(&parsed).is_empty(), "no interval: pictures only at synchronisation");
}

#[test]
fn a_gap_breaks_the_book_until_a_fresh_snapshot() {
    let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
    let mut parsed = Parsed::default();
    keeper.snapshot("X", &message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]), &mut parsed);
    let mut parsed = Parsed::default();
    assert_eq!(keeper.update("X", &message(2, 12, Some(11), &[(99.0, 2.0)], &[]), &mut parsed), Applied::Resync);
    assert_eq!(kinds(&parsed), ["gap"]);
    assert_eq!(
        parsed.events[0].1,
        json!({ "venue": "v", "symbol": "X", "last": 10, "previous": 11, "sequence": 12,
                                           "at": Timestamp(2_000_000).to_string() })
    );
    assert!(deltas(&parsed).is_empty(), "nothing stored across the break");
    assert!(!keeper.book("X").unwrap().is_synced());

    // Updates before the fresh snapshot are dropped and counted, with no new request.
    let mut parsed = Parsed::default();
    assert_eq!(keeper.update("X", &message(3, 13, Some(12), &[(99.0, 3.0), (98.0, 1.0)], &[]), &mut parsed), Applied::Dropped);
    assert_eq!((parsed.book_dropped, parsed.records.len(), parsed.events.len()), (2, 0, 0));

    let mut parsed = Parsed::default();
    assert_eq!(keeper.snapshot("X", &message(4, 20, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed), Applied::Applied);
    assert_eq!(kinds(&parsed), ["resync"]);
    assert_eq!(deltas(&parsed), [(BookSide::Bid, 97.0, 1.0, 20, true), (BookSide::Ask, 103.0, 1.0, 20, true)]);
    assert_eq!(pictures(&parsed)[0].reason, SnapshotReason::Sync);
    let mut parsed = Parsed::default();
    assert_eq!(keeper.update("X", &message(5, 21, Some(20), &[(97.0, 2.0)], &[]), &mut parsed), Applied::Applied);
}

#[test]
fn a_checksum_mismatch_breaks_the_book_and_drops_the_message_rows() {
    let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
    let mut parsed = Parsed::default();
    let mut snapshot = message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]);
    snapshot.checksum = Some(2);
    assert_eq!(keeper.snapshot("X", &snapshot, &mut parsed), Applied::Applied);
    let mut good = message(2, 11, Some(10), &[(98.0, 1.0)], &[]);
    good.checksum = Some(3);
    assert_eq!(keeper.update("X", &good, &mut parsed), Applied::Applied);

    let mut parsed = Parsed::default();
    let mut bad = message(3, 12, Some(11), &[(97.0, 1.0)], &[]);
    bad.checksum = Some(3);
    assert_eq!(keeper.update("X", &bad, &mut parsed), Applied::Resync);
    assert_eq!(kinds(&parsed), ["checksum_mismatch"]);
    assert_eq!(parsed.events[0].1["expected"], 3);
    assert_eq!(parsed.events[0].1["computed"], 4);
    assert!(deltas(&parsed).is_empty());
    assert_eq!(parsed.book_dropped, 1);

    // A snapshot whose own checksum fails breaks too.
    let mut parsed = Parsed::default();
    let mut wrong = message(4, 20, None, &[(99.0, 1.0)], &[]);
    wrong.checksum = Some(7);
    assert_eq!(keeper.snapshot("X", &wrong, &mut parsed), Applied::Resync);
    assert_eq!(kinds(&parsed), ["checksum_mismatch"]);
    assert!(parsed.records.is_empty());
}

#[test]
fn a_crossed_book_breaks_it() {
    let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
    let mut parsed = Parsed::default();
    keeper.snapshot("X", &message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]), &mut parsed);
    let mut parsed = Parsed::default();
    assert_eq!(keeper.update("X", &message(2, 11, Some(10), &[(101.0, 1.0)], &[]), &mut parsed), Applied::Resync);
    assert_eq!(kinds(&parsed), ["crossed"]);
    assert_eq!((parsed.events[0].1["best_bid"].as_f64(), parsed.events[0].1["best_ask"].as_f64()), (Some(101.0), Some(101.0)));
    assert!(deltas(&parsed).is_empty());
    assert!(!keeper.book("X").unwrap().is_synced());
}

#[test]
fn depth_is_capped_and_pictures_follow_the_interval() {
    let mut keeper = BookKeeper::new("v", Rules, 2, 2, 1_000);
    let mut parsed = Parsed::default();
    keeper.snapshot(
        "X",
        &message(1, 10, None, &[(99.0, 1.0), (98.0, 1.0), (97.0, 1.0)], &[(101.0, 1.0), (102.0, 1.0), (103.0, 1.0)]),
        &mut parsed,
    );
    assert_eq!(sides(&keeper), (vec![(99.0, 1.0), (98.0, 1.0)], vec![(101.0, 1.0), (102.0, 1.0)]), "the worst levels dropped");
    assert_eq!(deltas(&parsed).len(), 4, "a snapshot stores the levels kept");

    // A level pushed out of the depth kept is removed from the stored book too.
    let mut pushed_out = Parsed::default();
    let mut first = message(1, 11, Some(10), &[(98.5, 1.0)], &[]);
    first.time = Timestamp(1_100_000);
    keeper.update("X", &first, &mut pushed_out);
    assert_eq!(deltas(&pushed_out), [(BookSide::Bid, 98.5, 1.0, 11, false), (BookSide::Bid, 98.0, 0.0, 11, false)]);
    assert_eq!(sides(&keeper).0, [(99.0, 1.0), (98.5, 1.0)]);

    let mut parsed = Parsed::default();
    let mut at = |keeper: &mut BookKeeper<Rules>, micros: i64, sequence: i64| {
        let mut update = message(0, sequence, Some(sequence - 1), &[(98.5, 1.0)], &[]);
        update.time = Timestamp(micros);
        keeper.update("X", &update, &mut parsed);
    };
    at(&mut keeper, 1_500_000, 12);
    at(&mut keeper, 1_999_999, 13);
    at(&mut keeper, 2_000_000, 14);
    at(&mut keeper, 2_500_000, 15);
    let taken: Vec<(i64, SnapshotReason)> = pictures(&parsed).iter().map(|row| (row.time.micros(), row.reason)).collect();
    assert_eq!(taken, [(2_000_000, SnapshotReason::Interval)]);
    assert_eq!(pictures(&parsed)[0].bid_prices, [99.0, 98.5]);
}

#[test]
fn updates_before_any_snapshot_are_dropped_and_books_are_bounded() {
    let mut keeper = BookKeeper::new("v", Rules, 10, 5, 0);
    let mut parsed = Parsed::default();
    assert_eq!(keeper.update("X", &message(1, 1, Some(0), &[(1.0, 1.0)], &[]), &mut parsed), Applied::Dropped);
    assert_eq!(parsed.book_dropped, 1);
    for index in 0..MAX_BOOKS {
        keeper.books.insert(index.to_string(), Book::default());
    }
    assert_eq!(keeper.snapshot("new", &message(1, 1, None, &[(1.0, 1.0)], &[]), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.books.len(), MAX_BOOKS);

    // With settings: one book per configured symbol.
    let settings = BookSettings { max_books: 2, ..BookSettings::default() };
    let mut keeper = BookKeeper::with_settings("v", Rules, &settings);
    for symbol in ["A", "B", "C"] {
        keeper.snapshot(symbol, &message(1, 1, None, &[(1.0, 1.0)], &[]), &mut parsed);
    }
    assert!(keeper.book("B").is_some() && keeper.book("C").is_none());
}

/// `message` received at `received_ms` milliseconds.
fn received(mut update: BookUpdate, received_ms: i64) -> BookUpdate {
    update.received_at = Timestamp(received_ms * 1_000);
    update
}

#[test]
fn resync_requests_are_paced_while_the_book_keeps_breaking() {
    let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
    let mut parsed = Parsed::default();
    let snapshot = |sequence| message(1, sequence, None, &[(99.0, 1.0)], &[(101.0, 1.0)]);
    keeper.snapshot("X", &received(snapshot(10), 0), &mut parsed);
    // The first break asks at once.
    assert_eq!(keeper.update("X", &received(message(1, 12, Some(11), &[], &[]), 0), &mut parsed), Applied::Resync);
    // Waiting for the answer: no second request.
    assert_eq!(keeper.update("X", &received(message(1, 13, Some(12), &[], &[]), 100), &mut parsed), Applied::Dropped);
    // The fresh snapshot breaks at once (crossed): the next request comes 0.5 s after the first.
    let crossed = message(1, 20, None, &[(102.0, 1.0)], &[(101.0, 1.0)]);
    assert_eq!(keeper.snapshot("X", &received(crossed.clone(), 200), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 21, Some(20), &[], &[]), 499), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 22, Some(21), &[], &[]), 600), &mut parsed), Applied::Resync);
    // Again: 1 s after that one.
    assert_eq!(keeper.snapshot("X", &received(crossed, 800), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 23, Some(22), &[], &[]), 1_599), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 24, Some(23), &[], &[]), 1_600), &mut parsed), Applied::Resync);
    // A request never answered is made again after 30 s.
    assert_eq!(keeper.update("X", &received(message(1, 25, Some(24), &[], &[]), 31_000), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 26, Some(25), &[], &[]), 31_600), &mut parsed), Applied::Resync);
    // A book that holds (an update applied) stops the waits growing, but the last
    // one still runs: 2 s after the last request.
    keeper.snapshot("X", &received(snapshot(30), 32_000), &mut parsed);
    assert_eq!(keeper.update("X", &received(message(1, 31, Some(30), &[], &[]), 32_000), &mut parsed), Applied::Applied);
    assert_eq!(keeper.update("X", &received(message(1, 33, Some(32), &[], &[]), 32_001), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 34, Some(33), &[], &[]), 33_600), &mut parsed), Applied::Resync);
    // Then 0.5 s: the waits started over.
    keeper.snapshot("X", &received(snapshot(40), 33_700), &mut parsed);
    assert_eq!(keeper.update("X", &received(message(1, 42, Some(41), &[], &[]), 33_800), &mut parsed), Applied::Dropped);
    assert_eq!(keeper.update("X", &received(message(1, 43, Some(42), &[], &[]), 34_100), &mut parsed), Applied::Resync);
}

#[test]
fn a_reconnect_is_a_break_recorded_by_the_next_snapshot() {
    let mut keeper = BookKeeper::new("v", Rules, 100, 5, 0);
    let mut parsed = Parsed::default();
    keeper.snapshot("X", &message(1, 10, None, &[(99.0, 1.0)], &[(101.0, 1.0)]), &mut parsed);
    keeper.update("X", &message(2, 11, Some(10), &[(98.0, 1.0)], &[]), &mut parsed);
    keeper.reset(Timestamp(3_000_000));
    assert!(!keeper.book("X").unwrap().is_synced());
    // Updates before the new snapshot are dropped; the subscription is the request.
    let mut parsed = Parsed::default();
    assert_eq!(keeper.update("X", &received(message(3, 12, Some(11), &[], &[]), 3_100), &mut parsed), Applied::Dropped);
    let mut parsed = Parsed::default();
    assert_eq!(keeper.snapshot("X", &message(4, 40, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed), Applied::Applied);
    assert_eq!(kinds(&parsed), ["gap", "resync"]);
    assert_eq!(parsed.events[0].1["reason"], "reconnect");
    assert_eq!(parsed.events[0].1["at"], Timestamp(2_000_001).to_string(), "just after the last message applied");
    assert_eq!(parsed.events[1].1["at"], Timestamp(4_000_000).to_string());

    // A book never synchronised records no break.
    keeper.reset(Timestamp(5_000_000));
    keeper.reset(Timestamp(5_000_000));
    let mut parsed = Parsed::default();
    keeper.snapshot("X", &message(6, 50, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed);
    assert_eq!(kinds(&parsed), ["gap", "resync"], "the first reset's break, recorded once");
    let mut fresh = BookKeeper::new("v", Rules, 100, 5, 0);
    fresh.reset(Timestamp(0));
    let mut parsed = Parsed::default();
    fresh.snapshot("X", &message(6, 50, None, &[(97.0, 1.0)], &[(103.0, 1.0)]), &mut parsed);
    assert!(kinds(&parsed).is_empty());
}
