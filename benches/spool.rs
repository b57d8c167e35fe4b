//! What the spool costs per record, side by side in one run: encoding a tick into its
//! spool form alone, and encoding plus appending it to a spool (the flusher writing and
//! fsyncing every 5 ms on its own thread, as in the daemon), for 10 000 ticks per
//! iteration. The segment size is small so that rotation and deletion of committed
//! segments are part of the measured work.
// A benchmark harness: a failure here is a broken setup, and `unwrap` says where.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hypertick::record::{Record, Side, Tick, Timestamp};
use hypertick::spool::{codec, Spool, SpoolSettings};

const TICKS: usize = 10_000;

fn ticks() -> Vec<Record> {
    (0..TICKS)
        .map(|i| {
            Record::Tick(Tick {
                time: Timestamp(1_795_348_800_000_000 + i as i64 * 1_000),
                received_at: Timestamp(1_795_348_800_000_000 + i as i64 * 1_000 + 250),
                venue: "binance".into(),
                symbol: format!("SYM{:02}-USDT", i % 50).into(),
                price: 97_000.0 + (i % 1_000) as f64 * 0.25,
                size: 0.001 * (i % 100 + 1) as f64,
                side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                trade_id: Some((3_100_000_000u64 + i as u64).to_string().into()),
            })
        })
        .collect()
}

fn bench_spool(c: &mut Criterion) {
    let records = ticks();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = SpoolSettings {
        dir: dir.path().to_path_buf(),
        max_bytes: 1 << 34,
        segment_bytes: 8 << 20,
        fsync_interval: Duration::from_millis(5),
    };
    let (spool, _) = Spool::open(settings, &HashMap::new()).expect("spool opens");
    let mut group = c.benchmark_group("spool");
    group.throughput(Throughput::Elements(TICKS as u64));
    group.bench_function("encode_tick", |b| {
        let mut payload = Vec::with_capacity(128);
        b.iter(|| {
            for record in &records {
                payload.clear();
                codec::encode(record, 0, &mut payload);
                black_box(&payload);
            }
        })
    });
    group.bench_function("encode_and_append_tick", |b| {
        let mut payload = Vec::with_capacity(128);
        let mut last = 0;
        b.iter(|| {
            for record in &records {
                payload.clear();
                codec::encode(record, 0, &mut payload);
                last = spool.append(0, &payload).expect("room in the spool").0;
            }
            // Everything so far is committed, so full segments are deleted as in the daemon.
            spool.commit(0, last);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_spool);
criterion_main!(benches);
