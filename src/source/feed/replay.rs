//! Replay: capture files fed through the same adapter, the same delivery (dead
//! letters, feed events, instruments) and the same router as the live source that
//! recorded them, each message with its recorded receipt time, at the recorded pace,
//! a multiple of it, or as fast as the pipeline takes them.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::capture::{CaptureEntry, CaptureHeader, CaptureReader};
use super::FeedSource;
use crate::pipeline::Router;
use crate::record::Timestamp;
use crate::source::{Source, SourceContext, SourceFuture};

/// How fast a capture is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the pipeline takes the records.
    Max,
    /// The recorded pace times this factor (1: as recorded, 10: ten times faster).
    Scaled(f64),
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplayCounts {
    pub files: AtomicU64,
    pub frames: AtomicU64,
    pub records: AtomicU64,
    pub connections: AtomicU64,
}

/// Where a replayed connection stands: the subscriptions still to be acknowledged.
#[derive(Default)]
struct Connection {
    pending: HashSet<u64>,
}

/// Capture files replayed as one source.
pub struct ReplaySource {
    feeds: HashMap<String, (FeedSource, Connection)>,
    captures: Vec<PathBuf>,
    pace: Pace,
    /// Replay every capture through this source, whatever recorded it.
    through: Option<String>,
    pub counts: Arc<ReplayCounts>,
}

enum Item {
    File(PathBuf, CaptureHeader),
    Entry(CaptureEntry),
    Failed(String),
}

impl ReplaySource {
    /// `feeds`: the configured sources, by name (built without `record`).
    pub fn new(feeds: Vec<FeedSource>, captures: Vec<PathBuf>, pace: Pace, through: Option<String>) -> ReplaySource {
        let feeds = feeds.into_iter().map(|feed| (feed.name.clone(), (feed, Connection::default()))).collect();
        ReplaySource { feeds, captures, pace, through, counts: Arc::default() }
    }

    async fn replay(mut self, context: SourceContext) -> anyhow::Result<()> {
        let (sender, mut items) = mpsc::channel::<Item>(4096);
        let captures = std::mem::take(&mut self.captures);
        // Files are read and decoded on a thread of their own.
        std::thread::Builder::new().name("replay-read".into()).spawn(move || read_captures(captures, sender))?;
        let mut current: Option<String> = None;
        let mut clock: Option<(Timestamp, Instant)> = None;
        loop {
            let item = tokio::select! {
                _ = context.shutdown.cancelled() => return Ok(()),
                item = items.recv() => item,
            };
            let entry = match item {
                None => return Ok(()),
                Some(Item::Failed(message)) => bail!(message),
                Some(Item::File(path, header)) => {
                    current = Some(self.feed_for(&path, &header)?);
                    self.counts.files.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Some(Item::Entry(entry)) => entry,
            };
            let at = match &entry {
                CaptureEntry::Connected { at } | CaptureEntry::Frame { at, .. } | CaptureEntry::Fetched { at, .. } => *at,
            };
            if let Pace::Scaled(speed) = self.pace {
                let (first, started) = *clock.get_or_insert((at, Instant::now()));
                let offset = std::time::Duration::from_micros((at.micros() - first.micros()).max(0) as u64).div_f64(speed);
                tokio::select! {
                    _ = context.shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep_until(started + offset) => {}
                }
            }
            let Some((feed, connection)) = current.as_ref().and_then(|name| self.feeds.get_mut(name)) else { continue };
            match entry {
                CaptureEntry::Connected { .. } => {
                    self.counts.connections.fetch_add(1, Ordering::Relaxed);
                    feed.replay_connected(&context.router, connection).await;
                }
                CaptureEntry::Frame { at, text } => {
                    self.counts.frames.fetch_add(1, Ordering::Relaxed);
                    let records = feed.replay_frame(&context.router, connection, &text, at).await;
                    self.counts.records.fetch_add(records as u64, Ordering::Relaxed);
                }
                CaptureEntry::Fetched { at, fetch, outcome } => {
                    let records = feed.replay_fetched(&context.router, &fetch, outcome.as_deref(), at).await;
                    self.counts.records.fetch_add(records as u64, Ordering::Relaxed);
                }
            }
        }
    }

    /// The configured source a capture file is replayed through.
    fn feed_for(&self, path: &std::path::Path, header: &CaptureHeader) -> anyhow::Result<String> {
        let name = self.through.clone().unwrap_or_else(|| header.source.clone());
        let Some((feed, _)) = self.feeds.get(&name) else {
            return Err(anyhow!(
                "{}: recorded by source `{}`, and the configuration has no [[sources]] entry named `{name}`; add one (kind = \"{}\") or pass --source",
                path.display(),
                header.source,
                header.kind
            ));
        };
        if feed.config.kind.name() != header.kind {
            bail!(
                "{}: recorded by a {} source, but source `{name}` is {}; its adapter cannot read these messages",
                path.display(),
                header.kind,
                feed.config.kind.name()
            );
        }
        Ok(name)
    }
}

fn read_captures(captures: Vec<PathBuf>, sender: mpsc::Sender<Item>) {
    for path in captures {
        let (header, mut reader) = match CaptureReader::open(&path) {
            Ok(opened) => opened,
            Err(error) => {
                let _ = sender.blocking_send(Item::Failed(error.to_string()));
                return;
            }
        };
        if sender.blocking_send(Item::File(path, header)).is_err() {
            return;
        }
        while let Some(entry) = reader.next_entry() {
            let item = match entry {
                Ok(entry) => Item::Entry(entry),
                Err(error) => Item::Failed(error.to_string()),
            };
            let failed = matches!(item, Item::Failed(_));
            if sender.blocking_send(item).is_err() || failed {
                return;
            }
        }
    }
}

impl Source for ReplaySource {
    fn name(&self) -> &str {
        "replay"
    }

    fn run(self: Box<Self>, context: SourceContext) -> SourceFuture {
        Box::pin(self.replay(context))
    }
}

impl FeedSource {
    /// A connection opened in the capture: the adapter subscribes again, as the
    /// connector had it do (its subscriptions set what it parses).
    async fn replay_connected(&mut self, router: &Router, connection: &mut Connection) {
        let subscriptions = self.adapter.subscriptions(&self.config.symbols, &self.config.channels);
        connection.pending = if self.adapter.acknowledges_subscriptions() {
            subscriptions.iter().map(|subscription| subscription.id).collect()
        } else {
            HashSet::new()
        };
        if connection.pending.is_empty() && !subscriptions.is_empty() {
            self.record_instruments(router).await;
        }
    }

    /// A recorded fetch's answer, handed to the adapter where the live source did; the
    /// fetches and replies it asks for go nowhere (the capture holds their answers).
    async fn replay_fetched(
        &mut self,
        router: &Router,
        fetch: &super::Fetch,
        outcome: Result<&str, &super::FetchError>,
        received_at: Timestamp,
    ) -> usize {
        let raw = match outcome {
            Ok(body) => body.to_string(),
            Err(error) => format!("{} {}: {error}", fetch.tag, fetch.path),
        };
        match self.adapter.fetched(fetch, outcome, received_at) {
            Ok(mut parsed) => {
                parsed.replies.clear();
                parsed.fetches.clear();
                let records = parsed.records.len();
                self.deliver(router, parsed, &raw, received_at).await;
                records
            }
            Err(rejection) => {
                self.dead_letter(router, rejection.code.as_str(), rejection.detail, &raw).await;
                0
            }
        }
    }

    /// One recorded message, parsed and delivered as the connector does; returns the
    /// number of records it held. Replies the venue asked for go nowhere.
    async fn replay_frame(&mut self, router: &Router, connection: &mut Connection, text: &str, received_at: Timestamp) -> usize {
        match self.adapter.parse(text, received_at) {
            Ok(mut parsed) => {
                parsed.replies.clear();
                parsed.fetches.clear();
                let was_pending = !connection.pending.is_empty();
                for id in &parsed.acknowledged {
                    connection.pending.remove(id);
                }
                if was_pending && connection.pending.is_empty() {
                    self.record_instruments(router).await;
                }
                let records = parsed.records.len();
                self.deliver(router, parsed, text, received_at).await;
                records
            }
            Err(rejection) => {
                self.dead_letter(router, rejection.code.as_str(), rejection.detail, text).await;
                0
            }
        }
    }
}
