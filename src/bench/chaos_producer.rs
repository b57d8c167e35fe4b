//! A valid producer of the chaos soak: one push connection at a time sending frames of
//! ticks numbered 0, 1, 2, … under its own symbol, each with an `id` that makes a
//! resend harmless, with a window of frames whose acks are outstanding. It keeps a
//! ledger: which ids were sent, which were acked (and when), what was refused. After a
//! lost connection it connects again and first resends every id not acked, as a
//! producer following the protocol would.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::record::Timestamp;

/// Frames a producer may have sent and not yet seen acked.
const WINDOW: usize = 8;
/// An ack not seen for this long means the connection is dead.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Sent and acked rows of all producers together, for the progress line.
#[derive(Default)]
pub struct ProducerCounters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
}

/// What one producer sent and what the daemon acknowledged.
pub struct Ledger {
    pub symbol: String,
    /// Ids 0..next were sent at least once.
    pub next: u64,
    /// Seconds since the soak began when each id was first sent; 0 = never.
    pub first_sent_at: Vec<f32>,
    /// Seconds since the soak began when each id was acked; 0 = not acked.
    pub acked_at: Vec<f32>,
    pub acked: u64,
    /// Sends of ids sent before (after a reconnect or a refusal).
    pub resent: u64,
    /// Records the daemon took as resends of ids it had stored (the ack's `duplicates`).
    pub daemon_duplicates: u64,
    /// Refusals in acks, by the reason's code.
    pub refused: BTreeMap<String, u64>,
    pub connections: u64,
}

impl Ledger {
    fn new(symbol: String) -> Ledger {
        Ledger {
            symbol,
            next: 0,
            first_sent_at: Vec::new(),
            acked_at: Vec::new(),
            acked: 0,
            resent: 0,
            daemon_duplicates: 0,
            refused: BTreeMap::new(),
            connections: 0,
        }
    }

    pub fn is_acked(&self, id: u64) -> bool {
        self.acked_at.get(id as usize).is_some_and(|at| *at > 0.0)
    }

    fn unacked(&self) -> VecDeque<u64> {
        (0..self.next).filter(|id| !self.is_acked(*id)).collect()
    }
}

/// How a producer runs.
pub struct ProducerPlan {
    pub index: usize,
    pub push: SocketAddr,
    /// Rows/s of new ids offered.
    pub rate: u64,
    pub frame_rows: usize,
    /// Once cancelled, no new ids: only the unacked ones are resent.
    pub stop_new: CancellationToken,
    /// The producer gives up at this instant whatever is still unacked.
    pub give_up: Instant,
    pub started: Instant,
}

/// Runs until `stop_new` is cancelled and every id sent is acked, or until `give_up`.
pub async fn produce(plan: ProducerPlan, counters: Arc<ProducerCounters>) -> Ledger {
    let mut ledger = Ledger::new(format!("CHAOS-P{}", plan.index));
    let url = format!("ws://{}", plan.push);
    // A token bucket of new rows, holding one second's worth at most: after an outage
    // the producer goes on at its rate instead of bursting what it did not send.
    let mut bucket = Bucket { tokens: 0.0, refilled: Instant::now(), rate: plan.rate as f64 };
    while Instant::now() < plan.give_up {
        if plan.stop_new.is_cancelled() && ledger.acked == ledger.next {
            break;
        }
        let connecting = tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(url.as_str())).await;
        let Ok(Ok((socket, _))) = connecting else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        ledger.connections += 1;
        session(&plan, socket, &mut ledger, &mut bucket, &counters).await;
    }
    ledger
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    rate: f64,
}

impl Bucket {
    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * self.rate).min(self.rate.max(1.0));
        self.refilled = now;
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection: resends what is unacked, then new frames at the rate; returns when
/// the connection is lost, or when there is nothing left to do.
async fn session(plan: &ProducerPlan, socket: Socket, ledger: &mut Ledger, bucket: &mut Bucket, counters: &ProducerCounters) {
    let (mut sender, mut receiver) = socket.split();
    let mut resend = ledger.unacked();
    let mut in_flight: VecDeque<Vec<u64>> = VecDeque::new();
    let mut last_progress = Instant::now();
    let mut pacer = tokio::time::interval(Duration::from_millis(5));
    pacer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut frame = String::new();
    loop {
        if plan.stop_new.is_cancelled() && resend.is_empty() && in_flight.is_empty() && ledger.acked == ledger.next {
            let _ = sender.send(Message::Close(None)).await;
            return;
        }
        if Instant::now() > plan.give_up || (!in_flight.is_empty() && last_progress.elapsed() > ACK_TIMEOUT) {
            return;
        }
        tokio::select! {
            message = receiver.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let Some(ids) = in_flight.pop_front() else { return };
                    last_progress = Instant::now();
                    let refused = apply_ack(ledger, &ids, text.as_str(), plan.started, counters);
                    resend.extend(refused);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                _ => return,
            },
            _ = pacer.tick() => {
                bucket.refill();
                while in_flight.len() < WINDOW {
                    let ids = next_ids(plan, ledger, &mut resend, bucket, counters);
                    if ids.is_empty() {
                        break;
                    }
                    write_frame(&ledger.symbol, &ids, &mut frame);
                    if sender.send(Message::text(frame.as_str())).await.is_err() {
                        return;
                    }
                    if in_flight.is_empty() {
                        last_progress = Instant::now();
                    }
                    in_flight.push_back(ids);
                }
            }
        }
    }
}

/// The ids of the next frame: unacked ones first, then new ones as the bucket allows.
fn next_ids(
    plan: &ProducerPlan,
    ledger: &mut Ledger,
    resend: &mut VecDeque<u64>,
    bucket: &mut Bucket,
    counters: &ProducerCounters,
) -> Vec<u64> {
    let count = resend.len().min(plan.frame_rows);
    let ids: Vec<u64> = resend.drain(..count).collect();
    if !ids.is_empty() {
        ledger.resent += ids.len() as u64;
        return ids;
    }
    if plan.stop_new.is_cancelled() || bucket.tokens < plan.frame_rows as f64 {
        return Vec::new();
    }
    bucket.tokens -= plan.frame_rows as f64;
    let first = ledger.next;
    ledger.next += plan.frame_rows as u64;
    let at = plan.started.elapsed().as_secs_f32().max(f32::MIN_POSITIVE);
    ledger.first_sent_at.resize(ledger.next as usize, at);
    ledger.acked_at.resize(ledger.next as usize, 0.0);
    counters.sent.fetch_add(plan.frame_rows as u64, Ordering::Relaxed);
    (first..ledger.next).collect()
}

/// Marks what an ack accepted; returns the ids to send again. A frame refused as a
/// whole (rate limit, the spool full) may list fewer refusals than it had records:
/// unless the ack accounts for every record, nothing of it is taken as acked (a
/// resend of a stored id is harmless).
fn apply_ack(ledger: &mut Ledger, ids: &[u64], text: &str, started: Instant, counters: &ProducerCounters) -> Vec<u64> {
    let ack: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let accepted = ack["accepted"].as_u64().unwrap_or(0) as usize;
    let rejected = ack["rejected"].as_array().cloned().unwrap_or_default();
    for item in &rejected {
        let code = item["reason"].as_str().unwrap_or("").split(':').next().unwrap_or("").to_string();
        *ledger.refused.entry(code).or_default() += 1;
    }
    ledger.daemon_duplicates += ack["duplicates"].as_u64().unwrap_or(0);
    let refused_indexes: Vec<usize> = rejected.iter().filter_map(|item| item["index"].as_u64()).map(|index| index as usize).collect();
    let accounted = accepted + refused_indexes.len() == ids.len() && ack["rejected_more"].as_u64().unwrap_or(0) == 0;
    let at = started.elapsed().as_secs_f32().max(f32::MIN_POSITIVE);
    let mut again = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let taken = if accepted == ids.len() { true } else { accounted && !refused_indexes.contains(&index) };
        if !taken {
            again.push(*id);
        } else if !ledger.is_acked(*id) {
            ledger.acked_at[*id as usize] = at;
            ledger.acked += 1;
            counters.acked.fetch_add(1, Ordering::Relaxed);
        }
    }
    again
}

/// A JSON array of ticks, one per id.
fn write_frame(symbol: &str, ids: &[u64], out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    out.push('[');
    let now = Timestamp::now();
    for (position, id) in ids.iter().enumerate() {
        if position > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"id":"{symbol}/{id}","type":"tick","venue":"chaos","symbol":"{symbol}","time":"{now}","price":{}.25,"size":1,"side":"buy","trade_id":"{id}"}}"#,
            100 + id % 50
        );
    }
    out.push(']');
}
