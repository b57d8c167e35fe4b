//! One JSON element → one record, by a compiled rule. Numbers are JSON numbers or
//! decimal strings; epoch times are converted exactly (integers and decimal strings in
//! integer arithmetic); a missing or invalid field is a rejection that names the record
//! type, the field and its pointer: `ticks.price: /p is missing`.

use serde_json::Value;

use super::pointer::Pointer;
use super::rules::{same_value, Fields, IntervalSource, Rule, SideRule, TimeSource};
use crate::config::TimeFormat;
use crate::record::ToCompactString;
use crate::record::{Bar, Quote, Record, RejectReason, Rejection, Side, Tick, Timestamp};
use crate::source::values::{is_valid_key, json_number};

/// A record, with the venue's symbol and the sequence number its rule reads, if any.
#[derive(Debug)]
pub struct Converted<'a> {
    pub record: Record,
    pub venue_symbol: &'a str,
    pub sequence: Option<u64>,
}

impl Rule {
    /// Converts `element` (the message, or one element of its `each` array).
    pub fn convert<'a>(&self, venue: &str, element: &'a Value, received_at: Timestamp) -> Result<Converted<'a>, Rejection> {
        let field = |name: &'static str, pointer| Field { rule: self, name, pointer, element };
        let venue_symbol = field("symbol", &self.symbol.pointer).key()?;
        let symbol = self.symbol.rewrite(venue_symbol);
        let time = match &self.time {
            TimeSource::Received => received_at,
            TimeSource::Field(pointer, format) => field("time", pointer).time(*format)?,
        };
        let record = match &self.fields {
            Fields::Tick { price, size, side, trade_id } => Record::Tick(Tick {
                time,
                received_at,
                venue: venue.to_compact_string(),
                symbol: symbol.into(),
                price: field("price", price).number()?,
                size: field("size", size).number()?,
                side: match side {
                    Some(side) => field("side", &side.pointer).side(side)?,
                    None => Side::Unknown,
                },
                trade_id: trade_id.as_ref().map(|pointer| field("trade_id", pointer).identifier()).transpose()?.flatten().map(Into::into),
            }),
            Fields::Quote { bid_price, bid_size, ask_price, ask_size } => Record::Quote(Quote {
                time,
                received_at,
                venue: venue.to_string(),
                symbol,
                bid_price: field("bid_price", bid_price).number()?,
                bid_size: field("bid_size", bid_size).number()?,
                ask_price: field("ask_price", ask_price).number()?,
                ask_size: field("ask_size", ask_size).number()?,
            }),
            Fields::Bar { interval, open, high, low, close, volume, vwap, trades } => {
                let bar = Bar {
                    time,
                    received_at,
                    venue: venue.to_string(),
                    symbol,
                    interval: match interval {
                        IntervalSource::Fixed(interval) => interval.clone(),
                        IntervalSource::Field(pointer) => field("interval", pointer).key()?.to_string(),
                    },
                    open: field("open", open).number()?,
                    high: field("high", high).number()?,
                    low: field("low", low).number()?,
                    close: field("close", close).number()?,
                    volume: field("volume", volume).non_negative()?,
                    vwap: vwap.as_ref().map(|pointer| field("vwap", pointer).optional_number()).transpose()?.flatten(),
                    trades: trades.as_ref().map(|pointer| field("trades", pointer).count()).transpose()?.flatten(),
                };
                if bar.high < bar.low || bar.high < bar.open.max(bar.close) || bar.low > bar.open.min(bar.close) {
                    return Err(Rejection::new(
                        RejectReason::InconsistentBar,
                        format!(
                            "{}: high {} and low {} must bound open {} and close {}",
                            self.label, bar.high, bar.low, bar.open, bar.close
                        ),
                    ));
                }
                Record::Bar(bar)
            }
        };
        let sequence = self.sequence.as_ref().map(|pointer| field("sequence", pointer).sequence()).transpose()?;
        Ok(Converted { record, venue_symbol, sequence })
    }
}

/// One field of one element, for reading it and naming it in rejections.
struct Field<'r, 'a> {
    rule: &'r Rule,
    name: &'static str,
    pointer: &'r Pointer,
    element: &'a Value,
}

impl<'a> Field<'_, 'a> {
    /// The value, absent when missing or null.
    fn optional(&self) -> Option<&'a Value> {
        self.pointer.resolve(self.element).filter(|value| !value.is_null())
    }

    fn required(&self) -> Result<&'a Value, Rejection> {
        match self.pointer.resolve(self.element) {
            Some(Value::Null) => Err(self.rejection(RejectReason::MissingField, "is null".into())),
            Some(value) => Ok(value),
            None => Err(self.rejection(RejectReason::MissingField, "is missing".into())),
        }
    }

    fn rejection(&self, code: RejectReason, problem: String) -> Rejection {
        Rejection::new(code, format!("{}.{}: {} {problem}", self.rule.label, self.name, self.pointer))
    }

    fn invalid(&self, value: &Value, expected: &str) -> Rejection {
        self.rejection(RejectReason::InvalidField, format!("is {}, expected {expected}", shown(value)))
    }

    /// A symbol or interval: a non-empty string without control characters.
    fn key(&self) -> Result<&'a str, Rejection> {
        let value = self.required()?;
        match value {
            Value::String(text) if is_valid_key(text) => Ok(text),
            other => Err(self.invalid(other, "a non-empty string of at most 128 bytes without control characters")),
        }
    }

    /// A trade id: a string like a symbol, or an integer written as its digits.
    fn identifier(&self) -> Result<Option<String>, Rejection> {
        match self.optional() {
            None => Ok(None),
            Some(Value::String(text)) if is_valid_key(text) => Ok(Some(text.clone())),
            Some(Value::Number(number)) if number.is_i64() || number.is_u64() => Ok(Some(number.to_string())),
            Some(other) => Err(self.invalid(other, "a string or an integer")),
        }
    }

    fn number(&self) -> Result<f64, Rejection> {
        let value = self.required()?;
        json_number(value).map_err(|_| self.invalid(value, "a finite number or decimal string"))
    }

    fn optional_number(&self) -> Result<Option<f64>, Rejection> {
        self.optional().map(|value| json_number(value).map_err(|_| self.invalid(value, "a finite number or decimal string"))).transpose()
    }

    fn non_negative(&self) -> Result<f64, Rejection> {
        let value = self.required()?;
        json_number(value).ok().filter(|number| *number >= 0.0).ok_or_else(|| self.invalid(value, "a number ≥ 0 or a decimal string"))
    }

    /// A count ≥ 0: an integer, a float without fraction, or a string of digits.
    fn count(&self) -> Result<Option<i64>, Rejection> {
        let Some(value) = self.optional() else { return Ok(None) };
        let count = match value {
            Value::Number(number) => number
                .as_i64()
                .or_else(|| number.as_f64().filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15).map(|float| float as i64)),
            Value::String(text) => text.parse::<i64>().ok(),
            _ => None,
        };
        match count {
            Some(count) if count >= 0 => Ok(Some(count)),
            _ => Err(self.invalid(value, "a non-negative integer")),
        }
    }

    /// A sequence number: a non-negative integer or a string of digits.
    fn sequence(&self) -> Result<u64, Rejection> {
        let value = self.required()?;
        match value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| self.invalid(value, "a non-negative integer or a string of digits"))
    }

    fn side(&self, rule: &SideRule) -> Result<Side, Rejection> {
        let Some(value) = self.optional() else { return Ok(Side::Unknown) };
        let listed = |values: &[Value]| values.iter().any(|candidate| same_value(value, candidate));
        if listed(&rule.buy) {
            Ok(Side::Buy)
        } else if listed(&rule.sell) {
            Ok(Side::Sell)
        } else if listed(&rule.unknown) {
            Ok(Side::Unknown)
        } else {
            let expected: Vec<String> = rule.buy.iter().chain(&rule.sell).chain(&rule.unknown).map(Value::to_string).collect();
            Err(self.invalid(value, &format!("one of {}", expected.join(", "))))
        }
    }

    fn time(&self, format: TimeFormat) -> Result<Timestamp, Rejection> {
        let value = self.required()?;
        let Some(unit) = format.epoch_unit() else {
            return match value {
                Value::String(text) => {
                    Timestamp::parse_rfc3339(text).ok_or_else(|| self.invalid(value, "an RFC 3339 time like 2026-11-22T12:00:00.123Z"))
                }
                other => Err(self.invalid(other, "an RFC 3339 time like 2026-11-22T12:00:00.123Z")),
            };
        };
        let converted = match value {
            Value::Number(number) => match number.as_i64() {
                Some(integer) => Timestamp::from_unix(integer, unit),
                // Floats through their shortest decimal form, which is the text the
                // venue sent whenever that text had at most 17 significant digits.
                None => Timestamp::parse_unix_decimal(&number.to_string(), unit),
            },
            Value::String(text) => match Timestamp::parse_unix_decimal(text, unit) {
                None if text.parse::<f64>().is_ok_and(f64::is_finite) => None,
                None => return Err(self.invalid(value, &format!("epoch {} as a number or decimal string", unit_name(format)))),
                converted => converted,
            },
            other => return Err(self.invalid(other, &format!("epoch {} as a number or decimal string", unit_name(format)))),
        };
        converted.ok_or_else(|| {
            self.rejection(RejectReason::TimeOutOfRange, format!("is {}, out of range as epoch {}", shown(value), unit_name(format)))
        })
    }
}

fn unit_name(format: TimeFormat) -> &'static str {
    match format {
        TimeFormat::Seconds => "seconds",
        TimeFormat::Millis => "milliseconds",
        TimeFormat::Micros => "microseconds",
        TimeFormat::Nanos => "nanoseconds",
        TimeFormat::Rfc3339 | TimeFormat::Received => "time",
    }
}

/// A value as rejections show it, cut to 40 characters.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 40 {
        return text;
    }
    format!("{}…", text.chars().take(40).collect::<String>())
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
