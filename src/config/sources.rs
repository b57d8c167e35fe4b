//! `[[sources]]`: venue connections and the adapter each uses. What a venue offers
//! (channels, the credentials it reads) is its adapter's to say, in `source`.

use std::num::{NonZeroU32, NonZeroU64};

use schemars::JsonSchema;
use serde::Deserialize;

use super::json_feed::JsonFeedConfig;

/// Which venue adapter a source uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Binance spot (`wss://stream.binance.com:9443`).
    Binance,
    /// Binance USDⓈ-M futures (`wss://fstream.binance.com`).
    BinanceFutures,
    /// Coinbase Exchange (`wss://ws-feed.exchange.coinbase.com`): `trades`, `quotes` and
    /// `tickers`; symbols are product ids such as `BTC-USD`.
    Coinbase,
    /// Bybit v5 public spot (`wss://stream.bybit.com/v5/public/spot`); offers no `agg_trades`.
    Bybit,
    /// Bybit v5 linear contracts, USDT and USDC perpetuals and futures
    /// (`wss://stream.bybit.com/v5/public/linear`): the spot channels, and `funding`,
    /// `open_interest` and `mark_price` (from the `tickers` topic), `liquidations`
    /// (`allLiquidation`), `instruments` (REST `instruments-info`). Venue `bybit_linear`;
    /// `BTCUSDT` is stored as `BTC-USDT`.
    BybitLinear,
    /// Bybit v5 inverse contracts (`wss://stream.bybit.com/v5/public/inverse`): the same
    /// channels as `bybit_linear`. Venue `bybit_inverse`; `BTCUSD` is stored as `BTC-USD`.
    BybitInverse,
    /// Kraken spot, WebSocket v2 (`wss://ws.kraken.com/v2`); symbols written `BTC/USD`.
    Kraken,
    /// OKX v5 public (`wss://ws.okx.com:8443/ws/v5/public`): `trades`, `quotes` (tickers),
    /// `bars` (confirmed `candle1m`) and `tickers`; offers no `agg_trades`. Symbols are
    /// instrument ids such as `BTC-USDT`; for `options` (`opt-summary`), instrument
    /// families such as `BTC-USD`.
    Okx,
    /// Deribit API v2 public (`wss://www.deribit.com/ws/api/v2`, JSON-RPC 2.0): `trades`
    /// (`trades.{instrument}.raw`), `quotes` and `tickers` (both `ticker.{instrument}.100ms`)
    /// and `options` (the same ticker of option instruments). Symbols are instrument
    /// names such as `BTC-PERPETUAL` or `BTC-27DEC24-100000-C`.
    Deribit,
    /// Alpaca market data v2, US stocks (`wss://stream.data.alpaca.markets/v2/iex`, the
    /// free IEX feed; `url` = `…/v2/sip` for the paid SIP feed): `trades`, `quotes` and
    /// `bars` (minute bars); no `agg_trades` or `tickers`. Symbols are tickers such as `AAPL`.
    /// Credentials come from `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`.
    Alpaca,
    /// Polygon.io stocks (`wss://socket.polygon.io/stocks`; the delayed feed
    /// `wss://delayed.polygon.io/stocks` as a `url` override): `trades`, `quotes` (NBBO)
    /// and `bars` (minute aggregates `AM`); offers no `agg_trades` or `tickers`. Symbols are tickers
    /// such as `AAPL`. The API key is read from the environment variable `POLYGON_API_KEY`.
    Polygon,
    /// Hyperliquid perpetuals (`wss://api.hyperliquid.xyz/ws`, instruments from `POST
    /// https://api.hyperliquid.xyz/info`): `trades`, `bars` (closed 1-minute candles),
    /// `book` (`l2Book`, 20 levels), `funding`, `open_interest` and `mark_price` (all from
    /// `activeAssetCtx`) and `instruments` (`meta`). Symbols are coin names such as `BTC`,
    /// stored as `BTC-USD`.
    Hyperliquid,
    /// Any websocket feed of JSON messages, described in a `[sources.json]` section
    /// (subscribe messages, acknowledgements, and the JSON pointers of every record
    /// field). Needs `url`; takes no `channels` (its records rules say what is stored).
    Json,
}

/// A market-data channel a source subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Every trade → `ticks`.
    Trades,
    /// Aggregated trades (one per taker order) → `ticks`.
    AggTrades,
    /// Best bid and offer → `quotes`.
    Quotes,
    /// Closed 1-minute bars → `bars`.
    Bars,
    /// Option quotes — prices, greeks and implied volatilities per contract, with the
    /// contract's underlying, strike, expiry and call/put → `options_quotes`. Deribit
    /// and OKX only. Deribit subscribes the ticker of each configured option instrument
    /// name (`BTC-27DEC26-100000-C`); OKX takes instrument families (`BTC-USD`) and
    /// subscribes their `opt-summary`, so an OKX source with `options` has no other
    /// channel.
    Options,
    /// The venue's rolling 24-hour statistics (last, open, high, low, volume, change)
    /// → `tickers`.
    Tickers,
    /// The L2 order book — the venue's snapshot and every level change, checked by the
    /// venue's sequence rule (and checksum where it publishes one) → `book_deltas`, and
    /// top-N pictures → `book_snapshots`. A break (gap, checksum mismatch, crossed book)
    /// is a `feed_events` row, and the book is resynchronised from a fresh snapshot;
    /// nothing is stored across it. Depth: `book_depth`.
    Book,
    /// Funding rates of perpetual contracts (rate, predicted rate, next funding time,
    /// interval) → `funding_rates`.
    Funding,
    /// Open interest (contracts, notional) → `open_interest`; polled over REST every
    /// `open_interest_poll_ms` where the venue's stream has none.
    OpenInterest,
    /// Mark prices and the index (or oracle) prices contracts follow → `mark_prices`.
    MarkPrice,
    /// Forced liquidations → `liquidations`.
    Liquidations,
    /// The venue's reference data of the configured symbols (tick size, lot size,
    /// minimums, contract size, linear or inverse, settlement currency, expiry, strike,
    /// status), fetched over REST as a connection opens and every `instruments_poll_ms`
    /// → `instrument_specs`, a new version when something changed (and an
    /// `instrument_changed` feed event).
    Instruments,
}

/// `[[sources]]`: one venue connection, handled by the shared websocket connector.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Name in logs, metrics and `feed_events.source` (default: the kind).
    #[serde(default)]
    pub name: Option<String>,
    /// Overrides the venue's endpoint (mirrors, testnets, tests).
    #[serde(default)]
    pub url: Option<String>,
    /// Overrides the venue's REST base URL (`http://` or `https://`), where the adapter
    /// fetches over REST beside the websocket: Binance's `book` depth snapshots.
    #[serde(default)]
    pub rest_url: Option<String>,
    /// Symbols as the venue writes them, e.g. `BTCUSDT` (Binance), `BTC/USD` (Kraken).
    #[serde(default)]
    pub symbols: Vec<String>,
    /// What to subscribe to; every kind but `json` needs at least one.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// One connection attempt may take this long.
    #[serde(default = "default_source_connect_timeout_ms")]
    pub connect_timeout_ms: NonZeroU64,
    /// Reconnect when nothing at all arrives for this long (the silent-feed watchdog).
    #[serde(default = "default_silence_timeout_ms")]
    pub silence_timeout_ms: NonZeroU64,
    /// A websocket ping is sent at this interval.
    #[serde(default = "default_ping_interval_ms")]
    pub ping_interval_ms: NonZeroU64,
    /// Subscriptions must be acknowledged within this time, or the connection is retried.
    #[serde(default = "default_subscribe_timeout_ms")]
    pub subscribe_timeout_ms: NonZeroU64,
    /// Reconnect backoff: first wait, doubling (jittered) up to the maximum; forever.
    #[serde(default = "default_reconnect_initial_ms")]
    pub reconnect_initial_ms: NonZeroU64,
    /// Reconnect backoff: the longest wait between two attempts.
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Larger messages end the connection (it is then re-established).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// `book`: the depth subscribed, in levels per side, as the venue offers it
    /// (`check-config` lists the venue's choices; default: the venue's first).
    #[serde(default)]
    pub book_depth: Option<u32>,
    /// `book`: levels per side in each `book_snapshots` row.
    #[serde(default = "default_book_snapshot_depth")]
    pub book_snapshot_depth: NonZeroU32,
    /// `book`: a `book_snapshots` row per symbol every this much venue time (and at every
    /// synchronisation); 0: only at synchronisation.
    #[serde(default = "default_book_snapshot_interval_ms")]
    pub book_snapshot_interval_ms: u64,
    /// `open_interest` on venues whose stream carries none (Binance USDⓈ-M): the REST poll
    /// interval per symbol.
    #[serde(default = "default_open_interest_poll_ms")]
    pub open_interest_poll_ms: NonZeroU64,
    /// `instruments`: the venue's reference data (tick and lot sizes, contract size,
    /// expiry, status) is fetched when a connection opens and then at this interval.
    #[serde(default = "default_instruments_poll_ms")]
    pub instruments_poll_ms: NonZeroU64,
    /// One REST request (connect, answer and body) may take this long; a request that
    /// does not end in time is an `error` feed event and is made again after a backoff.
    #[serde(default = "default_rest_timeout_ms")]
    pub rest_timeout_ms: NonZeroU64,
    /// `kind = "json"` only: the feed's description (see `config/hypertick.toml`).
    #[serde(default)]
    pub json: Option<JsonFeedConfig>,
    /// Record: write every text message received, with its receipt time, to capture files in
    /// this directory (created if missing), which `hypertick replay` feeds through the
    /// same adapter later. Files are named `<source>-<UTC start>-<n>.ndjson[.zst]`.
    #[serde(default)]
    pub record: Option<std::path::PathBuf>,
    /// A capture file is closed and the next one started once it holds this many bytes…
    #[serde(default = "default_record_rotate_bytes")]
    pub record_rotate_bytes: u64,
    /// …or is this old.
    #[serde(default = "default_record_rotate_secs")]
    pub record_rotate_secs: NonZeroU64,
    /// Compress capture files with zstd (`.ndjson.zst`).
    #[serde(default)]
    pub record_zstd: bool,
}

fn default_book_snapshot_depth() -> NonZeroU32 {
    const { NonZeroU32::new(20).unwrap() }
}
fn default_book_snapshot_interval_ms() -> u64 {
    10_000
}

fn default_open_interest_poll_ms() -> NonZeroU64 {
    const { NonZeroU64::new(60_000).unwrap() }
}
fn default_instruments_poll_ms() -> NonZeroU64 {
    const { NonZeroU64::new(3_600_000).unwrap() }
}
fn default_rest_timeout_ms() -> NonZeroU64 {
    const { NonZeroU64::new(10_000).unwrap() }
}

fn default_record_rotate_bytes() -> u64 {
    256 << 20
}
fn default_record_rotate_secs() -> NonZeroU64 {
    const { NonZeroU64::new(3_600).unwrap() }
}

fn default_source_connect_timeout_ms() -> NonZeroU64 {
    const { NonZeroU64::new(10_000).unwrap() }
}
fn default_silence_timeout_ms() -> NonZeroU64 {
    const { NonZeroU64::new(30_000).unwrap() }
}
fn default_ping_interval_ms() -> NonZeroU64 {
    const { NonZeroU64::new(15_000).unwrap() }
}
fn default_subscribe_timeout_ms() -> NonZeroU64 {
    const { NonZeroU64::new(10_000).unwrap() }
}
fn default_reconnect_initial_ms() -> NonZeroU64 {
    const { NonZeroU64::new(250).unwrap() }
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}
fn default_max_message_bytes() -> usize {
    4 << 20
}

impl SourceKind {
    /// The name in configuration files, and a source's default name.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Binance => "binance",
            SourceKind::BinanceFutures => "binance_futures",
            SourceKind::Coinbase => "coinbase",
            SourceKind::Bybit => "bybit",
            SourceKind::BybitLinear => "bybit_linear",
            SourceKind::BybitInverse => "bybit_inverse",
            SourceKind::Kraken => "kraken",
            SourceKind::Okx => "okx",
            SourceKind::Deribit => "deribit",
            SourceKind::Alpaca => "alpaca",
            SourceKind::Polygon => "polygon",
            SourceKind::Hyperliquid => "hyperliquid",
            SourceKind::Json => "json",
        }
    }
}

impl Channel {
    /// Derivatives data and reference data: the channels beyond trades, quotes, bars,
    /// tickers, options and books.
    pub fn is_derivative(self) -> bool {
        matches!(self, Channel::Funding | Channel::OpenInterest | Channel::MarkPrice | Channel::Liquidations | Channel::Instruments)
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Trades => "trades",
            Channel::AggTrades => "agg_trades",
            Channel::Quotes => "quotes",
            Channel::Bars => "bars",
            Channel::Options => "options",
            Channel::Tickers => "tickers",
            Channel::Book => "book",
            Channel::Funding => "funding",
            Channel::OpenInterest => "open_interest",
            Channel::MarkPrice => "mark_price",
            Channel::Liquidations => "liquidations",
            Channel::Instruments => "instruments",
        }
    }
}

impl SourceConfig {
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.kind.name().to_string())
    }
}
