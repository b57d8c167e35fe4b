//! The shared websocket connector: one task per configured source, running its
//! adapter over a connection it keeps alive forever.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::capture::CaptureWriter;
use super::fetch::{FetchMessage, Fetches, RestClient, WeightBudget};
use super::{Parsed, VenueAdapter};
use crate::config::SourceConfig;
use crate::metrics::events;
use crate::pipeline::Router;
use crate::record::{DeadLetter, FeedEvent, Instrument, Record, Timestamp};
use crate::source::{Source, SourceContext, SourceFuture};

/// A configured venue connection.
pub struct FeedSource {
    pub(super) name: String,
    url: String,
    pub(super) config: SourceConfig,
    pub(super) adapter: Box<dyn VenueAdapter>,
    /// With `record`: every message received goes to capture files too.
    capture: Option<CaptureWriter>,
    /// The venue's REST side, for adapters that fetch (`rest_url` or the adapter's base).
    rest: Option<Arc<RestClient>>,
    /// The source's REST weight budget, kept across connections.
    budget: Arc<Mutex<WeightBudget>>,
}

/// The weight budget of a venue that states none.
const DEFAULT_WEIGHT_PER_MINUTE: u32 = 1_200;

impl FeedSource {
    pub fn new(config: SourceConfig, adapter: Box<dyn VenueAdapter>) -> Self {
        let url = config.url.clone().unwrap_or_else(|| adapter.default_url());
        let capture = CaptureWriter::new(&config);
        let spec = adapter.rest();
        let base = config.rest_url.clone().or_else(|| spec.as_ref().map(|spec| spec.base_url.clone()));
        let timeout = Duration::from_millis(config.rest_timeout_ms.get());
        let rest = base.map(|base| Arc::new(RestClient::new(&base, config.max_message_bytes, timeout)));
        let weight = spec.map_or(DEFAULT_WEIGHT_PER_MINUTE, |spec| spec.weight_per_minute);
        let budget = Arc::new(Mutex::new(WeightBudget::new(weight)));
        FeedSource { name: config.name(), url, capture, config, adapter, rest, budget }
    }
}

/// Why a connection ended.
enum Ended {
    Shutdown,
    Reconnect(String),
}

impl Source for FeedSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(mut self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(async move {
            let mut backoff = Duration::from_millis(self.config.reconnect_initial_ms.get());
            let max_backoff = Duration::from_millis(self.config.reconnect_max_ms);
            let mut connections = 0u64;
            loop {
                let started = Instant::now();
                let ended = self.connect_once(&context, connections).await;
                context.health.source_disconnected(&self.name);
                connections += 1;
                if let Some(capture) = &mut self.capture {
                    match ended {
                        Ended::Shutdown => capture.close(),
                        Ended::Reconnect(_) => capture.flush(),
                    }
                }
                match ended {
                    Ended::Shutdown => return Ok(()),
                    Ended::Reconnect(reason) => {
                        // A connection that lived a while starts the backoff over.
                        if started.elapsed() > Duration::from_secs(60) {
                            backoff = Duration::from_millis(self.config.reconnect_initial_ms.get());
                        }
                        let wait = backoff.mul_f64(0.5 + fastrand::f64() * 0.5);
                        events::feed_reconnecting(&self.name, &reason, wait);
                        self.event(&context.router, "reconnecting", json!({ "reason": reason, "wait_ms": wait.as_millis() as u64 })).await;
                        tokio::select! {
                            _ = context.shutdown.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(wait) => {}
                        }
                        backoff = (backoff * 2).min(max_backoff);
                    }
                }
            }
        })
    }
}

impl FeedSource {
    pub(super) async fn event(&self, router: &Router, kind: &'static str, detail: serde_json::Value) {
        let now = Timestamp::now();
        router.feed_event(FeedEvent { time: now, received_at: now, source: self.name.clone(), kind, detail }).await;
    }

    pub(super) async fn dead_letter(&self, router: &Router, reason: &'static str, detail: String, raw: &str) {
        events::parse_errors(&self.name, 1);
        router.dead_letter(DeadLetter::new(&self.name, reason, detail, raw)).await;
    }

    /// One connection: connect, subscribe, read until it fails or the daemon stops.
    async fn connect_once(&mut self, context: &SourceContext, previous_connections: u64) -> Ended {
        let router = &context.router;
        let config = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_message_bytes))
            .max_frame_size(Some(self.config.max_message_bytes));
        let connecting = tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), true);
        let connect_timeout = Duration::from_millis(self.config.connect_timeout_ms.get());
        let mut socket = tokio::select! {
            _ = context.shutdown.cancelled() => return Ended::Shutdown,
            connected = tokio::time::timeout(connect_timeout, connecting) => match connected {
                Ok(Ok((socket, _))) => socket,
                Ok(Err(error)) => return Ended::Reconnect(format!("connect failed: {error}")),
                Err(_) => return Ended::Reconnect(format!("connect timed out after {} ms", connect_timeout.as_millis())),
            }
        };
        events::feed_connected(&self.name, &self.url);
        context.health.source_connected(&self.name);
        if let Some(capture) = &mut self.capture {
            capture.connected(Timestamp::now());
        }
        self.event(router, "connected", json!({ "url": crate::config::redact_url(&self.url), "connection": previous_connections + 1 }))
            .await;

        let subscriptions = self.adapter.subscriptions(&self.config.symbols, &self.config.channels);
        // Fetches belong to this connection: its end aborts the ones still running.
        let mut fetches = Fetches::new(self.rest.clone(), self.budget.clone());
        for fetch in self.adapter.initial_fetches() {
            fetches.start(fetch);
        }
        let acknowledged_by_venue = self.adapter.acknowledges_subscriptions();
        let mut pending: HashSet<u64> =
            subscriptions.iter().filter(|_| acknowledged_by_venue).map(|subscription| subscription.id).collect();
        for subscription in &subscriptions {
            if let Err(error) = socket.send(Message::text(subscription.message.clone())).await {
                return self.disconnected(router, format!("subscribe failed: {error}")).await;
            }
        }
        // A venue that does not answer subscriptions is resubscribed once they are sent.
        if !acknowledged_by_venue && !subscriptions.is_empty() && previous_connections > 0 {
            self.event(router, "resubscribed", json!({ "subscriptions": subscriptions.len(), "acknowledged": false })).await;
        }
        if pending.is_empty() && !subscriptions.is_empty() {
            self.record_instruments(router).await;
        }
        let subscribe_deadline = Instant::now() + Duration::from_millis(self.config.subscribe_timeout_ms.get());
        let silence = Duration::from_millis(self.config.silence_timeout_ms.get());
        let mut ping = tokio::time::interval(Duration::from_millis(self.config.ping_interval_ms.get()));
        ping.tick().await;
        let mut last_message = Instant::now();
        loop {
            let watchdog = last_message + silence;
            let ack_deadline = if pending.is_empty() { watchdog } else { subscribe_deadline.min(watchdog) };
            let message = tokio::select! {
                _ = context.shutdown.cancelled() => {
                    let _ = socket.close(None).await;
                    self.event(router, "disconnected", json!({ "reason": "daemon stopping" })).await;
                    return Ended::Shutdown;
                }
                _ = ping.tick() => {
                    if let Some(capture) = &mut self.capture {
                        capture.flush_if_due();
                    }
                    let mut sent = socket.send(Message::Ping(Vec::new().into())).await;
                    if let (Ok(()), Some(heartbeat)) = (&sent, self.adapter.heartbeat()) {
                        sent = socket.send(Message::text(heartbeat)).await;
                    }
                    if let Err(error) = sent {
                        return self.disconnected(router, format!("ping failed: {error}")).await;
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(ack_deadline) => {
                    let reason = if !pending.is_empty() && Instant::now() >= subscribe_deadline {
                        format!("{} subscription(s) not acknowledged within {} ms", pending.len(), self.config.subscribe_timeout_ms)
                    } else {
                        format!("silent for {} ms", silence.as_millis())
                    };
                    self.event(router, "error", json!({ "reason": reason })).await;
                    return self.disconnected(router, reason).await;
                }
                report = fetches.next() => {
                    match report {
                        FetchMessage::Event(kind, detail) => {
                            tracing::warn!(source = %self.name, kind, %detail, "REST fetch to be made again");
                            self.event(router, kind, detail).await;
                        }
                        FetchMessage::Done { fetch, outcome, received_at } => {
                            if let Some(capture) = &mut self.capture {
                                capture.fetched(received_at, &fetch, outcome.as_deref());
                            }
                            let raw = match &outcome {
                                Ok(body) => body.clone(),
                                Err(error) => format!("{} {}: {error}", fetch.tag, fetch.path),
                            };
                            match self.adapter.fetched(&fetch, outcome.as_deref(), received_at) {
                                Ok(mut parsed) => {
                                    for reply in std::mem::take(&mut parsed.replies) {
                                        if let Err(error) = socket.send(Message::text(reply)).await {
                                            return self.disconnected(router, format!("reply failed: {error}")).await;
                                        }
                                    }
                                    for fetch in std::mem::take(&mut parsed.fetches) {
                                        fetches.start(fetch);
                                    }
                                    self.deliver(router, parsed, &raw, received_at).await;
                                }
                                Err(rejection) => self.dead_letter(router, rejection.code.as_str(), rejection.detail, &raw).await,
                            }
                        }
                    }
                    continue;
                }
                message = socket.next() => message,
            };
            let text = match message {
                None => return self.disconnected(router, "closed by the venue".into()).await,
                Some(Err(error)) => {
                    if let tokio_tungstenite::tungstenite::Error::Capacity(detail) = &error {
                        self.dead_letter(router, "frame_too_large", format!("{detail} (sources.max_message_bytes)"), "").await;
                    }
                    return self.disconnected(router, format!("read failed: {error}")).await;
                }
                Some(Ok(Message::Text(text))) => {
                    // Only venue messages feed the watchdog: a feed that answers pings
                    // but sends nothing is silent.
                    last_message = Instant::now();
                    text
                }
                Some(Ok(Message::Binary(bytes))) => {
                    last_message = Instant::now();
                    self.dead_letter(
                        router,
                        "binary_frame",
                        "this venue's adapter expects text messages".into(),
                        &String::from_utf8_lossy(&bytes),
                    )
                    .await;
                    continue;
                }
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame
                        .map_or("closed by the venue".to_string(), |frame| format!("closed by the venue: {} {}", frame.code, frame.reason));
                    return self.disconnected(router, reason).await;
                }
                Some(Ok(_)) => continue,
            };
            let received_at = Timestamp::now();
            if let Some(capture) = &mut self.capture {
                capture.frame(received_at, text.as_str());
            }
            match self.adapter.parse(text.as_str(), received_at) {
                Ok(mut parsed) => {
                    for reply in std::mem::take(&mut parsed.replies) {
                        if let Err(error) = socket.send(Message::text(reply)).await {
                            return self.disconnected(router, format!("reply failed: {error}")).await;
                        }
                    }
                    for fetch in std::mem::take(&mut parsed.fetches) {
                        fetches.start(fetch);
                    }
                    let was_pending = !pending.is_empty();
                    for id in &parsed.acknowledged {
                        pending.remove(id);
                    }
                    if was_pending && pending.is_empty() {
                        if previous_connections > 0 {
                            self.event(router, "resubscribed", json!({ "subscriptions": subscriptions.len() })).await;
                        }
                        self.record_instruments(router).await;
                    }
                    self.deliver(router, parsed, text.as_str(), received_at).await;
                }
                Err(rejection) => self.dead_letter(router, rejection.code.as_str(), rejection.detail, text.as_str()).await,
            }
        }
    }

    pub(super) async fn deliver(&self, router: &Router, parsed: Parsed, raw: &str, received_at: Timestamp) {
        let Parsed { records, events: feed_events, duplicates, book_dropped, rejected, instruments, .. } = parsed;
        events::source_frame(&self.name, records.len());
        for (rejection, element) in rejected {
            self.dead_letter(router, rejection.code.as_str(), rejection.detail, &element).await;
        }
        if duplicates > 0 {
            events::feed_duplicates(&self.name, duplicates);
        }
        if book_dropped > 0 {
            events::book_levels_dropped(&self.name, book_dropped);
        }
        for (kind, detail) in feed_events {
            if kind == "gap" {
                events::feed_gap(&self.name);
            }
            self.event(router, kind, detail).await;
        }
        if !instruments.is_empty() {
            self.upsert_instruments(router, instruments).await;
        }
        for record in records {
            let routed = match router.try_route_now(record, received_at, None) {
                Ok(routed) => routed,
                Err(record) => router.route(record, received_at).await,
            };
            if let Err(rejection) = routed {
                if !rejection.code.is_backpressure() {
                    router.dead_letter(DeadLetter::new(&self.name, rejection.code.as_str(), rejection.detail, raw)).await;
                }
            }
        }
    }

    /// Upserts the `instruments` row of every configured symbol, our symbol beside the
    /// venue's. Done after every successful subscribe: the upsert is idempotent and the
    /// relational writer keeps one row per key within a batch, so reconnects cost little.
    pub(super) async fn record_instruments(&self, router: &Router) {
        let instruments: Vec<_> = self.config.symbols.iter().filter_map(|venue_symbol| self.adapter.instrument(venue_symbol)).collect();
        self.upsert_instruments(router, instruments).await;
    }

    /// Routes an `instruments` upsert per instrument to the relational writer; skipped
    /// when `instruments` is not among the relational tables (`[relational] tables`).
    async fn upsert_instruments(&self, router: &Router, instruments: Vec<Instrument>) {
        if !router.catalog().get().tables.contains_key("instruments") {
            return;
        }
        let now = Timestamp::now();
        for instrument in instruments {
            let row = instrument.upsert_row(now);
            let raw = row.to_push_json();
            if let Err(rejection) = router.route(Record::Row(row), now).await {
                if !rejection.code.is_backpressure() {
                    router.dead_letter(DeadLetter::new(&self.name, rejection.code.as_str(), rejection.detail, &raw)).await;
                }
            }
        }
    }

    async fn disconnected(&self, router: &Router, reason: String) -> Ended {
        self.event(router, "disconnected", json!({ "reason": reason })).await;
        Ended::Reconnect(reason)
    }
}
