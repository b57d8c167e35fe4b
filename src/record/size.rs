//! How many bytes a record holds in memory, estimated: its fixed size plus the heap its
//! strings, vectors and JSON values take. The lanes and batches are bounded by this sum
//! (DESIGN §9), so it errs on the high side for JSON, whose tree of values takes several
//! times the bytes of its text.

use std::mem::size_of;

use serde_json::Value;

use super::{
    Bar, BookDelta, BookSnapshot, CellValue, CustomRow, DeadLetter, FeedEvent, FundingRate, IndicatorValue, Liquidation, MarkPrice,
    OpenInterest, OptionQuote, Quote, RowRecord, ShortText, Signal, TechnicalIndicators, Tick, Ticker,
};

/// A value's estimated size in memory, in bytes (its own size plus what it owns).
pub trait ApproxBytes {
    fn approx_bytes(&self) -> usize;
}

/// What one allocation costs beyond its bytes: the allocator's header and rounding.
const ALLOCATION_OVERHEAD: usize = 16;

fn string_heap(text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        text.len() + ALLOCATION_OVERHEAD
    }
}

fn optional_string_heap(text: &Option<String>) -> usize {
    text.as_deref().map_or(0, string_heap)
}

/// A [`ShortText`]'s heap: none while it is kept inline.
fn short_text_heap(text: &ShortText) -> usize {
    if text.is_heap_allocated() {
        string_heap(text)
    } else {
        0
    }
}

/// The heap a JSON value owns (its own `Value` slot is counted by its owner).
pub fn json_heap_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(text) => string_heap(text),
        Value::Array(items) => ALLOCATION_OVERHEAD + items.len() * size_of::<Value>() + items.iter().map(json_heap_bytes).sum::<usize>(),
        // A map entry: the key's String, the value slot, and the map's own node overhead.
        Value::Object(map) => {
            ALLOCATION_OVERHEAD
                + map
                    .iter()
                    .map(|(key, value)| size_of::<String>() + string_heap(key) + size_of::<Value>() + 16 + json_heap_bytes(value))
                    .sum::<usize>()
        }
    }
}

impl ApproxBytes for Tick {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + short_text_heap(&self.venue) + short_text_heap(&self.symbol) + self.trade_id.as_ref().map_or(0, short_text_heap)
    }
}

impl ApproxBytes for Quote {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol)
    }
}

impl ApproxBytes for Ticker {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol)
    }
}

impl ApproxBytes for Bar {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol) + string_heap(&self.interval)
    }
}

impl ApproxBytes for OptionQuote {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol) + string_heap(&self.underlying)
    }
}

impl ApproxBytes for TechnicalIndicators {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + string_heap(&self.venue)
            + string_heap(&self.symbol)
            + string_heap(&self.interval)
            + (self.support_levels.len() + self.resistance_levels.len()) * size_of::<f64>()
            + 2 * ALLOCATION_OVERHEAD
    }
}

impl ApproxBytes for IndicatorValue {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + optional_string_heap(&self.venue)
            + string_heap(&self.symbol)
            + string_heap(&self.interval)
            + string_heap(&self.name)
    }
}

impl ApproxBytes for Signal {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + string_heap(&self.source)
            + string_heap(&self.category)
            + optional_string_heap(&self.symbol)
            + optional_string_heap(&self.direction)
            + optional_string_heap(&self.impact)
            + optional_string_heap(&self.content)
            + self.payload.as_ref().map_or(0, |payload| string_heap(payload.as_str()))
    }
}

impl ApproxBytes for BookDelta {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol)
    }
}

impl ApproxBytes for BookSnapshot {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + string_heap(&self.venue)
            + string_heap(&self.symbol)
            + (self.bid_prices.len() + self.bid_sizes.len() + self.ask_prices.len() + self.ask_sizes.len()) * size_of::<f64>()
            + 4 * ALLOCATION_OVERHEAD
    }
}

impl ApproxBytes for FundingRate {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol) + optional_string_heap(&self.interval)
    }
}

impl ApproxBytes for OpenInterest {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol)
    }
}

impl ApproxBytes for MarkPrice {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol)
    }
}

impl ApproxBytes for Liquidation {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.venue) + string_heap(&self.symbol) + optional_string_heap(&self.order_id)
    }
}

impl ApproxBytes for RowRecord {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + string_heap(&self.table)
            + string_heap(&self.json)
            + string_heap(&self.key)
            + self.columns.iter().map(|column| size_of::<String>() + string_heap(column)).sum::<usize>()
            + self
                .fields
                .iter()
                .map(|(key, value)| size_of::<String>() + string_heap(key) + size_of::<Value>() + 16 + json_heap_bytes(value))
                .sum::<usize>()
    }
}

impl ApproxBytes for FeedEvent {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.source) + json_heap_bytes(&self.detail)
    }
}

impl ApproxBytes for DeadLetter {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + string_heap(&self.source) + string_heap(&self.detail) + string_heap(&self.raw)
    }
}

impl ApproxBytes for CellValue {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>()
            + match self {
                CellValue::Text(text) | CellValue::Jsonb(text) => string_heap(text),
                CellValue::TextArray(items) => {
                    ALLOCATION_OVERHEAD + items.iter().map(|item| size_of::<String>() + string_heap(item)).sum::<usize>()
                }
                CellValue::Float8Array(items) => ALLOCATION_OVERHEAD + items.len() * size_of::<f64>(),
                _ => 0,
            }
    }
}

impl ApproxBytes for CustomRow {
    fn approx_bytes(&self) -> usize {
        size_of::<Self>() + ALLOCATION_OVERHEAD + self.values.iter().map(ApproxBytes::approx_bytes).sum::<usize>()
    }
}

/// Plain values (the pipeline's unit tests queue numbers).
macro_rules! fixed_size {
    ($($type:ty),*) => {
        $(impl ApproxBytes for $type {
            fn approx_bytes(&self) -> usize {
                size_of::<Self>()
            }
        })*
    };
}
fixed_size!(u32, u64, usize);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Timestamp;

    #[test]
    fn json_counts_its_tree_not_only_its_text() {
        let text = format!("[{}0]", "0,".repeat(10_000));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(json_heap_bytes(&value) >= 10_001 * size_of::<Value>(), "a value slot per element");
        // A signal's payload is kept as its text.
        let signal = Signal {
            time: Timestamp(0),
            received_at: Timestamp(0),
            source: "s".into(),
            category: "c".into(),
            symbol: None,
            direction: None,
            strength: None,
            confidence: None,
            impact: None,
            content: Some("x".repeat(900_000)),
            payload: Some(crate::record::JsonText::from_checked(text.clone())),
        };
        assert!(signal.approx_bytes() > 900_000 + text.len());
    }

    #[test]
    fn strings_count_their_length() {
        let letter = DeadLetter::new("push", "invalid_json", "detail", &"r".repeat(1_000));
        assert!((1_000..1_400).contains(&(letter.approx_bytes() - size_of::<DeadLetter>())));
    }
}
