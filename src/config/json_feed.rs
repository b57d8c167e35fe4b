//! `[sources.json]`: a websocket feed described entirely in the configuration, for the
//! generic `json` adapter — subscribe message templates, how acknowledgements and
//! ignorable messages look, and per record type a match rule and the JSON pointers
//! (RFC 6901) of every field. The checks of this section are in `json_checks`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::record::{EpochUnit, Table};

/// `[sources.json]`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonFeedConfig {
    /// The `venue` written in every record.
    #[serde(default)]
    pub venue: String,
    /// Messages sent on every (re)connect, in order: JSON text in which `{symbols}`
    /// becomes a JSON array of the source's symbols, `{id}` a request id (a JSON number,
    /// new for every message), and `{symbol}` one symbol's text (JSON-escaped, without
    /// quotes: write it inside a string, `"{symbol}@trade"`); a template holding
    /// `{symbol}` is sent once per symbol.
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// Sent as it is with each websocket ping (`ping_interval_ms`), for venues that
    /// want an application-level heartbeat.
    #[serde(default)]
    pub heartbeat: Option<String>,
    /// How the venue acknowledges a subscribe message. Absent: a subscribe message
    /// counts as acknowledged once sent.
    #[serde(default)]
    pub ack: Option<AckRule>,
    /// Messages that are expected and carry nothing to store (status, pongs): dropped
    /// without a dead letter. Every other message no rule matches is dead-lettered as
    /// `unmatched`.
    #[serde(default)]
    pub ignore: Vec<Conditions>,
    /// Non-JSON messages ignored as they are, e.g. a text `"pong"`.
    #[serde(default)]
    pub ignore_text: Vec<String>,
    /// What becomes a record, tried in order after the ack and ignore rules: the first
    /// rule that matches a message wins.
    #[serde(default)]
    pub records: Vec<RecordRule>,
}

/// Conditions on a message that must all hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// JSON pointer → expected value (a string, integer or boolean; a list: any of them).
    #[serde(default, rename = "match")]
    pub equals: BTreeMap<String, Value>,
    /// JSON pointers that must exist (with any value, null included).
    #[serde(default)]
    pub present: Vec<String>,
}

/// `[sources.json.ack]`: a message matching these conditions acknowledges a subscribe
/// message — the one whose `{id}` it echoes at `id`, or without `id` the oldest one
/// not yet acknowledged.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRule {
    /// JSON pointer → expected value (as in `[[sources.json.ignore]]`).
    #[serde(default, rename = "match")]
    pub equals: BTreeMap<String, Value>,
    /// JSON pointers that must exist.
    #[serde(default)]
    pub present: Vec<String>,
    /// Pointer to the echoed request id (an integer or a string of digits).
    #[serde(default)]
    pub id: Option<String>,
}

/// Which table a rule's records go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Ticks,
    Quotes,
    Bars,
}

/// `[[sources.json.records]]`: one kind of message and how it becomes records.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRule {
    /// `ticks`, `quotes` or `bars`.
    pub table: RecordKind,
    /// A name for rejections and gap events (default: the table).
    #[serde(default)]
    pub name: Option<String>,
    /// JSON pointer → expected value, all of which must hold for the rule to apply.
    #[serde(default, rename = "match")]
    pub equals: BTreeMap<String, Value>,
    /// JSON pointers that must exist for the rule to apply.
    #[serde(default)]
    pub present: Vec<String>,
    /// The records are the elements of the array at this pointer (`/data`); field
    /// pointers are then relative to each element. Absent: the message is one record.
    #[serde(default)]
    pub each: Option<String>,
    /// Field → JSON pointer.
    #[serde(default)]
    pub fields: FieldPointers,
    /// How `fields.time` is written: `s`, `ms`, `us`, `ns` (since the epoch, JSON
    /// integers or decimal strings, converted exactly) or `rfc3339`; or `received` with
    /// no `fields.time`, to store our receipt time.
    #[serde(default)]
    pub time_format: Option<TimeFormat>,
    /// Ticks: which values of `fields.side` mean a buying or a selling taker (default
    /// `"buy"` and `"sell"`); e.g. `{ buy = false, sell = true }` for a "buyer is maker" flag.
    #[serde(default)]
    pub side: Option<SideValues>,
    /// How the venue's symbol becomes the stored one (default: as it is).
    #[serde(default)]
    pub symbol_rewrite: Option<SymbolRewrite>,
    /// Bars: the interval of every bar of this rule (`1m`), when the message does not say.
    #[serde(default)]
    pub interval: Option<String>,
    /// Pointer to a number that increases by one per record and symbol: a skip is a
    /// `gap` feed event, a number already seen (re-sent after a resubscribe) is dropped.
    #[serde(default)]
    pub sequence: Option<String>,
    /// With `sequence`: `false` when the numbers only increase (skips are normal), so
    /// that only duplicates are caught.
    #[serde(default = "default_true")]
    pub sequence_gaps: bool,
}

fn default_true() -> bool {
    true
}

/// Field → JSON pointer, for every field of ticks, quotes and bars; each rule gives
/// those of its table.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldPointers {
    pub symbol: Option<String>,
    pub time: Option<String>,
    pub price: Option<String>,
    pub size: Option<String>,
    pub side: Option<String>,
    pub trade_id: Option<String>,
    pub bid_price: Option<String>,
    pub bid_size: Option<String>,
    pub ask_price: Option<String>,
    pub ask_size: Option<String>,
    pub interval: Option<String>,
    pub open: Option<String>,
    pub high: Option<String>,
    pub low: Option<String>,
    pub close: Option<String>,
    pub volume: Option<String>,
    pub vwap: Option<String>,
    pub trades: Option<String>,
}

/// How a rule's time field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TimeFormat {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Millis,
    #[serde(rename = "us")]
    Micros,
    #[serde(rename = "ns")]
    Nanos,
    #[serde(rename = "rfc3339")]
    Rfc3339,
    /// No time in the message: our receipt time is stored.
    #[serde(rename = "received")]
    Received,
}

/// Values of a tick's side field; each a string, integer or boolean, or a list of them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SideValues {
    #[serde(default)]
    pub buy: Option<Value>,
    #[serde(default)]
    pub sell: Option<Value>,
    /// Values stored as an unknown side (0) rather than refused.
    #[serde(default)]
    pub unknown: Option<Value>,
}

/// Symbol rewriting, applied in this order.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbolRewrite {
    /// `btcusdt` → `BTCUSDT`.
    #[serde(default)]
    pub uppercase: bool,
    /// This separator becomes `-`: `BTC/USD` → `BTC-USD` with `"/"`.
    #[serde(default)]
    pub separator: Option<String>,
    /// `BTCUSDT` → `BTC-USDT` on a known quote asset, as the Binance and Bybit adapters
    /// store symbols (a symbol that already holds `-` is kept).
    #[serde(default)]
    pub split_quote: bool,
}

impl RecordKind {
    pub fn table(self) -> Table {
        match self {
            RecordKind::Ticks => Table::Ticks,
            RecordKind::Quotes => Table::Quotes,
            RecordKind::Bars => Table::Bars,
        }
    }

    pub fn name(self) -> &'static str {
        self.table().name()
    }

    /// Fields every rule of this kind must map (besides `time`, see `time_format`).
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            RecordKind::Ticks => &["symbol", "price", "size"],
            RecordKind::Quotes => &["symbol", "bid_price", "bid_size", "ask_price", "ask_size"],
            RecordKind::Bars => &["symbol", "open", "high", "low", "close", "volume"],
        }
    }

    /// Every field a rule of this kind may map.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            RecordKind::Ticks => &["symbol", "time", "price", "size", "side", "trade_id"],
            RecordKind::Quotes => &["symbol", "time", "bid_price", "bid_size", "ask_price", "ask_size"],
            RecordKind::Bars => &["symbol", "time", "interval", "open", "high", "low", "close", "volume", "vwap", "trades"],
        }
    }
}

impl FieldPointers {
    /// Every field with its pointer, if mapped.
    pub fn all(&self) -> [(&'static str, Option<&String>); 18] {
        [
            ("symbol", self.symbol.as_ref()),
            ("time", self.time.as_ref()),
            ("price", self.price.as_ref()),
            ("size", self.size.as_ref()),
            ("side", self.side.as_ref()),
            ("trade_id", self.trade_id.as_ref()),
            ("bid_price", self.bid_price.as_ref()),
            ("bid_size", self.bid_size.as_ref()),
            ("ask_price", self.ask_price.as_ref()),
            ("ask_size", self.ask_size.as_ref()),
            ("interval", self.interval.as_ref()),
            ("open", self.open.as_ref()),
            ("high", self.high.as_ref()),
            ("low", self.low.as_ref()),
            ("close", self.close.as_ref()),
            ("volume", self.volume.as_ref()),
            ("vwap", self.vwap.as_ref()),
            ("trades", self.trades.as_ref()),
        ]
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.all().into_iter().find(|(name, _)| *name == field).and_then(|(_, pointer)| pointer)
    }
}

impl TimeFormat {
    /// The epoch unit, for the numeric formats.
    pub fn epoch_unit(self) -> Option<EpochUnit> {
        match self {
            TimeFormat::Seconds => Some(EpochUnit::Seconds),
            TimeFormat::Millis => Some(EpochUnit::Millis),
            TimeFormat::Micros => Some(EpochUnit::Micros),
            TimeFormat::Nanos => Some(EpochUnit::Nanos),
            TimeFormat::Rfc3339 | TimeFormat::Received => None,
        }
    }
}

impl SideValues {
    /// `buy`, `sell` and `unknown` as lists (a single value is a list of one).
    pub fn lists(&self) -> [(&'static str, Vec<Value>); 3] {
        let list = |value: &Option<Value>| match value {
            None => Vec::new(),
            Some(Value::Array(values)) => values.clone(),
            Some(value) => vec![value.clone()],
        };
        [("buy", list(&self.buy)), ("sell", list(&self.sell)), ("unknown", list(&self.unknown))]
    }
}

/// The placeholders of subscribe templates.
pub const SYMBOLS_PLACEHOLDER: &str = "{symbols}";
pub const SYMBOL_PLACEHOLDER: &str = "{symbol}";
pub const ID_PLACEHOLDER: &str = "{id}";

impl JsonFeedConfig {
    /// The subscribe messages of one connection, with their request ids: each template
    /// once, or once per symbol when it holds `{symbol}`. Ids count up from `next_id`.
    pub fn subscribe_messages(&self, symbols: &[String], next_id: &mut u64) -> Vec<(u64, String)> {
        self.subscribe.iter().flat_map(|template| expand_template(template, symbols, next_id)).collect()
    }
}

/// One subscribe template's messages: once, or once per symbol when it holds `{symbol}`.
pub fn expand_template(template: &str, symbols: &[String], next_id: &mut u64) -> Vec<(u64, String)> {
    let symbols_json = serde_json::to_string(symbols).unwrap_or_else(|_| "[]".into());
    let per_symbol: Vec<Option<&str>> =
        if template.contains(SYMBOL_PLACEHOLDER) { symbols.iter().map(|symbol| Some(symbol.as_str())).collect() } else { vec![None] };
    per_symbol
        .into_iter()
        .map(|symbol| {
            let id = *next_id;
            *next_id += 1;
            (id, expand(template, &symbols_json, symbol, id))
        })
        .collect()
}

/// One template with its placeholders replaced, in a single pass (a symbol's text is
/// never searched for placeholders).
fn expand(template: &str, symbols_json: &str, symbol: Option<&str>, id: u64) -> String {
    let mut expanded = String::with_capacity(template.len() + symbols_json.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        expanded.push_str(&rest[..open]);
        let candidate = &rest[open..];
        if let Some(after) = candidate.strip_prefix(SYMBOLS_PLACEHOLDER) {
            expanded.push_str(symbols_json);
            rest = after;
        } else if let (Some(after), Some(symbol)) = (candidate.strip_prefix(SYMBOL_PLACEHOLDER), symbol) {
            // A JSON string of the symbol, without its quotes.
            let quoted = serde_json::to_string(symbol).unwrap_or_else(|_| "\"\"".into());
            expanded.push_str(&quoted[1..quoted.len() - 1]);
            rest = after;
        } else if let Some(after) = candidate.strip_prefix(ID_PLACEHOLDER) {
            expanded.push_str(&id.to_string());
            rest = after;
        } else {
            expanded.push('{');
            rest = &candidate[1..];
        }
    }
    expanded.push_str(rest);
    expanded
}

/// A JSON pointer (RFC 6901) as its reference tokens, `~1` and `~0` unescaped: `""` is
/// the whole document, anything else starts with `/`.
pub fn json_pointer_tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("`{pointer}` is not a JSON pointer: expected \"\" or a pointer starting with `/`, like `/{pointer}`"));
    };
    rest.split('/')
        .map(|token| {
            let mut unescaped = String::with_capacity(token.len());
            let mut characters = token.chars();
            while let Some(character) = characters.next() {
                match character {
                    '~' => match characters.next() {
                        Some('0') => unescaped.push('~'),
                        Some('1') => unescaped.push('/'),
                        _ => return Err(format!("`{pointer}` is not a JSON pointer: `~` must be followed by 0 or 1")),
                    },
                    other => unescaped.push(other),
                }
            }
            Ok(unescaped)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_split_into_unescaped_tokens() {
        let cases: [(&str, Result<Vec<&str>, ()>); 8] = [
            ("", Ok(vec![])),
            ("/", Ok(vec![""])),
            ("/e", Ok(vec!["e"])),
            ("/data/0/px", Ok(vec!["data", "0", "px"])),
            ("/a~1b/c~0d", Ok(vec!["a/b", "c~d"])),
            ("e", Err(())),
            ("/a~2", Err(())),
            ("/a~", Err(())),
        ];
        for (pointer, expected) in cases {
            let tokens = json_pointer_tokens(pointer);
            match expected {
                Ok(expected) => {
                    assert_eq!(tokens.as_deref().map(|t| t.iter().map(String::as_str).collect::<Vec<_>>()), Ok(expected), "{pointer}")
                }
                Err(()) => assert!(tokens.is_err(), "{pointer}: {tokens:?}"),
            }
        }
    }

    #[test]
    fn templates_expand_symbols_ids_and_one_message_per_symbol() {
        let feed = JsonFeedConfig {
            venue: "v".into(),
            subscribe: vec![
                r#"{"op":"subscribe","id":{id},"args":{symbols}}"#.into(),
                r#"{"method":"SUBSCRIBE","params":["{symbol}@trade"],"id":{id}}"#.into(),
                r#"{"op":"auth"}"#.into(),
            ],
            heartbeat: None,
            ack: None,
            ignore: Vec::new(),
            ignore_text: Vec::new(),
            records: Vec::new(),
        };
        let mut next_id = 7;
        let symbols = ["btcusdt".to_string(), "we\"ird{id}".to_string()];
        let messages = feed.subscribe_messages(&symbols, &mut next_id);
        assert_eq!(
            messages,
            vec![
                (7, r#"{"op":"subscribe","id":7,"args":["btcusdt","we\"ird{id}"]}"#.to_string()),
                (8, r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":8}"#.to_string()),
                (9, r#"{"method":"SUBSCRIBE","params":["we\"ird{id}@trade"],"id":9}"#.to_string()),
                (10, r#"{"op":"auth"}"#.to_string()),
            ]
        );
        assert_eq!(next_id, 11);
        for (_, message) in messages {
            serde_json::from_str::<Value>(&message).expect("valid JSON");
        }
    }
}
