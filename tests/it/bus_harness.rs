//! Processes and producers for the bus fault tests: `hypertick run` as edge or writer
//! child processes (logs appended across restarts), and producer lanes that push
//! frames to two edges in turn, moving to the other edge when one is gone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{self, array, tick_json};

/// A tick with an `id`, which makes a resend harmless.
pub fn tick_with_id(symbol: &str, trade_id: u64) -> String {
    tick_json(symbol, trade_id, 1.0).replacen('{', &format!(r#"{{"id":"bus/{trade_id}","#), 1)
}

/// What one class of records went through: sent, acked, refused by reason.
#[derive(Default)]
pub struct Ledger {
    pub sent: HashSet<u64>,
    pub acked: HashSet<u64>,
    /// Frames whose ack never came (the connection dropped or timed out).
    pub unacked_frames: u64,
    pub refused: HashMap<String, u64>,
}

impl Ledger {
    fn merge(&mut self, other: Ledger) {
        self.sent.extend(other.sent);
        self.acked.extend(other.acked);
        self.unacked_frames += other.unacked_frames;
        for (reason, count) in other.refused {
            *self.refused.entry(reason).or_default() += count;
        }
    }
}

/// Shared between the producer lanes and the fault schedule.
#[derive(Default)]
pub struct Progress {
    /// Records of either class acked so far.
    pub acked: AtomicU64,
    /// Lanes send no new frame while `acked` is at or above this (the schedule raises it
    /// once a fault and its restart are done, so every fault happens mid-stream).
    pub allowed: AtomicU64,
}

/// One frame of the plan: which ids, and whether they carry push `id`s (and are resent
/// until acked) or not (sent once).
pub struct Frame {
    pub ids: Vec<u64>,
    pub with_ids: bool,
}

pub fn symbol_of(trade_id: u64, with_ids: bool) -> String {
    if with_ids {
        format!("ID{}", trade_id % 4)
    } else {
        format!("NOID{}", trade_id % 2)
    }
}

/// A producer pushing `frames` to two edges in turn, one websocket per edge.
pub struct Lane {
    edges: [SocketAddr; 2],
    sockets: [Option<support::Socket>; 2],
    turn: usize,
}

impl Lane {
    pub fn new(edges: [SocketAddr; 2], first: usize) -> Lane {
        Lane { edges, sockets: [None, None], turn: first }
    }

    /// Sends every frame; frames with ids are resent (to whichever edge is up) until
    /// every record is acked. Returns (with ids, without ids).
    pub async fn run(mut self, frames: Vec<Frame>, progress: Arc<Progress>) -> (Ledger, Ledger) {
        let (mut with_ids, mut without_ids) = (Ledger::default(), Ledger::default());
        let mut queue: VecDeque<Frame> = frames.into();
        while let Some(frame) = queue.pop_front() {
            while progress.acked.load(Ordering::Relaxed) >= progress.allowed.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let ledger = if frame.with_ids { &mut with_ids } else { &mut without_ids };
            ledger.sent.extend(&frame.ids);
            let body = array(&frame.ids.iter().map(|id| render(*id, frame.with_ids)).collect::<Vec<_>>());
            match self.send(body).await {
                Some(ack) => {
                    for item in ack["rejected"].as_array().into_iter().flatten() {
                        let reason = item["reason"].as_str().unwrap_or("").split(':').next().unwrap_or("").to_string();
                        *ledger.refused.entry(reason).or_default() += 1;
                    }
                    // Refusals past the listed ones come without reasons.
                    if let Some(more) = ack["rejected_more"].as_u64().filter(|more| *more > 0) {
                        *ledger.refused.entry("(past the listed)".to_string()).or_default() += more;
                    }
                    let rejected = support::refused_indexes(&ack);
                    let accepted: Vec<u64> =
                        frame.ids.iter().enumerate().filter(|(index, _)| !rejected.contains(index)).map(|(_, id)| *id).collect();
                    progress.acked.fetch_add(accepted.len() as u64, Ordering::Relaxed);
                    ledger.acked.extend(&accepted);
                    let refused: Vec<u64> =
                        frame.ids.iter().enumerate().filter(|(index, _)| rejected.contains(index)).map(|(_, id)| *id).collect();
                    if frame.with_ids && !refused.is_empty() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        queue.push_back(Frame { ids: refused, with_ids: true });
                    }
                }
                None => {
                    ledger.unacked_frames += 1;
                    if frame.with_ids {
                        // Resent first, on the next connection that works.
                        queue.push_front(frame);
                    }
                }
            }
        }
        for socket in self.sockets.iter_mut().flatten() {
            let _ = socket.close(None).await;
        }
        (with_ids, without_ids)
    }

    /// Sends one frame to the edge whose turn it is (the other one if it cannot be
    /// reached); the ack, or `None` if the connection dropped before it came.
    async fn send(&mut self, body: String) -> Option<serde_json::Value> {
        self.turn = (self.turn + 1) % 2;
        let mut edge = self.turn;
        if self.sockets[edge].is_none() {
            self.sockets[edge] = connect(self.edges[edge]).await;
        }
        if self.sockets[edge].is_none() {
            edge = 1 - edge;
            if self.sockets[edge].is_none() {
                self.sockets[edge] = connect(self.edges[edge]).await;
            }
        }
        let Some(socket) = self.sockets[edge].as_mut() else {
            // Neither edge is up at this instant (one is restarting): try again shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return None;
        };
        let ack = match socket.send(Message::text(body)).await {
            Ok(()) => tokio::time::timeout(Duration::from_secs(30), read_ack(socket)).await.ok().flatten(),
            Err(_) => None,
        };
        if ack.is_none() {
            self.sockets[edge] = None;
        }
        ack
    }
}

fn render(trade_id: u64, with_ids: bool) -> String {
    let symbol = symbol_of(trade_id, with_ids);
    if with_ids {
        tick_with_id(&symbol, trade_id)
    } else {
        tick_json(&symbol, trade_id, 1.0)
    }
}

async fn connect(edge: SocketAddr) -> Option<support::Socket> {
    let attempt = tokio_tungstenite::connect_async(format!("ws://{edge}"));
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok((socket, _))) => Some(socket),
        _ => None,
    }
}

async fn read_ack(socket: &mut support::Socket) -> Option<serde_json::Value> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            _ => return None,
        }
    }
}

/// Both lanes' ledgers together.
pub fn merged(parts: Vec<(Ledger, Ledger)>) -> (Ledger, Ledger) {
    let (mut with_ids, mut without_ids) = (Ledger::default(), Ledger::default());
    for (ids, no_ids) in parts {
        with_ids.merge(ids);
        without_ids.merge(no_ids);
    }
    (with_ids, without_ids)
}

/// What the table holds of one class, against its ledger.
pub struct Reckoning {
    pub sent: usize,
    pub acked: usize,
    pub present: usize,
    pub duplicated: usize,
    /// Acked and not in the table.
    pub lost: usize,
}

pub async fn reckon(client: &tokio_postgres::Client, pattern: &str, ledger: &Ledger, what: &str) -> Reckoning {
    let rows = client
        .query("SELECT trade_id::bigint, count(*) FROM ticks WHERE symbol LIKE $1 GROUP BY trade_id", &[&pattern])
        .await
        .expect("count the ticks by trade id");
    let present: HashMap<i64, i64> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let reckoning = Reckoning {
        sent: ledger.sent.len(),
        acked: ledger.acked.len(),
        present: present.len(),
        duplicated: present.values().filter(|copies| **copies > 1).count(),
        lost: ledger.acked.iter().filter(|id| !present.contains_key(&(**id as i64))).count(),
    };
    println!(
        "{what}: sent {} / acked {} / present {} / duplicated {} / lost {} (frames without an ack: {}, refused: {:?})",
        reckoning.sent, reckoning.acked, reckoning.present, reckoning.duplicated, reckoning.lost, ledger.unacked_frames, ledger.refused
    );
    reckoning
}

/// Polls the row count of `symbol LIKE 'ID%' OR 'NOID%'` until every acked record with
/// an id is present and the count has not moved for `quiet`, or `limit` passes.
/// Returns whether it settled.
pub async fn wait_until_settled(client: &tokio_postgres::Client, acked_with_ids: usize, quiet: Duration, limit: Duration) -> bool {
    let began = Instant::now();
    let mut last = (-1, Instant::now());
    loop {
        let row = client
            .query_one(
                "SELECT count(*), count(DISTINCT trade_id) FILTER (WHERE symbol LIKE 'ID%') FROM ticks \
                 WHERE symbol LIKE 'ID%' OR symbol LIKE 'NOID%'",
                &[],
            )
            .await
            .expect("count the ticks");
        let (rows, with_ids): (i64, i64) = (row.get(0), row.get(1));
        if rows != last.0 {
            last = (rows, Instant::now());
        }
        if with_ids as usize >= acked_with_ids && last.1.elapsed() >= quiet {
            return true;
        }
        if began.elapsed() > limit {
            println!("not settled after {} s: {rows} rows, {with_ids} of {acked_with_ids} acked ids present", limit.as_secs());
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
