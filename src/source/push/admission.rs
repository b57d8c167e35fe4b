//! Who may become a producer of the push server, and how much each client may send.
//!
//! A socket goes through two stages, each with its own bound. While it is in its
//! handshake (TLS, upgrade request, token check) it holds one of
//! `server.max_pending_handshakes` permits, for at most `server.handshake_timeout_ms`;
//! only once the token check passed does it take one of `server.max_connections`
//! slots. Idle or slow sockets therefore never hold the producers' slots.
//!
//! A client is the token it presented (as a keyed hash, never the token itself) when a
//! token is configured, and its IP address when none is. All connections of a client
//! share one frame budget (`server.max_messages_per_sec_per_token`) and may be limited
//! in number (`server.max_connections_per_token`). The table of clients is bounded:
//! entries no connection uses and whose budget has refilled are dropped when room is
//! needed (a fresh entry would be the same), and a new client is refused while the
//! table is full of live ones.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::rate::TokenBucket;

/// The fewest entries the table of clients keeps room for.
const MIN_CLIENT_ENTRIES: usize = 4_096;

/// What a client is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// A keyed hash of the token presented.
    Token(u64),
    /// The peer's address, when no token is configured.
    Peer(IpAddr),
}

/// The limits of `[server]` that admission applies.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    pub max_pending_handshakes: usize,
    pub max_connections: usize,
    /// 0: only `max_connections` applies.
    pub max_connections_per_client: usize,
    /// 0: unlimited.
    pub max_messages_per_sec_per_client: u32,
}

/// What a socket was refused for having too many of; the text is the metric's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooMany {
    Connections,
    ConnectionsPerClient,
    Clients,
}

impl TooMany {
    pub fn reason(self) -> &'static str {
        match self {
            TooMany::Connections => "too_many_connections",
            TooMany::ConnectionsPerClient => "too_many_connections_per_token",
            TooMany::Clients => "too_many_clients",
        }
    }
}

/// One client's shared state.
#[derive(Debug)]
struct Client {
    /// `None`: no frame limit per client.
    bucket: Mutex<Option<TokenBucket>>,
    connections: AtomicUsize,
}

impl Client {
    /// No connection uses it and its budget is full: dropping it changes nothing.
    fn is_idle(&self, now: Instant) -> bool {
        self.connections.load(Ordering::Acquire) == 0
            && self.bucket.lock().unwrap_or_else(|poison| poison.into_inner()).as_ref().is_none_or(|bucket| bucket.is_full(now))
    }
}

/// The push listener's admission state, shared by every connection task.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    handshakes: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    clients: Mutex<HashMap<ClientKey, Arc<Client>>>,
    max_clients: usize,
    token_hasher: RandomState,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Admission {
        Admission {
            handshakes: Arc::new(Semaphore::new(limits.max_pending_handshakes.max(1))),
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            clients: Mutex::new(HashMap::new()),
            max_clients: limits.max_connections.saturating_mul(2).max(MIN_CLIENT_ENTRIES),
            token_hasher: RandomState::new(),
            limits,
        }
    }

    /// A permit to run one handshake, or `None` when `max_pending_handshakes` are running.
    pub fn begin_handshake(&self) -> Option<OwnedSemaphorePermit> {
        self.handshakes.clone().try_acquire_owned().ok()
    }

    /// The key of a client that presented `token` (already checked).
    pub fn token_key(&self, token: &[u8]) -> ClientKey {
        ClientKey::Token(self.token_hasher.hash_one(token))
    }

    /// A producer slot for `client`, after its token check.
    pub fn admit(&self, client: ClientKey, now: Instant) -> Result<Producer, TooMany> {
        let mut clients = self.clients.lock().unwrap_or_else(|poison| poison.into_inner());
        if !clients.contains_key(&client) && clients.len() >= self.max_clients {
            clients.retain(|_, entry| !entry.is_idle(now));
            if clients.len() >= self.max_clients {
                return Err(TooMany::Clients);
            }
        }
        let entry = clients.entry(client).or_insert_with(|| {
            let bucket = TokenBucket::new(self.limits.max_messages_per_sec_per_client, now);
            Arc::new(Client { bucket: Mutex::new(bucket), connections: AtomicUsize::new(0) })
        });
        // Counted under the table's lock, so that an entry is never dropped between
        // being found and being counted.
        let per_client = self.limits.max_connections_per_client;
        if per_client > 0 && entry.connections.load(Ordering::Acquire) >= per_client {
            return Err(TooMany::ConnectionsPerClient);
        }
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| TooMany::Connections)?;
        entry.connections.fetch_add(1, Ordering::AcqRel);
        let entry = entry.clone();
        drop(clients);
        Ok(Producer { _slot: slot, client: entry })
    }

    /// Clients in the table (for tests).
    #[cfg(test)]
    fn client_entries(&self) -> usize {
        self.clients.lock().unwrap_or_else(|poison| poison.into_inner()).len()
    }
}

/// An admitted producer connection: its slot and its client's shared budget. Dropping
/// it frees both.
#[derive(Debug)]
pub struct Producer {
    _slot: OwnedSemaphorePermit,
    client: Arc<Client>,
}

impl Producer {
    /// Takes one frame from the client's shared budget, if there is one.
    pub fn try_take_frame(&self, now: Instant) -> bool {
        let mut bucket = self.client.bucket.lock().unwrap_or_else(|poison| poison.into_inner());
        bucket.as_mut().is_none_or(|bucket| bucket.try_take(now))
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.client.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn admission(max_connections: usize, per_client: usize, rate: u32) -> Admission {
        Admission::new(AdmissionLimits {
            max_pending_handshakes: 2,
            max_connections,
            max_connections_per_client: per_client,
            max_messages_per_sec_per_client: rate,
        })
    }

    #[test]
    fn handshakes_have_their_own_permits() {
        let admission = admission(1, 0, 0);
        let first = admission.begin_handshake().expect("first");
        let _second = admission.begin_handshake().expect("second");
        assert!(admission.begin_handshake().is_none(), "two at most");
        drop(first);
        assert!(admission.begin_handshake().is_some());
        // Handshakes in flight do not take producer slots.
        assert!(admission.admit(ClientKey::Peer([127, 0, 0, 1].into()), Instant::now()).is_ok());
    }

    #[test]
    fn slots_and_connections_per_client_are_given_back_on_drop() {
        let admission = admission(3, 2, 0);
        let now = Instant::now();
        let key = admission.token_key(b"secret");
        assert_eq!(key, admission.token_key(b"secret"));
        let first = admission.admit(key, now).unwrap();
        let _second = admission.admit(key, now).unwrap();
        assert_eq!(admission.admit(key, now).unwrap_err(), TooMany::ConnectionsPerClient);
        let other = ClientKey::Peer([10, 0, 0, 1].into());
        let _third = admission.admit(other, now).unwrap();
        assert_eq!(admission.admit(ClientKey::Peer([10, 0, 0, 2].into()), now).unwrap_err(), TooMany::Connections);
        drop(first);
        assert!(admission.admit(key, now).is_ok(), "the slot and the client's count came back");
    }

    #[test]
    fn the_frame_budget_is_shared_by_a_clients_connections() {
        let admission = admission(10, 0, 10);
        let now = Instant::now();
        let key = admission.token_key(b"secret");
        let connections: Vec<Producer> = (0..5).map(|_| admission.admit(key, now).unwrap()).collect();
        let taken: usize = connections.iter().map(|producer| (0..10).filter(|_| producer.try_take_frame(now)).count()).sum();
        assert_eq!(taken, 10, "five connections share one second's worth");
        let stranger = admission.admit(ClientKey::Peer([10, 0, 0, 9].into()), now).unwrap();
        assert!(stranger.try_take_frame(now), "another client has its own budget");
        assert!(connections[0].try_take_frame(now + Duration::from_millis(100)));
    }

    #[test]
    fn the_table_of_clients_is_bounded_and_idle_entries_make_room() {
        let admission = admission(1, 0, 5);
        let now = Instant::now();
        let peer = |n: u32| ClientKey::Peer(IpAddr::from(std::net::Ipv4Addr::from(n)));
        for n in 0..MIN_CLIENT_ENTRIES as u32 {
            let producer = admission.admit(peer(n), now).unwrap();
            assert!(producer.try_take_frame(now), "each used its budget");
        }
        assert_eq!(admission.client_entries(), MIN_CLIENT_ENTRIES);
        assert_eq!(admission.admit(peer(u32::MAX), now).unwrap_err(), TooMany::Clients, "budgets not yet refilled");
        let later = now + Duration::from_secs(2);
        assert!(admission.admit(peer(u32::MAX), later).is_ok(), "refilled, unused entries make room");
        assert_eq!(admission.client_entries(), 1);
    }
}
