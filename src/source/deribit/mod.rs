//! Deribit API v2 public websocket (`wss://www.deribit.com/ws/api/v2`), JSON-RPC 2.0.
//!
//! Source: Deribit API v2 docs (docs.deribit.com): `public/subscribe`, the
//! `trades.{instrument_name}.{interval}` and `ticker.{instrument_name}.{interval}`
//! channels, `public/set_heartbeat` and `public/test`. `trades.{instrument}.raw` becomes
//! ticks (`direction` is the taker's side, `amount` the size), `ticker.{instrument}.100ms`
//! becomes quotes from the best bid and ask (`quotes`), 24-hour tickers from its `stats`
//! for futures and perpetuals (`tickers`) and, for option instruments, option quotes with
//! greeks and implied volatilities (`options`); the one ticker channel is subscribed once
//! for all three. `book.{instrument}.100ms` becomes the `book` channel (the public
//! variant, changes aggregated over 100 ms; see `book` for what is stored and checked).
//! Deribit has no aggregated-trade or bar stream here, so only `trades`, `quotes`,
//! `tickers`, `options` and `book` are offered.
//!
//! Instrument names (`BTC-PERPETUAL`, `BTC-27DEC24-100000-C`) are kept as they are; the
//! configured symbols are subscribed as given.
//!
//! Sequence checks: `trade_seq` is contiguous per instrument. A skip is a `gap` event; a
//! number at or below the last one seen for the instrument (re-sent after a resubscribe)
//! is dropped as a duplicate. The state is one number per instrument.
//!
//! Heartbeat: on every (re)connect `public/set_heartbeat` (30 s) is sent with the
//! subscriptions. Deribit then sends `heartbeat` notifications; a `test_request` one must
//! be answered with a `public/test` request or Deribit closes the connection, so the
//! answer is returned in [`Parsed::replies`](crate::source::feed::Parsed::replies).
//!
//! Option quotes: `options` subscribes the ticker of the configured symbols that are
//! Deribit option names (`BTC-27DEC24-100000-C`, read by
//! [`contracts`](crate::source::contracts)); other symbols have no option quotes. Prices
//! are as Deribit publishes them — in the underlying currency for inverse options (BTC,
//! ETH), in USDC for linear ones — and implied volatilities are Deribit's percent.
//!
//! Derivatives (`funding`, `open_interest`, `mark_price`, `liquidations`): see
//! `derivatives`; instrument reference data (`instruments`, REST polls): see `instruments`.
//!
//! `wire` mirrors the venue's JSON; `normalize` maps it onto our records.

mod book;
mod derivatives;
mod instruments;
mod normalize;
mod wire;

pub use normalize::DeribitAdapter;
