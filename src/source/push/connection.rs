//! One producer connection: it reads a frame, parses it, routes the records,
//! dead-letters what it rejects, and answers with one ack frame, in frame order. While
//! a frame's ack waits for the spool's fsync or the commit, the next frames are read,
//! up to `server.acks_in_flight` frames and `server.acks_in_flight_bytes` bytes of
//! acks owed; past either, and whenever a lane is full or the client does not read its
//! acks, the connection is not read. Frames over a rate limit are refused in the ack
//! (dead-lettered as a sample at most once a second per connection);
//! a frame that cannot be read (invalid UTF-8, far too large) closes the connection
//! with 1007 or 1009.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::admission::Producer;
use super::frame::Frame;
use super::letters::{FrameRefusals, RateLimitSamples};
use super::protocol::Ack;
use super::rate::TokenBucket;
use super::settings::{PushSettings, HARD_LIMIT_FACTOR};
use super::SOURCE_NAME;
use crate::config::AckLevel;
use crate::metrics::events;
use crate::pipeline::{Receipt, Router, SpoolGate, TickRun};
use crate::record::{DeadLetter, FeedEvent, Record, RejectReason, Rejection, Tick, Timestamp};
use crate::source::SourceContext;

/// At a stop, or before closing a connection for an unreadable frame, the acks owed
/// are sent for at most this long (a client that does not read gets none).
const ACK_DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// After a close frame for an unreadable frame, what the client still sends is read and
/// discarded for this long and up to `MAX_DISCARD_BYTES`, so that the close frame is not
/// lost to a TCP reset caused by unread bytes.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
const MAX_DISCARD_BYTES: usize = 64 << 20;

/// One producer connection: frames in, acks out, in frame order.
pub(super) async fn serve_connection<Stream>(
    mut socket: WebSocketStream<Stream>,
    peer: SocketAddr,
    settings: Arc<PushSettings>,
    context: SourceContext,
    producer: Producer,
) where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    events::push_connection(true, peer);
    feed_event(&context.router, "connected", json!({ "peer": peer.to_string() })).await;

    let mut frames = 0u64;
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    let mut rate_limited = 0u64;
    let mut bucket = TokenBucket::new(settings.max_messages_per_sec, Instant::now());
    let mut rate_samples = RateLimitSamples::default();
    let mut close_reason = "client closed";
    // Acks owed, in frame order, each ready once its frame reached the ack level, with
    // the bytes it counts against `acks_in_flight_bytes`.
    let mut owed = FuturesOrdered::new();
    let mut owed_bytes = 0usize;
    loop {
        let readable = owed.len() < settings.acks_in_flight && owed_bytes < settings.acks_in_flight_bytes;
        let message = tokio::select! {
            biased;
            _ = context.shutdown.cancelled() => {
                close_reason = "daemon stopping";
                // The frames already routed are acknowledged before the close: their
                // records are queued, and the writers drain them before the stop ends.
                send_owed(&mut socket, &mut owed).await;
                let close = CloseFrame { code: CloseCode::Away, reason: "hypertick is stopping".into() };
                let _ = tokio::time::timeout(ACK_DRAIN_LIMIT, socket.send(Message::Close(Some(close)))).await;
                break;
            }
            Some((ack, bytes)) = owed.next(), if !owed.is_empty() => {
                owed_bytes = owed_bytes.saturating_sub(bytes);
                // A client that does not read blocks this send; the stop must not wait for it.
                let sent = tokio::select! {
                    _ = context.shutdown.cancelled() => {
                        close_reason = "daemon stopping";
                        break;
                    }
                    sent = send_ack(&mut socket, &ack) => sent,
                };
                if let Err(error) = sent {
                    tracing::debug!(source = SOURCE_NAME, %peer, %error, "could not send ack");
                    close_reason = "send failed";
                    break;
                }
                continue;
            }
            message = socket.next(), if readable => message,
        };
        let message = match message {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                close_reason = match unreadable(&error, &settings) {
                    Some((code, reason, detail)) => {
                        send_owed(&mut socket, &mut owed).await;
                        close_unreadable(&mut socket, peer, &context.router, code, reason, detail).await;
                        reason
                    }
                    None => {
                        tracing::debug!(source = SOURCE_NAME, %peer, %error, "connection error");
                        "protocol error"
                    }
                };
                break;
            }
        };
        let (ack, receipts) = match over_rate(&mut bucket, &producer, Instant::now()) {
            Some(scope) => {
                rate_limited += 1;
                events::push_rate_limited(peer, scope);
                let detail = match scope {
                    "connection" => format!(
                        "more than {} frames per second on this connection (server.max_messages_per_sec)",
                        settings.max_messages_per_sec
                    ),
                    _ => format!(
                        "more than {} frames per second from this client across its connections (server.max_messages_per_sec_per_token)",
                        settings.max_messages_per_sec_per_token
                    ),
                };
                let rejection = Rejection::new(RejectReason::RateLimited, detail);
                (reject_rate_limited(&context.router, &mut rate_samples, &rejection, &message).await, Vec::new())
            }
            None => match message {
                Message::Text(text) => handle_text(text.as_str(), &settings, &context.router).await,
                binary => {
                    let rejection = Rejection::new(RejectReason::BinaryFrame, "send JSON as websocket text frames");
                    (reject_frame(&context.router, &rejection, &String::from_utf8_lossy(&binary.into_data())).await, Vec::new())
                }
            },
        };
        frames += 1;
        accepted += ack.accepted as u64;
        rejected += ack.rejected_total() as u64;
        let bytes = ack.estimated_bytes().saturating_add(receipts.len().saturating_mul(std::mem::size_of::<Receipt>()));
        owed_bytes = owed_bytes.saturating_add(bytes);
        let (level, gate) = (settings.ack, context.router.spool().cloned());
        owed.push_back(async move {
            let mut ack = ack;
            wait_for_ack_level(level, gate.as_deref(), &receipts).await;
            if level == AckLevel::Committed {
                refused_by_database(gate.as_deref(), &receipts, &mut ack);
            }
            (ack, bytes)
        });
    }
    events::push_connection(false, peer);
    feed_event(
        &context.router,
        "disconnected",
        json!({
            "peer": peer.to_string(), "reason": close_reason, "frames": frames, "accepted": accepted, "rejected": rejected,
            "rate_limited": rate_limited,
        }),
    )
    .await;
}

/// The frame rate limit a frame goes over, if any: `connection` or `token` (the
/// client's, shared by its connections).
fn over_rate(connection: &mut Option<TokenBucket>, producer: &Producer, now: Instant) -> Option<&'static str> {
    if connection.as_mut().is_some_and(|bucket| !bucket.try_take(now)) {
        return Some("connection");
    }
    if !producer.try_take_frame(now) {
        return Some("token");
    }
    None
}

/// Sends the acks owed, in order, as they become ready, for at most `ACK_DRAIN_LIMIT`.
async fn send_owed<Stream, Owed>(socket: &mut WebSocketStream<Stream>, owed: &mut FuturesOrdered<Owed>)
where
    Stream: AsyncRead + AsyncWrite + Unpin,
    Owed: std::future::Future<Output = (Ack, usize)>,
{
    let _ = tokio::time::timeout(ACK_DRAIN_LIMIT, async {
        while let Some((ack, _)) = owed.next().await {
            if send_ack(socket, &ack).await.is_err() {
                break;
            }
        }
    })
    .await;
}

/// The close code, reason code and explanation for a read error caused by the frame
/// itself; `None` for the connection's own faults.
fn unreadable(error: &WsError, settings: &PushSettings) -> Option<(CloseCode, &'static str, String)> {
    match error {
        WsError::Utf8(_) => Some((CloseCode::Invalid, "invalid_utf8", "a text frame is not valid UTF-8".to_string())),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => Some((
            CloseCode::Size,
            "frame_too_large",
            format!(
                "a frame of {size} bytes or more is over {max_size} bytes ({HARD_LIMIT_FACTOR}x server.max_frame_bytes = {})",
                settings.max_frame_bytes
            ),
        )),
        _ => None,
    }
}

/// Closes the connection for a frame that cannot be read, with `code` and the
/// explanation: counted, dead-lettered (without its content, which was not read), and
/// what the client still sends is discarded for a moment so that the close frame
/// reaches it.
async fn close_unreadable<Stream>(
    socket: &mut WebSocketStream<Stream>,
    peer: SocketAddr,
    router: &Router,
    code: CloseCode,
    reason: &'static str,
    detail: String,
) where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    events::push_protocol_close(peer, u16::from(code), reason);
    events::source_frame(SOURCE_NAME, 0);
    events::parse_errors(SOURCE_NAME, 1);
    router.dead_letter(DeadLetter::new(SOURCE_NAME, reason, format!("{detail}; the connection was closed"), "")).await;
    // A close frame's reason is at most 123 bytes.
    let mut close_text = detail;
    while close_text.len() > 123 {
        close_text.pop();
    }
    let close = CloseFrame { code, reason: close_text.into() };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if socket.send(Message::Close(Some(close))).await.is_err() {
            return;
        }
        let stream = socket.get_mut();
        let _ = stream.shutdown().await;
        let mut discard = vec![0u8; 16 * 1024];
        let mut discarded = 0usize;
        while discarded < MAX_DISCARD_BYTES {
            match stream.read(&mut discard).await {
                Ok(0) | Err(_) => break,
                Ok(read) => discarded += read,
            }
        }
    })
    .await;
}

async fn send_ack<Stream>(socket: &mut WebSocketStream<Stream>, ack: &Ack) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    Stream: AsyncRead + AsyncWrite + Unpin,
{
    let reply = serde_json::to_string(ack).unwrap_or_else(|_| "{}".into());
    socket.send(Message::text(reply)).await
}

async fn feed_event(router: &Router, kind: &'static str, detail: serde_json::Value) {
    let now = Timestamp::now();
    router.feed_event(FeedEvent { time: now, received_at: now, source: SOURCE_NAME.to_string(), kind, detail }).await;
}

/// Parses and routes one text frame: its ack, and the receipts of the records it
/// holds back until they reach the ack level.
async fn handle_text(text: &str, settings: &PushSettings, router: &Router) -> (Ack, Vec<Receipt>) {
    if text.len() > settings.max_frame_bytes {
        let rejection = Rejection::new(
            RejectReason::FrameTooLarge,
            format!("the frame is {} bytes; the limit is {} (server.max_frame_bytes)", text.len(), settings.max_frame_bytes),
        );
        return (reject_frame(router, &rejection, text).await, Vec::new());
    }
    let received_at = Timestamp::now();
    let mut elements = match Frame::open(text) {
        Ok(elements) => elements,
        Err(rejection) => return (reject_frame(router, &rejection, text).await, Vec::new()),
    };
    let element_count = elements.len();
    let mut tally = FrameTally::default();
    let mut parse_errors = 0;
    // Ticks that may travel together are gathered into runs (see `Router::try_queue_ticks`);
    // a run is queued before anything else of the frame, so the frame keeps its order.
    let mut run = TickRun::with_capacity(element_count.min(RUN_ROWS));
    let mut run_indexes: Vec<usize> = Vec::with_capacity(element_count.min(RUN_ROWS));
    for index in 0..element_count {
        // Parsed one at a time: a frame's records are never all held at once. A plain
        // tick (the commonest element) is read as itself: as a `Record` it would be
        // three times its size to move.
        let (parsed, id) = match elements.plain_tick(index, received_at) {
            Some((tick, id)) if router.runs_ticks(id.as_deref()) => (Ok(Element::Tick(tick)), id),
            Some((tick, id)) => (Ok(Element::Record(Box::new(Record::Tick(tick)))), id),
            None => match elements.parse_general(index, received_at) {
                (Ok(Record::Tick(tick)), id) if router.runs_ticks(id.as_deref()) => (Ok(Element::Tick(tick)), id),
                (parsed, id) => (parsed.map(|record| Element::Record(Box::new(record))), id),
            },
        };
        let outcome = match parsed {
            Ok(Element::Tick(tick)) => match router.check_tick(&tick, received_at) {
                Ok(()) => {
                    run.push(tick);
                    run_indexes.push(index);
                    if run.len() == RUN_ROWS {
                        let next = TickRun::with_capacity((element_count - index - 1).min(RUN_ROWS));
                        queue_run(router, std::mem::replace(&mut run, next), &mut run_indexes, received_at, &mut tally, &mut elements)
                            .await;
                    }
                    continue;
                }
                Err(rejection) => Err(rejection),
            },
            Ok(Element::Record(record)) => {
                let record = *record;
                // A run is queued before anything else of the frame, so the lane keeps its order.
                queue_run(router, std::mem::take(&mut run), &mut run_indexes, received_at, &mut tally, &mut elements).await;
                match router.try_route_now(record, received_at, id.as_deref()) {
                    Ok(routed) => routed,
                    Err(record) => router.route_with_id(record, received_at, id.as_deref()).await,
                }
            }
            Err(rejection) => {
                parse_errors += 1;
                Err(rejection)
            }
        };
        // What came before is tallied first: an ack lists its refusals in frame order.
        queue_run(router, std::mem::take(&mut run), &mut run_indexes, received_at, &mut tally, &mut elements).await;
        tally.add(index, outcome, &mut elements);
    }
    queue_run(router, run, &mut run_indexes, received_at, &mut tally, &mut elements).await;
    let FrameTally { ack, receipts, refusals } = tally;
    // A few refused elements are kept one by one, more as one letter for the frame.
    for letter in refusals.into_letters(SOURCE_NAME, text, element_count) {
        router.dead_letter(letter).await;
    }
    events::source_frame(SOURCE_NAME, element_count);
    if parse_errors > 0 {
        events::parse_errors(SOURCE_NAME, parse_errors);
    }
    (ack, receipts)
}

/// An element read: a tick that may join the frame's run, or any other record (boxed,
/// so that an element is a tick's size to move).
enum Element {
    Tick(Tick),
    Record(Box<Record>),
}

/// Ticks of one frame queued together at most: a frame's records are never all held
/// at once, and a run is one slot of the ticks lane.
const RUN_ROWS: usize = 256;

/// What a frame's records came to so far.
#[derive(Default)]
struct FrameTally {
    ack: Ack,
    receipts: Vec<Receipt>,
    refusals: FrameRefusals,
}

impl FrameTally {
    fn add(&mut self, index: usize, outcome: Result<Receipt, Rejection>, elements: &mut Frame<'_>) {
        match outcome {
            Ok(receipt) if receipt.duplicate => {
                self.ack.accepted += 1;
                self.ack.duplicates += 1;
            }
            Ok(mut receipt) => {
                self.ack.accepted += 1;
                receipt.index = u32::try_from(index).unwrap_or(u32::MAX);
                self.receipts.push(receipt);
            }
            Err(rejection) => {
                self.ack.reject(index, &rejection);
                // A full queue or spool is the producer's to retry, not bad input to keep.
                if !rejection.code.is_backpressure() {
                    self.refusals.add(SOURCE_NAME, index, &rejection, elements.raw(index));
                }
            }
        }
    }
}

/// Queues a run of the frame's ticks (their elements' indexes in `indexes`, emptied
/// here). When the lane has no room for all of them, each tick takes the router's
/// usual way, which applies the lane's full policy: it waits, or is refused alone.
async fn queue_run(
    router: &Router,
    run: TickRun,
    indexes: &mut Vec<usize>,
    received_at: Timestamp,
    tally: &mut FrameTally,
    elements: &mut Frame<'_>,
) {
    if run.is_empty() {
        return;
    }
    match router.try_queue_ticks(run) {
        Ok(()) => {
            for &index in indexes.iter() {
                tally.add(index, Ok(Receipt::default()), elements);
            }
        }
        Err(run) => {
            for (tick, &index) in run.into_ticks().zip(indexes.iter()) {
                let outcome = router.route(Record::Tick(tick), received_at).await;
                tally.add(index, outcome, elements);
            }
        }
    }
    indexes.clear();
}

/// With `ack = "committed"`: the records the database refused (dead-lettered in their
/// batch's transaction) move from `accepted` to `rejected`, with the database's reason.
fn refused_by_database(gate: Option<&SpoolGate>, receipts: &[Receipt], ack: &mut Ack) {
    let Some(gate) = gate else { return };
    for receipt in receipts.iter().filter(|receipt| receipt.sequence > 0) {
        if let Some(reason) = gate.progress.take_refusal(receipt.stream, receipt.sequence) {
            ack.accepted = ack.accepted.saturating_sub(1);
            ack.reject(receipt.index as usize, &Rejection::new(RejectReason::RejectedByDatabase, reason));
        }
    }
}

/// Holds the ack back until the accepted records reach the configured level.
async fn wait_for_ack_level(level: AckLevel, gate: Option<&SpoolGate>, receipts: &[Receipt]) {
    let Some(gate) = gate else { return };
    match level {
        AckLevel::Received => {}
        AckLevel::Durable => {
            if let Some(last) = receipts.iter().map(|receipt| receipt.position).max() {
                gate.progress.spool().wait_durable(last).await;
            }
        }
        AckLevel::Committed => {
            let spooled: Vec<(u16, u64)> =
                receipts.iter().filter(|receipt| receipt.sequence > 0).map(|receipt| (receipt.stream, receipt.sequence)).collect();
            gate.progress.wait_committed(&spooled).await;
        }
    }
}

/// A frame over the rate: refused in the ack and counted; kept as a dead letter (cut to
/// `DeadLetter::MAX_RAW_BYTES`) at most once a second per connection, with the count of
/// frames refused since the previous one.
async fn reject_rate_limited(router: &Router, samples: &mut RateLimitSamples, rejection: &Rejection, message: &Message) -> Ack {
    events::source_frame(SOURCE_NAME, 0);
    if let Some(refused) = samples.refused(Instant::now()) {
        let data = match message {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes.as_ref(),
            _ => &[],
        };
        let sample = String::from_utf8_lossy(&data[..data.len().min(DeadLetter::MAX_RAW_BYTES)]);
        let detail = format!(
            "{}; {refused} frames refused on this connection since the last sample (one kept per second); this one is {} bytes",
            rejection.detail,
            data.len()
        );
        router.dead_letter(DeadLetter::new(SOURCE_NAME, rejection.code.as_str(), detail, &sample)).await;
    }
    let mut ack = Ack::default();
    ack.reject(0, rejection);
    ack
}

async fn reject_frame(router: &Router, rejection: &Rejection, raw: &str) -> Ack {
    events::source_frame(SOURCE_NAME, 0);
    events::parse_errors(SOURCE_NAME, 1);
    router.dead_letter(DeadLetter::new(SOURCE_NAME, rejection.code.as_str(), rejection.detail.clone(), raw)).await;
    let mut ack = Ack::default();
    ack.reject(0, rejection);
    ack
}
