//! Reading the configuration: TOML text, then environment overrides, then
//! deserialization that keeps going after an error so that every problem is reported
//! at once, each with its key path, then the semantic checks of `validate` and those
//! the caller brings from the modules that own the settings (a [`Check`]).
//!
//! Environment overrides are applied to the TOML tree (`environment`).

use std::path::Path;

use super::environment::apply_environment;
use super::error::{ConfigError, ConfigErrors};
use super::model::Config;
use super::validate::validate;

/// A check that belongs to the module a setting is for (the database's connection
/// string in `db`, the channels and credentials of a venue in `source`): it reads the
/// deserialized configuration and the environment it was loaded with, and its problems
/// are reported with the configuration's own, each naming its key.
pub type Check = fn(&Config, &[(String, String)]) -> Vec<ConfigError>;

/// Loads and validates a configuration file, with this process's environment applied;
/// `checks` run after the configuration's own.
pub fn load_file_with(path: &Path, checks: &[Check]) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigErrors::single(path.display().to_string(), format!("cannot read the file: {error}")))?;
    load_str_with(&text, std::env::vars(), checks)
}

/// A TOML syntax error by line and column, without the offending line: that line may
/// hold a password or a token (`toml`'s own message quotes it).
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().trim_end_matches('.');
    match error.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|byte| **byte != b'\n').count() + 1;
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}

/// Loads and validates configuration text with the given environment variables, with
/// the configuration's own checks only.
pub fn load_str(text: &str, environment: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigErrors> {
    load_str_with(text, environment, &[])
}

/// Loads and validates configuration text with the given environment variables;
/// `checks` run after the configuration's own.
pub fn load_str_with(
    text: &str,
    environment: impl IntoIterator<Item = (String, String)>,
    checks: &[Check],
) -> Result<Config, ConfigErrors> {
    let mut tree: toml::Table =
        text.parse().map_err(|error: toml::de::Error| ConfigErrors::single("(syntax)", syntax_error(text, &error)))?;
    let environment: Vec<(String, String)> = environment.into_iter().collect();
    let secrets_in_file = secrets_in_file(&tree);
    let url_in_file = database_url_in_file(&tree);
    let mut errors = apply_environment(&mut tree, environment.iter().cloned());
    let mut config = deserialize_collecting_errors(tree, &mut errors);
    if let Some(config) = &mut config {
        config.secrets_in_file = secrets_in_file;
        config.database_url_in_file = url_in_file.is_some() && url_in_file.as_deref() == config.database_url();
    }
    if let Some(config) = &config {
        // A key that could not be read is reported once, by the deserializer: the
        // checks would only add that it, or the section holding it, is missing.
        let unreadable: Vec<String> = errors.iter().map(|error| error.key.clone()).collect();
        let found = validate(config).into_iter().chain(checks.iter().flat_map(|check| check(config, &environment)));
        errors.extend(found.filter(|error| !unreadable.iter().any(|key| key_contains(&error.key, key))));
    }
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ => Err(ConfigErrors(errors)),
    }
}

/// The secrets written in the file text itself (before environment overrides): a push
/// token. A database URL is one only when it holds a password, which `db` tells.
fn secrets_in_file(tree: &toml::Table) -> Vec<&'static str> {
    let written = tree.get("server").and_then(|server| server.get("token")).is_some();
    if written {
        vec!["server.token"]
    } else {
        Vec::new()
    }
}

/// `database.url` as the file writes it (before environment overrides).
fn database_url_in_file(tree: &toml::Table) -> Option<String> {
    match tree.get("database").and_then(|database| database.get("url")) {
        Some(toml::Value::String(url)) => Some(url.clone()),
        _ => None,
    }
}

/// Deserializes, and on each error records it, removes the offending key and tries
/// again, so one run reports every bad key rather than only the first. Returns the
/// configuration that remains once every bad key is removed, if any does.
fn deserialize_collecting_errors(mut tree: toml::Table, errors: &mut Vec<ConfigError>) -> Option<Config> {
    const MAX_ROUNDS: usize = 64;
    for _ in 0..MAX_ROUNDS {
        let attempt: Result<Config, _> = serde_path_to_error::deserialize(toml::Value::Table(tree.clone()));
        match attempt {
            // With bad keys removed the rest still deserializes (removed keys take their
            // valid defaults), so the semantic checks can report on it too.
            Ok(config) => return Some(config),
            Err(error) => {
                let mut path: Vec<String> =
                    error.path().iter().map(|segment| segment.to_string()).filter(|segment| segment != "?").collect();
                // The toml deserializer appends "in `key`"; the key is reported separately.
                let message = error.inner().to_string().lines().next().unwrap_or_default().trim().to_string();
                if let Some(unknown) = unknown_field_name(&message) {
                    if path.last().map(String::as_str) != Some(unknown) {
                        path.push(unknown.to_string());
                    }
                }
                let key = if path.is_empty() { "(top level)".to_string() } else { key_of(&path) };
                let removed = remove_path(&mut tree, &path);
                errors.push(ConfigError { key, message });
                if !removed {
                    return None;
                }
            }
        }
    }
    None
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// `["sources", "[2]", "json", "venue"]` → `sources[2].json.venue`.
fn key_of(path: &[String]) -> String {
    let mut key = String::new();
    for segment in path {
        if !key.is_empty() && array_index(segment).is_none() {
            key.push('.');
        }
        key.push_str(segment);
    }
    key
}

/// Whether `inner` is `outer` or a key inside it (`sources[0].json` holds
/// `sources[0].json.venue` and `sources[0].json.records[1]`).
fn key_contains(outer: &str, inner: &str) -> bool {
    inner.strip_prefix(outer).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// The index of a `[3]` path segment (an element of an array of tables).
fn array_index(segment: &str) -> Option<usize> {
    segment.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Removes the key at `path`; an element of an array takes the whole array with it
/// (removing only the element would renumber the ones after it in later errors).
fn remove_path(tree: &mut toml::Table, path: &[String]) -> bool {
    let mut path = path;
    while let Some((last, parents)) = path.split_last() {
        if array_index(last).is_none() {
            break;
        }
        path = parents;
    }
    let Some((last, parents)) = path.split_last() else { return false };
    let mut current = tree;
    let mut parents = parents.iter().peekable();
    while let Some(segment) = parents.next() {
        let Some(mut value) = current.get_mut(segment) else { return false };
        // Array elements: `sources`, `[2]`, …
        while let Some(index) = parents.peek().and_then(|next| array_index(next)) {
            parents.next();
            match value.as_array_mut().and_then(|array| array.get_mut(index)) {
                Some(element) => value = element,
                None => return false,
            }
        }
        match value.as_table_mut() {
            Some(next) => current = next,
            None => return false,
        }
    }
    current.remove(last).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Table;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const MINIMAL: &str = "[database]\nurl = \"postgres://u@localhost/db\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let config = load_str(MINIMAL, env(&[])).expect("valid");
        assert_eq!(config.pipeline.batch_max_rows, 10_000);
        assert!(config.server.is_none());
        assert_eq!(config.table(Table::Ticks).retention_days, 730);
    }

    #[test]
    fn every_error_is_reported_at_once_with_its_key_path() {
        let text = r#"
            [database]
            url = "postgres://u@localhost/db"
            bogus = 1
            [pipeline]
            batch_max_rows = "many"
            linger_ms = -5
            [server]
            listen = "not an address"
            [tables.ticks]
            retention_days = "forever"
        "#;
        let errors = load_str(text, env(&[])).expect_err("invalid").0;
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        for expected in ["database.bogus", "pipeline.batch_max_rows", "pipeline.linger_ms", "server.listen", "tables.ticks.retention_days"]
        {
            assert!(keys.contains(&expected), "{expected} missing from {errors:?}");
        }
        let batch = errors.iter().find(|e| e.key == "pipeline.batch_max_rows").unwrap();
        assert!(batch.message.contains("expected"), "{}", batch.message);
    }

    #[test]
    fn errors_inside_sources_name_their_element_and_the_rest_is_still_checked() {
        let text = format!(
            "{MINIMAL}[pipeline]\nchannel_capacity = 0\n[[sources]]\nkind = \"coinbase\"\nsymbols = [\"BTC-USD\"]\nchannels = [\"trades\"]\n\
             [[sources]]\nkind = \"kraken\"\nsymbols = [\"BTC/USD\"]\nchannels = [\"trades\", \"ticks\"]\nbogus = 1\n"
        );
        let errors = load_str(&text, env(&[])).expect_err("invalid").0;
        let keys: Vec<&str> = errors.iter().map(|error| error.key.as_str()).collect();
        // The bad channel takes its list with it; that the list is then empty is not reported.
        assert_eq!(keys, vec!["pipeline.channel_capacity", "sources[1].bogus", "sources[1].channels[1]"], "{errors:?}");
        assert!(errors[2].message.contains("unknown variant `ticks`"), "{}", errors[2].message);
    }

    #[test]
    fn environment_overrides_file_and_database_url_is_a_fallback() {
        let config = load_str(
            MINIMAL,
            env(&[
                ("HYPERTICK_PIPELINE_BATCH_MAX_ROWS", "123"),
                ("HYPERTICK_TABLES_TICKS_RETENTION_DAYS", "7"),
                ("DATABASE_URL", "postgres://other@localhost/other"),
                ("HYPERTICK_SERVER_LISTEN", "127.0.0.1:9999"),
                ("HYPERTICK_SERVER_TOKEN", "12345"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.pipeline.batch_max_rows, 123);
        assert_eq!(config.table(Table::Ticks).retention_days, 7);
        assert_eq!(config.database_url(), Some("postgres://other@localhost/other"));
        let server = config.server.expect("server from env");
        assert_eq!(server.listen.port(), 9999);
        assert_eq!(server.token.map(|t| t.0), Some("12345".to_string()));

        let config =
            load_str(MINIMAL, env(&[("DATABASE_URL", "postgres://a@h/a"), ("HYPERTICK_DATABASE_URL", "postgres://b@h/b")])).expect("valid");
        assert_eq!(config.database_url(), Some("postgres://b@h/b"));
    }

    #[test]
    fn environment_reaches_spool_indicators_relational_and_import() {
        let config = load_str(
            MINIMAL,
            env(&[
                ("HYPERTICK_SPOOL_DIR", "/var/lib/hypertick/spool"),
                ("HYPERTICK_SPOOL_MAX_BYTES", "1073741824"),
                ("HYPERTICK_INDICATORS_SYMBOLS", r#"["BTCUSDT", "ETHUSDT"]"#),
                ("HYPERTICK_RELATIONAL_TABLES", r#"["orders", "trades"]"#),
                ("HYPERTICK_IMPORT_WRITERS", "3"),
            ]),
        )
        .expect("valid");
        let spool = config.spool.expect("a spool from the environment alone");
        assert_eq!(spool.dir, Path::new("/var/lib/hypertick/spool"));
        assert_eq!(spool.max_bytes, 1 << 30);
        assert_eq!(config.indicators.symbols, ["BTCUSDT", "ETHUSDT"]);
        assert_eq!(config.relational.tables, ["orders", "trades"]);
        assert_eq!(config.import.writers, 3);

        // A bad value is named by its key like one from the file.
        let errors =
            load_str(MINIMAL, env(&[("HYPERTICK_SPOOL_DIR", "/s"), ("HYPERTICK_SPOOL_MAX_BYTES", "lots")])).expect_err("invalid").0;
        assert_eq!(errors[0].key, "spool.max_bytes", "{errors:?}");
    }

    #[test]
    fn unknown_environment_section_is_named() {
        let errors = load_str(MINIMAL, env(&[("HYPERTICK_NOPE_X", "1")])).expect_err("invalid").0;
        assert_eq!(errors[0].key, "HYPERTICK_NOPE_X");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let errors = load_str("[database\nurl=", env(&[])).expect_err("invalid").0;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "(syntax)");
    }

    #[test]
    fn a_syntax_error_names_its_place_but_never_quotes_the_line() {
        for text in [
            "[database]\nurl = \"postgres://u:hunter2-secret@db/x\" extra\n",
            "[server]\ntoken = \"hunter2-secret\nlisten = \"127.0.0.1:1\"\n",
            "[server]\ntoken = hunter2-secret\n",
        ] {
            let errors = load_str(text, env(&[])).expect_err("invalid").0;
            assert_eq!(errors[0].key, "(syntax)");
            let message = &errors[0].message;
            assert!(!message.contains("hunter2"), "the secret is not echoed: {message}");
            assert!(message.contains("line 2"), "the place is named: {message}");
        }
    }

    #[test]
    fn tick_retention_shorter_than_an_aggregate_refresh_window_is_refused() {
        let text = format!("{MINIMAL}[tables.ticks]\nretention_days = 3\n");
        let errors = load_str(&text, env(&[])).expect_err("invalid").0;
        assert_eq!(errors[0].key, "tables.ticks.retention_days");
        assert!(errors[0].message.contains("ohlcv_1d"), "{}", errors[0].message);
        let without_aggregates = format!("{text}[aggregates]\nohlcv = false\n");
        assert!(load_str(&without_aggregates, env(&[])).is_ok());
    }

    #[test]
    fn bar_retention_by_interval_is_read_and_checked_entry_by_entry() {
        let good =
            format!("{MINIMAL}[tables.bars]\nretention_days = 90\nretention_by_interval = {{ \"1m\" = 730, \"1d\" = 0, \"1h\" = 1825 }}\n");
        let config = load_str(&good, env(&[])).expect("valid");
        let bars = config.table(Table::Bars);
        assert_eq!(bars.retention_by_interval, vec![("1d".to_string(), 0), ("1h".to_string(), 1825), ("1m".to_string(), 730)]);
        assert_eq!((bars.retention_days_for("1m"), bars.retention_days_for("5m"), bars.drop_retention_days()), (730, 90, 0));

        let bad = format!(
            "{MINIMAL}[tables.bars]\nretention_by_interval = {{ \"1 minute\" = 30, \"01m\" = 1, \"1h\" = 999999 }}\n\
             [tables.ticks]\nretention_by_interval = {{ \"1m\" = 30 }}\n"
        );
        let errors = load_str(&bad, env(&[])).expect_err("invalid").0;
        let found: Vec<(&str, &str)> = errors.iter().map(|error| (error.key.as_str(), error.message.as_str())).collect();
        for (key, needle) in [
            ("tables.bars.retention_by_interval.\"1 minute\"", "expected a length like 1m"),
            ("tables.bars.retention_by_interval.\"01m\"", "`01m` is not an interval"),
            ("tables.bars.retention_by_interval.\"1h\"", "at most 365000 days"),
            ("tables.ticks.retention_by_interval", "only under [tables.bars]"),
        ] {
            assert!(found.iter().any(|(k, message)| *k == key && message.contains(needle)), "{key}: {needle} missing from {found:?}");
        }
        let negative = format!("{MINIMAL}[tables.bars]\nretention_by_interval = {{ \"1m\" = -1 }}\n");
        let errors = load_str(&negative, env(&[])).expect_err("invalid").0;
        assert!(errors[0].key.starts_with("tables.bars.retention_by_interval"), "{errors:?}");
    }

    #[test]
    fn conflict_keys_need_insert_mode_known_columns_and_time() {
        let text = format!("{MINIMAL}[tables.ticks]\nconflict_key = [\"trade_id\", \"nope\"]\n");
        let errors = load_str(&text, env(&[])).expect_err("invalid").0;
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("write_mode")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("`nope` is not a column")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("`time`")), "{messages:?}");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = load_str(MINIMAL, env(&[])).expect("valid");
        assert!(!format!("{config:?}").contains("postgres://u@localhost/db"));
    }

    #[test]
    fn a_key_that_cannot_be_zero_refuses_it_by_name() {
        let text = format!(
            "{MINIMAL}[shutdown]\ndeadline_secs = 0\n[[sources]]\nkind = \"binance\"\nsymbols = [\"BTCUSDT\"]\nchannels = [\"trades\"]\nping_interval_ms = 0\n"
        );
        let errors = load_str(&text, env(&[])).expect_err("invalid").0;
        let expected = |key: &str| ConfigError { key: key.into(), message: "invalid value: integer `0`, expected a nonzero u64".into() };
        assert_eq!(errors, [expected("shutdown.deadline_secs"), expected("sources[0].ping_interval_ms")]);
        let errors = load_str(MINIMAL, env(&[("HYPERTICK_SERVER_MAX_CONNECTIONS", "0")])).expect_err("invalid").0;
        assert_eq!(errors[0].key, "server.max_connections", "{errors:?}");
        assert!(errors[0].message.contains("expected a nonzero usize"), "{errors:?}");
        let text = format!("{MINIMAL}[pipeline]\nchannel_capacity = 0\nmax_future_secs = 0\n[tables.ticks]\nchannel_capacity = 0\n");
        let errors = load_str(&text, env(&[])).expect_err("invalid").0;
        let mut keys: Vec<&str> = errors.iter().map(|error| error.key.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["pipeline.channel_capacity", "pipeline.max_future_secs", "tables.ticks.channel_capacity"], "{errors:?}");
        assert!(errors.iter().all(|error| error.message.contains("expected a nonzero")), "{errors:?}");
        let errors = load_str(MINIMAL, env(&[("HYPERTICK_DATABASE_CONNECT_TIMEOUT_MS", "0")])).expect_err("invalid").0;
        assert_eq!(errors[0].key, "database.connect_timeout_ms", "{errors:?}");
        assert!(errors[0].message.contains("expected a nonzero u64"), "{errors:?}");
        let config = load_str(MINIMAL, env(&[("HYPERTICK_SHUTDOWN_DEADLINE_SECS", "1")])).expect("1 is fine");
        assert_eq!(config.shutdown.deadline_secs.get(), 1);
    }
}
