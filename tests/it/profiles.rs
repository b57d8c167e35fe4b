//! Choosing the schema profile and converging it safely, on the machine's real servers:
//! a vanilla cluster where TimescaleDB is installed but not preloaded (as a host looks
//! after installing the package, before anyone tunes it) and a cluster that preloads it.
//!
//! - `auto` picks vanilla there and says which setting to change; an explicit
//!   `timescaledb` fails before any migration, naming `shared_preload_libraries`; the
//!   environment override of `schema.profile` wins over the file.
//! - A failing migration leaves the database as it was before the run.
//! - A shortened retention that would drop stored data is refused, naming it, until
//!   `--allow-retention-drop`; then TimescaleDB's retention job drops it (vanilla: the
//!   partition maintenance).
//! - The jobs one migrate adds first run staggered, and migrate says how many
//!   background workers they need against the server's.

use std::time::Duration;

use hypertick::app;
use hypertick::config::{Config, TableConfig};
use hypertick::db::{self, Profile, SchemaOptions};

use crate::support::{self, count};

fn installed() {
    assert!(
        db::throwaway::timescaledb_installed(),
        "these tests need TimescaleDB installed into the machine's PostgreSQL: run ../shared/timescaledb/install.sh (.ci/run does)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_chooses_vanilla_where_timescaledb_is_installed_but_not_preloaded() {
    installed();
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    let url = cluster.url("hypertick");

    // Explicit timescaledb: refused before any migration, naming the setting.
    let mut explicit = Config::loopback(&url);
    explicit.schema.profile = hypertick::config::ProfileChoice::Timescaledb;
    let error = format!("{:#}", app::migrate(&explicit).await.expect_err("timescaledb cannot be created here"));
    assert!(error.contains("shared_preload_libraries"), "{error}");
    let client = support::sql(&cluster).await;
    assert_eq!(
        count(&client, "SELECT count(*) FROM pg_class WHERE relname IN ('schema_migrations', 'ingest_offsets', 'dead_letters')").await,
        0,
        "nothing migrated"
    );
    assert_eq!(count(&client, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").await, 0);

    // auto: vanilla, with a warning that names the setting.
    let report = app::migrate(&Config::loopback(&url)).await.expect("auto migrates");
    assert_eq!(report.profile, Profile::Vanilla);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("shared_preload_libraries"), "{}", report.warnings[0]);
    assert_eq!(
        count(&client, "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'ticks'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_override_of_the_profile_wins_over_the_file() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let file = format!("[database]\nurl = \"{}\"\n[schema]\nprofile = \"auto\"\n", cluster.url("hypertick"));
    let config = hypertick::app::load_config_str(&file, vec![("HYPERTICK_SCHEMA_PROFILE".to_string(), "vanilla".to_string())])
        .expect("a valid configuration");
    let report = app::migrate(&config).await.expect("migrate");
    assert_eq!(report.profile, Profile::Vanilla, "HYPERTICK_SCHEMA_PROFILE=vanilla on a TimescaleDB server");
    let client = support::sql(&cluster).await;
    assert_eq!(count(&client, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_migration_leaves_the_database_as_it_was() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    let client = support::sql(&cluster).await;
    // A function of the same name and arguments but another result type makes
    // common/0007_isolation fail after six migrations ran in the same run.
    client
        .batch_execute(
            "CREATE FUNCTION hypertick_insert_each(regclass, regclass, text, text, text[]) RETURNS integer
             LANGUAGE sql AS 'SELECT 1'",
        )
        .await
        .unwrap();
    let error = format!("{:#}", app::migrate(&Config::loopback(&cluster.url("hypertick"))).await.expect_err("the migration fails"));
    assert!(error.contains("common/0007_isolation"), "{error}");
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM pg_class WHERE relname IN ('schema_migrations', 'ingest_offsets', 'dead_letters', 'ingest_ids')"
        )
        .await,
        0,
        "the migrations before the failing one were rolled back with it"
    );
    client.batch_execute("DROP FUNCTION hypertick_insert_each(regclass, regclass, text, text, text[])").await.unwrap();
    let report = app::migrate(&Config::loopback(&cluster.url("hypertick"))).await.expect("migrates once the conflict is gone");
    assert!(report.migrations.applied.contains(&"common/0007_isolation"));
}

fn with_ticks_retention(url: &str, days: u32) -> Config {
    let mut config = Config::loopback(url);
    config.tables.ticks = Some(TableConfig { retention_days: Some(days), partition_hours: Some(24), ..TableConfig::default() });
    config
}

/// Writes 100 ticks 40 days old and 100 from now, straight in SQL (on vanilla, into
/// partitions made for them as the writers would).
async fn old_and_new_ticks(client: &mut tokio_postgres::Client, config: &Config, profile: Profile) {
    let partitions = db::Partitions::new(db::partition_plans(config, profile));
    let now = hypertick::record::Timestamp::now().micros();
    let slots: Vec<i64> = [now - 40 * 86_400_000_000, now - 40 * 86_400_000_000 + 100_000_000]
        .into_iter()
        .filter_map(|micros| partitions.slot_start(hypertick::record::Table::Ticks, hypertick::record::Timestamp(micros)))
        .collect();
    partitions.ensure(client, hypertick::record::Table::Ticks, &slots).await.expect("partitions for the old ticks");
    client
        .batch_execute(
            "INSERT INTO ticks (time, received_at, venue, symbol, price, size, side)
             SELECT now() - interval '40 days' + i * interval '1 second', now(), 'test', 'OLD', 100 + i, 1, 1
               FROM generate_series(1, 100) AS i;
             INSERT INTO ticks (time, received_at, venue, symbol, price, size, side)
             SELECT now() - i * interval '1 second', now(), 'test', 'NEW', 100 + i, 1, 1
               FROM generate_series(1, 100) AS i",
        )
        .await
        .expect("ticks written");
}

async fn shortened_retention_is_refused_until_accepted(url: &str, profile: Profile) {
    let first = app::migrate(&with_ticks_retention(url, 400)).await.expect("migrate, 400 days");
    assert_eq!(first.profile, profile);
    let mut client = db::connect(url, Duration::from_secs(10)).await.unwrap();
    old_and_new_ticks(&mut client, &with_ticks_retention(url, 400), profile).await;

    // The same retention again is the normal ageing: no question asked.
    app::migrate(&with_ticks_retention(url, 400)).await.expect("an unchanged retention migrates");

    let shortened = with_ticks_retention(url, 30);
    let error = format!("{:#}", app::migrate(&shortened).await.expect_err("30 days would drop the 40-day-old ticks"));
    assert!(error.contains("ticks: retention 30 days (was: 400 days)"), "{error}");
    assert!(error.contains("--allow-retention-drop"), "{error}");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks").await, 200, "nothing dropped");
    if profile == Profile::TimescaleDb {
        let drop_after: String = client
            .query_one("SELECT config->>'drop_after' FROM timescaledb_information.jobs WHERE hypertable_name = 'ticks' AND proc_name = 'policy_retention'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(drop_after, "400 days", "the retention job kept its interval");
    }

    let accepted = app::migrate_with(&shortened, SchemaOptions { allow_retention_drop: true }).await.expect("accepted");
    assert!(
        accepted.converged.iter().any(|line| line.starts_with("ticks: retention 30 days (was: 400 days) drops")),
        "{:?}",
        accepted.converged
    );
    if profile == Profile::TimescaleDb {
        // The retention job, run now as the scheduler would.
        let job: i32 = client
            .query_one(
                "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_name = 'ticks' AND proc_name = 'policy_retention'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        client.execute("CALL run_job($1)", &[&job]).await.expect("the retention job runs");
    }
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'OLD'").await, 0, "retention dropped the old ticks");
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'NEW'").await, 100, "and kept the new");
    // Accepted once: the next migrate with the same retention asks nothing.
    let again = app::migrate(&shortened).await.expect("the accepted retention migrates again");
    assert!(again.converged.is_empty(), "{:?}", again.converged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shortened_retention_is_refused_until_accepted_on_timescaledb() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    shortened_retention_is_refused_until_accepted(&cluster.url("hypertick"), Profile::TimescaleDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shortened_retention_is_refused_until_accepted_on_vanilla() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    shortened_retention_is_refused_until_accepted(&cluster.url("hypertick"), Profile::Vanilla).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_jobs_first_run_staggered_and_migrate_names_the_workers_they_need() {
    let cluster = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let report = app::migrate(&Config::loopback(&cluster.url("hypertick"))).await.expect("migrate");
    let jobs = report.jobs.as_deref().expect("a jobs line on TimescaleDB");
    assert!(jobs.contains("timescaledb.max_background_workers >= ") && jobs.contains("(server: 24)"), "{jobs}");
    assert!(report.warnings.is_empty(), "the test cluster has workers enough: {:?}", report.warnings);
    assert!(report.converged.iter().any(|line| line.contains("first run 10 s apart")), "{:?}", report.converged);

    let client = support::sql(&cluster).await;
    let starts: Vec<f64> = support::column(
        &client,
        "SELECT extract(epoch FROM next_start)::float8 FROM timescaledb_information.jobs
          WHERE hypertable_schema = 'public' AND proc_name IN ('policy_compression', 'policy_retention')
            AND next_start < now() + interval '10 minutes'
          ORDER BY next_start",
    )
    .await;
    // The market tables' jobs that migrate adds (the relational side's few, added by
    // its SQL migration, ran at once and are scheduled hours ahead).
    assert!(starts.len() >= 14, "{} jobs", starts.len());
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 9.0, "first runs at least ~10 s apart: {starts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_background_workers_are_named() {
    installed();
    let options = db::throwaway::ClusterOptions { fsync: false, settings: Vec::new() }.with_timescaledb();
    let mut options = options;
    options.settings.retain(|(name, _)| name != "max_worker_processes" && name != "timescaledb.max_background_workers");
    options.settings.push(("max_worker_processes".into(), "8".into()));
    options.settings.push(("timescaledb.max_background_workers".into(), "2".into()));
    let cluster = tokio::task::spawn_blocking(move || db::throwaway::ThrowawayCluster::start(options)).await.unwrap().expect("cluster");
    let report = app::migrate(&Config::loopback(&cluster.url("hypertick"))).await.expect("migrate");
    assert_eq!(report.profile, Profile::TimescaleDb);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("timescaledb.max_background_workers >= 5 (server: 2)"), "{}", report.warnings[0]);
}
