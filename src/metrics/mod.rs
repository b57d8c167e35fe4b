//! Observability: the Prometheus recorder and the `/metrics`, `/healthz` and `/readyz`
//! endpoints (`exporter`), the readiness state behind `/readyz` (`health`), one
//! function per event that logs and counts together (`events`), and the in-process
//! statistics (row counts, receipt→commit latency histograms) behind the periodic
//! summary line and the demo's progress display (`stats`).

pub mod events;
mod exporter;
mod health;
mod stats;

pub use exporter::{install_recorder, serve_metrics, ListenerLimits};
pub use health::{Check, Health, Readiness, SpoolBytes};
pub use stats::{spawn_summary_logger, Stats, TableSnapshot};
