//! The push websocket server. Each connection is one task: it reads a frame, parses
//! it, routes the records, dead-letters what it rejects, and answers with one ack
//! frame before reading the next — so a full pipeline slows producers down through
//! TCP rather than growing memory. Nothing a client sends can end the server;
//! protocol violations end only that client's connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::task::TaskTracker;

use super::protocol::{parse_frame, Ack};
use crate::metrics::events;
use crate::config::AckLevel;
use crate::pipeline::{Receipt, Router};
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
    pub token: Option<String>,
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    /// When a frame is acknowledged: queued, fsynced in the spool, or committed.
    pub ack: AckLevel,
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
            tracing::info!(source = SOURCE_NAME, listen = %self.listener.local_addr()?, "push server listening");
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
                connections.spawn(async move {
                    let has_slot = permit.is_some();
                    serve_connection(stream, peer, settings, context, has_slot).await;
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

async fn serve_connection(stream: TcpStream, peer: SocketAddr, settings: Arc<PushSettings>, context: SourceContext, has_slot: bool) {
    let mut refused = None;
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
            if !constant_time_equal(presented.as_bytes(), token.as_bytes()) {
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
    let mut close_reason = "client closed";
    loop {
        let message = tokio::select! {
            _ = context.shutdown.cancelled() => {
                close_reason = "daemon stopping";
                let _ = socket.send(Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "hypertick is stopping".into() }))).await;
                break;
            }
            message = socket.next() => message,
        };
        let ack = match message {
            None => break,
            Some(Err(error)) => {
                tracing::warn!(source = SOURCE_NAME, %peer, %error, "connection error");
                close_reason = "protocol error";
                break;
            }
            Some(Ok(Message::Text(text))) => handle_text(text.as_str(), &settings, &context.router).await,
            Some(Ok(Message::Binary(bytes))) => {
                let rejection = Rejection::new("binary_frame", "send JSON as websocket text frames");
                reject_frame(&context.router, &rejection, &String::from_utf8_lossy(&bytes)).await
            }
            Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        };
        frames += 1;
        accepted += ack.accepted as u64;
        rejected += ack.rejected.len() as u64;
        let reply = serde_json::to_string(&ack).unwrap_or_else(|_| "{}".into());
        if let Err(error) = socket.send(Message::text(reply)).await {
            tracing::debug!(source = SOURCE_NAME, %peer, %error, "could not send ack");
            close_reason = "send failed";
            break;
        }
    }
    events::push_connection(false, peer);
    feed_event(
        &context.router,
        "disconnected",
        json!({ "peer": peer.to_string(), "reason": close_reason, "frames": frames, "accepted": accepted, "rejected": rejected }),
    )
    .await;
}

async fn feed_event(router: &Router, kind: &'static str, detail: serde_json::Value) {
    let now = Timestamp::now();
    router
        .feed_event(FeedEvent { time: now, received_at: now, source: SOURCE_NAME.to_string(), kind, detail })
        .await;
}

/// Parses, routes and acknowledges one text frame.
async fn handle_text(text: &str, settings: &PushSettings, router: &Router) -> Ack {
    if text.len() > settings.max_frame_bytes {
        let rejection = Rejection::new(
            "frame_too_large",
            format!("the frame is {} bytes; the limit is {} (server.max_frame_bytes)", text.len(), settings.max_frame_bytes),
        );
        return reject_frame(router, &rejection, text).await;
    }
    let received_at = Timestamp::now();
    let elements = match parse_frame(text, received_at) {
        Ok(elements) => elements,
        Err(rejection) => return reject_frame(router, &rejection, text).await,
    };
    let mut ack = Ack::default();
    let mut parse_errors = 0;
    let element_count = elements.len();
    let mut receipts: Vec<Receipt> = Vec::new();
    for element in elements {
        let outcome = match element.result {
            Ok(record) => router.route(record, received_at).await,
            Err(rejection) => {
                parse_errors += 1;
                Err(rejection)
            }
        };
        match outcome {
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
    wait_for_ack_level(settings.ack, router, &receipts).await;
    ack
}

/// Holds the ack back until the accepted records reach the configured level.
async fn wait_for_ack_level(level: AckLevel, router: &Router, receipts: &[Receipt]) {
    let Some(gate) = &router.spool else { return };
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
