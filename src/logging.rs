//! Log output: human-readable lines by default, or one JSON object per line with
//! `--log-format json` (for log shippers). Both go to stderr; `RUST_LOG` sets the level.
//! Text lines are coloured only when stderr is a terminal and `NO_COLOR` is unset.
//! Events about a source carry its name as `source`, events about a table as `table`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The format of log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines: time, level, message, then the fields as key=value.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message and the fields at the top level.
    Json,
}

/// Installs the global subscriber: `RUST_LOG` if set, else `default_level`.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // At trace level the websocket client logs whole upgrade requests, whose query
    // may hold a feed's key; it logs nothing at info or above, so cap it there,
    // whatever RUST_LOG says.
    let filter = match "tungstenite::handshake::client=info".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    // Colours only on a terminal: a log file or a journal gets plain text. NO_COLOR
    // (https://no-color.org) turns them off on a terminal too.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // Fields at the top level beside `message`, no span lists: one flat object a line.
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init(),
    }
}
