//! The rows every method of the benchmark writes: ticks of a small synthetic market,
//! as `Tick` values (for the baselines, pre-encoded or as SQL), as push-protocol frames
//! and as Binance trade messages (for the load generator). Every method sees the same
//! shape: 8 columns, the same venues, symbols, price and size ranges.

use std::fmt::Write as _;

use crate::record::ToCompactString;
use crate::record::{Side, Tick, Timestamp};

/// Sizes are whole ten-thousandths, prices whole cents.
const SIZE_UNITS_PER_ONE: u64 = 10_000;

/// One trade of a series: prices in cents and sizes in ten-thousandths, so that a frame
/// can write them as decimals without float formatting.
struct Trade {
    index: usize,
    cents: u64,
    size_units: u64,
    buy: bool,
}

impl Trade {
    /// The price as `f64`: the double nearest to `cents / 100` (IEEE division rounds
    /// correctly), which is also what its decimal text parses to.
    fn price(&self) -> f64 {
        self.cents as f64 / 100.0
    }

    fn size(&self) -> f64 {
        self.size_units as f64 / SIZE_UNITS_PER_ONE as f64
    }
}

/// Appends `units / 10^decimals` as a JSON number: digits, a point, the fraction without
/// its trailing zeros (at least one digit, as `ryu` writes `2.0`).
fn push_decimal(out: &mut String, units: u64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    out.push_str(itoa::Buffer::new().format(units / scale));
    out.push('.');
    let mut fraction = units % scale;
    let mut digits = decimals as usize;
    while digits > 1 && fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    let mut buffer = itoa::Buffer::new();
    let text = buffer.format(fraction);
    for _ in text.len()..digits {
        out.push('0');
    }
    out.push_str(text);
}

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

    /// The next trade, round-robin over the series.
    fn step(&mut self) -> Trade {
        let index = self.next;
        self.next = (self.next + 1) % self.series.len();
        let series = &mut self.series[index];
        series.price = (series.price * (1.0 + (self.rng.f64() - 0.5) * 0.0002)).max(0.01);
        series.next_trade_id += 1;
        let cents = (series.price * 100.0).round() as u64;
        let size_units = ((self.rng.f64() * 2.0).max(0.0001) * SIZE_UNITS_PER_ONE as f64).round() as u64;
        Trade { index, cents, size_units, buy: self.rng.bool() }
    }

    /// The next tick as a record, timed `time`.
    pub fn tick(&mut self, time: Timestamp) -> Tick {
        let trade = self.step();
        let series = &self.series[trade.index];
        Tick {
            time,
            received_at: time,
            venue: "bench".to_compact_string(),
            symbol: series.symbol.clone().into(),
            price: trade.price(),
            size: trade.size(),
            side: if trade.buy { Side::Buy } else { Side::Sell },
            trade_id: Some(series.next_trade_id.to_compact_string()),
        }
    }

    /// Appends the next tick as a push-protocol object (time in epoch nanoseconds).
    ///
    /// Numbers are written with `itoa`, prices and sizes as fixed-point decimals, rather
    /// than with `write!` or a float formatter: the load generator stands for producers on
    /// other machines, and on a 2-core bench machine its CPU is taken from the daemon and
    /// the database. `core::fmt` took about half of it; after that, `ryu`'s shortest
    /// round-trip formatting took about a third. The text parses to the same doubles.
    pub fn push_tick(&mut self, time: Timestamp, out: &mut String) {
        let trade = self.step();
        let series = &self.series[trade.index];
        let mut integers = itoa::Buffer::new();
        out.push_str(r#"{"type":"tick","venue":"bench","symbol":""#);
        out.push_str(&series.symbol);
        out.push_str(r#"","time":"#);
        out.push_str(integers.format(time.micros() * 1_000));
        out.push_str(r#","price":"#);
        push_decimal(out, trade.cents, 2);
        out.push_str(r#","size":"#);
        push_decimal(out, trade.size_units, 4);
        out.push_str(if trade.buy { r#","side":"buy","trade_id":""# } else { r#","side":"sell","trade_id":""# });
        out.push_str(integers.format(series.next_trade_id));
        out.push_str(r#""}"#);
    }

    /// Writes the next trade as a Binance `<symbol>@trade` message (times in ms).
    pub fn binance_trade(&mut self, time: Timestamp, out: &mut String) {
        let trade = self.step();
        let (price, size, buy) = (trade.price(), trade.size(), trade.buy);
        let series = &self.series[trade.index];
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
        // The same seed gives the same trades: the frame's text must read back as exactly
        // the ticks the market describes, to the bit.
        let (mut framed, mut described) = (Market::new(3, 7), Market::new(3, 7));
        let mut frame = String::new();
        let time = Timestamp(1_795_348_800_123_456);
        push_frame(&mut framed, 2_000, time, &mut frame);
        let elements = parse_frame(&frame, time).expect("a valid frame");
        assert_eq!(elements.len(), 2_000);
        for element in elements {
            let record = element.result.expect("every element parses");
            let crate::record::Record::Tick(tick) = record else { panic!("a tick: {record:?}") };
            let expected = described.tick(time);
            assert_eq!(tick.time, time);
            assert_eq!(tick.symbol, expected.symbol);
            assert_eq!(tick.price.to_bits(), expected.price.to_bits(), "{} against {}", tick.price, expected.price);
            assert_eq!(tick.size.to_bits(), expected.size.to_bits(), "{} against {}", tick.size, expected.size);
            assert_eq!(tick.side, expected.side);
            assert_eq!(tick.trade_id, expected.trade_id);
        }
    }

    #[test]
    fn decimals_are_written_as_json_numbers_without_trailing_zeros() {
        let cases = [
            (1, 2, "0.01"),
            (10, 2, "0.1"),
            (100, 2, "1.0"),
            (10_120, 2, "101.2"),
            (10_125, 2, "101.25"),
            (1, 4, "0.0001"),
            (20_000, 4, "2.0"),
            (12_340, 4, "1.234"),
        ];
        for (units, decimals, text) in cases {
            let mut out = String::new();
            push_decimal(&mut out, units, decimals);
            assert_eq!(out, text, "{units} at {decimals} decimals");
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
