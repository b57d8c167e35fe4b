//! Coinbase Exchange messages → records. `match`/`last_match` become ticks; `ticker`
//! becomes a quote when it carries the best bid and offer (with `quotes` subscribed) and
//! a 24-hour ticker (with `tickers` subscribed). Trade ids are contiguous per product: a
//! skip is a `gap` feed event with the missing range, and ids at or below the last one
//! seen (the `last_match` re-sent after a resubscribe) are dropped; a ticker whose
//! `sequence` is not above the last one of its product is dropped too. Coinbase sends a
//! ticker per match and several matches share a microsecond, so the time alone cannot
//! tell a repeat; only a ticker without a `sequence` is checked on its time.
//!
//! Books: `level2_batch`'s `snapshot` and `l2update` go to the connection's book keeper
//! (`book`); a crossed book is answered with an unsubscribe and a subscribe of the
//! product's channel in [`Parsed::replies`], whose `subscriptions` answers change nothing.

use super::book::{CoinbaseBooks, DEPTHS, LEVEL2_BATCH};
use super::wire::{Envelope, Error, Match, Subscribe, Subscriptions, Ticker as TickerMessage};
use crate::config::Channel;
use crate::record::{Instrument, Quote, Record, RejectReason, Rejection, Side, Tick, Ticker, Timestamp};
use crate::record::{ShortText, ToCompactString};
use crate::source::feed::book::BookSettings;
use crate::source::feed::fields::invalid_record as invalid;
use crate::source::feed::{Parsed, Sequences, Subscription, VenueAdapter};
use crate::source::values::{decimal as number, rfc3339 as time};

/// The id of our one subscribe request per connection. Coinbase answers a subscribe with a
/// `subscriptions` message that carries no request id, so that message acknowledges this.
const SUBSCRIPTION_ID: u64 = 1;

/// The Coinbase channel for one of ours; `None` for channels Coinbase does not offer
/// (aggregated trades, bars, options).
fn coinbase_channel(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Trades => Some("matches"),
        // One `ticker` channel feeds both: subscribed once, read for what was asked.
        Channel::Quotes | Channel::Tickers => Some("ticker"),
        Channel::Book => Some(LEVEL2_BATCH),
        Channel::AggTrades | Channel::Bars | Channel::Options => None,
        Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations | Channel::Instruments => None,
    }
}

pub struct CoinbaseAdapter {
    /// Last trade id per product; one entry per product the venue sent matches for,
    /// which are the subscribed ones.
    trade_ids: Sequences,
    /// Sequence number of the last 24-hour ticker per product.
    ticker_sequences: Sequences,
    /// Time of the last 24-hour ticker per product, for tickers without a sequence.
    ticker_times: Sequences,
    /// What a `ticker` message yields, as the last subscription asked: quotes (until a
    /// subscription says otherwise, as before tickers existed) and/or tickers.
    ticker_quotes: bool,
    ticker_stats: bool,
    /// The `book` channel's books.
    books: CoinbaseBooks,
}

impl CoinbaseAdapter {
    pub fn new() -> Self {
        CoinbaseAdapter {
            trade_ids: Sequences::new("matches"),
            ticker_sequences: Sequences::duplicates_only("ticker"),
            ticker_times: Sequences::duplicates_only("ticker"),
            ticker_quotes: true,
            ticker_stats: false,
            books: CoinbaseBooks::new(&BookSettings::default()),
        }
    }
}

impl Default for CoinbaseAdapter {
    fn default() -> Self {
        Self::new()
    }
}

/// Coinbase's `side` is the maker order's side; ours is the taker's.
fn taker_side(maker_side: &str) -> Result<Side, Rejection> {
    match maker_side {
        "sell" => Ok(Side::Buy),
        "buy" => Ok(Side::Sell),
        other => Err(Rejection::new(RejectReason::InvalidField, format!("`side`: expected \"buy\" or \"sell\", got \"{other}\""))),
    }
}

impl CoinbaseAdapter {
    fn trade(&mut self, kind: &str, text: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let trade: Match = serde_json::from_str(text).map_err(|error| invalid(kind, error))?;
        let tick = Tick {
            time: time("time", trade.time)?,
            received_at,
            venue: ShortText::new(self.venue()),
            symbol: trade.product_id.to_compact_string(),
            price: number("price", trade.price)?,
            size: number("size", trade.size)?,
            side: taker_side(trade.side)?,
            trade_id: Some(trade.trade_id.to_compact_string()),
        };
        if self.trade_ids.admit(trade.product_id, trade.trade_id, parsed) {
            parsed.records.push(Record::Tick(tick));
        }
        Ok(())
    }

    fn ticker(&mut self, text: &str, received_at: Timestamp, parsed: &mut Parsed) -> Result<(), Rejection> {
        let ticker: TickerMessage = serde_json::from_str(text).map_err(|error| invalid("ticker", error))?;
        let time = match ticker.time {
            Some(text) => time("time", text)?,
            None => received_at,
        };
        // Everything is converted before anything is kept, so a bad field refuses the
        // whole message and leaves no state behind.
        let quote = if self.ticker_quotes { self.quote(&ticker, time, received_at)? } else { None };
        let stats = if self.ticker_stats { self.stats(&ticker, time, received_at)? } else { None };
        parsed.records.extend(quote.map(Record::Quote));
        if let Some(stats) = stats {
            let admitted = match ticker.sequence {
                Some(sequence) => self.ticker_sequences.admit(ticker.product_id, sequence, parsed),
                None => self.ticker_times.admit_time(ticker.product_id, stats.time, parsed),
            };
            if admitted {
                parsed.records.push(Record::Ticker(stats));
            }
        }
        Ok(())
    }

    /// The best bid and offer, when the ticker carries them.
    fn quote(&self, ticker: &TickerMessage, time: Timestamp, received_at: Timestamp) -> Result<Option<Quote>, Rejection> {
        let (Some(bid_price), Some(bid_size), Some(ask_price), Some(ask_size)) =
            (ticker.best_bid, ticker.best_bid_size, ticker.best_ask, ticker.best_ask_size)
        else {
            return Ok(None);
        };
        Ok(Some(Quote {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: ticker.product_id.to_string(),
            bid_price: number("best_bid", bid_price)?,
            bid_size: number("best_bid_size", bid_size)?,
            ask_price: number("best_ask", ask_price)?,
            ask_size: number("best_ask_size", ask_size)?,
        }))
    }

    /// The 24-hour statistics, when the ticker carries a last price. Coinbase sends no
    /// change fields: `change` is computed as `price − open_24h` and `change_pct` as
    /// that change in percent of `open_24h` (none when the open is missing or zero).
    /// Coinbase sends no quote volume either.
    fn stats(&self, ticker: &TickerMessage, time: Timestamp, received_at: Timestamp) -> Result<Option<Ticker>, Rejection> {
        let Some(price) = ticker.price else { return Ok(None) };
        let optional = |field: &str, text: Option<&str>| text.map(|text| number(field, text)).transpose();
        let last = number("price", price)?;
        let open_24h = optional("open_24h", ticker.open_24h)?;
        let change = open_24h.map(|open| last - open);
        Ok(Some(Ticker {
            time,
            received_at,
            venue: self.venue().to_string(),
            symbol: ticker.product_id.to_string(),
            last,
            open_24h,
            high_24h: optional("high_24h", ticker.high_24h)?,
            low_24h: optional("low_24h", ticker.low_24h)?,
            volume_24h: optional("volume_24h", ticker.volume_24h)?,
            quote_volume_24h: None,
            change,
            change_pct: open_24h.filter(|open| *open != 0.0).map(|open| (last - open) / open * 100.0),
        }))
    }
}

/// The channels this venue offers (`matches` for trades, `ticker` for quotes and tickers, `level2_batch` for the book).
pub const CHANNELS: &[Channel] = &[Channel::Trades, Channel::Quotes, Channel::Tickers, Channel::Book];

impl VenueAdapter for CoinbaseAdapter {
    fn channels(&self) -> &'static [Channel] {
        CHANNELS
    }

    fn venue(&self) -> &'static str {
        "coinbase"
    }

    fn book_depths(&self) -> &'static [u32] {
        DEPTHS
    }

    fn set_book(&mut self, settings: BookSettings) {
        self.books = CoinbaseBooks::new(&settings);
    }

    fn default_url(&self) -> String {
        "wss://ws-feed.exchange.coinbase.com".into()
    }

    /// One subscribe request for every product on every offered channel. Channels
    /// Coinbase does not offer are left out; with none left there is nothing to send.
    fn subscriptions(&mut self, symbols: &[String], channels: &[Channel]) -> Vec<Subscription> {
        self.ticker_quotes = channels.contains(&Channel::Quotes);
        self.ticker_stats = channels.contains(&Channel::Tickers);
        self.books.reset(Timestamp::now());
        let mut names: Vec<&'static str> = Vec::new();
        for name in channels.iter().filter_map(|channel| coinbase_channel(*channel)) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return Vec::new();
        }
        let request = Subscribe { message_type: "subscribe", product_ids: symbols, channels: names };
        let message = serde_json::to_string(&request).expect("a subscribe request always serializes");
        vec![Subscription { id: SUBSCRIPTION_ID, message }]
    }

    /// Product ids (`BTC-USD`) are our symbols already.
    fn instrument(&self, venue_symbol: &str) -> Option<Instrument> {
        Some(Instrument::listed(self.venue(), venue_symbol, venue_symbol, Some("crypto")))
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let envelope: Envelope = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a Coinbase message: {error}")))?;
        let mut parsed = Parsed::default();
        match envelope.message_type {
            Some(kind @ ("match" | "last_match")) => self.trade(kind, text, received_at, &mut parsed)?,
            Some("ticker") => self.ticker(text, received_at, &mut parsed)?,
            Some("snapshot") => self.books.snapshot(text, received_at, &mut parsed)?,
            Some("l2update") => self.books.update(text, received_at, &mut parsed)?,
            Some("subscriptions") => {
                // A list with nothing subscribed does not acknowledge our request; the
                // connector's subscribe timeout then retries the connection.
                let subscriptions: Subscriptions = serde_json::from_str(text).map_err(|error| invalid("subscriptions", error))?;
                if !subscriptions.channels.is_empty() {
                    parsed.acknowledged.push(SUBSCRIPTION_ID);
                }
            }
            Some("heartbeat") => {}
            Some("error") => {
                let error: Error = serde_json::from_str(text).map_err(|error| invalid("error", error))?;
                let detail = match error.reason {
                    Some(reason) => format!("Coinbase error: {}: {reason}", error.message),
                    None => format!("Coinbase error: {}", error.message),
                };
                return Err(Rejection::new(RejectReason::SubscriptionRefused, detail));
            }
            Some(other) => {
                return Err(Rejection::new(RejectReason::UnknownType, format!("Coinbase message type `{other}` is not handled")));
            }
            None => return Err(Rejection::new(RejectReason::UnknownType, "a Coinbase message with no type")),
        }
        Ok(parsed)
    }
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
