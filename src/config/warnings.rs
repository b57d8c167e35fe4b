//! What is allowed but deserves a line in the log and in `check-config`.

use std::net::SocketAddr;

use super::model::Config;

/// What is allowed but deserves a line in the log (and in `check-config`): secrets
/// written in the configuration file and listeners reachable beyond this machine
/// without authentication or encryption. How the database is reached is `db`'s to say.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    for key in &config.secrets_in_file {
        let instead = match *key {
            "server.token" => "HYPERTICK_SERVER_TOKEN or server.token_file",
            _ => "the environment or a file of its own",
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
    warnings
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    #[test]
    fn exposed_listeners_and_inline_tokens_are_warned_about() {
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
        assert_eq!(inline.len(), 1, "{inline:?}");
        assert!(inline[0].starts_with("server.token holds a secret written in the configuration file"), "{inline:?}");
        let from_environment = crate::config::warnings(
            &load_str(
                local,
                vec![("DATABASE_URL".into(), "postgres://u:pw@127.0.0.1/db".into()), ("HYPERTICK_SERVER_TOKEN".into(), "t".into())],
            )
            .expect("valid"),
        );
        assert_eq!(from_environment, Vec::<String>::new(), "secrets from the environment are where they belong");
    }
}
