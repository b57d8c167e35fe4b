//! The push websocket server. Each connection is one task: it reads a frame, parses
//! it, routes the records, dead-letters what it rejects, and answers with one ack
//! frame, in frame order. While a frame's ack waits for the spool's fsync or the
//! commit (`ack = "durable"` / `"committed"`), the next frames are read and routed, up
//! to `server.acks_in_flight` frames; past that, and whenever a lane is full, the
//! connection stops reading — so a full pipeline slows producers down through TCP
//! rather than growing memory. Nothing a client sends can end the server;
//! protocol violations end only that client's connection.
//!
//! Guards, in the order a client meets them: the pending-handshake limit and the
//! handshake deadline (the socket closed at once, or when the deadline passes), TLS
//! when `tls_cert` is set (wss://), the bearer token compared in constant time (HTTP
//! 401), the producer slots and the connections per client (HTTP 503; see
//! `admission`), the frame size (refused in the ack, or the connection closed with
//! 1009 past 4×), valid UTF-8 (closed with 1007), and the frame rate per connection
//! and per client (refused in the ack as `rate_limited`). Acks owed to a connection are
//! bounded in count and bytes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::{Admission, AdmissionLimits, ClientKey, Producer};
use super::protocol::{parse_frame, Ack};
use super::rate::TokenBucket;
use crate::config::{pem, Secret, ServerConfig};
use crate::metrics::events;
use crate::config::AckLevel;
use crate::pipeline::{Receipt, Router, SpoolGate};
use crate::record::{DeadLetter, FeedEvent, Rejection, Timestamp};
use crate::source::{Source, SourceContext, SourceFuture};

const SOURCE_NAME: &str = "push";
/// At a stop, or before closing a connection for an unreadable frame, the acks owed
/// are sent for at most this long (a client that does not read gets none).
const ACK_DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// After a close frame for an unreadable frame, what the client still sends is read and
/// discarded for this long and up to `MAX_DISCARD_BYTES`, so that the close frame is not
/// lost to a TCP reset caused by unread bytes.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
const MAX_DISCARD_BYTES: usize = 64 << 20;
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
            acks_in_flight_bytes: server.acks_in_flight_bytes.max(1),
            max_pending_handshakes: server.max_pending_handshakes.max(1),
            handshake_timeout: Duration::from_millis(server.handshake_timeout_ms.max(1)),
            max_messages_per_sec_per_token: server.max_messages_per_sec_per_token,
            max_connections_per_token: server.max_connections_per_token,
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
            let admission = Arc::new(Admission::new(AdmissionLimits {
                max_pending_handshakes: self.settings.max_pending_handshakes,
                max_connections: self.settings.max_connections,
                max_connections_per_client: self.settings.max_connections_per_token,
                max_messages_per_sec_per_client: self.settings.max_messages_per_sec_per_token,
            }));
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
                        // Out of file descriptors, most often: give the ones in use time to close.
                        events::push_accept_failed(&error);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(handshake) = admission.begin_handshake() else {
                    events::push_refused(peer, "too_many_handshakes");
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let settings = self.settings.clone();
                let context = context.clone();
                let acceptor = acceptor.clone();
                let admission = admission.clone();
                connections.spawn(async move {
                    let deadline = tokio::time::Instant::now() + settings.handshake_timeout;
                    let pending = Pending { peer, admission, permit: handshake, deadline };
                    match acceptor {
                        None => upgrade_and_serve(stream, pending, settings, context).await,
                        Some(acceptor) => match within(deadline, &context.shutdown, acceptor.accept(stream)).await {
                            Step::Done(Ok(stream)) => upgrade_and_serve(stream, pending, settings, context).await,
                            Step::Done(Err(error)) => {
                                tracing::debug!(source = SOURCE_NAME, %peer, %error, "TLS handshake failed");
                                events::push_refused(peer, "tls_handshake");
                            }
                            Step::TimedOut => events::push_refused(peer, "handshake_timeout"),
                            Step::Stopping => {}
                        },
                    }
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

/// A socket in its handshake: its permit, held until the upgrade finished, and its deadline.
struct Pending {
    peer: SocketAddr,
    admission: Arc<Admission>,
    permit: OwnedSemaphorePermit,
    deadline: tokio::time::Instant,
}

/// How a handshake step ended.
enum Step<T> {
    Done(T),
    TimedOut,
    Stopping,
}

/// Runs one handshake step until the deadline or the daemon's stop.
async fn within<F: std::future::Future>(deadline: tokio::time::Instant, shutdown: &CancellationToken, step: F) -> Step<F::Output> {
    tokio::select! {
        _ = shutdown.cancelled() => Step::Stopping,
        outcome = tokio::time::timeout_at(deadline, step) => match outcome {
            Ok(done) => Step::Done(done),
            Err(_) => Step::TimedOut,
        },
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

/// The websocket upgrade with the token check and admission, then the connection.
async fn upgrade_and_serve<Stream>(stream: Stream, pending: Pending, settings: Arc<PushSettings>, context: SourceContext)
where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    let Pending { peer, admission, permit, deadline } = pending;
    let mut refused = None;
    let mut producer: Option<Producer> = None;
    // The handshake callback's signature is tungstenite's, large error variant included.
    #[allow(clippy::result_large_err)]
    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let client = match &settings.token {
            Some(token) => {
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
                admission.token_key(presented.as_bytes())
            }
            None => ClientKey::Peer(peer.ip()),
        };
        match admission.admit(client, Instant::now()) {
            Ok(admitted) => {
                producer = Some(admitted);
                Ok(response)
            }
            Err(refused_for) => {
                refused = Some(refused_for.reason());
                Err(refusal(StatusCode::SERVICE_UNAVAILABLE, "too many connections\n"))
            }
        }
    };
    let hard_limit = settings.max_frame_bytes.saturating_mul(HARD_LIMIT_FACTOR);
    let config = WebSocketConfig::default().max_message_size(Some(hard_limit)).max_frame_size(Some(hard_limit));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config));
    let socket = match within(deadline, &context.shutdown, handshake).await {
        Step::Done(Ok(socket)) => socket,
        Step::Done(Err(error)) => {
            match refused {
                Some(reason) => events::push_refused(peer, reason),
                None => {
                    tracing::debug!(source = SOURCE_NAME, %peer, %error, "handshake failed");
                    events::push_refused(peer, "handshake_failed");
                }
            }
            return;
        }
        Step::TimedOut => {
            events::push_refused(peer, "handshake_timeout");
            return;
        }
        Step::Stopping => return,
    };
    drop(permit);
    // An upgrade that succeeded passed the check, which admitted the producer.
    let Some(producer) = producer else { return };
    serve_connection(socket, peer, settings, context, producer).await;
}

/// One producer connection: frames in, acks out, in frame order.
async fn serve_connection<Stream>(
    mut socket: WebSocketStream<Stream>,
    peer: SocketAddr,
    settings: Arc<PushSettings>,
    context: SourceContext,
    producer: Producer,
) where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    events::push_connection(true, peer);
    feed_event(&context.router, "connected", json!({ "peer": peer.to_string() })).await;

    let mut frames = 0u64;
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    let mut rate_limited = 0u64;
    let mut bucket = TokenBucket::new(settings.max_messages_per_sec, Instant::now());
    let mut close_reason = "client closed";
    // Acks owed, in frame order, each ready once its frame reached the ack level, with
    // the bytes it counts against `acks_in_flight_bytes`.
    let mut owed = FuturesOrdered::new();
    let mut owed_bytes = 0usize;
    loop {
        let readable = owed.len() < settings.acks_in_flight && owed_bytes < settings.acks_in_flight_bytes;
        let message = tokio::select! {
            biased;
            _ = context.shutdown.cancelled() => {
                close_reason = "daemon stopping";
                // The frames already routed are acknowledged before the close: their
                // records are queued, and the writers drain them before the stop ends.
                send_owed(&mut socket, &mut owed).await;
                let close = CloseFrame { code: CloseCode::Away, reason: "hypertick is stopping".into() };
                let _ = tokio::time::timeout(ACK_DRAIN_LIMIT, socket.send(Message::Close(Some(close)))).await;
                break;
            }
            Some((ack, bytes)) = owed.next(), if !owed.is_empty() => {
                owed_bytes = owed_bytes.saturating_sub(bytes);
                // A client that does not read blocks this send; the stop must not wait for it.
                let sent = tokio::select! {
                    _ = context.shutdown.cancelled() => {
                        close_reason = "daemon stopping";
                        break;
                    }
                    sent = send_ack(&mut socket, &ack) => sent,
                };
                if let Err(error) = sent {
                    tracing::debug!(source = SOURCE_NAME, %peer, %error, "could not send ack");
                    close_reason = "send failed";
                    break;
                }
                continue;
            }
            message = socket.next(), if readable => message,
        };
        let message = match message {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                close_reason = match unreadable(&error, &settings) {
                    Some((code, reason, detail)) => {
                        send_owed(&mut socket, &mut owed).await;
                        close_unreadable(&mut socket, peer, &context.router, code, reason, detail).await;
                        reason
                    }
                    None => {
                        tracing::debug!(source = SOURCE_NAME, %peer, %error, "connection error");
                        "protocol error"
                    }
                };
                break;
            }
        };
        let (ack, receipts) = match over_rate(&mut bucket, &producer, Instant::now()) {
            Some(scope) => {
                rate_limited += 1;
                events::push_rate_limited(peer, scope);
                let detail = match scope {
                    "connection" => format!(
                        "more than {} frames per second on this connection (server.max_messages_per_sec)",
                        settings.max_messages_per_sec
                    ),
                    _ => format!(
                        "more than {} frames per second from this client across its connections (server.max_messages_per_sec_per_token)",
                        settings.max_messages_per_sec_per_token
                    ),
                };
                let rejection = Rejection::new("rate_limited", detail);
                let raw = match &message {
                    Message::Text(text) => text.as_str().to_string(),
                    other => String::from_utf8_lossy(&other.clone().into_data()).into_owned(),
                };
                (reject_frame(&context.router, &rejection, &raw).await, Vec::new())
            }
            None => match message {
                Message::Text(text) => handle_text(text.as_str(), &settings, &context.router).await,
                binary => {
                    let rejection = Rejection::new("binary_frame", "send JSON as websocket text frames");
                    (reject_frame(&context.router, &rejection, &String::from_utf8_lossy(&binary.into_data())).await, Vec::new())
                }
            },
        };
        frames += 1;
        accepted += ack.accepted as u64;
        rejected += ack.rejected.len() as u64;
        let bytes = ack.estimated_bytes().saturating_add(receipts.len().saturating_mul(std::mem::size_of::<Receipt>()));
        owed_bytes = owed_bytes.saturating_add(bytes);
        let (level, gate) = (settings.ack, context.router.spool.clone());
        owed.push_back(async move {
            wait_for_ack_level(level, gate.as_deref(), &receipts).await;
            (ack, bytes)
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

/// The frame rate limit a frame goes over, if any: `connection` or `token` (the
/// client's, shared by its connections).
fn over_rate(connection: &mut Option<TokenBucket>, producer: &Producer, now: Instant) -> Option<&'static str> {
    if connection.as_mut().is_some_and(|bucket| !bucket.try_take(now)) {
        return Some("connection");
    }
    if !producer.try_take_frame(now) {
        return Some("token");
    }
    None
}

/// Sends the acks owed, in order, as they become ready, for at most `ACK_DRAIN_LIMIT`.
async fn send_owed<Stream, Owed>(socket: &mut WebSocketStream<Stream>, owed: &mut FuturesOrdered<Owed>)
where
    Stream: AsyncRead + AsyncWrite + Unpin,
    Owed: std::future::Future<Output = (Ack, usize)>,
{
    let _ = tokio::time::timeout(ACK_DRAIN_LIMIT, async {
        while let Some((ack, _)) = owed.next().await {
            if send_ack(socket, &ack).await.is_err() {
                break;
            }
        }
    })
    .await;
}

/// The close code, reason code and explanation for a read error caused by the frame
/// itself; `None` for the connection's own faults.
fn unreadable(error: &WsError, settings: &PushSettings) -> Option<(CloseCode, &'static str, String)> {
    match error {
        WsError::Utf8(_) => Some((CloseCode::Invalid, "invalid_utf8", "a text frame is not valid UTF-8".to_string())),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => Some((
            CloseCode::Size,
            "frame_too_large",
            format!(
                "a frame of {size} bytes or more is over {max_size} bytes ({HARD_LIMIT_FACTOR}x server.max_frame_bytes = {})",
                settings.max_frame_bytes
            ),
        )),
        _ => None,
    }
}

/// Closes the connection for a frame that cannot be read, with `code` and the
/// explanation: counted, dead-lettered (without its content, which was not read), and
/// what the client still sends is discarded for a moment so that the close frame
/// reaches it.
async fn close_unreadable<Stream>(
    socket: &mut WebSocketStream<Stream>,
    peer: SocketAddr,
    router: &Router,
    code: CloseCode,
    reason: &'static str,
    detail: String,
) where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    events::push_protocol_close(peer, u16::from(code), reason);
    events::source_frame(SOURCE_NAME, 0);
    events::parse_errors(SOURCE_NAME, 1);
    router.dead_letter(DeadLetter::new(SOURCE_NAME, reason, format!("{detail}; the connection was closed"), "")).await;
    // A close frame's reason is at most 123 bytes.
    let mut close_text = detail;
    while close_text.len() > 123 {
        close_text.pop();
    }
    let close = CloseFrame { code, reason: close_text.into() };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if socket.send(Message::Close(Some(close))).await.is_err() {
            return;
        }
        let stream = socket.get_mut();
        let _ = stream.shutdown().await;
        let mut discard = vec![0u8; 16 * 1024];
        let mut discarded = 0usize;
        while discarded < MAX_DISCARD_BYTES {
            match stream.read(&mut discard).await {
                Ok(0) | Err(_) => break,
                Ok(read) => discarded += read,
            }
        }
    })
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
    let elements = match parse_frame(text, received_at) {
        Ok(elements) => elements,
        Err(rejection) => return (reject_frame(router, &rejection, text).await, Vec::new()),
    };
    let mut ack = Ack::default();
    let mut parse_errors = 0;
    let element_count = elements.len();
    let mut receipts: Vec<Receipt> = Vec::new();
    for element in elements {
        let outcome = match element.result {
            Ok(record) => match router.try_route_now(record, received_at, element.id.as_deref()) {
                Ok(routed) => routed,
                Err(record) => router.route_with_id(record, received_at, element.id.as_deref()).await,
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
                ack.reject(element.index, &rejection);
                // A full queue or spool is the producer's to retry, not bad input to keep.
                if !["queue_full", "spool_full", "shutting_down"].contains(&rejection.code) {
                    router.dead_letter(DeadLetter::new(SOURCE_NAME, rejection.code, rejection.detail, element.raw)).await;
                }
            }
        }
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
