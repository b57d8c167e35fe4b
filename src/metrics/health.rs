//! Readiness: what `GET /readyz` reports. The database check's last outcome (set by the
//! daemon's probe task), each venue source's connection state (set by the connector),
//! and the spool's fill are kept here; [`Health::readiness`] turns them into named
//! checks. The states also move the gauges `hypertick_database_up`,
//! `hypertick_source_connected{source}` and `hypertick_spool_bytes`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::gauge;
use serde::Serialize;

use crate::config::HealthConfig;

/// The spool's current size in bytes (a closure, so that this module needs no spool).
pub type SpoolBytes = Box<dyn Fn() -> u64 + Send + Sync>;

struct SpoolState {
    max_bytes: u64,
    used_bytes: SpoolBytes,
}

#[derive(Clone)]
struct DatabaseState {
    reachable: bool,
    checked_at: Instant,
    detail: String,
}

#[derive(Clone, Copy)]
enum SourceState {
    Connected,
    /// Connecting for the first time, or reconnecting after a drop, since then.
    Down {
        since: Instant,
        ever_connected: bool,
    },
}

/// One named readiness check and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// What `/readyz` answers: ready when every check passed.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// The names of the failing checks.
    pub failing: Vec<String>,
    pub checks: Vec<Check>,
}

/// The readiness state of one running daemon.
pub struct Health {
    source_down_budget: Duration,
    spool_high_water_percent: u8,
    database_stale_after: Duration,
    database: Mutex<Option<DatabaseState>>,
    /// False on an edge, which has no database.
    has_database: std::sync::atomic::AtomicBool,
    sources: Mutex<BTreeMap<String, SourceState>>,
    spool: Mutex<Option<SpoolState>>,
}

impl Health {
    pub fn new(config: &HealthConfig) -> Health {
        Health {
            source_down_budget: Duration::from_secs(config.source_down_budget_secs),
            spool_high_water_percent: config.spool_high_water_percent,
            // Three missed checks, and at least a few seconds for a slow connect.
            database_stale_after: Duration::from_millis(config.database_check_interval_ms.get().saturating_mul(3))
                .max(Duration::from_secs(5)),
            database: Mutex::new(None),
            has_database: std::sync::atomic::AtomicBool::new(true),
            sources: Mutex::new(BTreeMap::new()),
            spool: Mutex::new(None),
        }
    }

    /// An instance without a database (an edge): readiness does not check one.
    pub fn without_database(&self) {
        self.has_database.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records the outcome of one database check.
    pub fn database_checked(&self, outcome: Result<(), String>) {
        gauge!("hypertick_database_up").set(if outcome.is_ok() { 1.0 } else { 0.0 });
        let state = DatabaseState { reachable: outcome.is_ok(), checked_at: Instant::now(), detail: outcome.err().unwrap_or_default() };
        *self.database.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(state);
    }

    /// A venue source that will connect: down (connecting) from now until it connects.
    pub fn source_registered(&self, source: &str) {
        gauge!("hypertick_source_connected", "source" => source.to_string()).set(0.0);
        let mut sources = self.sources.lock().unwrap_or_else(|poison| poison.into_inner());
        sources.insert(source.to_string(), SourceState::Down { since: Instant::now(), ever_connected: false });
    }

    pub fn source_connected(&self, source: &str) {
        gauge!("hypertick_source_connected", "source" => source.to_string()).set(1.0);
        let mut sources = self.sources.lock().unwrap_or_else(|poison| poison.into_inner());
        sources.insert(source.to_string(), SourceState::Connected);
    }

    /// The source's connection ended; it is reconnecting from now on.
    pub fn source_disconnected(&self, source: &str) {
        gauge!("hypertick_source_connected", "source" => source.to_string()).set(0.0);
        let mut sources = self.sources.lock().unwrap_or_else(|poison| poison.into_inner());
        let down = SourceState::Down { since: Instant::now(), ever_connected: true };
        // A source already down stays down since it first went down.
        let state = sources.entry(source.to_string()).or_insert(down);
        if matches!(state, SourceState::Connected) {
            *state = down;
        }
    }

    /// The spool whose fill is checked against the high-water mark.
    pub fn watch_spool(&self, max_bytes: u64, used_bytes: SpoolBytes) {
        gauge!("hypertick_spool_max_bytes").set(max_bytes as f64);
        *self.spool.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(SpoolState { max_bytes, used_bytes });
        self.update_spool_gauge();
    }

    /// Sets `hypertick_spool_bytes` from the spool's current size.
    pub fn update_spool_gauge(&self) {
        if let Some(spool) = self.spool.lock().unwrap_or_else(|poison| poison.into_inner()).as_ref() {
            gauge!("hypertick_spool_bytes").set((spool.used_bytes)() as f64);
        }
    }

    /// Every check, now.
    pub fn readiness(&self) -> Readiness {
        let now = Instant::now();
        let mut checks = Vec::new();
        if self.has_database.load(std::sync::atomic::Ordering::Relaxed) {
            checks.push(self.database_check(now));
        }
        let sources = self.sources.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
        checks.extend(sources.into_iter().map(|(name, state)| self.source_check(name, state, now)));
        if let Some(spool) = self.spool.lock().unwrap_or_else(|poison| poison.into_inner()).as_ref() {
            checks.push(self.spool_check((spool.used_bytes)(), spool.max_bytes));
        }
        let failing: Vec<String> = checks.iter().filter(|check| !check.ok).map(|check| check.name.clone()).collect();
        Readiness { ready: failing.is_empty(), failing, checks }
    }

    fn database_check(&self, now: Instant) -> Check {
        let state = self.database.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
        let (ok, detail) = match state {
            None => (false, "not checked yet".to_string()),
            Some(state) => {
                let age = now.saturating_duration_since(state.checked_at);
                if age > self.database_stale_after {
                    (false, format!("no check for {:.1}s", age.as_secs_f64()))
                } else if state.reachable {
                    (true, format!("answered {:.1}s ago", age.as_secs_f64()))
                } else {
                    (false, state.detail)
                }
            }
        };
        Check { name: "database".into(), ok, detail }
    }

    fn source_check(&self, name: String, state: SourceState, now: Instant) -> Check {
        let (ok, detail) = match state {
            SourceState::Connected => (true, "connected".to_string()),
            SourceState::Down { since, ever_connected } => {
                let down_for = now.saturating_duration_since(since);
                let doing = if ever_connected { "reconnecting" } else { "connecting" };
                let detail = format!(
                    "{doing} for {:.0}s (budget {}s, health.source_down_budget_secs)",
                    down_for.as_secs_f64(),
                    self.source_down_budget.as_secs()
                );
                (down_for < self.source_down_budget, detail)
            }
        };
        Check { name: format!("source:{name}"), ok, detail }
    }

    fn spool_check(&self, used: u64, max: u64) -> Check {
        let percent = if max == 0 { 100.0 } else { used as f64 * 100.0 / max as f64 };
        Check {
            name: "spool".into(),
            ok: percent < f64::from(self.spool_high_water_percent),
            detail: format!(
                "{used} of {max} bytes ({percent:.1}%), high-water mark {}% (health.spool_high_water_percent)",
                self.spool_high_water_percent
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(budget_secs: u64) -> Health {
        Health::new(&HealthConfig {
            source_down_budget_secs: budget_secs,
            spool_high_water_percent: 50,
            database_check_interval_ms: std::num::NonZeroU64::new(1_000).unwrap(),
        })
    }

    fn failing(health: &Health) -> Vec<String> {
        health.readiness().failing
    }

    #[test]
    fn the_database_must_have_answered() {
        let health = health(60);
        assert_eq!(failing(&health), ["database"]);
        health.database_checked(Err("connection refused".into()));
        let readiness = health.readiness();
        assert_eq!(readiness.failing, ["database"]);
        assert_eq!(readiness.checks[0].detail, "connection refused");
        health.database_checked(Ok(()));
        assert!(health.readiness().ready);
    }

    #[test]
    fn a_source_is_ready_while_connected_or_down_within_its_budget() {
        let health = health(60);
        health.database_checked(Ok(()));
        health.source_registered("binance");
        assert!(health.readiness().ready, "connecting, within the budget");
        health.source_connected("binance");
        health.source_disconnected("binance");
        assert!(health.readiness().ready, "reconnecting, within the budget");

        let no_budget = self::health(0);
        no_budget.database_checked(Ok(()));
        no_budget.source_registered("okx");
        assert_eq!(failing(&no_budget), ["source:okx"]);
        no_budget.source_connected("okx");
        assert!(no_budget.readiness().ready);
    }

    #[test]
    fn the_spool_must_be_below_its_high_water_mark() {
        let health = health(60);
        health.database_checked(Ok(()));
        let used = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(10));
        let reading = used.clone();
        health.watch_spool(100, Box::new(move || reading.load(std::sync::atomic::Ordering::Relaxed)));
        assert!(health.readiness().ready);
        used.store(50, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(failing(&health), ["spool"]);
    }
}
