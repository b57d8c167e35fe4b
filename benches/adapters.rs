//! Parse + normalize rate of each venue adapter (messages/s), on the venue's documented
//! message shapes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hypertick::record::Timestamp;
use hypertick::source::binance::BinanceAdapter;
use hypertick::source::feed::VenueAdapter;
use hypertick::source::kraken::KrakenAdapter;

const MESSAGES: u64 = 10_000;

fn binance(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trades: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"e":"trade","E":1795348800{:03},"s":"BTCUSDT","t":{},"p":"97000.{:02}","q":"0.0{:02}","T":1795348800{:03},"m":{},"M":true}}"#,
                i % 1000,
                i + 1,
                i % 100,
                i % 100,
                i % 1000,
                i % 2 == 0
            )
        })
        .collect();
    let combined: Vec<String> = trades.iter().map(|trade| format!(r#"{{"stream":"btcusdt@trade","data":{trade}}}"#)).collect();
    let book = r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;

    let mut group = c.benchmark_group("adapter/binance");
    group.throughput(Throughput::Elements(MESSAGES));
    group.bench_function("trade_raw", |b| {
        b.iter(|| {
            let mut adapter = BinanceAdapter::spot();
            trades.iter().map(|text| adapter.parse(text, now).map(|p| p.records.len()).unwrap_or(0)).sum::<usize>()
        })
    });
    group.bench_function("trade_combined", |b| {
        b.iter(|| {
            let mut adapter = BinanceAdapter::spot();
            combined.iter().map(|text| adapter.parse(text, now).map(|p| p.records.len()).unwrap_or(0)).sum::<usize>()
        })
    });
    group.bench_function("book_ticker", |b| {
        b.iter(|| {
            let mut adapter = BinanceAdapter::spot();
            (0..MESSAGES).map(|_| adapter.parse(book, now).map(|p| p.records.len()).unwrap_or(0)).sum::<usize>()
        })
    });
    group.finish();
}

fn kraken(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trades: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"channel":"trade","type":"update","data":[{{"symbol":"BTC/USD","side":"{}","price":97000.{:02},"qty":0.0{:02},"ord_type":"limit","trade_id":{},"timestamp":"2026-11-22T12:00:{:02}.{:06}Z"}}]}}"#,
                if i % 2 == 0 { "buy" } else { "sell" },
                i % 100,
                i % 100 + 1,
                i + 1,
                i % 60,
                i * 37 % 1_000_000
            )
        })
        .collect();
    let ticker = r#"{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2026-11-22T12:00:00.742648Z"}]}"#;

    let mut check = KrakenAdapter::new();
    let parsed: usize = trades.iter().map(|text| check.parse(text, now).expect("a valid trade message").records.len()).sum();
    assert_eq!(parsed as u64, MESSAGES, "every benchmark trade is kept");

    let mut group = c.benchmark_group("adapter/kraken");
    group.throughput(Throughput::Elements(MESSAGES));
    group.bench_function("trade", |b| {
        b.iter(|| {
            let mut adapter = KrakenAdapter::new();
            trades.iter().map(|text| adapter.parse(text, now).map(|p| p.records.len()).unwrap_or(0)).sum::<usize>()
        })
    });
    group.bench_function("ticker", |b| {
        b.iter(|| {
            let mut adapter = KrakenAdapter::new();
            (0..MESSAGES).map(|_| adapter.parse(ticker, now).map(|p| p.records.len()).unwrap_or(0)).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, binance, kraken);
criterion_main!(benches);
