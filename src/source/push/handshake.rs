//! A socket's way to becoming a producer: the TLS handshake (done by the listener), the
//! websocket upgrade with the bearer token compared in constant time, and admission
//! (`admission`), all within the handshake deadline and while holding a pending-handshake
//! permit, which is given back once the upgrade finished.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use super::admission::{Admission, ClientKey, Producer};
use super::connection::serve_connection;
use super::settings::{PushSettings, HARD_LIMIT_FACTOR};
use super::SOURCE_NAME;
use crate::metrics::events;
use crate::source::SourceContext;

/// A socket in its handshake: its permit, held until the upgrade finished, and its deadline.
pub(super) struct Pending {
    pub peer: SocketAddr,
    pub admission: Arc<Admission>,
    pub permit: OwnedSemaphorePermit,
    pub deadline: tokio::time::Instant,
}

/// How a handshake step ended.
pub(super) enum Step<T> {
    Done(T),
    TimedOut,
    Stopping,
}

/// Runs one handshake step until the deadline or the daemon's stop.
pub(super) async fn within<F: std::future::Future>(
    deadline: tokio::time::Instant,
    shutdown: &CancellationToken,
    step: F,
) -> Step<F::Output> {
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
pub(super) async fn upgrade_and_serve<Stream>(stream: Stream, pending: Pending, settings: Arc<PushSettings>, context: SourceContext)
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
