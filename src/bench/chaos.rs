//! `hypertick bench --only chaos`: a fault soak. The daemon runs as a child process
//! (`hypertick run --config FILE`) on a spool with `ack = "durable"`; valid producers
//! push ticks with ids and keep a ledger; hostile inputs arrive from other connections;
//! PostgreSQL is stopped (`-m immediate`) and restarted on one period and the daemon
//! SIGKILLed and restarted on another. Afterwards everything drains, the daemon stops
//! cleanly, and every acked id must be in `ticks` exactly once. Results go to
//! `chaos.md` and `chaos.json` in `--out`; lost or duplicated ids make it fail.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio_util::sync::CancellationToken;

use super::chaos_faults::{daemon_faults, database_faults, DaemonChild, DaemonPlace, FaultCounts, FaultState, Timeline};
use super::chaos_hostile::{hostile, Limits};
use super::chaos_producer::{produce, ProducerCounters, ProducerPlan};
use super::chaos_report::{dead_letters, producer_rows, reckon, ChaosReport};
use super::figures::megabytes;
use super::measure::status_bytes;
use crate::cli::BenchArgs;
use crate::db::throwaway::{ClusterOptions, ThrowawayCluster};

/// Rows per frame of the valid producers.
const FRAME_ROWS: usize = 200;
/// Limits of the soak's configuration that the hostile inputs aim at.
const MAX_FRAME_BYTES: usize = 1 << 20;
const SIGNALS_MAX_RECORD_BYTES: usize = 65_536;
const HANDSHAKE_TIMEOUT_MS: u64 = 2_000;
/// How long the producers may take to have everything acked, and the table to hold it,
/// after the faults stop.
const DRAIN_LIMIT: Duration = Duration::from_secs(240);

fn config_text(url: &str, push: SocketAddr, spool: &Path) -> String {
    format!(
        "[database]\nurl = \"{url}\"\nretry_initial_backoff_ms = 50\nretry_max_backoff_ms = 1000\n\n\
         [server]\nlisten = \"{push}\"\nack = \"durable\"\nmax_connections = 16\nmax_pending_handshakes = 32\n\
         handshake_timeout_ms = {HANDSHAKE_TIMEOUT_MS}\nmax_frame_bytes = {MAX_FRAME_BYTES}\nmax_messages_per_sec = 200\n\n\
         [metrics]\nenabled = false\n\n[spool]\ndir = \"{}\"\n\n[schema]\nprofile = \"vanilla\"\n\n\
         [tables.signals]\nmax_record_bytes = {SIGNALS_MAX_RECORD_BYTES}\n",
        spool.display()
    )
}

/// The peaks of the daemon's resident memory over all its processes.
#[derive(Default)]
struct Peaks {
    rss: u64,
    hwm: u64,
}

impl Peaks {
    fn sample(&mut self, state: &FaultState) -> u64 {
        let pid = state.daemon_pid.load(Ordering::Relaxed);
        if pid == 0 {
            return 0;
        }
        let rss = status_bytes(pid, "VmRSS").unwrap_or(0);
        self.rss = self.rss.max(rss);
        self.hwm = self.hwm.max(status_bytes(pid, "VmHWM").unwrap_or(0));
        rss
    }
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    println!("\n== chaos soak: {} s of load, hostile inputs, PostgreSQL and daemon kills ==", args.chaos_secs);
    let work = tempfile::Builder::new().prefix("hypertick-chaos-").tempdir().context("a work directory")?;
    let cluster = match &args.database_url {
        Some(_) => None,
        None => {
            println!("starting a throwaway PostgreSQL cluster (fsync on, default settings)…");
            let cluster = tokio::task::spawn_blocking(|| ThrowawayCluster::start(ClusterOptions::default()))
                .await?
                .context("starting the throwaway PostgreSQL cluster")?;
            Some(Arc::new(Mutex::new(cluster)))
        }
    };
    let url = match (&args.database_url, &cluster) {
        (Some(url), _) => url.clone(),
        (None, Some(cluster)) => cluster.lock().unwrap_or_else(|poison| poison.into_inner()).url("hypertick"),
        (None, None) => bail!("neither a database URL nor a throwaway cluster"),
    };
    if cluster.is_none() {
        println!("--database-url given: PostgreSQL is not this process's to kill; only the daemon is.");
    }
    let push = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let text = config_text(&url, push, &work.path().join("spool"));
    let config = crate::app::load_config_str(&text, std::iter::empty())?;
    let worst_case = crate::config::worst_case_bytes(&config);
    let config_path = work.path().join("hypertick.toml");
    write_private(&config_path, &text)?;
    crate::app::migrate(&config).await.context("preparing the schema")?;
    let client = crate::db::connect(&url, Duration::from_secs(10)).await?;
    client.batch_execute("TRUNCATE ticks, dead_letters").await.context("emptying ticks and dead_letters")?;
    drop(client);

    let place = DaemonPlace { config: config_path, log: work.path().join("daemon.log"), push };
    let (daemon, _) = DaemonChild::start_until_up(&place.config, &place.log, push, Duration::from_secs(60)).await?;
    let state = Arc::new(FaultState::default());
    state.daemon_pid.store(daemon.pid(), Ordering::Relaxed);
    let timeline = Arc::new(Timeline::new());
    timeline.note(format!("daemon up (pid {}), load begins", daemon.pid()));
    let counts = Arc::new(Mutex::new(FaultCounts::default()));
    let faults_stop = CancellationToken::new();
    // 0 = never: a period longer than any soak.
    let every = |secs: u64| Duration::from_secs(if secs == 0 { 100 * 365 * 86_400 } else { secs });
    let database_task = cluster.clone().map(|cluster| {
        let down = Duration::from_secs(args.chaos_db_down);
        let (stop, state, timeline, counts) = (faults_stop.clone(), state.clone(), timeline.clone(), counts.clone());
        tokio::spawn(database_faults(cluster, every(args.chaos_db_every), down, stop, state, timeline, counts))
    });
    let daemon_task = tokio::spawn(daemon_faults(
        daemon,
        place,
        every(args.chaos_daemon_every),
        faults_stop.clone(),
        state.clone(),
        timeline.clone(),
        counts.clone(),
    ));
    let hostile_stop = CancellationToken::new();
    let limits = Limits {
        max_frame_bytes: MAX_FRAME_BYTES,
        signals_max_record_bytes: SIGNALS_MAX_RECORD_BYTES,
        handshake_timeout: Duration::from_millis(HANDSHAKE_TIMEOUT_MS),
    };
    let hostile_task = tokio::spawn(hostile(push, limits, Duration::from_secs(args.chaos_hostile_every.max(1)), hostile_stop.clone()));
    let stop_new = CancellationToken::new();
    let producer_counters = Arc::new(ProducerCounters::default());
    let soak = Duration::from_secs(args.chaos_secs);
    let producers = args.chaos_producers.max(1);
    let producer_tasks: Vec<_> = (0..producers)
        .map(|index| {
            let plan = ProducerPlan {
                index,
                push,
                rate: args.chaos_rate.div_ceil(producers as u64),
                frame_rows: FRAME_ROWS,
                stop_new: stop_new.clone(),
                give_up: Instant::now() + soak + DRAIN_LIMIT,
                started: Instant::now(),
            };
            tokio::spawn(produce(plan, producer_counters.clone()))
        })
        .collect();

    // The soak: RSS each second, a progress line every 5 s.
    let mut peaks = Peaks::default();
    let mut observer: Option<tokio_postgres::Client> = None;
    let started = Instant::now();
    let mut seconds = 0u64;
    while started.elapsed() < soak {
        tokio::time::sleep(Duration::from_secs(1)).await;
        seconds += 1;
        let rss = peaks.sample(&state);
        if daemon_task.is_finished() || database_task.as_ref().is_some_and(|task| task.is_finished()) {
            timeline.note("a fault task ended early: the soak stops");
            break;
        }
        if seconds.is_multiple_of(5) {
            let rows = count_rows(&url, &mut observer, &state).await;
            progress(&timeline, &producer_counters, &rows, rss, state.describe());
        }
    }
    let seconds_under_faults = started.elapsed().as_secs_f64();

    println!("stopping the faults; PostgreSQL and the daemon are left running");
    faults_stop.cancel();
    if let Some(task) = database_task {
        task.await.context("the PostgreSQL fault task")??;
    }
    let daemon = daemon_task.await.context("the daemon fault task")??;
    hostile_stop.cancel();
    let hostile_outcomes = hostile_task.await.unwrap_or_default();
    timeline.note("faults and hostile inputs stopped; producers resend what is unacked");
    stop_new.cancel();

    // The drain: producers finish once every id is acked; then the table catches up.
    let drain_started = Instant::now();
    let mut producer_tasks = producer_tasks;
    while !producer_tasks.iter().all(|task| task.is_finished()) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = peaks.sample(&state);
        if drain_started.elapsed().as_secs().is_multiple_of(5) {
            let rows = count_rows(&url, &mut observer, &state).await;
            progress(&timeline, &producer_counters, &rows, rss, "draining (producers resending)");
        }
    }
    let mut ledgers = Vec::new();
    for task in producer_tasks.drain(..) {
        ledgers.push(task.await.context("a producer task")?);
    }
    let acked: u64 = ledgers.iter().map(|ledger| ledger.acked).sum();
    timeline.note(format!("producers done: {acked} ids acked"));
    let deadline = drain_started + DRAIN_LIMIT;
    loop {
        peaks.sample(&state);
        let rows = count_rows(&url, &mut observer, &state).await;
        if rows.parse::<u64>().is_ok_and(|rows| rows >= acked) || Instant::now() > deadline {
            break;
        }
        progress(&timeline, &producer_counters, &rows, peaks.sample(&state), "draining (waiting for commits)");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let drain_seconds = drain_started.elapsed().as_secs_f64();
    peaks.sample(&state);
    state.daemon_pid.store(0, Ordering::Relaxed);
    let daemon_clean_stop = match daemon.stop(Duration::from_secs(60)).await {
        Ok(status) if status.success() => "exit 0".to_string(),
        Ok(status) => format!("FAILED ({status})"),
        Err(error) => format!("FAILED ({error:#})"),
    };
    timeline.note(format!("daemon stopped: {daemon_clean_stop}"));

    let client = crate::db::connect(&url, Duration::from_secs(10)).await?;
    let counts_now = reckon(&client, &ledgers).await?;
    let letters = dead_letters(&client).await?;
    drop(client);
    let faults = counts.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
    let mut report = ChaosReport {
        command,
        build: if cfg!(debug_assertions) { "debug" } else { "release" }.to_string(),
        machine: super::machine(&url, cluster.is_some()).await?,
        settings: settings(args, cluster.is_some()),
        config_toml: text
            .replace(&url, "postgres://…the throwaway cluster…")
            .replace(&work.path().display().to_string(), "/tmp/hypertick-chaos-…"),
        seconds_under_faults,
        drain_seconds,
        daemon_clean_stop,
        counts: counts_now,
        dead_letters: letters,
        peak_rss_mb: megabytes(peaks.rss),
        peak_hwm_mb: megabytes(peaks.hwm),
        worst_case_mb: worst_case.into(),
        faults,
        hostile: hostile_outcomes,
        timeline: timeline.events(),
        verdict: String::new(),
    };
    report.verdict = if report.passed() {
        format!("PASS: every one of {} acked ids is in the table exactly once (lost 0, duplicated 0)", report.counts.acked)
    } else {
        format!("FAIL: {} acked ids lost, {} ids duplicated", report.counts.lost, report.counts.duplicated)
    };
    let markdown = report.markdown();
    println!("\n{markdown}");
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let json_path = args.out.join("chaos.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", json_path.display()))?;
    let markdown_path = args.out.join("chaos.md");
    std::fs::write(&markdown_path, &markdown).with_context(|| format!("writing {}", markdown_path.display()))?;
    println!("wrote {} and {}", json_path.display(), markdown_path.display());
    drop(cluster);
    if !report.passed() {
        let kept = work.keep();
        bail!("{}; the daemon's log and spool are kept in {}", report.verdict, kept.display());
    }
    Ok(())
}

/// Rows of the producers in the table, or "-" while PostgreSQL cannot answer.
async fn count_rows(url: &str, observer: &mut Option<tokio_postgres::Client>, state: &FaultState) -> String {
    if state.database_down.load(Ordering::Relaxed) {
        *observer = None;
        return "-".into();
    }
    if observer.as_ref().is_none_or(|client| client.is_closed()) {
        *observer = crate::db::connect(url, Duration::from_secs(2)).await.ok();
    }
    let Some(client) = observer.as_ref() else { return "-".into() };
    match producer_rows(client).await {
        Ok(rows) => rows.to_string(),
        Err(_) => {
            *observer = None;
            "-".into()
        }
    }
}

fn progress(timeline: &Timeline, counters: &ProducerCounters, rows: &str, rss: u64, fault: &str) {
    println!(
        "[{:>5.0} s] sent {:>9} acked {:>9} in table {:>9} rss {:>5.0} MB fault: {fault}",
        timeline.elapsed(),
        counters.sent.load(Ordering::Relaxed),
        counters.acked.load(Ordering::Relaxed),
        rows,
        megabytes(rss)
    );
    let _ = std::io::stdout().flush();
}

fn settings(args: &BenchArgs, kills_postgres: bool) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    let mut set = |key: &str, value: String| settings.insert(key.to_string(), value);
    set("chaos_secs", args.chaos_secs.to_string());
    set("offered rows/s", args.chaos_rate.to_string());
    set("producers", args.chaos_producers.to_string());
    set("ticks per frame", FRAME_ROWS.to_string());
    set("PostgreSQL killed every s", if kills_postgres { args.chaos_db_every.to_string() } else { "never (--database-url)".into() });
    set("PostgreSQL down s", args.chaos_db_down.to_string());
    set("daemon SIGKILLed every s", args.chaos_daemon_every.to_string());
    set("a hostile input every s", args.chaos_hostile_every.to_string());
    settings
}

/// Writes a file only this user can read (it holds the database URL).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
