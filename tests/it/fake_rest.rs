//! The REST side of the fake venue: an HTTP/1.1 server on loopback (hyper) answering
//! requests with scripted replies, and keeping each request's path and query (and, for a
//! POST, its body).
//!
//! [`FakeRest::start`] answers every request with the next of one list (the last one
//! repeats); [`FakeRest::routed`] keeps one such list per path prefix (the longest
//! matching prefix answers; a request no prefix matches gets a 404). A [`Reply::hang`]
//! never answers, for timeouts.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after_s: Option<u64>,
    pub body: String,
    /// Never answer (the client's timeout ends the request).
    pub hang: bool,
}

impl Reply {
    pub fn ok(body: String) -> Reply {
        Reply { status: 200, retry_after_s: None, body, hang: false }
    }

    /// Binance's answer past its request weight limit.
    pub fn too_many_requests(retry_after_s: u64) -> Reply {
        Reply {
            status: 429,
            retry_after_s: Some(retry_after_s),
            body: r#"{"code":-1003,"msg":"Too many requests; current limit is 6000 request weight per 1 MINUTE."}"#.into(),
            hang: false,
        }
    }

    /// No answer at all.
    pub fn hang() -> Reply {
        Reply { status: 200, retry_after_s: None, body: String::new(), hang: true }
    }
}

/// The replies of one path prefix.
type Route = (String, Arc<Mutex<VecDeque<Reply>>>);

pub struct FakeRest {
    pub addr: SocketAddr,
    /// Path and query of every request, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Every POST's (path and query, body), in order.
    pub posts: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeRest {
    /// Every request gets the next of `replies`.
    pub async fn start(replies: Vec<Reply>) -> FakeRest {
        FakeRest::routed(vec![("/", replies)]).await
    }

    /// Requests whose path starts with a route's prefix get the next of its replies.
    pub async fn routed(routes: Vec<(&str, Vec<Reply>)>) -> FakeRest {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let posts = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Vec<Route>> = Arc::new(
            routes.into_iter().map(|(prefix, replies)| (prefix.to_string(), Arc::new(Mutex::new(VecDeque::from(replies))))).collect(),
        );
        let (log, post_log) = (requests.clone(), posts.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (routes, log, post_log) = (routes.clone(), log.clone(), post_log.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (routes, log, post_log) = (routes.clone(), log.clone(), post_log.clone());
                        async move {
                            let target = request.uri().path_and_query().map_or("/".into(), |target| target.to_string());
                            let is_post = request.method() == hyper::Method::POST;
                            log.lock().unwrap().push(target.clone());
                            if is_post {
                                let body = request.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
                                post_log.lock().unwrap().push((target.clone(), String::from_utf8_lossy(&body).into_owned()));
                            }
                            let route = routes
                                .iter()
                                .filter(|(prefix, _)| target.starts_with(prefix.as_str()))
                                .max_by_key(|(prefix, _)| prefix.len());
                            let reply = match route {
                                None => Reply { status: 404, retry_after_s: None, body: r#"{"msg":"no such path"}"#.into(), hang: false },
                                Some((_, queue)) => {
                                    let mut queue = queue.lock().unwrap();
                                    if queue.len() > 1 {
                                        queue.pop_front().unwrap()
                                    } else {
                                        queue.front().cloned().unwrap()
                                    }
                                }
                            };
                            if reply.hang {
                                std::future::pending::<()>().await;
                            }
                            let mut response = Response::builder().status(reply.status).header("content-type", "application/json");
                            if let Some(seconds) = reply.retry_after_s {
                                response = response.header("retry-after", seconds.to_string());
                            }
                            Ok::<_, Infallible>(response.body(Full::new(Bytes::from(reply.body))).unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        FakeRest { addr, requests, posts }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests so far whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<String> {
        self.requests.lock().unwrap().iter().filter(|target| target.starts_with(prefix)).cloned().collect()
    }
}
