//! Configuration errors: each names its key and what was expected; they are
//! collected and reported together.

use std::fmt;

/// One configuration problem, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path (`pipeline.batch_max_rows`), or the environment variable.
    pub key: String,
    pub message: String,
}

/// Every problem found in one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration error(s):", self.0.len())?;
        for error in &self.0 {
            writeln!(f, "  {}: {}", error.key, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    pub(super) fn single(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors(vec![ConfigError { key: key.into(), message: message.into() }])
    }
}

/// An error and its causes, `: `-separated. tokio-postgres's errors name only their
/// kind ("invalid connection string") and keep what went wrong in their source.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}
