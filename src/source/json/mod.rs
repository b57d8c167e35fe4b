//! The generic json adapter: any websocket feed of JSON messages, described entirely in
//! a `[sources.json]` section (`config::JsonFeedConfig`) and run by the shared
//! connector like every venue adapter.
//!
//! The section gives the subscribe messages (templates with `{symbols}`, `{symbol}` and
//! `{id}`), how the venue acknowledges them (or that it does not), an optional
//! heartbeat, messages to ignore, and per record type a rule: conditions on the
//! message (JSON pointer = value), the JSON pointer (RFC 6901) of every field, the time
//! format, side values, a symbol rewrite, and an optional sequence number. Everything is
//! compiled once when the source starts (`rules`, `pointer`); each message is parsed
//! once into a `serde_json::Value` (`adapter`) and converted by its rule (`normalize`).
//!
//! A message that matches no records rule, no ack rule and no ignore rule is
//! dead-lettered as `unmatched`: a generic feed that silently dropped what it did not
//! understand would hide a wrong pointer or a venue's format change.

mod adapter;
mod normalize;
mod pointer;
mod rules;

pub use adapter::JsonAdapter;
