//! REST fetches a venue adapter asks for beside its websocket (Binance's depth snapshots;
//! later, polled values such as open interest): the adapter names a [`Fetch`] (a path and
//! query relative to the venue's REST base, a tag it recognises the answer by, the
//! request's weight in the venue's rate limit), the connector performs it on a task of its
//! own and hands the body back to [`VenueAdapter::fetched`](super::VenueAdapter::fetched)
//! at its place among the messages.
//!
//! The websocket read loop never waits for a fetch: fetches run on spawned tasks (at most
//! [`MAX_IN_FLIGHT`] per connection, ended with it) and their answers come back through a
//! bounded channel the connector polls. Each request has a timeout and a body bound (the
//! source's `max_message_bytes`), and waits for its weight in a per-source budget
//! ([`WeightBudget`], the venue's weight per minute). A `429` or `418` answer is a
//! `rate_limited` feed event: every fetch of the source waits for `Retry-After` (or the
//! backoff), then the request is made again. Timeouts, refused connections and `5xx`
//! answers are an `error` feed event and a retry after a backoff doubling from 1 s to
//! 60 s; never a tight loop. Other `4xx` answers and bodies over the bound are final:
//! the adapter gets them as a [`FetchError`].
//!
//! The HTTP client is hyper's HTTP/1.1 connection (one per request; snapshot fetches are
//! rare) over rustls with the Mozilla roots for `https`. URLs reach logs and events only
//! through [`redact_url`](crate::config::redact_url).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::redact_url;
use crate::record::Timestamp;

/// Fetches running or waiting at once on one connection; more are refused
/// ([`FetchError::Busy`]) until some end.
pub const MAX_IN_FLIGHT: usize = 256;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Answers waiting for the connector.
const RESULTS_CAPACITY: usize = 64;

/// An HTTP request an adapter asks for: a GET, or a POST of a JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    /// What the adapter recognises the answer by (e.g. the symbol).
    pub tag: String,
    /// Path and query, relative to the venue's REST base (`/api/v3/depth?symbol=BTCUSDT&limit=1000`).
    pub path: String,
    /// The request's weight in the venue's rate limit.
    pub weight: u32,
    /// A JSON body to POST (Hyperliquid's `/info`); `None`: a GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Milliseconds to wait before the request: a poll asks for its next round this way
    /// when it handles an answer.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub after_ms: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Fetch {
    /// A GET of `path`, made at once.
    pub fn get(tag: impl Into<String>, path: impl Into<String>, weight: u32) -> Fetch {
        Fetch { tag: tag.into(), path: path.into(), weight, body: None, after_ms: 0 }
    }

    /// A POST of the JSON `body` to `path`, made at once.
    pub fn post(tag: impl Into<String>, path: impl Into<String>, weight: u32, body: impl Into<String>) -> Fetch {
        Fetch { body: Some(body.into()), ..Fetch::get(tag, path, weight) }
    }

    /// The same request, made after `delay`.
    pub fn after(self, delay: Duration) -> Fetch {
        Fetch { after_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), ..self }
    }
}

/// A venue's REST side: its base URL (unless `rest_url` overrides it) and its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestSpec {
    pub base_url: String,
    /// Request weight the venue allows per minute and IP.
    pub weight_per_minute: u32,
}

/// Why a fetch gave no body (the final failures; transient ones are retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FetchError {
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the answer is larger than {limit} bytes (sources.max_message_bytes)")]
    TooLarge { limit: usize },
    #[error("the answer is not UTF-8 text")]
    NotText,
    #[error("more than {MAX_IN_FLIGHT} fetches at once")]
    Busy,
    #[error("this venue has no REST endpoint")]
    Unsupported,
}

/// What a fetch task reports to the connector.
pub enum FetchMessage {
    /// A `feed_events` row (`rate_limited`, `error`).
    Event(&'static str, serde_json::Value),
    /// The fetch ended: its body or its final failure, and when it was received.
    Done { fetch: Fetch, outcome: Result<String, FetchError>, received_at: Timestamp },
}

/// A per-source weight budget: the venue's weight per minute, refilled continuously,
/// spent by reservation (a request waits until its weight is there), and held entirely
/// after a `429` / `418` until the venue's `Retry-After`.
#[derive(Debug)]
pub struct WeightBudget {
    per_second: f64,
    capacity: f64,
    available: f64,
    updated: Instant,
    held_until: Option<Instant>,
}

impl WeightBudget {
    pub fn new(weight_per_minute: u32) -> WeightBudget {
        let capacity = f64::from(weight_per_minute.max(1));
        WeightBudget { per_second: capacity / 60.0, capacity, available: capacity, updated: Instant::now(), held_until: None }
    }

    /// Reserves `weight` at `now`; returns how long to wait before sending.
    pub fn reserve(&mut self, weight: u32, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.available = (self.available + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
        self.available -= f64::from(weight);
        let refill = if self.available >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.available / self.per_second) };
        let held = self.held_until.map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        refill.max(held)
    }

    /// The venue said to wait until `until`: every request of the source does.
    pub fn hold(&mut self, until: Instant) {
        self.held_until = Some(self.held_until.map_or(until, |held| held.max(until)));
    }
}

/// The fetches of one connection: their tasks (aborted when the connection ends) and
/// the channel their answers come back on.
pub struct Fetches {
    client: Option<Arc<RestClient>>,
    budget: Arc<Mutex<WeightBudget>>,
    tasks: JoinSet<()>,
    sender: mpsc::Sender<FetchMessage>,
    receiver: mpsc::Receiver<FetchMessage>,
    /// Refused at once (no REST side, too many in flight), answered on the next poll.
    refused: Vec<FetchMessage>,
}

impl Fetches {
    pub fn new(client: Option<Arc<RestClient>>, budget: Arc<Mutex<WeightBudget>>) -> Fetches {
        let (sender, receiver) = mpsc::channel(RESULTS_CAPACITY);
        Fetches { client, budget, tasks: JoinSet::new(), sender, receiver, refused: Vec::new() }
    }

    /// Starts a fetch.
    pub fn start(&mut self, fetch: Fetch) {
        while self.tasks.try_join_next().is_some() {}
        let refusal = match &self.client {
            None => Some(FetchError::Unsupported),
            Some(_) if self.tasks.len() >= MAX_IN_FLIGHT => Some(FetchError::Busy),
            Some(_) => None,
        };
        if let Some(error) = refusal {
            self.refused.push(FetchMessage::Done { fetch, outcome: Err(error), received_at: Timestamp::now() });
            return;
        }
        if let Some(client) = &self.client {
            let (client, budget, sender) = (client.clone(), self.budget.clone(), self.sender.clone());
            self.tasks.spawn(run(client, budget, fetch, sender));
        }
    }

    /// The next report of a fetch; pending while none is due.
    pub async fn next(&mut self) -> FetchMessage {
        if let Some(refused) = self.refused.pop() {
            return refused;
        }
        match self.receiver.recv().await {
            Some(message) => message,
            // The connection keeps a sender: never reached.
            None => std::future::pending().await,
        }
    }
}

/// One fetch, made again until it ends (see the module doc).
async fn run(client: Arc<RestClient>, budget: Arc<Mutex<WeightBudget>>, fetch: Fetch, results: mpsc::Sender<FetchMessage>) {
    let mut backoff = FIRST_BACKOFF;
    let url = redact_url(&client.url(&fetch.path));
    if fetch.after_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fetch.after_ms)).await;
    }
    loop {
        let wait = budget.lock().unwrap_or_else(|poison| poison.into_inner()).reserve(fetch.weight, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let (kind, detail, wait) = match client.request(&fetch.path, fetch.body.as_deref()).await {
            Ok(answer) if answer.status.is_success() => {
                let outcome = String::from_utf8(answer.body.to_vec()).map_err(|_| FetchError::NotText);
                let _ = results.send(FetchMessage::Done { fetch, outcome, received_at: Timestamp::now() }).await;
                return;
            }
            Ok(answer) if answer.status == StatusCode::TOO_MANY_REQUESTS || answer.status.as_u16() == 418 => {
                let wait = answer.retry_after.unwrap_or(backoff);
                budget.lock().unwrap_or_else(|poison| poison.into_inner()).hold(Instant::now() + wait);
                let detail = json!({ "url": url, "tag": fetch.tag, "status": answer.status.as_u16(),
                                     "retry_after_s": answer.retry_after.map(|after| after.as_secs()), "wait_ms": wait.as_millis() as u64 });
                ("rate_limited", detail, wait)
            }
            Ok(answer) if answer.status.is_server_error() => {
                let detail = json!({ "reason": format!("fetch failed: HTTP {}", answer.status.as_u16()), "url": url,
                                     "tag": fetch.tag, "wait_ms": backoff.as_millis() as u64 });
                ("error", detail, backoff)
            }
            Ok(answer) => {
                let body: String = String::from_utf8_lossy(&answer.body).chars().take(200).collect();
                let outcome = Err(FetchError::Status { status: answer.status.as_u16(), body });
                let _ = results.send(FetchMessage::Done { fetch, outcome, received_at: Timestamp::now() }).await;
                return;
            }
            Err(RequestError::TooLarge(limit)) => {
                let outcome = Err(FetchError::TooLarge { limit });
                let _ = results.send(FetchMessage::Done { fetch, outcome, received_at: Timestamp::now() }).await;
                return;
            }
            Err(RequestError::Transport(reason)) => {
                let detail = json!({ "reason": format!("fetch failed: {reason}"), "url": url, "tag": fetch.tag,
                                     "wait_ms": backoff.as_millis() as u64 });
                ("error", detail, backoff)
            }
        };
        if results.send(FetchMessage::Event(kind, detail)).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// An answer.
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

#[derive(Debug)]
pub enum RequestError {
    TooLarge(usize),
    Transport(String),
}

/// A minimal HTTP/1.1 client (GET, and POST of JSON) for one REST base.
pub struct RestClient {
    base: String,
    max_body_bytes: usize,
    /// One request (connect, TLS, answer and body) may take this long.
    timeout: Duration,
    tls: tokio_rustls::TlsConnector,
}

impl RestClient {
    /// A client for `base` (`http://` or `https://`, no trailing slash needed).
    pub fn new(base: &str, max_body_bytes: usize, timeout: Duration) -> RestClient {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
        let config = match config {
            Ok(config) => config,
            // The ring provider supports the default versions; kept as a fallback anyway.
            Err(_) => rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
                .with_no_client_auth(),
        };
        RestClient {
            base: base.trim_end_matches('/').to_string(),
            max_body_bytes,
            timeout,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` (or POST the JSON `body` to it), within the client's timeout.
    pub async fn request(&self, path: &str, body: Option<&str>) -> Result<Answer, RequestError> {
        match tokio::time::timeout(self.timeout, self.exchange(path, body)).await {
            Ok(answer) => answer,
            Err(_) => Err(RequestError::Transport(format!("no answer within {} ms (sources.rest_timeout_ms)", self.timeout.as_millis()))),
        }
    }

    async fn exchange(&self, path: &str, body: Option<&str>) -> Result<Answer, RequestError> {
        let transport = |error: &dyn std::fmt::Display| RequestError::Transport(error.to_string());
        let uri: Uri = self.url(path).parse().map_err(|error: hyper::http::uri::InvalidUri| transport(&error))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(RequestError::Transport("the REST URL must be http:// or https://".into())),
        };
        let host = uri.host().ok_or_else(|| RequestError::Transport("the REST URL has no host".into()))?.to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = uri.authority().map(|authority| authority.to_string()).unwrap_or_else(|| host.clone());
        let target = uri.path_and_query().map_or("/", |target| target.as_str()).to_string();
        let request = match body {
            None => Request::get(target),
            Some(_) => Request::post(target).header(CONTENT_TYPE, "application/json"),
        }
        .header(HOST, authority)
        .header(USER_AGENT, concat!("hypertick/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_string())))
        .map_err(|error| transport(&error))?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|error| transport(&error))?;
        if https {
            let name = rustls::pki_types::ServerName::try_from(host).map_err(|error| transport(&error))?;
            let tls = self.tls.connect(name, tcp).await.map_err(|error| transport(&error))?;
            send(TokioIo::new(tls), request, self.max_body_bytes).await
        } else {
            send(TokioIo::new(tcp), request, self.max_body_bytes).await
        }
    }
}

async fn send<I>(io: I, request: Request<Full<Bytes>>, max_body_bytes: usize) -> Result<Answer, RequestError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let transport = |error: &dyn std::fmt::Display| RequestError::Transport(error.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|error| transport(&error))?;
    let driver = tokio::spawn(connection);
    let answer = async {
        let response = sender.send_request(request).await.map_err(|error| transport(&error))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match Limited::new(response.into_body(), max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => return Err(RequestError::TooLarge(max_body_bytes)),
            Err(error) => return Err(RequestError::Transport(error.to_string())),
        };
        Ok(Answer { status, retry_after, body })
    }
    .await;
    driver.abort();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_makes_requests_wait_for_their_weight_and_holds_after_a_refusal() {
        let start = Instant::now();
        let mut budget = WeightBudget::new(60);
        assert_eq!(budget.reserve(50, start), Duration::ZERO);
        assert_eq!(budget.reserve(10, start), Duration::ZERO);
        // Empty: 1 weight a second comes back.
        assert_eq!(budget.reserve(5, start), Duration::from_secs(5));
        assert_eq!(budget.reserve(1, start + Duration::from_secs(10)), Duration::ZERO);
        budget.hold(start + Duration::from_secs(40));
        assert_eq!(budget.reserve(0, start + Duration::from_secs(10)), Duration::from_secs(30));
        assert_eq!(budget.reserve(0, start + Duration::from_secs(41)), Duration::ZERO);
    }

    /// A loopback HTTP server answering the n-th request with `answers[n]` (status, body).
    async fn server(answers: Vec<(u16, String)>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answers = Arc::new(Mutex::new(std::collections::VecDeque::from(answers)));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let answers = answers.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_request: Request<hyper::body::Incoming>| {
                        let (status, body) = answers.lock().unwrap().pop_front().unwrap_or((500, String::new()));
                        let response =
                            hyper::Response::builder().status(status).body(http_body_util::Full::new(Bytes::from(body))).unwrap();
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn server_errors_are_retried_and_refusals_and_oversized_bodies_are_final() {
        let answers =
            vec![(503, "busy".to_string()), (200, "x".repeat(2_000)), (400, "{\"msg\":\"Invalid symbol.\"}".into()), (200, "ok".into())];
        let base = server(answers).await;
        let client = Arc::new(RestClient::new(&base, 1_000, Duration::from_secs(10)));
        let mut fetches = Fetches::new(Some(client), Arc::new(Mutex::new(WeightBudget::new(6_000))));
        let fetch = Fetch::get("X", "/depth?symbol=X", 5);
        fetches.start(fetch.clone());
        let FetchMessage::Event(kind, detail) = fetches.next().await else { panic!("a 503 is retried") };
        assert_eq!(kind, "error");
        assert!(detail["reason"].as_str().unwrap().contains("503"), "{detail}");
        let FetchMessage::Done { outcome, .. } = fetches.next().await else { panic!() };
        assert_eq!(outcome, Err(FetchError::TooLarge { limit: 1_000 }));
        fetches.start(fetch.clone());
        let FetchMessage::Done { outcome, .. } = fetches.next().await else { panic!() };
        assert_eq!(outcome, Err(FetchError::Status { status: 400, body: "{\"msg\":\"Invalid symbol.\"}".into() }));
        fetches.start(fetch.clone());
        let FetchMessage::Done { fetch: answered, outcome, .. } = fetches.next().await else { panic!() };
        assert_eq!((answered, outcome), (fetch, Ok("ok".to_string())));

        let mut without_rest = Fetches::new(None, Arc::new(Mutex::new(WeightBudget::new(1))));
        without_rest.start(Fetch::get("X", "/", 1));
        let FetchMessage::Done { outcome, .. } = without_rest.next().await else { panic!() };
        assert_eq!(outcome, Err(FetchError::Unsupported));
    }

    #[test]
    fn final_failures_round_trip_as_capture_text() {
        for error in [FetchError::Status { status: 400, body: "bad symbol".into() }, FetchError::TooLarge { limit: 10 }] {
            let text = serde_json::to_string(&error).unwrap();
            assert_eq!(serde_json::from_str::<FetchError>(&text).unwrap(), error);
        }
    }
}
