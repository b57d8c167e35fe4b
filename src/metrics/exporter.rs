//! The Prometheus recorder (installed once per process) and a small HTTP listener
//! serving `GET /metrics`, `GET /healthz` (200 while the process runs) and `GET /readyz`
//! (200 or 503 with the checks of [`Health`] as JSON). The listener is ours rather than
//! the exporter's built-in one so that one process can run several daemons (tests) and
//! serve the health routes.
//!
//! HTTP/1.1 is hyper's. Each connection answers one request and closes; it has
//! `metrics.request_timeout_ms` from accept to the response written, after which it is
//! closed whatever it was doing, and at most `metrics.max_connections` are open at once:
//! a socket over the limit is closed as soon as it is accepted. Slow or idle clients
//! therefore hold a bounded number of file descriptors for a bounded time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::events;
use super::health::Health;

/// The bounds of the metrics listener (`[metrics]`).
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Connections open at once; more are closed when accepted.
    pub max_connections: usize,
    /// From accept to the response written; then the connection is closed.
    pub request_timeout: Duration,
}

/// The largest request head read (hyper's read buffer; its minimum is 8 KiB).
const MAX_REQUEST_BUFFER: usize = 16 * 1024;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const SECONDS_BUCKETS: &[f64] = &[0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];
const ROWS_BUCKETS: &[f64] = &[1.0, 10.0, 100.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0];

/// Installs the global Prometheus recorder on first call and returns its handle.
pub fn install_recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full("hypertick_batch_rows".into()), ROWS_BUCKETS))
                .expect("static bucket lists are non-empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding program's); then
            // our handle still renders what this daemon records through its own calls.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listen` until `stop` is cancelled;
/// returns the bound address.
pub async fn serve_metrics(
    listen: SocketAddr,
    limits: ListenerLimits,
    health: Arc<Health>,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let handle = install_recorder();
    let listener = TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let task = tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(Duration::from_secs(5));
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                _ = upkeep.tick() => {
                    handle.run_upkeep();
                    continue;
                }
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most often: give the ones in use time to close.
                    events::metrics_accept_failed(&error);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                events::metrics_refused("too_many_connections");
                drop(stream);
                continue;
            };
            let (handle, health) = (handle.clone(), health.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = answer(&request, &handle, &health);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .max_buf_size(MAX_REQUEST_BUFFER)
                    .serve_connection(TokioIo::new(stream), service);
                match tokio::time::timeout(limits.request_timeout, connection).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::debug!(%error, "metrics request failed"),
                    Err(_) => events::metrics_refused("timeout"),
                }
                drop(permit);
            });
        }
    });
    Ok((bound, task))
}

fn answer(request: &Request<Incoming>, handle: &PrometheusHandle, health: &Health) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return respond(StatusCode::NOT_FOUND, "text/plain", "not found\n".into());
    }
    match request.uri().path() {
        "/metrics" => respond(StatusCode::OK, "text/plain; version=0.0.4", handle.render()),
        "/healthz" => respond(StatusCode::OK, "application/json", "{\"status\":\"up\"}\n".into()),
        "/readyz" => {
            let readiness = health.readiness();
            let status = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            let mut body = serde_json::to_string(&readiness).unwrap_or_else(|_| "{}".into());
            body.push('\n');
            respond(status, "application/json", body)
        }
        "/" => respond(StatusCode::OK, "text/plain", "hypertick: see /metrics, /healthz, /readyz\n".into()),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
