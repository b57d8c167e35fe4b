use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn settings(dir: &std::path::Path, max_bytes: u64, segment_bytes: u64) -> SpoolSettings {
    SpoolSettings { dir: dir.to_path_buf(), max_bytes, segment_bytes, fsync_interval: Duration::from_millis(2) }
}

/// What a replay reads: the listed segments' entries, less the committed ones.
fn replayed(spool: &Spool, recovered: &Recovered, committed: &HashMap<u16, CommitTracker>) -> Vec<Entry> {
    recovered
        .replay
        .iter()
        .flat_map(|id| spool.read_segment(*id).unwrap())
        .filter(|entry| !committed.get(&entry.stream).is_some_and(|tracker| tracker.is_committed(entry.sequence)))
        .collect()
}

fn payload(stream: u16, index: u64) -> Vec<u8> {
    format!("{stream}:{index}:{}", "x".repeat((index % 7) as usize)).into_bytes()
}

#[test]
fn uncommitted_entries_come_back_in_order_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (spool, recovered) = Spool::open(settings(dir.path(), 1 << 30, 1024), &HashMap::new()).unwrap();
        assert!(recovered.replay.is_empty());
        for index in 0..300u64 {
            let stream = (index % 3) as u16;
            let (sequence, position) = spool.append(stream, &payload(stream, index)).unwrap();
            assert_eq!(sequence, index / 3 + 1, "sequences count per stream from 1");
            assert_eq!(position, index + 1);
        }
        spool.sync().unwrap();
        assert!(spool.segment_count() > 2, "small segments rotate");
    }
    // Stream 0 committed 1..=40 and 51..=60, stream 1 all, stream 2 none.
    let mut stream_zero = CommitTracker::new(40);
    stream_zero.commit(51, 60);
    let committed = HashMap::from([(0u16, stream_zero), (1, CommitTracker::new(100))]);
    let (spool, recovered) = Spool::open(settings(dir.path(), 1 << 30, 1024), &committed).unwrap();
    let expected: Vec<(u16, u64)> = (0..300u64)
        .map(|index| ((index % 3) as u16, index / 3 + 1))
        .filter(|(stream, sequence)| !committed.get(stream).is_some_and(|tracker| tracker.is_committed(*sequence)))
        .collect();
    let entries = replayed(&spool, &recovered, &committed);
    let got: Vec<(u16, u64)> = entries.iter().map(|entry| (entry.stream, entry.sequence)).collect();
    assert_eq!(got, expected);
    assert!(recovered.losses.is_empty() && recovered.damaged.is_empty());
    let third = entries.iter().find(|entry| entry.stream == 2 && entry.sequence == 5).unwrap();
    assert_eq!(third.payload, payload(2, 14));
    assert_eq!(recovered.bytes_cut, 0);
    // Sequences go on after the highest one seen.
    assert_eq!(spool.append(0, b"next").unwrap().0, 101);
    assert_eq!(spool.append(7, b"new stream").unwrap().0, 1);
}

#[test]
fn sequences_continue_after_the_database_when_the_spool_is_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(settings(dir.path(), 1 << 20, 4096), &HashMap::from([(3u16, CommitTracker::new(1_000))])).unwrap();
    assert_eq!(spool.append(3, b"a").unwrap().0, 1_001);
}

#[test]
fn a_torn_tail_is_cut_and_everything_before_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (spool, _) = Spool::open(settings(dir.path(), 1 << 20, 1 << 20), &HashMap::new()).unwrap();
        for index in 0..10 {
            spool.append(0, &payload(0, index)).unwrap();
        }
    }
    // The crash: the last entry only half written, then garbage.
    let file = std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().path()).min().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let full_len = bytes.len();
    bytes.truncate(full_len - 3);
    bytes.extend_from_slice(&[0xde, 0xad]);
    std::fs::write(&file, &bytes).unwrap();

    let (spool, recovered) = Spool::open(settings(dir.path(), 1 << 20, 1 << 20), &HashMap::new()).unwrap();
    let entries = replayed(&spool, &recovered, &HashMap::new());
    assert_eq!(entries.len(), 9);
    assert!(recovered.bytes_cut > 0);
    assert!(recovered.losses.is_empty(), "a torn tail of the last segment is not a loss: it was never acknowledged");
    assert_eq!(entries[8].payload, payload(0, 8));
    assert_eq!(std::fs::metadata(&file).unwrap().len() + recovered.bytes_cut, bytes.len() as u64, "the file was cut");
    // The lost entry's sequence is reused: it was never acknowledged as durable.
    assert_eq!(spool.append(0, b"again").unwrap().0, 10);
    drop(spool);
    let (spool, recovered) = Spool::open(settings(dir.path(), 1 << 20, 1 << 20), &HashMap::new()).unwrap();
    assert_eq!(recovered.bytes_cut, 0, "a cut file reads clean");
    assert_eq!(replayed(&spool, &recovered, &HashMap::new()).len(), 10);
}

#[test]
fn committed_segments_are_deleted_and_the_cap_frees_up() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(settings(dir.path(), 8 * 1024, 1024), &HashMap::new()).unwrap();
    let mut last = 0;
    let full = loop {
        match spool.append(1, &[7u8; 100]) {
            Ok((sequence, _)) => last = sequence,
            Err(error) => break error,
        }
    };
    assert!(matches!(full, SpoolError::Full { max: 8192, .. }), "{full}");
    assert!(spool.used_bytes() <= 8 * 1024);
    let segments = spool.segment_count();
    spool.commit(1, last / 2);
    assert!(spool.segment_count() < segments, "segments wholly committed are deleted");
    assert!(spool.append(1, &[7u8; 100]).is_ok(), "room again");
    spool.commit(1, u64::MAX);
    assert_eq!(spool.segment_count(), 1, "only the active segment is left");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.iter().filter(|name| name.ends_with(".spool")).count(), 1, "{names:?}");
    assert!(names.contains(&"committed".to_string()), "the committed floor is kept: {names:?}");
}

#[tokio::test]
async fn appends_become_durable_within_the_fsync_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(settings(dir.path(), 1 << 20, 1 << 20), &HashMap::new()).unwrap();
    let (_, position) = spool.append(0, b"hello").unwrap();
    tokio::time::timeout(Duration::from_secs(10), spool.wait_durable(position)).await.expect("the flusher syncs");
    let (_, recovered) = Spool::open(settings(&dir.path().join("other"), 1 << 20, 1 << 20), &HashMap::new()).unwrap();
    assert!(recovered.replay.is_empty());
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "spool"))
        .unwrap();
    assert!(std::fs::read(file).unwrap().ends_with(b"hello"), "on disk before the wait returned");
}

#[test]
fn oversized_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(settings(dir.path(), u64::MAX, 1 << 20), &HashMap::new()).unwrap();
    assert!(matches!(spool.append(0, &vec![0u8; 17 * 1024 * 1024]), Err(SpoolError::TooLarge(_))));
}

#[test]
fn a_stream_reads_back_in_order_across_segments_from_any_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(settings(dir.path(), 1 << 30, 1024), &HashMap::new()).unwrap();
    for index in 0..400u64 {
        spool.append((index % 2) as u16, &payload((index % 2) as u16, index)).unwrap();
    }
    // Buffered entries are not readable until written.
    let mut cursor = StreamCursor::new(1, 150);
    let mut read = Vec::new();
    loop {
        let entries = spool.read_stream(&mut cursor, 7).unwrap();
        if entries.is_empty() {
            break;
        }
        assert!(entries.len() <= 7);
        read.extend(entries);
    }
    spool.sync().unwrap();
    loop {
        let entries = spool.read_stream(&mut cursor, 7).unwrap();
        if entries.is_empty() {
            break;
        }
        read.extend(entries);
    }
    let sequences: Vec<u64> = read.iter().map(|entry| entry.sequence).collect();
    assert_eq!(sequences, (150..=200).collect::<Vec<u64>>());
    assert!(read.iter().all(|entry| entry.stream == 1));
    assert_eq!(read[0].payload, payload(1, 299));
    assert_eq!(cursor.next_sequence, 201);
    assert_eq!(spool.next_sequence(1), 201);
    // New entries are picked up where the cursor stopped.
    spool.append(1, b"later").unwrap();
    spool.sync().unwrap();
    let later = spool.read_stream(&mut cursor, 10).unwrap();
    assert_eq!(later.iter().map(|entry| entry.sequence).collect::<Vec<_>>(), [201]);
}

#[test]
fn an_offline_open_continues_above_deleted_segments_and_sets_sequences_aside() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (spool, _) = Spool::open(settings(dir.path(), 1 << 30, 256), &HashMap::new()).unwrap();
        for index in 0..100u64 {
            spool.append(0, &payload(0, index)).unwrap();
        }
        spool.sync().unwrap();
        // Everything committed: every sealed segment goes, the floor stays.
        spool.commit(0, 100);
        assert_eq!(spool.segment_count(), 1);
    }
    let skipped = [Skipped { stream: 0, first: 101, last: 1100 }, Skipped { stream: 5, first: 1, last: 1000 }];
    {
        let (spool, recovered) = Spool::open_offline(settings(dir.path(), 1 << 30, 256), &[0, 5], 1000).unwrap();
        assert!(recovered.replay.is_empty() && recovered.losses.is_empty(), "{recovered:?}");
        assert_eq!(recovered.skipped, skipped);
        assert_eq!(spool.append(0, b"offline").unwrap().0, 1101);
        assert_eq!(spool.append(5, b"offline").unwrap().0, 1001);
        spool.sync().unwrap();
    }
    // Opened again with what the database knows (nothing of the offline run): the sequences
    // set aside are not taken for lost records, and the offline entries are replayed.
    let (spool, recovered) = Spool::open(settings(dir.path(), 1 << 30, 256), &HashMap::from([(0u16, CommitTracker::new(100))])).unwrap();
    assert!(recovered.losses.is_empty(), "{:?}", recovered.losses);
    assert_eq!(recovered.skipped, skipped);
    let entries = replayed(&spool, &recovered, &HashMap::from([(0u16, CommitTracker::new(100))]));
    let got: Vec<(u16, u64)> = entries.iter().map(|entry| (entry.stream, entry.sequence)).collect();
    assert_eq!(got, [(0, 1101), (5, 1001)]);
}

#[test]
fn an_offline_open_of_a_spool_without_its_floor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (spool, _) = Spool::open(settings(dir.path(), 1 << 30, 256), &HashMap::new()).unwrap();
        spool.append(0, b"one").unwrap();
        spool.sync().unwrap();
    }
    std::fs::remove_file(dir.path().join("committed")).unwrap();
    assert!(matches!(Spool::open_offline(settings(dir.path(), 1 << 30, 256), &[0], 10), Err(SpoolError::NoFloor(_))));
    let fresh = tempfile::tempdir().unwrap();
    assert!(Spool::open_offline(settings(&fresh.path().join("new"), 1 << 30, 256), &[0], 10).is_ok(), "a spool folder not created yet");
}
