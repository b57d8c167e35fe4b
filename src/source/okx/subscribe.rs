//! OKX subscribe requests and their acknowledgements.
//!
//! The configured symbols and channels become `(channel, symbol)` args: an instrument id
//! for most channels, an instrument family for `opt-summary`, an instrument type for
//! `liquidation-orders`. The args are packed into as few requests as OKX's limits allow
//! (below). OKX answers a request with one `subscribe` event per arg; a request counts as
//! acknowledged once every one of its args was acked. Args are matched by channel and
//! instrument id (family, type), so this works whether or not OKX echoes the request's
//! `id`.

use std::collections::HashMap;

use serde_json::json;

use super::book::BOOKS;
use super::derivatives::{self, FUNDING_RATE, INDEX_TICKERS, LIQUIDATIONS, MARK_PRICE, OPEN_INTEREST};
use crate::config::Channel;
use crate::source::feed::Subscription;

/// Args per subscribe request. OKX limits the request's length (4096 bytes in its
/// websocket overview; later docs allow 64 KB for all channels together) and counts every
/// request against 480 subscribe operations per connection and hour, so requests are
/// filled up to both limits below.
pub(super) const ARGS_PER_REQUEST: usize = 50;
/// Bytes per subscribe request, well under OKX's 4096-byte request limit.
pub(super) const MAX_REQUEST_BYTES: usize = 3_000;

pub(super) const TRADES: &str = "trades";
pub(super) const TICKERS: &str = "tickers";
const CANDLES: &str = "candle1m";
/// Greeks and implied volatilities of every option of an instrument family.
pub(super) const OPTION_SUMMARY: &str = "opt-summary";

/// The `(channel, symbol)` args that `symbols` and `channels` subscribe, each once.
pub(super) fn args<'a>(symbols: &'a [String], channels: &[Channel]) -> Vec<(&'static str, &'a str)> {
    let mut args: Vec<(&'static str, &str)> = Vec::new();
    for symbol in symbols {
        // The derivatives channels are those of swaps and futures; OKX refuses them for others.
        let derivative = matches!(derivatives::inst_type(symbol), "SWAP" | "FUTURES");
        for channel in channels {
            let name = match channel {
                Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations if !derivative => continue,
                Channel::Trades => TRADES,
                // One `tickers` arg feeds both: subscribed once, read for what was asked.
                Channel::Quotes | Channel::Tickers => TICKERS,
                Channel::Bars => CANDLES,
                // The symbol is an instrument family (`BTC-USD`).
                Channel::Options => OPTION_SUMMARY,
                // OKX's `trades` are already aggregated per taker order; there is no other stream.
                Channel::AggTrades => continue,
                Channel::Book => BOOKS,
                // Only perpetual swaps have funding.
                Channel::Funding if derivatives::inst_type(symbol) == "SWAP" => FUNDING_RATE,
                Channel::Funding => continue,
                Channel::OpenInterest => OPEN_INTEREST,
                Channel::MarkPrice => {
                    // The contract's index beside its mark price (its rows carry the index name).
                    if let Some(index) = derivatives::index_of(symbol) {
                        let index = &symbol[..index.len()];
                        if !args.contains(&(INDEX_TICKERS, index)) {
                            args.push((INDEX_TICKERS, index));
                        }
                    }
                    MARK_PRICE
                }
                // Per instrument type; the configured instruments are picked out of the pushes.
                Channel::Liquidations => {
                    let inst_type = derivatives::inst_type(symbol);
                    if !args.contains(&(LIQUIDATIONS, inst_type)) {
                        args.push((LIQUIDATIONS, inst_type));
                    }
                    continue;
                }
                // A REST poll (see `instruments`), no subscription.
                Channel::Instruments => continue,
            };
            if !args.contains(&(name, symbol.as_str())) {
                args.push((name, symbol.as_str()));
            }
        }
    }
    args
}

/// One connection's subscribe requests still waiting for their acks.
pub(super) struct Requests {
    next_id: u64,
    /// Unacknowledged args of this connection's requests: (channel, instId) → request id.
    pending_args: HashMap<(String, String), u64>,
    /// How many args each unacknowledged request still waits for.
    pending_requests: HashMap<u64, usize>,
}

impl Requests {
    pub(super) fn new() -> Self {
        Requests { next_id: 1, pending_args: HashMap::new(), pending_requests: HashMap::new() }
    }

    /// The requests subscribing `args`, on a new connection: acks of the previous one no
    /// longer count.
    pub(super) fn subscribe(&mut self, args: &[(&'static str, &str)]) -> Vec<Subscription> {
        self.pending_args.clear();
        self.pending_requests.clear();
        let mut batches: Vec<Vec<serde_json::Value>> = Vec::new();
        let mut bytes = 0;
        for (channel, symbol) in args {
            let arg = match *channel {
                OPTION_SUMMARY => json!({ "channel": channel, "instFamily": symbol }),
                LIQUIDATIONS => json!({ "channel": channel, "instType": symbol }),
                _ => json!({ "channel": channel, "instId": symbol }),
            };
            let arg_bytes = arg.to_string().len() + 1;
            // `{"args":[…],"id":"<n>","op":"subscribe"}` around the args.
            let envelope = 48;
            match batches.last_mut() {
                Some(batch) if batch.len() < ARGS_PER_REQUEST && envelope + bytes + arg_bytes <= MAX_REQUEST_BYTES => {
                    bytes += arg_bytes;
                    batch.push(arg);
                }
                _ => {
                    bytes = arg_bytes;
                    batches.push(vec![arg]);
                }
            }
        }
        batches
            .into_iter()
            .map(|batch| {
                let id = self.next_id;
                self.next_id += 1;
                for arg in &batch {
                    let symbol = arg
                        .get("instId")
                        .or_else(|| arg.get("instFamily"))
                        .or_else(|| arg.get("instType"))
                        .and_then(|symbol| symbol.as_str());
                    let key = (arg["channel"].as_str().unwrap_or("").to_string(), symbol.unwrap_or("").to_string());
                    self.pending_args.insert(key, id);
                }
                self.pending_requests.insert(id, batch.len());
                Subscription { id, message: json!({ "id": id.to_string(), "op": "subscribe", "args": batch }).to_string() }
            })
            .collect()
    }

    /// OKX acked the arg `(channel, id)` (an instrument id, family or type): the request
    /// it completes, if it was the last one that request waited for. An ack for an arg
    /// not waited for (already acked) changes nothing.
    pub(super) fn acked(&mut self, channel: &str, id: &str) -> Option<u64> {
        let request = self.pending_args.remove(&(channel.to_string(), id.to_string()))?;
        let remaining = self.pending_requests.get_mut(&request)?;
        *remaining -= 1;
        if *remaining > 0 {
            return None;
        }
        self.pending_requests.remove(&request);
        Some(request)
    }
}
