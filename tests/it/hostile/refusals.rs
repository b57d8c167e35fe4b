//! Item 8: 100,000 rows refused by a unique index in COPY mode are isolated and
//! dead-lettered in seconds (the server inserts a refused batch row by row under
//! subtransactions instead of the writer halving it 200,000 times), the rest commits,
//! and the writer goes on. The time it took is printed, not asserted.

use std::time::Instant;

use hypertick::app::Daemon;
use hypertick::record::Timestamp;

use crate::support::{self, connect, count, push, wait_for_count};

const ROWS: usize = 100_000;
const PER_FRAME: usize = 1_000;

fn ticks(first: usize, time: Timestamp) -> String {
    let objects: Vec<String> = (first..first + PER_FRAME)
        .map(|index| {
            format!(
                r#"{{"type":"tick","venue":"test","symbol":"DUP","time":"{}","price":{}.5,"size":1,"trade_id":"{index}"}}"#,
                Timestamp(time.0 + index as i64),
                index % 97
            )
        })
        .collect();
    support::array(&objects)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_rows_refused_by_a_unique_index_are_dead_lettered_and_the_rest_commits() {
    let cluster = support::start_cluster();
    let config = support::config_for(&cluster);
    let daemon = Daemon::start(&config).await.expect("daemon starts");
    let client = support::sql(&cluster).await;
    client
        .batch_execute("CREATE UNIQUE INDEX ticks_trade_unique ON ticks (venue, symbol, trade_id, time)")
        .await
        .expect("a unique index on ticks");
    let mut socket = connect(daemon.push_addr.unwrap()).await;
    let time = Timestamp(Timestamp::now().0 - 3_600_000_000);

    for first in (0..ROWS).step_by(PER_FRAME) {
        assert_eq!(push(&mut socket, &ticks(first, time)).await["accepted"], PER_FRAME);
    }
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'DUP'", ROWS as i64).await, ROWS as i64);

    // The same ticks again: every one is refused by the index.
    let started = Instant::now();
    for first in (0..ROWS).step_by(PER_FRAME) {
        assert_eq!(push(&mut socket, &ticks(first, time)).await["accepted"], PER_FRAME);
    }
    // One valid tick after them, in the same lane.
    let later = format!(r#"{{"type":"tick","venue":"test","symbol":"LATER","time":"{}","price":1,"size":1}}"#, Timestamp::now());
    assert_eq!(push(&mut socket, &later).await["accepted"], 1);
    let refused = "SELECT count(*) FROM dead_letters WHERE reason = 'rejected_by_database' AND detail LIKE '%duplicate key%23505%'";
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    while count(&client, refused).await < ROWS as i64 && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    assert_eq!(count(&client, refused).await, ROWS as i64, "every refused row is dead-lettered once");
    assert_eq!(wait_for_count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'LATER'", 1).await, 1);
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'DUP'").await, ROWS as i64, "nothing doubled");
    let detail: String = client.query_one(&format!("{} LIMIT 1", refused.replace("count(*)", "detail")), &[]).await.unwrap().get(0);
    assert!(detail.contains("23505") && detail.contains("duplicate key"), "{detail}");
    eprintln!("{ROWS} refused rows sent, isolated and dead-lettered in {:.1} s", took.as_secs_f64());
    drop(socket);
    daemon.stop().await.expect("clean stop");
}
