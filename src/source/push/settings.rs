//! The push server's settings: what it takes from `[server]`, with the token file read
//! and the TLS certificate and key loaded and checked against each other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{AckLevel, Secret, ServerConfig};
use crate::db::pem;

/// Frames up to this multiple of `max_frame_bytes` are read and refused with an ack;
/// beyond it the websocket layer stops reading and the connection is closed (1009).
pub(super) const HARD_LIMIT_FACTOR: usize = 4;

/// What the server needs from `[server]`.
#[derive(Debug, Clone)]
pub struct PushSettings {
    pub listen: SocketAddr,
    pub token: Option<Secret>,
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    /// When a frame is acknowledged: queued, fsynced in the spool, or committed.
    pub ack: AckLevel,
    /// Frames per second per connection; 0: no limit.
    pub max_messages_per_sec: u32,
    /// Present: connections are TLS (wss://).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Frames per connection whose acks may be outstanding (at least 1).
    pub acks_in_flight: usize,
    /// Bytes of acks (and their records' receipts) one connection may owe.
    pub acks_in_flight_bytes: usize,
    /// Sockets in their handshake at once; more are closed when accepted.
    pub max_pending_handshakes: usize,
    /// From accept to a finished websocket upgrade, TLS included.
    pub handshake_timeout: Duration,
    /// Frames per second shared by one client's connections; 0: no limit.
    pub max_messages_per_sec_per_token: u32,
    /// Connections per client; 0: only `max_connections` applies.
    pub max_connections_per_token: usize,
}

/// Why `[server]` could not be turned into a running listener's settings. Each
/// message names the key and the file.
#[derive(Debug, thiserror::Error)]
pub enum PushSetupError {
    #[error("server.token_file: cannot read {path}: {source}")]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("{key}: {message}")]
    Tls { key: &'static str, message: String },
}

impl PushSettings {
    /// Reads the token file and the TLS certificate and key named in `[server]`.
    pub fn from_config(server: &ServerConfig) -> Result<PushSettings, PushSetupError> {
        let token = match (&server.token, &server.token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| PushSetupError::TokenFile { path: path.clone(), source })?;
                Some(Secret(text.lines().next().unwrap_or("").trim().to_string()))
            }
            (None, None) => None,
        };
        let tls = match (&server.tls_cert, &server.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(tls_config(cert, key)?)),
            (Some(_), None) => {
                return Err(PushSetupError::Tls { key: "server.tls_key", message: "missing: server.tls_cert needs its key".into() })
            }
            (None, Some(_)) => {
                return Err(PushSetupError::Tls { key: "server.tls_cert", message: "missing: server.tls_key needs its certificate".into() })
            }
            (None, None) => None,
        };
        Ok(PushSettings {
            listen: server.listen,
            token,
            max_frame_bytes: server.max_frame_bytes,
            max_connections: server.max_connections.get(),
            max_messages_per_sec: server.max_messages_per_sec,
            acks_in_flight: server.acks_in_flight.get(),
            acks_in_flight_bytes: server.acks_in_flight_bytes.max(1),
            max_pending_handshakes: server.max_pending_handshakes.get(),
            handshake_timeout: Duration::from_millis(server.handshake_timeout_ms.max(1)),
            max_messages_per_sec_per_token: server.max_messages_per_sec_per_token,
            max_connections_per_token: server.max_connections_per_token,
            tls,
            ack: server.ack,
        })
    }
}

/// `server.tls_cert` and `server.tls_key` loaded and checked against each other, as the
/// server will at start, so that `check-config` reports each problem under its key.
/// One without the other is the configuration's own check.
pub fn check_tls(server: &ServerConfig, problem: &mut impl FnMut(&str, String)) {
    let (Some(cert), Some(key)) = (&server.tls_cert, &server.tls_key) else { return };
    match (pem::load_certificates(cert), pem::load_private_key(key)) {
        (Ok(chain), Ok(private_key)) => {
            if let Err(message) = pem::check_key_matches(chain, private_key, cert, key) {
                problem("server.tls_key", message);
            }
        }
        (chain, private_key) => {
            if let Err(message) = chain {
                problem("server.tls_cert", message);
            }
            if let Err(message) = private_key {
                problem("server.tls_key", message);
            }
        }
    }
}

/// A rustls server configuration from PEM files: the chain in `cert`, its key in `key`.
fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<rustls::ServerConfig, PushSetupError> {
    let chain = pem::load_certificates(cert).map_err(|message| PushSetupError::Tls { key: "server.tls_cert", message })?;
    let private_key = pem::load_private_key(key).map_err(|message| PushSetupError::Tls { key: "server.tls_key", message })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| PushSetupError::Tls { key: "server.tls_cert", message: error.to_string() })?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|error| PushSetupError::Tls {
            key: "server.tls_key",
            message: format!("{} does not match {} or cannot be used: {error}", key.display(), cert.display()),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
