//! The faults of the chaos soak (`bench --only chaos`): the daemon as a child process
//! (`hypertick run --config FILE`, the current executable) that is SIGKILLed and
//! started again on a period, and the throwaway PostgreSQL cluster stopped with
//! `pg_ctl stop -m immediate` and started again on another period. Both note what they
//! did, with the time, in a shared timeline, and say which fault is active now.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::db::throwaway::{StopMode, ThrowawayCluster};

/// What happened when, in seconds since the soak began.
pub struct Timeline {
    started: Instant,
    events: Mutex<Vec<(f64, String)>>,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline { started: Instant::now(), events: Mutex::new(Vec::new()) }
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn note(&self, what: impl Into<String>) {
        let at = self.elapsed();
        self.events.lock().unwrap_or_else(|poison| poison.into_inner()).push((at, what.into()));
    }

    pub fn events(&self) -> Vec<(f64, String)> {
        self.events.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }
}

/// Which fault is active now, and the daemon's process id (0 while it is down).
#[derive(Default)]
pub struct FaultState {
    pub database_down: AtomicBool,
    pub daemon_down: AtomicBool,
    pub daemon_pid: AtomicU32,
}

impl FaultState {
    /// "none", "PostgreSQL down", "daemon down" or both.
    pub fn describe(&self) -> &'static str {
        match (self.database_down.load(Ordering::Relaxed), self.daemon_down.load(Ordering::Relaxed)) {
            (false, false) => "none",
            (true, false) => "PostgreSQL down",
            (false, true) => "daemon down",
            (true, true) => "PostgreSQL and daemon down",
        }
    }
}

/// How many faults were injected, and how they went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultCounts {
    pub postgres_kills: u64,
    pub postgres_restarts: u64,
    pub daemon_kills: u64,
    pub daemon_restarts: u64,
    /// Starts of the daemon that exited or did not listen (e.g. PostgreSQL was down:
    /// the daemon migrates at start) and were tried again.
    pub daemon_failed_starts: u64,
}

/// `hypertick run --config FILE` as a child process, its stderr appended to a log file.
pub struct DaemonChild {
    child: Child,
}

impl DaemonChild {
    /// One start: spawns the daemon and waits until its push listener accepts
    /// connections (60 s at most). An error when it exits or does not listen in time.
    pub async fn start(config: &Path, log: &Path, push: SocketAddr) -> anyhow::Result<DaemonChild> {
        let executable = std::env::current_exe().context("locating the hypertick executable")?;
        let log_file =
            std::fs::OpenOptions::new().create(true).append(true).open(log).with_context(|| format!("opening {}", log.display()))?;
        let mut command = Command::new(executable);
        command.args(["run", "--config"]).arg(config).env("RUST_LOG", "info");
        // The configuration file is the whole configuration: no overrides from this shell.
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(|key| key.starts_with("HYPERTICK_") || key == "DATABASE_URL") {
                command.env_remove(key);
            }
        }
        let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file).spawn().context("starting hypertick run")?;
        let mut daemon = DaemonChild { child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let probe = tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(push)).await;
            if matches!(probe, Ok(Ok(_))) {
                return Ok(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                bail!("hypertick run exited at start ({status}); see {}", log.display());
            }
            if Instant::now() > deadline {
                daemon.kill();
                bail!("hypertick run did not listen on {push} within 60 s; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts it, trying again once a second while starts fail, for `limit` at most.
    /// Returns the daemon and how many starts failed.
    pub async fn start_until_up(config: &Path, log: &Path, push: SocketAddr, limit: Duration) -> anyhow::Result<(DaemonChild, u64)> {
        let deadline = Instant::now() + limit;
        let mut failed = 0;
        loop {
            match DaemonChild::start(config, log, push).await {
                Ok(daemon) => return Ok((daemon, failed)),
                Err(error) if Instant::now() > deadline => return Err(error.context(format!("no daemon start succeeded within {limit:?}"))),
                Err(_) => failed += 1,
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reaping.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and a wait for the exit (`limit` at most, then SIGKILL).
    pub async fn stop(mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        // SAFETY: kill(2) on our own child's pid; it has not been reaped yet.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM)
        };
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for the daemon")? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.kill();
                bail!("the daemon did not stop within {limit:?} of SIGTERM and was killed");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for DaemonChild {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Where the daemon runs from, for restarts.
pub struct DaemonPlace {
    pub config: PathBuf,
    pub log: PathBuf,
    pub push: SocketAddr,
}

/// SIGKILLs the daemon every `every` and starts it again at once (retrying while the
/// start fails), until `stop`; returns the running daemon.
pub async fn daemon_faults(
    mut daemon: DaemonChild,
    place: DaemonPlace,
    every: Duration,
    stop: CancellationToken,
    state: Arc<FaultState>,
    timeline: Arc<Timeline>,
    counts: Arc<Mutex<FaultCounts>>,
) -> anyhow::Result<DaemonChild> {
    let count = |change: &dyn Fn(&mut FaultCounts)| change(&mut counts.lock().unwrap_or_else(|poison| poison.into_inner()));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(daemon),
            _ = tokio::time::sleep(every) => {}
        }
        state.daemon_down.store(true, Ordering::Relaxed);
        state.daemon_pid.store(0, Ordering::Relaxed);
        daemon.kill();
        count(&|counts| counts.daemon_kills += 1);
        timeline.note(format!("daemon SIGKILLed (PostgreSQL {})", if state.database_down.load(Ordering::Relaxed) { "down" } else { "up" }));
        let (restarted, failed) = DaemonChild::start_until_up(&place.config, &place.log, place.push, Duration::from_secs(180)).await?;
        daemon = restarted;
        state.daemon_pid.store(daemon.pid(), Ordering::Relaxed);
        state.daemon_down.store(false, Ordering::Relaxed);
        count(&|counts| {
            counts.daemon_restarts += 1;
            counts.daemon_failed_starts += failed;
        });
        timeline.note(format!("daemon up again after {failed} failed start(s)"));
    }
}

/// Stops the cluster with `-m immediate` every `every`, keeps it down for `down`, and
/// starts it again, until `stop` (it is left running).
pub async fn database_faults(
    cluster: Arc<Mutex<ThrowawayCluster>>,
    every: Duration,
    down: Duration,
    stop: CancellationToken,
    state: Arc<FaultState>,
    timeline: Arc<Timeline>,
    counts: Arc<Mutex<FaultCounts>>,
) -> anyhow::Result<()> {
    let count = |change: &dyn Fn(&mut FaultCounts)| change(&mut counts.lock().unwrap_or_else(|poison| poison.into_inner()));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
        state.database_down.store(true, Ordering::Relaxed);
        let stopped = on_cluster(&cluster, |cluster| cluster.stop_server(StopMode::Immediate)).await;
        count(&|counts| counts.postgres_kills += 1);
        match stopped {
            Ok(()) => timeline.note("PostgreSQL stopped (immediate)"),
            Err(error) => timeline.note(format!("PostgreSQL immediate stop reported: {error:#}")),
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(down) => {}
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match on_cluster(&cluster, ThrowawayCluster::start_server).await {
                Ok(()) => break,
                Err(error) if attempts >= 5 => return Err(error.context("starting PostgreSQL again")),
                Err(error) => timeline.note(format!("PostgreSQL start failed, trying again: {error:#}")),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        state.database_down.store(false, Ordering::Relaxed);
        count(&|counts| counts.postgres_restarts += 1);
        timeline.note("PostgreSQL up again");
    }
}

/// Runs a blocking cluster operation (`pg_ctl`) off the async reactor.
async fn on_cluster(
    cluster: &Arc<Mutex<ThrowawayCluster>>,
    operation: impl FnOnce(&mut ThrowawayCluster) -> Result<(), crate::db::throwaway::ThrowawayError> + Send + 'static,
) -> anyhow::Result<()> {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || operation(&mut cluster.lock().unwrap_or_else(|poison| poison.into_inner())))
        .await
        .context("the pg_ctl task")?
        .map_err(anyhow::Error::from)
}
