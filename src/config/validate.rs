//! Semantic checks on a deserialized configuration. Every check runs; the caller gets
//! the whole list.

use super::custom_checks;
use super::error::ConfigError;
use super::json_checks;
use super::model::{AckLevel, Config, WriteMode};
use super::sources::SourceKind;
use crate::record::Table;

/// The widest window an OHLCV aggregate refreshes over (`ohlcv_1d`'s start offset);
/// raw ticks must be kept at least this long.
pub const OHLCV_LONGEST_REFRESH_WINDOW_DAYS: u32 = 7;

/// Checks `config`; `environment` is the process environment the configuration was
/// loaded with (venue credentials are read from it, never from the file).
pub(super) fn validate(config: &Config, environment: &[(String, String)]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut problem = |key: &str, message: String| {
        errors.push(ConfigError { key: key.to_string(), message });
    };

    match config.database_url() {
        None => problem(
            "database.url",
            "not set; expected a postgres:// URL in the file or in DATABASE_URL".into(),
        ),
        Some(url) => {
            if let Err(error) = url.parse::<tokio_postgres::Config>() {
                problem("database.url", format!("expected a postgres:// URL: {error}"));
            }
        }
    }
    if config.database.connect_timeout_ms == 0 {
        problem("database.connect_timeout_ms", "expected a number of milliseconds above 0".into());
    }
    if config.database.retry_initial_backoff_ms == 0
        || config.database.retry_initial_backoff_ms > config.database.retry_max_backoff_ms
    {
        problem(
            "database.retry_initial_backoff_ms",
            "expected above 0 and at most database.retry_max_backoff_ms".into(),
        );
    }

    if let Some(server) = &config.server {
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
                Ok(text) if text.trim().is_empty() => {
                    problem("server.token_file", format!("{} holds no token", path.display()))
                }
                Ok(_) => {}
                Err(error) => problem("server.token_file", format!("cannot read {}: {error}", path.display())),
            }
        }
        if server.ack != AckLevel::Received {
            problem(
                "server.ack",
                "this version acknowledges frames when received; expected \"received\" \
                 (\"durable\" and \"committed\" need the spool)"
                    .into(),
            );
        }
        if !(1_024..=(64 << 20)).contains(&server.max_frame_bytes) {
            problem("server.max_frame_bytes", "expected between 1024 and 67108864 bytes".into());
        }
        if server.max_connections == 0 {
            problem("server.max_connections", "expected at least 1".into());
        }
        if config.metrics.enabled && config.metrics.listen == server.listen {
            problem("metrics.listen", "must differ from server.listen".into());
        }
    }

    let pipeline = &config.pipeline;
    if pipeline.channel_capacity == 0 {
        problem("pipeline.channel_capacity", "expected at least 1 row".into());
    }
    if pipeline.max_future_secs == 0 {
        problem("pipeline.max_future_secs", "expected at least 1 second".into());
    }

    for table in Table::ALL {
        let effective = config.table(table);
        let key = |name: &str| format!("tables.{}.{}", table.name(), name);
        if effective.batch_max_rows == 0 || effective.batch_max_rows > 1_000_000 {
            problem(&key("batch_max_rows"), "expected between 1 and 1000000 rows".into());
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
            if effective.retention_days != 0
                && u64::from(effective.retention_days) * 24 < u64::from(effective.partition_hours)
            {
                problem(
                    &key("retention_days"),
                    "expected 0 (keep all) or a retention at least one partition long".into(),
                );
            }
        }
    }

    for (position, name) in config.relational.tables.iter().enumerate() {
        let key = format!("relational.tables[{position}]");
        let reserved = ["ingest_offsets", "dead_letters", "schema_migrations"].contains(&name.as_str())
            || Table::ALL.iter().any(|table| table.name() == name);
        if reserved {
            problem(&key, format!("`{name}` is written by the daemon itself; expected a relational table"));
        } else if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            problem(&key, format!("`{name}`: expected a lower-case table name (a-z, 0-9, _)"));
        }
    }

    let engine = crate::indicators::IndicatorConfig {
        swing_window: config.indicators.swing_window,
        levels_kept: config.indicators.levels_kept,
    };
    for error in engine.validate().err().unwrap_or_default() {
        use crate::indicators::{IndicatorConfig, IndicatorConfigError};
        match error {
            IndicatorConfigError::SwingWindow(_) => problem(
                "indicators.swing_window",
                format!("expected 1 to {} bars", IndicatorConfig::MAX_SWING_WINDOW),
            ),
            IndicatorConfigError::LevelsKept(_) => problem(
                "indicators.levels_kept",
                format!("expected 1 to {} levels", IndicatorConfig::MAX_LEVELS_KEPT),
            ),
        }
    }
    if !config.indicators.symbols.is_empty() && config.indicators.intervals.is_empty() {
        problem("indicators.intervals", "expected at least one bar interval (e.g. \"1m\") when symbols are set".into());
    }

    let ticks_retention_days = config.table(Table::Ticks).retention_days;
    if config.aggregates.ohlcv && ticks_retention_days != 0 && ticks_retention_days < OHLCV_LONGEST_REFRESH_WINDOW_DAYS {
        problem(
            "tables.ticks.retention_days",
            format!(
                "expected 0 or at least {OHLCV_LONGEST_REFRESH_WINDOW_DAYS} days: ohlcv_1d refreshes from the last \
                 {OHLCV_LONGEST_REFRESH_WINDOW_DAYS} days of ticks (or set aggregates.ohlcv = false)"
            ),
        );
    }
    let mut names = std::collections::HashSet::new();
    for (index, source) in config.sources.iter().enumerate() {
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
            (Some(feed), true) => json_checks::check(feed, &source.symbols, &key("json"), &mut problem),
            (None, true) => problem(&key("json"), "missing: kind = \"json\" needs a [sources.json] section describing the feed".into()),
            (Some(_), false) => problem(&key("json"), format!("only kind = \"json\" takes a json section, not {}", source.kind.name())),
            (None, false) => {}
        }
        if is_json && source.url.is_none() {
            problem(&key("url"), "missing: a json source has no default endpoint; expected a ws:// or wss:// URL".into());
        }
        // A channel the venue does not offer would be skipped by its adapter, silently.
        let offered = source.kind.channels();
        for channel in source.channels.iter().filter(|_| !is_json) {
            if !offered.contains(channel) {
                let names: Vec<&str> = offered.iter().map(|channel| channel.name()).collect();
                problem(
                    &key("channels"),
                    format!("{} offers no `{}`; expected some of {}", source.kind.name(), channel.name(), names.join(", ")),
                );
            }
        }
        for variable in source.kind.credential_variables() {
            if !environment.iter().any(|(name, value)| name == variable && !value.trim().is_empty()) {
                problem(&key("kind"), format!("{} reads its credentials from the environment; {variable} is not set", source.kind.name()));
            }
        }
        if let Some(url) = &source.url {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                problem(&key("url"), format!("expected a ws:// or wss:// URL, got `{url}`"));
            }
        }
        for (name, value) in [
            ("connect_timeout_ms", source.connect_timeout_ms),
            ("silence_timeout_ms", source.silence_timeout_ms),
            ("ping_interval_ms", source.ping_interval_ms),
            ("subscribe_timeout_ms", source.subscribe_timeout_ms),
            ("reconnect_initial_ms", source.reconnect_initial_ms),
        ] {
            if value == 0 {
                problem(&key(name), "expected a number of milliseconds above 0".into());
            }
        }
        if source.reconnect_max_ms < source.reconnect_initial_ms {
            problem(&key("reconnect_max_ms"), "expected at least reconnect_initial_ms".into());
        }
    }
    custom_checks::check(config, &mut problem);
    if config.aggregates.refresh_interval_secs == 0 {
        problem("aggregates.refresh_interval_secs", "expected at least 1 second".into());
    }
    if config.schema.maintenance_interval_secs == 0 {
        problem("schema.maintenance_interval_secs", "expected at least 1 second".into());
    }
    if config.shutdown.deadline_secs == 0 {
        problem("shutdown.deadline_secs", "expected at least 1 second".into());
    }
    errors
}
