//! The push protocol (DESIGN §5), frame text → records. Pure functions, no I/O.
//!
//! A frame is one JSON object or a JSON array of objects. Each object has a `type`
//! (`tick`, `quote`, `bar` in this version) and that type's fields. Times are RFC 3339
//! strings or integer epoch nanoseconds; numbers are JSON numbers or decimal strings.
//! Every rejection names the field and what was expected.
//!
//! Example frame: `[{"type":"tick","venue":"binance","symbol":"BTCUSDT",
//! "time":"2026-11-22T12:00:00.123Z","price":"97000.5","size":0.01,"side":"buy"}]`

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::record::{Bar, Quote, Record, Rejection, Side, Tick, Timestamp};

/// Longest accepted venue, symbol and id strings, in bytes.
const MAX_KEY_BYTES: usize = 128;
/// Integer times below this many nanoseconds (1970-04-26) are almost surely in a
/// coarser unit; they are refused with a hint rather than stored in 1970.
const MIN_PLAUSIBLE_EPOCH_NANOS: i64 = 10_000_000_000_000_000;

/// One element of a frame, with its position and raw text.
#[derive(Debug)]
pub struct ParsedElement<'a> {
    pub index: usize,
    pub raw: &'a str,
    pub result: Result<Record, Rejection>,
}

/// The answer to one frame.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Ack {
    pub accepted: usize,
    pub rejected: Vec<AckRejection>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AckRejection {
    pub index: usize,
    pub reason: String,
}

/// Splits a frame into elements and parses each. A frame that is not valid JSON as a
/// whole is one rejection.
pub fn parse_frame(text: &str, received_at: Timestamp) -> Result<Vec<ParsedElement<'_>>, Rejection> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(Rejection::new("empty_frame", "the frame holds no JSON"));
    }
    if trimmed.starts_with('[') {
        let elements: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|error| Rejection::new("invalid_json", format!("the frame's array is not valid JSON: {error}")))?;
        Ok(elements
            .into_iter()
            .enumerate()
            .map(|(index, raw)| ParsedElement { index, raw: raw.get(), result: parse_element(raw.get(), received_at) })
            .collect())
    } else {
        Ok(vec![ParsedElement { index: 0, raw: text, result: parse_element(text, received_at) }])
    }
}

fn parse_element(raw: &str, received_at: Timestamp) -> Result<Record, Rejection> {
    let value: Value =
        serde_json::from_str(raw).map_err(|error| Rejection::new("invalid_json", format!("not valid JSON: {error}")))?;
    let Value::Object(map) = value else {
        return Err(Rejection::new("not_an_object", format!("expected a JSON object, got {}", kind_of(&value))));
    };
    let kind = match map.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => return Err(Rejection::new("missing_type", format!("`type` must be a string, got {}", kind_of(other)))),
        None => return Err(Rejection::new("missing_type", "the object has no `type` field")),
    };
    let fields = Fields { map: &map };
    match kind {
        "tick" => parse_tick(&fields, received_at).map(Record::Tick),
        "quote" => parse_quote(&fields, received_at).map(Record::Quote),
        "bar" => parse_bar(&fields, received_at).map(Record::Bar),
        "ticker" | "option_quote" | "indicator" | "signal" | "row" => Err(Rejection::new(
            "unsupported_type",
            format!("`{kind}` records are not accepted by this version (tick, quote, bar are)"),
        )),
        other => Err(Rejection::new(
            "unknown_type",
            format!("unknown type `{}`; expected tick, quote or bar", truncate(other, 64)),
        )),
    }
}

const TICK_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "price", "size", "side", "trade_id"];
const QUOTE_FIELDS: &[&str] = &["type", "id", "venue", "symbol", "time", "bid_price", "bid_size", "ask_price", "ask_size"];
const BAR_FIELDS: &[&str] = &[
    "type", "id", "venue", "symbol", "time", "interval", "open", "high", "low", "close", "volume", "vwap", "trades",
];

fn parse_tick(fields: &Fields<'_>, received_at: Timestamp) -> Result<Tick, Rejection> {
    fields.only(TICK_FIELDS, "tick")?;
    fields.optional_key("id")?;
    Ok(Tick {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        price: fields.number("price")?,
        size: fields.non_negative("size")?,
        side: fields.side("side")?,
        trade_id: fields.optional_key("trade_id")?,
    })
}

fn parse_quote(fields: &Fields<'_>, received_at: Timestamp) -> Result<Quote, Rejection> {
    fields.only(QUOTE_FIELDS, "quote")?;
    fields.optional_key("id")?;
    Ok(Quote {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        bid_price: fields.number("bid_price")?,
        bid_size: fields.non_negative("bid_size")?,
        ask_price: fields.number("ask_price")?,
        ask_size: fields.non_negative("ask_size")?,
    })
}

fn parse_bar(fields: &Fields<'_>, received_at: Timestamp) -> Result<Bar, Rejection> {
    fields.only(BAR_FIELDS, "bar")?;
    fields.optional_key("id")?;
    let bar = Bar {
        time: fields.time("time")?,
        received_at,
        venue: fields.key("venue")?,
        symbol: fields.key("symbol")?,
        interval: fields.interval("interval")?,
        open: fields.number("open")?,
        high: fields.number("high")?,
        low: fields.number("low")?,
        close: fields.number("close")?,
        volume: fields.non_negative("volume")?,
        vwap: fields.optional_number("vwap")?,
        trades: fields.optional_count("trades")?,
    };
    if bar.high < bar.low || bar.high < bar.open.max(bar.close) || bar.low > bar.open.min(bar.close) {
        return Err(Rejection::new(
            "inconsistent_bar",
            format!(
                "high {} and low {} must bound open {} and close {}",
                bar.high, bar.low, bar.open, bar.close
            ),
        ));
    }
    Ok(bar)
}

struct Fields<'a> {
    map: &'a Map<String, Value>,
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn invalid(name: &str, expected: &str, got: &Value) -> Rejection {
    let shown = match got {
        Value::String(text) => format!("\"{}\"", truncate(text, 40)),
        other => truncate(&other.to_string(), 40),
    };
    Rejection::new("invalid_field", format!("`{name}`: expected {expected}, got {shown}"))
}

impl Fields<'_> {
    fn only(&self, allowed: &[&str], kind: &str) -> Result<(), Rejection> {
        match self.map.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(unknown) => Err(Rejection::new(
                "unknown_field",
                format!("`{}` is not a field of {kind}; expected {}", truncate(unknown, 64), allowed[1..].join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    fn required(&self, name: &str) -> Result<&Value, Rejection> {
        self.present(name).ok_or_else(|| Rejection::new("missing_field", format!("`{name}` is required")))
    }

    /// A required identifier: a non-empty string without control characters.
    fn key(&self, name: &str) -> Result<String, Rejection> {
        let value = self.required(name)?;
        let Value::String(text) = value else {
            return Err(invalid(name, "a string", value));
        };
        check_key(name, text, value)
    }

    /// An optional identifier; integers (numeric trade ids) are taken as their digits.
    fn optional_key(&self, name: &str) -> Result<Option<String>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(value @ Value::String(text)) => check_key(name, text, value).map(Some),
            Some(Value::Number(number)) if number.is_i64() || number.is_u64() => Ok(Some(number.to_string())),
            Some(other) => Err(invalid(name, "a string or an integer", other)),
        }
    }

    fn number(&self, name: &str) -> Result<f64, Rejection> {
        to_number(name, self.required(name)?)
    }

    fn optional_number(&self, name: &str) -> Result<Option<f64>, Rejection> {
        self.present(name).map(|value| to_number(name, value)).transpose()
    }

    fn non_negative(&self, name: &str) -> Result<f64, Rejection> {
        let value = self.required(name)?;
        let number = to_number(name, value)?;
        if number < 0.0 {
            return Err(invalid(name, "a number ≥ 0", value));
        }
        Ok(number)
    }

    fn optional_count(&self, name: &str) -> Result<Option<i64>, Rejection> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => match value {
                Value::Number(number) => number.as_i64().filter(|count| *count >= 0).map(Some),
                Value::String(text) => text.parse::<i64>().ok().filter(|count| *count >= 0).map(Some),
                _ => None,
            }
            .ok_or_else(|| invalid(name, "a non-negative integer", value)),
        }
    }

    fn time(&self, name: &str) -> Result<Timestamp, Rejection> {
        let value = self.required(name)?;
        match value {
            Value::String(text) => Timestamp::parse_rfc3339(text)
                .ok_or_else(|| invalid(name, "an RFC 3339 time like 2026-11-22T12:00:00.123Z", value)),
            Value::Number(number) => {
                let nanos = number.as_i64().ok_or_else(|| invalid(name, "integer epoch nanoseconds", value))?;
                if nanos < MIN_PLAUSIBLE_EPOCH_NANOS && nanos >= 0 {
                    return Err(Rejection::new(
                        "time_out_of_range",
                        format!(
                            "`{name}`: {nanos} as epoch nanoseconds is {}; send nanoseconds (this looks like seconds, milliseconds or microseconds)",
                            Timestamp::from_unix_nanos(nanos)
                        ),
                    ));
                }
                Ok(Timestamp::from_unix_nanos(nanos))
            }
            other => Err(invalid(name, "an RFC 3339 string or integer epoch nanoseconds", other)),
        }
    }

    fn side(&self, name: &str) -> Result<Side, Rejection> {
        match self.present(name) {
            None => Ok(Side::Unknown),
            Some(Value::String(text)) if text == "buy" => Ok(Side::Buy),
            Some(Value::String(text)) if text == "sell" => Ok(Side::Sell),
            Some(other) => Err(invalid(name, "\"buy\" or \"sell\"", other)),
        }
    }

    /// A bar length: digits then a unit (s, m, h, d, w, mo, y), e.g. `1m`, `4h`, `1d`.
    fn interval(&self, name: &str) -> Result<String, Rejection> {
        let text = self.key(name)?;
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let unit = &text[digits..];
        let valid = digits > 0 && !text.starts_with('0') && ["s", "m", "h", "d", "w", "mo", "y"].contains(&unit);
        if !valid {
            return Err(invalid(name, "a length like 1m, 5m, 1h, 1d (units s, m, h, d, w, mo, y)", &Value::String(text)));
        }
        Ok(text)
    }
}

fn check_key(name: &str, text: &str, value: &Value) -> Result<String, Rejection> {
    if text.is_empty() || text.len() > MAX_KEY_BYTES || text.chars().any(char::is_control) {
        return Err(invalid(name, "a non-empty string of at most 128 bytes without control characters", value));
    }
    Ok(text.to_string())
}

fn to_number(name: &str, value: &Value) -> Result<f64, Rejection> {
    let number = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid(name, "a number or a decimal string", value))?;
    if !number.is_finite() {
        return Err(Rejection::new("nan_or_infinite", format!("`{name}` is {value}; expected a finite number")));
    }
    Ok(number)
}

/// Reduces parsed elements' rejections into an ack.
impl Ack {
    pub fn reject(&mut self, index: usize, rejection: &Rejection) {
        self.rejected.push(AckRejection { index, reason: rejection.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

    fn one(text: &str) -> Result<Record, Rejection> {
        let mut elements = parse_frame(text, NOW).expect("frame parses");
        assert_eq!(elements.len(), 1);
        elements.remove(0).result
    }

    #[test]
    fn parses_every_type_with_both_time_forms_and_string_numbers() {
        let tick = one(r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00.5Z","price":"101.25","size":2,"side":"sell","trade_id":42}"#).unwrap();
        let Record::Tick(tick) = tick else { panic!("not a tick") };
        assert_eq!(tick.time, Timestamp(1_795_348_800_500_000));
        assert_eq!((tick.price, tick.size, tick.side), (101.25, 2.0, Side::Sell));
        assert_eq!(tick.trade_id.as_deref(), Some("42"));
        assert_eq!(tick.received_at, NOW);

        let quote = one(r#"{"type":"quote","venue":"v","symbol":"S","time":1795348800000000001,"bid_price":1,"bid_size":2,"ask_price":"1.5","ask_size":3}"#).unwrap();
        assert_eq!(quote.time(), Timestamp(1_795_348_800_000_000));

        let bar = one(r#"{"type":"bar","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1m","open":1,"high":2,"low":0.5,"close":1.5,"volume":10,"vwap":1.2,"trades":7,"id":"b-1"}"#).unwrap();
        let Record::Bar(bar) = bar else { panic!("not a bar") };
        assert_eq!((bar.vwap, bar.trades), (Some(1.2), Some(7)));
    }

    #[test]
    fn every_rejection_names_its_cause() {
        let cases = [
            ("{not json", "invalid_json", "not valid JSON"),
            ("42", "not_an_object", "got a number"),
            (r#"{"venue":"v"}"#, "missing_type", "no `type`"),
            (r#"{"type":"trade"}"#, "unknown_type", "`trade`"),
            (r#"{"type":"signal"}"#, "unsupported_type", "`signal`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","size":1}"#, "missing_field", "`price`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":1,"prce":2}"#, "unknown_field", "`prce`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":true,"size":1}"#, "invalid_field", "`price`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":"NaN","size":1}"#, "nan_or_infinite", "`price`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":-1}"#, "invalid_field", "`size`"),
            (r#"{"type":"tick","venue":"","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":1}"#, "invalid_field", "`venue`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"yesterday","price":1,"size":1}"#, "invalid_field", "`time`"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800000,"price":1,"size":1}"#, "time_out_of_range", "milliseconds"),
            (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":1,"side":"up"}"#, "invalid_field", "`side`"),
            (r#"{"type":"bar","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1 minute","open":1,"high":2,"low":0.5,"close":1.5,"volume":1}"#, "invalid_field", "`interval`"),
            (r#"{"type":"bar","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1m","open":1,"high":0.9,"low":0.5,"close":0.7,"volume":1}"#, "inconsistent_bar", "high"),
        ];
        for (text, code, needle) in cases {
            let rejection = one(text).expect_err(text);
            assert_eq!(rejection.code, code, "{text}: {rejection}");
            assert!(rejection.detail.contains(needle), "{text}: {rejection}");
        }
    }

    #[test]
    fn arrays_are_parsed_element_by_element_keeping_raw_text() {
        let frame = r#"[{"type":"quote","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1}, {"type":"nope"}, 7]"#;
        let elements = parse_frame(frame, NOW).unwrap();
        assert_eq!(elements.len(), 3);
        assert!(elements[0].result.is_ok());
        assert_eq!(elements[1].raw, r#"{"type":"nope"}"#);
        assert_eq!(elements[1].result.as_ref().unwrap_err().code, "unknown_type");
        assert_eq!(elements[2].result.as_ref().unwrap_err().code, "not_an_object");
    }

    #[test]
    fn broken_arrays_and_empty_frames_are_frame_level_rejections() {
        assert_eq!(parse_frame("[{\"type\":", NOW).unwrap_err().code, "invalid_json");
        assert_eq!(parse_frame("  ", NOW).unwrap_err().code, "empty_frame");
        assert!(parse_frame("[]", NOW).unwrap().is_empty());
    }
}
