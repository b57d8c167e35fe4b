//! Names put into SQL at run time are quoted: a partition whose name is itself SQL
//! is dropped by name like any other, and nothing else happens.

use hypertick::app;
use hypertick::db::{PartitionPlan, Partitions};
use hypertick::record::{Table, Timestamp};

use crate::support::{self, count};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_named_like_sql_is_dropped_by_its_name_only() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    app::migrate(&config).await.expect("migrate");
    let mut client = support::sql(&cluster).await;
    // Whoever can create tables could leave this name for the maintenance task to find.
    client
        .batch_execute(
            "CREATE TABLE \"ticks_p1; DROP TABLE bars; --\" PARTITION OF ticks \
             FOR VALUES FROM ('2001-01-01 00:00:00+00') TO ('2001-01-02 00:00:00+00')",
        )
        .await
        .unwrap();
    let partitions =
        Partitions::new([PartitionPlan { table: Table::Ticks, width_micros: DAY_MICROS, retention_micros: Some(10 * DAY_MICROS) }]);
    let (_, dropped) = partitions.maintain(&mut client, Timestamp::now(), 1).await.expect("maintain");
    assert_eq!(dropped, vec!["ticks_p1; DROP TABLE bars; --".to_string()]);
    assert_eq!(count(&client, "SELECT count(*) FROM pg_class WHERE relname = 'ticks_p1; DROP TABLE bars; --'").await, 0);
    assert_eq!(count(&client, "SELECT count(*) FROM pg_class WHERE relname = 'bars' AND relkind = 'p'").await, 1, "bars is still there");
}
