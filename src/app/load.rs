//! Loading the configuration for any command: the configuration's own checks and
//! those of the modules the settings are for (`db` for the connection string and the
//! files it names, `source` for what each venue offers and the push server's TLS
//! files), reported together, each naming its key; then the database's key files
//! folded into its URL. And the warnings of all of them.

use std::path::Path;

use crate::config::{self, Check, Config, ConfigErrors};
use crate::{db, source};

/// The checks that live beside what they check.
const CHECKS: [Check; 2] = [db::check_settings, source::check_sources];

/// Loads and checks a configuration file, with this process's environment applied.
pub fn load_config(path: &Path) -> Result<Config, ConfigErrors> {
    finish(config::load_file_with(path, &CHECKS)?)
}

/// Loads and checks configuration text with the given environment variables.
pub fn load_config_str(text: &str, environment: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigErrors> {
    finish(config::load_str_with(text, environment, &CHECKS)?)
}

fn finish(mut config: Config) -> Result<Config, ConfigErrors> {
    db::fold_key_files_into_url(&mut config).map_err(|error| ConfigErrors(vec![error]))?;
    Ok(config)
}

/// What is allowed but deserves a line in the log and in `check-config`.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut warnings = config::warnings(config);
    warnings.extend(db::connection_warnings(config));
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_s_problems_come_at_once_and_warnings_keep_their_order() {
        let text = "[database]\nurl = \"postgres://u:hunter2@h/db?sslmode=strict\"\n[pipeline]\nbatch_max_rows = \"many\"\n\
                    [[sources]]\nkind = \"polygon\"\nsymbols = [\"AAPL\"]\nchannels = [\"tickers\"]\n";
        let errors = load_config_str(text, Vec::new()).expect_err("invalid").0;
        let keys: Vec<&str> = errors.iter().map(|error| error.key.as_str()).collect();
        assert_eq!(keys, ["pipeline.batch_max_rows", "database.url", "sources[0].channels", "sources[0].kind"], "{errors:?}");
        assert!(!format!("{errors:?}").contains("hunter2"), "{errors:?}");

        let inline = warnings(
            &load_config_str("[database]\nurl = \"postgres://u:pw@127.0.0.1/db\"\n[server]\ntoken = \"t\"\n", Vec::new()).unwrap(),
        );
        assert_eq!(inline.len(), 2, "{inline:?}");
        assert!(inline[0].starts_with("server.token holds a secret written in the configuration file"), "{inline:?}");
        assert!(inline[1].starts_with("database.url holds a secret") && !inline[1].contains("pw"), "{inline:?}");
    }
}
