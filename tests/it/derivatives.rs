//! Derivatives data and instrument reference data stored and read back, on both
//! profiles: `funding`, `open_interest`, `mark_price` and `liquidation` records pushed to
//! a running daemon land in their tables exactly (hostile ones refused, each for its own
//! reason), and `instrument_specs` rows sent as the venue feeds send them (`row` inserts)
//! become versions: an equal observation changes nothing, a changed one closes the
//! current version and opens the next, an older one is dropped, and
//! `instrument_spec_at` reads the version of any instant.

use hypertick::app::Daemon;
use hypertick::config::ProfileChoice;
use hypertick::db::throwaway::ThrowawayCluster;
use hypertick::record::{InstrumentKind, InstrumentSpec, InstrumentStatus, Timestamp};

use crate::support::{self, array, push, refused_indexes, wait_for_count};

const SECOND: i64 = 1_000_000;

/// The text form of every column of the query's rows.
async fn rows_text(client: &tokio_postgres::Client, query: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(query)
        .await
        .expect(query)
        .into_iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

/// Expected rows: `NULL` is a NULL, and `DAY` stands for the first day of this year.
fn texts(day: &str, rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    rows.iter().map(|row| row.iter().map(|cell| if *cell == "NULL" { None } else { Some(cell.replace("DAY", day)) }).collect()).collect()
}

fn spec_row(spec: &InstrumentSpec, received_at: Timestamp) -> String {
    let row = spec.version_row(received_at);
    format!(r#"{{"type":"row","table":"instrument_specs","op":"insert","row":{}}}"#, row.json)
}

async fn derivatives_read_back(cluster: &ThrowawayCluster, profile: ProfileChoice) {
    let mut config = support::config_for(cluster);
    config.schema.profile = profile;
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    // Seconds after the start of this year (inside every table's retention), as
    // PostgreSQL writes them in UTC.
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let start = chrono::NaiveDate::from_ymd_opt(year, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let t = |seconds: i64| Timestamp((start + seconds) * SECOND);
    let day = format!("{year}-01-01");

    let frame = array(&[
        format!(
            r#"{{"type":"funding","venue":"v","symbol":"BTC-PERP","time":"{}","rate":0.0001,"predicted_rate":"-0.00005","next_funding_time":"{}","interval":"8h"}}"#,
            t(0),
            t(28_800)
        ),
        format!(r#"{{"type":"funding","venue":"v","symbol":"ETH-PERP","time":"{}","rate":-0.0002}}"#, t(1)),
        format!(
            r#"{{"type":"open_interest","venue":"v","symbol":"BTC-PERP","time":"{}","contracts":1234.5,"notional":"81234567.25"}}"#,
            t(2)
        ),
        format!(r#"{{"type":"open_interest","venue":"v","symbol":"BTC-PERP","time":"{}","notional":9}}"#, t(3)),
        format!(r#"{{"type":"mark_price","venue":"v","symbol":"BTC-PERP","time":"{}","mark_price":65000.5,"index_price":64990.25}}"#, t(4)),
        format!(r#"{{"type":"mark_price","venue":"v","symbol":"BTC-USD","time":"{}","index_price":64991}}"#, t(5)),
        format!(
            r#"{{"type":"liquidation","venue":"v","symbol":"BTC-PERP","time":"{}","side":"sell","price":64000,"quantity":0.5,"order_id":"L1"}}"#,
            t(6)
        ),
        format!(r#"{{"type":"liquidation","venue":"v","symbol":"BTC-PERP","time":"{}","side":"buy","price":"66000","quantity":2}}"#, t(7)),
    ]);
    let ack = push(&mut socket, &frame).await;
    assert_eq!(ack["accepted"], 8, "{ack}");

    let refused = array(&[
        format!(r#"{{"type":"funding","venue":"v","symbol":"X","time":"{}"}}"#, t(9)),
        format!(r#"{{"type":"funding","venue":"v","symbol":"X","time":"{}","rate":0.1,"interval":"eight hours"}}"#, t(9)),
        format!(r#"{{"type":"open_interest","venue":"v","symbol":"X","time":"{}"}}"#, t(9)),
        format!(r#"{{"type":"open_interest","venue":"v","symbol":"X","time":"{}","contracts":-1}}"#, t(9)),
        format!(r#"{{"type":"mark_price","venue":"v","symbol":"X","time":"{}","mark":1}}"#, t(9)),
        format!(r#"{{"type":"liquidation","venue":"v","symbol":"X","time":"{}","side":"long","price":1,"quantity":1}}"#, t(9)),
        format!(r#"{{"type":"liquidation","venue":"v","symbol":"X","time":"{}","side":"buy","price":1,"quantity":0}}"#, t(9)),
    ]);
    let ack = push(&mut socket, &refused).await;
    assert_eq!(ack["accepted"], 0, "{ack}");
    assert_eq!(refused_indexes(&ack), (0..7).collect(), "{ack}");
    let messages = ack["rejected"].to_string();
    for expected in ["`rate`", "`interval`", "`contracts` or `notional`", "`contracts`", "`mark`", "liquidation order's side", "`quantity`"]
    {
        assert!(messages.contains(expected), "{expected} in {messages}");
    }

    // Versions of one instrument, sent as a venue feed sends them.
    let mut spec = InstrumentSpec::new("v", "BTC-PERP", "BTCPERP", InstrumentKind::Perpetual, InstrumentStatus::Trading);
    spec.contract_type = Some(hypertick::record::ContractType::Linear);
    spec.settle_currency = Some("USDT".into());
    spec.tick_size = Some(0.1);
    spec.lot_size = Some(0.001);
    spec.min_notional = Some(5.0);
    spec.contract_size = Some(1.0);
    let mut finer = spec.clone();
    finer.tick_size = Some(0.01);
    let mut halted = finer.clone();
    halted.status = InstrumentStatus::Halted;
    let versions = [
        spec_row(&spec, t(100)),
        spec_row(&spec, t(200)),   // equal: nothing
        spec_row(&finer, t(300)),  // the tick size changes: a new version
        spec_row(&halted, t(250)), // older than the current version: dropped
    ];
    for version in &versions {
        assert_eq!(push(&mut socket, version).await["accepted"], 1);
    }
    // Sent on its own, so it is surely after the others.
    let client = support::sql(cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 2).await, 2);
    assert_eq!(push(&mut socket, &spec_row(&halted, t(400))).await["accepted"], 1);

    // Each table has its own lane and writers: one table's rows landing says nothing of another's.
    for table in ["funding_rates", "open_interest", "mark_prices", "liquidations"] {
        assert_eq!(wait_for_count(&client, &format!("SELECT count(*) FROM {table}"), 2).await, 2, "{table}");
    }
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM instrument_specs", 3).await, 3);
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    assert_eq!(
        rows_text(&client, "SELECT time, symbol, rate, predicted_rate, next_funding_time, interval FROM funding_rates ORDER BY time").await,
        texts(
            &day,
            &[
                &["DAY 00:00:00+00", "BTC-PERP", "0.0001", "-5e-05", "DAY 08:00:00+00", "8h"],
                &["DAY 00:00:01+00", "ETH-PERP", "-0.0002", "NULL", "NULL", "NULL"],
            ]
        )
    );
    assert_eq!(
        rows_text(&client, "SELECT time, symbol, contracts, notional FROM open_interest ORDER BY time").await,
        texts(&day, &[&["DAY 00:00:02+00", "BTC-PERP", "1234.5", "81234567.25"], &["DAY 00:00:03+00", "BTC-PERP", "NULL", "9"]])
    );
    assert_eq!(
        rows_text(&client, "SELECT time, symbol, mark_price, index_price FROM mark_prices ORDER BY time").await,
        texts(&day, &[&["DAY 00:00:04+00", "BTC-PERP", "65000.5", "64990.25"], &["DAY 00:00:05+00", "BTC-USD", "NULL", "64991"]])
    );
    assert_eq!(
        rows_text(&client, "SELECT time, symbol, side, price, quantity, order_id FROM liquidations ORDER BY time").await,
        texts(
            &day,
            &[&["DAY 00:00:06+00", "BTC-PERP", "-1", "64000", "0.5", "L1"], &["DAY 00:00:07+00", "BTC-PERP", "1", "66000", "2", "NULL"]]
        )
    );

    assert_eq!(
        rows_text(&client, "SELECT valid_from, valid_to, tick_size, status FROM instrument_specs ORDER BY valid_from").await,
        texts(
            &day,
            &[
                &["DAY 00:01:40+00", "DAY 00:05:00+00", "0.1", "trading"],
                &["DAY 00:05:00+00", "DAY 00:06:40+00", "0.01", "trading"],
                &["DAY 00:06:40+00", "NULL", "0.01", "halted"],
            ]
        ),
        "an equal observation and an older one change nothing; each change closes the version before it"
    );
    let at = |instant: Timestamp| {
        let client = &client;
        async move {
            rows_text(
                client,
                &format!(
                    "SELECT tick_size, lot_size, min_notional, contract_type, settle_currency, status \
                       FROM instrument_spec_at('v', 'BTC-PERP', '{instant}')"
                ),
            )
            .await
        }
    };
    assert_eq!(at(t(99)).await, texts(&day, &[]), "nothing before the first observation");
    assert_eq!(at(t(100)).await, texts(&day, &[&["0.1", "0.001", "5", "linear", "USDT", "trading"]]));
    assert_eq!(at(t(299)).await, texts(&day, &[&["0.1", "0.001", "5", "linear", "USDT", "trading"]]));
    assert_eq!(at(t(300)).await, texts(&day, &[&["0.01", "0.001", "5", "linear", "USDT", "trading"]]));
    assert_eq!(at(t(10_000)).await, texts(&day, &[&["0.01", "0.001", "5", "linear", "USDT", "halted"]]));
    assert_eq!(
        rows_text(&client, &format!("SELECT symbol, tick_size FROM instrument_specs_at('v', '{}')", t(150))).await,
        texts(&day, &[&["BTC-PERP", "0.1"]])
    );
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derivatives_and_instrument_versions_on_vanilla() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    derivatives_read_back(&cluster, ProfileChoice::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derivatives_and_instrument_versions_on_timescaledb() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    derivatives_read_back(&cluster, ProfileChoice::Timescaledb).await;
}
