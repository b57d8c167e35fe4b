//! Any text as a message of a feed described in TOML (the generic json adapter): never a
//! panic.
#![no_main]

use hypertick::record::Timestamp;
use hypertick::source::feed::VenueAdapter;
use hypertick::source::json::JsonAdapter;
use libfuzzer_sys::fuzz_target;

const FEED: &str = r#"
[database]
url = "postgres://u@h/db"
[[sources]]
kind = "json"
url = "wss://feed.example.net/ws"
symbols = ["BTC/USD"]
[sources.json]
venue = "arrayvenue"
subscribe = ['{"op":"subscribe","channel":"trades","pairs":{symbols}}']
ignore_text = ["pong"]
[sources.json.ack]
present = ["/ok"]
[[sources.json.records]]
table = "ticks"
match = { "/channel" = "trades" }
each = "/data"
fields = { symbol = "/pair", price = "/price", size = "/amount", side = "/side", trade_id = "/id", time = "/time" }
time_format = "rfc3339"
side = { buy = "b", sell = "s" }
symbol_rewrite = { separator = "/" }
sequence = "/seq"
[[sources.json.records]]
table = "quotes"
match = { "/e" = "bbo" }
fields = { symbol = "/s", bid_price = "/b", bid_size = "/B", ask_price = "/a", ask_size = "/A", time = "/T" }
time_format = "ns"
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = hypertick::config::load_str(FEED, Vec::new()).expect("the fuzz feed's description is valid");
    let Some(source) = config.sources.first() else { return };
    let Ok(mut adapter) = JsonAdapter::new(source) else { return };
    let now = Timestamp(1_795_348_800_000_000);
    let _ = adapter.parse(text, now);
    let _ = adapter.parse(text, now);
});
