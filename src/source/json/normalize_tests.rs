//! Unit tests of the json normalization: time formats and units, numbers, sides,
//! symbols, and rejections that name the record type, the field and the pointer.
use crate::record::RejectReason;
use serde_json::json;

use super::*;
use crate::config::RecordRule;

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

/// A rule from its TOML text (one `[[sources.json.records]]` table).
fn rule(toml_text: &str) -> Rule {
    let config: RecordRule = toml::from_str(toml_text).unwrap_or_else(|error| panic!("{toml_text}: {error}"));
    Rule::compile(&config).unwrap()
}

fn tick_rule(time_format: &str, side: &str) -> Rule {
    rule(&format!(
        r#"
        table = "ticks"
        match = {{ "/e" = "trade" }}
        fields = {{ symbol = "/s", price = "/p", size = "/q", side = "/m", trade_id = "/t", time = "/T" }}
        time_format = "{time_format}"
        {side}
        "#
    ))
}

fn tick(rule: &Rule, message: Value) -> Result<Tick, Rejection> {
    match rule.convert("venue", &message, NOW)?.record {
        Record::Tick(tick) => Ok(tick),
        other => panic!("expected a tick, got {other:?}"),
    }
}

#[test]
fn times_in_every_format_convert_exactly() {
    let cases = [
        ("ns", json!(1_700_000_000_123_456_789i64), 1_700_000_000_123_456),
        ("ns", json!(u64::MAX), 18_446_744_073_709_551),
        ("ns", json!("1700000000123456789"), 1_700_000_000_123_456),
        ("us", json!(1_700_000_000_123_456i64), 1_700_000_000_123_456),
        ("us", json!("1700000000123456"), 1_700_000_000_123_456),
        ("ms", json!(1_700_000_000_123i64), 1_700_000_000_123_000),
        ("ms", json!("1700000000123.456"), 1_700_000_000_123_456),
        ("ms", json!(1_700_000_000_123.5), 1_700_000_000_123_500),
        ("s", json!(1_700_000_000), 1_700_000_000_000_000),
        ("s", json!("1700000000.123456"), 1_700_000_000_123_456),
        ("s", json!(1_700_000_000.123456), 1_700_000_000_123_456),
        ("s", json!("1700000000.1234569"), 1_700_000_000_123_456),
        ("rfc3339", json!("2023-11-14T22:13:20.123456Z"), 1_700_000_000_123_456),
        ("rfc3339", json!("2023-11-14T23:13:20.123456789+01:00"), 1_700_000_000_123_456),
    ];
    for (format, time, micros) in cases {
        let rule = tick_rule(format, "");
        let message = json!({"e":"trade","s":"BTCUSDT","p":"1","q":"1","T":time});
        assert_eq!(tick(&rule, message).map(|tick| tick.time), Ok(Timestamp(micros)), "{format} {time}");
    }
    let received = rule(
        r#"
        table = "quotes"
        present = ["/u"]
        fields = { symbol = "/s", bid_price = "/b", bid_size = "/B", ask_price = "/a", ask_size = "/A" }
        time_format = "received"
        "#,
    );
    let message = json!({"u":1,"s":"X","b":"1","B":"2","a":"3","A":"4"});
    assert_eq!(received.convert("venue", &message, NOW).unwrap().record.time(), NOW);
}

#[test]
fn bad_times_are_rejections_naming_field_and_pointer() {
    let cases = [
        (
            "ms",
            json!("yesterday"),
            RejectReason::InvalidField,
            r#"ticks.time: /T is "yesterday", expected epoch milliseconds as a number or decimal string"#,
        ),
        (
            "ms",
            json!(true),
            RejectReason::InvalidField,
            "ticks.time: /T is true, expected epoch milliseconds as a number or decimal string",
        ),
        ("s", json!(i64::MAX), RejectReason::TimeOutOfRange, "ticks.time: /T is 9223372036854775807, out of range as epoch seconds"),
        ("s", json!("1e300"), RejectReason::TimeOutOfRange, r#"ticks.time: /T is "1e300", out of range as epoch seconds"#),
        ("us", json!(u64::MAX), RejectReason::TimeOutOfRange, "ticks.time: /T is 18446744073709551615, out of range as epoch microseconds"),
        (
            "rfc3339",
            json!(1_700_000_000),
            RejectReason::InvalidField,
            "ticks.time: /T is 1700000000, expected an RFC 3339 time like 2026-11-22T12:00:00.123Z",
        ),
        (
            "rfc3339",
            json!("2023-11-14"),
            RejectReason::InvalidField,
            r#"ticks.time: /T is "2023-11-14", expected an RFC 3339 time like 2026-11-22T12:00:00.123Z"#,
        ),
        ("ms", Value::Null, RejectReason::MissingField, "ticks.time: /T is null"),
    ];
    for (format, time, code, detail) in cases {
        let rule = tick_rule(format, "");
        let rejection = tick(&rule, json!({"e":"trade","s":"BTCUSDT","p":"1","q":"1","T":time})).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.as_str()), (code, detail), "{format} {time}");
    }
}

#[test]
fn sides_by_default_names_by_configured_values_and_as_a_flag() {
    let by_name = tick_rule("ms", "");
    let flag = tick_rule("ms", "side = { buy = false, sell = true }");
    let listed = tick_rule("ms", r#"side = { buy = ["Buy", "b", 1], sell = ["Sell", "s", -1], unknown = "" }"#);
    let cases: [(&Rule, Value, Result<Side, &str>); 13] = [
        (&by_name, json!("buy"), Ok(Side::Buy)),
        (&by_name, json!("sell"), Ok(Side::Sell)),
        (&by_name, Value::Null, Ok(Side::Unknown)),
        (&by_name, json!("Buy"), Err(r#"ticks.side: /m is "Buy", expected one of "buy", "sell""#)),
        (&flag, json!(true), Ok(Side::Sell)),
        (&flag, json!(false), Ok(Side::Buy)),
        (&flag, json!("true"), Err(r#"ticks.side: /m is "true", expected one of false, true"#)),
        (&listed, json!("b"), Ok(Side::Buy)),
        (&listed, json!(1), Ok(Side::Buy)),
        (&listed, json!(1.0), Ok(Side::Buy)),
        (&listed, json!(-1), Ok(Side::Sell)),
        (&listed, json!(""), Ok(Side::Unknown)),
        (&listed, json!(0), Err(r#"ticks.side: /m is 0, expected one of "Buy", "b", 1, "Sell", "s", -1, """#)),
    ];
    for (rule, side, expected) in cases {
        let result = tick(rule, json!({"e":"trade","s":"BTCUSDT","p":"1","q":"1","T":1,"m":side})).map(|tick| tick.side);
        assert_eq!(result.map_err(|rejection| rejection.detail), expected.map_err(String::from), "{side}");
    }
    let without_side = tick(&by_name, json!({"e":"trade","s":"BTCUSDT","p":"1","q":"1","T":1})).unwrap();
    assert_eq!(without_side.side, Side::Unknown, "an absent optional field");
}

#[test]
fn numbers_strings_and_ids() {
    let rule = tick_rule("ms", "");
    let message = json!({"e":"trade","s":"BTCUSDT","p":"97000.50","q":0.25,"T":1,"t":12345});
    let parsed = tick(&rule, message).unwrap();
    assert_eq!((parsed.price, parsed.size, parsed.trade_id.as_deref(), parsed.venue.as_str()), (97000.5, 0.25, Some("12345"), "venue"));
    let with_text_id = tick(&rule, json!({"e":"trade","s":"BTCUSDT","p":1,"q":1,"T":1,"t":"a-1"})).unwrap();
    assert_eq!(with_text_id.trade_id.as_deref(), Some("a-1"));
}

#[test]
fn rejections_name_the_record_type_the_field_and_the_pointer() {
    let ticks = tick_rule("ms", "");
    let named = rule(
        r#"
        table = "ticks"
        name = "agg"
        present = ["/a"]
        fields = { symbol = "/s", price = "/p", size = "/q", time = "/T" }
        time_format = "ms"
        "#,
    );
    let bars = rule(
        r#"
        table = "bars"
        match = { "/e" = "kline" }
        fields = { symbol = "/s", time = "/k/t", open = "/k/o", high = "/k/h", low = "/k/l", close = "/k/c", volume = "/k/v", trades = "/k/n" }
        time_format = "ms"
        interval = "1m"
        "#,
    );
    let kline = |high: &str, volume: &str, trades: Value| json!({"e":"kline","s":"ETHUSDT","k":{"t":1,"o":"10","h":high,"l":"9","c":"11","v":volume,"n":trades}});
    let cases: [(&Rule, Value, RejectReason, &str); 11] = [
        (&ticks, json!({"e":"trade","s":"BTCUSDT","q":"1","T":1}), RejectReason::MissingField, "ticks.price: /p is missing"),
        (
            &ticks,
            json!({"e":"trade","s":"BTCUSDT","p":"abc","q":"1","T":1}),
            RejectReason::InvalidField,
            r#"ticks.price: /p is "abc", expected a finite number or decimal string"#,
        ),
        (
            &ticks,
            json!({"e":"trade","s":"BTCUSDT","p":"NaN","q":"1","T":1}),
            RejectReason::InvalidField,
            r#"ticks.price: /p is "NaN", expected a finite number or decimal string"#,
        ),
        (
            &ticks,
            json!({"e":"trade","s":"BTCUSDT","p":[1],"q":"1","T":1}),
            RejectReason::InvalidField,
            "ticks.price: /p is [1], expected a finite number or decimal string",
        ),
        (
            &ticks,
            json!({"e":"trade","s":"","p":"1","q":"1","T":1}),
            RejectReason::InvalidField,
            r#"ticks.symbol: /s is "", expected a non-empty string of at most 128 bytes without control characters"#,
        ),
        (
            &ticks,
            json!({"e":"trade","s":"X","p":"1","q":"1","T":1,"t":1.5}),
            RejectReason::InvalidField,
            "ticks.trade_id: /t is 1.5, expected a string or an integer",
        ),
        (&named, json!({"a":1,"s":"X","p":"1","T":1}), RejectReason::MissingField, "ticks[agg].size: /q is missing"),
        (
            &bars,
            kline("12", "-1", json!(3)),
            RejectReason::InvalidField,
            r#"bars.volume: /k/v is "-1", expected a number ≥ 0 or a decimal string"#,
        ),
        (&bars, kline("12", "2", json!(-3)), RejectReason::InvalidField, "bars.trades: /k/n is -3, expected a non-negative integer"),
        (&bars, kline("12", "2", json!(2.5)), RejectReason::InvalidField, "bars.trades: /k/n is 2.5, expected a non-negative integer"),
        (&bars, kline("10.5", "2", json!(3)), RejectReason::InconsistentBar, "bars: high 10.5 and low 9 must bound open 10 and close 11"),
    ];
    for (rule, message, code, detail) in cases {
        let rejection = rule.convert("venue", &message, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.as_str()), (code, detail), "{message}");
    }
    let Record::Bar(bar) = bars.convert("venue", &kline("12", "2", json!("3")), NOW).unwrap().record else { panic!() };
    assert_eq!((bar.interval.as_str(), bar.open, bar.high, bar.trades, bar.vwap), ("1m", 10.0, 12.0, Some(3), None));
}

#[test]
fn symbols_are_rewritten_and_sequences_read() {
    let rule = rule(
        r#"
        table = "ticks"
        match = { "/e" = "trade" }
        fields = { symbol = "/s", price = "/p", size = "/q", time = "/T" }
        time_format = "ms"
        symbol_rewrite = { uppercase = true, split_quote = true }
        sequence = "/t"
        "#,
    );
    let message = json!({"e":"trade","s":"btcusdt","p":"1","q":"1","T":1,"t":"42"});
    let converted = rule.convert("venue", &message, NOW).unwrap();
    let Record::Tick(tick) = &converted.record else { panic!() };
    assert_eq!((tick.symbol.as_str(), converted.venue_symbol, converted.sequence), ("BTC-USDT", "btcusdt", Some(42)));
    let rejection = rule.convert("venue", &json!({"e":"trade","s":"btcusdt","p":"1","q":"1","T":1,"t":-4}), NOW).unwrap_err();
    assert_eq!(rejection.detail, "ticks.sequence: /t is -4, expected a non-negative integer or a string of digits");
}
