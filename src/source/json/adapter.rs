//! The json adapter: subscribe messages from the templates, acknowledgements by the
//! ack rule, and each message parsed once into a `serde_json::Value`, split into
//! elements (a top-level array), and each element taken as an ack, an ignored message
//! or the records of the first records rule that matches.

use std::collections::{HashSet, VecDeque};

use serde_json::Value;

use super::pointer::Pointer;
use super::rules::{Conditions, Rule};
use crate::config::{Channel, JsonFeedConfig, SourceConfig, SourceKind};
use crate::record::{Instrument, RejectReason, Rejection, Timestamp};
use crate::source::feed::fields::kind_of;
use crate::source::feed::{Parsed, Sequences, Subscription, VenueAdapter};

/// How the venue acknowledges subscribe messages.
#[derive(Debug)]
struct AckRule {
    conditions: Conditions,
    /// Where the echoed `{id}` is; without it, acks count in the order of sending.
    id: Option<Pointer>,
}

/// A feed described by a `[sources.json]` section.
pub struct JsonAdapter {
    venue: String,
    url: String,
    feed: JsonFeedConfig,
    /// Rules in order, each with its sequence state when it reads a sequence number.
    rules: Vec<(Rule, Option<Sequences>)>,
    ack: Option<AckRule>,
    ignore: Vec<Conditions>,
    next_request_id: u64,
    /// This connection's subscribe messages not yet acknowledged, oldest first.
    unacknowledged: VecDeque<u64>,
    /// Venue symbols already reported as instruments (at most [`MAX_LISTED_SYMBOLS`]).
    listed: HashSet<String>,
}

/// Venue symbols remembered as reported; beyond this many, new ones are not reported, so
/// a feed sending unexpected symbols cannot grow memory without bound.
const MAX_LISTED_SYMBOLS: usize = 10_000;

/// What became of one element of a message.
enum Outcome {
    /// Records were made, or it was an ack or an ignored message.
    Accepted,
    Refused(Rejection),
}

impl JsonAdapter {
    /// Compiles a source's `[sources.json]` section (already checked by `check-config`).
    pub fn new(source: &SourceConfig) -> Result<JsonAdapter, String> {
        if source.kind != SourceKind::Json {
            return Err(format!("a {} source is not a json source", source.kind.name()));
        }
        let feed = source.json.clone().ok_or("kind = \"json\" needs a [sources.json] section")?;
        let url = source.url.clone().ok_or("kind = \"json\" needs a url")?;
        Self::from_feed(feed, url)
    }

    /// Compiles a feed description; `url` is the endpoint.
    pub fn from_feed(feed: JsonFeedConfig, url: String) -> Result<JsonAdapter, String> {
        let rules = feed
            .records
            .iter()
            .map(|config| {
                let rule = Rule::compile(config)?;
                let sequences = rule.sequence.as_ref().map(|_| match config.sequence_gaps {
                    true => Sequences::new(rule.stream.clone()),
                    false => Sequences::duplicates_only(rule.stream.clone()),
                });
                Ok((rule, sequences))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let ack = feed
            .ack
            .as_ref()
            .map(|ack| {
                Ok::<_, String>(AckRule {
                    conditions: Conditions::compile(&ack.equals, &ack.present)?,
                    id: ack.id.as_deref().map(Pointer::parse).transpose()?,
                })
            })
            .transpose()?;
        let ignore = feed.ignore.iter().map(Conditions::from_config).collect::<Result<_, _>>()?;
        Ok(JsonAdapter {
            venue: feed.venue.clone(),
            url,
            rules,
            ack,
            ignore,
            feed,
            next_request_id: 1,
            unacknowledged: VecDeque::new(),
            listed: HashSet::new(),
        })
    }

    /// One element of a message: an ack, else an ignored message, else records by the
    /// first matching records rule, else unmatched. Acks and ignored messages come first
    /// because their rules are narrow (`/op = "subscribed"`) where a records rule may be
    /// broad (`/channel = "trades"` also matches the venue's answer to the subscription).
    fn element(&mut self, element: &Value, received_at: Timestamp, parsed: &mut Parsed) -> Vec<(Outcome, Option<String>)> {
        if let Some(ack) = &self.ack {
            if ack.conditions.hold(element) {
                return vec![(self.acknowledge(element, parsed), None)];
            }
        }
        if self.ignore.iter().any(|conditions| conditions.hold(element)) {
            return vec![(Outcome::Accepted, None)];
        }
        if let Some(index) = self.rules.iter().position(|(rule, _)| rule.conditions.hold(element)) {
            return self.records(index, element, received_at, parsed);
        }
        let rejection =
            Rejection::new(RejectReason::Unmatched, "the message matches no records rule, ack or ignore rule of this json source");
        vec![(Outcome::Refused(rejection), None)]
    }

    /// Records of rule `index` from `element` (or each element of its `each` array).
    /// A refused record carries its own raw text when it is one of several.
    fn records(&mut self, index: usize, element: &Value, received_at: Timestamp, parsed: &mut Parsed) -> Vec<(Outcome, Option<String>)> {
        let (rule, sequences) = &mut self.rules[index];
        let items: Vec<&Value> = match &rule.each {
            None => vec![element],
            Some(each) => match each.resolve(element) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(item @ Value::Object(_)) => vec![item],
                Some(other) => {
                    let rejection = Rejection::new(
                        RejectReason::InvalidField,
                        format!("{}.each: {each} is {}, expected an array or an object", rule.label, kind_of(other)),
                    );
                    return vec![(Outcome::Refused(rejection), None)];
                }
                None => {
                    let rejection = Rejection::new(RejectReason::MissingField, format!("{}.each: {each} is missing", rule.label));
                    return vec![(Outcome::Refused(rejection), None)];
                }
            },
        };
        let several = rule.each.is_some();
        items
            .into_iter()
            .map(|item| match rule.convert(&self.venue, item, received_at) {
                Ok(converted) => {
                    let admitted = match (sequences.as_mut(), converted.sequence) {
                        (Some(sequences), Some(number)) => sequences.admit(converted.venue_symbol, number, parsed),
                        _ => true,
                    };
                    if admitted {
                        if !self.listed.contains(converted.venue_symbol) && self.listed.len() < MAX_LISTED_SYMBOLS {
                            self.listed.insert(converted.venue_symbol.to_string());
                            let symbol = rule.symbol.rewrite(converted.venue_symbol);
                            parsed.instruments.push(Instrument::listed(&self.venue, &symbol, converted.venue_symbol, None));
                        }
                        parsed.records.push(converted.record);
                    }
                    (Outcome::Accepted, None)
                }
                Err(rejection) => (Outcome::Refused(rejection), several.then(|| item.to_string())),
            })
            .collect()
    }

    fn acknowledge(&mut self, element: &Value, parsed: &mut Parsed) -> Outcome {
        let Some(ack) = &self.ack else { return Outcome::Accepted };
        let Some(pointer) = &ack.id else {
            // Without an echoed id, acknowledgements count in the order of sending; one
            // beyond the requests of this connection is harmless.
            if let Some(id) = self.unacknowledged.pop_front() {
                parsed.acknowledged.push(id);
            }
            return Outcome::Accepted;
        };
        let id = match pointer.resolve(element) {
            Some(Value::Number(number)) => number.as_u64(),
            Some(Value::String(text)) => text.parse::<u64>().ok(),
            _ => None,
        };
        match id {
            Some(id) => {
                self.unacknowledged.retain(|pending| *pending != id);
                parsed.acknowledged.push(id);
                Outcome::Accepted
            }
            None => Outcome::Refused(Rejection::new(
                RejectReason::InvalidField,
                format!(
                    "ack.id: {pointer} is {}, expected the request id of a subscribe message",
                    shown_or_missing(pointer.resolve(element))
                ),
            )),
        }
    }
}

impl VenueAdapter for JsonAdapter {
    /// None by name: the `[sources.json]` subscribe messages and records rules say what is received.
    fn channels(&self) -> &'static [Channel] {
        &[]
    }

    fn venue(&self) -> &str {
        &self.venue
    }

    fn default_url(&self) -> String {
        self.url.clone()
    }

    /// The subscribe templates expanded; ids keep counting across connections.
    fn subscriptions(&mut self, symbols: &[String], _channels: &[Channel]) -> Vec<Subscription> {
        let messages = self.feed.subscribe_messages(symbols, &mut self.next_request_id);
        self.unacknowledged = messages.iter().map(|(id, _)| *id).collect();
        messages.into_iter().map(|(id, message)| Subscription { id, message }).collect()
    }

    fn acknowledges_subscriptions(&self) -> bool {
        self.ack.is_some()
    }

    fn heartbeat(&mut self) -> Option<String> {
        self.feed.heartbeat.clone()
    }

    /// Nothing from the configuration: its symbols are what the subscribe templates
    /// expand (often spelled otherwise than in the messages, `btcusdt` for `BTCUSDT`), so
    /// the instruments are taken from the messages instead — each venue symbol the first
    /// time a record carries it, through its rule's `symbol_rewrite`
    /// ([`Parsed::instruments`]). The asset class is not known.
    fn instrument(&self, _venue_symbol: &str) -> Option<Instrument> {
        None
    }

    fn parse(&mut self, text: &str, received_at: Timestamp) -> Result<Parsed, Rejection> {
        let mut parsed = Parsed::default();
        if self.feed.ignore_text.iter().any(|ignored| ignored == text) {
            return Ok(parsed);
        }
        let message: Value = serde_json::from_str(text)
            .map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not a JSON message: {error}")))?;
        let mut outcomes = Vec::new();
        match &message {
            Value::Array(elements) => {
                for element in elements {
                    for (outcome, raw) in self.element(element, received_at, &mut parsed) {
                        outcomes.push((outcome, Some(raw.unwrap_or_else(|| element.to_string()))));
                    }
                }
            }
            single => outcomes = self.element(single, received_at, &mut parsed),
        }
        // Nothing good in it: the message is dead-lettered whole. Otherwise what was
        // good is kept and each refused part is dead-lettered on its own.
        let accepted = outcomes.iter().any(|(outcome, _)| matches!(outcome, Outcome::Accepted));
        for (outcome, raw) in outcomes {
            if let Outcome::Refused(rejection) = outcome {
                if !accepted {
                    return Err(rejection);
                }
                parsed.rejected.push((rejection, raw.unwrap_or_else(|| text.to_string())));
            }
        }
        Ok(parsed)
    }
}

fn shown_or_missing(value: Option<&Value>) -> String {
    match value {
        None => "missing".into(),
        Some(value) => value.to_string().chars().take(40).collect(),
    }
}

#[cfg(test)]
#[path = "adapter_tests.rs"]
mod tests;
