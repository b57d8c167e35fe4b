//! `[server]`: the push websocket listener for in-house producers, and when it
//! acknowledges a frame.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
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
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default; any other address without a token
    /// is warned about.
    pub listen: SocketAddr,
    /// Bearer token clients must send on the upgrade request. Prefer
    /// `HYPERTICK_SERVER_TOKEN` or `token_file` over writing it here.
    pub token: Option<Secret>,
    /// A file whose first line is the bearer token.
    pub token_file: Option<PathBuf>,
    /// When a frame is acknowledged; `durable` and `committed` need a `[spool]`.
    pub ack: AckLevel,
    /// Largest text frame accepted; larger frames are rejected and dead-lettered.
    pub max_frame_bytes: usize,
    /// Concurrent producer connections; more are refused (HTTP 503). A connection
    /// takes one of these slots only once its upgrade request passed the token check:
    /// sockets still in their TLS or websocket handshake count against
    /// `max_pending_handshakes` instead.
    pub max_connections: NonZeroUsize,
    /// Sockets accepted but not yet producers (TLS handshake, upgrade request, token
    /// check) at once. A socket over the limit is closed as soon as it is accepted and
    /// counted in `hypertick_push_refused_total{reason="too_many_handshakes"}`, so idle
    /// or slow sockets cannot take the producers' slots.
    pub max_pending_handshakes: NonZeroUsize,
    /// Milliseconds from accept to a finished websocket upgrade (TLS handshake
    /// included); a socket slower than that is closed
    /// (`hypertick_push_refused_total{reason="handshake_timeout"}`).
    pub handshake_timeout_ms: u64,
    /// Frames one connection may send per second (a token bucket holding one second's
    /// worth); frames over the rate are refused in the ack (`rate_limited`) and
    /// dead-lettered, the connection stays open. 0: unlimited.
    pub max_messages_per_sec: u32,
    /// Frames per second shared by all connections of one client, on top of the
    /// per-connection limit, refused the same way. A client is the token it presented
    /// when a token is configured (with the single `server.token`, every producer
    /// shares it, so this is the server's total), and the peer's IP address when none
    /// is. 0: unlimited.
    pub max_messages_per_sec_per_token: u32,
    /// Connections one client (as in `max_messages_per_sec_per_token`) may hold at
    /// once; more are refused (HTTP 503, `reason="too_many_connections_per_token"`).
    /// 0: only `max_connections` applies.
    pub max_connections_per_token: usize,
    /// TLS for the listener (wss://): the server's certificate chain, PEM. Needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Records carrying an `id` seen among this many most recent ids are taken as
    /// resends: acknowledged (counted in the ack's `duplicates`) and not stored again,
    /// across restarts too. 0: no deduplication.
    pub dedup_ids: usize,
    /// Frames of one connection whose acks may be outstanding at once. With `ack =
    /// "durable"` or `"committed"`, the next frames are read and queued while earlier
    /// ones wait for the fsync or the commit; acks still go out in frame order. 1: one
    /// frame at a time.
    pub acks_in_flight: NonZeroUsize,
    /// Bytes of acks one connection may owe at once (their JSON, rejection reasons
    /// included, and the bookkeeping of the records they wait for). Past it, as past
    /// `acks_in_flight`, the connection is not read until acks went out, so a client
    /// that sends and never reads its acks holds a bounded amount of memory. One
    /// frame's ack is always allowed, whatever its size.
    pub acks_in_flight_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8765)),
            token: None,
            token_file: None,
            ack: AckLevel::Received,
            max_frame_bytes: 1 << 20,
            max_connections: const { NonZeroUsize::new(1_024).unwrap() },
            max_pending_handshakes: const { NonZeroUsize::new(64).unwrap() },
            handshake_timeout_ms: 5_000,
            max_messages_per_sec: 10_000,
            max_messages_per_sec_per_token: 50_000,
            max_connections_per_token: 0,
            tls_cert: None,
            tls_key: None,
            dedup_ids: 1_000_000,
            acks_in_flight: const { NonZeroUsize::new(64).unwrap() },
            acks_in_flight_bytes: 1 << 20,
        }
    }
}
