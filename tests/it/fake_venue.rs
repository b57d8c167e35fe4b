//! A fake venue for the feed tests: a websocket server on loopback that plays one
//! script per incoming connection — answer a subscription request, send messages,
//! send garbage or an oversized frame, go silent, or drop the connection — and keeps
//! every message the client sent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone)]
pub enum Step {
    /// Wait for a client message containing the text, then answer with the reply,
    /// where `{id}` stands for the request's JSON `id` (Binance, OKX) or `req_id` (Bybit),
    /// written as JSON (a string keeps its quotes).
    Expect(&'static str, String),
    /// Send a text message.
    Send(String),
    /// Send a text message of this many bytes.
    SendLarge(usize),
    /// Pause.
    Sleep(Duration),
    /// Say nothing more, but keep the connection open.
    Silence,
    /// Close the TCP connection without a websocket close.
    Drop,
}

pub struct FakeVenue {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<String>>>,
    pub connections: Arc<AtomicUsize>,
}

impl FakeVenue {
    /// Connection `i` plays `scripts[i]`; later connections play the last script.
    pub async fn start(scripts: Vec<Vec<Step>>) -> FakeVenue {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (received_log, counter) = (received.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let script = scripts[index.min(scripts.len() - 1)].clone();
                let log = received_log.clone();
                tokio::spawn(async move {
                    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else { return };
                    play(socket, script, log).await;
                });
            }
        });
        FakeVenue { addr, received, connections }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

async fn play(mut socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, script: Vec<Step>, log: Arc<Mutex<Vec<String>>>) {
    for step in script {
        match step {
            Step::Expect(needle, reply) => loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        log.lock().unwrap().push(text.to_string());
                        if text.contains(needle) {
                            let id = serde_json::from_str::<serde_json::Value>(text.as_str())
                                .ok()
                                .and_then(|request| request.get("id").or_else(|| request.get("req_id")).cloned())
                                .map(|id| id.to_string())
                                .unwrap_or_default();
                            if socket.send(Message::text(reply.replace("{id}", &id))).await.is_err() {
                                return;
                            }
                            break;
                        }
                    }
                    Some(Ok(_)) => continue,
                    _ => return,
                }
            },
            Step::Send(text) => {
                if socket.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            Step::SendLarge(bytes) => {
                let _ = socket.send(Message::text("x".repeat(bytes))).await;
            }
            Step::Sleep(duration) => tokio::time::sleep(duration).await,
            Step::Silence => break,
            Step::Drop => return,
        }
    }
    // Keep the connection open (answering pings) until the client leaves.
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            log.lock().unwrap().push(text.to_string());
        }
    }
}
