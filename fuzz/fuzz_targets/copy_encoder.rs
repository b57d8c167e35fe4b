//! Ticks and bars built from arbitrary bytes, encoded as PGCOPY: the bytes written match
//! the length computed in advance (a debug assertion in the encoder), every field is
//! framed, and the stream ends with the trailer.
#![no_main]

use bytes::BytesMut;
use hypertick::record::{Bar, Side, Tick, Timestamp};
use hypertick::sink::encode_rows;
use libfuzzer_sys::fuzz_target;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', "")
}

fuzz_target!(|data: &[u8]| {
    let mut ticks = Vec::new();
    let mut bars = Vec::new();
    for chunk in data.chunks(40) {
        let number = |at: usize| {
            let mut bytes = [0u8; 8];
            for (index, byte) in bytes.iter_mut().enumerate() {
                *byte = chunk.get(at + index).copied().unwrap_or(0);
            }
            bytes
        };
        let split = chunk.len() / 2;
        let time = Timestamp(i64::from_le_bytes(number(0)));
        ticks.push(Tick {
            time,
            received_at: time,
            venue: text(&chunk[..split.min(8)]).into(),
            symbol: text(&chunk[split..]).into(),
            price: f64::from_le_bytes(number(8)),
            size: f64::from_le_bytes(number(16)),
            side: [Side::Buy, Side::Sell, Side::Unknown][usize::from(chunk[0] % 3)],
            trade_id: (chunk[0] % 2 == 0).then(|| text(chunk).into()),
        });
        bars.push(Bar {
            time,
            received_at: time,
            venue: text(&chunk[..split]),
            symbol: text(&chunk[split..]).into(),
            interval: "1m".to_string(),
            open: f64::from_le_bytes(number(24)),
            high: f64::from_le_bytes(number(8)),
            low: f64::from_le_bytes(number(16)),
            close: f64::from_le_bytes(number(32)),
            volume: f64::from_le_bytes(number(4)),
            vwap: (chunk[0] % 2 == 1).then(|| f64::from_le_bytes(number(12))),
            trades: (chunk[0] % 3 == 0).then(|| i64::from_le_bytes(number(20))),
        });
    }
    for encoded in [
        {
            let mut buffer = BytesMut::new();
            encode_rows(&ticks, &mut buffer);
            buffer
        },
        {
            let mut buffer = BytesMut::new();
            encode_rows(&bars, &mut buffer);
            buffer
        },
    ] {
        assert!(encoded.starts_with(b"PGCOPY\n\xff\r\n\0"));
        assert!(encoded.ends_with(&(-1i16).to_be_bytes()));
    }
});
