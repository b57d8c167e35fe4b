//! Parse + normalize rate of each venue adapter (messages/s), on the venue's documented
//! message shapes.
// A benchmark harness: a failure here is a broken setup, and `unwrap` says where.
#![allow(clippy::unwrap_used)]

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use hypertick::config::Channel;
use hypertick::record::Timestamp;
use hypertick::source::alpaca::AlpacaAdapter;
use hypertick::source::binance::BinanceAdapter;
use hypertick::source::bybit::BybitAdapter;
use hypertick::source::coinbase::CoinbaseAdapter;
use hypertick::source::deribit::DeribitAdapter;
use hypertick::source::feed::VenueAdapter;
use hypertick::source::json::JsonAdapter;
use hypertick::source::kraken::KrakenAdapter;
use hypertick::source::okx::OkxAdapter;
use hypertick::source::polygon::PolygonAdapter;

const MESSAGES: u64 = 10_000;

/// Benchmarks one adapter on `messages`: a fresh adapter per iteration (sequence state
/// starts over), fed `setup` first. Every message must parse and the set must yield
/// records, or the figure would measure rejections.
fn bench_messages<A: VenueAdapter>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    new_adapter: impl Fn() -> A,
    setup: &[&str],
    messages: &[String],
    now: Timestamp,
) {
    let run = || {
        let mut adapter = new_adapter();
        for message in setup {
            adapter.parse(message, now).expect("a valid setup message");
        }
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert!(run() > 0, "{name}: the messages yield records");
    group.bench_function(name, |b| b.iter(run));
}

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
    // 24-hour tickers, each a second after the last (an older or equal one is a duplicate).
    let tickers: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"e":"24hrTicker","E":{},"s":"BTCUSDT","p":"1000.{:02}","P":"1.042","w":"96000.0","x":"96000.00","c":"97000.{:02}","Q":"0.01","b":"96999.00","B":"1","a":"97001.00","A":"2","o":"96000.00","h":"98000.00","l":"95000.50","v":"1234.5","q":"119000000.25","O":0,"C":86400000,"F":1,"L":100,"n":100}}"#,
                1_795_348_800_000 + i as i64 * 1_000,
                i % 100,
                i % 100
            )
        })
        .collect();
    let mut check = BinanceAdapter::spot();
    let kept: usize = tickers.iter().map(|text| check.parse(text, now).expect("a valid ticker").records.len()).sum();
    assert_eq!(kept as u64, MESSAGES, "every benchmark ticker is kept");

    let mut group = c.benchmark_group("adapter/binance");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "trade_raw", BinanceAdapter::spot, &[], &trades, now);
    bench_messages(&mut group, "trade_combined", BinanceAdapter::spot, &[], &combined, now);
    bench_messages(&mut group, "book_ticker", BinanceAdapter::spot, &[], &vec![book.to_string(); MESSAGES as usize], now);
    bench_messages(&mut group, "ticker_24h", BinanceAdapter::spot, &[], &tickers, now);
    group.finish();
}

fn bybit(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trade = |i: u64| {
        format!(
            r#"{{"T":1795348800{:03},"s":"BTCUSDT","S":"{}","v":"0.0{:02}","p":"97000.{:02}","L":"PlusTick","i":"21000000000{:08}","BT":false}}"#,
            i % 1000,
            ["Buy", "Sell"][(i % 2) as usize],
            i % 100,
            i % 100,
            i + 1
        )
    };
    // The documented shape: one trade per message, as most pushes carry.
    let single: Vec<String> = (0..MESSAGES)
        .map(|i| format!(r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1795348800{:03},"data":[{}]}}"#, i % 1000, trade(i)))
        .collect();
    // Busy moments: ten trades per message (throughput is still counted in messages).
    let batched: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let trades: Vec<String> = (0..10).map(|j| trade(i * 10 + j)).collect();
            format!(r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1795348800{:03},"data":[{}]}}"#, i % 1000, trades.join(","))
        })
        .collect();
    let book: Vec<String> = (0..MESSAGES)
        .map(|u| {
            format!(
                r#"{{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1795348800001,"data":{{"s":"BTCUSDT","b":[["97000.{:02}","0.5"]],"a":[],"u":{},"seq":{}}},"cts":1795348800000}}"#,
                u % 100,
                u + 2,
                u + 1000
            )
        })
        .collect();
    let snapshot = r#"{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1795348800001,"data":{"s":"BTCUSDT","b":[["97000.00","1"]],"a":[["97000.50","1"]],"u":1,"seq":1000},"cts":1795348800000}"#;
    // Spot tickers, 50 ms apart as Bybit pushes them.
    let tickers: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"topic":"tickers.BTCUSDT","ts":{},"type":"snapshot","cs":2588407389,"data":{{"symbol":"BTCUSDT","lastPrice":"97000.{:02}","highPrice24h":"98000","lowPrice24h":"95000.25","prevPrice24h":"95136.7","volume24h":"6780.866843","turnover24h":"651234567.89","price24hPcnt":"0.0196","usdIndexPrice":"97010.2"}}}}"#,
                1_795_348_800_000 + i * 50,
                i % 100
            )
        })
        .collect();

    // Every message must parse, or the numbers would measure rejections.
    let records = |messages: &[String], adapter: &mut BybitAdapter| {
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert_eq!(records(&single, &mut BybitAdapter::spot()), MESSAGES as usize);
    assert_eq!(records(&batched, &mut BybitAdapter::spot()), 10 * MESSAGES as usize);
    let mut with_snapshot = BybitAdapter::spot();
    with_snapshot.parse(snapshot, now).unwrap();
    assert_eq!(records(&book, &mut with_snapshot), MESSAGES as usize);
    assert_eq!(records(&tickers, &mut BybitAdapter::spot()), MESSAGES as usize);

    let mut group = c.benchmark_group("adapter/bybit");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "public_trade", BybitAdapter::spot, &[], &single, now);
    bench_messages(&mut group, "public_trade_x10", BybitAdapter::spot, &[], &batched, now);
    bench_messages(&mut group, "orderbook_1_delta", BybitAdapter::spot, &[snapshot], &book, now);
    bench_messages(&mut group, "tickers", BybitAdapter::spot, &[], &tickers, now);
    group.finish();
}

fn coinbase(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let matches: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"type":"match","trade_id":{},"sequence":{},"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2026-11-22T12:00:00.{:06}Z","product_id":"BTC-USD","size":"0.0{:02}","price":"97000.{:02}","side":"{}"}}"#,
                i + 1,
                (i + 1) * 3,
                i % 1_000_000,
                i % 100,
                i % 100,
                if i % 2 == 0 { "buy" } else { "sell" }
            )
        })
        .collect();
    let ticker = r#"{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}"#;
    // With quotes and tickers subscribed each ticker yields both; times increase.
    let tickers: Vec<String> = (0..MESSAGES).map(|i| ticker.replace("23:28:22.061769Z", &format!("23:28:22.{:06}Z", i + 1))).collect();
    let quotes_and_tickers = || {
        let mut adapter = CoinbaseAdapter::new();
        adapter.subscriptions(&["ETH-USD".to_string()], &[Channel::Quotes, Channel::Tickers]);
        adapter
    };
    let mut check = quotes_and_tickers();
    let kept: usize = tickers.iter().map(|text| check.parse(text, now).expect("a valid ticker").records.len()).sum();
    assert_eq!(kept as u64, 2 * MESSAGES, "a quote and a ticker from every message");

    let mut group = c.benchmark_group("adapter/coinbase");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "match", CoinbaseAdapter::new, &[], &matches, now);
    bench_messages(&mut group, "ticker", CoinbaseAdapter::new, &[], &vec![ticker.to_string(); MESSAGES as usize], now);
    bench_messages(&mut group, "ticker_with_24h", quotes_and_tickers, &[], &tickers, now);
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
    bench_messages(&mut group, "trade", KrakenAdapter::new, &[], &trades, now);
    bench_messages(&mut group, "ticker", KrakenAdapter::new, &[], &vec![ticker.to_string(); MESSAGES as usize], now);
    group.finish();
}

fn okx(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trade = |i: u64| {
        format!(
            r#"{{"instId":"BTC-USDT","tradeId":"{}","px":"97000.{:02}","sz":"0.0{:02}","side":"{}","ts":"1795348800{:03}","count":"1","source":"0"}}"#,
            130_639_474 + i,
            i % 100,
            i % 100,
            ["buy", "sell"][(i % 2) as usize],
            i % 1000
        )
    };
    // The documented shape: one trade per push, as most pushes carry.
    let single: Vec<String> =
        (0..MESSAGES).map(|i| format!(r#"{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{}]}}"#, trade(i))).collect();
    // Busy moments: ten trades per push (throughput is still counted in messages).
    let batched: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let trades: Vec<String> = (0..10).map(|j| trade(i * 10 + j)).collect();
            format!(r#"{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{}]}}"#, trades.join(","))
        })
        .collect();
    let tickers: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"arg":{{"channel":"tickers","instId":"BTC-USDT"}},"data":[{{"instType":"SPOT","instId":"BTC-USDT","last":"97000.1","lastSz":"0.1","askPx":"97000.{:02}","askSz":"11","bidPx":"96999.{:02}","bidSz":"5","open24h":"96000","high24h":"98000","low24h":"95000","volCcy24h":"2222","vol24h":"2222","sodUtc0":"96100","sodUtc8":"96200","ts":"1795348800{:03}"}}]}}"#,
                i % 100,
                i % 100,
                i % 1000
            )
        })
        .collect();

    // Every message must parse into records, or the numbers would measure rejections or duplicates.
    let records = |messages: &[String]| {
        let mut adapter = OkxAdapter::new();
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert_eq!(records(&single), MESSAGES as usize);
    assert_eq!(records(&batched), 10 * MESSAGES as usize);
    assert_eq!(records(&tickers), MESSAGES as usize);
    // `opt-summary`: the documented element, its ts increasing so no contract repeats.
    // OKX pushes a whole family at once: one contract per push, and ten.
    let summary = |i: u64, strike: u64| {
        format!(
            r#"{{"instType":"OPTION","instId":"BTC-USD-261225-{strike}-C","uly":"BTC-USD","delta":"0.4011","gamma":"1.12","vega":"0.00151","theta":"-0.00063","lever":"18.2","markVol":"0.56{:02}","bidVol":"0.552","askVol":"0.569","realVol":"","deltaBS":"0.42{:02}","gammaBS":"0.0000201","thetaBS":"-61.3","vegaBS":"151.72","ts":"{}","fwdPx":"98210.5","volLv":"0.55"}}"#,
            i % 100,
            i % 100,
            1_795_348_800_000 + i
        )
    };
    let option_push =
        |elements: Vec<String>| format!(r#"{{"arg":{{"channel":"opt-summary","instFamily":"BTC-USD"}},"data":[{}]}}"#, elements.join(","));
    let summaries: Vec<String> = (0..MESSAGES).map(|i| option_push(vec![summary(i, 100_000)])).collect();
    let summaries_x10: Vec<String> =
        (0..MESSAGES).map(|i| option_push((0..10).map(|strike| summary(i, 80_000 + strike * 5_000)).collect())).collect();
    assert_eq!(records(&summaries), MESSAGES as usize);
    assert_eq!(records(&summaries_x10), 10 * MESSAGES as usize);

    let mut group = c.benchmark_group("adapter/okx");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "trades", OkxAdapter::new, &[], &single, now);
    bench_messages(&mut group, "trades_x10", OkxAdapter::new, &[], &batched, now);
    bench_messages(&mut group, "tickers", OkxAdapter::new, &[], &tickers, now);
    bench_messages(&mut group, "option_summary", OkxAdapter::new, &[], &summaries, now);
    bench_messages(&mut group, "option_summary_x10", OkxAdapter::new, &[], &summaries_x10, now);
    group.finish();
}

fn deribit(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trade = |i: u64| {
        format!(
            r#"{{"trade_seq":{},"trade_id":"{}","timestamp":1795348800{:03},"tick_direction":0,"price":97000.{:02},"mark_price":97000.1,"instrument_name":"BTC-PERPETUAL","index_price":97001.2,"direction":"{}","amount":{}}}"#,
            30_289_432 + i,
            48_079_254 + i,
            i % 1000,
            i % 100,
            ["buy", "sell"][(i % 2) as usize],
            10 + i % 100
        )
    };
    // The documented shape: one trade per notification.
    let single: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"trades.BTC-PERPETUAL.raw","data":[{}]}}}}"#,
                trade(i)
            )
        })
        .collect();
    // Busy moments: ten trades per notification (throughput is still counted in messages).
    let batched: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let trades: Vec<String> = (0..10).map(|j| trade(i * 10 + j)).collect();
            format!(
                r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"trades.BTC-PERPETUAL.raw","data":[{}]}}}}"#,
                trades.join(",")
            )
        })
        .collect();
    // An option ticker, with greeks and implied volatilities.
    let tickers: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.BTC-27DEC24-100000-C.100ms","data":{{"timestamp":1795348800{:03},"stats":{{"volume_usd":1000,"volume":1.5,"price_change":1.2,"low":0.04,"high":0.06}},"state":"open","settlement_price":0.05,"open_interest":1.2,"min_price":0.0001,"max_price":0.1,"mark_price":0.0505,"mark_iv":98.6,"last_price":0.05,"interest_rate":0,"instrument_name":"BTC-27DEC24-100000-C","index_price":97000.5,"greeks":{{"vega":1.53,"theta":-2.4,"rho":0.8,"gamma":0.00005,"delta":0.45}},"estimated_delivery_price":97000.5,"bid_iv":95.1,"best_bid_price":0.05{:02},"best_bid_amount":5,"best_ask_price":0.051{:02},"best_ask_amount":3,"ask_iv":101.2,"underlying_price":97100.2,"underlying_index":"BTC-27DEC24"}}}}}}"#,
                i % 1000,
                i % 100,
                i % 100
            )
        })
        .collect();

    // The same option ticker with `options` subscribed: an option quote (greeks, IVs, the
    // contract's parts read from its name) instead of a quote; its timestamp increasing,
    // so none is a duplicate.
    let option_tickers: Vec<String> = tickers
        .iter()
        .enumerate()
        .map(|(i, ticker)| {
            let timestamp = ticker.find(r#""timestamp":"#).expect("a timestamp") + r#""timestamp":"#.len();
            format!("{}{}{}", &ticker[..timestamp], 1_795_348_800_000 + i as u64, &ticker[timestamp + 13..])
        })
        .collect();
    let options_adapter = || {
        let mut adapter = DeribitAdapter::new();
        adapter.subscriptions(&["BTC-27DEC24-100000-C".to_string()], &[Channel::Options]);
        adapter
    };

    // Every message must parse into records, or the numbers would measure rejections or duplicates.
    let records = |adapter: &mut DeribitAdapter, messages: &[String]| {
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert_eq!(records(&mut DeribitAdapter::new(), &single), MESSAGES as usize);
    assert_eq!(records(&mut DeribitAdapter::new(), &batched), 10 * MESSAGES as usize);
    assert_eq!(records(&mut DeribitAdapter::new(), &tickers), MESSAGES as usize);
    assert_eq!(records(&mut options_adapter(), &option_tickers), MESSAGES as usize);

    let mut group = c.benchmark_group("adapter/deribit");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "trades", DeribitAdapter::new, &[], &single, now);
    bench_messages(&mut group, "trades_x10", DeribitAdapter::new, &[], &batched, now);
    bench_messages(&mut group, "ticker", DeribitAdapter::new, &[], &tickers, now);
    bench_messages(&mut group, "option_ticker", options_adapter, &[], &option_tickers, now);
    group.finish();
}

fn alpaca(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trade = |i: u64| {
        format!(
            r#"{{"T":"t","S":"AAPL","i":{},"x":"V","p":187.{:02},"s":{},"c":["@"],"z":"C","t":"2026-11-22T14:30:{:02}.{:09}Z"}}"#,
            52_983_525_029_461 + i,
            i % 100,
            i % 500 + 1,
            i % 60,
            i * 7_919 % 1_000_000_000
        )
    };
    // The documented shape: one trade per array, as quiet moments send.
    let single: Vec<String> = (0..MESSAGES).map(|i| format!("[{}]", trade(i))).collect();
    // Busy moments: ten trades per array (throughput is still counted in messages).
    let batched: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let trades: Vec<String> = (0..10).map(|j| trade(i * 10 + j)).collect();
            format!("[{}]", trades.join(","))
        })
        .collect();
    let quotes: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"[{{"T":"q","S":"AAPL","bx":"V","bp":187.{:02},"bs":3,"ax":"V","ap":188.{:02},"as":2,"c":["R"],"z":"C","t":"2026-11-22T14:30:{:02}.{:09}Z"}}]"#,
                i % 100,
                i % 100,
                i % 60,
                i * 7_919 % 1_000_000_000
            )
        })
        .collect();

    // Every message must parse into records, or the numbers would measure rejections or duplicates.
    let records = |messages: &[String]| {
        let mut adapter = AlpacaAdapter::new("key", "secret");
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert_eq!(records(&single), MESSAGES as usize);
    assert_eq!(records(&batched), 10 * MESSAGES as usize);
    assert_eq!(records(&quotes), MESSAGES as usize);

    let mut group = c.benchmark_group("adapter/alpaca");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "trades", || AlpacaAdapter::new("key", "secret"), &[], &single, now);
    bench_messages(&mut group, "trades_x10", || AlpacaAdapter::new("key", "secret"), &[], &batched, now);
    bench_messages(&mut group, "quotes", || AlpacaAdapter::new("key", "secret"), &[], &quotes, now);
    group.finish();
}

fn polygon(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    let trade = |i: u64| {
        format!(
            r#"{{"ev":"T","sym":"AAPL","x":4,"i":"{}","z":3,"p":187.{:02},"s":{},"c":[0,12],"t":1795348800{:03},"q":{}}}"#,
            52_983_525_029_461 + i,
            i % 100,
            1 + i % 100,
            i % 1000,
            1_000 + 2 * i
        )
    };
    // One trade per message, and busy moments with ten (throughput still counted in messages).
    let single: Vec<String> = (0..MESSAGES).map(|i| format!("[{}]", trade(i))).collect();
    let batched: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let trades: Vec<String> = (0..10).map(|j| trade(i * 10 + j)).collect();
            format!("[{}]", trades.join(","))
        })
        .collect();
    let quotes: Vec<String> = (0..MESSAGES)
        .map(|i| {
            format!(
                r#"[{{"ev":"Q","sym":"AAPL","bx":4,"bp":187.{:02},"bs":2,"ax":7,"ap":188.{:02},"as":3,"c":0,"t":1795348800{:03},"q":{}}}]"#,
                i % 100,
                i % 100,
                i % 1000,
                1_000 + i
            )
        })
        .collect();

    // Every message must parse into records, or the numbers would measure rejections or duplicates.
    let records = |messages: &[String]| {
        let mut adapter = PolygonAdapter::new("bench-key");
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert_eq!(records(&single), MESSAGES as usize);
    assert_eq!(records(&batched), 10 * MESSAGES as usize);
    assert_eq!(records(&quotes), MESSAGES as usize);

    let mut group = c.benchmark_group("adapter/polygon");
    group.throughput(Throughput::Elements(MESSAGES));
    for (name, messages) in [("trades", &single), ("trades_x10", &batched), ("quotes", &quotes)] {
        bench_messages(&mut group, name, || PolygonAdapter::new("bench-key"), &[], messages, now);
    }
    group.finish();
}

/// A json source from the TOML of its `[[sources]]` entry.
fn json_source(toml_text: &str) -> hypertick::config::SourceConfig {
    let text = format!("[database]\nurl = \"postgres://u@h/db\"\n{toml_text}");
    let config = hypertick::app::load_config_str(&text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
    config.sources.into_iter().next().unwrap()
}

fn json(c: &mut Criterion) {
    let now = Timestamp(1_795_348_800_000_000);
    // Binance's raw trade stream described in TOML: the same messages as binance/trade_raw.
    let binance_like = json_source(
        r#"
[[sources]]
kind = "json"
url = "wss://stream.binance.com:9443/ws"
symbols = ["btcusdt"]
[sources.json]
venue = "binance"
subscribe = ['{"method":"SUBSCRIBE","params":["{symbol}@trade"],"id":{id}}']
ack = { present = ["/result"], id = "/id" }
[[sources.json.records]]
table = "ticks"
match = { "/e" = "trade" }
fields = { symbol = "/s", price = "/p", size = "/q", side = "/m", trade_id = "/t", time = "/T" }
time_format = "ms"
side = { buy = false, sell = true }
symbol_rewrite = { split_quote = true }
sequence = "/t"
"#,
    );
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
    // Records under /data, ten per message, RFC 3339 times and string numbers.
    let array_feed = json_source(
        r#"
[[sources]]
kind = "json"
url = "wss://feed.example.net/ws"
symbols = ["BTC/USD"]
[sources.json]
venue = "arrayvenue"
subscribe = ['{"op":"subscribe","channel":"trades","pairs":{symbols}}']
[[sources.json.records]]
table = "ticks"
match = { "/channel" = "trades" }
each = "/data"
fields = { symbol = "/pair", price = "/price", size = "/amount", side = "/side", trade_id = "/id", time = "/time" }
time_format = "rfc3339"
side = { buy = "b", sell = "s" }
symbol_rewrite = { separator = "/" }
"#,
    );
    let batched: Vec<String> = (0..MESSAGES)
        .map(|i| {
            let items: Vec<String> = (0..10)
                .map(|j| {
                    let n = i * 10 + j;
                    format!(
                        r#"{{"pair":"BTC/USD","id":"{}","side":"{}","price":"97000.{:02}","amount":"0.0{:02}","time":"2026-11-22T12:00:{:02}.{:06}Z"}}"#,
                        n + 1,
                        ["b", "s"][(n % 2) as usize],
                        n % 100,
                        n % 100 + 1,
                        n % 60,
                        n * 37 % 1_000_000
                    )
                })
                .collect();
            format!(r#"{{"channel":"trades","data":[{}]}}"#, items.join(","))
        })
        .collect();

    // Every message must parse into records, or the numbers would measure rejections or duplicates.
    let records = |source: &hypertick::config::SourceConfig, messages: &[String]| {
        let mut adapter = JsonAdapter::new(source).unwrap();
        messages.iter().map(|text| adapter.parse(text, now).expect("a valid message").records.len()).sum::<usize>()
    };
    assert_eq!(records(&binance_like, &trades), MESSAGES as usize);
    assert_eq!(records(&array_feed, &batched), 10 * MESSAGES as usize);

    let mut group = c.benchmark_group("adapter/json");
    group.throughput(Throughput::Elements(MESSAGES));
    bench_messages(&mut group, "binance_trade", || JsonAdapter::new(&binance_like).unwrap(), &[], &trades, now);
    bench_messages(&mut group, "data_array_x10", || JsonAdapter::new(&array_feed).unwrap(), &[], &batched, now);
    group.finish();
}

criterion_group!(benches, binance, coinbase, bybit, kraken, okx, deribit, alpaca, polygon, json);
criterion_main!(benches);
