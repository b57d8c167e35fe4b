//! The push websocket server. Each connection is one task: it reads a frame, parses
//! it, routes the records, dead-letters what it rejects, and answers with one ack
//! frame, in frame order. While a frame's ack waits for the spool's fsync or the
//! commit (`ack = "durable"` / `"committed"`), the next frames are read and routed, up
//! to `server.acks_in_flight` frames; past that, and whenever a lane is full, the
//! connection stops reading — so a full pipeline slows producers down through TCP
//! rather than growing memory. Nothing a client sends can end the server;
//! protocol violations end only that client's connection.
//!
//! Guards, in the order a client meets them: the connection count (HTTP 503), TLS
//! when `tls_cert` is set (wss://), the bearer token compared in constant time
//! (HTTP 401), the frame size (refused in the ack, or the connection closed past 4×),
//! and the frame rate per connection (refused in the ack as `rate_limited`, dead-lettered
//! as a sample at most once a second per connection).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::task::TaskTracker;

use super::letters::{FrameRefusals, RateLimitSamples};
use super::protocol::{parse_element, split_frame, Ack};
use super::rate::TokenBucket;
use crate::config::{pem, Secret, ServerConfig};
use crate::metrics::events;
use crate::config::AckLevel;
use crate::pipeline::{Receipt, Router, SpoolGate};
use crate::record::{DeadLetter, FeedEvent, Rejection, Timestamp};
use crate::source::{Source, SourceContext, SourceFuture};

const SOURCE_NAME: &str = "push";
/// A client must finish the websocket handshake within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames up to this multiple of `max_frame_bytes` are read and refused with an ack;
/// beyond it the websocket layer closes the connection (1009, message too big).
const HARD_LIMIT_FACTOR: usize = 4;

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
            (Some(_), None) => return Err(PushSetupError::Tls { key: "server.tls_key", message: "missing: server.tls_cert needs its key".into() }),
            (None, Some(_)) => return Err(PushSetupError::Tls { key: "server.tls_cert", message: "missing: server.tls_key needs its certificate".into() }),
            (None, None) => None,
        };
        Ok(PushSettings {
            listen: server.listen,
            token,
            max_frame_bytes: server.max_frame_bytes,
            max_connections: server.max_connections,
            max_messages_per_sec: server.max_messages_per_sec,
            acks_in_flight: server.acks_in_flight.max(1),
            tls,
            ack: server.ack,
        })
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

pub struct PushServer {
    listener: TcpListener,
    settings: Arc<PushSettings>,
}

impl PushServer {
    pub async fn bind(settings: PushSettings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        Ok(PushServer { listener, settings: Arc::new(settings) })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl Source for PushServer {
    fn name(&self) -> &str {
        SOURCE_NAME
    }

    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(async move {
            let connections = TaskTracker::new();
            let slots = Arc::new(Semaphore::new(self.settings.max_connections));
            let acceptor = self.settings.tls.clone().map(tokio_rustls::TlsAcceptor::from);
            let scheme = if acceptor.is_some() { "wss" } else { "ws" };
            tracing::info!(source = SOURCE_NAME, listen = %self.listener.local_addr()?, scheme, "push server listening");
            loop {
                let accepted = tokio::select! {
                    _ = context.shutdown.cancelled() => break,
                    accepted = self.listener.accept() => accepted,
                };
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(source = SOURCE_NAME, %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let permit = slots.clone().try_acquire_owned().ok();
                let settings = self.settings.clone();
                let context = context.clone();
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    let has_slot = permit.is_some();
                    match acceptor {
                        None => serve_connection(stream, peer, settings, context, has_slot).await,
                        Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => serve_connection(stream, peer, settings, context, has_slot).await,
                            Ok(Err(error)) => {
                                tracing::debug!(source = SOURCE_NAME, %peer, %error, "TLS handshake failed");
                                events::push_refused(peer, "tls_handshake");
                            }
                            Err(_) => events::push_refused(peer, "handshake_timeout"),
                        },
                    }
                    drop(permit);
                });
            }
            drop(self.listener);
            connections.close();
            connections.wait().await;
            tracing::info!(source = SOURCE_NAME, "push server stopped");
            Ok(())
        })
    }
}

/// Compares in time independent of where the first difference is.
fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn refusal(status: StatusCode, text: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(text.to_string()));
    *response.status_mut() = status;
    response
}

async fn serve_connection<Stream>(stream: Stream, peer: SocketAddr, settings: Arc<PushSettings>, context: SourceContext, has_slot: bool)
where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    let mut refused = None;
    // The handshake callback's signature is tungstenite's, large error variant included.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        if !has_slot {
            refused = Some("too_many_connections");
            return Err(refusal(StatusCode::SERVICE_UNAVAILABLE, "too many connections\n"));
        }
        if let Some(token) = &settings.token {
            let presented = request
                .headers()
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or("");
            if !constant_time_equal(presented.as_bytes(), token.0.as_bytes()) {
                refused = Some("unauthorized");
                return Err(refusal(StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer <token>` header is required\n"));
            }
        }
        Ok(response)
    };
    let hard_limit = settings.max_frame_bytes.saturating_mul(HARD_LIMIT_FACTOR);
    let config = WebSocketConfig::default().max_message_size(Some(hard_limit)).max_frame_size(Some(hard_limit));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config));
    let mut socket = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(error)) => {
            match refused {
                Some(reason) => events::push_refused(peer, reason),
                None => tracing::debug!(source = SOURCE_NAME, %peer, %error, "handshake failed"),
            }
            return;
        }
        Err(_) => {
            events::push_refused(peer, "handshake_timeout");
            return;
        }
    };
    events::push_connection(true, peer);
    feed_event(&context.router, "connected", json!({ "peer": peer.to_string() })).await;

    let mut frames = 0u64;
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    let mut rate_limited = 0u64;
    let mut bucket = TokenBucket::new(settings.max_messages_per_sec, Instant::now());
    let mut rate_samples = RateLimitSamples::default();
    let mut close_reason = "client closed";
    // Acks owed, in frame order, each ready once its frame reached the ack level.
    let mut owed = FuturesOrdered::new();
    loop {
        let message = tokio::select! {
            biased;
            _ = context.shutdown.cancelled() => {
                close_reason = "daemon stopping";
                // The frames already routed are acknowledged before the close: their
                // records are queued, and the writers drain them before the stop ends.
                while let Some(ack) = owed.next().await {
                    if send_ack(&mut socket, &ack).await.is_err() {
                        break;
                    }
                }
                let _ = socket.send(Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "hypertick is stopping".into() }))).await;
                break;
            }
            Some(ack) = owed.next(), if !owed.is_empty() => {
                if let Err(error) = send_ack(&mut socket, &ack).await {
                    tracing::debug!(source = SOURCE_NAME, %peer, %error, "could not send ack");
                    close_reason = "send failed";
                    break;
                }
                continue;
            }
            message = socket.next(), if owed.len() < settings.acks_in_flight => message,
        };
        let (ack, receipts) = match message {
            None => break,
            Some(Err(error)) => {
                tracing::warn!(source = SOURCE_NAME, %peer, %error, "connection error");
                close_reason = "protocol error";
                break;
            }
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_))))
                if bucket.as_mut().is_some_and(|bucket| !bucket.try_take(Instant::now())) =>
            {
                rate_limited += 1;
                events::push_rate_limited(peer);
                let rejection = Rejection::new(
                    "rate_limited",
                    format!("more than {} frames per second on this connection (server.max_messages_per_sec)", settings.max_messages_per_sec),
                );
                (reject_rate_limited(&context.router, &mut rate_samples, &rejection, &message).await, Vec::new())
            }
            Some(Ok(Message::Text(text))) => handle_text(text.as_str(), &settings, &context.router).await,
            Some(Ok(Message::Binary(bytes))) => {
                let rejection = Rejection::new("binary_frame", "send JSON as websocket text frames");
                (reject_frame(&context.router, &rejection, &String::from_utf8_lossy(&bytes)).await, Vec::new())
            }
            Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        };
        frames += 1;
        accepted += ack.accepted as u64;
        rejected += ack.rejected_total() as u64;
        let (level, gate) = (settings.ack, context.router.spool.clone());
        owed.push_back(async move {
            wait_for_ack_level(level, gate.as_deref(), &receipts).await;
            ack
        });
    }
    events::push_connection(false, peer);
    feed_event(
        &context.router,
        "disconnected",
        json!({
            "peer": peer.to_string(), "reason": close_reason, "frames": frames, "accepted": accepted, "rejected": rejected,
            "rate_limited": rate_limited,
        }),
    )
    .await;
}

async fn send_ack<Stream>(socket: &mut WebSocketStream<Stream>, ack: &Ack) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    let reply = serde_json::to_string(ack).unwrap_or_else(|_| "{}".into());
    socket.send(Message::text(reply)).await
}

async fn feed_event(router: &Router, kind: &'static str, detail: serde_json::Value) {
    let now = Timestamp::now();
    router
        .feed_event(FeedEvent { time: now, received_at: now, source: SOURCE_NAME.to_string(), kind, detail })
        .await;
}

/// Parses and routes one text frame: its ack, and the receipts of the records it
/// holds back until they reach the ack level.
async fn handle_text(text: &str, settings: &PushSettings, router: &Router) -> (Ack, Vec<Receipt>) {
    if text.len() > settings.max_frame_bytes {
        let rejection = Rejection::new(
            "frame_too_large",
            format!("the frame is {} bytes; the limit is {} (server.max_frame_bytes)", text.len(), settings.max_frame_bytes),
        );
        return (reject_frame(router, &rejection, text).await, Vec::new());
    }
    let received_at = Timestamp::now();
    let elements = match split_frame(text) {
        Ok(elements) => elements,
        Err(rejection) => return (reject_frame(router, &rejection, text).await, Vec::new()),
    };
    let mut ack = Ack::default();
    let mut parse_errors = 0;
    let element_count = elements.len();
    let mut receipts: Vec<Receipt> = Vec::new();
    let mut refusals = FrameRefusals::default();
    for (index, raw) in elements.into_iter().enumerate() {
        // Parsed one at a time: a frame's records are never all held at once.
        let (parsed, id) = parse_element(raw, received_at);
        let outcome = match parsed {
            Ok(record) => match router.try_route_now(record, received_at, id.as_deref()) {
                Ok(routed) => routed,
                Err(record) => router.route_with_id(record, received_at, id.as_deref()).await,
            },
            Err(rejection) => {
                parse_errors += 1;
                Err(rejection)
            }
        };
        match outcome {
            Ok(receipt) if receipt.duplicate => {
                ack.accepted += 1;
                ack.duplicates += 1;
            }
            Ok(receipt) => {
                ack.accepted += 1;
                receipts.push(receipt);
            }
            Err(rejection) => {
                ack.reject(index, &rejection);
                // A full queue or spool is the producer's to retry, not bad input to keep.
                if !["queue_full", "spool_full", "shutting_down"].contains(&rejection.code) {
                    refusals.add(SOURCE_NAME, index, &rejection, raw);
                }
            }
        }
    }
    // A few refused elements are kept one by one, more as one letter for the frame.
    for letter in refusals.into_letters(SOURCE_NAME, text, element_count) {
        router.dead_letter(letter).await;
    }
    events::source_frame(SOURCE_NAME, element_count);
    if parse_errors > 0 {
        events::parse_errors(SOURCE_NAME, parse_errors);
    }
    (ack, receipts)
}

/// Holds the ack back until the accepted records reach the configured level.
async fn wait_for_ack_level(level: AckLevel, gate: Option<&SpoolGate>, receipts: &[Receipt]) {
    let Some(gate) = gate else { return };
    match level {
        AckLevel::Received => {}
        AckLevel::Durable => {
            if let Some(last) = receipts.iter().map(|receipt| receipt.position).max() {
                gate.progress.spool().wait_durable(last).await;
            }
        }
        AckLevel::Committed => {
            let spooled: Vec<(u16, u64)> = receipts
                .iter()
                .filter(|receipt| receipt.sequence > 0)
                .map(|receipt| (receipt.stream, receipt.sequence))
                .collect();
            gate.progress.wait_committed(&spooled).await;
        }
    }
}

/// A frame over the rate: refused in the ack and counted; kept as a dead letter (cut to
/// `DeadLetter::MAX_RAW_BYTES`) at most once a second per connection, with the count of
/// frames refused since the previous one.
async fn reject_rate_limited(router: &Router, samples: &mut RateLimitSamples, rejection: &Rejection, message: &Message) -> Ack {
    events::source_frame(SOURCE_NAME, 0);
    if let Some(refused) = samples.refused(Instant::now()) {
        let data = match message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes.as_ref(),
            _ => &[],
        };
        let sample = String::from_utf8_lossy(&data[..data.len().min(DeadLetter::MAX_RAW_BYTES)]);
        let detail = format!(
            "{}; {refused} frames refused on this connection since the last sample (one kept per second); this one is {} bytes",
            rejection.detail,
            data.len()
        );
        router.dead_letter(DeadLetter::new(SOURCE_NAME, rejection.code, detail, &sample)).await;
    }
    let mut ack = Ack::default();
    ack.reject(0, rejection);
    ack
}

async fn reject_frame(router: &Router, rejection: &Rejection, raw: &str) -> Ack {
    events::source_frame(SOURCE_NAME, 0);
    events::parse_errors(SOURCE_NAME, 1);
    router.dead_letter(DeadLetter::new(SOURCE_NAME, rejection.code, rejection.detail.clone(), raw)).await;
    let mut ack = Ack::default();
    ack.reject(0, rejection);
    ack
}

#[cfg(test)]
mod tests {
    use super::constant_time_equal;

    #[test]
    fn tokens_are_equal_only_when_every_byte_is() {
        assert!(constant_time_equal(b"s3cret", b"s3cret"));
        assert!(constant_time_equal(b"", b""));
        for other in [&b"s3creT"[..], b"S3cret", b"s3cre", b"s3crett", b""] {
            assert!(!constant_time_equal(b"s3cret", other), "{other:?}");
        }
    }
}
