//! One function per event: each logs (sampled where an event can repeat at high rate)
//! and updates the Prometheus metrics of DESIGN §5. Counters move per batch or per
//! frame, never per row; labels are bounded (table, reason code, source name).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{counter, gauge, histogram};

use crate::config::FullPolicy;
use crate::record::{DeadLetter, Table};

/// Logs the first few occurrences, then one in every `EVERY`.
fn sampled(counter: &AtomicU64) -> bool {
    const FIRST: u64 = 10;
    const EVERY: u64 = 1_000;
    let seen = counter.fetch_add(1, Ordering::Relaxed);
    seen < FIRST || seen.is_multiple_of(EVERY)
}

/// A table's writers start: its counters are exported at zero from now on, so that
/// dashboards show the table and `rate()`/`increase()` alerts see its first error.
pub fn table_started(table: Table) {
    let table = table.name();
    counter!("hypertick_rows_written_total", "table" => table).absolute(0);
    counter!("hypertick_batches_total", "table" => table).absolute(0);
    counter!("hypertick_writer_reconnects_total", "table" => table).absolute(0);
    for kind in ["connect", "retry", "data", "fatal"] {
        counter!("hypertick_write_errors_total", "table" => table, "kind" => kind).absolute(0);
    }
    gauge!("hypertick_queue_depth", "table" => table).set(0.0);
}

/// A source starts: its counters are exported at zero from now on (see `table_started`).
pub fn source_started(source: &str) {
    for name in [
        "hypertick_source_messages_total",
        "hypertick_source_records_total",
        "hypertick_parse_errors_total",
        "hypertick_source_reconnects_total",
        "hypertick_source_gaps_total",
        "hypertick_source_duplicates_total",
        "hypertick_book_levels_dropped_total",
    ] {
        counter!(name, "source" => source.to_string()).absolute(0);
    }
}

/// The relational rows waiting for their parent (or row), and their bytes.
pub fn relational_waiting(rows: usize, bytes: u64) {
    gauge!("hypertick_relational_waiting_rows").set(rows as f64);
    gauge!("hypertick_relational_waiting_bytes").set(bytes as f64);
}

pub fn batch_committed(table: Table, rows: usize, copy_time: Duration, oldest_latency: Duration) {
    let table = table.name();
    counter!("hypertick_rows_written_total", "table" => table).increment(rows as u64);
    counter!("hypertick_batches_total", "table" => table).increment(1);
    histogram!("hypertick_batch_rows", "table" => table).record(rows as f64);
    histogram!("hypertick_copy_seconds", "table" => table).record(copy_time.as_secs_f64());
    // One sample per batch: its oldest row, the batch's worst receipt→commit latency.
    histogram!("hypertick_ingest_latency_seconds", "table" => table).record(oldest_latency.as_secs_f64());
}

/// A writer committed a batch of bus messages: `superseded` of them were committed
/// before (redelivered), `resent` rows were left out as resends of stored ids.
pub fn bus_batch_committed(table: Table, messages: usize, superseded: usize, resent: usize) {
    let table = table.name();
    counter!("hypertick_bus_messages_committed_total", "table" => table).increment((messages - superseded) as u64);
    if superseded > 0 {
        counter!("hypertick_bus_messages_superseded_total", "table" => table).increment(superseded as u64);
        tracing::info!(table, messages = superseded, "redelivered bus messages were committed before; acked without writing");
    }
    if resent > 0 {
        counter!("hypertick_bus_rows_resent_total", "table" => table).increment(resent as u64);
        tracing::debug!(table, rows = resent, "rows whose id was stored before were left out");
    }
}

/// An edge's message was acknowledged by the stream (`duplicate`: the stream had it
/// already, from before a restart or a retried publish).
pub fn bus_published(table: Table, rows: usize, bytes: usize, duplicate: bool) {
    let table = table.name();
    counter!("hypertick_bus_published_messages_total", "table" => table).increment(1);
    counter!("hypertick_bus_published_rows_total", "table" => table).increment(rows as u64);
    counter!("hypertick_bus_published_bytes_total", "table" => table).increment(bytes as u64);
    if duplicate {
        counter!("hypertick_bus_publish_duplicates_total", "table" => table).increment(1);
    }
}

/// A publish failed (no ack, the stream full, the server gone); it is retried.
pub fn bus_publish_failed(table: Table, error: &str) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_bus_publish_failures_total", "table" => table.name()).increment(1);
    if SEEN.fetch_add(1, Ordering::Relaxed).is_multiple_of(100) {
        tracing::warn!(table = %table, error, "publishing to the bus failed; retrying (records wait in the spool)");
    }
}

/// A writer's consumer could not bind, pull or ack; it tries again.
pub fn bus_consume_failed(table: Table, error: &str) {
    counter!("hypertick_bus_consume_failures_total", "table" => table.name()).increment(1);
    tracing::warn!(table = %table, error, "bus consumer trouble; retrying");
}

/// The stream's state and limits.
pub fn bus_stream_state(messages: u64, bytes: u64, max_bytes: i64, max_age: Duration) {
    gauge!("hypertick_bus_stream_messages").set(messages as f64);
    gauge!("hypertick_bus_stream_bytes").set(bytes as f64);
    gauge!("hypertick_bus_stream_max_bytes").set(max_bytes as f64);
    gauge!("hypertick_bus_stream_max_age_seconds").set(max_age.as_secs_f64());
}

/// A table consumer's backlog: messages not yet delivered, and delivered but not acked.
pub fn bus_consumer_state(table: Table, pending: u64, ack_pending: usize) {
    gauge!("hypertick_bus_consumer_pending_messages", "table" => table.name()).set(pending as f64);
    gauge!("hypertick_bus_consumer_ack_pending_messages", "table" => table.name()).set(ack_pending as f64);
}

/// Insert mode with a conflict key: rows already stored, skipped.
pub fn rows_skipped_as_duplicates(table: Table, rows: usize) {
    counter!("hypertick_rows_skipped_total", "table" => table.name()).increment(rows as u64);
    tracing::debug!(table = %table, rows, "rows already stored were skipped");
}

pub fn queue_depth(table: Table, depth: usize) {
    gauge!("hypertick_queue_depth", "table" => table.name()).set(depth as f64);
}

pub fn channel_full(table: Table, policy: FullPolicy) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let policy_name = match policy {
        FullPolicy::Block => "block",
        FullPolicy::Reject => "reject",
    };
    counter!("hypertick_channel_full_total", "table" => table.name(), "policy" => policy_name).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(table = %table, policy = policy_name, "channel full; applying the full policy");
    }
}

pub fn source_frame(source: &str, records: usize) {
    counter!("hypertick_source_messages_total", "source" => source.to_string()).increment(1);
    counter!("hypertick_source_records_total", "source" => source.to_string()).increment(records as u64);
}

pub fn parse_errors(source: &str, count: usize) {
    counter!("hypertick_parse_errors_total", "source" => source.to_string()).increment(count as u64);
}

pub fn dead_lettered(letter: &DeadLetter) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_dead_letters_total", "reason" => letter.reason).increment(1);
    if sampled(&SEEN) {
        let sample: String = letter.raw.chars().take(200).collect();
        tracing::warn!(source = %letter.source, reason = letter.reason, detail = %letter.detail, %sample, "dead letter");
    }
}

/// Characters of a dead letter's raw input and detail shown in a log line.
const LOGGED_SAMPLE_CHARS: usize = 1_024;

fn logged_sample(text: &str) -> String {
    let mut sample: String = text.chars().take(LOGGED_SAMPLE_CHARS).collect();
    if sample.len() < text.len() {
        sample.push_str(&format!("… [{} bytes]", text.len()));
    }
    sample
}

/// A dead letter that could not be queued (shutdown): counted, and logged (sampled, its
/// raw input cut to a sample).
pub fn dead_letter_unqueued(letter: &DeadLetter, error: &dyn std::fmt::Display) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_dead_letters_unwritten_total").increment(1);
    if sampled(&SEEN) {
        tracing::error!(
            %error, source = %letter.source, reason = letter.reason, detail = %logged_sample(&letter.detail),
            raw = %logged_sample(&letter.raw), "dead letter could not be queued; a sample of it is in this log line"
        );
    }
}

/// A dead letter dropped because the dead-letter lane is at its bound (dead letters
/// arrive faster than the database takes them): counted, and logged (sampled).
pub fn dead_letter_dropped(letter: &DeadLetter) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_dead_letters_dropped_total", "reason" => letter.reason).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(
            source = %letter.source, reason = letter.reason, detail = %logged_sample(&letter.detail),
            raw = %logged_sample(&letter.raw),
            "dead letter dropped: the dead-letter queue is full (tables.dead_letters channel_capacity / channel_max_bytes)"
        );
    }
}

/// A periodic delete removed dead letters older than `tables.dead_letters.retention_days`.
pub fn dead_letters_expired(rows: u64) {
    counter!("hypertick_dead_letters_expired_total").increment(rows);
    if rows > 0 {
        tracing::info!(rows, "dead letters past retention deleted");
    }
}

/// A periodic delete removed rows of one interval past its retention
/// (`tables.<table>.retention_by_interval`; `other`: the intervals it does not list).
pub fn interval_rows_expired(table: Table, interval: &str, retention_days: u32, rows: u64, pieces: usize) {
    counter!("hypertick_interval_retention_deleted_rows_total", "table" => table.name()).increment(rows);
    if rows > 0 {
        tracing::info!(%table, interval, retention_days, rows, pieces, "rows past their interval's retention deleted");
    }
}

pub fn write_failed(table: Table, writer_idx: usize, kind: &'static str, error: &dyn std::fmt::Display) {
    counter!("hypertick_write_errors_total", "table" => table.name(), "kind" => kind).increment(1);
    tracing::warn!(table = %table, writer_idx, kind, %error, "batch write failed");
}

/// A refused batch was taken apart: `refused` of its `rows` were dead-lettered and the
/// rest committed. One line per batch, however many rows it refused.
pub fn rows_isolated(table: Table, rows: usize, refused: usize, took: Duration) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_batches_isolated_total", "table" => table.name()).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(table = %table, rows, refused, took_ms = took.as_millis() as u64, "refused rows isolated and dead-lettered; the rest of the batch committed");
    }
}

pub fn writer_connected(table: Table, writer_idx: usize, reconnect: bool) {
    if reconnect {
        counter!("hypertick_writer_reconnects_total", "table" => table.name()).increment(1);
        tracing::info!(table = %table, writer_idx, "writer reconnected");
    } else {
        tracing::debug!(table = %table, writer_idx, "writer connected");
    }
}

pub fn push_connection(open: bool, peer: std::net::SocketAddr) {
    if open {
        gauge!("hypertick_push_connections").increment(1.0);
        tracing::info!(source = "push", %peer, "producer connected");
    } else {
        gauge!("hypertick_push_connections").decrement(1.0);
        tracing::info!(source = "push", %peer, "producer disconnected");
    }
}

/// A push connection closed before it became a producer: over the pending-handshake
/// limit, unauthorized, over a connection limit, or a failed or late handshake. Logged
/// for the first few and then one in a thousand: idle or hostile sockets come in floods.
pub fn push_refused(peer: std::net::SocketAddr, reason: &'static str) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_push_refused_total", "reason" => reason).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(source = "push", %peer, reason, "connection refused");
    }
}

/// The push listener could not accept a socket (out of file descriptors, most often).
pub fn push_accept_failed(error: &std::io::Error) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_push_accept_errors_total").increment(1);
    if sampled(&SEEN) {
        tracing::warn!(source = "push", %error, "accept failed");
    }
}

/// A producer's connection closed by the server for a frame it cannot read: invalid
/// UTF-8 in a text frame (close code 1007) or a frame over the hard size limit (1009).
pub fn push_protocol_close(peer: std::net::SocketAddr, code: u16, reason: &'static str) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_push_protocol_closes_total", "reason" => reason).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(source = "push", %peer, code, reason, "connection closed for an unreadable frame");
    }
}

/// A push frame refused for going over a rate limit: `scope` is `connection`
/// (`server.max_messages_per_sec`) or `token` (`server.max_messages_per_sec_per_token`).
/// Logged for the first few and then one in a thousand, as a flood would otherwise
/// flood the log too.
pub fn push_rate_limited(peer: std::net::SocketAddr, scope: &'static str) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_push_rate_limited_total", "scope" => scope).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(source = "push", %peer, scope, "frames over the push rate limit refused (rate_limited)");
    }
}

/// A metrics-listener connection closed without an answer: over `metrics.max_connections`
/// (`too_many_connections`) or past `metrics.request_timeout_ms` (`timeout`). Sampled.
pub fn metrics_refused(reason: &'static str) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_metrics_refused_total", "reason" => reason).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(reason, "metrics connection closed without an answer");
    }
}

/// The metrics listener could not accept a socket (out of file descriptors, most often).
pub fn metrics_accept_failed(error: &std::io::Error) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    if sampled(&SEEN) {
        tracing::warn!(%error, "metrics accept failed");
    }
}

pub fn partition_changed(table: Table, partition: &str, created: bool) {
    let action = if created { "created" } else { "dropped" };
    counter!("hypertick_partitions_total", "table" => table.name(), "action" => action).increment(1);
    tracing::info!(table = %table, partition, action, "partition {action}");
}

pub fn feed_connected(source: &str, url: &str) {
    let url = crate::config::redact_url(url);
    tracing::info!(source, %url, "feed connected");
}

pub fn feed_reconnecting(source: &str, reason: &str, wait: Duration) {
    counter!("hypertick_source_reconnects_total", "source" => source.to_string()).increment(1);
    tracing::warn!(source, reason, wait_ms = wait.as_millis() as u64, "feed reconnecting");
}

pub fn feed_gap(source: &str) {
    counter!("hypertick_source_gaps_total", "source" => source.to_string()).increment(1);
    tracing::warn!(source, "sequence gap");
}

/// Book levels dropped between a break and the fresh snapshot (never stored).
pub fn book_levels_dropped(source: &str, count: usize) {
    counter!("hypertick_book_levels_dropped_total", "source" => source.to_string()).increment(count as u64);
}

pub fn feed_duplicates(source: &str, count: usize) {
    counter!("hypertick_source_duplicates_total", "source" => source.to_string()).increment(count as u64);
}

/// A bar the indicator engine could not take (a repeat or out of order for its series).
pub fn indicator_bar_skipped(reason: &'static str, error: &dyn std::fmt::Display) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_indicator_bars_skipped_total", "reason" => reason).increment(1);
    if sampled(&SEEN) {
        tracing::info!(table = %Table::TechnicalIndicators, reason, %error, "bar skipped by the indicator engine; the bar itself is stored");
    }
}

/// An append found the spool full.
pub fn spool_full(policy: FullPolicy) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let policy_name = match policy {
        FullPolicy::Block => "block",
        FullPolicy::Reject => "reject",
    };
    counter!("hypertick_spool_full_total", "policy" => policy_name).increment(1);
    if sampled(&SEEN) {
        tracing::warn!(policy = policy_name, "spool full; applying spool.full_policy");
    }
}

/// The spool could not take a record (an I/O error).
pub fn spool_failed(error: &dyn std::fmt::Display) {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    counter!("hypertick_spool_errors_total").increment(1);
    if sampled(&SEEN) {
        tracing::error!(%error, "spool append failed; the record is refused");
    }
}

/// A spool segment was found damaged on open: kept aside as found, rewritten with its
/// intact entries. Counted in bytes: which records the bytes held is not always known.
pub fn spool_segment_damaged(segment: &str, kept_as: &std::path::Path, bytes: u64) {
    counter!("hypertick_spool_corrupt_bytes_total").increment(bytes);
    tracing::warn!(segment, kept_as = %kept_as.display(), bytes, "spool: damaged segment set aside; its intact entries are kept");
}

/// Spooled records that could not be recovered (sequences lost to damage); `records`
/// is 0 when which records were lost is not known. Each loss is also a dead letter.
pub fn spool_records_lost(stream: &str, records: u64, detail: &str) {
    counter!("hypertick_spool_corrupt_records_total").increment(records);
    tracing::error!(stream, records, detail, "spool: records lost to damage; dead-lettered and counted as done");
}

/// A table's channel was full, so its records stay in the spool until the reader catches up.
pub fn spill_started(stream: &'static str) {
    counter!("hypertick_spool_spills_total", "table" => stream).increment(1);
    gauge!("hypertick_spool_spilling", "table" => stream).set(1.0);
    tracing::info!(table = stream, "channel full: records stay in the spool and are read back as room frees up");
}

/// Records read back from the spool into a table's channel.
pub fn spill_delivered(stream: &'static str, records: usize) {
    counter!("hypertick_spool_read_back_total", "table" => stream).increment(records as u64);
}

/// A spilling table caught up and queues directly again.
pub fn spill_ended(stream: &'static str) {
    gauge!("hypertick_spool_spilling", "table" => stream).set(0.0);
    tracing::info!(table = stream, "spill read back; queueing directly again");
}

/// A record whose id was seen before: a producer's resend, acknowledged and not stored.
pub fn duplicate_record() {
    counter!("hypertick_duplicate_records_total").increment(1);
}
