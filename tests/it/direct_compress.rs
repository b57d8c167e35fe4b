//! `write_mode = "direct_compress"` on a native TimescaleDB 2.28: the whole daemon,
//! three writers on `ticks`, rows pushed over websockets.
//!
//! - Every row lands exactly once, and the chunks are in the columnstore as soon as
//!   the rows are committed (no row in a chunk's row store).
//! - Late rows land: into an older chunk that direct compress made (compressed), and
//!   into a chunk that already held rows in its row store (then partially compressed).
//! - `ohlcv_1m` is right after a refresh, including the minutes the late rows fall in:
//!   TimescaleDB records the invalidations of directly compressed rows itself.
//! - Rows the server refuses in a batch are dead-lettered; the rest of the batch lands
//!   once, its COPY parts in the columnstore in its order.
//! - `migrate` refuses the mode on vanilla PostgreSQL and on a table with a unique
//!   key, naming the key; and converges `time_index` (create, drop, then nothing).

use hypertick::app::{self, Daemon};
use hypertick::config::{Config, TableConfig, WriteMode};
use hypertick::record::Timestamp;
use tokio_postgres::Client;

use crate::support::{self, count, push, wait_for_count};

/// 2026-01-05T00:00:00Z.
const DAY_START: i64 = 1_767_571_200_000_000;
const SECOND: i64 = 1_000_000;
const SYMBOLS: [&str; 4] = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT"];

fn direct_compress_config(url: &str) -> Config {
    let mut config = Config::loopback(url);
    config.database.retry_initial_backoff_ms = std::num::NonZeroU64::new(50).unwrap();
    config.database.retry_max_backoff_ms = 500;
    config.tables.ticks = Some(TableConfig {
        write_mode: Some(WriteMode::DirectCompress),
        writers: Some(3),
        batch_max_rows: Some(4_000),
        linger_ms: Some(20),
        partition_hours: Some(24),
        ..TableConfig::default()
    });
    config
}

fn tick(symbol: &str, trade_id: u64, time: i64, price: f64, size: f64) -> String {
    format!(
        r#"{{"type":"tick","venue":"test","symbol":"{symbol}","time":"{}","price":{price},"size":{size},"side":"sell","trade_id":"{trade_id}"}}"#,
        Timestamp(time)
    )
}

/// `per_symbol` ticks of every symbol, one every 250 ms from `start`, with trade ids
/// from `first_id`.
fn ticks_from(start: i64, per_symbol: u64, first_id: u64) -> Vec<String> {
    let mut frames = Vec::new();
    for step in 0..per_symbol {
        for (index, symbol) in SYMBOLS.iter().enumerate() {
            let price = 100.0 * (index + 1) as f64 + (step % 97) as f64 / 4.0;
            frames.push(tick(symbol, first_id + step, start + step as i64 * SECOND / 4, price, 1.0 + (step % 5) as f64));
        }
    }
    frames
}

async fn push_all(socket: &mut support::Socket, ticks: &[String]) {
    for frame in ticks.chunks(1_000) {
        let ack = push(socket, &support::array(frame)).await;
        assert_eq!(ack["accepted"], frame.len(), "{ack}");
    }
}

/// Rows of each chunk of `ticks` still in the row store, and whether it is compressed.
async fn chunk_states(client: &Client) -> Vec<(String, bool, i64)> {
    let chunks = client
        .query(
            "SELECT format('%I.%I', chunk_schema, chunk_name), is_compressed FROM timescaledb_information.chunks
              WHERE hypertable_name = 'ticks' ORDER BY range_start",
            &[],
        )
        .await
        .unwrap();
    let mut states = Vec::new();
    for chunk in chunks {
        let name: String = chunk.get(0);
        let in_row_store = count(client, &format!("SELECT count(*) FROM ONLY {name}")).await;
        states.push((name, chunk.get(1), in_row_store));
    }
    states
}

/// The 1-minute aggregate against the same figures computed from the rows.
async fn assert_ohlcv_matches_ticks(client: &Client) {
    // The refresh policy's own job may be refreshing at the same moment (the server
    // refuses a second refresh of the window then): wait for it, a bounded number of times.
    for attempt in 1.. {
        match client.batch_execute("CALL refresh_continuous_aggregate('ohlcv_1m', NULL, NULL)").await {
            Ok(()) => break,
            Err(error) if attempt < 50 && error.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            Err(error) => panic!("refreshing ohlcv_1m: {error}"),
        }
    }
    let differing = count(
        client,
        "SELECT count(*) FROM (
           (SELECT bucket, venue, symbol, open, high, low, close, volume, trades FROM ohlcv_1m
            EXCEPT
            SELECT time_bucket('1 minute', time), venue, symbol, first(price, time), max(price), min(price),
                   last(price, time), sum(size), count(*) FROM ticks GROUP BY 1, 2, 3)
           UNION ALL
           (SELECT time_bucket('1 minute', time), venue, symbol, first(price, time), max(price), min(price),
                   last(price, time), sum(size), count(*) FROM ticks GROUP BY 1, 2, 3
            EXCEPT
            SELECT bucket, venue, symbol, open, high, low, close, volume, trades FROM ohlcv_1m)) AS difference",
    )
    .await;
    assert_eq!(differing, 0, "ohlcv_1m agrees with the ticks after a refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_compress_lands_every_row_once_compressed_with_late_rows_and_aggregates() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let config = direct_compress_config(&cluster.url("hypertick"));
    app::migrate(&config).await.expect("migrate with direct compress");
    let client = support::sql(&cluster).await;

    // A chunk that already holds rows in its row store before the daemon writes: two
    // days before, written by a plain INSERT.
    let row_store_day = DAY_START - 2 * 86_400 * SECOND;
    client
        .batch_execute(&format!(
            "INSERT INTO ticks (time, received_at, venue, symbol, price, size, side, trade_id)
             SELECT '{}'::timestamptz + n * interval '1 second', now(), 'test', 'BTC-USDT', 90, 1, 0, 'plain-' || n
               FROM generate_series(0, 99) AS n",
            Timestamp(row_store_day)
        ))
        .await
        .unwrap();

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    // The day before, then the day: 2 × 4 × 3000 rows, in frames of 1000.
    let older_day = DAY_START - 86_400 * SECOND;
    push_all(&mut socket, &ticks_from(older_day, 3_000, 0)).await;
    push_all(&mut socket, &ticks_from(DAY_START, 3_000, 10_000)).await;
    let expected = 100 + 2 * 4 * 3_000;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", expected).await, expected);
    assert_eq!(
        count(&client, "SELECT count(*) FROM (SELECT DISTINCT symbol, trade_id FROM ticks) AS distinct_rows").await,
        expected,
        "every row once"
    );

    let states = chunk_states(&client).await;
    assert_eq!(states.len(), 3, "{states:?}");
    for (name, compressed, in_row_store) in &states[1..] {
        assert!(*compressed, "{name} is compressed right after the write: {states:?}");
        assert_eq!(*in_row_store, 0, "{name}: every row went straight into the columnstore");
    }
    let (name, _, in_row_store) = &states[0];
    assert_eq!(*in_row_store, 100, "{name}: the INSERTed rows stay in its row store");
    // The columnstore holds each symbol's rows in batches of at most 1000.
    let compressed = compressed_chunk(&client, &states[1].0).await;
    let row = client
        .query_one(&format!("SELECT count(*), sum(_ts_meta_count)::int8, max(_ts_meta_count)::int8 FROM {compressed}"), &[])
        .await
        .unwrap();
    let (batches, rows, largest): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(rows, 4 * 3_000, "the older day's rows, all in the columnstore");
    assert!(batches >= 12 && largest <= 1_000, "{batches} batches, the largest of {largest} rows");
    // The server does not sort (the writers' session leaves the order to the daemon): each
    // batch holds its rows as the columnstore's `time DESC` order says, its first row the
    // newest and its last the oldest (the first/last sparse index records them as they came).
    assert_eq!(batches_not_newest_first(&client, &compressed).await, 0, "every compressed batch holds its rows newest first");
    // The writer's session TOASTs the compressed batches' values with lz4 where the
    // server has it (pglz otherwise, the server's default).
    let offered: bool = client
        .query_one("SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", &[])
        .await
        .unwrap()
        .get(0);
    let methods: Vec<String> = support::column(
        &client,
        &format!(
            "SELECT DISTINCT pg_column_compression(trade_id) FROM {compressed}
              WHERE pg_column_compression(trade_id) IS NOT NULL"
        ),
    )
    .await;
    assert_eq!(methods, [if offered { "lz4" } else { "pglz" }], "the TOAST compression of the batches' trade ids");
    assert_ohlcv_matches_ticks(&client).await;

    // Late rows: into the older, compressed chunk and into the row-store chunk.
    let late = [
        tick("ETH-USDT", 90_001, older_day + 90 * SECOND + 123, 1_000_000.0, 7.0),
        tick("BTC-USDT", 90_002, row_store_day + 30 * SECOND + 456, 1.0, 3.0),
    ];
    push_all(&mut socket, &late).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", expected + 2).await, expected + 2);
    let states = chunk_states(&client).await;
    assert_eq!(states.len(), 3, "the late rows went into the existing chunks: {states:?}");
    assert!(states.iter().all(|(_, compressed, _)| *compressed), "direct compress compressed the row-store chunk's new row: {states:?}");
    assert_eq!(states[0].2, 100, "the late row went into the columnstore, beside the 100 rows of the row store");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE trade_id IN ('90001', '90002')").await, 2);
    // The refresh picks up the minutes the late rows fall in: the aggregate was
    // materialized before they came, so only an invalidation makes it see them.
    assert_ohlcv_matches_ticks(&client).await;
    let high: f64 = client
        .query_one(
            "SELECT high FROM ohlcv_1m WHERE symbol = 'ETH-USDT' AND bucket = $1::text::timestamptz",
            &[&Timestamp(older_day + 60 * SECOND).to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(high, 1_000_000.0, "the late row's minute was re-materialized");

    drop(socket);
    daemon.stop().await.expect("clean stop");
}

/// The batches of the compressed chunk `compressed` whose first row is not their newest
/// or whose last is not their oldest (the first/last sparse index records the rows as
/// they came; the columnstore's order is `time DESC`).
async fn batches_not_newest_first(client: &Client, compressed: &str) -> i64 {
    count(
        client,
        &format!(
            "SELECT count(*) FROM {compressed}
              WHERE _ts_meta_v2_first_time <> _ts_meta_max_1 OR _ts_meta_v2_last_time <> _ts_meta_min_1"
        ),
    )
    .await
}

/// A file imported into a direct-compress table goes in as the daemon's batches do: each
/// import batch in the columnstore's order (the writers' server sorts nothing), so a
/// file of interleaved symbols in time order lands in large batches, newest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_into_a_direct_compress_table_lands_in_the_columnstore_in_its_order() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let url = cluster.url("hypertick");
    app::migrate(&direct_compress_config(&url)).await.expect("migrate with direct compress");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hypertick.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{url}\"\n[tables.ticks]\nwrite_mode = \"direct_compress\"\n")).unwrap();
    // 4 symbols taking turns, one row every 10 ms: 12 000 rows in time order.
    let mut csv = String::from("time,venue,symbol,price,size,side,trade_id\n");
    for index in 0..12_000u64 {
        let time = Timestamp(DAY_START + index as i64 * SECOND / 100);
        csv.push_str(&format!("{time},test,{},{}.5,1,buy,i{index}\n", SYMBOLS[index as usize % 4], 100 + index % 50));
    }
    let file = dir.path().join("ticks.csv");
    std::fs::write(&file, csv).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hypertick"))
        .args(["import", "--table", "ticks", "--config"])
        .arg(&config)
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let shown = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{shown}");

    let client = support::sql(&cluster).await;
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 12_000, "{shown}");
    let states = chunk_states(&client).await;
    assert_eq!(states.len(), 1, "{states:?}");
    let (chunk, compressed, in_row_store) = &states[0];
    assert!(*compressed && *in_row_store == 0, "every row went straight into the columnstore: {states:?}");
    let compressed = compressed_chunk(&client, chunk).await;
    assert_eq!(batches_not_newest_first(&client, &compressed).await, 0, "every compressed batch holds its rows newest first");
    let batches = count(&client, &format!("SELECT count(*) FROM {compressed}")).await;
    // In arrival order every row would start a batch of its own (the symbol changes at
    // each row); in the columnstore's order a batch holds up to 1000 rows of one symbol.
    assert!(batches <= 100, "{batches} compressed batches for 12 000 rows of 4 symbols");
}

/// Rows the server refuses in a direct-compress batch: the batch is taken apart inside
/// its transaction, the refused rows are dead-lettered, and every other row lands once.
/// The large parts go back in by COPY and so straight into the columnstore, each in its
/// order (newest first, a symbol's rows together: in arrival order every row of these
/// interleaved symbols would start a compressed batch of its own); only the small part
/// holding a refused row goes in row by row, into the chunk's row store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_direct_compress_batch_lands_its_other_rows_in_the_columnstore_in_its_order() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let config = direct_compress_config(&cluster.url("hypertick"));
    app::migrate(&config).await.expect("migrate with direct compress");
    let client = support::sql(&cluster).await;
    client.batch_execute("ALTER TABLE ticks ADD CONSTRAINT sane_price CHECK (price < 1000000)").await.unwrap();
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    // 4 symbols taking turns, 2000 rows in one frame, two of them refused by the CHECK.
    let mut ticks = ticks_from(DAY_START, 500, 0);
    ticks[333] = tick(SYMBOLS[1], 90_001, DAY_START + 83 * SECOND, 5_000_000.0, 1.0);
    ticks[1_555] = tick(SYMBOLS[3], 90_002, DAY_START + 388 * SECOND, 7_000_000.0, 1.0);
    let ack = push(&mut socket, &support::array(&ticks)).await;
    assert_eq!(ack["accepted"], 2_000, "accepted by the protocol: {ack}");
    let refused = "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database'";
    assert_eq!(wait_for_count(&client, refused, 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks", 1_998).await, 1_998);
    assert_eq!(
        count(&client, "SELECT count(*) FROM (SELECT DISTINCT symbol, trade_id FROM ticks) AS distinct_rows").await,
        1_998,
        "every accepted row once"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE price >= 1000000").await, 0);
    let details: Vec<String> = support::column(&client, "SELECT detail FROM dead_letters ORDER BY detail").await;
    assert!(details.iter().all(|detail| detail.contains("sane_price")), "{details:?}");

    let states = chunk_states(&client).await;
    assert_eq!(states.len(), 1, "{states:?}");
    let (chunk, compressed, in_row_store) = &states[0];
    assert!(*compressed, "{states:?}");
    let compressed = compressed_chunk(&client, chunk).await;
    let row = client.query_one(&format!("SELECT count(*), sum(_ts_meta_count)::int8 FROM {compressed}"), &[]).await.unwrap();
    let (batches, in_columnstore): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(in_columnstore + in_row_store, 1_998, "{in_columnstore} rows in the columnstore, {in_row_store} in the row store");
    // Each refused row's part is halved until its halves are at most 256 rows; each half
    // is sent whole by COPY, and only one refused whole goes in row by row: at most one
    // part of 256 rows for each refused row (before, both halves went: 998 rows).
    assert!(*in_row_store <= 2 * 256, "{in_row_store} rows went in row by row");
    assert!(in_columnstore >= 1_998 - 2 * 256, "{in_columnstore} rows went in by COPY");
    assert_eq!(batches_not_newest_first(&client, &compressed).await, 0, "every compressed batch holds its rows newest first");
    // In arrival order, a part's symbols would take turns row by row and each row would
    // start a batch; in the columnstore's order a part holds a symbol's rows together.
    assert!(batches <= 100, "{batches} compressed batches for {in_columnstore} rows");

    drop(socket);
    daemon.stop().await.expect("clean stop");
}

/// The compressed chunk holding `chunk`'s columnstore rows.
async fn compressed_chunk(client: &Client, chunk: &str) -> String {
    client
        .query_one(
            "SELECT format('%I.%I', compressed.schema_name, compressed.table_name)
               FROM _timescaledb_catalog.chunk AS chunk
               JOIN _timescaledb_catalog.chunk AS compressed ON compressed.id = chunk.compressed_chunk_id
              WHERE format('%I.%I', chunk.schema_name, chunk.table_name) = $1",
            &[&chunk],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_converges_the_time_index_and_refuses_direct_compress_where_it_cannot_work() {
    let timescale = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let url = timescale.url("hypertick");
    let client = support::sql(&timescale).await;
    let time_indexes = |table: &'static str| {
        let client = &client;
        async move {
            count(
                client,
                &format!(
                    "SELECT count(*) FROM pg_index JOIN pg_attribute ON attrelid = indrelid AND attnum = indkey[0]
                      WHERE indrelid = '{table}'::regclass AND indnatts = 1 AND attname = 'time'"
                ),
            )
            .await
        }
    };

    let mut config = Config::loopback(&url);
    let first = app::migrate(&config).await.expect("migrate");
    assert!(first.converged.iter().any(|line| line == "ticks: (time DESC) index dropped"), "{:?}", first.converged);
    assert_eq!(time_indexes("ticks").await, 0, "no time index by default");
    assert_eq!(time_indexes("quotes").await, 0);
    assert!(count(&client, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ticks_symbol_time_idx'").await == 1);

    config.tables.ticks = Some(TableConfig { time_index: Some(true), ..TableConfig::default() });
    let with_index = app::migrate(&config).await.expect("migrate with the time index");
    assert_eq!(with_index.converged, ["ticks: (time DESC) index created"]);
    assert_eq!(time_indexes("ticks").await, 1);
    assert!(app::migrate(&config).await.unwrap().converged.is_empty(), "a second migrate changes nothing");
    config.tables.ticks = None;
    assert_eq!(app::migrate(&config).await.unwrap().converged, ["ticks: (time DESC) index dropped"]);
    assert!(app::migrate(&config).await.unwrap().converged.is_empty());

    // A unique key on the table: TimescaleDB would write to the row store, so refused.
    client.batch_execute("CREATE UNIQUE INDEX quotes_unique_probe ON quotes (symbol, time)").await.unwrap();
    config.tables.quotes = Some(TableConfig { write_mode: Some(WriteMode::DirectCompress), ..TableConfig::default() });
    let refused = format!("{:#}", app::migrate(&config).await.expect_err("direct compress refused with a unique key"));
    assert!(refused.contains("tables.quotes.write_mode") && refused.contains("quotes_unique_probe"), "{refused}");
    client.batch_execute("DROP INDEX quotes_unique_probe").await.unwrap();
    app::migrate(&config).await.expect("accepted without the unique key");
    drop(timescale);

    let vanilla = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    let mut config = Config::loopback(&vanilla.url("hypertick"));
    config.tables.ticks = Some(TableConfig { write_mode: Some(WriteMode::DirectCompress), ..TableConfig::default() });
    let refused = format!("{:#}", app::migrate(&config).await.expect_err("direct compress refused on vanilla"));
    assert!(refused.contains("tables.ticks.write_mode") && refused.contains("TimescaleDB"), "{refused}");
    let error = format!("{:#}", Daemon::start(&config).await.err().expect("the daemon does not start either"));
    assert!(error.contains("direct_compress"), "{error}");
}
