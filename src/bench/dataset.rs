//! The rows every method of the benchmark writes: ticks of a small synthetic market,
//! as `Tick` values (for the baselines, pre-encoded or as SQL), as push-protocol frames
//! and as Binance trade messages (for the load generator). Every method sees the same
//! shape: 8 columns, the same venues, symbols, price and size ranges.

use std::fmt::Write as _;

use crate::record::ToCompactString;
use crate::record::{Side, Tick, Timestamp};

/// One symbol's state: its name, its last trade id and a price that walks.
pub struct Series {
    pub symbol: String,
    pub next_trade_id: u64,
    price: f64,
}

/// A market of `symbols` series, deterministic for a given seed.
pub struct Market {
    pub series: Vec<Series>,
    rng: fastrand::Rng,
    next: usize,
}

impl Market {
    pub fn new(symbols: usize, seed: u64) -> Market {
        let series = (0..symbols.max(1))
            .map(|index| Series {
                symbol: format!("SYM{index:03}USDT"),
                next_trade_id: 1_000_000,
                price: 10.0 + (index as f64 * 37.0) % 5_000.0,
            })
            .collect();
        Market { series, rng: fastrand::Rng::with_seed(seed), next: 0 }
    }

    /// A market over the given symbols (the Binance load generator serves what was subscribed).
    pub fn of_symbols(symbols: &[String], seed: u64) -> Market {
        let mut market = Market::new(symbols.len(), seed);
        for (series, symbol) in market.series.iter_mut().zip(symbols) {
            series.symbol = symbol.clone();
        }
        market
    }

    /// The next trade, round-robin over the series: (series index, price, size, buyer is taker).
    fn step(&mut self) -> (usize, f64, f64, bool) {
        let index = self.next;
        self.next = (self.next + 1) % self.series.len();
        let series = &mut self.series[index];
        series.price = (series.price * (1.0 + (self.rng.f64() - 0.5) * 0.0002)).max(0.01);
        series.next_trade_id += 1;
        let price = (series.price * 100.0).round() / 100.0;
        let size = ((self.rng.f64() * 2.0).max(0.0001) * 10_000.0).round() / 10_000.0;
        (index, price, size, self.rng.bool())
    }

    /// The next tick as a record, timed `time`.
    pub fn tick(&mut self, time: Timestamp) -> Tick {
        let (index, price, size, buy) = self.step();
        let series = &self.series[index];
        Tick {
            time,
            received_at: time,
            venue: "bench".to_compact_string(),
            symbol: series.symbol.clone().into(),
            price,
            size,
            side: if buy { Side::Buy } else { Side::Sell },
            trade_id: Some(series.next_trade_id.to_compact_string()),
        }
    }

    /// Appends the next tick as a push-protocol object (time in epoch nanoseconds).
    ///
    /// Numbers are written with `ryu` and `itoa` rather than `write!`: the load generator
    /// stands for producers on other machines, and `core::fmt` took about half of its CPU
    /// (float formatting over a third), which on a 2-core bench machine is taken from the
    /// daemon and the database. The text is the same JSON (shortest round-trip numbers).
    pub fn push_tick(&mut self, time: Timestamp, out: &mut String) {
        let (index, price, size, buy) = self.step();
        let series = &self.series[index];
        let (mut integers, mut floats) = (itoa::Buffer::new(), ryu::Buffer::new());
        out.push_str(r#"{"type":"tick","venue":"bench","symbol":""#);
        out.push_str(&series.symbol);
        out.push_str(r#"","time":"#);
        out.push_str(integers.format(time.micros() * 1_000));
        out.push_str(r#","price":"#);
        out.push_str(floats.format(price));
        out.push_str(r#","size":"#);
        out.push_str(floats.format(size));
        out.push_str(if buy { r#","side":"buy","trade_id":""# } else { r#","side":"sell","trade_id":""# });
        out.push_str(integers.format(series.next_trade_id));
        out.push_str(r#""}"#);
    }

    /// Writes the next trade as a Binance `<symbol>@trade` message (times in ms).
    pub fn binance_trade(&mut self, time: Timestamp, out: &mut String) {
        let (index, price, size, buy) = self.step();
        let series = &self.series[index];
        let millis = time.micros() / 1_000;
        out.clear();
        let _ = write!(
            out,
            r#"{{"e":"trade","E":{millis},"s":"{}","t":{},"p":"{price:.2}","q":"{size:.4}","T":{millis},"m":{},"M":true}}"#,
            series.symbol, series.next_trade_id, !buy
        );
    }
}

/// A push frame of `rows` ticks, all timed `time`.
pub fn push_frame(market: &mut Market, rows: usize, time: Timestamp, out: &mut String) {
    out.clear();
    out.push('[');
    for index in 0..rows {
        if index > 0 {
            out.push(',');
        }
        market.push_tick(time, out);
    }
    out.push(']');
}

/// A SQL literal of one tick's columns, `(time, received_at, venue, …)`, the way a
/// driver's client-side parameter interpolation writes it.
pub fn sql_values(tick: &Tick, out: &mut String) {
    let time = tick.time.to_string();
    let received_at = tick.received_at.to_string();
    let _ = write!(
        out,
        "('{time}','{received_at}','{}','{}',{},{},{},'{}')",
        tick.venue,
        tick.symbol,
        tick.price,
        tick.size,
        tick.side as i16,
        tick.trade_id.as_deref().unwrap_or("")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::push::parse_frame;

    #[test]
    fn push_frames_parse_as_the_ticks_they_describe() {
        let mut market = Market::new(3, 7);
        let mut frame = String::new();
        let time = Timestamp(1_795_348_800_123_456);
        push_frame(&mut market, 4, time, &mut frame);
        let elements = parse_frame(&frame, time).expect("a valid frame");
        assert_eq!(elements.len(), 4);
        for element in elements {
            let record = element.result.expect("every element parses");
            let crate::record::Record::Tick(tick) = record else { panic!("a tick: {record:?}") };
            assert_eq!(tick.time, time);
            assert!(tick.symbol.starts_with("SYM00"), "{}", tick.symbol);
            assert!(tick.price > 0.0 && tick.size > 0.0);
        }
    }

    #[test]
    fn trade_ids_are_contiguous_per_symbol() {
        let mut market = Market::of_symbols(&["BTCUSDT".to_string(), "ETHUSDT".to_string()], 1);
        let mut message = String::new();
        let mut ids = Vec::new();
        for _ in 0..4 {
            market.binance_trade(Timestamp(1_795_348_800_000_000), &mut message);
            let value: serde_json::Value = serde_json::from_str(&message).expect("JSON");
            ids.push((value["s"].as_str().unwrap_or_default().to_string(), value["t"].as_u64().unwrap_or_default()));
        }
        assert_eq!(
            ids,
            vec![
                ("BTCUSDT".to_string(), 1_000_001),
                ("ETHUSDT".to_string(), 1_000_001),
                ("BTCUSDT".to_string(), 1_000_002),
                ("ETHUSDT".to_string(), 1_000_002)
            ]
        );
    }
}
