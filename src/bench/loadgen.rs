//! The benchmark's load generator, run as its own process (`hypertick bench-load`) so
//! that the daemon's CPU and memory are measured apart from it. Two modes:
//!
//! - `push`: connects to the daemon's push server and sends frames of ticks, paced to an
//!   offered rate or as fast as acks come back (a window of frames in flight);
//! - `binance`: listens as a Binance market-data endpoint, acknowledges `SUBSCRIBE` and
//!   streams one `<symbol>@trade` message per trade, paced or as fast as the socket takes;
//! - `okx-books`: listens as an OKX public endpoint, acknowledges the `books` subscription
//!   of each instrument, sends its snapshot, then streams update pushes
//!   ([`book_market`](super::book_market)); `sent` counts level changes.
//!
//! It reports on stdout, one JSON object per line: `{"listening":"…"}` once (listening modes),
//! then `{"sent":N,"acked":M}` every 250 ms, and a last line with `"final":true` after
//! SIGTERM or `--seconds`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::book_market::{BookMarket, CHANGES_PER_PUSH};
use super::dataset::{push_frame, Market};
use crate::record::Timestamp;

/// What the load generator does.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub mode: LoadMode,
    /// Offered rows per second across all connections; 0 = as fast as the daemon takes them.
    pub rate: u64,
    /// Push connections opened (push mode) or expected (binance mode).
    pub connections: usize,
    /// Ticks per push frame.
    pub frame_rows: usize,
    /// Symbols in the push market (binance mode serves the subscribed ones).
    pub symbols: usize,
    /// Stop after this long (otherwise at SIGTERM).
    pub seconds: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum LoadMode {
    Push { url: String },
    Binance { listen: SocketAddr },
    OkxBooks { listen: SocketAddr },
}

/// What a listening load generator serves.
#[derive(Debug, Clone, Copy)]
enum Served {
    Binance,
    OkxBooks,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
}

/// Frames a push connection may have sent and not yet seen acked.
const PUSH_WINDOW: usize = 16;

/// Runs the plan until SIGTERM, SIGINT or `seconds`.
pub async fn run(plan: LoadPlan) -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    let reporter = tokio::spawn(report(counters.clone(), stop.clone()));
    let per_connection = if plan.rate == 0 { 0 } else { plan.rate.div_ceil(plan.connections.max(1) as u64) };
    let mut tasks = Vec::new();
    match &plan.mode {
        LoadMode::Push { url } => {
            for connection in 0..plan.connections.max(1) {
                let url = url.clone();
                let (counters, stop) = (counters.clone(), stop.clone());
                let market = Market::new(plan.symbols, connection as u64 + 1);
                let frame_rows = plan.frame_rows.max(1);
                tasks.push(tokio::spawn(async move { push_connection(&url, market, per_connection, frame_rows, counters, &stop).await }));
            }
        }
        LoadMode::Binance { listen } | LoadMode::OkxBooks { listen } => {
            let served = if matches!(plan.mode, LoadMode::Binance { .. }) { Served::Binance } else { Served::OkxBooks };
            let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
            println!("{}", serde_json::json!({ "listening": listener.local_addr()?.to_string() }));
            let (counters, stop) = (counters.clone(), stop.clone());
            tasks.push(tokio::spawn(async move { serve(listener, served, per_connection, counters, stop).await }));
        }
    }
    let deadline = async {
        match plan.seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = crate::shutdown::signal() => {}
        _ = deadline => {}
    }
    stop.cancel();
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Err(error))) => eprintln!("load generator: {error:#}"),
            Ok(Err(error)) => eprintln!("load generator task failed: {error}"),
            _ => {}
        }
    }
    reporter.abort();
    println!(
        "{}",
        serde_json::json!({ "sent": counters.sent.load(Ordering::Relaxed), "acked": counters.acked.load(Ordering::Relaxed), "final": true })
    );
    Ok(())
}

async fn report(counters: Arc<Counters>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    while !stop.is_cancelled() {
        interval.tick().await;
        println!(
            "{}",
            serde_json::json!({ "sent": counters.sent.load(Ordering::Relaxed), "acked": counters.acked.load(Ordering::Relaxed) })
        );
    }
}

/// How many rows are due now at `rate` rows/s since `started` (0 = unlimited).
fn due(started: Instant, rate: u64) -> u64 {
    (started.elapsed().as_secs_f64() * rate as f64) as u64
}

async fn push_connection(
    url: &str,
    mut market: Market,
    rate: u64,
    frame_rows: usize,
    counters: Arc<Counters>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let (socket, _) = tokio_tungstenite::connect_async(url).await.with_context(|| format!("connecting to {url}"))?;
    let (mut sender, mut receiver) = socket.split();
    let window = Arc::new(tokio::sync::Semaphore::new(PUSH_WINDOW));
    let ack_window = window.clone();
    let ack_counters = counters.clone();
    let acks = tokio::spawn(async move {
        while let Some(Ok(message)) = receiver.next().await {
            if let Message::Text(text) = message {
                let ack: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                ack_counters.acked.fetch_add(ack["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                ack_window.add_permits(1);
            }
        }
    });
    let started = Instant::now();
    let mut sent = 0u64;
    let mut frame = String::new();
    let mut pacer = tokio::time::interval(Duration::from_millis(1));
    pacer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !stop.is_cancelled() {
        if rate > 0 && due(started, rate).saturating_sub(sent) < frame_rows as u64 {
            tokio::select! { _ = stop.cancelled() => break, _ = pacer.tick() => {} }
            continue;
        }
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = window.acquire() => permit?,
        };
        permit.forget();
        push_frame(&mut market, frame_rows, Timestamp::now(), &mut frame);
        sender.send(Message::text(frame.as_str())).await.context("sending a frame")?;
        sent += frame_rows as u64;
        counters.sent.fetch_add(frame_rows as u64, Ordering::Relaxed);
    }
    // The acks of frames in flight, for a little while.
    let deadline = Instant::now() + Duration::from_secs(5);
    while window.available_permits() < PUSH_WINDOW && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = sender.send(Message::Close(None)).await;
    acks.abort();
    Ok(())
}

async fn serve(listener: TcpListener, served: Served, rate: u64, counters: Arc<Counters>, stop: CancellationToken) -> anyhow::Result<()> {
    let mut streams = Vec::new();
    loop {
        let (stream, _) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted?,
        };
        let (counters, stop) = (counters.clone(), stop.clone());
        streams.push(tokio::spawn(async move {
            let ended = match served {
                Served::Binance => binance_connection(stream, rate, &counters, &stop).await,
                Served::OkxBooks => okx_books_connection(stream, rate, &counters, &stop).await,
            };
            if let Err(error) = ended {
                eprintln!("load generator: a {served:?} connection ended: {error:#}");
            }
        }));
    }
    for stream in streams {
        let _ = tokio::time::timeout(Duration::from_secs(5), stream).await;
    }
    Ok(())
}

/// Messages written before each flush.
const FLUSH_EVERY: u64 = 64;

async fn binance_connection(stream: tokio::net::TcpStream, rate: u64, counters: &Counters, stop: &CancellationToken) -> anyhow::Result<()> {
    let _ = stream.set_nodelay(true);
    let socket = tokio_tungstenite::accept_async(stream).await.context("websocket handshake")?;
    let (mut sender, mut receiver) = socket.split();
    // The first text message is the SUBSCRIBE request: answer it, serve its streams.
    let symbols = loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            message = receiver.next() => message,
        };
        let Some(message) = message else { return Ok(()) };
        if let Message::Text(text) = message? {
            let request: serde_json::Value = serde_json::from_str(text.as_str()).context("a SUBSCRIBE request")?;
            let id = request["id"].clone();
            let symbols: Vec<String> = request["params"]
                .as_array()
                .map(|params| {
                    params.iter().filter_map(|stream| stream.as_str()?.strip_suffix("@trade")).map(str::to_ascii_uppercase).collect()
                })
                .unwrap_or_default();
            sender.send(Message::text(serde_json::json!({ "result": null, "id": id }).to_string())).await?;
            break symbols;
        }
    };
    anyhow::ensure!(!symbols.is_empty(), "the SUBSCRIBE request named no <symbol>@trade stream");
    // Keep reading: pings are answered by the websocket layer while it reads.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = receiver.next().await {} });
    let mut market = Market::of_symbols(&symbols, 42);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut message = String::new();
    let mut pacer = tokio::time::interval(Duration::from_millis(1));
    pacer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !stop.is_cancelled() {
        let owed = if rate == 0 { FLUSH_EVERY } else { due(started, rate).saturating_sub(sent) };
        if owed == 0 {
            tokio::select! { _ = stop.cancelled() => break, _ = pacer.tick() => {} }
            continue;
        }
        let now = Timestamp::now();
        for _ in 0..owed.min(FLUSH_EVERY * 16) {
            market.binance_trade(now, &mut message);
            sender.feed(Message::text(message.as_str())).await?;
            sent += 1;
            if sent.is_multiple_of(FLUSH_EVERY) {
                sender.flush().await?;
                counters.sent.fetch_add(FLUSH_EVERY, Ordering::Relaxed);
            }
        }
    }
    sender.flush().await?;
    counters.sent.fetch_add(sent % FLUSH_EVERY, Ordering::Relaxed);
    counters.acked.store(counters.sent.load(Ordering::Relaxed), Ordering::Relaxed);
    let _ = sender.send(Message::Close(None)).await;
    reader.abort();
    Ok(())
}

/// An OKX connection: the `books` subscription acknowledged arg by arg, a snapshot per
/// instrument, then update pushes (each [`CHANGES_PER_PUSH`] level changes).
async fn okx_books_connection(
    stream: tokio::net::TcpStream,
    rate: u64,
    counters: &Counters,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let _ = stream.set_nodelay(true);
    let socket = tokio_tungstenite::accept_async(stream).await.context("websocket handshake")?;
    let (mut sender, mut receiver) = socket.split();
    let symbols = loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            message = receiver.next() => message,
        };
        let Some(message) = message else { return Ok(()) };
        if let Message::Text(text) = message? {
            let request: serde_json::Value = serde_json::from_str(text.as_str()).context("a subscribe request")?;
            let mut symbols = Vec::new();
            for arg in request["args"].as_array().into_iter().flatten() {
                let ack = serde_json::json!({ "id": request["id"], "event": "subscribe", "arg": arg, "connId": "bench" });
                sender.send(Message::text(ack.to_string())).await?;
                if let Some(symbol) = arg["instId"].as_str() {
                    symbols.push(symbol.to_string());
                }
            }
            break symbols;
        }
    };
    anyhow::ensure!(!symbols.is_empty(), "the subscribe request named no instrument");
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = receiver.next().await {} });
    let mut market = BookMarket::new(&symbols, 42);
    let mut message = String::new();
    for index in 0..symbols.len() {
        market.okx_snapshot(index, Timestamp::now(), &mut message);
        sender.send(Message::text(message.as_str())).await?;
    }
    let started = Instant::now();
    let (mut sent, mut unreported) = (0u64, 0u64);
    let mut pacer = tokio::time::interval(Duration::from_millis(1));
    pacer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !stop.is_cancelled() {
        let owed = if rate == 0 { FLUSH_EVERY * CHANGES_PER_PUSH as u64 } else { due(started, rate).saturating_sub(sent) };
        if owed < CHANGES_PER_PUSH as u64 {
            tokio::select! { _ = stop.cancelled() => break, _ = pacer.tick() => {} }
            continue;
        }
        let now = Timestamp::now();
        for _ in 0..(owed / CHANGES_PER_PUSH as u64).min(FLUSH_EVERY) {
            let rows = market.okx_update(now, &mut message) as u64;
            sender.feed(Message::text(message.as_str())).await?;
            sent += rows;
            unreported += rows;
        }
        sender.flush().await?;
        counters.sent.fetch_add(std::mem::take(&mut unreported), Ordering::Relaxed);
    }
    counters.acked.store(counters.sent.load(Ordering::Relaxed), Ordering::Relaxed);
    let _ = sender.send(Message::Close(None)).await;
    reader.abort();
    Ok(())
}
