//! The `[sources.json]` section compiled once, when the adapter is built: pointers
//! split into tokens, expected values gathered, each record rule's fields resolved to
//! the pointers of its table. `check-config` has already refused anything that would
//! not compile; compiling still returns an error rather than assume it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::pointer::Pointer;
use crate::config::{Conditions as ConditionsConfig, RecordKind, RecordRule, SideValues, SymbolRewrite, TimeFormat};
use crate::source::symbols::split_quote_asset;

/// Conditions that must all hold for a message.
#[derive(Debug)]
pub struct Conditions {
    /// Pointer and the values it may have (any of them).
    equals: Vec<(Pointer, Vec<Value>)>,
    present: Vec<Pointer>,
}

impl Conditions {
    pub fn compile(equals: &BTreeMap<String, Value>, present: &[String]) -> Result<Conditions, String> {
        let equals = equals
            .iter()
            .map(|(pointer, expected)| {
                let values = match expected {
                    Value::Array(values) => values.clone(),
                    value => vec![value.clone()],
                };
                Ok((Pointer::parse(pointer)?, values))
            })
            .collect::<Result<_, String>>()?;
        let present = present.iter().map(|pointer| Pointer::parse(pointer)).collect::<Result<_, _>>()?;
        Ok(Conditions { equals, present })
    }

    pub fn from_config(config: &ConditionsConfig) -> Result<Conditions, String> {
        Self::compile(&config.equals, &config.present)
    }

    /// Whether every condition holds for `message`.
    pub fn hold(&self, message: &Value) -> bool {
        self.equals.iter().all(|(pointer, expected)| {
            pointer.resolve(message).is_some_and(|value| expected.iter().any(|candidate| same_value(value, candidate)))
        }) && self.present.iter().all(|pointer| pointer.resolve(message).is_some())
    }
}

/// JSON equality, with numbers compared by value: `1` and `1.0` are equal, and an
/// integer never equals a float that merely rounds to it.
pub fn same_value(value: &Value, expected: &Value) -> bool {
    match (value, expected) {
        (Value::Number(left), Value::Number(right)) => match (left.as_i64(), right.as_i64(), left.as_u64(), right.as_u64()) {
            (Some(left), Some(right), _, _) => left == right,
            (_, _, Some(left), Some(right)) => left == right,
            _ if left.is_f64() || right.is_f64() => left.as_f64() == right.as_f64(),
            _ => false,
        },
        (left, right) => left == right,
    }
}

/// Where a rule's event time comes from.
#[derive(Debug)]
pub enum TimeSource {
    Field(Pointer, TimeFormat),
    /// Our receipt time.
    Received,
}

/// A tick's side: the field and which of its values mean what.
#[derive(Debug)]
pub struct SideRule {
    pub pointer: Pointer,
    pub buy: Vec<Value>,
    pub sell: Vec<Value>,
    pub unknown: Vec<Value>,
}

/// The symbol field and how it is rewritten.
#[derive(Debug)]
pub struct SymbolRule {
    pub pointer: Pointer,
    rewrite: SymbolRewrite,
}

impl SymbolRule {
    /// The venue's symbol as stored: uppercased, the separator replaced by `-`, split on
    /// its quote asset, as configured and in that order.
    pub fn rewrite(&self, venue_symbol: &str) -> String {
        let mut symbol = if self.rewrite.uppercase { venue_symbol.to_ascii_uppercase() } else { venue_symbol.to_string() };
        if let Some(separator) = &self.rewrite.separator {
            symbol = symbol.replace(separator.as_str(), "-");
        }
        if self.rewrite.split_quote && !symbol.contains('-') {
            symbol = split_quote_asset(&symbol);
        }
        symbol
    }
}

/// A bar's interval: from the message, or the same for every bar of the rule.
#[derive(Debug)]
pub enum IntervalSource {
    Field(Pointer),
    Fixed(String),
}

/// The fields of one table, each with its pointer.
#[derive(Debug)]
pub enum Fields {
    Tick {
        price: Pointer,
        size: Pointer,
        side: Option<SideRule>,
        trade_id: Option<Pointer>,
    },
    Quote {
        bid_price: Pointer,
        bid_size: Pointer,
        ask_price: Pointer,
        ask_size: Pointer,
    },
    Bar {
        interval: IntervalSource,
        open: Pointer,
        high: Pointer,
        low: Pointer,
        close: Pointer,
        volume: Pointer,
        vwap: Option<Pointer>,
        trades: Option<Pointer>,
    },
}

/// One compiled `[[sources.json.records]]` rule.
#[derive(Debug)]
pub struct Rule {
    /// `ticks`, or `ticks[name]` for a named rule: how rejections name it.
    pub label: String,
    /// The name of its stream in gap events: the rule's name, or the table.
    pub stream: String,
    pub conditions: Conditions,
    pub each: Option<Pointer>,
    pub symbol: SymbolRule,
    pub time: TimeSource,
    pub fields: Fields,
    pub sequence: Option<Pointer>,
}

impl Rule {
    pub fn compile(config: &RecordRule) -> Result<Rule, String> {
        let kind = config.table;
        let label = match &config.name {
            Some(name) => format!("{}[{name}]", kind.name()),
            None => kind.name().to_string(),
        };
        let optional = |field: &str| config.fields.get(field).map(|pointer| Pointer::parse(pointer)).transpose();
        let required = |field: &str| optional(field)?.ok_or_else(|| format!("{label}: no JSON pointer for `{field}`"));
        let time = match (&config.fields.time, config.time_format) {
            (None, Some(TimeFormat::Received)) => TimeSource::Received,
            (Some(pointer), Some(format)) if format != TimeFormat::Received => TimeSource::Field(Pointer::parse(pointer)?, format),
            _ => return Err(format!("{label}: expected fields.time with its time_format, or time_format = \"received\"")),
        };
        let fields = match kind {
            RecordKind::Ticks => Fields::Tick {
                price: required("price")?,
                size: required("size")?,
                side: optional("side")?.map(|pointer| side_rule(pointer, config.side.as_ref())),
                trade_id: optional("trade_id")?,
            },
            RecordKind::Quotes => Fields::Quote {
                bid_price: required("bid_price")?,
                bid_size: required("bid_size")?,
                ask_price: required("ask_price")?,
                ask_size: required("ask_size")?,
            },
            RecordKind::Bars => Fields::Bar {
                interval: match (optional("interval")?, &config.interval) {
                    (Some(pointer), None) => IntervalSource::Field(pointer),
                    (None, Some(interval)) => IntervalSource::Fixed(interval.clone()),
                    _ => return Err(format!("{label}: expected fields.interval or interval")),
                },
                open: required("open")?,
                high: required("high")?,
                low: required("low")?,
                close: required("close")?,
                volume: required("volume")?,
                vwap: optional("vwap")?,
                trades: optional("trades")?,
            },
        };
        Ok(Rule {
            stream: config.name.clone().unwrap_or_else(|| kind.name().to_string()),
            conditions: Conditions::compile(&config.equals, &config.present)?,
            each: config.each.as_deref().map(Pointer::parse).transpose()?,
            symbol: SymbolRule { pointer: required("symbol")?, rewrite: config.symbol_rewrite.clone().unwrap_or_default() },
            time,
            fields,
            sequence: config.sequence.as_deref().map(Pointer::parse).transpose()?,
            label,
        })
    }
}

fn side_rule(pointer: Pointer, values: Option<&SideValues>) -> SideRule {
    match values {
        Some(values) => {
            let [(_, buy), (_, sell), (_, unknown)] = values.lists();
            SideRule { pointer, buy, sell, unknown }
        }
        None => SideRule { pointer, buy: vec!["buy".into()], sell: vec!["sell".into()], unknown: Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_all_hold_with_any_of_lists_and_presence() {
        let equals: BTreeMap<String, Value> =
            [("/e".to_string(), json!("trade")), ("/k/x".to_string(), json!(true)), ("/v".to_string(), json!([1, "one"]))]
                .into_iter()
                .collect();
        let conditions = Conditions::compile(&equals, &["/u".to_string()]).unwrap();
        let cases = [
            (json!({"e":"trade","k":{"x":true},"v":1,"u":null}), true),
            (json!({"e":"trade","k":{"x":true},"v":1.0,"u":5}), true),
            (json!({"e":"trade","k":{"x":true},"v":"one","u":5}), true),
            (json!({"e":"trade","k":{"x":true},"v":2,"u":5}), false),
            (json!({"e":"trade","k":{"x":true},"v":1}), false),
            (json!({"e":"trade","k":{"x":"true"},"v":1,"u":5}), false),
            (json!({"e":"Trade","k":{"x":true},"v":1,"u":5}), false),
            (json!({"k":{"x":true},"v":1,"u":5}), false),
            (json!([{"e":"trade"}]), false),
            (json!("trade"), false),
        ];
        for (message, holds) in cases {
            assert_eq!(conditions.hold(&message), holds, "{message}");
        }
        let whole = Conditions::compile(&[(String::new(), json!("pong"))].into_iter().collect(), &[]).unwrap();
        assert!(whole.hold(&json!("pong")) && !whole.hold(&json!({"op":"pong"})));
    }

    #[test]
    fn numbers_compare_by_value() {
        let cases = [
            (json!(1), json!(1), true),
            (json!(1), json!(1.0), true),
            (json!(-1), json!(-1), true),
            (json!(u64::MAX), json!(u64::MAX), true),
            (json!(9_007_199_254_740_993u64), json!(9_007_199_254_740_992u64), false),
            (json!(1), json!("1"), false),
            (json!(true), json!(true), true),
            (json!(1.5), json!(1.5), true),
        ];
        for (left, right, equal) in cases {
            assert_eq!(same_value(&left, &right), equal, "{left} {right}");
        }
    }

    #[test]
    fn symbols_are_rewritten_in_order() {
        let rule = |uppercase: bool, separator: Option<&str>, split_quote: bool| SymbolRule {
            pointer: Pointer::parse("/s").unwrap(),
            rewrite: SymbolRewrite { uppercase, separator: separator.map(String::from), split_quote },
        };
        let cases = [
            (rule(false, None, false), "btcusdt", "btcusdt"),
            (rule(true, None, false), "btcusdt", "BTCUSDT"),
            (rule(true, None, true), "btcusdt", "BTC-USDT"),
            (rule(false, None, true), "ETHBTC", "ETH-BTC"),
            (rule(false, Some("/"), false), "BTC/USD", "BTC-USD"),
            (rule(true, Some("_"), true), "btc_usdt", "BTC-USDT"),
            (rule(false, None, true), "XYZ", "XYZ"),
        ];
        for (rule, venue_symbol, stored) in cases {
            assert_eq!(rule.rewrite(venue_symbol), stored, "{venue_symbol}");
        }
    }
}
