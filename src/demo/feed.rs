//! The demo's synthetic feed: a small market of random-walking symbols that pushes
//! ticks, quotes and closed 1-minute bars through the real push websocket at a
//! steady offered rate, the way an in-house producer would. On start it also sends
//! the last hour of 1-minute bars per symbol, as feeds commonly do on subscribe.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::record::Timestamp;

const CRYPTO: &[(&str, f64)] = &[
    ("BTC-USDT", 97_000.0),
    ("ETH-USDT", 3_400.0),
    ("SOL-USDT", 190.0),
    ("XRP-USDT", 1.1),
    ("BNB-USDT", 640.0),
    ("ADA-USDT", 0.45),
    ("DOGE-USDT", 0.16),
    ("AVAX-USDT", 35.0),
    ("DOT-USDT", 6.5),
    ("LINK-USDT", 18.0),
    ("MATIC-USDT", 0.55),
    ("LTC-USDT", 95.0),
    ("TRX-USDT", 0.2),
    ("ATOM-USDT", 8.2),
    ("UNI-USDT", 9.5),
    ("XLM-USDT", 0.3),
    ("NEAR-USDT", 5.4),
    ("APT-USDT", 10.5),
    ("ARB-USDT", 0.8),
    ("OP-USDT", 2.1),
];
const EQUITIES: &[(&str, f64)] = &[
    ("AAPL", 228.0),
    ("MSFT", 415.0),
    ("NVDA", 140.0),
    ("AMZN", 200.0),
    ("GOOGL", 170.0),
    ("META", 560.0),
    ("TSLA", 330.0),
    ("BRK.B", 470.0),
    ("JPM", 240.0),
    ("V", 305.0),
    ("UNH", 590.0),
    ("XOM", 120.0),
    ("JNJ", 155.0),
    ("WMT", 88.0),
    ("MA", 515.0),
    ("PG", 170.0),
    ("HD", 400.0),
    ("COST", 920.0),
    ("ORCL", 185.0),
    ("BAC", 46.0),
    ("KO", 63.0),
    ("PEP", 160.0),
    ("AMD", 140.0),
    ("NFLX", 880.0),
    ("ADBE", 510.0),
    ("CRM", 330.0),
    ("INTC", 24.0),
    ("CSCO", 58.0),
    ("QCOM", 160.0),
    ("SPY", 590.0),
];

struct Instrument {
    venue: &'static str,
    symbol: &'static str,
    price: f64,
    tick_size: f64,
    minute: Option<MinuteBar>,
}

struct MinuteBar {
    start_micros: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    notional: f64,
    trades: i64,
}

/// Counters the demo reads while the feed runs.
#[derive(Default)]
pub struct FeedCounters {
    pub records_sent: AtomicU64,
    pub frames_sent: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
}

pub struct SyntheticMarket {
    instruments: Vec<Instrument>,
    sequence: u64,
}

const MINUTE_MICROS: i64 = 60_000_000;

impl SyntheticMarket {
    pub fn new(symbols: usize) -> Self {
        let instruments = CRYPTO
            .iter()
            .map(|(symbol, price)| ("demo-crypto", *symbol, *price))
            .chain(EQUITIES.iter().map(|(symbol, price)| ("demo-equities", *symbol, *price)))
            .take(symbols.max(1))
            .map(|(venue, symbol, price)| Instrument {
                venue,
                symbol,
                price,
                tick_size: if price > 10.0 { 0.01 } else { 0.0001 },
                minute: None,
            })
            .collect();
        SyntheticMarket { instruments, sequence: 0 }
    }

    /// The last `minutes` closed 1-minute bars of every symbol, as JSON objects.
    pub fn history(&mut self, now: Timestamp, minutes: i64, out: &mut Vec<String>) {
        let current_minute = now.micros().div_euclid(MINUTE_MICROS) * MINUTE_MICROS;
        for instrument in &mut self.instruments {
            let mut price = instrument.price * (1.0 + (fastrand::f64() - 0.5) * 0.02);
            for back in (1..=minutes).rev() {
                let open = price;
                let mut high = open;
                let mut low = open;
                for _ in 0..20 {
                    price *= 1.0 + (fastrand::f64() - 0.5) * 0.002;
                    high = high.max(price);
                    low = low.min(price);
                }
                let volume = 1.0 + fastrand::f64() * 100.0;
                out.push(format!(
                    r#"{{"type":"bar","venue":"{}","symbol":"{}","time":{},"interval":"1m","open":{:.6},"high":{:.6},"low":{:.6},"close":{:.6},"volume":{:.4},"vwap":{:.6},"trades":{}}}"#,
                    instrument.venue,
                    instrument.symbol,
                    (current_minute - back * MINUTE_MICROS) * 1_000,
                    open, high, low, price, volume, (open + price + high + low) / 4.0, 20
                ));
            }
            instrument.price = price;
        }
    }

    /// The next live record (a tick or a quote), plus a closed bar when a symbol's minute rolled over.
    pub fn next(&mut self, now: Timestamp, out: &mut Vec<String>) {
        self.sequence += 1;
        let index = fastrand::usize(..self.instruments.len());
        let sequence = self.sequence;
        let instrument = &mut self.instruments[index];
        let step = (fastrand::f64() - 0.5) * 0.0001;
        instrument.price = (instrument.price * (1.0 + step)).max(instrument.tick_size);
        let price = (instrument.price / instrument.tick_size).round() * instrument.tick_size;
        // Half the records carry RFC 3339 times, half epoch nanoseconds: both are protocol.
        let time = if sequence.is_multiple_of(2) { format!("\"{now}\"") } else { (now.micros() * 1_000).to_string() };
        if fastrand::u8(..100) < 65 {
            let size = (fastrand::f64() * 2.0).max(0.0001);
            let side = if fastrand::bool() { "buy" } else { "sell" };
            out.push(format!(
                r#"{{"type":"tick","venue":"{}","symbol":"{}","time":{time},"price":{price:.6},"size":{size:.6},"side":"{side}","trade_id":"{sequence}"}}"#,
                instrument.venue, instrument.symbol
            ));
            let minute_start = now.micros().div_euclid(MINUTE_MICROS) * MINUTE_MICROS;
            match &mut instrument.minute {
                Some(bar) if bar.start_micros == minute_start => {
                    bar.high = bar.high.max(price);
                    bar.low = bar.low.min(price);
                    bar.close = price;
                    bar.volume += size;
                    bar.notional += size * price;
                    bar.trades += 1;
                }
                slot => {
                    if let Some(bar) = slot.take() {
                        out.push(format!(
                            r#"{{"type":"bar","venue":"{}","symbol":"{}","time":{},"interval":"1m","open":{:.6},"high":{:.6},"low":{:.6},"close":{:.6},"volume":{:.6},"vwap":{:.6},"trades":{}}}"#,
                            instrument.venue, instrument.symbol, bar.start_micros * 1_000, bar.open, bar.high, bar.low,
                            bar.close, bar.volume, bar.notional / bar.volume, bar.trades
                        ));
                    }
                    *slot = Some(MinuteBar {
                        start_micros: minute_start,
                        open: price,
                        high: price,
                        low: price,
                        close: price,
                        volume: size,
                        notional: size * price,
                        trades: 1,
                    });
                }
            }
        } else {
            let half_spread = instrument.tick_size * (1.0 + fastrand::f64() * 3.0).round();
            out.push(format!(
                r#"{{"type":"quote","venue":"{}","symbol":"{}","time":{time},"bid_price":{:.6},"bid_size":{:.4},"ask_price":{:.6},"ask_size":{:.4}}}"#,
                instrument.venue, instrument.symbol, price - half_spread, fastrand::f64() * 10.0, price + half_spread, fastrand::f64() * 10.0
            ));
        }
    }
}

fn frame_of(records: &[String]) -> String {
    let mut frame = String::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    frame.push('[');
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            frame.push(',');
        }
        let _ = frame.write_str(record);
    }
    frame.push(']');
    frame
}

/// Pushes the synthetic market to `url` at `rate` records per second until `stop`.
/// Acks are read on a separate task; at most `MAX_IN_FLIGHT` frames wait for theirs.
pub async fn run(url: String, rate: u64, symbols: usize, counters: Arc<FeedCounters>, stop: CancellationToken) -> anyhow::Result<()> {
    const TICK: Duration = Duration::from_millis(10);
    const MAX_RECORDS_PER_FRAME: usize = 1_000;
    const MAX_IN_FLIGHT: usize = 64;
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (mut sender, mut receiver) = socket.split();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let ack_counters = counters.clone();
    let ack_permits = in_flight.clone();
    let acks = tokio::spawn(async move {
        while let Some(Ok(message)) = receiver.next().await {
            if let Message::Text(text) = message {
                if let Ok(ack) = serde_json::from_str::<serde_json::Value>(text.as_str()) {
                    let accepted = ack["accepted"].as_u64().unwrap_or(0);
                    let listed = ack["rejected"].as_array().map_or(0, Vec::len) as u64;
                    let rejected = listed + ack["rejected_more"].as_u64().unwrap_or(0);
                    ack_counters.accepted.fetch_add(accepted, Ordering::Relaxed);
                    ack_counters.rejected.fetch_add(rejected, Ordering::Relaxed);
                }
                ack_permits.add_permits(1);
            }
        }
    });

    let mut market = SyntheticMarket::new(symbols);
    let mut records = Vec::new();
    market.history(Timestamp::now(), 60, &mut records);
    let started = Instant::now();
    let mut offered = 0u64;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    'feed: loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        let now = Timestamp::now();
        while offered < due {
            market.next(now, &mut records);
            offered += 1;
        }
        for chunk in records.chunks(MAX_RECORDS_PER_FRAME) {
            let permit = tokio::select! {
                _ = stop.cancelled() => break 'feed,
                permit = in_flight.acquire() => permit?,
            };
            permit.forget();
            sender.send(Message::text(frame_of(chunk))).await?;
            counters.frames_sent.fetch_add(1, Ordering::Relaxed);
            counters.records_sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        records.clear();
    }
    // Wait for the outstanding acks, then close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while in_flight.available_permits() < MAX_IN_FLIGHT && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = sender.send(Message::Close(None)).await;
    acks.abort();
    Ok(())
}
