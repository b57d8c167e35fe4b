//! Semantic checks on a deserialized configuration, one per section, run in sequence.
//! Every check runs; the caller gets the whole list. Checks that need more than the
//! configuration (the database's connection string taken apart, what a venue offers)
//! belong to the modules the settings are for, and come in through `load`'s `Check`.

use super::bus::BusRole;
use super::error::ConfigError;
use super::json_checks;
use super::model::Config;
use super::server::AckLevel;
use super::sources::{SourceConfig, SourceKind};
use super::tables::{WriteMode, MAX_BATCH_BYTES};
use super::{custom_checks, custom_key_checks};
use crate::record::Table;

/// The smallest byte bound of a channel and of a batch.
const MIN_CHANNEL_BYTES: usize = 65_536;
const MIN_BATCH_BYTES: usize = 65_536;

/// The shortest tick retention the OHLCV aggregates accept: on TimescaleDB their
/// refresh policies start at the ticks' retention and `ohlcv_1d`'s must span a few days.
pub const OHLCV_LONGEST_REFRESH_WINDOW_DAYS: u32 = 7;

/// The longest retention accepted, in days (about a thousand years; longer is 0, keep all).
const MAX_RETENTION_DAYS: u32 = 365_000;

fn batch_bytes_expected() -> String {
    format!("expected between {MIN_BATCH_BYTES} and {MAX_BATCH_BYTES} bytes (a batch stays far below PostgreSQL's 1 GiB message limit)")
}

/// Checks `config`, section by section.
pub(super) fn validate(config: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut problem = |key: &str, message: String| {
        errors.push(ConfigError { key: key.to_string(), message });
    };
    super::bus::check(&config.bus, &mut problem);
    check_role(config, &mut problem);
    check_database(config, &mut problem);
    check_server(config, &mut problem);
    check_metrics(config, &mut problem);
    check_pipeline(config, &mut problem);
    for table in Table::ALL {
        check_table(config, table, &mut problem);
    }
    check_relational(config, &mut problem);
    check_indicators(config, &mut problem);
    check_spool(config, &mut problem);
    check_health(config, &mut problem);
    check_aggregates(config, &mut problem);
    super::backfill::check_import(&config.import, &mut problem);
    super::backfill::check_capture(&config.sources, &mut problem);
    check_sources(&config.sources, &mut problem);
    custom_checks::check(config, &mut problem);
    custom_key_checks::check(config, &mut problem);
    errors
}

/// `[database]`: the URL is there, unless this instance never opens the database.
/// What the URL says is `db`'s to check.
fn check_database(config: &Config, problem: &mut impl FnMut(&str, String)) {
    // An edge publishes to the bus and never opens the database.
    if config.database_url().is_none() && config.bus.role != BusRole::Edge {
        problem("database.url", "not set; expected a postgres:// URL in the file or in DATABASE_URL".into());
    }
    let database = &config.database;
    if database.retry_initial_backoff_ms.get() > database.retry_max_backoff_ms {
        problem("database.retry_initial_backoff_ms", "expected above 0 and at most database.retry_max_backoff_ms".into());
    }
}

/// `[server]`: its token given once, both TLS files or neither (what they hold is the
/// push server's to check), and its limits.
fn check_server(config: &Config, problem: &mut impl FnMut(&str, String)) {
    let Some(server) = &config.server else { return };
    if server.token.is_some() && server.token_file.is_some() {
        problem("server.token_file", "give either server.token or server.token_file, not both".into());
    }
    if let Some(token) = &server.token {
        if token.0.trim().is_empty() {
            problem("server.token", "expected a non-empty token".into());
        }
    }
    if let Some(path) = &server.token_file {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => problem("server.token_file", format!("{} holds no token", path.display())),
            Ok(_) => {}
            Err(error) => problem("server.token_file", format!("cannot read {}: {error}", path.display())),
        }
    }
    match (&server.tls_cert, &server.tls_key) {
        (Some(_), None) => problem("server.tls_key", "missing: server.tls_cert needs its private key".into()),
        (None, Some(_)) => problem("server.tls_cert", "missing: server.tls_key needs its certificate".into()),
        _ => {}
    }
    if server.ack != AckLevel::Received && config.spool.is_none() {
        problem("server.ack", "\"durable\" and \"committed\" need the spool; add a [spool] section with a dir, or use \"received\"".into());
    }
    if !(1_024..=(64 << 20)).contains(&server.max_frame_bytes) {
        problem("server.max_frame_bytes", "expected between 1024 and 67108864 bytes".into());
    }
    if !(100..=300_000).contains(&server.handshake_timeout_ms) {
        problem("server.handshake_timeout_ms", "expected between 100 and 300000 milliseconds".into());
    }
    if server.acks_in_flight_bytes < 1_024 {
        problem("server.acks_in_flight_bytes", "expected at least 1024 bytes".into());
    }
    // Port 0 asks the system for a free port: two such listeners never collide.
    if config.metrics.enabled && config.metrics.listen == server.listen && server.listen.port() != 0 {
        problem("metrics.listen", "must differ from server.listen".into());
    }
}

/// `[metrics]`, when its listener runs.
fn check_metrics(config: &Config, problem: &mut impl FnMut(&str, String)) {
    let metrics = &config.metrics;
    if !metrics.enabled {
        return;
    }
    if !(100..=300_000).contains(&metrics.request_timeout_ms) {
        problem("metrics.request_timeout_ms", "expected between 100 and 300000 milliseconds".into());
    }
}

/// `[pipeline]`: the bounds every table falls back to.
fn check_pipeline(config: &Config, problem: &mut impl FnMut(&str, String)) {
    let pipeline = &config.pipeline;
    if pipeline.channel_max_bytes < MIN_CHANNEL_BYTES {
        problem("pipeline.channel_max_bytes", format!("expected at least {MIN_CHANNEL_BYTES} bytes"));
    }
    if !(MIN_BATCH_BYTES..=MAX_BATCH_BYTES).contains(&pipeline.batch_max_bytes) {
        problem("pipeline.batch_max_bytes", batch_bytes_expected());
    }
}

/// `[tables.<name>]`: one table's effective settings. Values inherited from
/// `[pipeline]` are checked once, under the pipeline's key.
fn check_table(config: &Config, table: Table, problem: &mut impl FnMut(&str, String)) {
    let effective = config.table(table);
    let key = |name: &str| format!("tables.{}.{}", table.name(), name);
    if effective.batch_max_rows == 0 || effective.batch_max_rows > 1_000_000 {
        problem(&key("batch_max_rows"), "expected between 1 and 1000000 rows".into());
    }
    let overrides = config.tables.get(table);
    if overrides.and_then(|o| o.channel_max_bytes).is_some_and(|bytes| bytes < MIN_CHANNEL_BYTES) {
        problem(&key("channel_max_bytes"), format!("expected at least {MIN_CHANNEL_BYTES} bytes"));
    }
    if overrides.and_then(|o| o.batch_max_bytes).is_some_and(|bytes| !(MIN_BATCH_BYTES..=MAX_BATCH_BYTES).contains(&bytes)) {
        problem(&key("batch_max_bytes"), batch_bytes_expected());
    }
    if !(1_024..=MAX_BATCH_BYTES).contains(&effective.max_record_bytes) {
        problem(&key("max_record_bytes"), format!("expected between 1024 and {MAX_BATCH_BYTES} bytes"));
    }
    if effective.writers == 0 || effective.writers > 64 {
        problem(&key("writers"), "expected between 1 and 64 connections".into());
    }
    if effective.linger_ms > 60_000 {
        problem(&key("linger_ms"), "expected at most 60000 ms".into());
    }
    if effective.write_mode == WriteMode::Insert && !table.supports_insert_mode() {
        problem(&key("write_mode"), format!("expected \"copy\": {table} has array columns, which insert mode cannot pass"));
    }
    if effective.write_mode == WriteMode::DirectCompress && !table.is_time_partitioned() {
        problem(
            &key("write_mode"),
            format!(
                "expected \"copy\" or \"insert\": {table} is not a hypertable, and direct_compress writes into a hypertable's columnstore"
            ),
        );
    }
    if let Some(by_interval) = overrides.and_then(|o| o.retention_by_interval.as_ref()) {
        if table != Table::Bars {
            problem(
                &key("retention_by_interval"),
                format!("expected it only under [tables.bars] (bars are kept per interval); {table} has one retention_days"),
            );
        }
        for (interval, days) in by_interval {
            let entry = format!("{}.\"{}\"", key("retention_by_interval"), interval.chars().take(40).collect::<String>());
            if !crate::record::is_interval(interval) {
                problem(&entry, format!("`{interval}` is not an interval: expected {}", crate::record::INTERVAL_EXPECTED));
            } else if *days > MAX_RETENTION_DAYS {
                problem(&entry, format!("expected 0 (keep for good) or at most {MAX_RETENTION_DAYS} days, got {days}"));
            }
        }
    }
    if effective.retention_days > MAX_RETENTION_DAYS {
        problem(&key("retention_days"), format!("expected 0 (keep all) or at most {MAX_RETENTION_DAYS} days"));
    }
    if overrides.and_then(|o| o.time_index).is_some() && !table.is_time_partitioned() {
        problem(&key("time_index"), format!("expected no time_index: {table} is not a hypertable"));
    }
    if !effective.conflict_key.is_empty() {
        if effective.write_mode != WriteMode::Insert {
            problem(&key("conflict_key"), "needs write_mode = \"insert\" (COPY cannot skip conflicts)".into());
        }
        for column in &effective.conflict_key {
            if !table.columns().iter().any(|known| known.name == column) {
                problem(&key("conflict_key"), format!("`{column}` is not a column of {table}"));
            }
        }
        if table.is_time_partitioned() && !effective.conflict_key.iter().any(|column| column == "time") {
            problem(&key("conflict_key"), "expected the key to include `time`, the partitioning column".into());
        }
    }
    if table.is_time_partitioned() {
        if effective.partition_hours == 0 || effective.partition_hours > 24 * 366 {
            problem(&key("partition_hours"), "expected between 1 and 8784 hours".into());
        }
        if effective.retention_days != 0 && u64::from(effective.retention_days) * 24 < u64::from(effective.partition_hours) {
            problem(&key("retention_days"), "expected 0 (keep all) or a retention at least one partition long".into());
        }
    }
}

/// `[relational]`: plain names, none the daemon writes itself.
fn check_relational(config: &Config, problem: &mut impl FnMut(&str, String)) {
    for (position, name) in config.relational.tables.iter().enumerate() {
        let key = format!("relational.tables[{position}]");
        let reserved = ["ingest_offsets", "dead_letters", "schema_migrations", "relational_waiting", "table_retention"]
            .contains(&name.as_str())
            || Table::ALL.iter().any(|table| table.name() == name);
        if reserved {
            problem(&key, format!("`{name}` is written by the daemon itself; expected a relational table"));
        } else if !is_plain_identifier(name) {
            problem(&key, format!("`{name}`: expected a lower-case table name (a-z, 0-9, _; at most 63 characters)"));
        }
    }
    // The `instruments` channel's versions are written by the relational writer.
    let specs = crate::record::INSTRUMENT_SPECS_TABLE;
    if !config.relational.tables.iter().any(|name| name == specs) {
        for (index, source) in config.sources.iter().enumerate() {
            if source.channels.contains(&super::Channel::Instruments) {
                problem(
                    &format!("sources[{index}].channels"),
                    format!(
                        "`instruments` is stored in `{specs}`, which is not among `[relational] tables`; add it there or drop the channel"
                    ),
                );
            }
        }
    }
}

/// `[indicators]`: what the engine accepts.
fn check_indicators(config: &Config, problem: &mut impl FnMut(&str, String)) {
    use crate::indicators::{IndicatorConfig, IndicatorConfigError};
    let indicators = &config.indicators;
    let engine = IndicatorConfig { swing_window: indicators.swing_window, levels_kept: indicators.levels_kept };
    for error in engine.validate().err().unwrap_or_default() {
        match error {
            IndicatorConfigError::SwingWindow(_) => {
                problem("indicators.swing_window", format!("expected 1 to {} bars", IndicatorConfig::MAX_SWING_WINDOW))
            }
            IndicatorConfigError::LevelsKept(_) => {
                problem("indicators.levels_kept", format!("expected 1 to {} levels", IndicatorConfig::MAX_LEVELS_KEPT))
            }
        }
    }
    if !indicators.symbols.is_empty() && indicators.intervals.is_empty() {
        problem("indicators.intervals", "expected at least one bar interval (e.g. \"1m\") when symbols are set".into());
    }
}

/// `[spool]`: segments, the cap that holds at least two, and the group commit.
fn check_spool(config: &Config, problem: &mut impl FnMut(&str, String)) {
    let Some(spool) = &config.spool else { return };
    if spool.segment_bytes < 4_096 {
        problem("spool.segment_bytes", "expected at least 4096 bytes".into());
    }
    if spool.max_bytes < spool.segment_bytes.saturating_mul(2) {
        problem("spool.max_bytes", "expected at least two segments (2 × spool.segment_bytes)".into());
    }
    if spool.fsync_interval_ms == 0 || spool.fsync_interval_ms > 1_000 {
        problem("spool.fsync_interval_ms", "expected between 1 and 1000 ms".into());
    }
}

/// `[health]`.
fn check_health(config: &Config, problem: &mut impl FnMut(&str, String)) {
    if !(1..=100).contains(&config.health.spool_high_water_percent) {
        problem("health.spool_high_water_percent", "expected a percentage between 1 and 100".into());
    }
}

/// `[aggregates]`, and the tick retention their refresh windows need.
fn check_aggregates(config: &Config, problem: &mut impl FnMut(&str, String)) {
    let ticks_retention_days = config.table(Table::Ticks).retention_days;
    if config.aggregates.ohlcv && ticks_retention_days != 0 && ticks_retention_days < OHLCV_LONGEST_REFRESH_WINDOW_DAYS {
        problem(
            "tables.ticks.retention_days",
            format!(
                "expected 0 or at least {OHLCV_LONGEST_REFRESH_WINDOW_DAYS} days: the ohlcv_1d refresh policy covers \
                 the ticks inside retention and needs at least {OHLCV_LONGEST_REFRESH_WINDOW_DAYS} days of them \
                 (or set aggregates.ohlcv = false)"
            ),
        );
    }
}

/// `[[sources]]`: names, symbols, channels as far as the file tells (what a venue
/// offers is the venue's to check), a json feed's description, URLs and the backoff.
fn check_sources(sources: &[SourceConfig], problem: &mut impl FnMut(&str, String)) {
    let mut names = std::collections::HashSet::new();
    for (index, source) in sources.iter().enumerate() {
        let key = |name: &str| format!("sources[{index}].{name}");
        if !names.insert(source.name()) {
            problem(&key("name"), format!("`{}` is used by two sources; give each a distinct name", source.name()));
        }
        let is_json = source.kind == SourceKind::Json;
        // A json feed may subscribe to something other than symbols (or to nothing: a
        // URL that streams on connect); its subscribe templates are checked below.
        if source.symbols.is_empty() && !is_json {
            problem(&key("symbols"), "expected at least one symbol".into());
        }
        if is_json && !source.channels.is_empty() {
            problem(
                &key("channels"),
                "json sources take no channels: the json.subscribe messages and json.records rules say what is received and stored".into(),
            );
        } else if source.channels.is_empty() && !is_json {
            problem(&key("channels"), "expected at least one channel".into());
        }
        match (&source.json, is_json) {
            (Some(feed), true) => json_checks::check(feed, &source.symbols, &key("json"), problem),
            (None, true) => problem(&key("json"), "missing: kind = \"json\" needs a [sources.json] section describing the feed".into()),
            (Some(_), false) => problem(&key("json"), format!("only kind = \"json\" takes a json section, not {}", source.kind.name())),
            (None, false) => {}
        }
        if is_json && source.url.is_none() {
            problem(&key("url"), "missing: a json source has no default endpoint; expected a ws:// or wss:// URL".into());
        }
        if let Some(url) = &source.url {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                problem(&key("url"), format!("expected a ws:// or wss:// URL, got `{url}`"));
            }
        }
        if let Some(url) = &source.rest_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problem(&key("rest_url"), format!("expected an http:// or https:// URL, got `{}`", crate::config::redact_url(url)));
            }
        }
        if source.reconnect_max_ms < source.reconnect_initial_ms.get() {
            problem(&key("reconnect_max_ms"), "expected at least reconnect_initial_ms".into());
        }
    }
}

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1 bytes); a longer one is
/// silently truncated, and could then name another table.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// A lower-case SQL name (a-z, 0-9, `_`, not starting with a digit, at most 63 bytes):
/// what a table or column name from the configuration must be. Such a name means the
/// same quoted or not; the SQL built from it quotes it all the same.
pub fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_IDENTIFIER_BYTES
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// What each role cannot have.
fn check_role(config: &Config, problem: &mut impl FnMut(&str, String)) {
    match config.bus.role {
        BusRole::All => {}
        BusRole::Writer => {
            if !config.sources.is_empty() {
                problem("sources", "a writer (bus.role = \"writer\") runs no sources: move [[sources]] to an edge".into());
            }
            if config.server.is_some() {
                problem("server", "a writer (bus.role = \"writer\") runs no push server: move [server] to an edge".into());
            }
        }
        // An edge takes every kind of record: relational and custom-table rows travel
        // over the bus like the market tables'.
        BusRole::Edge => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const URL: &str = "[database]\nurl = \"postgres://u@db.internal/db\"\n";

    fn errors(text: &str) -> Vec<(String, String)> {
        match load_str(text, Vec::new()) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.into_iter().map(|error| (error.key, error.message)).collect(),
        }
    }

    #[test]
    fn identifiers_from_the_configuration_are_plain_lower_case_names() {
        for good in ["orders", "agent_sessions", "t2", "_private", &"a".repeat(63)] {
            assert!(super::is_plain_identifier(good), "{good}");
        }
        for bad in ["", "Orders", "2fast", "orders; DROP TABLE ticks", "\"orders\"", "public.orders", "ordérs", &"a".repeat(64)] {
            assert!(!super::is_plain_identifier(bad), "{bad}");
        }
        let found = errors(&format!("{URL}[relational]\ntables = [\"orders\", \"x\\\"; DROP TABLE ticks; --\"]\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "relational.tables[1]");
        let instruments = "[[sources]]\nkind = \"okx\"\nsymbols = [\"BTC-USDT-SWAP\"]\nchannels = [\"trades\", \"instruments\"]\n";
        let found = errors(&format!("{URL}[relational]\ntables = [\"orders\"]\n{instruments}"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "sources[0].channels");
        assert!(found[0].1.contains("instrument_specs"), "{found:?}");
        assert!(errors(&format!("{URL}{instruments}")).is_empty(), "the default relational tables hold instrument_specs");
        let found = errors(&format!(
            "{URL}[tables.ticks]\nwrite_mode = \"insert\"\nconflict_key = [\"time\", \"venue\\\"); DROP TABLE bars; --\"]\n"
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "tables.ticks.conflict_key");
    }

    #[test]
    fn direct_compress_and_time_index_apply_to_hypertables_only() {
        let found = errors(&format!(
            "{URL}[tables.ticks]\nwrite_mode = \"direct_compress\"\ntime_index = true\n\
             [tables.dead_letters]\nwrite_mode = \"direct_compress\"\ntime_index = false\n"
        ));
        let keys: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["tables.dead_letters.write_mode", "tables.dead_letters.time_index"], "{found:?}");
        assert!(found[0].1.contains("not a hypertable"), "{found:?}");
        let found = errors(&format!("{URL}[tables.ticks]\nwrite_mode = \"direct_compress\"\nconflict_key = [\"time\", \"trade_id\"]\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "tables.ticks.conflict_key");
    }
}
