//! The checks of a `[sources.json]` section, run with every other check by `validate`:
//! JSON pointers, match values, the fields each record type needs, time formats, side
//! values, and subscribe templates that must be JSON once expanded.

use serde_json::Value;

use super::json_feed::{
    expand_template, json_pointer_tokens, JsonFeedConfig, RecordKind, RecordRule, TimeFormat, ID_PLACEHOLDER, SYMBOLS_PLACEHOLDER,
    SYMBOL_PLACEHOLDER,
};
use crate::record::{is_interval, INTERVAL_EXPECTED};

/// Checks `feed`, the json section of a source with `symbols`; `prefix` is its key
/// (`sources[2].json`).
pub(super) fn check(feed: &JsonFeedConfig, symbols: &[String], prefix: &str, problem: &mut impl FnMut(&str, String)) {
    let key = |name: &str| format!("{prefix}.{name}");
    if feed.venue.trim().is_empty() || feed.venue.len() > 128 || feed.venue.chars().any(char::is_control) {
        problem(&key("venue"), "expected the venue's name, 1 to 128 bytes without control characters".into());
    }
    check_templates(feed, symbols, prefix, problem);
    if feed.heartbeat.as_ref().is_some_and(|heartbeat| heartbeat.is_empty()) {
        problem(&key("heartbeat"), "expected a non-empty message (or no heartbeat key)".into());
    }
    if let Some(ack) = &feed.ack {
        check_conditions(&ack.equals, &ack.present, &key("ack"), problem);
        if let Some(id) = &ack.id {
            check_pointer(id, &key("ack.id"), problem);
            if feed.subscribe.iter().any(|template| !template.contains(ID_PLACEHOLDER)) {
                problem(&key("ack.id"), "the ack echoes a request id: every subscribe message must carry {id}".into());
            }
        }
    }
    for (index, ignore) in feed.ignore.iter().enumerate() {
        check_conditions(&ignore.equals, &ignore.present, &key(&format!("ignore[{index}]")), problem);
    }
    if feed.records.is_empty() {
        problem(&key("records"), "expected at least one [[sources.json.records]] rule".into());
    }
    for (index, rule) in feed.records.iter().enumerate() {
        check_rule(rule, &key(&format!("records[{index}]")), problem);
    }
}

fn check_templates(feed: &JsonFeedConfig, symbols: &[String], prefix: &str, problem: &mut impl FnMut(&str, String)) {
    // Expanded with the configured symbols, or a stand-in when there are none.
    let stand_in = ["SYMBOL".to_string()];
    let symbols_for_expansion = if symbols.is_empty() { &stand_in[..] } else { symbols };
    for (index, template) in feed.subscribe.iter().enumerate() {
        let key = format!("{prefix}.subscribe[{index}]");
        let per_symbol = template.contains(SYMBOL_PLACEHOLDER);
        if per_symbol && template.contains(SYMBOLS_PLACEHOLDER) {
            problem(&key, "use {symbols} (all symbols in one message) or {symbol} (one message per symbol), not both".into());
            continue;
        }
        if (per_symbol || template.contains(SYMBOLS_PLACEHOLDER)) && symbols.is_empty() {
            let prefix_of_source = prefix.strip_suffix(".json").unwrap_or(prefix);
            problem(&format!("{prefix_of_source}.symbols"), format!("subscribe[{index}] names the symbols: expected at least one symbol"));
        }
        for (_, message) in expand_template(template, symbols_for_expansion, &mut 1) {
            if let Err(error) = serde_json::from_str::<Value>(&message) {
                problem(&key, format!("not valid JSON once expanded ({error}): {}", shorten(&message)));
                break;
            }
        }
    }
}

fn check_rule(rule: &RecordRule, prefix: &str, problem: &mut impl FnMut(&str, String)) {
    let key = |name: &str| format!("{prefix}.{name}");
    let kind = rule.table;
    if rule.name.as_ref().is_some_and(|name| name.trim().is_empty()) {
        problem(&key("name"), "expected a non-empty name (or no name key)".into());
    }
    check_conditions(&rule.equals, &rule.present, prefix, problem);
    if let Some(each) = &rule.each {
        check_pointer(each, &key("each"), problem);
    }
    if let Some(sequence) = &rule.sequence {
        check_pointer(sequence, &key("sequence"), problem);
    }
    for (field, pointer) in rule.fields.all() {
        let Some(pointer) = pointer else { continue };
        let field_key = key(&format!("fields.{field}"));
        if !kind.fields().contains(&field) {
            problem(&field_key, format!("{} have no `{field}`; expected some of {}", kind.name(), kind.fields().join(", ")));
            continue;
        }
        check_pointer(pointer, &field_key, problem);
    }
    for field in kind.required_fields() {
        if rule.fields.get(field).is_none() {
            problem(&key(&format!("fields.{field}")), format!("missing: {} need a JSON pointer for `{field}`", kind.name()));
        }
    }
    match (rule.fields.time.is_some(), rule.time_format) {
        (true, None) => problem(&key("time_format"), "missing: expected how fields.time is written: s, ms, us, ns or rfc3339".into()),
        (true, Some(TimeFormat::Received)) => {
            problem(&key("time_format"), "\"received\" stores our receipt time: remove fields.time, or give its format".into())
        }
        (false, Some(TimeFormat::Received)) => {}
        (false, _) => problem(
            &key("fields.time"),
            "missing: expected a JSON pointer for the event time (or time_format = \"received\" to store the receipt time)".into(),
        ),
        (true, Some(_)) => {}
    }
    if let Some(side) = &rule.side {
        if kind != RecordKind::Ticks {
            problem(&key("side"), format!("only ticks have a side, not {}", kind.name()));
        } else if rule.fields.side.is_none() {
            problem(&key("side"), "side values without fields.side: expected a pointer for the side too".into());
        }
        let lists = side.lists();
        for (name, values) in &lists {
            if values.iter().any(|value| !is_scalar(value)) {
                problem(&key(&format!("side.{name}")), "expected a string, integer or boolean, or a list of them".into());
            }
        }
        for (position, (first, values)) in lists.iter().enumerate() {
            for (second, others) in &lists[position + 1..] {
                if let Some(value) = values.iter().find(|value| others.contains(value)) {
                    problem(&key("side"), format!("{value} is listed as both {first} and {second}"));
                }
            }
        }
    }
    match (kind, rule.fields.interval.is_some(), &rule.interval) {
        (RecordKind::Bars, false, None) => problem(
            &key("fields.interval"),
            "missing: bars need the interval, as a JSON pointer here or a fixed `interval = \"1m\"`".into(),
        ),
        (RecordKind::Bars, true, Some(_)) => problem(&key("interval"), "give fields.interval or interval, not both".into()),
        (RecordKind::Bars, _, Some(interval)) if !is_interval(interval) => {
            problem(&key("interval"), format!("`{interval}`: expected {INTERVAL_EXPECTED}"))
        }
        (RecordKind::Ticks | RecordKind::Quotes, _, Some(_)) => problem(&key("interval"), format!("{} have no interval", kind.name())),
        _ => {}
    }
    if let Some(rewrite) = &rule.symbol_rewrite {
        if rewrite.separator.as_ref().is_some_and(|separator| separator.is_empty()) {
            problem(&key("symbol_rewrite.separator"), "expected a non-empty separator".into());
        }
    }
}

fn check_conditions(
    equals: &std::collections::BTreeMap<String, Value>,
    present: &[String],
    prefix: &str,
    problem: &mut impl FnMut(&str, String),
) {
    if equals.is_empty() && present.is_empty() {
        problem(
            &format!("{prefix}.match"),
            "expected at least one condition in match or present (a rule without one matches everything)".into(),
        );
    }
    for (pointer, expected) in equals {
        let key = format!("{prefix}.match.\"{pointer}\"");
        check_pointer(pointer, &key, problem);
        let valid = match expected {
            Value::Array(values) => !values.is_empty() && values.iter().all(is_scalar),
            value => is_scalar(value),
        };
        if !valid {
            problem(&key, "expected a string, integer or boolean, or a non-empty list of them".into());
        }
    }
    for (index, pointer) in present.iter().enumerate() {
        check_pointer(pointer, &format!("{prefix}.present[{index}]"), problem);
    }
}

fn check_pointer(pointer: &str, key: &str, problem: &mut impl FnMut(&str, String)) {
    if let Err(message) = json_pointer_tokens(pointer) {
        problem(key, message);
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 120 {
        return text.to_string();
    }
    format!("{}…", text.chars().take(120).collect::<String>())
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    const DATABASE: &str = "[database]\nurl = \"postgres://u@h/db\"\n";

    fn errors(text: &str) -> Vec<(String, String)> {
        let text = format!("{DATABASE}{text}");
        match load_str(&text, Vec::new()) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.into_iter().map(|error| (error.key, error.message)).collect(),
        }
    }

    fn keys(text: &str) -> Vec<String> {
        errors(text).into_iter().map(|(key, _)| key).collect()
    }

    const VALID: &str = r#"
[[sources]]
kind = "json"
url = "wss://feed.example.net/ws"
symbols = ["BTCUSDT"]
[sources.json]
venue = "v"
subscribe = ['{"op":"subscribe","id":{id},"args":{symbols}}']
ack = { match = { "/op" = "subscribed" }, id = "/id" }
[[sources.json.records]]
table = "ticks"
match = { "/e" = "trade" }
fields = { symbol = "/s", price = "/p", size = "/q", time = "/T" }
time_format = "ms"
"#;

    #[test]
    fn a_valid_json_source_passes() {
        assert_eq!(errors(VALID), Vec::<(String, String)>::new());
    }

    #[test]
    fn every_problem_of_a_json_section_is_reported_with_its_key() {
        let text = r#"
[[sources]]
kind = "binance"
symbols = ["BTCUSDT"]
channels = ["trades"]
[sources.json]
venue = "x"

[[sources]]
kind = "json"
name = "nourl"
channels = ["trades"]
[sources.json]
venue = ""
subscribe = ['{"op":"subscribe","args":{symbols}', '{"a":"{symbol}","b":{symbols}}', '{"op":"ping"}']
ack = { match = { "e" = "x" }, id = "/id" }
ignore = [{}, { match = { "/t" = { nested = 1 } } }]
[[sources.json.records]]
table = "ticks"
match = { "/e" = "trade" }
fields = { symbol = "/s", size = "q", bid_price = "/b", time = "/T" }
side = { buy = "b", sell = "b" }
[[sources.json.records]]
table = "bars"
present = ["/k~2"]
fields = { symbol = "/s", open = "/o", high = "/h", low = "/l", close = "/c", volume = "/v" }
time_format = "received"
interval = "1 minute"
[[sources.json.records]]
table = "quotes"
present = ["/b"]
fields = { symbol = "/s", bid_price = "/b", bid_size = "/B", ask_price = "/a", ask_size = "/A", time = "/T" }
time_format = "sec"
"#;
        let found = errors(text);
        let keys: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        for expected in [
            "sources[0].json",
            "sources[1].url",
            "sources[1].channels",
            "sources[1].symbols",
            "sources[1].json.venue",
            "sources[1].json.subscribe[0]",
            "sources[1].json.subscribe[1]",
            "sources[1].json.ack.match.\"e\"",
            "sources[1].json.ack.id",
            "sources[1].json.ignore[0].match",
            "sources[1].json.ignore[1].match.\"/t\"",
            "sources[1].json.records[0].fields.price",
            "sources[1].json.records[0].fields.size",
            "sources[1].json.records[0].fields.bid_price",
            "sources[1].json.records[0].time_format",
            "sources[1].json.records[0].side",
            "sources[1].json.records[1].present[0]",
            "sources[1].json.records[1].interval",
            "sources[1].json.records[2].time_format",
        ] {
            assert!(keys.contains(&expected), "{expected} missing from {found:#?}");
        }
        // records[0].side: no fields.side, and "b" listed for two sides.
        assert_eq!(keys.len(), 20, "one error per problem: {found:#?}");
        let message = |key: &str| found.iter().find(|(found, _)| found == key).map(|(_, message)| message.as_str()).unwrap();
        assert_eq!(message("sources[1].json.records[0].fields.price"), "missing: ticks need a JSON pointer for `price`");
        assert_eq!(
            message("sources[1].json.records[0].fields.size"),
            "`q` is not a JSON pointer: expected \"\" or a pointer starting with `/`, like `/q`"
        );
        assert!(message("sources[1].json.records[2].time_format").starts_with("unknown variant `sec`"), "{found:#?}");
        assert!(message("sources[1].json.subscribe[0]").starts_with("not valid JSON once expanded"), "{found:#?}");
        assert!(message("sources[1].json.ack.id").contains("{id}"), "{found:#?}");
        assert!(message("sources[0].json").contains("only kind = \"json\""), "{found:#?}");
    }

    #[test]
    fn unknown_keys_in_a_json_section_are_named() {
        let text = VALID
            .replace("time_format = \"ms\"", "time_format = \"ms\"\ntime_unit = \"ms\"")
            .replace("venue = \"v\"", "venue = \"v\"\nacks = 1");
        assert_eq!(keys(&text), vec!["sources[0].json.acks", "sources[0].json.records[0].time_unit"]);
        let typo = VALID.replace("price = \"/p\"", "prise = \"/p\"");
        assert_eq!(keys(&typo), vec!["sources[0].json.records[0].fields.prise", "sources[0].json.records[0].fields.price"]);
    }

    #[test]
    fn a_json_source_needs_its_section_and_records() {
        let without_section = keys("[[sources]]\nkind = \"json\"\nurl = \"ws://127.0.0.1:1/\"\n");
        assert_eq!(without_section, vec!["sources[0].json"]);
        let without_records = keys("[[sources]]\nkind = \"json\"\nurl = \"ws://127.0.0.1:1/\"\n[sources.json]\nvenue = \"v\"\n");
        assert_eq!(without_records, vec!["sources[0].json.records"]);
    }
}
