//! The SQL of both schema profiles is written by hand (`sql/vanilla`, `sql/timescaledb`);
//! the table registry (`src/record/registry.rs`) declares the same tables in code. After
//! `migrate` on each profile, every built-in table has exactly the declared columns, in
//! the declared order, with the declared types (besides identity columns the database
//! fills, such as `dead_letters.id`), and is partitioned (a hypertable on
//! TimescaleDB) exactly when the registry says so.

use hypertick::app;
use hypertick::config::{Config, ProfileChoice};
use hypertick::db::{self, Profile};
use hypertick::record::Table;

use crate::support;

async fn registry_matches_the_schema(cluster: &hypertick::db::throwaway::ThrowawayCluster, choice: ProfileChoice, profile: Profile) {
    let mut config = Config::loopback(&cluster.url("hypertick"));
    config.schema.profile = choice;
    let report = app::migrate(&config).await.expect("migrate");
    assert_eq!(report.profile, profile);
    let client = support::sql(cluster).await;
    for table in Table::ALL.into_iter().filter(|table| !table.columns().is_empty()) {
        db::verify_columns(&client, table).await.unwrap_or_else(|error| panic!("{profile:?}: {error}"));
        let rows = client
            .query(
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
                  WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped AND attidentity = '' ORDER BY attnum",
                &[&table.name()],
            )
            .await
            .unwrap();
        let in_database: Vec<(String, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        let declared: Vec<(String, String)> =
            table.columns().iter().map(|column| (column.name.to_string(), column.pg_type.sql_name().into_owned())).collect();
        assert_eq!(in_database, declared, "{profile:?}: table {table}: the SQL and the registry disagree");

        let partitioned = match profile {
            Profile::Vanilla => "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = $1",
            Profile::TimescaleDb => "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = $1",
        };
        let found: i64 = client.query_one(partitioned, &[&table.name()]).await.unwrap().get(0);
        assert_eq!(found == 1, table.is_time_partitioned(), "{profile:?}: table {table} partitioned");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_table_matches_the_vanilla_schema() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    registry_matches_the_schema(&cluster, ProfileChoice::Vanilla, Profile::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_table_matches_the_timescaledb_schema() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    registry_matches_the_schema(&cluster, ProfileChoice::Timescaledb, Profile::TimescaleDb).await;
}
