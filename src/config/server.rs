//! `[server]`: the push websocket listener for in-house producers, and when it
//! acknowledges a frame.

use std::net::SocketAddr;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// When a push frame is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AckLevel {
    /// After the frame's records are parsed and queued for writing.
    #[default]
    Received,
    /// After the records are fsynced in the local spool (needs the spool).
    Durable,
    /// After the records are committed in the database.
    Committed,
}

/// `[server]`: the push websocket listener for in-house producers.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default; any other address without a token
    /// is warned about.
    #[serde(default = "default_server_listen")]
    pub listen: SocketAddr,
    /// Bearer token clients must send on the upgrade request. Prefer
    /// `HYPERTICK_SERVER_TOKEN` or `token_file` over writing it here.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A file whose first line is the bearer token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// When a frame is acknowledged; `durable` and `committed` need a `[spool]`.
    #[serde(default)]
    pub ack: AckLevel,
    /// Largest text frame accepted; larger frames are rejected and dead-lettered.
    #[serde(default = "default_max_frame_bytes")]
    pub max_frame_bytes: usize,
    /// Concurrent producer connections; more are refused.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Frames one connection may send per second (a token bucket holding one second's
    /// worth); frames over the rate are refused in the ack (`rate_limited`) and
    /// dead-lettered, the connection stays open. 0: unlimited.
    #[serde(default = "default_max_messages_per_sec")]
    pub max_messages_per_sec: u32,
    /// TLS for the listener (wss://): the server's certificate chain, PEM. Needs `tls_key`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Records carrying an `id` seen among this many most recent ids are taken as
    /// resends: acknowledged (counted in the ack's `duplicates`) and not stored again,
    /// across restarts too. 0: no deduplication.
    #[serde(default = "default_dedup_ids")]
    pub dedup_ids: usize,
    /// Frames of one connection whose acks may be outstanding at once. With `ack =
    /// "durable"` or `"committed"`, the next frames are read and queued while earlier
    /// ones wait for the fsync or the commit; acks still go out in frame order. 1: one
    /// frame at a time.
    #[serde(default = "default_acks_in_flight")]
    pub acks_in_flight: usize,
}

pub(super) fn default_acks_in_flight() -> usize {
    64
}

pub(super) fn default_dedup_ids() -> usize {
    1_000_000
}

fn default_server_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8765))
}
pub(super) fn default_max_frame_bytes() -> usize {
    1 << 20
}
fn default_max_connections() -> usize {
    1_024
}
pub(super) fn default_max_messages_per_sec() -> u32 {
    10_000
}
