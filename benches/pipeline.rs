//! The hot parts between the socket and the encoder, per core:
//!
//! - `push_decoder/*`: a push frame's text → records as the push server reads it
//!   (`Frame`: a frame of plain ticks in one pass), for a frame of 500 ticks as the load
//!   generator of `hypertick bench` sends them, with epoch nanosecond times and with
//!   RFC 3339 times, and a frame of 500 quotes; and beside each, `…/split_then_each`:
//!   the frame split first (`split_frame`), then each element read (`parse_element`);
//! - `channel/*`: a table's lane (the bounded crossbeam channel between the router and
//!   the batcher thread): one producer thread to one consumer thread, rows of ticks sent
//!   one by one and in runs of 256 (as the push server queues a frame's ticks), and the
//!   same through a plain `std::sync::mpsc::sync_channel` for comparison;
//! - `batch_encode/*`: the batcher's delivery of a 50 000-row batch of ticks (what
//!   direct compress sends at once): split into rows, sequences and ids, put in key
//!   order (`key_order`: by symbol, newest first) or left as they came, and encoded as
//!   PGCOPY. The rows come as two push connections send them: frames of 500 ticks, one
//!   time each, the connections' frames interleaved and a little out of time order.
// A benchmark harness: a failure here is a broken setup, and `unwrap` says where.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hypertick::bench::{push_frame, Market};
use hypertick::config::FullPolicy;
use hypertick::pipeline::{lane, Gather, Sequenced};
use hypertick::record::{Record, Table, Tick, Timestamp};
use hypertick::source::push::{parse_element, split_frame, Frame};

const FRAME_ROWS: usize = 500;

fn decoder(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let mut market = Market::new(50, 1);
    let mut nanos_frame = String::new();
    push_frame(&mut market, FRAME_ROWS, now, &mut nanos_frame);
    let rfc3339_frame = nanos_frame.replace(&format!("\"time\":{}", now.micros() * 1_000), &format!("\"time\":\"{now}\""));
    let quotes_frame = format!(
        "[{}]",
        (0..FRAME_ROWS)
            .map(|i| format!(
                r#"{{"type":"quote","venue":"bench","symbol":"SYM{:03}USDT","time":{},"bid_price":{},"bid_size":1.5,"ask_price":{},"ask_size":2.25}}"#,
                i % 50,
                now.micros() * 1_000,
                100.0 + i as f64 * 0.01,
                100.02 + i as f64 * 0.01
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut group = c.benchmark_group("push_decoder");
    group.throughput(Throughput::Elements(FRAME_ROWS as u64));
    for (name, frame) in [("ticks_epoch_nanos", &nanos_frame), ("ticks_rfc3339", &rfc3339_frame), ("quotes", &quotes_frame)] {
        let parse = || {
            let mut elements = Frame::open(frame).expect("a valid frame");
            (0..elements.len()).filter(|index| matches!(elements.parse(*index, now).0, Ok(Record::Tick(_) | Record::Quote(_)))).count()
        };
        let split_then_each = || {
            let elements = split_frame(frame).expect("a valid frame");
            elements.iter().filter(|raw| matches!(parse_element(raw, now).0, Ok(Record::Tick(_) | Record::Quote(_)))).count()
        };
        assert_eq!(parse(), FRAME_ROWS, "{name}: every element parses");
        assert_eq!(split_then_each(), FRAME_ROWS, "{name}: every element parses");
        group.bench_function(name, |b| b.iter(parse));
        group.bench_function(format!("{name}/split_then_each"), |b| b.iter(split_then_each));
    }
    group.finish();
}

fn channel(c: &mut Criterion) {
    const ROWS: usize = 100_000;
    let mut market = Market::new(50, 2);
    let ticks: Vec<Tick> = (0..ROWS).map(|i| market.tick(Timestamp(1_795_348_800_000_000 + i as i64))).collect();
    let mut group = c.benchmark_group("channel");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("lane_crossbeam_65536", |b| {
        b.iter_batched(
            || ticks.clone(),
            |rows| {
                let (sender, receiver) = lane::<Sequenced<Tick>>(Table::Ticks, 65_536, usize::MAX, FullPolicy::Block);
                let consumer = std::thread::spawn(move || receiver.iter().count());
                for row in rows {
                    sender.send_blocking(Sequenced::unspooled(row)).expect("the consumer runs");
                }
                drop(sender);
                consumer.join().expect("the consumer thread")
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("lane_crossbeam_65536/runs_of_256", |b| {
        b.iter_batched(
            || ticks.clone(),
            |rows| {
                let (sender, receiver) = lane::<Sequenced<Tick>>(Table::Ticks, 65_536, usize::MAX, FullPolicy::Block);
                let consumer = std::thread::spawn(move || receiver.iter().count());
                let mut rows = rows.into_iter().peekable();
                while rows.peek().is_some() {
                    let mut run: Vec<Sequenced<Tick>> = rows.by_ref().take(256).map(Sequenced::unspooled).collect();
                    // A full lane hands the run back; the push server then routes it row by row.
                    while let Err(back) = sender.try_send_run(run) {
                        run = back;
                        std::thread::yield_now();
                    }
                }
                drop(sender);
                consumer.join().expect("the consumer thread")
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("std_sync_channel_65536", |b| {
        b.iter_batched(
            || ticks.clone(),
            |rows| {
                let (sender, receiver) = std::sync::mpsc::sync_channel::<Sequenced<Tick>>(65_536);
                let consumer = std::thread::spawn(move || receiver.iter().count());
                for row in rows {
                    sender.send(Sequenced::unspooled(row)).expect("the consumer runs");
                }
                drop(sender);
                consumer.join().expect("the consumer thread")
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn batch_encode(c: &mut Criterion) {
    const ROWS: usize = 50_000;
    let start = Timestamp(1_795_348_800_000_000);
    let mut markets = [Market::new(50, 3), Market::new(50, 4)];
    let mut rows = Vec::with_capacity(ROWS);
    for frame in 0..ROWS / FRAME_ROWS {
        // Each connection's frames 900 µs apart; the second's half a frame behind the first.
        let connection = frame % 2;
        let time = Timestamp(start.micros() + (frame / 2) as i64 * 900 - connection as i64 * 450);
        for _ in 0..FRAME_ROWS {
            rows.push(Sequenced::unspooled(markets[connection].tick(time)));
        }
    }
    let partitions = std::sync::Arc::new(hypertick::db::Partitions::new([]));
    let mut group = c.benchmark_group("batch_encode");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, key_order) in [("ticks_50000/key_order", true), ("ticks_50000/as_they_came", false)] {
        let (sender, queue) = hypertick::sink::batch_queue::<Tick>(1);
        let spares = hypertick::sink::Spares::new(1);
        let (mut gathered, mut deliver) = hypertick::sink::encode_stage(Table::Ticks, partitions.clone(), sender, key_order, spares);
        group.bench_function(name, |b| {
            b.iter_batched(
                || rows.clone(),
                |rows| {
                    // As the batcher gathers a batch and the stage sends it; the writer
                    // then gives its buffers back.
                    for row in rows {
                        gathered.push(row);
                    }
                    deliver(&mut gathered).unwrap();
                    let batch = queue.try_lock().unwrap().try_recv().unwrap();
                    assert_eq!(batch.rows.len(), ROWS);
                    let bytes = batch.encoded.bytes.len();
                    batch.spares.clone().unwrap().give_back(batch.rows, batch.sequences, batch.ids, batch.encoded.bytes);
                    bytes
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, decoder, channel, batch_encode);
criterion_main!(benches);
