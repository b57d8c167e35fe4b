//! The REST side of the fake venue: an HTTP/1.1 server on loopback (hyper) answering
//! every request with the next of a scripted list of replies (the last one repeats),
//! and keeping each request's path and query.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after_s: Option<u64>,
    pub body: String,
}

impl Reply {
    pub fn ok(body: String) -> Reply {
        Reply { status: 200, retry_after_s: None, body }
    }

    /// Binance's answer past its request weight limit.
    pub fn too_many_requests(retry_after_s: u64) -> Reply {
        Reply {
            status: 429,
            retry_after_s: Some(retry_after_s),
            body: r#"{"code":-1003,"msg":"Too many requests; current limit is 6000 request weight per 1 MINUTE."}"#.into(),
        }
    }
}

pub struct FakeRest {
    pub addr: SocketAddr,
    /// Path and query of every request, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRest {
    pub async fn start(replies: Vec<Reply>) -> FakeRest {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (queue, log) = (queue.clone(), log.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let target = request.uri().path_and_query().map_or("/".into(), |target| target.to_string());
                        log.lock().unwrap().push(target);
                        let reply = {
                            let mut queue = queue.lock().unwrap();
                            if queue.len() > 1 {
                                queue.pop_front().unwrap()
                            } else {
                                queue.front().cloned().unwrap()
                            }
                        };
                        let mut response = Response::builder().status(reply.status).header("content-type", "application/json");
                        if let Some(seconds) = reply.retry_after_s {
                            response = response.header("retry-after", seconds.to_string());
                        }
                        let response = response.body(Full::new(Bytes::from(reply.body))).unwrap();
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        FakeRest { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
