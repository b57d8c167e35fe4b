//! What is allowed but deserves a line in the log and in `check-config`.

use std::net::SocketAddr;

use super::conninfo::ConnInfo;
use super::model::Config;

/// What is allowed but deserves a line in the log (and in `check-config`): secrets
/// written in the configuration file, listeners reachable beyond this machine
/// without authentication or encryption, and a database reached over the network
/// without a verified certificate.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    for key in &config.secrets_in_file {
        let instead = match *key {
            "server.token" => "HYPERTICK_SERVER_TOKEN or server.token_file",
            _ => "DATABASE_URL or database.password_file",
        };
        warnings.push(format!("{key} holds a secret written in the configuration file; prefer {instead}, readable by the daemon only"));
    }
    let exposed = |address: &SocketAddr| !address.ip().is_loopback();
    if let Some(server) = &config.server {
        let has_token = server.token.is_some() || server.token_file.is_some();
        let has_tls = server.tls_cert.is_some();
        if exposed(&server.listen) && !has_token {
            warnings.push(format!(
                "server.listen {} is not a loopback address and no server.token is set: anyone who can reach it can write rows",
                server.listen
            ));
        } else if exposed(&server.listen) && !has_tls {
            warnings.push(format!(
                "server.listen {} is not a loopback address and server.tls_cert is not set: the bearer token and the data travel in clear text",
                server.listen
            ));
        }
    }
    if config.metrics.enabled && exposed(&config.metrics.listen) {
        warnings.push(format!(
            "metrics.listen {} is not a loopback address: /metrics is served without authentication to anyone who can reach it",
            config.metrics.listen
        ));
    }
    if let Some(info) = config.database_url().and_then(|url| ConnInfo::parse(url).ok()) {
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

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    #[test]
    fn exposed_listeners_and_unverified_remote_databases_are_warned_about() {
        let warnings = |text: &str| crate::config::warnings(&load_str(text, Vec::new()).expect("valid"));
        let local = "[database]\nurl = \"postgres://u@127.0.0.1/db\"\n";
        assert_eq!(warnings(&format!("{local}[server]\n")), Vec::<String>::new(), "loopback defaults warn about nothing");

        let open = warnings(&format!("{local}[server]\nlisten = \"0.0.0.0:8765\"\n[metrics]\nlisten = \"0.0.0.0:9187\"\n"));
        assert_eq!(open.len(), 2, "{open:?}");
        assert!(open[0].starts_with("server.listen 0.0.0.0:8765") && open[0].contains("no server.token"), "{open:?}");
        assert!(open[1].starts_with("metrics.listen 0.0.0.0:9187"), "{open:?}");

        let clear = warnings(&format!("{local}[server]\nlisten = \"0.0.0.0:8765\"\ntoken = \"t\"\n"));
        assert!(clear.iter().any(|warning| warning.contains("clear text")), "{clear:?}");

        let inline = warnings("[database]\nurl = \"postgres://u:pw@127.0.0.1/db\"\n[server]\ntoken = \"t\"\n");
        assert_eq!(inline.len(), 2, "{inline:?}");
        assert!(inline[0].starts_with("server.token holds a secret written in the configuration file"), "{inline:?}");
        assert!(inline[1].starts_with("database.url holds a secret") && !inline[1].contains("pw"), "{inline:?}");
        let from_environment = crate::config::warnings(
            &load_str(
                local,
                vec![("DATABASE_URL".into(), "postgres://u:pw@127.0.0.1/db".into()), ("HYPERTICK_SERVER_TOKEN".into(), "t".into())],
            )
            .expect("valid"),
        );
        assert_eq!(from_environment, Vec::<String>::new(), "secrets from the environment are where they belong");

        let remote = warnings("[database]\nurl = \"postgres://u@db.internal/db\"\n");
        assert!(remote[0].starts_with("database.url: sslmode=prefer"), "{remote:?}");
        assert_eq!(warnings("[database]\nurl = \"postgres://u@db.internal/db?sslmode=verify-full\"\n"), Vec::<String>::new());
    }
}
