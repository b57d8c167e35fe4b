//! The push websocket listener (DESIGN §5): accepts sockets, and hands each one that
//! gets a pending-handshake permit to its own task (`handshake`, then `connection`).
//! Nothing a client sends can end the server; protocol violations end only that
//! client's connection.
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
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::admission::{Admission, AdmissionLimits};
use super::handshake::{upgrade_and_serve, within, Pending, Step};
use super::settings::PushSettings;
use super::SOURCE_NAME;
use crate::metrics::events;
use crate::source::{Source, SourceContext, SourceFuture};

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
