//! The `[database]` settings as a connection reads them. The checks that need the
//! connection string taken apart or its files read run with the configuration's own
//! (`check-config`, start), each error naming its key; the warnings say how the
//! database is reached; and the key files are folded into the URL, from which every
//! connection (writers, maintenance, migrations) is opened.
//!
//! Nothing here puts the connection string into a message: it may hold a password.

use super::conninfo::{self, ConnInfo, RootCertificates, SslMode};
use super::pem;
use crate::config::{with_causes, Config, ConfigError, Secret};

/// The URL's libpq parameters, the root certificates and the password file. An absent
/// URL is the configuration's own check. `environment` is unused: every check of a
/// configuration is given it.
pub fn check_settings(config: &Config, _environment: &[(String, String)]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    if let Some(url) = config.database_url() {
        check_url(config, url, &mut |key: &str, message: String| errors.push(ConfigError { key: key.to_string(), message }));
    }
    errors
}

fn check_url(config: &Config, url: &str, problem: &mut impl FnMut(&str, String)) {
    let info = match ConnInfo::parse(url) {
        Ok(info) => info,
        Err(error) => return problem("database.url", format!("expected a postgres:// URL: {error}")),
    };
    let parsed = match info.base.parse::<tokio_postgres::Config>() {
        Ok(parsed) => parsed,
        // tokio-postgres names the option, never its value.
        Err(error) => return problem("database.url", format!("expected a postgres:// URL: {}", with_causes(&error))),
    };
    match (&config.database.ssl_root_cert, &info.root_certificates) {
        (Some(_), Some(_)) => {
            problem("database.ssl_root_cert", "give the root certificates either here or as sslrootcert in database.url, not both".into())
        }
        (Some(path), None) => {
            if let Err(message) = pem::load_certificates(path) {
                problem("database.ssl_root_cert", message);
            }
            if info.ssl_mode == SslMode::Disable {
                problem("database.ssl_root_cert", "set, but database.url says sslmode=disable".into());
            }
        }
        (None, Some(RootCertificates::File(path))) => {
            if let Err(message) = pem::load_certificates(path) {
                problem("database.url", format!("sslrootcert: {message}"));
            }
        }
        (None, _) => {}
    }
    if let Some(path) = &config.database.password_file {
        if parsed.get_password().is_some() {
            problem("database.password_file", "database.url holds a password already; give it in one place".into());
        }
        match std::fs::read_to_string(path) {
            Ok(text) if text.lines().next().unwrap_or("").is_empty() => {
                problem("database.password_file", format!("{} holds no password on its first line", path.display()))
            }
            Ok(_) => {}
            Err(error) => problem("database.password_file", format!("cannot read {}: {error}", path.display())),
        }
    }
}

/// Whether a connection string holds a password (in a URL's user info, or as a parameter).
fn has_password(url: &str) -> bool {
    ConnInfo::parse(url)
        .ok()
        .and_then(|info| info.base.parse::<tokio_postgres::Config>().ok())
        .is_some_and(|parsed| parsed.get_password().is_some())
}

/// What is allowed but deserves a line in the log: a password written in the
/// configuration file, and a database reached over the network without a verified
/// certificate. Call before [`fold_key_files_into_url`] has run, or after: a password
/// from `database.password_file` is not one written in the file.
pub fn connection_warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(url) = config.database_url() else { return warnings };
    if config.database_url_in_file && config.database.password_file.is_none() && has_password(url) {
        warnings.push(
            "database.url holds a secret written in the configuration file; prefer DATABASE_URL or database.password_file, \
             readable by the daemon only"
                .into(),
        );
    }
    if let Ok(info) = ConnInfo::parse(url) {
        let remote = info.base.parse::<tokio_postgres::Config>().ok().is_some_and(|parsed| {
            parsed.get_hosts().iter().any(|host| match host {
                tokio_postgres::config::Host::Tcp(name) => {
                    name != "localhost" && !name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
                }
                tokio_postgres::config::Host::Unix(_) => false,
            })
        });
        if remote && !info.ssl_mode.verifies_certificate() {
            warnings.push(format!(
                "database.url: sslmode={} does not verify the server's certificate; use sslmode=verify-full for a database reached over the network",
                info.ssl_mode.name()
            ));
        }
    }
    warnings
}

/// `database.ssl_root_cert` and `database.password_file` become parameters of the
/// URL, so that every connection is opened from the one string. Runs once
/// [`check_settings`] found both usable.
pub fn fold_key_files_into_url(config: &mut Config) -> Result<(), ConfigError> {
    let Some(mut url) = config.database_url().map(str::to_string) else { return Ok(()) };
    if let Some(path) = &config.database.ssl_root_cert {
        url = conninfo::with_parameter(&url, "sslrootcert", &path.to_string_lossy());
    }
    if let Some(path) = &config.database.password_file {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            key: "database.password_file".into(),
            message: format!("cannot read {}: {error}", path.display()),
        })?;
        url = conninfo::with_parameter(&url, "password", text.lines().next().unwrap_or(""));
    }
    config.database.url = Some(Secret(url));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::config::load_str;

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        file
    }

    /// The configuration's own checks, then these.
    fn errors(text: &str) -> Vec<(String, String)> {
        let config = load_str(text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
        check_settings(&config, &[]).into_iter().map(|error| (error.key, error.message)).collect()
    }

    fn folded(text: &str) -> Config {
        let mut config = load_str(text, Vec::new()).unwrap_or_else(|errors| panic!("{errors}"));
        assert_eq!(check_settings(&config, &[]), Vec::new());
        fold_key_files_into_url(&mut config).unwrap();
        config
    }

    #[test]
    fn a_url_that_does_not_parse_is_named_by_its_key_without_its_password() {
        let found = errors("[database]\nurl = \"postgres://u:hunter2@h:notaport/db\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "database.url");
        assert!(found[0].1.starts_with("expected a postgres:// URL: ") && !found[0].1.contains("hunter2"), "{found:?}");
        let found = errors("[database]\nurl = \"host=h password='hunter2\"\n");
        assert_eq!(found[0].0, "database.url");
        assert!(found[0].1.contains("malformed key=value connection string") && !found[0].1.contains("hunter2"), "{found:?}");
    }

    #[test]
    fn database_tls_parameters_and_root_certificates_are_checked() {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let root = file(&generated.cert.pem());
        let with = |url: &str, extra: &str| format!("[database]\nurl = \"{url}\"\n{extra}");

        assert_eq!(errors(&with("postgres://u@h/db?sslmode=verify-full", "")), Vec::new());
        let found = errors(&with("postgres://u:hunter2@h/db?sslmode=strict", ""));
        assert_eq!(found[0].0, "database.url");
        assert!(found[0].1.contains("sslmode") && !found[0].1.contains("hunter2"), "{found:?}");

        let found = errors(&with("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem", ""));
        assert_eq!(found[0].0, "database.url");
        assert!(found[0].1.contains("sslrootcert") && found[0].1.contains("/nonexistent/ca.pem"), "{found:?}");

        let key = format!("ssl_root_cert = \"{}\"\n", root.path().display());
        let config = folded(&with("postgres://u@h/db?sslmode=verify-full", &key));
        let info = ConnInfo::parse(config.database_url().unwrap()).unwrap();
        assert_eq!(info.root_certificates, Some(RootCertificates::File(root.path().to_path_buf())));

        let found = errors(&with(&format!("postgres://u@h/db?sslrootcert={}", root.path().display()), &key));
        assert_eq!(found[0].0, "database.ssl_root_cert", "{found:?}");
        let found = errors(&with("postgres://u@h/db", "ssl_root_cert = \"/nonexistent/root.pem\"\n"));
        assert_eq!(found[0].0, "database.ssl_root_cert", "{found:?}");
        let found = errors(&with("postgres://u@h/db?sslmode=disable", &key));
        assert_eq!(found, vec![("database.ssl_root_cert".to_string(), "set, but database.url says sslmode=disable".to_string())]);
    }

    #[test]
    fn the_password_file_fills_in_the_url_password() {
        let password = file("s3cr3t pa$$word\n");
        let text = format!("[database]\nurl = \"postgres://u@h/db\"\npassword_file = \"{}\"\n", password.path().display());
        let config = folded(&text);
        let info = ConnInfo::parse(config.database_url().unwrap()).unwrap();
        let parsed: tokio_postgres::Config = info.base.parse().unwrap();
        assert_eq!(parsed.get_password(), Some(&b"s3cr3t pa$$word"[..]));
        assert!(!format!("{config:?}").contains("s3cr3t"));
        let warnings = connection_warnings(&config);
        assert!(
            !warnings.iter().any(|warning| warning.contains("secret")),
            "a password from its own file is where it belongs: {warnings:?}"
        );

        let text = format!("[database]\nurl = \"postgres://u:other@h/db\"\npassword_file = \"{}\"\n", password.path().display());
        let found = errors(&text);
        assert_eq!(found[0].0, "database.password_file", "{found:?}");
        assert!(!found[0].1.contains("other") && !found[0].1.contains("s3cr3t"), "{found:?}");
        let empty = file("\n");
        let found = errors(&format!("[database]\nurl = \"postgres://u@h/db\"\npassword_file = \"{}\"\n", empty.path().display()));
        assert_eq!(found[0].0, "database.password_file", "{found:?}");
    }

    #[test]
    fn inline_passwords_and_unverified_remote_databases_are_warned_about() {
        let warnings_of =
            |text: &str, environment: Vec<(String, String)>| connection_warnings(&load_str(text, environment).expect("valid"));
        let inline = warnings_of("[database]\nurl = \"postgres://u:pw@127.0.0.1/db\"\n", Vec::new());
        assert_eq!(inline.len(), 1, "{inline:?}");
        assert!(inline[0].starts_with("database.url holds a secret") && !inline[0].contains("pw"), "{inline:?}");
        let from_environment = warnings_of("[database]\n", vec![("DATABASE_URL".into(), "postgres://u:pw@127.0.0.1/db".into())]);
        assert_eq!(from_environment, Vec::<String>::new(), "a secret from the environment is where it belongs");

        let remote = warnings_of("[database]\nurl = \"postgres://u@db.internal/db\"\n", Vec::new());
        assert_eq!(remote.len(), 1, "{remote:?}");
        assert!(remote[0].starts_with("database.url: sslmode=prefer"), "{remote:?}");
        assert_eq!(
            warnings_of("[database]\nurl = \"postgres://u@db.internal/db?sslmode=verify-full\"\n", Vec::new()),
            Vec::<String>::new()
        );
    }
}
