//! OKX v5 public websocket (`wss://ws.okx.com:8443/ws/v5/public`).
//!
//! Source: OKX API v5 docs (www.okx.com/docs-v5/en/), "WebSocket" overview and the
//! market-data channels `trades`, `tickers`, `candle1m` and `opt-summary`. `trades` become ticks (the
//! `side` is the taker's), `tickers` become quotes from the best bid and ask and 24-hour
//! tickers (one subscription for our `quotes` and `tickers`), confirmed 1-minute candles
//! become bars. OKX's `trades` channel already aggregates the fills of
//! one taker order at one price (`count` fills, `tradeId` the last one), and it has no
//! separate aggregated-trade stream, so `agg_trades` subscribes to nothing.
//!
//! Instrument ids (`BTC-USDT`) are already in our `BASE-QUOTE` form and are kept as they
//! are; the configured symbols are subscribed as given.
//!
//! Sequence checks: `tradeId` is numeric and increasing per instrument, but OKX does not
//! document it as contiguous (and the `trades` channel aggregates fills, so ids are
//! skipped on purpose). A skip is therefore no `gap` event; only an id at or below the
//! last one seen for the instrument (re-sent after a resubscribe) is dropped as a
//! duplicate. The state is one id per instrument, whatever the message rate.
//!
//! Heartbeat: OKX closes a connection that receives nothing for 30 s; the client sends
//! the text `ping` and OKX answers the text `pong` (not JSON), which parses as nothing.
//!
//! Option quotes: `options` subscribes `opt-summary` per instrument family
//! (`{"channel":"opt-summary","instFamily":"BTC-USD"}`, "Option summary channel"), whose
//! pushes carry every option of the family. Each element becomes an option quote: the
//! contract's parts from its instId (`BTC-USD-241227-100000-C`, read by
//! [`contracts`](crate::source::contracts)), the Black-Scholes greeks (`deltaBS`,
//! `gammaBS`, `vegaBS`, `thetaBS`; no rho), the volatilities `markVol`, `bidVol`,
//! `askVol` converted from fractions to percent (the unit Deribit publishes and
//! `options_quotes` stores), and the forward price `fwdPx` as the underlying price. The
//! channel has no bid, ask, last, open interest or volume; those columns stay empty.
//! Derivatives (`funding`, `open_interest`, `mark_price`, `liquidations`): see
//! `derivatives`; instrument reference data (`instruments`, REST polls): see `instruments`.
//!
//! `wire` mirrors the venue's JSON; `normalize` maps it onto our records; `subscribe`
//! makes the subscribe requests and matches their acks.

pub mod book;
mod derivatives;
mod instruments;
mod normalize;
mod subscribe;
mod wire;

pub use normalize::OkxAdapter;
