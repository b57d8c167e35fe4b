//! `[bus]`: scale-out over NATS JetStream. Without the section (or with `role =
//! "all"`) one process runs sources and writers together and no bus is used.

use std::num::NonZeroU64;

use schemars::JsonSchema;
use serde::Deserialize;

/// What this instance does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BusRole {
    /// Sources and writers in one process; no bus (the default).
    #[default]
    All,
    /// Sources → normalized records published to the stream. No database.
    Edge,
    /// Durable pull consumers → batches → COPY into the database. No sources.
    Writer,
}

impl BusRole {
    pub fn name(self) -> &'static str {
        match self {
            BusRole::All => "all",
            BusRole::Edge => "edge",
            BusRole::Writer => "writer",
        }
    }
}

/// `[bus]`: the NATS JetStream stream edges publish to and writers consume from.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// `all` (one process, no bus), `edge` or `writer`.
    pub role: BusRole,
    /// NATS server URL(s), comma-separated: `nats://host:4222`.
    pub url: String,
    /// The JetStream stream (created by the first instance that finds it missing; its
    /// limits are brought to the values below when they differ).
    pub stream: String,
    /// Subjects are `<subject_prefix>.<table>.<venue>`; relational rows go to
    /// `<subject_prefix>.relational.<table>`, a custom table's rows to
    /// `<subject_prefix>.custom.<table>`.
    pub subject_prefix: String,
    /// This edge's name, unique among the edges: it prefixes the publish ids the stream
    /// deduplicates by. Required for `role = "edge"`.
    pub edge_id: Option<String>,
    /// Durable consumer name prefix shared by every writer: one consumer per table,
    /// `<consumer>-<table>` (`<consumer>-relational` for the relational tables,
    /// `<consumer>-custom-<table>` for a custom table), and writers sharing it split
    /// its messages.
    pub consumer: String,
    /// Stream limit: bytes held. When it is reached, publishes are refused and edges
    /// keep records in their spool until writers catch up.
    pub max_bytes: i64,
    /// Stream limit: messages older than this are removed by the server whether or not
    /// a writer took them. 0: no age limit (the default).
    pub max_age_secs: u64,
    /// How long the stream remembers publish ids: an edge that restarts within it
    /// republishes what it had in flight without duplicates in the stream.
    pub duplicate_window_secs: u64,
    /// A message a writer took and neither committed nor extended within this is
    /// redelivered to another writer (writers extend it while a batch waits on the
    /// database).
    pub ack_wait_secs: NonZeroU64,
    /// Messages a table's consumer hands out without an ack, across all writers.
    pub max_ack_pending: i64,
    /// Edge: records per published message at most (a batch is split by venue first).
    pub message_max_rows: usize,
    /// Edge: bytes per published message at most; a message is closed before a row
    /// would take it past this (a single larger row goes alone). Keep it below the NATS
    /// server's `max_payload` (1 MiB by default) and above the largest record.
    pub message_max_bytes: usize,
    /// Edge: published messages awaiting the stream's ack, per table.
    pub publish_in_flight: usize,
    /// How often stream and consumer state is read for the metrics.
    pub metrics_interval_secs: NonZeroU64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            role: BusRole::All,
            url: "nats://127.0.0.1:4222".into(),
            stream: "HYPERTICK".into(),
            subject_prefix: "hypertick".into(),
            edge_id: None,
            consumer: "hypertick-writers".into(),
            max_bytes: 1 << 30,
            max_age_secs: 0,
            duplicate_window_secs: 300,
            ack_wait_secs: const { NonZeroU64::new(30).unwrap() },
            max_ack_pending: 1_000,
            message_max_rows: 2_000,
            message_max_bytes: 512 << 10,
            publish_in_flight: 64,
            metrics_interval_secs: const { NonZeroU64::new(5).unwrap() },
        }
    }
}

/// A NATS name token: letters, digits, `-` and `_` only (no `.`, `*`, `>` or spaces).
pub fn is_name_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The problems of `[bus]`, each with its key.
pub(super) fn check(bus: &BusConfig, problem: &mut impl FnMut(&str, String)) {
    let token = "expected letters, digits, `-` or `_` only";
    if !is_name_token(&bus.stream) {
        problem("bus.stream", format!("{token}, got {:?}", bus.stream));
    }
    if !bus.subject_prefix.split('.').all(is_name_token) {
        problem(
            "bus.subject_prefix",
            format!("expected dot-separated tokens of letters, digits, `-` or `_`, got {:?}", bus.subject_prefix),
        );
    }
    if !is_name_token(&bus.consumer) {
        problem("bus.consumer", format!("{token}, got {:?}", bus.consumer));
    }
    match (&bus.edge_id, bus.role) {
        (None, BusRole::Edge) => problem("bus.edge_id", "expected a name unique among the edges (required for role = \"edge\")".into()),
        (Some(id), _) if !is_name_token(id) => problem("bus.edge_id", format!("{token}, got {id:?}")),
        _ => {}
    }
    if !bus.url.split(',').all(|url| !url.trim().is_empty()) {
        problem("bus.url", format!("expected nats://host:port, got {:?}", bus.url));
    }
    if bus.max_bytes < 1 << 20 {
        problem("bus.max_bytes", format!("expected at least 1048576 bytes, got {}", bus.max_bytes));
    }
    if bus.max_ack_pending < 1 {
        problem("bus.max_ack_pending", "expected at least 1".into());
    }
    if !(1..=100_000).contains(&bus.message_max_rows) {
        problem("bus.message_max_rows", format!("expected 1 to 100000, got {}", bus.message_max_rows));
    }
    if !(1024..=64 << 20).contains(&bus.message_max_bytes) {
        problem("bus.message_max_bytes", format!("expected 1024 to 67108864 bytes, got {}", bus.message_max_bytes));
    }
    if !(1..=10_000).contains(&bus.publish_in_flight) {
        problem("bus.publish_in_flight", format!("expected 1 to 10000, got {}", bus.publish_in_flight));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(bus: &BusConfig) -> Vec<String> {
        let mut found = Vec::new();
        check(bus, &mut |key, message| found.push(format!("{key}: {message}")));
        found
    }

    #[test]
    fn defaults_are_valid() {
        assert!(problems(&BusConfig::default()).is_empty());
    }

    #[test]
    fn an_edge_needs_a_valid_name() {
        let mut bus = BusConfig { role: BusRole::Edge, ..BusConfig::default() };
        assert!(problems(&bus)[0].starts_with("bus.edge_id: expected a name"));
        bus.edge_id = Some("edge.a".into());
        assert!(problems(&bus)[0].starts_with("bus.edge_id: expected letters"), "{:?}", problems(&bus));
        bus.edge_id = Some("edge-a".into());
        assert!(problems(&bus).is_empty());
    }

    #[test]
    fn names_and_limits_are_checked() {
        let bus =
            BusConfig { stream: "A B".into(), subject_prefix: "md..x".into(), max_bytes: 10, message_max_rows: 0, ..BusConfig::default() };
        let found = problems(&bus);
        for key in ["bus.stream", "bus.subject_prefix", "bus.max_bytes", "bus.message_max_rows"] {
            assert!(found.iter().any(|problem| problem.starts_with(key)), "{key} in {found:?}");
        }
    }
}
