//! The TimescaleDB profile on a native TimescaleDB 2.28 (a throwaway cluster that
//! preloads it, see `support::start_timescale_cluster`), and the query cookbook on both
//! profiles.
//!
//! - `migrate` creates exactly what the configuration says — hypertables with their
//!   chunk intervals, columnstore settings, one columnstore and one retention job per
//!   table, the three real-time OHLCV continuous aggregates with refresh policies
//!   starting at the ticks' retention — a second `migrate` changes nothing, and a
//!   changed interval replaces its job.
//! - The same data, written by several COPY writers per table into TimescaleDB and into
//!   vanilla PostgreSQL, gives the same answer to every query of `docs/queries.md`.

use std::sync::Arc;
use std::time::Duration;

use hypertick::app;
use hypertick::config::{Config, TableConfig, WriteMode};
use hypertick::db::{self, Partitions, Profile};
use hypertick::metrics::Stats;
use hypertick::pipeline::{Gather, Sequenced};
use hypertick::record::{
    BookDelta, BookSnapshot, FeedEvent, FundingRate, Liquidation, MarkPrice, OpenInterest, OptionKind, OptionQuote, Quote, Record, Side,
    Table, Tick, Timestamp,
};
use hypertick::sink::{batch_queue, encode_stage, run_writer, CopyRow, Spares, TableWriteSettings, WriterSettings};
use hypertick::source::feed::book::{BookKeeper, BookRules, BookUpdate, Level};
use hypertick::source::feed::Parsed;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::support;

/// 2026-01-05T00:00:00Z, the cookbook's day.
const DAY_START: i64 = 1_767_571_200_000_000;
const SECOND: i64 = 1_000_000;

fn config_for(url: &str) -> Config {
    let mut config = Config::loopback(url);
    config.tables.ticks = Some(TableConfig {
        partition_hours: Some(12),
        columnstore_after_days: Some(3),
        retention_days: Some(400),
        ..TableConfig::default()
    });
    config
}

struct Dataset {
    ticks: Vec<Tick>,
    quotes: Vec<Quote>,
    feed_events: Vec<FeedEvent>,
    option_quotes: Vec<OptionQuote>,
    book_deltas: Vec<BookDelta>,
    book_snapshots: Vec<BookSnapshot>,
    derivatives: Derivatives,
}

/// Three hours of a perpetual on `binance_futures` BTC-USDT: a funding rate published
/// every minute for the next whole hour (hourly funding), mark and index prices every
/// 10 seconds, open interest every minute, and liquidations: scattered ones and a burst
/// of six in the minute 01:42.
struct Derivatives {
    funding: Vec<FundingRate>,
    marks: Vec<MarkPrice>,
    open_interest: Vec<OpenInterest>,
    liquidations: Vec<Liquidation>,
}

fn derivatives() -> Derivatives {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let (venue, symbol) = ("binance_futures".to_string(), "BTC-USDT".to_string());
    let at = |micros: i64| Timestamp(micros);
    let mut data = Derivatives { funding: Vec::new(), marks: Vec::new(), open_interest: Vec::new(), liquidations: Vec::new() };
    let mut mark: f64 = 94_000.0;
    let mut contracts: f64 = 50_000.0;
    for second in (0..3 * 3_600).step_by(10) {
        let time = DAY_START + second * SECOND;
        mark = (mark * (1.0 + (random() - 0.5) * 0.001) * 10.0).round() / 10.0;
        let index = ((mark - 3.0 + random() * 2.0) * 100.0).round() / 100.0;
        data.marks.push(MarkPrice {
            time: at(time),
            received_at: at(time + 1_000),
            venue: venue.clone(),
            symbol: symbol.clone(),
            mark_price: Some(mark),
            index_price: Some(index),
        });
        if second % 60 == 0 {
            let next_hour = DAY_START + (second / 3_600 + 1) * 3_600 * SECOND;
            data.funding.push(FundingRate {
                time: at(time),
                received_at: at(time + 1_000),
                venue: venue.clone(),
                symbol: symbol.clone(),
                rate: ((random() * 2e-4 - 5e-5) * 1e8).round() / 1e8,
                predicted_rate: None,
                next_funding_time: Some(at(next_hour)),
                interval: Some("1h".into()),
            });
            contracts = (contracts + (random() - 0.45) * 400.0).round();
            data.open_interest.push(OpenInterest {
                time: at(time),
                received_at: at(time + 1_000),
                venue: venue.clone(),
                symbol: symbol.clone(),
                contracts: Some(contracts),
                notional: Some(contracts * mark),
            });
        }
        let burst = second / 60 == 102;
        if burst || random() < 0.02 {
            let sell = burst || random() < 0.5;
            data.liquidations.push(Liquidation {
                time: at(time + 7_000),
                received_at: at(time + 8_000),
                venue: venue.clone(),
                symbol: symbol.clone(),
                side: if sell { Side::Sell } else { Side::Buy },
                price: if sell { mark - 15.0 } else { mark + 15.0 },
                quantity: ((random() * 3.0 + 0.1) * 1_000.0).round() / 1_000.0,
                order_id: None,
            });
        }
    }
    data
}

/// Two versions of binance BTC-USDT's specification, the tick size made finer at 01:30,
/// inserted as a venue feed inserts observations (a repeat of the first changes nothing).
const INSTRUMENT_VERSIONS: &str = "
INSERT INTO instrument_specs (venue, symbol, valid_from, venue_symbol, kind, base_currency, quote_currency, tick_size, lot_size, min_notional, status)
VALUES ('binance', 'BTC-USDT', '2026-01-04 00:00:00+00', 'BTCUSDT', 'spot', 'BTC', 'USDT', 0.1, 0.00001, 5, 'trading');
INSERT INTO instrument_specs (venue, symbol, valid_from, venue_symbol, kind, base_currency, quote_currency, tick_size, lot_size, min_notional, status)
VALUES ('binance', 'BTC-USDT', '2026-01-05 00:30:00+00', 'BTCUSDT', 'spot', 'BTC', 'USDT', 0.1, 0.00001, 5, 'trading');
INSERT INTO instrument_specs (venue, symbol, valid_from, venue_symbol, kind, base_currency, quote_currency, tick_size, lot_size, min_notional, status)
VALUES ('binance', 'BTC-USDT', '2026-01-05 01:30:00+00', 'BTCUSDT', 'spot', 'BTC', 'USDT', 0.01, 0.00001, 5, 'trading');";

/// Three hours of trades for three series, quotes for two, feed events with one
/// outage (coinbase, 01:10–01:25, during which it has no trades), and option quotes
/// (see [`option_quotes`]).
fn dataset() -> Dataset {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut ticks = Vec::new();
    for (series, (venue, symbol, start_price)) in
        [("binance", "BTC-USDT", 94_000.0), ("binance", "ETH-USDT", 3_300.0), ("coinbase", "BTC-USDT", 94_010.0)].into_iter().enumerate()
    {
        let mut price: f64 = start_price;
        let mut time = DAY_START + series as i64 * 1_000 + 250_000;
        let mut trade_id = 0;
        while time < DAY_START + 3 * 3_600 * SECOND {
            let in_outage = venue == "coinbase" && (70 * 60 * SECOND..85 * 60 * SECOND).contains(&(time - DAY_START));
            if !in_outage {
                price = (price * (1.0 + (random() - 0.5) * 0.002) * 100.0).round() / 100.0;
                trade_id += 1;
                ticks.push(Tick {
                    time: Timestamp(time),
                    received_at: Timestamp(time + 1_000),
                    venue: venue.into(),
                    symbol: symbol.into(),
                    price,
                    size: ((random() * 2.0 + 0.001) * 1_000.0).round() / 1_000.0,
                    side: if random() < 0.5 { Side::Buy } else { Side::Sell },
                    trade_id: Some(trade_id.to_string().into()),
                });
            }
            time += (3.0 + random() * 8.0) as i64 * SECOND + (random() * 1_000.0) as i64;
        }
    }
    let mut quotes = Vec::new();
    for (venue, symbol, mid) in [("binance", "BTC-USDT", 94_000.0), ("binance", "ETH-USDT", 3_300.0)] {
        let mut time = DAY_START + 500_000;
        while time < DAY_START + 3 * 3_600 * SECOND {
            let spread = (1.0 + (random() * 5.0).round()) * 0.01;
            let center = (mid * (1.0 + (random() - 0.5) * 0.01) * 100.0).round() / 100.0;
            quotes.push(Quote {
                time: Timestamp(time),
                received_at: Timestamp(time + 1_000),
                venue: venue.into(),
                symbol: symbol.into(),
                bid_price: center - spread,
                bid_size: (random() * 10.0 * 100.0).round() / 100.0,
                ask_price: center + spread,
                ask_size: (random() * 10.0 * 100.0).round() / 100.0,
            });
            time += 10 * SECOND;
        }
    }
    let event = |minute: i64, source: &str, kind: &'static str| FeedEvent {
        time: Timestamp(DAY_START + minute * 60 * SECOND),
        received_at: Timestamp(DAY_START + minute * 60 * SECOND),
        source: source.into(),
        kind,
        detail: serde_json::json!({ "note": format!("{kind} at minute {minute}") }),
    };
    let feed_events = vec![
        event(0, "binance", "connected"),
        event(0, "coinbase", "connected"),
        event(70, "coinbase", "disconnected"),
        event(71, "coinbase", "reconnecting"),
        event(85, "coinbase", "connected"),
        event(170, "binance", "disconnected"),
    ];
    let (book_deltas, book_snapshots) = books();
    Dataset { ticks, quotes, feed_events, option_quotes: option_quotes(), book_deltas, book_snapshots, derivatives: derivatives() }
}

/// Consecutive sequence numbers.
struct Consecutive;

impl BookRules for Consecutive {
    fn follows(&self, last: i64, update: &BookUpdate) -> bool {
        update.sequence == last + 1
    }
}

/// Three hours of an OKX BTC-USDT book, as the book keeper stores it: a snapshot of 20
/// levels a side at 00:00:01, then every 2 s an update of three level changes (a fifth
/// remove their level), pictures of the top 10 every minute.
fn books() -> (Vec<BookDelta>, Vec<BookSnapshot>) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let level = |price: f64, size: f64| Level::new(&price.to_string(), &size.to_string(), price, size);
    let mut keeper = BookKeeper::new("okx", Consecutive, 50, 10, 60_000);
    let mut parsed = Parsed::default();
    let update = |sequence: i64, time: i64, bids: Vec<Level>, asks: Vec<Level>| BookUpdate {
        time: Timestamp(time),
        received_at: Timestamp(time + 1_000),
        sequence,
        previous: None,
        bids,
        asks,
        checksum: None,
    };
    let size = |random: &mut dyn FnMut() -> f64| ((random() * 5.0 + 0.01) * 100.0).round() / 100.0;
    let (bids, asks) = (1..=20)
        .map(|step| (level(94_000.0 - step as f64 * 0.5, size(&mut random)), level(94_000.0 + step as f64 * 0.5, size(&mut random))))
        .unzip();
    keeper.snapshot("BTC-USDT", &update(1, DAY_START + SECOND, bids, asks), &mut parsed);
    let mut sequence = 1;
    let mut time = DAY_START + 2 * SECOND;
    while time < DAY_START + 3 * 3_600 * SECOND {
        sequence += 1;
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let step = 1.0 + (random() * 20.0).floor();
            let new_size = if random() < 0.2 { 0.0 } else { size(&mut random) };
            if random() < 0.5 {
                bids.push(level(94_000.0 - step * 0.5, new_size));
            } else {
                asks.push(level(94_000.0 + step * 0.5, new_size));
            }
        }
        keeper.update("BTC-USDT", &update(sequence, time, bids, asks), &mut parsed);
        time += 2 * SECOND;
    }
    assert!(parsed.events.is_empty(), "no break in the generated book: {:?}", parsed.events);
    let (mut deltas, mut pictures) = (Vec::new(), Vec::new());
    for record in parsed.records {
        match record {
            Record::BookDelta(row) => deltas.push(row),
            Record::BookSnapshot(row) => pictures.push(row),
            other => panic!("the keeper made {other:?}"),
        }
    }
    (deltas, pictures)
}

/// Option quotes every 5 minutes for three hours: a Deribit BTC chain (two expiries,
/// three strikes, calls and puts; one put stops quoting at 00:30 and one call never has
/// a bid), an ETH contract and an OKX BTC-USD contract, which a BTC chain leaves out.
fn option_quotes() -> Vec<OptionQuote> {
    let date = |year, month, day| chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap();
    let mut contracts: Vec<(&str, String, String, f64, OptionKind, chrono::NaiveDate)> = Vec::new();
    for (expiry_name, expiration) in [("30JAN26", date(2026, 1, 30)), ("27MAR26", date(2026, 3, 27))] {
        for strike in [90_000.0, 95_000.0, 100_000.0] {
            for (kind, letter) in [(OptionKind::Call, 'C'), (OptionKind::Put, 'P')] {
                contracts.push(("deribit", format!("BTC-{expiry_name}-{strike}-{letter}"), "BTC".into(), strike, kind, expiration));
            }
        }
    }
    contracts.push(("deribit", "ETH-30JAN26-3300-C".into(), "ETH".into(), 3_300.0, OptionKind::Call, date(2026, 1, 30)));
    contracts.push(("okx", "BTC-USD-260130-95000-C".into(), "BTC-USD".into(), 95_000.0, OptionKind::Call, date(2026, 1, 30)));
    let mut quotes = Vec::new();
    for (index, (venue, symbol, underlying, strike, option_type, expiration)) in contracts.into_iter().enumerate() {
        let stops_early = symbol == "BTC-27MAR26-90000-P";
        let never_bid = symbol == "BTC-30JAN26-100000-C";
        for step in 0..36i64 {
            let minute = step * 5;
            if stops_early && minute > 30 {
                break;
            }
            // Contracts quote a few milliseconds apart, so no two rows of one contract tie.
            let time = DAY_START + minute * 60 * SECOND + index as i64 * 1_000;
            let underlying_price = 94_000.0 + minute as f64 * 2.5;
            let moneyness = (underlying_price - strike) / underlying_price;
            let intrinsic = match option_type {
                OptionKind::Call => moneyness.max(0.0),
                OptionKind::Put => (-moneyness).max(0.0),
            };
            let mark = ((intrinsic + 0.02 + index as f64 * 0.001) * 10_000.0).round() / 10_000.0;
            let delta = match option_type {
                OptionKind::Call => 0.5 + moneyness * 5.0,
                OptionKind::Put => -0.5 + moneyness * 5.0,
            };
            quotes.push(OptionQuote {
                time: Timestamp(time),
                received_at: Timestamp(time + 1_000),
                venue: venue.into(),
                symbol: symbol.clone(),
                underlying: underlying.clone(),
                option_type,
                strike,
                expiration,
                bid: (!never_bid).then_some(mark - 0.0005),
                ask: Some(mark + 0.0005),
                last: None,
                mark: Some(mark),
                volume: Some(step as f64 * 0.5),
                open_interest: Some(100.0 + index as f64),
                delta: Some((delta * 10_000.0).round() / 10_000.0),
                gamma: Some(0.00002),
                theta: Some(-50.0 - index as f64),
                vega: Some(120.0 + index as f64),
                rho: None,
                iv: Some(55.0 + index as f64 * 0.25 + step as f64 * 0.01),
                bid_iv: (!never_bid).then_some(54.0 + index as f64 * 0.25),
                ask_iv: Some(56.0 + index as f64 * 0.25),
                underlying_price: Some(underlying_price),
            });
        }
    }
    quotes
}

/// Writers per table: several connections COPY into the same hypertable at once.
const WRITERS: usize = 3;

/// Writes rows through [`WRITERS`] real writers sharing one queue, in batches of 500,
/// then lets them finish.
async fn write_table<R: CopyRow + Clone>(config: &Config, profile: Profile, mode: WriteMode, rows: &[R]) {
    let settings = Arc::new(WriterSettings {
        url: config.database_url().unwrap().to_string(),
        connect_timeout: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        spool: None,
    });
    let partitions = Arc::new(Partitions::new(db::partition_plans(config, profile)));
    let (sender, queue) = batch_queue::<R>(WRITERS);
    let writers: Vec<_> = (0..WRITERS)
        .map(|index| {
            tokio::spawn(run_writer(
                R::TABLE,
                index,
                queue.clone(),
                settings.clone(),
                TableWriteSettings { mode, conflict_key: Vec::new(), record_time_ranges: R::TABLE == Table::Ticks },
                partitions.clone(),
                Stats::new(),
            ))
        })
        .collect();
    let (mut gathered, mut deliver) = encode_stage(R::TABLE, partitions, sender, mode == WriteMode::DirectCompress, Spares::new(2));
    let batches: Vec<Vec<R>> = rows.chunks(500).map(<[R]>::to_vec).collect();
    tokio::task::spawn_blocking(move || {
        for batch in batches {
            for row in batch {
                gathered.push(Sequenced::unspooled(row));
            }
            assert!(deliver(&mut gathered).is_ok(), "the writer took the batch");
        }
    })
    .await
    .unwrap();
    for writer in writers {
        writer.await.unwrap().expect("the writer committed every batch");
    }
}

async fn load(config: &Config, profile: Profile, mode: WriteMode, data: &Dataset) {
    write_table(config, profile, mode, &data.ticks).await;
    write_table(config, profile, mode, &data.quotes).await;
    write_table(config, profile, mode, &data.feed_events).await;
    write_table(config, profile, mode, &data.option_quotes).await;
    write_table(config, profile, mode, &data.book_deltas).await;
    write_table(config, profile, mode, &data.book_snapshots).await;
    write_table(config, profile, mode, &data.derivatives.funding).await;
    write_table(config, profile, mode, &data.derivatives.marks).await;
    write_table(config, profile, mode, &data.derivatives.open_interest).await;
    write_table(config, profile, mode, &data.derivatives.liquidations).await;
    let client = db::connect(config.database_url().unwrap(), Duration::from_secs(20)).await.expect("connect");
    client.batch_execute(INSTRUMENT_VERSIONS).await.expect("instrument versions");
}

type Answer = Vec<Vec<Option<String>>>;

async fn run_cookbook(url: &str, profile: Profile) -> Vec<(String, Answer)> {
    let client = db::connect(url, Duration::from_secs(20)).await.expect("connect");
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    db::aggregates::refresh_ohlcv(&client, profile).await.expect("refresh the aggregates");
    let mut answers = Vec::new();
    for (name, sql) in hypertick::bench::cookbook_queries() {
        let messages = client.simple_query(&sql).await.unwrap_or_else(|error| panic!("{name} on {profile:?}: {error}"));
        let rows: Answer = messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()),
                _ => None,
            })
            .collect();
        answers.push((name, rows));
    }
    answers
}

fn same_cell(left: &Option<String>, right: &Option<String>) -> bool {
    match (left, right) {
        (Some(left), Some(right)) if left != right => match (left.parse::<f64>(), right.parse::<f64>()) {
            // Sums of floats may differ in the last bits with the order of summation.
            (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
            _ => false,
        },
        _ => left == right,
    }
}

async fn assert_catalog(client: &Client) {
    let hypertables: Vec<String> = client
        .query("SELECT hypertable_name::text FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    // The market tables follow the configuration; audit_trail and portfolio_snapshots
    // (the relational side's time series) have fixed settings, see relational_schema.rs.
    assert_eq!(
        hypertables,
        [
            "audit_trail",
            "bars",
            "book_deltas",
            "book_snapshots",
            "feed_events",
            "funding_rates",
            "indicator_values",
            "liquidations",
            "mark_prices",
            "open_interest",
            "options_quotes",
            "portfolio_snapshots",
            "quotes",
            "signals",
            "technical_indicators",
            "tickers",
            "ticks"
        ]
    );

    let intervals: Vec<(String, String)> = client
        .query(
            "SELECT hypertable_name::text, time_interval::text FROM timescaledb_information.dimensions
              WHERE hypertable_schema = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        intervals,
        [
            ("audit_trail", "7 days"),
            ("bars", "7 days"),
            ("book_deltas", "1 day"),
            ("book_snapshots", "1 day"),
            ("feed_events", "1 day"),
            ("funding_rates", "7 days"),
            ("indicator_values", "7 days"),
            ("liquidations", "7 days"),
            ("mark_prices", "1 day"),
            ("open_interest", "7 days"),
            ("options_quotes", "1 day"),
            ("portfolio_snapshots", "7 days"),
            ("quotes", "1 day"),
            ("signals", "7 days"),
            ("technical_indicators", "7 days"),
            ("tickers", "1 day"),
            ("ticks", "12:00:00"),
        ]
        .map(|(t, i)| (t.to_string(), i.to_string()))
    );

    let settings: Vec<(String, String, String)> = client
        .query(
            "SELECT hypertable::text, segmentby, orderby FROM timescaledb_information.hypertable_columnstore_settings
              WHERE hypertable::text NOT LIKE '%materialized%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let expected_settings = [
        ("audit_trail", "entity_type", "\"time\" DESC,id"),
        ("bars", "symbol", "\"time\" DESC"),
        ("book_deltas", "symbol", "\"time\" DESC"),
        ("book_snapshots", "symbol", "\"time\" DESC"),
        ("feed_events", "source", "\"time\" DESC"),
        ("funding_rates", "symbol", "\"time\" DESC"),
        ("indicator_values", "symbol", "\"time\" DESC"),
        ("liquidations", "symbol", "\"time\" DESC"),
        ("mark_prices", "symbol", "\"time\" DESC"),
        ("open_interest", "symbol", "\"time\" DESC"),
        ("options_quotes", "underlying", "\"time\" DESC"),
        ("portfolio_snapshots", "portfolio", "\"time\" DESC"),
        ("quotes", "symbol", "\"time\" DESC"),
        ("signals", "source", "\"time\" DESC"),
        ("technical_indicators", "symbol", "\"time\" DESC"),
        ("tickers", "symbol", "\"time\" DESC"),
        ("ticks", "symbol", "\"time\" DESC"),
    ]
    .map(|(table, segment, order)| (table.to_string(), segment.to_string(), order.to_string()));
    assert_eq!(settings, expected_settings);

    let jobs: Vec<(String, String, String)> = client
        .query(
            "SELECT hypertable_name::text, proc_name::text,
                    coalesce(config->>'compress_after', config->>'drop_after',
                             (config->>'start_offset') || ' .. ' || (config->>'end_offset'))
               FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let expected_jobs = [
        ("audit_trail", "policy_compression", "30 days"),
        ("audit_trail", "policy_retention", "7 years"),
        ("bars", "policy_compression", "30 days"),
        ("book_deltas", "policy_compression", "7 days"),
        ("book_deltas", "policy_retention", "730 days"),
        ("book_snapshots", "policy_compression", "7 days"),
        ("book_snapshots", "policy_retention", "730 days"),
        ("feed_events", "policy_compression", "7 days"),
        ("feed_events", "policy_retention", "90 days"),
        ("funding_rates", "policy_compression", "30 days"),
        ("indicator_values", "policy_compression", "30 days"),
        ("liquidations", "policy_compression", "30 days"),
        ("mark_prices", "policy_compression", "7 days"),
        ("mark_prices", "policy_retention", "730 days"),
        // From the ticks' retention: every invalidation inside it is processed.
        ("ohlcv_1d", "policy_refresh_continuous_aggregate", "400 days .. 1 day"),
        ("ohlcv_1h", "policy_refresh_continuous_aggregate", "400 days .. 01:00:00"),
        ("ohlcv_1m", "policy_refresh_continuous_aggregate", "400 days .. 00:01:00"),
        ("open_interest", "policy_compression", "30 days"),
        ("options_quotes", "policy_compression", "7 days"),
        ("options_quotes", "policy_retention", "730 days"),
        ("portfolio_snapshots", "policy_compression", "30 days"),
        ("portfolio_snapshots", "policy_retention", "7 years"),
        ("quotes", "policy_compression", "7 days"),
        ("quotes", "policy_retention", "730 days"),
        ("signals", "policy_compression", "30 days"),
        ("technical_indicators", "policy_compression", "30 days"),
        ("tickers", "policy_compression", "7 days"),
        ("tickers", "policy_retention", "730 days"),
        ("ticks", "policy_compression", "3 days"),
        ("ticks", "policy_retention", "400 days"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(jobs, expected_jobs, "one columnstore and one retention job per table, one refresh job per aggregate");

    let aggregates: Vec<(String, bool)> = client
        .query("SELECT view_name::text, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let real_time = ["ohlcv_1d", "ohlcv_1h", "ohlcv_1m"].map(|name| (name.to_string(), false));
    assert_eq!(aggregates, real_time, "real-time aggregation answers the newest buckets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescaledb_profile_converges_and_the_cookbook_agrees_on_both_profiles() {
    let data = dataset();
    let timescale = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let config = config_for(&timescale.url("hypertick"));

    let first = app::migrate(&config).await.expect("migrate on TimescaleDB");
    assert_eq!(first.profile, Profile::TimescaleDb, "auto picks TimescaleDB when the extension is there");
    assert!(!first.converged.is_empty());
    {
        let client = db::connect(&timescale.url("hypertick"), Duration::from_secs(20)).await.unwrap();
        assert_catalog(&client).await;
    }
    let second = app::migrate(&config).await.expect("second migrate");
    assert!(second.migrations.applied.is_empty());
    assert!(second.converged.is_empty(), "a second migrate changes nothing: {:?}", second.converged);

    // Jobs paused (as the bench pauses them) stay paused through a migrate, which keeps
    // a matching job as it is, and are scheduled again by `resume_jobs`.
    {
        let client = db::connect(&timescale.url("hypertick"), Duration::from_secs(20)).await.unwrap();
        let scheduled = "SELECT count(*) FROM timescaledb_information.jobs WHERE job_id >= 1000 AND scheduled";
        let before: i64 = client.query_one(scheduled, &[]).await.unwrap().get(0);
        let paused = db::pause_jobs(&client).await.expect("pausing the jobs");
        assert_eq!(paused.len() as i64, before, "every scheduled job is paused: {paused:?}");
        assert!(before >= 3, "the aggregates' refresh policies at least: {before}");
        assert_eq!(client.query_one(scheduled, &[]).await.unwrap().get::<_, i64>(0), 0);
        let during = app::migrate(&config).await.expect("migrate with the jobs paused");
        assert!(during.converged.is_empty(), "paused jobs are left as they are: {:?}", during.converged);
        assert_eq!(client.query_one(scheduled, &[]).await.unwrap().get::<_, i64>(0), 0, "still paused after migrate");
        assert_eq!(db::resume_jobs(&client, &paused).await.expect("resuming"), 0, "none was scheduled by anything else");
        assert_eq!(client.query_one(scheduled, &[]).await.unwrap().get::<_, i64>(0), before);
    }

    // A changed interval replaces its job rather than adding one.
    let mut changed = config.clone();
    changed.tables.ticks.as_mut().unwrap().columnstore_after_days = Some(5);
    let third = app::migrate(&changed).await.expect("migrate with a changed interval");
    assert_eq!(third.converged, ["ticks: columnstore after 5 days"]);
    {
        let client = db::connect(&timescale.url("hypertick"), Duration::from_secs(20)).await.unwrap();
        let jobs: Vec<String> = support::column(
            &client,
            "SELECT config->>'compress_after' FROM timescaledb_information.jobs
              WHERE hypertable_name = 'ticks' AND proc_name = 'policy_compression'",
        )
        .await;
        assert_eq!(jobs, ["5 days"]);
    }
    app::migrate(&config).await.expect("back to the original interval");

    // Writers retry connection faults; a crashed server must fail the test, not hang it.
    tokio::time::timeout(Duration::from_secs(180), load(&config, Profile::TimescaleDb, WriteMode::Copy, &data))
        .await
        .expect("rows written to TimescaleDB within 3 minutes");
    let timescale_answers = run_cookbook(&timescale.url("hypertick"), Profile::TimescaleDb).await;
    drop(timescale);

    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    let vanilla_config = config_for(&cluster.url("hypertick"));
    assert_eq!(app::migrate(&vanilla_config).await.unwrap().profile, Profile::Vanilla);
    tokio::time::timeout(Duration::from_secs(180), load(&vanilla_config, Profile::Vanilla, WriteMode::Copy, &data))
        .await
        .expect("rows written to PostgreSQL within 3 minutes");
    let vanilla_answers = run_cookbook(&cluster.url("hypertick"), Profile::Vanilla).await;

    assert_eq!(timescale_answers.len(), vanilla_answers.len());
    assert!(timescale_answers.len() >= 10, "every cookbook query ran");
    for ((name, timescale_rows), (_, vanilla_rows)) in timescale_answers.iter().zip(&vanilla_answers) {
        assert!(!timescale_rows.is_empty(), "{name}: no rows");
        assert_eq!(timescale_rows.len(), vanilla_rows.len(), "{name}: row counts differ");
        for (row_index, (left, right)) in timescale_rows.iter().zip(vanilla_rows).enumerate() {
            let agree = left.len() == right.len() && left.iter().zip(right).all(|(a, b)| same_cell(a, b));
            assert!(agree, "{name}, row {row_index}:\n timescaledb {left:?}\n vanilla     {right:?}");
        }
    }
    let rows_per_hour = vanilla_answers.iter().find(|(name, _)| name == "Rows per venue per hour").unwrap();
    let total: i64 = rows_per_hour.1.iter().map(|row| row[2].as_ref().unwrap().parse::<i64>().unwrap()).sum();
    assert_eq!(total as usize, data.ticks.len(), "every tick landed");
    // The microprice query's own answer: the generated book at 02:00, level by level.
    let at = DAY_START + 2 * 3_600 * SECOND;
    let mut sides: [std::collections::BTreeMap<i64, (f64, f64)>; 2] = Default::default();
    for row in data.book_deltas.iter().filter(|row| row.time.micros() <= at) {
        let side = &mut sides[usize::from(row.side == hypertick::record::BookSide::Ask)];
        let key = (row.price * 100.0).round() as i64;
        if row.size == 0.0 {
            side.remove(&key);
        } else {
            side.insert(key, (row.price, row.size));
        }
    }
    let ((bid, bid_size), (ask, ask_size)) = (*sides[0].last_key_value().unwrap().1, *sides[1].first_key_value().unwrap().1);
    let microprice = vanilla_answers.iter().find(|(name, _)| name == "Microprice at an instant").unwrap();
    let answer: Vec<f64> = microprice.1[0].iter().map(|cell| cell.as_deref().unwrap().parse().unwrap()).collect();
    assert_eq!(answer.len(), 3);
    assert_eq!((answer[0], answer[1]), (bid, ask));
    assert!((answer[2] - (bid * ask_size + ask * bid_size) / (bid_size + ask_size)).abs() < 1e-9, "{answer:?}");
    // The chain query's own answer, beyond the two profiles agreeing: the BTC contracts
    // with a quote in the hour before 02:00, each with its last quote before then.
    let chain = vanilla_answers.iter().find(|(name, _)| name == "The chain of one underlying at a given time").unwrap();
    let number = |cell: &Option<String>| cell.as_deref().map(|text| text.parse::<f64>().unwrap());
    let answered: Vec<(&str, Option<f64>, Option<f64>)> =
        chain.1.iter().map(|row| (row[1].as_deref().unwrap(), number(&row[6]), number(&row[9]))).collect();
    let expected: Vec<(&str, Option<f64>, Option<f64>)> = [
        "BTC-30JAN26-90000-C",
        "BTC-30JAN26-90000-P",
        "BTC-30JAN26-95000-C",
        "BTC-30JAN26-95000-P",
        "BTC-30JAN26-100000-C",
        "BTC-30JAN26-100000-P",
        "BTC-27MAR26-90000-C",
        "BTC-27MAR26-95000-C",
        "BTC-27MAR26-95000-P",
        "BTC-27MAR26-100000-C",
        "BTC-27MAR26-100000-P",
    ]
    .into_iter()
    .map(|symbol| {
        let last = data.option_quotes.iter().rev().find(|quote| quote.symbol == symbol && quote.time.micros() <= at).unwrap();
        (symbol, last.bid, last.iv)
    })
    .collect();
    assert_eq!(
        answered, expected,
        "by expiry, strike, call/put, each contract's last quote; the put last quoted at 00:30 is out, ETH and OKX's BTC-USD are other underlyings"
    );
    // The funding query's own answer: at each hour, the last rate published for it and
    // the mark's return over the hour less that rate.
    let funding = vanilla_answers.iter().find(|(name, _)| name == "Funding-adjusted returns").unwrap();
    let derivatives = &data.derivatives;
    let hours: Vec<i64> = (1..=3).map(|hour| DAY_START + hour * 3_600 * SECOND).collect();
    assert_eq!(funding.1.len(), hours.len(), "{:?}", funding.1);
    let mark_at = |instant: i64| derivatives.marks.iter().rev().find(|row| row.time.micros() <= instant).unwrap().mark_price.unwrap();
    for (row, (index, hour)) in funding.1.iter().zip(hours.iter().enumerate()) {
        let paid = derivatives.funding.iter().rev().find(|row| row.next_funding_time == Some(Timestamp(*hour))).unwrap().rate;
        assert_eq!(number(&row[1]), Some(paid));
        assert_eq!(number(&row[2]), Some(mark_at(*hour)));
        let previous = if index == 0 { DAY_START } else { hours[index - 1] };
        let expected = mark_at(*hour) / mark_at(previous) - 1.0 - paid;
        assert!((number(&row[4]).unwrap() - expected).abs() < 1e-12, "{row:?} vs {expected}");
    }
    // The liquidation burst is the one minute with three or more.
    let clusters = vanilla_answers.iter().find(|(name, _)| name == "Liquidations clustered by minute").unwrap();
    assert_eq!(clusters.1.len(), 1, "{:?}", clusters.1);
    assert_eq!((clusters.1[0][0].as_deref(), clusters.1[0][1].as_deref()), (Some("2026-01-05 01:42:00+00"), Some("6")));
    // The point-in-time join: trades before 01:30 are judged by the 0.1 tick, later ones by 0.01.
    let grid = vanilla_answers.iter().find(|(name, _)| name == "Trades off the tick grid of their time").unwrap();
    let off_grid = |from: i64, to: i64, tick: f64| {
        data.ticks
            .iter()
            .filter(|tick| tick.venue == "binance" && tick.symbol == "BTC-USDT")
            .filter(|tick| (from..to).contains(&tick.time.micros()))
            .filter(|row| ((row.price / tick).round() * tick - row.price).abs() > 1e-6)
            .count()
    };
    let half_past_one = DAY_START + 90 * 60 * SECOND;
    let expected_off: Vec<(String, usize)> = vec![
        ("0.1".into(), off_grid(DAY_START, half_past_one, 0.1)),
        ("0.01".into(), off_grid(half_past_one, DAY_START + 3 * 3_600 * SECOND, 0.01)),
    ];
    let answered_off: Vec<(String, usize)> =
        grid.1.iter().map(|row| (row[0].clone().unwrap(), row[2].as_deref().unwrap().parse().unwrap())).collect();
    assert_eq!(answered_off, expected_off);
    assert!(expected_off[0].1 > 0, "the generated prices have cents, off the 0.1 grid");
}

/// `count` ticks of `symbols` symbols, `age_days` old, a millisecond apart from
/// `offset`, with prices in eighths (exact in binary) and unique trade ids from `first_id`.
fn aged_ticks(age_days: i64, offset: i64, first_id: u64, count: u64) -> Vec<String> {
    let start = hypertick::record::Timestamp::now().micros() - age_days * 86_400 * SECOND;
    (0..count)
        .map(|i| {
            let id = first_id + i;
            let nanos = (start + offset + i as i64 * 1_000) * 1_000;
            format!(
                r#"{{"type":"tick","venue":"test","symbol":"S{}","time":{nanos},"price":{},"size":0.5,"side":"sell","trade_id":"{id}"}}"#,
                id % 4,
                100.0 + (id % 800) as f64 / 8.0
            )
        })
        .collect()
}

async fn push_all(socket: &mut support::Socket, ticks: &[String]) {
    for frame in ticks.chunks(500) {
        let ack = support::push(socket, &support::array(frame)).await;
        assert_eq!(ack["accepted"], frame.len(), "{ack}");
    }
}

/// The whole daemon on the native server, three COPY writers into `ticks`: the
/// columnstore job compresses the chunk, late rows go into the compressed chunk through
/// the same COPY, and every row is there once with its values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_copies_into_hypertables_and_late_rows_reach_compressed_chunks() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let mut config = support::config_for(&cluster);
    config.tables.ticks =
        Some(TableConfig { partition_hours: Some(24), columnstore_after_days: Some(3), writers: Some(3), ..TableConfig::default() });
    let daemon = hypertick::app::Daemon::start(&config).await.expect("daemon starts on TimescaleDB");
    let client = support::sql(&cluster).await;
    let profile: i64 = support::count(&client, "SELECT count(*) FROM schema_migrations WHERE id LIKE 'timescaledb/%'").await;
    assert!(profile > 0, "migrated with the TimescaleDB profile");

    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let first = aged_ticks(5, 0, 0, 20_000);
    push_all(&mut socket, &first).await;
    assert_eq!(support::wait_for_count(&client, "SELECT count(*) FROM ticks", 20_000).await, 20_000);
    let writers = support::count(&client, "SELECT count(DISTINCT stream) FROM ingest_offsets WHERE stream LIKE 'ticks/%'").await;
    assert!(writers >= 2, "several writers committed ({writers})");

    // The columnstore job, run now as the scheduler would.
    let job: i32 = client
        .query_one(
            "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_name = 'ticks' AND proc_name = 'policy_compression'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client.execute("CALL run_job($1)", &[&job]).await.expect("the columnstore job runs");
    let compressed = "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'ticks' AND is_compressed";
    assert!(support::count(&client, compressed).await >= 1, "the 5-day-old chunk is in the columnstore");
    let chunks = "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'ticks'";
    let chunks_before = support::count(&client, chunks).await;

    // Late rows, in the same hours as the compressed ones (interleaved), through the daemon.
    let late = aged_ticks(5, 500, 20_000, 5_000);
    push_all(&mut socket, &late).await;
    assert_eq!(support::wait_for_count(&client, "SELECT count(*) FROM ticks", 25_000).await, 25_000);
    let row = client
        .query_one("SELECT count(DISTINCT trade_id), sum(price)::float8, sum(size)::float8, min(side), max(side) FROM ticks", &[])
        .await
        .unwrap();
    let expected_sum: f64 = (0..25_000u64).map(|id| 100.0 + (id % 800) as f64 / 8.0).sum();
    assert_eq!(row.get::<_, i64>(0), 25_000, "every trade once");
    assert_eq!(row.get::<_, f64>(1), expected_sum, "prices exact");
    assert_eq!(row.get::<_, f64>(2), 12_500.0);
    assert_eq!((row.get::<_, i16>(3), row.get::<_, i16>(4)), (-1, -1));
    // The chunks that hold them are the compressed ones (now partially: status bit 8),
    // not new chunks beside them.
    let partial = "SELECT count(*) FROM timescaledb_information.chunks c
                     JOIN _timescaledb_catalog.chunk k ON k.table_name = c.chunk_name
                    WHERE c.hypertable_name = 'ticks' AND c.is_compressed AND k.status & 8 = 8";
    assert_eq!(support::count(&client, chunks).await, chunks_before, "no new chunk for the late rows");
    assert!(support::count(&client, partial).await >= 1, "the late rows went into a compressed chunk");
    client.execute("CALL run_job($1)", &[&job]).await.expect("the columnstore job runs again");
    assert_eq!(support::count(&client, partial).await, 0, "the job folded the late rows into the columnstore");
    assert_eq!(support::count(&client, "SELECT count(*) FROM ticks").await, 25_000);
    daemon.stop().await.expect("the daemon stops cleanly");
}
