//! Keyed custom tables: custom tables that declare a primary key, unique keys or foreign
//! keys are created with them (and with gin/brin indexes and `default_sql` defaults)
//! and written by the relational writer:
//!
//! - a duplicate `insert` is dead-lettered naming the constraint, an `upsert` by key
//!   leaves one row with the latest values, an `update` changes only what it sends;
//! - NexusPlanner's `decision_id UNIQUE` holds on a plain (`partitioned = false`) table;
//! - the deals system's `price_tracking` → `deals` (a relational table): a child sent
//!   before its parent in the same frame, or a second before it, lands; an orphan is
//!   dead-lettered `missing_parent` after `wait_ms`;
//! - a per-row retention column: a 45-day-old row asking for 90 days is taken, one
//!   asking for 30 is refused, and rows past their own retention are deleted;
//! - the same tables on TimescaleDB: hypertables with keys, a foreign key from a
//!   hypertable to a plain table and from a plain table to a hypertable; one from a
//!   hypertable to a hypertable, which TimescaleDB refuses, is refused at migrate;
//! - a keyed row waiting for its parent survives a restart with the spool on;
//! - configuration errors name their key.

use std::time::Duration;

use hypertick::app::{self, Daemon};
use hypertick::config::Config;
use hypertick::db::{self, Profile};
use hypertick::record::Timestamp;
use tokio_postgres::Client;

use crate::support::{self, array, count, push, wait_for_count};

const DEAL: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const LATE_DEAL: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae8";
const ORPHAN_DEAL: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae9";
const PRICE: &str = "0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2c";
const DAY_MICROS: i64 = 86_400_000_000;

const DEALS_SQL: &str = "CREATE TABLE deals (id uuid PRIMARY KEY, title text NOT NULL, status text NOT NULL DEFAULT 'open')";

const TABLES: &str = r#"
[[custom_tables]]
name = "price_tracking"
time_column = "tracked_at"
partition_hours = 24
primary_key = ["id", "tracked_at"]
foreign_keys = [{ columns = ["deal_id"], references = "deals", on_delete = "cascade" }]
indexes = [["deal_id"], { columns = ["tags"], method = "gin" }, { columns = ["tracked_at"], method = "brin" }]
columns = [
  { name = "id",         type = "uuid",          nullable = false, default_sql = "gen_random_uuid()" },
  { name = "deal_id",    type = "uuid",          nullable = false },
  { name = "price",      type = "numeric(10,2)", nullable = false },
  { name = "source",     type = "text",          nullable = false },
  { name = "note",       type = "text" },
  { name = "tags",       type = "text[]" },
  { name = "tracked_at", type = "timestamptz",   default_sql = "now()" },
]

[[custom_tables]]
name = "market_decisions"
time_column = "decided_at"
partitioned = false
retention_days = 30
unique = [["decision_id"]]
indexes = [{ columns = ["context"], method = "gin" }]
columns = [
  { name = "id",          type = "uuid",        nullable = false, default_sql = "gen_random_uuid()" },
  { name = "decision_id", type = "text",        nullable = false },
  { name = "action",      type = "text",        nullable = false },
  { name = "context",     type = "jsonb" },
  { name = "decided_on",  type = "date",        default_sql = "current_date" },
  { name = "decided_at",  type = "timestamptz", default_sql = "now()" },
]

[[custom_tables]]
name = "system_metrics"
time_column = "recorded_at"
partition_hours = 24
retention_days = 30
retention_column = "retention_days"
columns = [
  { name = "id",             type = "uuid",        nullable = false, default_sql = "gen_random_uuid()" },
  { name = "metric_name",    type = "text",        nullable = false },
  { name = "value",          type = "numeric",     nullable = false },
  { name = "recorded_at",    type = "timestamptz", default_sql = "now()" },
  { name = "retention_days", type = "integer" },
]
"#;

fn with_tables(mut config: Config, more: &str) -> Config {
    let declared = app::load_config_str(
        &format!("[database]\nurl = \"postgres://u@h/d\"\n[relational]\ntables = [\"deals\"]\n{more}{TABLES}"),
        Vec::new(),
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    config.custom_tables = declared.custom_tables;
    config.relational.tables.push("deals".into());
    config.relational.wait_ms = 3_000;
    config.schema.maintenance_interval_secs = std::num::NonZeroU64::new(1).unwrap();
    config
}

fn row(table: &str, op: &str, row: &str) -> String {
    format!(r#"{{"type":"row","table":"{table}","op":"{op}","row":{row}}}"#)
}

async fn text(client: &Client, query: &str) -> String {
    client.query_one(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error}")).get(0)
}

async fn letters(client: &Client) -> String {
    let rows = client.query("SELECT reason || ': ' || detail FROM dead_letters ORDER BY 1", &[]).await.unwrap();
    rows.iter().map(|row| row.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

fn deal(id: &str, title: &str) -> String {
    row("deals", "insert", &format!(r#"{{"id":"{id}","title":"{title}"}}"#))
}

fn price(id: &str, deal: &str, price: &str, at: &str) -> String {
    row(
        "price_tracking",
        "insert",
        &format!(
            r#"{{"id":"{id}","deal_id":"{deal}","price":"{price}","source":"amazon","tags":["prime","lightning"],"tracked_at":"{at}"}}"#
        ),
    )
}

/// The DDL both profiles must show: keys, foreign keys, index methods, defaults.
async fn assert_declared_schema(client: &Client) {
    let definitions = text(
        client,
        "SELECT string_agg(pg_get_constraintdef(oid), ' | ' ORDER BY contype, conname) FROM pg_constraint
          WHERE conrelid = 'price_tracking'::regclass AND contype IN ('p', 'f')",
    )
    .await;
    assert_eq!(definitions, "FOREIGN KEY (deal_id) REFERENCES deals(id) ON DELETE CASCADE | PRIMARY KEY (id, tracked_at)");
    let unique =
        text(client, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'market_decisions'::regclass AND contype = 'u'")
            .await;
    assert_eq!(unique, "UNIQUE (decision_id)");
    for (table, method) in
        [("price_tracking", "USING gin (tags)"), ("price_tracking", "USING brin (tracked_at)"), ("market_decisions", "USING gin (context)")]
    {
        let found =
            count(client, &format!("SELECT count(*) FROM pg_indexes WHERE tablename = '{table}' AND indexdef LIKE '%{method}%'")).await;
        assert_eq!(found, 1, "{table}: {method}");
    }
    let defaults = text(
        client,
        "SELECT string_agg(a.attname || '=' || pg_get_expr(d.adbin, d.adrelid), ', ' ORDER BY a.attnum)
           FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
          WHERE d.adrelid = 'market_decisions'::regclass",
    )
    .await;
    assert_eq!(defaults, "id=gen_random_uuid(), decided_on=CURRENT_DATE, decided_at=now()");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_custom_tables_upsert_update_wait_for_parents_and_keep_rows_their_own_days_on_postgres() {
    let cluster = support::start_cluster();
    let client = support::sql(&cluster).await;
    client.batch_execute(DEALS_SQL).await.unwrap();
    let config = with_tables(support::config_for(&cluster), "");
    let report = app::migrate(&config).await.expect("migrate");
    assert!(report.converged.iter().any(|line| line == "market_decisions: created, not partitioned"), "{:?}", report.converged);
    assert!(
        report.converged.iter().any(|line| line == "price_tracking: created, range-partitioned on tracked_at"),
        "{:?}",
        report.converged
    );
    let again = app::migrate(&config).await.expect("second migrate");
    assert!(again.converged.is_empty(), "a second migrate changes nothing: {:?}", again.converged);
    assert_declared_schema(&client).await;
    assert_eq!(count(&client, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'market_decisions'::regclass").await, 0);

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let at = "2026-11-22T12:00:00Z";

    // The child first, its parent later in the same frame; a second price of another
    // deal whose parent comes a second later; an orphan that never gets one.
    let frame = array(&[
        price(PRICE, DEAL, "19.99", at),
        deal(DEAL, "headphones"),
        price("0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2d", LATE_DEAL, "5.00", at),
        price("0b7a3c1e-4f5d-4e6a-9b8c-7d6e5f4a3b2e", ORPHAN_DEAL, "1.00", at),
    ]);
    assert_eq!(push(&mut socket, &frame).await["accepted"], 4);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM price_tracking", 1).await, 1, "{}", letters(&client).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(push(&mut socket, &deal(LATE_DEAL, "kettle")).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM price_tracking", 2).await, 2, "{}", letters(&client).await);
    let orphaned = wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE reason = 'missing_parent'", 1).await;
    assert_eq!(orphaned, 1, "{}", letters(&client).await);
    assert!(text(&client, "SELECT detail FROM dead_letters WHERE reason = 'missing_parent'").await.contains("deals"));

    // A duplicate insert is refused by the primary key; an upsert by key keeps one row
    // with its latest values; an update changes only what it sends.
    let duplicate = price(PRICE, DEAL, "18.00", at);
    assert_eq!(push(&mut socket, &duplicate).await["accepted"], 1);
    let duplicates = wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE detail LIKE '%price_tracking%pkey%'", 1).await;
    assert_eq!(duplicates, 1, "{}", letters(&client).await);
    let upserts = array(&[
        row("price_tracking", "upsert", &format!(r#"{{"id":"{PRICE}","tracked_at":"{at}","price":"17.49"}}"#)),
        row("price_tracking", "upsert", &format!(r#"{{"id":"{PRICE}","tracked_at":"{at}","price":"17.25","note":"flash sale"}}"#)),
    ]);
    assert_eq!(push(&mut socket, &upserts).await["accepted"], 2);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM price_tracking WHERE price = 17.25", 1).await,
        1,
        "{}",
        letters(&client).await
    );
    let update = row("price_tracking", "update", &format!(r#"{{"id":"{PRICE}","tracked_at":1795348800000000000,"note":"ended"}}"#));
    assert_eq!(push(&mut socket, &update).await["accepted"], 1);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM price_tracking WHERE note = 'ended'", 1).await,
        1,
        "{}",
        letters(&client).await
    );
    assert_eq!(
        text(
            &client,
            &format!("SELECT concat_ws('|', price, source, array_to_string(tags, ','), deal_id) FROM price_tracking WHERE id = '{PRICE}'")
        )
        .await,
        format!("17.25|amazon|prime,lightning|{DEAL}"),
        "one row, the latest price, the columns not sent kept"
    );
    // Refused in the ack: an update without the key.
    let ack = push(&mut socket, &row("price_tracking", "update", r#"{"note":"x"}"#)).await;
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().contains("needs its primary key"), "{ack}");

    // NexusPlanner's decision_id UNIQUE on a plain table; the database's defaults.
    let decisions = array(&[
        row("market_decisions", "insert", r#"{"decision_id":"d-1","action":"buy","context":{"score":0.91}}"#),
        row("market_decisions", "insert", r#"{"decision_id":"d-2","action":"hold"}"#),
    ]);
    assert_eq!(push(&mut socket, &decisions).await["accepted"], 2);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM market_decisions", 2).await, 2, "{}", letters(&client).await);
    assert_eq!(push(&mut socket, &row("market_decisions", "insert", r#"{"decision_id":"d-1","action":"sell"}"#)).await["accepted"], 1);
    let unique =
        wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE detail LIKE '%market_decisions_decision_id_key%'", 1).await;
    assert_eq!(unique, 1, "{}", letters(&client).await);
    let upsert = row("market_decisions", "upsert", r#"{"decision_id":"d-2","action":"sell"}"#);
    assert_eq!(push(&mut socket, &upsert).await["accepted"], 1, "an upsert on the first unique key");
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM market_decisions WHERE action = 'sell'", 1).await, 1);
    assert_eq!(
        count(&client, "SELECT count(*) FROM market_decisions WHERE decided_on = (decided_at AT TIME ZONE 'UTC')::date AND id IS NOT NULL")
            .await,
        2
    );
    let ack = push(&mut socket, &row("market_decisions", "update", r#"{"decision_id":"d-2","action":"buy"}"#)).await;
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().contains("declares no primary_key"), "{ack}");

    // Per-row retention (COPY table): 45 days old asking 90 is taken, asking 30 refused.
    let days_ago = |days: i64| Timestamp(Timestamp::now().micros() - days * DAY_MICROS).to_string();
    let metric = |days_old: i64, keep: &str| {
        row(
            "system_metrics",
            "insert",
            &format!(r#"{{"metric_name":"latency","value":"0.125","recorded_at":"{}"{keep}}}"#, days_ago(days_old)),
        )
    };
    let ack = push(
        &mut socket,
        &array(&[metric(45, r#","retention_days":90"#), metric(45, r#","retention_days":30"#), metric(45, ""), metric(1, "")]),
    )
    .await;
    assert_eq!(ack["accepted"], 2, "{ack}");
    let refused: Vec<u64> = ack["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(refused, [1, 2], "{ack}");
    assert!(ack["rejected"][0]["reason"].as_str().unwrap().starts_with("older_than_retention"), "{ack}");
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM system_metrics", 2).await, 2);
    // An unkeyed table stays on COPY, insert only.
    let ack = push(&mut socket, &row("system_metrics", "upsert", r#"{"metric_name":"latency","value":1}"#)).await;
    let reason = ack["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("invalid_field") && reason.contains("without a primary_key") && reason.contains("declare primary_key"),
        "{ack}"
    );
    // A row written around the daemon, past its own retention, goes with the periodic delete.
    client
        .batch_execute(&format!(
            "INSERT INTO system_metrics (metric_name, value, recorded_at, retention_days) VALUES ('stale', 1, '{}', 20)",
            days_ago(45)
        ))
        .await
        .unwrap();
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM system_metrics WHERE metric_name = 'stale'", 0).await, 0);
    assert_eq!(count(&client, "SELECT count(*) FROM system_metrics").await, 2, "rows within their own retention stay");
    // A plain table's retention deletes rows (it has no partitions to drop).
    client
        .batch_execute(&format!(
            "INSERT INTO market_decisions (decision_id, action, decided_at) VALUES ('d-old', 'buy', '{}')",
            days_ago(40)
        ))
        .await
        .unwrap();
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM market_decisions WHERE decision_id = 'd-old'", 0).await, 0);
    assert_eq!(count(&client, "SELECT count(*) FROM market_decisions").await, 2);

    drop(socket);
    daemon.stop().await.expect("clean stop");

    // A foreign key the configuration cannot check (a relational table's column type)
    // is refused by the server at migrate, said with the table and its keys.
    let mismatched = with_tables(
        support::config_for(&cluster),
        r#"
[[custom_tables]]
name = "deal_notes"
time_column = "at"
partitioned = false
foreign_keys = [{ columns = ["deal_id"], references = "deals" }]
columns = [{ name = "deal_id", type = "text" }, { name = "at", type = "timestamptz" }]
"#,
    );
    let error = app::migrate(&mismatched).await.expect_err("a foreign key of another type").to_string();
    assert!(error.contains("custom table `deal_notes` could not be created"), "{error}");
    assert!(error.contains("incompatible types: text and uuid") && error.contains("[deal_id] → deals"), "{error}");
    // A key declared later on an existing table is not added behind the operator's back.
    let mut rekeyed = with_tables(support::config_for(&cluster), "");
    rekeyed.custom_tables[1].unique.push(vec!["action".into()]);
    let error = app::migrate(&rekeyed).await.expect_err("a key the table lacks").to_string();
    assert!(error.contains("custom table `market_decisions` differs") && error.contains("the unique key (action) is missing"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_custom_tables_are_hypertables_with_their_keys_on_timescaledb() {
    let timescale = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let url = timescale.url("hypertick");
    let client = db::connect(&url, Duration::from_secs(20)).await.unwrap();
    client.batch_execute(DEALS_SQL).await.unwrap();
    // A custom table referencing a hypertable's key (declared first: created after it).
    let alerts = r#"
[[custom_tables]]
name = "price_alerts"
time_column = "raised_at"
partitioned = false
primary_key = ["id"]
foreign_keys = [{ columns = ["price_id", "price_at"], references = "price_tracking", referenced_columns = ["id", "tracked_at"] }]
columns = [
  { name = "id", type = "bigint", nullable = false },
  { name = "price_id", type = "uuid" },
  { name = "price_at", type = "timestamptz" },
  { name = "raised_at", type = "timestamptz", default_sql = "now()" },
]
"#;
    // A hypertable referencing a hypertable, which TimescaleDB refuses.
    let hypertable_to_hypertable = r#"
[[custom_tables]]
name = "price_changes"
time_column = "changed_at"
primary_key = ["id", "changed_at"]
foreign_keys = [{ columns = ["price_id", "price_at"], references = "price_tracking", referenced_columns = ["id", "tracked_at"], on_delete = "cascade" }]
columns = [
  { name = "id", type = "bigint", nullable = false },
  { name = "price_id", type = "uuid" },
  { name = "price_at", type = "timestamptz" },
  { name = "changed_at", type = "timestamptz", default_sql = "now()" },
]
"#;
    let refused = with_tables(Config::loopback(&url), &format!("{alerts}{hypertable_to_hypertable}"));
    let error = app::migrate(&refused).await.expect_err("a hypertable referencing a hypertable").to_string();
    assert!(
        error.contains("custom table `price_changes` foreign_keys[0]: TimescaleDB does not let a hypertable reference another hypertable (`price_tracking`)"),
        "{error}"
    );
    let config = with_tables(Config::loopback(&url), alerts);
    let report = app::migrate(&config).await.expect("migrate on TimescaleDB");
    assert_eq!(report.profile, Profile::TimescaleDb);
    assert!(report.converged.iter().any(|line| line == "price_tracking: created as a hypertable on tracked_at"), "{:?}", report.converged);
    let again = app::migrate(&config).await.expect("second migrate");
    assert!(again.converged.is_empty(), "a second migrate changes nothing: {:?}", again.converged);
    assert_declared_schema(&client).await;

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    let at = "2026-11-22T12:00:00Z";
    let frame = array(&[
        row("price_alerts", "insert", &format!(r#"{{"id":1,"price_id":"{PRICE}","price_at":"{at}"}}"#)),
        price(PRICE, DEAL, "19.99", at),
        deal(DEAL, "headphones"),
    ]);
    assert_eq!(push(&mut socket, &frame).await["accepted"], 3);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM price_alerts", 1).await, 1, "{}", letters(&client).await);
    let upsert = row("price_tracking", "upsert", &format!(r#"{{"id":"{PRICE}","tracked_at":"{at}","price":"17.25"}}"#));
    assert_eq!(push(&mut socket, &upsert).await["accepted"], 1);
    assert_eq!(
        wait_for_count(&client, "SELECT count(*) FROM price_tracking WHERE price = 17.25", 1).await,
        1,
        "{}",
        letters(&client).await
    );
    assert_eq!(push(&mut socket, &price(PRICE, DEAL, "18.00", at)).await["accepted"], 1);
    let duplicates = wait_for_count(&client, "SELECT count(*) FROM dead_letters WHERE detail LIKE '%price_tracking%pkey%'", 1).await;
    assert_eq!(duplicates, 1, "{}", letters(&client).await);
    assert_eq!(count(&client, "SELECT count(*) FROM price_tracking").await, 1);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}

#[test]
fn configuration_errors_name_their_key() {
    let declare =
        |table: &str| format!("[database]\nurl = \"postgres://u@h/d\"\n[relational]\ntables = [\"deals\"]\n[[custom_tables]]\n{table}");
    for (table, key, needle) in [
        (
            "name = \"t\"\ntime_column = \"at\"\nprimary_key = [\"id\"]\ncolumns = [{ name = \"id\", type = \"uuid\" }, { name = \"at\", type = \"timestamptz\" }]",
            "custom_tables[0].primary_key",
            "include the time column `at` or set partitioned = false",
        ),
        (
            "name = \"t\"\ntime_column = \"at\"\nforeign_keys = [{ columns = [\"deal_id\"], references = \"dealz\" }]\ncolumns = [{ name = \"deal_id\", type = \"uuid\" }, { name = \"at\", type = \"timestamptz\" }]",
            "custom_tables[0].foreign_keys[0].references",
            "`dealz` is neither a relational table",
        ),
        (
            "name = \"t\"\ntime_column = \"at\"\nindexes = [{ columns = [\"v\"], method = \"gin\" }]\ncolumns = [{ name = \"v\", type = \"numeric\" }, { name = \"at\", type = \"timestamptz\" }]",
            "custom_tables[0].indexes[0]",
            "a gin index takes jsonb and array columns; `v` is numeric",
        ),
        (
            "name = \"t\"\ntime_column = \"at\"\ncolumns = [{ name = \"at\", type = \"timestamptz\", default_sql = \"clock_timestamp()\" }]",
            "custom_tables[0].columns[0].default_sql",
            "expected \"now()\" (timestamptz), \"current_date\" (date) or \"gen_random_uuid()\" (uuid)",
        ),
    ] {
        let errors = app::load_config_str(&declare(table), Vec::new()).expect_err(key);
        assert!(errors.0.iter().any(|error| error.key == key && error.message.contains(needle)), "{key}: {needle} not in {errors}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_row_waiting_for_its_parent_survives_a_restart_with_the_spool() {
    let cluster = support::start_cluster();
    let client = support::sql(&cluster).await;
    client.batch_execute(DEALS_SQL).await.unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let mut config = with_tables(support::config_for(&cluster), "");
    config.relational.wait_ms = 60_000;
    config.spool = Some(hypertick::config::SpoolConfig::in_dir(spool_dir.path().to_path_buf()));
    app::migrate(&config).await.expect("migrate");

    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    // A child whose parent is not there waits, in its normalized form (the epoch time
    // as RFC 3339, the id the daemon made), across the restart.
    let child = row(
        "price_tracking",
        "insert",
        &format!(r#"{{"deal_id":"{DEAL}","price":"19.99","source":"ebay","tracked_at":1795348800000000000}}"#),
    );
    assert_eq!(push(&mut socket, &child).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM relational_waiting WHERE table_name = 'price_tracking'", 1).await, 1);
    drop(socket);
    daemon.stop().await.expect("clean stop");

    let daemon = Daemon::start(&config).await.expect("daemon starts again");
    let mut socket = support::connect(daemon.push_addr.unwrap()).await;
    assert_eq!(push(&mut socket, &deal(DEAL, "headphones")).await["accepted"], 1);
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM price_tracking", 1).await, 1, "{}", letters(&client).await);
    assert_eq!(
        text(&client, "SELECT concat_ws('|', price, source, tracked_at AT TIME ZONE 'UTC', id IS NOT NULL) FROM price_tracking").await,
        "19.99|ebay|2026-11-22 12:00:00|t"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 0);
    assert_eq!(count(&client, "SELECT count(*) FROM dead_letters").await, 0);
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
