//! Custom tables end to end, with the three seed tables of `config/examples/custom_tables.toml`
//! (the deals system's `price_tracking`, the travel planner's `system_metrics`, the
//! marketing planner's `market_signals`):
//!
//! - on PostgreSQL, `migrate` creates them range-partitioned on their time columns; rows
//!   pushed over the websocket come back exactly (money digit for digit, UUIDs, jsonb,
//!   defaults); a value that does not fit its column is refused in the ack and
//!   dead-lettered naming the column while the rest of the frame commits; a row the
//!   database refuses is isolated and dead-lettered with its push form; a backfill
//!   gets its partition on demand; each writer advances its `ingest_offsets` stream;
//! - a table that exists with other columns is refused with every difference listed;
//! - on TimescaleDB, they are hypertables on their time columns with the configured
//!   chunk intervals, columnstore settings and policies; a second `migrate` changes
//!   nothing; rows written through a writer read back exactly.

use std::sync::Arc;
use std::time::Duration;

use hypertick::app::{self, Daemon};
use hypertick::config::{Config, WriteMode};
use hypertick::db::{self, Partitions, Profile};
use hypertick::metrics::Stats;
use hypertick::pipeline::{Gather, Sequenced};
use hypertick::record::{CustomRow, CustomSchema, RowOp, RowRecord, Table, Timestamp};
use hypertick::sink::{batch_queue, encode_stage, run_writer, Spares, TableWriteSettings, WriterSettings};
use hypertick::source::push::{row_convert, PushRows};
use tokio_postgres::Client;

use crate::support::{self, array, count, push, wait_for_count};

const EXAMPLE: &str = include_str!("../../config/examples/custom_tables.toml");
const DEAL: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const PRICE_ID: &str = "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2c";
const DAY_MICROS: i64 = 86_400_000_000;

/// The example's custom tables on a test configuration for `url`.
fn config_with_seed_tables(mut config: Config) -> Config {
    let example = hypertick::app::load_config_str(EXAMPLE, Vec::new()).expect("the example configuration is valid");
    config.custom_tables = example.custom_tables;
    config
}

fn row(table: &str, op: &str, row: &str) -> String {
    format!(r#"{{"type":"row","table":"{table}","op":"{op}","row":{row}}}"#)
}

fn reasons(ack: &serde_json::Value) -> Vec<(u64, String)> {
    ack["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rejection| (rejection["index"].as_u64().unwrap(), rejection["reason"].as_str().unwrap().to_string()))
        .collect()
}

async fn texts(client: &Client, query: &str) -> Vec<Vec<Option<String>>> {
    client
        .query(query, &[])
        .await
        .unwrap_or_else(|error| panic!("{query}: {error}"))
        .iter()
        .map(|row| (0..row.len()).map(|index| row.get::<_, Option<String>>(index)).collect())
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|value| Some(value.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_tables_are_created_and_written_through_copy_on_postgres() {
    let cluster = support::start_cluster();
    let config = config_with_seed_tables(support::config_for(&cluster));
    let report = app::migrate(&config).await.expect("migrate");
    for expected in [
        "price_tracking: created, range-partitioned on tracked_at",
        "system_metrics: created, range-partitioned on recorded_at",
        "market_signals: created, range-partitioned on timestamp",
        "price_tracking: index price_tracking_deal_id_tracked_at_idx (\"deal_id\", \"tracked_at\")",
    ] {
        assert!(report.converged.iter().any(|line| line == expected), "{expected} not in {:?}", report.converged);
    }
    let again = app::migrate(&config).await.expect("second migrate");
    assert!(again.converged.is_empty(), "a second migrate changes nothing: {:?}", again.converged);

    let client = support::sql(&cluster).await;
    let columns = texts(
        &client,
        "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull::text FROM pg_attribute
          WHERE attrelid = 'price_tracking'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .await;
    assert_eq!(
        columns,
        [
            some(&["id", "uuid", "true"]),
            some(&["deal_id", "uuid", "true"]),
            some(&["price", "numeric(10,2)", "true"]),
            some(&["currency", "character varying(3)", "true"]),
            some(&["source", "text", "true"]),
            some(&["tracked_at", "timestamp with time zone", "true"]),
            some(&["meta_data", "jsonb", "true"]),
        ]
    );
    assert!(count(&client, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'market_signals'::regclass").await >= 4, "partitions ahead");
    // A rule of the database the daemon does not know: rows breaking it are refused by the server.
    client
        .batch_execute("ALTER TABLE market_signals ADD CONSTRAINT relevance_in_unit CHECK (relevance_score BETWEEN 0 AND 1)")
        .await
        .unwrap();

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let now = Timestamp::now();
    let minute_ago = Timestamp(now.micros() - 60_000_000);
    let backfill = Timestamp(now.micros() - 400 * DAY_MICROS);
    let frame = array(&[
        row(
            "price_tracking",
            "insert",
            &format!(
                r#"{{"id":"{PRICE_ID}","deal_id":"{DEAL}","price":"19.99","source":"amazon","tracked_at":"{minute_ago}","meta_data":{{"seller":"acme","rank":3,"fee":0.30000000000000000001}}}}"#
            ),
        ),
        row(
            "price_tracking",
            "insert",
            &format!(r#"{{"deal_id":"{DEAL}","price":12345678.9,"currency":"EUR","source":"ebay","tracked_at":{}}}"#, now.micros() * 1_000),
        ),
        row("price_tracking", "insert", &format!(r#"{{"deal_id":"{DEAL}","price":0.1,"source":"walmart"}}"#)),
        row("price_tracking", "insert", &format!(r#"{{"deal_id":"{DEAL}","price":"19.99.9","source":"target"}}"#)),
        row("price_tracking", "insert", &format!(r#"{{"deal_id":"{DEAL}","price":"7.50","source":"backfill","tracked_at":"{backfill}"}}"#)),
        row(
            "system_metrics",
            "insert",
            &format!(
                r#"{{"metric_name":"api.latency","metric_type":"histogram","value":"123456789.123456","unit":"ms","tags":{{"route":"/plans","p":99}},"service_name":"planner","environment":"prod","version":"1.4.2","recorded_at":"{minute_ago}"}}"#
            ),
        ),
        row("system_metrics", "insert", r#"{"metric_name":"agent.tokens","metric_type":"counter","value":42,"retention_days":7}"#),
        row("system_metrics", "insert", r#"{"metric_name":"x","metric_type":"gauge","value":"1e30"}"#),
        row(
            "market_signals",
            "insert",
            &format!(
                r#"{{"id":"sig-1","source":"Twitter","content":"EU data residency rules","timestamp":"{minute_ago}","relevance_score":0.87,"category":"regulation","impact":"high"}}"#
            ),
        ),
        row(
            "market_signals",
            "insert",
            r#"{"id":"sig-2","source":"News","content":"no time","relevance_score":0.5,"category":"market","impact":"low"}"#,
        ),
        row(
            "market_signals",
            "insert",
            &format!(
                r#"{{"id":"sig-3","source":"Industry Report","content":"too relevant","timestamp":"{minute_ago}","relevance_score":1.5,"category":"market","impact":"medium"}}"#
            ),
        ),
        row(
            "market_signals",
            "upsert",
            &format!(
                r#"{{"id":"sig-4","source":"News","content":"c","timestamp":"{minute_ago}","relevance_score":0.1,"category":"m","impact":"low"}}"#
            ),
        ),
        row(
            "market_signals",
            "insert",
            &format!(
                r#"{{"id":"sig-5","source":"News","content":"old","timestamp":"{}","relevance_score":0.1,"category":"m","impact":"low"}}"#,
                Timestamp(now.micros() - 100 * DAY_MICROS)
            ),
        ),
    ]);
    let ack = push(&mut socket, &frame).await;
    assert_eq!(ack["accepted"], 8, "{ack}");
    let typo = push(&mut socket, &row("price_trackin", "insert", r#"{"price":1}"#)).await;
    let reason = typo["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("unknown_table") && reason.ends_with("or a custom table: market_signals, price_tracking, system_metrics"),
        "{reason}"
    );
    let refused = reasons(&ack);
    let expect_refused = |index: u64, prefix: &str, column: &str| {
        assert!(
            refused.iter().any(|(at, reason)| *at == index && reason.starts_with(prefix) && reason.contains(column)),
            "element {index}: {prefix} naming {column} not in {refused:?}"
        );
    };
    expect_refused(3, "invalid_field", "`price`");
    expect_refused(7, "out_of_range", "`value`");
    expect_refused(9, "missing_field", "`timestamp`");
    expect_refused(11, "invalid_field", "only \"insert\"");
    expect_refused(12, "older_than_retention", "market_signals");

    let client = support::sql(&cluster).await;
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM price_tracking", 4).await, 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM system_metrics", 2).await, 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database'", 1).await, 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM market_signals", 1).await, 1, "sig-3 refused, sig-1 committed");

    let prices = texts(
        &client,
        "SELECT id::text, deal_id::text, price::text, currency, source, meta_data::text FROM price_tracking ORDER BY source",
    )
    .await;
    assert_eq!(prices.len(), 4);
    assert_eq!(
        prices[0],
        some(&[PRICE_ID, DEAL, "19.99", "USD", "amazon", r#"{"fee": 0.30000000000000000001, "rank": 3, "seller": "acme"}"#]),
        "money, uuid and jsonb numbers exactly as sent; currency from its default"
    );
    assert_eq!(prices[2][2..5], some(&["12345678.90", "EUR", "ebay"]), "a JSON number keeps its digits");
    assert_eq!(prices[3][2..6], some(&["0.10", "USD", "walmart", "{}"]), "defaults fill the columns left out");
    assert_eq!(prices[1][2..5], some(&["7.50", "USD", "backfill"]));
    let ids: Vec<&str> = prices.iter().map(|row| row[0].as_deref().unwrap()).collect();
    assert!(ids.iter().all(|id| hypertick::record::parse_uuid(id).is_some()) && ids[2] != ids[3], "random ids: {ids:?}");
    let stamps = texts(
        &client,
        &format!("SELECT (tracked_at = '{minute_ago}')::text, (tracked_at = '{now}')::text FROM price_tracking WHERE source IN ('amazon', 'ebay') ORDER BY source"),
    )
    .await;
    assert_eq!(stamps, [some(&["true", "false"]), some(&["false", "true"])], "RFC 3339 and epoch nanoseconds");

    let metrics = texts(
        &client,
        "SELECT metric_name, value::text, unit, tags::text, service_name, retention_days::text FROM system_metrics ORDER BY metric_name",
    )
    .await;
    assert_eq!(
        metrics,
        [
            vec![Some("agent.tokens".into()), Some("42.000000".into()), None, Some("{}".into()), None, Some("7".into())],
            some(&["api.latency", "123456789.123456", "ms", r#"{"p": 99, "route": "/plans"}"#, "planner", "30"]),
        ]
    );
    let signal = texts(&client, "SELECT id, source, relevance_score::text, impact FROM market_signals").await;
    assert_eq!(signal, [some(&["sig-1", "Twitter", "0.87", "high"])]);

    // The backfill landed in a partition made for it, a week aligned to the epoch.
    let week = 168 * 3_600_000_000i64;
    let slot = backfill.micros().div_euclid(week) * week;
    let expected_partition = format!("price_tracking_p{}", chrono::DateTime::from_timestamp_micros(slot).unwrap().format("%Y%m%d_%H%M"));
    let partition = texts(&client, "SELECT tableoid::regclass::text FROM price_tracking WHERE source = 'backfill'").await;
    assert_eq!(partition, [some(&[&expected_partition])]);

    let letters = texts(
        &client,
        "SELECT source, reason, detail, raw FROM dead_letters WHERE reason IN ('invalid_field', 'out_of_range', 'rejected_by_database') ORDER BY id",
    )
    .await;
    let refused_price = letters
        .iter()
        .find(|letter| letter[1].as_deref() == Some("invalid_field") && letter[2].as_deref().unwrap().contains("`price`"))
        .expect("the bad price is a dead letter");
    assert_eq!(refused_price[0].as_deref(), Some("push"));
    assert!(refused_price[3].as_deref().unwrap().contains("19.99.9"), "the raw element is kept");
    let by_database = letters.iter().find(|letter| letter[1].as_deref() == Some("rejected_by_database")).unwrap();
    assert_eq!(by_database[0].as_deref(), Some("market_signals"));
    assert!(by_database[2].as_deref().unwrap().contains("relevance_in_unit"), "{by_database:?}");
    let raw: serde_json::Value = serde_json::from_str(by_database[3].as_deref().unwrap()).expect("the refused row as a push record");
    assert_eq!((raw["type"].as_str(), raw["table"].as_str(), raw["op"].as_str()), (Some("row"), Some("market_signals"), Some("insert")));
    assert_eq!((raw["row"]["id"].as_str(), raw["row"]["relevance_score"].as_f64()), (Some("sig-3"), Some(1.5)));

    for stream in ["price_tracking/0", "system_metrics/0", "market_signals/0"] {
        let position: i64 = client.query_one("SELECT position FROM ingest_offsets WHERE stream = $1", &[&stream]).await.unwrap().get(0);
        assert!(position >= 1, "{stream} advanced with its batches");
    }
    let metrics_addr = daemon.metrics_addr.unwrap();
    assert_eq!(support::metric(metrics_addr, "hypertick_rows_written_total", "table=\"price_tracking\"").await, 4.0);
    assert_eq!(support::metric(metrics_addr, "hypertick_rows_written_total", "table=\"market_signals\"").await, 1.0);
    let summary = daemon.stats.snapshots();
    assert!(summary.iter().any(|snapshot| snapshot.table.name() == "system_metrics" && snapshot.rows_written == 2));
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_exists_with_other_columns_is_refused_with_every_difference() {
    let cluster = support::start_cluster();
    let config = config_with_seed_tables(support::config_for(&cluster));
    app::migrate(&Config { custom_tables: Vec::new(), ..config.clone() }).await.expect("the built-in schema");
    let client = support::sql(&cluster).await;
    client
        .batch_execute(
            "CREATE TABLE price_tracking (
                 id uuid NOT NULL, deal_id uuid, price numeric(12,2) NOT NULL, source text NOT NULL,
                 tracked_at timestamptz NOT NULL, meta_data jsonb NOT NULL, note text
             ) PARTITION BY RANGE (tracked_at)",
        )
        .await
        .unwrap();
    let error = format!("{:#}", app::migrate(&config).await.expect_err("the table differs"));
    for difference in [
        "custom table `price_tracking` differs from the configuration",
        "column `deal_id` is nullable; configured NOT NULL",
        "column `price` is numeric(12,2); configured numeric(10,2)",
        "column `currency` (character varying(3)) is missing",
        "column `note` (text) is not in the configuration",
    ] {
        assert!(error.contains(difference), "{difference} not in {error}");
    }
    assert_eq!(
        count(&client, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'price_tracking'::regclass AND attname = 'note'").await,
        1,
        "nothing altered"
    );

    client.batch_execute("DROP TABLE price_tracking; CREATE TABLE price_tracking (tracked_at timestamptz)").await.unwrap();
    let error = format!("{:#}", app::migrate(&config).await.expect_err("not partitioned"));
    assert!(error.contains("it is not range-partitioned on `tracked_at` alone"), "{error}");

    // The writers' own check at start names the table and column too.
    client.batch_execute("DROP TABLE price_tracking").await.unwrap();
    app::migrate(&config).await.expect("created now");
    client.batch_execute("ALTER TABLE system_metrics ALTER COLUMN unit TYPE text").await.unwrap();
    let metrics_table = config.custom_schemas(&PushRows).unwrap()[1].table;
    let error = db::verify_columns(&client, metrics_table).await.expect_err("a changed type").to_string();
    assert!(error.contains("table `system_metrics` column `unit` is text; expected character varying(20)"), "{error}");
}

/// Rows for `schema` as push `row` records would carry them.
fn converted(schema: &CustomSchema, rows: &[String]) -> Vec<CustomRow> {
    rows.iter()
        .map(|json| {
            let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
            let mut columns: Vec<String> = fields.keys().cloned().collect();
            columns.sort_unstable();
            let record = RowRecord {
                received_at: Timestamp::now(),
                table: schema.name().to_string(),
                op: RowOp::Insert,
                json: json.clone(),
                columns,
                key: String::new(),
                fields,
            };
            row_convert::convert(schema, &record).unwrap_or_else(|rejection| panic!("{json}: {rejection}"))
        })
        .collect()
}

/// Writes rows through one real writer in insert mode (the TimescaleDB test server takes
/// one connection at a time and no COPY), then lets it finish.
async fn write_rows(config: &Config, table: Table, rows: Vec<CustomRow>) {
    let settings = Arc::new(WriterSettings {
        url: config.database_url().unwrap().to_string(),
        connect_timeout: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        spool: None,
    });
    let partitions = Arc::new(Partitions::new(db::partition_plans(config, Profile::TimescaleDb)));
    let (sender, queue) = batch_queue::<CustomRow>(1);
    let writer = tokio::spawn(run_writer(
        table,
        0,
        queue,
        settings,
        TableWriteSettings { mode: WriteMode::Insert, conflict_key: Vec::new(), record_time_ranges: false },
        partitions.clone(),
        Stats::new(),
    ));
    let (mut gathered, mut deliver) = encode_stage(table, partitions, sender, false, Spares::new(1));
    for row in rows {
        gathered.push(Sequenced::unspooled(row));
    }
    tokio::task::spawn_blocking(move || assert!(deliver(&mut gathered).is_ok(), "the writer took the batch")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("the writer finished")
        .unwrap()
        .expect("the writer committed the batch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_tables_are_hypertables_with_their_policies_on_timescaledb() {
    let timescale = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let mut config = config_with_seed_tables(Config::loopback(&timescale.url("hypertick")));
    // And one without a segment key, which TimescaleDB must not pick for itself.
    let unsegmented = "[[custom_tables]]\nname = \"readings\"\ntime_column = \"at\"\ncolumnstore_after_days = 0\n\
                       columns = [{ name = \"at\", type = \"timestamptz\" }, { name = \"sensor\", type = \"text\" }]\n";
    let unsegmented =
        hypertick::app::load_config_str(&format!("{}{unsegmented}", "[database]\nurl = \"postgres://u@h/d\"\n"), Vec::new()).unwrap();
    config.custom_tables.extend(unsegmented.custom_tables);
    let first = app::migrate(&config).await.expect("migrate on TimescaleDB");
    assert_eq!(first.profile, Profile::TimescaleDb);
    assert!(first.converged.iter().any(|line| line == "price_tracking: created as a hypertable on tracked_at"), "{:?}", first.converged);
    let second = app::migrate(&config).await.expect("second migrate");
    assert!(second.converged.is_empty(), "a second migrate changes nothing: {:?}", second.converged);

    {
        let client = db::connect(&timescale.url("hypertick"), Duration::from_secs(20)).await.unwrap();
        let dimensions = texts(
            &client,
            "SELECT hypertable_name::text, column_name::text, time_interval::text FROM timescaledb_information.dimensions
              WHERE hypertable_name IN ('price_tracking', 'system_metrics', 'market_signals') ORDER BY 1",
        )
        .await;
        assert_eq!(
            dimensions,
            [
                some(&["market_signals", "timestamp", "7 days"]),
                some(&["price_tracking", "tracked_at", "7 days"]),
                some(&["system_metrics", "recorded_at", "1 day"]),
            ]
        );
        let settings = texts(
            &client,
            "SELECT hypertable::text, segmentby, orderby FROM timescaledb_information.hypertable_columnstore_settings
              WHERE hypertable::text IN ('price_tracking', 'system_metrics', 'market_signals') ORDER BY 1",
        )
        .await;
        assert_eq!(
            settings,
            [
                some(&["market_signals", "source", "\"timestamp\" DESC"]),
                some(&["price_tracking", "deal_id", "tracked_at DESC"]),
                some(&["system_metrics", "metric_name", "recorded_at DESC"]),
            ]
        );
        let unsegmented = texts(
            &client,
            "SELECT segmentby, orderby FROM timescaledb_information.hypertable_columnstore_settings WHERE hypertable::text = 'readings'",
        )
        .await;
        assert_eq!(unsegmented, [some(&["", "at DESC"])], "explicitly none");
        assert_eq!(
            count(&client, "SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_name = 'readings'").await,
            0,
            "no policies: kept forever, never columnstored"
        );
        let jobs = texts(
            &client,
            "SELECT hypertable_name::text, proc_name::text, coalesce(config->>'compress_after', config->>'drop_after')
               FROM timescaledb_information.jobs
              WHERE hypertable_name IN ('price_tracking', 'system_metrics', 'market_signals') ORDER BY 1, 2",
        )
        .await;
        assert_eq!(
            jobs,
            [
                some(&["market_signals", "policy_compression", "30 days"]),
                some(&["market_signals", "policy_retention", "90 days"]),
                some(&["price_tracking", "policy_compression", "30 days"]),
                some(&["price_tracking", "policy_retention", "730 days"]),
                some(&["system_metrics", "policy_compression", "7 days"]),
                some(&["system_metrics", "policy_retention", "30 days"]),
            ]
        );
    }

    // A changed retention replaces its job.
    let mut changed = config.clone();
    changed.custom_tables[0].retention_days = Some(365);
    let third = app::migrate(&changed).await.expect("migrate with a changed retention");
    assert_eq!(third.converged, ["price_tracking: retention 365 days"]);
    app::migrate(&config).await.expect("back to the configured retention");

    let schemas = config.custom_schemas(&PushRows).unwrap();
    let minute_ago = Timestamp(Timestamp::now().micros() - 60_000_000);
    let prices = converted(
        &schemas[0],
        &[
            format!(
                r#"{{"id":"{PRICE_ID}","deal_id":"{DEAL}","price":"19.99","source":"amazon","tracked_at":"{minute_ago}","meta_data":{{"rank":3}}}}"#
            ),
            format!(r#"{{"deal_id":"{DEAL}","price":12345678.905,"source":"ebay","tracked_at":"{minute_ago}"}}"#),
        ],
    );
    write_rows(&config, schemas[0].table, prices).await;
    let metrics = converted(
        &schemas[1],
        &[format!(
            r#"{{"metric_name":"api.latency","metric_type":"gauge","value":"-0.000001","tags":{{"a":[1,2]}},"recorded_at":"{minute_ago}"}}"#
        )],
    );
    write_rows(&config, schemas[1].table, metrics).await;

    let client = db::connect(&timescale.url("hypertick"), Duration::from_secs(20)).await.unwrap();
    let prices = texts(&client, "SELECT id::text, price::text, currency, meta_data::text FROM price_tracking ORDER BY source").await;
    assert_eq!(prices[0], some(&[PRICE_ID, "19.99", "USD", r#"{"rank": 3}"#]));
    assert_eq!(prices[1][1..3], some(&["12345678.91", "USD"]), "rounded half away from zero, as numeric(10,2) rounds");
    let metric = texts(&client, "SELECT value::text, tags::text, retention_days::text FROM system_metrics").await;
    assert_eq!(metric, [some(&["-0.000001", r#"{"a": [1, 2]}"#, "30"])]);
}
