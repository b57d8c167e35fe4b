use super::*;
use crate::record::{BookSide, Record};

const MS: i64 = 1_795_348_800_000;

fn settings() -> BookSettings {
    BookSettings { depth: 1_000, snapshot_depth: 5, snapshot_interval_ms: 0, ..BookSettings::default() }
}

fn spot_event(first: i64, last: i64, bids: &str) -> String {
    format!(r#"{{"e":"depthUpdate","E":{},"s":"BTCUSDT","U":{first},"u":{last},"b":{bids},"a":[]}}"#, MS + last)
}

fn futures_event(first: i64, last: i64, previous: i64, bids: &str) -> String {
    format!(
        r#"{{"e":"depthUpdate","E":{},"T":{},"s":"BTCUSDT","U":{first},"u":{last},"pu":{previous},"b":{bids},"a":[]}}"#,
        MS + last,
        MS + last
    )
}

fn at(ms: i64) -> Timestamp {
    Timestamp((MS + ms) * 1_000)
}

/// (sequence, snapshot, side, price, size) of the delta rows.
fn deltas(parsed: &Parsed) -> Vec<(i64, bool, BookSide, f64, f64)> {
    parsed
        .records
        .iter()
        .filter_map(|record| match record {
            Record::BookDelta(row) => Some((row.sequence, row.snapshot, row.side, row.price, row.size)),
            _ => None,
        })
        .collect()
}

fn kinds(parsed: &Parsed) -> Vec<&'static str> {
    parsed.events.iter().map(|(kind, _)| *kind).collect()
}

fn answer(books: &mut BinanceBooks, body: &str, ms: i64, parsed: &mut Parsed) -> Result<(), Rejection> {
    let fetch = parsed.fetches.last().cloned().unwrap_or_else(|| books.fetch("BTCUSDT"));
    books.fetched(&fetch, Ok(body), at(ms), parsed)
}

#[test]
fn spot_buffers_until_the_snapshot_drops_what_it_covers_and_refetches_on_a_gap() {
    let mut books = BinanceBooks::new(false, &settings());
    let mut parsed = Parsed::default();
    books.event(&spot_event(101, 103, r#"[["99","1"]]"#), at(1), &mut parsed).unwrap();
    assert_eq!(parsed.fetches, [Fetch::get("BTCUSDT", "/api/v3/depth?symbol=BTCUSDT&limit=1000", 50)]);
    books.event(&spot_event(104, 106, r#"[["98","2"]]"#), at(2), &mut parsed).unwrap();
    assert!(parsed.records.is_empty(), "buffered until the snapshot");

    let mut parsed = Parsed::default();
    let snapshot = r#"{"lastUpdateId":104,"bids":[["99","1"],["97","3"]],"asks":[["101","1"]]}"#;
    answer(&mut books, snapshot, 3, &mut parsed).unwrap();
    assert_eq!(
        deltas(&parsed),
        [
            (104, true, BookSide::Bid, 99.0, 1.0),
            (104, true, BookSide::Bid, 97.0, 3.0),
            (104, true, BookSide::Ask, 101.0, 1.0),
            (106, false, BookSide::Bid, 98.0, 2.0),
        ],
        "101-103 covered by the snapshot, 104-106 meets it"
    );
    let Some(Record::BookDelta(first)) = parsed.records.first() else { panic!() };
    assert_eq!(first.time, Timestamp((MS + 103) * 1_000), "the spot snapshot at the last event it covers");
    assert_eq!(parsed.book_dropped, 1);

    let mut parsed = Parsed::default();
    books.event(&spot_event(107, 107, r#"[["99","0"]]"#), at(4), &mut parsed).unwrap();
    assert_eq!(deltas(&parsed), [(107, false, BookSide::Bid, 99.0, 0.0)]);
    // 108 is lost: 109 is a gap, and a new snapshot is asked for.
    books.event(&spot_event(109, 110, r#"[["96","1"]]"#), at(5), &mut parsed).unwrap();
    assert_eq!(kinds(&parsed), ["gap"]);
    assert_eq!(parsed.fetches.len(), 1);
    books.event(&spot_event(111, 112, r#"[["95","1"]]"#), at(6), &mut parsed).unwrap();
    let mut parsed = Parsed::default();
    answer(&mut books, r#"{"lastUpdateId":110,"bids":[["96","1"]],"asks":[["101","1"]]}"#, 7, &mut parsed).unwrap();
    assert_eq!(kinds(&parsed), ["resync"]);
    assert_eq!(deltas(&parsed).last(), Some(&(112, false, BookSide::Bid, 95.0, 1.0)));
}

#[test]
fn spot_snapshot_that_does_not_meet_the_stream_is_a_gap() {
    let mut books = BinanceBooks::new(false, &settings());
    let mut parsed = Parsed::default();
    books.event(&spot_event(101, 103, r#"[["99","1"]]"#), at(1), &mut parsed).unwrap();
    let mut parsed = Parsed::default();
    // The snapshot is older than the first event buffered: 100 is missing.
    answer(&mut books, r#"{"lastUpdateId":99,"bids":[["99","1"]],"asks":[["101","1"]]}"#, 2, &mut parsed).unwrap();
    assert_eq!(kinds(&parsed), ["gap"]);
    assert_eq!(parsed.fetches.len(), 1, "asked again");
    assert!(deltas(&parsed).iter().all(|delta| delta.0 == 99), "no delta stored on the broken snapshot");
    let Some(Record::BookDelta(first)) = parsed.records.first() else { panic!() };
    assert_eq!(first.time, Timestamp((MS + 103) * 1_000 - 1), "just before the event it had to meet");
    assert_eq!(parsed.events[0].1["at"], Timestamp((MS + 103) * 1_000).to_string(), "the break after it");
}

#[test]
fn futures_follow_pu_and_the_first_event_straddles_the_snapshot() {
    let mut books = BinanceBooks::new(true, &BookSettings { depth: 100, ..settings() });
    let mut parsed = Parsed::default();
    books.event(&futures_event(90, 100, 89, r#"[["99","1"]]"#), at(1), &mut parsed).unwrap();
    assert_eq!(parsed.fetches[0].path, "/fapi/v1/depth?symbol=BTCUSDT&limit=100");
    assert_eq!(parsed.fetches[0].weight, 5);
    books.event(&futures_event(101, 110, 100, r#"[["98","1"]]"#), at(2), &mut parsed).unwrap();
    books.event(&futures_event(111, 120, 110, r#"[["97","1"]]"#), at(3), &mut parsed).unwrap();
    let mut parsed = Parsed::default();
    let snapshot = format!(r#"{{"lastUpdateId":105,"E":{},"T":{},"bids":[["99","1"]],"asks":[["101","1"]]}}"#, MS + 104, MS + 104);
    answer(&mut books, &snapshot, 4, &mut parsed).unwrap();
    let sequences: Vec<i64> = deltas(&parsed).iter().map(|delta| delta.0).collect();
    assert_eq!(sequences, [105, 105, 110, 120], "u < 105 dropped; 101-110 straddles 105; then pu = 110");
    let Some(Record::BookDelta(first)) = parsed.records.first() else { panic!() };
    assert_eq!(first.time, Timestamp((MS + 104) * 1_000), "the futures snapshot at its T");
    // An event whose pu is not the last u: a gap.
    let mut parsed = Parsed::default();
    books.event(&futures_event(125, 130, 122, "[]"), at(5), &mut parsed).unwrap();
    assert_eq!(kinds(&parsed), ["gap"]);
    assert_eq!(parsed.events[0].1["last"], 120);
    assert_eq!(parsed.fetches.len(), 1);
    // A futures event without pu is refused.
    let spot_shaped = spot_event(131, 131, "[]");
    assert_eq!(books.event(&spot_shaped, at(6), &mut Parsed::default()).unwrap_err().code, RejectReason::InvalidRecord);
}

#[test]
fn a_failed_fetch_waits_before_asking_again_and_bad_levels_are_refused() {
    let mut books = BinanceBooks::new(false, &settings());
    let mut parsed = Parsed::default();
    books.event(&spot_event(1, 1, r#"[["99","1"]]"#), at(0), &mut parsed).unwrap();
    let fetch = parsed.fetches[0].clone();
    let refused = FetchError::Status { status: 400, body: "Invalid symbol.".into() };
    let error = books.fetched(&fetch, Err(&refused), at(1), &mut Parsed::default()).unwrap_err();
    assert!(error.detail.contains("BTCUSDT") && error.detail.contains("400"), "{}", error.detail);
    let mut parsed = Parsed::default();
    books.event(&spot_event(2, 2, r#"[["99","1"]]"#), at(5_000), &mut parsed).unwrap();
    assert!(parsed.fetches.is_empty());
    assert_eq!(parsed.book_dropped, 1);
    books.event(&spot_event(3, 3, r#"[["99","1"]]"#), at(11_001), &mut parsed).unwrap();
    assert_eq!(parsed.fetches.len(), 1, "asked again after the wait");
    let bad = r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":4,"u":4,"b":[["99","-1"]],"a":[]}"#;
    assert_eq!(books.event(bad, at(11_002), &mut Parsed::default()).unwrap_err().code, RejectReason::InvalidField);
    // An answer nobody waits for any more is ignored.
    books.reset(at(11_003));
    let mut parsed = Parsed::default();
    answer(&mut books, r#"{"lastUpdateId":1,"bids":[],"asks":[]}"#, 11_004, &mut parsed).unwrap();
    assert!(parsed.records.is_empty());
}

#[test]
fn weights_follow_the_limit() {
    assert_eq!([100, 500, 1_000, 5_000].map(|limit| depth_weight(false, limit)), [5, 25, 50, 250]);
    assert_eq!([5, 50, 100, 500, 1_000].map(|limit| depth_weight(true, limit)), [2, 2, 5, 10, 20]);
}
