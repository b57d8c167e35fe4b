//! The hostile inputs of the chaos soak, sent in rotation from connections of their
//! own while the valid producers run: each is sent, its answer (ack, close code, closed
//! sockets) compared with what the daemon should do, and the outcome counted. A
//! connection that fails because a fault is active counts as "unreachable", not as
//! a wrong answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::record::Timestamp;

/// The daemon's limits the hostile inputs are aimed at (as in the soak's configuration).
pub struct Limits {
    pub max_frame_bytes: usize,
    pub signals_max_record_bytes: usize,
    pub handshake_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Zeros,
    InvalidJson,
    RecordOverCap,
    InvalidUtf8,
    FrameOverLimit,
    FrameFarOverLimit,
    PoisonRow,
    RateBurst,
    IdleSockets,
    NanStrings,
}

const ROTATION: [Kind; 10] = [
    Kind::Zeros,
    Kind::InvalidJson,
    Kind::RecordOverCap,
    Kind::InvalidUtf8,
    Kind::FrameOverLimit,
    Kind::FrameFarOverLimit,
    Kind::PoisonRow,
    Kind::RateBurst,
    Kind::IdleSockets,
    Kind::NanStrings,
];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Zeros => "1 MiB frame [0,0,…] (ack refuses every element)",
            Kind::InvalidJson => "invalid JSON (refused in the ack)",
            Kind::RecordOverCap => "signal over max_record_bytes (record_too_large)",
            Kind::InvalidUtf8 => "text frame with invalid UTF-8 (close 1007)",
            Kind::FrameOverLimit => "frame over max_frame_bytes (frame_too_large in the ack)",
            Kind::FrameFarOverLimit => "frame over 4 × max_frame_bytes (close 1009)",
            Kind::PoisonRow => "orders row, client_order_id of 3,000 random characters (accepted; 54000 at the database)",
            Kind::RateBurst => "400 frames at once over max_messages_per_sec (rate_limited)",
            Kind::IdleSockets => "100 idle TCP sockets (all closed by the server)",
            Kind::NanStrings => "\"NaN\" tick price and order limit_price (nan_or_infinite)",
        }
    }
}

/// How often one hostile input was sent and what came of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostileOutcome {
    pub sent: u64,
    pub as_expected: u64,
    pub unexpected: u64,
    /// The daemon could not be reached or went away mid-way (a fault was active).
    pub unreachable: u64,
    /// The last answer, briefly.
    pub last_answer: String,
}

/// Sends one hostile input every `every` until `stop`; the outcomes by input.
pub async fn hostile(push: SocketAddr, limits: Limits, every: Duration, stop: CancellationToken) -> BTreeMap<String, HostileOutcome> {
    let mut outcomes: BTreeMap<String, HostileOutcome> = BTreeMap::new();
    for kind in ROTATION.iter().cycle() {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        let result = tokio::time::timeout(Duration::from_secs(30), send(*kind, push, &limits)).await;
        let outcome = outcomes.entry(kind.label().to_string()).or_default();
        outcome.sent += 1;
        match result {
            Ok(Ok((true, answer))) => {
                outcome.as_expected += 1;
                outcome.last_answer = answer;
            }
            Ok(Ok((false, answer))) => {
                outcome.unexpected += 1;
                outcome.last_answer = format!("UNEXPECTED: {answer}");
            }
            Ok(Err(_)) | Err(_) => outcome.unreachable += 1,
        }
    }
    outcomes
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one input; (as expected, the answer in brief), or an error when the daemon
/// could not be reached.
async fn send(kind: Kind, push: SocketAddr, limits: &Limits) -> anyhow::Result<(bool, String)> {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{push}")).await?;
    match kind {
        Kind::Zeros => {
            let ack = exchange(&mut socket, Message::text(format!("[{}0]", "0,".repeat((1 << 19) - 2)))).await?;
            let expected = ack["accepted"] == 0 && ack["rejected_more"].as_u64().unwrap_or(0) > 500_000;
            Ok((expected, brief(&ack)))
        }
        Kind::InvalidJson => {
            let ack = exchange(&mut socket, Message::text(r#"[{"type":"tick","venue":"x","#)).await?;
            Ok((ack["accepted"] == 0 && ack["rejected"].as_array().is_some_and(|list| !list.is_empty()), brief(&ack)))
        }
        Kind::RecordOverCap => {
            let content = "x".repeat(limits.signals_max_record_bytes + 10_000);
            let signal =
                format!(r#"{{"type":"signal","source":"chaos","time":"{}","category":"bulk","content":"{content}"}}"#, Timestamp::now());
            let ack = exchange(&mut socket, Message::text(signal)).await?;
            Ok((first_reason(&ack).starts_with("record_too_large"), brief(&ack)))
        }
        Kind::InvalidUtf8 => {
            let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
            socket.send(Message::Frame(frame)).await?;
            let (code, reason) = close_frame(&mut socket).await?;
            Ok((code == CloseCode::Invalid, format!("close {} {reason}", u16::from(code))))
        }
        Kind::FrameOverLimit => {
            let ack = exchange(&mut socket, Message::text(format!("\"{}\"", "y".repeat(limits.max_frame_bytes * 2)))).await?;
            Ok((first_reason(&ack).starts_with("frame_too_large"), brief(&ack)))
        }
        Kind::FrameFarOverLimit => {
            socket.send(Message::text(format!("\"{}\"", "z".repeat(limits.max_frame_bytes * 4 + 4096)))).await?;
            let (code, reason) = close_frame(&mut socket).await?;
            Ok((code == CloseCode::Size, format!("close {} {reason}", u16::from(code))))
        }
        Kind::PoisonRow => {
            let ack = exchange(&mut socket, Message::text(order(&incompressible(3_000), "187.50"))).await?;
            Ok((ack["accepted"] == 1, brief(&ack)))
        }
        Kind::NanStrings => {
            let tick =
                format!(r#"{{"type":"tick","venue":"chaos","symbol":"HOSTILE-NAN","time":"{}","price":"NaN","size":1}}"#, Timestamp::now());
            let frame = format!("[{tick},{}]", order("chaos-nan", "NaN"));
            let ack = exchange(&mut socket, Message::text(frame)).await?;
            let reasons: Vec<&str> = ack["rejected"].as_array().into_iter().flatten().filter_map(|item| item["reason"].as_str()).collect();
            Ok((
                ack["accepted"] == 0 && reasons.len() == 2 && reasons.iter().all(|reason| reason.starts_with("nan_or_infinite")),
                brief(&ack),
            ))
        }
        Kind::RateBurst => rate_burst(socket).await,
        Kind::IdleSockets => {
            drop(socket);
            idle_sockets(push, limits.handshake_timeout).await
        }
    }
}

/// Sends one frame and reads its ack.
async fn exchange(socket: &mut Socket, message: Message) -> anyhow::Result<serde_json::Value> {
    socket.send(message).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str())?),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => anyhow::bail!("no ack: {other:?}"),
        }
    }
}

/// The close frame the server ends the connection with.
async fn close_frame(socket: &mut Socket) -> anyhow::Result<(CloseCode, String)> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Close(Some(frame)))) => return Ok((frame.code, frame.reason.to_string())),
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
            other => anyhow::bail!("no close frame: {other:?}"),
        }
    }
}

/// 400 small frames sent at once (a reader counts the acks alongside).
async fn rate_burst(socket: Socket) -> anyhow::Result<(bool, String)> {
    const FRAMES: usize = 400;
    let (mut sender, mut receiver) = socket.split();
    let reader = tokio::spawn(async move {
        let (mut acks, mut limited) = (0usize, 0usize);
        while acks < FRAMES {
            match receiver.next().await {
                Some(Ok(Message::Text(text))) => {
                    acks += 1;
                    limited += usize::from(text.as_str().contains("rate_limited"));
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        (acks, limited)
    });
    let frame = format!(r#"{{"type":"tick","venue":"chaos","symbol":"HOSTILE-RATE","time":"{}","price":1,"size":1}}"#, Timestamp::now());
    for _ in 0..FRAMES {
        sender.feed(Message::text(frame.as_str())).await?;
    }
    sender.flush().await?;
    let (acks, limited) = reader.await?;
    if acks < FRAMES {
        anyhow::bail!("the connection ended after {acks} acks");
    }
    Ok((limited > 0, format!("{acks} acks, {limited} rate_limited")))
}

/// 100 TCP sockets that never start a handshake; how many the server closed in time.
async fn idle_sockets(push: SocketAddr, handshake_timeout: Duration) -> anyhow::Result<(bool, String)> {
    const SOCKETS: usize = 100;
    let mut sockets = Vec::new();
    for _ in 0..SOCKETS {
        sockets.push(tokio::net::TcpStream::connect(push).await?);
    }
    let deadline = tokio::time::Instant::now() + handshake_timeout + Duration::from_secs(5);
    let mut closed = 0;
    for socket in &mut sockets {
        let mut buffer = [0u8; 256];
        loop {
            match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    Ok((closed == SOCKETS, format!("{closed} of {SOCKETS} closed by the server")))
}

fn first_reason(ack: &serde_json::Value) -> &str {
    ack["rejected"][0]["reason"].as_str().unwrap_or("")
}

/// An ack cut to 160 characters.
fn brief(ack: &serde_json::Value) -> String {
    ack.to_string().chars().take(160).collect()
}

fn order(client_order_id: &str, limit_price: &str) -> String {
    format!(
        r#"{{"type":"row","table":"orders","op":"insert","row":{{"client_order_id":"{client_order_id}","venue":"chaos","symbol":"AAPL","side":"buy","order_type":"limit","quantity":100,"limit_price":"{limit_price}"}}}}"#
    )
}

/// Characters that do not compress, so the index entry stays over btree's 2,704 bytes.
fn incompressible(length: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..length).map(|_| alphabet[fastrand::usize(..alphabet.len())] as char).collect()
}
