//! Venue feeds: the [`VenueAdapter`] trait an exchange adapter implements (endpoint,
//! subscribe messages, parsing), and the shared websocket connector that runs any
//! adapter (`connector`): connect with a timeout, subscribe and check the venue's
//! acknowledgements, ping, a silent-feed watchdog, reconnect forever with capped
//! jittered backoff, resubscribe, and a `feed_events` row for each of those; once a
//! connection's subscriptions are acknowledged, an `instruments` row for each configured
//! symbol (ours beside the venue's spelling). With `record`, every message received
//! also goes to capture files (`capture`), which `replay` feeds through the same
//! adapter and router later.

pub mod book;
mod capture;
mod connector;
pub mod fetch;
pub mod fields;
mod option_times;
mod replay;
mod sequence;
pub mod specs;

pub use option_times::OptionQuoteTimes;
pub use sequence::Sequences;
pub use specs::{PollSettings, SpecVersions};

pub use capture::{CaptureEntry, CaptureError, CaptureHeader, CaptureReader, CaptureWriter};
pub use connector::FeedSource;
pub use fetch::{Fetch, FetchError, RestSpec};
pub use replay::{Pace, ReplayCounts, ReplaySource};

use crate::config::Channel;
use crate::record::{Instrument, Record, Rejection, Timestamp};

/// What one venue message meant.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Normalized records.
    pub records: Vec<Record>,
    /// Subscription request ids the venue acknowledged.
    pub acknowledged: Vec<u64>,
    /// Sequence gaps and other things worth a `feed_events` row: (kind, detail).
    pub events: Vec<(&'static str, serde_json::Value)>,
    /// Records dropped on purpose (duplicates re-sent after a resubscribe).
    pub duplicates: usize,
    /// Book levels dropped because their book was broken or not yet synchronised.
    pub book_dropped: usize,
    /// Messages the venue requires in answer (e.g. a heartbeat test request), sent at once
    /// by the connector, in order, right after the message was parsed. A failed send ends
    /// the connection like any other failed send.
    pub replies: Vec<String>,
    /// Parts of the message the adapter refused while keeping the rest (one bad element
    /// of an array, say), each with its raw text: every one is dead-lettered.
    pub rejected: Vec<(Rejection, String)>,
    /// Instruments first seen in this message, for adapters that learn the venue's
    /// spelling of a symbol from its messages rather than from the configuration (the
    /// generic json adapter); upserted into `instruments` like the configured ones.
    pub instruments: Vec<Instrument>,
    /// REST requests the adapter needs (a book's snapshot), made by the connector beside
    /// the websocket; each answer comes back through [`VenueAdapter::fetched`].
    pub fetches: Vec<Fetch>,
}

#[cfg(test)]
impl Parsed {
    /// The parsed records, each of which must be a tick (tests of trade channels).
    pub fn ticks(&self) -> Vec<&crate::record::Tick> {
        self.records
            .iter()
            .map(|record| match record {
                Record::Tick(tick) => tick,
                other => panic!("not a tick: {other:?}"),
            })
            .collect()
    }
}

/// A subscription request to send, and the id its acknowledgement will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: u64,
    pub message: String,
}

/// One exchange's protocol. Connection handling is the connector's; an adapter only
/// describes the endpoint and subscriptions and turns messages into records.
pub trait VenueAdapter: Send + Sync + 'static {
    /// The `venue` written in every record.
    fn venue(&self) -> &str;
    /// The endpoint used unless the configuration overrides it.
    fn default_url(&self) -> String;
    /// The channels this venue offers; `check-config` refuses a source that names
    /// another (its adapter would skip it, silently).
    fn channels(&self) -> &'static [Channel];
    /// Why one connection of this venue cannot take these channels together, if it
    /// cannot (`check-config` reports it under the source's `channels`).
    fn channels_conflict(&self, _channels: &[Channel]) -> Option<String> {
        None
    }
    /// The `book_depth` values this venue's `book` channel takes, the default first;
    /// empty for a venue without one.
    fn book_depths(&self) -> &'static [u32] {
        &[]
    }
    /// The source's `book` settings, given once before the first connection.
    fn set_book(&mut self, _settings: book::BookSettings) {}
    /// The source's REST poll intervals (`open_interest_poll_ms`, `instruments_poll_ms`),
    /// given once before the first connection. A poll is a [`Fetch`] the adapter asks
    /// for in [`VenueAdapter::initial_fetches`] and asks for again, [`Fetch::after`] the
    /// interval, each time it handles an answer (or a final failure) in
    /// [`VenueAdapter::fetched`].
    fn set_polls(&mut self, _settings: PollSettings) {}
    /// The environment variables this venue's credentials are read from (never from
    /// the file); `check-config` reports each that is not set.
    fn credential_variables(&self) -> &'static [&'static str] {
        &[]
    }
    /// Subscription requests for these symbols and channels, batched within the
    /// venue's limits. Called on every (re)connect; each must be acknowledged, unless
    /// [`VenueAdapter::acknowledges_subscriptions`] says the venue does not answer them.
    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription>;
    /// Whether the venue acknowledges subscription requests. When it does not, a request
    /// counts as acknowledged once sent, and no acknowledgement is waited for.
    fn acknowledges_subscriptions(&self) -> bool {
        true
    }
    /// Parses one text message. An error is bad input: it is dead-lettered and the
    /// connection goes on.
    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection>;
    /// The venue's REST side, for adapters that ask for [`Parsed::fetches`]; the
    /// source's `rest_url` overrides its base.
    fn rest(&self) -> Option<RestSpec> {
        None
    }
    /// Fetches to make as a connection opens, right after [`VenueAdapter::subscriptions`].
    fn initial_fetches(&mut self) -> Vec<Fetch> {
        Vec::new()
    }
    /// The answer to a fetch this adapter asked for: the body, or why there is none, and
    /// when it was received. Like [`VenueAdapter::parse`], an error is dead-lettered.
    fn fetched(&mut self, fetch: &Fetch, _outcome: Result<&str, &FetchError>, _received_at: Timestamp) -> Result<Parsed, Rejection> {
        Err(Rejection::new(
            crate::record::RejectReason::UnknownType,
            format!("{} asked for no fetch, got an answer to `{}`", self.venue(), fetch.path),
        ))
    }
    /// An application-level heartbeat the venue requires, sent with each websocket ping.
    fn heartbeat(&mut self) -> Option<String> {
        None
    }
    /// What `instruments` records about a configured symbol: our symbol for it (normalized
    /// as this adapter normalizes the symbols of its records), the venue's own spelling,
    /// and the asset class where the adapter knows it. The connector upserts it for every
    /// configured symbol once the subscriptions of a connection are acknowledged. `None`
    /// when the adapter cannot tell which symbol its records will carry.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument>;
}
