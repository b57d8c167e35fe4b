//! The Prometheus recorder (installed once per process) and a small HTTP listener
//! serving `GET /metrics`, `GET /healthz` (200 while the process runs) and `GET /readyz`
//! (200 or 503 with the checks of [`Health`] as JSON). The listener is ours rather than
//! the exporter's built-in one so that one process can run several daemons (tests) and
//! serve the health routes.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::health::Health;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const SECONDS_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
];
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
    health: Arc<Health>,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let handle = install_recorder();
    let listener = TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = upkeep.tick() => handle.run_upkeep(),
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        let handle = handle.clone();
                        let health = health.clone();
                        tokio::spawn(async move {
                            if let Err(error) = answer(stream, &handle, &health).await {
                                tracing::debug!(%error, "metrics request failed");
                            }
                        });
                    }
                }
            }
        }
    });
    Ok((bound, task))
}

async fn answer(mut stream: TcpStream, handle: &PrometheusHandle, health: &Health) -> std::io::Result<()> {
    const MAX_REQUEST_HEAD: usize = 16 * 1024;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let path = loop {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await??;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => break (request.method.unwrap_or("").to_string(), request.path.unwrap_or("").to_string()),
            Ok(httparse::Status::Partial) if head.len() < MAX_REQUEST_HEAD => continue,
            _ => return respond(&mut stream, "400 Bad Request", "text/plain", "bad request\n").await,
        }
    };
    match (path.0.as_str(), path.1.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => {
            let body = handle.render();
            respond(&mut stream, "200 OK", "text/plain; version=0.0.4", &body).await
        }
        ("GET", "/healthz") => respond(&mut stream, "200 OK", "application/json", "{\"status\":\"up\"}\n").await,
        ("GET", "/readyz") => {
            let readiness = health.readiness();
            let status = if readiness.ready { "200 OK" } else { "503 Service Unavailable" };
            let mut body = serde_json::to_string(&readiness).unwrap_or_else(|_| "{}".into());
            body.push('\n');
            respond(&mut stream, status, "application/json", &body).await
        }
        ("GET", "/") => respond(&mut stream, "200 OK", "text/plain", "hypertick: see /metrics, /healthz, /readyz\n").await,
        _ => respond(&mut stream, "404 Not Found", "text/plain", "not found\n").await,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
