//! Relational and custom-table rows over the bus with real processes: a throwaway
//! PostgreSQL, a throwaway NATS server, one edge (`server.ack = "durable"`, a spool)
//! and two writers. A producer pushes orders and their fills (a third of the fills a
//! frame before their order), agent sessions and deliberations (some deliberations
//! first), order and session lifecycles by `update`, an orphan fill whose order never
//! comes, and rows of an unkeyed custom table with exact numerics, arrays and NULLs;
//! some frames are sent twice. Mid-stream a writer is SIGKILLed and restarted; later
//! the edge is SIGKILLed and restarted on its spool and journal, and frames acked
//! before are sent to it again (its id window is gone with it, so the writers' id
//! claims are what keeps them from doubling). At the end every row is in the database
//! exactly once with its content, every lifecycle in its final state, nothing waits,
//! and the orphan is the only dead letter.
//!
//! A writer that parks a row waiting for its parent and dies for good leaves the row to
//! the other writer, which takes it up though it started before the row was parked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hypertick::bus::throwaway::ThrowawayNats;
use hypertick::db::throwaway::ThrowawayCluster;

use crate::support::process::{free_port, tail, DaemonProcess};
use crate::support::{self, array, count};

const ORDERS: u64 = 240;
const SESSIONS: u64 = 40;
const READINGS: u64 = 1_200;
const FRAMES: u64 = 40;

const CUSTOM_TABLE: &str = r#"
[[custom_tables]]
name = "bus_readings"
time_column = "at"
columns = [
    { name = "at", type = "timestamptz" },
    { name = "sensor", type = "text", nullable = false },
    { name = "value", type = "numeric" },
    { name = "tags", type = "text[]" },
    { name = "note", type = "text" },
]

[[custom_tables]]
name = "bus_order_marks"
time_column = "marked_at"
partitioned = false
primary_key = ["order_id"]
foreign_keys = [{ columns = ["order_id"], references = "orders", on_delete = "cascade" }]
columns = [
    { name = "order_id", type = "uuid" },
    { name = "mark", type = "numeric", nullable = false },
    { name = "marked_at", type = "timestamptz" },
]
"#;

fn edge_config(dir: &Path, nats: &str, push: SocketAddr, custom_table: &str) -> PathBuf {
    let home = dir.join("edge");
    std::fs::create_dir_all(&home).unwrap();
    let path = home.join("hypertick.toml");
    let text = format!(
        r#"
[server]
listen = "{push}"
ack = "durable"

[metrics]
enabled = false

[spool]
dir = "{spool}"
fsync_interval_ms = 5

[bus]
role = "edge"
url = "{nats}"
edge_id = "edge-rows"
message_max_rows = 50
{custom_table}"#,
        spool = home.join("spool").display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn writer_text(cluster: &ThrowawayCluster, nats: &str, metrics: SocketAddr, custom_table: &str) -> String {
    format!(
        r#"
[database]
url = "{url}"
retry_initial_backoff_ms = 50
retry_max_backoff_ms = 500

[metrics]
listen = "{metrics}"

[schema]
profile = "vanilla"

[relational]
# Parents may come late here: a writer and the edge are killed and restarted, and a
# killed writer's messages reach the other one only after `ack_wait_secs`.
wait_ms = 12000

[bus]
role = "writer"
url = "{nats}"
# A killed writer's messages go to the other writer after this.
ack_wait_secs = 3
{custom_table}"#,
        url = cluster.url("hypertick"),
    )
}

fn writer_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    let path = home.join("hypertick.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn uuid(kind: u64, number: u64) -> String {
    format!("00000000-0000-4000-8000-{kind:04x}{number:08x}")
}

fn row(id: &str, table: &str, op: &str, row: &str) -> String {
    format!(r#"{{"type":"row","id":"{id}","table":"{table}","op":"{op}","row":{row}}}"#)
}

fn order(number: u64) -> String {
    let id = uuid(1, number);
    row(
        &format!("order/{number}"),
        "orders",
        "insert",
        &format!(
            r#"{{"id":"{id}","client_order_id":"c-{number}","venue":"alpaca","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100,"limit_price":"187.{number:02}"}}"#
        ),
    )
}

fn fill(number: u64, order: &str) -> String {
    row(
        &format!("fill/{number}"),
        "trades",
        "insert",
        &format!(
            r#"{{"order_id":"{order}","venue":"alpaca","symbol":"AAPL","side":"buy","quantity":"40","price":"187.123456789012345678","venue_trade_id":"t-{number}","executed_at":"2026-12-01T14:30:01Z"}}"#
        ),
    )
}

fn order_update(number: u64, step: u64) -> String {
    let id = uuid(1, number);
    let body = match step {
        0 => format!(r#"{{"id":"{id}","status":"partially_filled","filled_quantity":"40"}}"#),
        _ => format!(r#"{{"id":"{id}","status":"filled","filled_quantity":"100","closed_at":"2026-12-01T15:00:00Z"}}"#),
    };
    row(&format!("order-update/{number}/{step}"), "orders", "update", &body)
}

fn session(number: u64) -> String {
    let id = uuid(2, number);
    row(&format!("session/{number}"), "agent_sessions", "insert", &format!(r#"{{"id":"{id}","session_name":"scan {number}"}}"#))
}

fn session_end(number: u64) -> String {
    let id = uuid(2, number);
    row(
        &format!("session-end/{number}"),
        "agent_sessions",
        "update",
        &format!(r#"{{"id":"{id}","status":"completed","ended_at":"2099-01-01T00:00:00Z"}}"#),
    )
}

fn deliberation(session: u64, step: u64) -> String {
    let id = uuid(3, session * 10 + step);
    let session_id = uuid(2, session);
    row(
        &format!("deliberation/{session}/{step}"),
        "agent_deliberations",
        "insert",
        &format!(
            r#"{{"id":"{id}","session_id":"{session_id}","agent_type":"analyst","cycle_number":1,"deliberation_step":{step},"input_context":{{"n":0.30000000000000004441}},"reasoning":"step {step}"}}"#
        ),
    )
}

fn reading(number: u64) -> String {
    let note = if number.is_multiple_of(2) { format!(r#""n{number}""#) } else { "null".to_string() };
    row(
        &format!("reading/{number}"),
        "bus_readings",
        "insert",
        &format!(
            r#"{{"at":"2026-12-01T00:{:02}:{:02}Z","sensor":"s{}","value":"{number}.30000000000000004441","tags":["a{number}","b,\"c\""],"note":{note}}}"#,
            number / 60 % 60,
            number % 60,
            number % 7
        ),
    )
}

/// A keyed custom table's row: the mark of an order, upserted by its key.
fn mark(number: u64, step: u64) -> String {
    row(
        &format!("mark/{number}/{step}"),
        "bus_order_marks",
        "upsert",
        &format!(
            r#"{{"order_id":"{}","mark":"{number}.{step}0000000000000000001","marked_at":"2026-12-01T15:00:0{step}Z"}}"#,
            uuid(1, number)
        ),
    )
}

/// Every record of the plan, by frame: frame `f` carries the `f`-th share of each kind;
/// a fill whose order is `≡ 0 (mod 3)` goes a frame before its order, a deliberation of
/// an even session a frame before its session; updates follow two and four frames on.
fn plan() -> Vec<Vec<String>> {
    let mut frames: Vec<Vec<String>> = vec![Vec::new(); FRAMES as usize + 5];
    let share = |count: u64, frame: u64| (count * frame / FRAMES)..(count * (frame + 1) / FRAMES);
    for frame in 0..FRAMES {
        let at = frame as usize + 1;
        for number in share(ORDERS, frame) {
            frames[at].push(order(number));
            let fill_at = if number % 3 == 0 { at - 1 } else { at };
            frames[fill_at].push(fill(number, &uuid(1, number)));
            if number % 5 == 0 {
                // A keyed custom row a frame before its order, then upserted again.
                frames[at - 1].push(mark(number, 1));
                frames[at + 2].push(mark(number, 2));
            }
            if number % 4 == 0 {
                frames[at + 2].push(order_update(number, 0));
                frames[at + 4].push(order_update(number, 1));
            }
        }
        for number in share(SESSIONS, frame) {
            frames[at].push(session(number));
            let early = if number % 2 == 0 { at - 1 } else { at };
            frames[early].push(deliberation(number, 1));
            frames[at + 1].push(deliberation(number, 2));
            frames[at + 3].push(session_end(number));
        }
        for number in share(READINGS, frame) {
            frames[at].push(reading(number));
        }
    }
    // A fill whose order never comes.
    frames[FRAMES as usize / 2].push(fill(9_999, &uuid(1, 9_999)));
    frames
}

/// A throwaway cluster and NATS server, the schema migrated (the custom table too, so
/// the two writers do not both create it), and an edge and two writers started as
/// processes, with `custom_table` on all three and the writers' `[relational] wait_ms`.
struct Rig {
    cluster: ThrowawayCluster,
    nats: ThrowawayNats,
    dir: tempfile::TempDir,
    push: SocketAddr,
    metrics: [SocketAddr; 2],
    edge: DaemonProcess,
    writers: [DaemonProcess; 2],
}

impl Rig {
    async fn start(prefix: &str, custom_table: &str, wait_ms: u64) -> Rig {
        let cluster = support::start_cluster();
        let nats = tokio::task::block_in_place(ThrowawayNats::start).expect("a throwaway nats-server (.ci/run installs it)");
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let push = free_port();
        let metrics = [free_port(), free_port()];
        let text =
            |metrics| writer_text(&cluster, &nats.url(), metrics, custom_table).replace("wait_ms = 12000", &format!("wait_ms = {wait_ms}"));
        let writer_texts = [text(metrics[0]), text(metrics[1])];
        let config = hypertick::app::load_config_str(&writer_texts[0], Vec::new()).expect("the writer's configuration");
        hypertick::app::migrate(&config).await.expect("migrate");
        let edge_path = edge_config(dir.path(), &nats.url(), push, custom_table);
        let writer_paths =
            [writer_config(dir.path(), "writer-1", &writer_texts[0]), writer_config(dir.path(), "writer-2", &writer_texts[1])];
        let (edge, writers) = tokio::task::block_in_place(|| {
            let writers = [DaemonProcess::start(&writer_paths[0], metrics[0]), DaemonProcess::start(&writer_paths[1], metrics[1])];
            (DaemonProcess::start(&edge_path, push), writers)
        });
        Rig { cluster, nats, dir, push, metrics, edge, writers }
    }
}

async fn push_accepted(socket: &mut support::Socket, records: &[String]) {
    let ack = support::push(socket, &array(records)).await;
    assert_eq!(ack["accepted"].as_u64(), Some(records.len() as u64), "every record of the frame accepted: {ack}");
}

async fn settled(client: &tokio_postgres::Client, limit: Duration) -> bool {
    let began = Instant::now();
    let query = "SELECT (SELECT count(*) FROM orders WHERE status = 'filled')
                      + (SELECT count(*) FROM trades) + (SELECT count(*) FROM agent_sessions WHERE status = 'completed')
                      + (SELECT count(*) FROM agent_deliberations) + (SELECT count(*) FROM bus_readings)
                      + (SELECT count(*) FROM bus_order_marks WHERE mark::text LIKE '%.20000000000000000001')
                      + (SELECT count(*) FROM dead_letters) - (SELECT count(*) FROM relational_waiting)";
    let expected = (ORDERS.div_ceil(4) + ORDERS + SESSIONS + SESSIONS * 2 + READINGS + ORDERS.div_ceil(5) + 1) as i64;
    while began.elapsed() < limit {
        if count(client, query).await == expected {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let parts = client
        .query_one(
            "SELECT (SELECT count(*) FROM orders WHERE status = 'filled'), (SELECT count(*) FROM trades),
                    (SELECT count(*) FROM agent_sessions WHERE status = 'completed'), (SELECT count(*) FROM agent_deliberations),
                    (SELECT count(*) FROM bus_readings),
                    (SELECT count(*) FROM bus_order_marks WHERE mark::text LIKE '%.20000000000000000001'),
                    (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM relational_waiting)",
            &[],
        )
        .await
        .unwrap();
    let found: Vec<i64> = (0..8).map(|index| parts.get(index)).collect();
    println!(
        "not settled: {} of {expected}; filled orders {} of {}, trades {} of {}, completed sessions {} of {}, deliberations {} of {}, \
         readings {} of {}, second marks {} of {}, dead letters {} of 1, waiting {}",
        count(client, query).await,
        found[0],
        ORDERS.div_ceil(4),
        found[1],
        ORDERS,
        found[2],
        SESSIONS,
        found[3],
        SESSIONS * 2,
        found[4],
        READINGS,
        found[5],
        ORDERS.div_ceil(5),
        found[6],
        found[7]
    );
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relational_and_custom_rows_cross_the_bus_once_with_a_writer_killed() {
    let Rig { cluster, mut nats, dir, push, metrics, mut edge, mut writers } =
        Rig::start("hypertick-bus-rows-", CUSTOM_TABLE, 12_000).await;
    let client = support::sql(&cluster).await;

    let mut socket = support::connect(push).await;
    let frames = plan();
    let half = frames.len() / 2;
    let three_quarters = frames.len() * 3 / 4;
    for (index, frame) in frames.iter().enumerate() {
        if frame.is_empty() {
            continue;
        }
        push_accepted(&mut socket, frame).await;
        if index % 7 == 3 {
            // Sent again, as a producer that lost its ack would: the ids make it harmless.
            push_accepted(&mut socket, frame).await;
        }
        if index == three_quarters {
            println!("SIGKILL the edge");
            tokio::task::block_in_place(|| edge.kill_and_restart(push, Duration::from_millis(300)));
            socket = support::connect(push).await;
            // Frames it acked before its death, again: a new edge has no window of ids.
            for earlier in &frames[index - 3..=index] {
                push_accepted(&mut socket, earlier).await;
            }
        }
        if index == half {
            // Mid-stream: once some rows are committed, a writer dies holding messages.
            let started = Instant::now();
            while count(&client, "SELECT count(*) FROM bus_readings").await == 0 && started.elapsed() < Duration::from_secs(20) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!("SIGKILL writer-1 with {} readings committed", count(&client, "SELECT count(*) FROM bus_readings").await);
            tokio::task::block_in_place(|| writers[0].kill_and_restart(metrics[0], Duration::from_millis(300)));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    let all_settled = settled(&client, Duration::from_secs(40)).await;
    let letters: Vec<String> = client
        .query("SELECT reason || ': ' || detail FROM dead_letters ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let waiting = count(&client, "SELECT count(*) FROM relational_waiting").await;
    let mut stops = Vec::new();
    for (name, process) in ["edge", "writer-1", "writer-2"].into_iter().zip(std::iter::once(&mut edge).chain(writers.iter_mut())) {
        let status = tokio::task::block_in_place(|| process.stop());
        stops.push((name, status, process.log()));
    }
    if !all_settled || letters.len() != 1 {
        let _ = std::fs::copy(nats.log_path(), dir.path().join("nats-server.log"));
        println!("kept for inspection: {}", dir.keep().display());
    }
    drop(socket);
    nats.kill();

    assert!(all_settled, "every row arrived; dead letters {letters:?}, waiting {waiting}");
    assert_eq!(waiting, 0, "nothing waits");
    assert_eq!(letters.len(), 1, "only the orphan is dead-lettered: {letters:?}");
    assert!(letters[0].starts_with("missing_parent: insert into `trades`") && letters[0].contains(&uuid(1, 9_999)), "{letters:?}");

    // Exactly once, with the content sent.
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, ORDERS as i64);
    assert_eq!(count(&client, "SELECT count(DISTINCT client_order_id) FROM orders").await, ORDERS as i64);
    assert_eq!(count(&client, "SELECT count(*) FROM trades").await, ORDERS as i64);
    assert_eq!(count(&client, "SELECT count(DISTINCT venue_trade_id) FROM trades").await, ORDERS as i64);
    assert_eq!(count(&client, "SELECT count(*) FROM trades WHERE price::text = '187.123456789012345678'").await, ORDERS as i64);
    assert_eq!(count(&client, "SELECT count(*) FROM agent_sessions").await, SESSIONS as i64);
    assert_eq!(count(&client, "SELECT count(*) FROM agent_deliberations").await, SESSIONS as i64 * 2);
    assert_eq!(
        count(&client, "SELECT count(*) FROM agent_deliberations WHERE input_context::text = '{\"n\": 0.30000000000000004441}'").await,
        SESSIONS as i64 * 2
    );
    // Lifecycles in their final state: every fourth order filled (its two updates in
    // order), the others still new; every session completed with its name kept.
    let filled = "SELECT count(*) FROM orders WHERE status = 'filled' AND filled_quantity = 100
                    AND closed_at = '2026-12-01T15:00:00Z' AND quantity = 100";
    assert_eq!(count(&client, filled).await, ORDERS.div_ceil(4) as i64);
    assert_eq!(
        count(&client, "SELECT count(*) FROM orders WHERE status = 'new' AND filled_quantity = 0").await,
        (ORDERS - ORDERS.div_ceil(4)) as i64
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM agent_sessions WHERE status = 'completed' AND session_name LIKE 'scan %'").await,
        SESSIONS as i64
    );
    // The keyed custom table: one row per marked order, the later upsert's digits.
    assert_eq!(count(&client, "SELECT count(*) FROM bus_order_marks").await, ORDERS.div_ceil(5) as i64);
    assert_eq!(
        count(&client, "SELECT count(*) FROM bus_order_marks m JOIN orders o ON o.id = m.order_id WHERE m.mark::text = substr(o.client_order_id, 3) || '.20000000000000000001'").await,
        ORDERS.div_ceil(5) as i64
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM bus_order_marks WHERE marked_at = '2026-12-01T15:00:02Z'").await,
        ORDERS.div_ceil(5) as i64
    );
    // The custom table: every reading once, numerics digit for digit, arrays, NULLs.
    assert_eq!(count(&client, "SELECT count(*) FROM bus_readings").await, READINGS as i64);
    assert_eq!(count(&client, "SELECT count(DISTINCT value) FROM bus_readings").await, READINGS as i64);
    assert_eq!(
        count(&client, "SELECT count(*) FROM bus_readings WHERE value::text = split_part(value::text, '.', 1) || '.30000000000000004441'")
            .await,
        READINGS as i64
    );
    let sample: (String, Vec<String>, Option<String>, Option<String>) = {
        let row = client.query_one("SELECT value::text, tags, note, (SELECT note FROM bus_readings WHERE value = 8.30000000000000004441) FROM bus_readings WHERE value = 7.30000000000000004441", &[]).await.unwrap();
        (row.get(0), row.get(1), row.get(2), row.get(3))
    };
    assert_eq!(sample, ("7.30000000000000004441".to_string(), vec!["a7".to_string(), "b,\"c\"".to_string()], None, Some("n8".to_string())));

    for (name, status, log) in stops {
        assert!(status.success(), "{name} stops cleanly on SIGTERM ({status}); {} ends with:\n{}", log.display(), tail(&log));
    }
}

/// Writer-1 parks a fill whose order has not come (writer-2 is frozen meanwhile, so it
/// cannot take the message), is SIGKILLed and never restarted. Writer-2, started before
/// the fill was parked, writes the order and takes up the waiting fill: it lands once,
/// before its wait is over, and nothing is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writers_waiting_row_is_taken_up_by_another_writer() {
    // A wait long enough that only a row nobody retries could outlast it here.
    let Rig { cluster, mut nats, dir: _dir, push, metrics: _, mut edge, mut writers } =
        Rig::start("hypertick-bus-adopt-", "", 30_000).await;
    let client = support::sql(&cluster).await;
    let order_id = uuid(1, 1);

    writers[1].pause();
    let mut socket = support::connect(push).await;
    push_accepted(&mut socket, &[fill(1, &order_id)]).await;
    let parked = Instant::now();
    while count(&client, "SELECT count(*) FROM relational_waiting").await == 0 && parked.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 1, "writer-1 parked the fill");
    tokio::task::block_in_place(|| writers[0].kill());
    writers[1].resume();

    push_accepted(&mut socket, &[order(1)]).await;
    let began = Instant::now();
    let landed = "SELECT count(*) FROM trades t JOIN orders o ON o.id = t.order_id WHERE t.venue_trade_id = 't-1'";
    while (count(&client, landed).await == 0 || count(&client, "SELECT count(*) FROM relational_waiting").await != 0)
        && began.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letters: Vec<String> = client
        .query("SELECT reason || ': ' || detail FROM dead_letters ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let stops = [("edge", tokio::task::block_in_place(|| edge.stop()), edge.log()), {
        let status = tokio::task::block_in_place(|| writers[1].stop());
        ("writer-2", status, writers[1].log())
    }];
    drop(socket);
    nats.kill();

    assert_eq!(count(&client, landed).await, 1, "the fill landed once, under its order; dead letters {letters:?}");
    assert_eq!(count(&client, "SELECT count(*) FROM trades").await, 1);
    assert_eq!(count(&client, "SELECT count(*) FROM relational_waiting").await, 0, "nothing waits");
    assert!(letters.is_empty(), "nothing dead-lettered: {letters:?}");
    for (name, status, log) in stops {
        assert!(status.success(), "{name} stops cleanly on SIGTERM ({status}); {} ends with:\n{}", log.display(), tail(&log));
    }
}

/// A keyed row that waits for its parent, held by one writer, and a newer row of the
/// same key that the other writer takes: the other writer takes the waiting row up
/// first, so the newer one is what stays. A test session holds the waiting row locked,
/// so that the other writer's periodic take-over of waiting rows (which skips locked
/// rows) cannot settle it first, and the holder is paused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_row_is_not_overtaken_by_a_newer_row_of_its_key_on_another_writer() {
    let Rig { cluster, mut nats, dir: _dir, push, metrics: _, mut edge, mut writers } =
        Rig::start("hypertick-bus-key-order-", CUSTOM_TABLE, 60_000).await;
    let client = support::sql(&cluster).await;
    let mut holder = support::sql(&cluster).await;
    let waiting = "SELECT count(*) FROM relational_waiting";

    // Writer-1 parks the first mark: its order has not come.
    writers[1].pause();
    let mut socket = support::connect(push).await;
    push_accepted(&mut socket, &[mark(1, 1)]).await;
    let began = Instant::now();
    while count(&client, waiting).await == 0 && began.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(&client, waiting).await, 1, "writer-1 parked the first mark");
    // Paused between its transactions: paused inside one (a retry holding the row), it
    // would keep the row locked, so it is let on and paused again until the lock is had.
    writers[0].pause();
    let mut tries = 0;
    let lock = loop {
        let lock = holder.transaction().await.unwrap();
        match lock.query("SELECT id FROM relational_waiting FOR UPDATE NOWAIT", &[]).await {
            Ok(rows) => {
                assert_eq!(rows.len(), 1, "the first mark still waits");
                break lock;
            }
            Err(error) => {
                assert!(tries < 50, "the waiting row stays locked by paused writer-1: {error}");
                lock.rollback().await.unwrap();
                writers[0].resume();
                tokio::time::sleep(Duration::from_millis(100)).await;
                writers[0].pause();
                tries += 1;
            }
        }
    };
    writers[1].resume();

    // The order and the second mark: writer-2 takes them (after the ack wait if they
    // went to the paused writer-1 first). It either waits for the locked row of the
    // mark's key (what it must do) or writes the second mark past it.
    push_accepted(&mut socket, &[order(1), mark(1, 2)]).await;
    let blocked = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%relational_waiting%'";
    let marks = "SELECT count(*) FROM bus_order_marks";
    let began = Instant::now();
    while count(&client, blocked).await == 0 && count(&client, marks).await == 0 && began.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited_for_the_row = count(&client, blocked).await > 0;
    lock.rollback().await.unwrap();
    writers[0].resume();
    // Settled: nothing waits, and past writer-1's retry (every second) and writer-2's
    // take-over of waiting rows (every 2 s).
    let began = Instant::now();
    while (count(&client, waiting).await != 0 || count(&client, marks).await == 0) && began.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stored: Vec<String> =
        client.query("SELECT mark::text FROM bus_order_marks", &[]).await.unwrap().iter().map(|row| row.get(0)).collect();
    let letters: Vec<String> =
        client.query("SELECT reason || ': ' || detail FROM dead_letters", &[]).await.unwrap().iter().map(|row| row.get(0)).collect();
    let mut stops = Vec::new();
    for (name, process) in ["edge", "writer-1", "writer-2"].into_iter().zip(std::iter::once(&mut edge).chain(writers.iter_mut())) {
        let status = tokio::task::block_in_place(|| process.stop());
        stops.push((name, status, process.log()));
    }
    drop(socket);
    nats.kill();

    assert!(waited_for_the_row, "writer-2 waited for the locked waiting row of the key it was about to write; stored {stored:?}");
    assert_eq!(stored, ["1.20000000000000000001"], "the second mark stays; dead letters {letters:?}");
    assert_eq!(count(&client, waiting).await, 0, "nothing waits");
    assert!(letters.is_empty(), "nothing dead-lettered: {letters:?}");
    for (name, status, log) in stops {
        assert!(status.success(), "{name} stops cleanly on SIGTERM ({status}); {} ends with:\n{}", log.display(), tail(&log));
    }
}

/// The edge's and the writer's descriptions of a custom table differ (a column's type):
/// the writer writes none of its rows and dead-letters each, naming the difference. A
/// relational row the edge passed on unchecked (it has no database) and the writer's
/// catalog refuses is dead-lettered with the router's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_described_differently_on_edge_and_writer_is_refused_by_name() {
    let gauges = |level: &str| {
        format!(
            "[[custom_tables]]\nname = \"bus_gauges\"\ntime_column = \"at\"\n\
             columns = [{{ name = \"at\", type = \"timestamptz\" }}, {{ name = \"level\", type = \"{level}\" }}]\n"
        )
    };
    let cluster = support::start_cluster();
    let mut nats = tokio::task::block_in_place(ThrowawayNats::start).expect("a throwaway nats-server (.ci/run installs it)");
    let dir = tempfile::Builder::new().prefix("hypertick-bus-mismatch-").tempdir().unwrap();
    let (push, metrics) = (free_port(), free_port());
    let text = writer_text(&cluster, &nats.url(), metrics, &gauges("numeric"));
    hypertick::app::migrate(&hypertick::app::load_config_str(&text, Vec::new()).unwrap()).await.expect("migrate");
    let writer_path = writer_config(dir.path(), "writer", &text);
    let edge_path = edge_config(dir.path(), &nats.url(), push, &gauges("numeric(10,2)"));
    let (mut edge, mut writer) =
        tokio::task::block_in_place(|| (DaemonProcess::start(&edge_path, push), DaemonProcess::start(&writer_path, metrics)));
    let client = support::sql(&cluster).await;

    let mut socket = support::connect(push).await;
    let rows: Vec<String> = (0..3)
        .map(|number| {
            row(
                &format!("gauge/{number}"),
                "bus_gauges",
                "insert",
                &format!(r#"{{"at":"2026-12-01T00:00:0{number}Z","level":"1.2{number}"}}"#),
            )
        })
        .chain(std::iter::once(row("bad/1", "orders", "insert", r#"{"id":"00000000-0000-4000-8000-000000000001","no_such_column":1}"#)))
        .collect();
    push_accepted(&mut socket, &rows).await;
    let letters = support::wait_for_count(&client, "SELECT count(*) FROM dead_letters", 4).await;
    let texts: Vec<String> = client
        .query("SELECT reason || ': ' || detail || ' | ' || raw FROM dead_letters ORDER BY reason, raw", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let stopped = tokio::task::block_in_place(|| [edge.stop(), writer.stop()]);
    drop(socket);
    nats.kill();

    assert_eq!(letters, 4, "{texts:?}");
    for (index, text) in texts[..3].iter().enumerate() {
        assert!(text.starts_with("schema_mismatch: bus hypertick.custom.bus_gauges sequence "), "{text}");
        assert!(
            text.contains("the table `bus_gauges` is described differently on the edge and on this writer: column 2 is `level` numeric(10,2) on the edge, `level` numeric here"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!(
                r#"| {{"type":"row","table":"bus_gauges","op":"insert","row":{{"at":"2026-12-01T00:00:0{index}.000000Z","level":1.2{index}}}}}"#
            )),
            "{text}"
        );
    }
    assert!(texts[3].starts_with("unknown_column: taken from the bus: `no_such_column` is not a column of orders"), "{texts:?}");
    assert_eq!(count(&client, "SELECT count(*) FROM bus_gauges").await, 0, "nothing written into the writer's table");
    assert_eq!(count(&client, "SELECT count(*) FROM orders").await, 0);
    for status in stopped {
        assert!(status.success(), "clean stop ({status})");
    }
}
