//! Alpaca market data v2, stocks (`wss://stream.data.alpaca.markets/v2/iex`).
//!
//! Source: Alpaca "Real-time stock pricing data" websocket docs
//! (docs.alpaca.markets, market data API v2, real-time stock data). The free plan streams
//! the IEX feed (`/v2/iex`, the default here); a paid subscription streams the
//! consolidated SIP feed: set `url = "wss://stream.data.alpaca.markets/v2/sip"`.
//!
//! Every server message is a JSON array of objects, each with a `T` type. On connect
//! the server sends `[{"T":"success","msg":"connected"}]`; the client then sends
//! `{"action":"auth","key":…,"secret":…}` (answered by `[{"T":"success","msg":"authenticated"}]`
//! or an error such as `[{"T":"error","code":402,"msg":"auth failed"}]`) and a
//! `{"action":"subscribe","trades":[…],"quotes":[…],"bars":[…]}` (answered by a
//! `subscription` message listing everything subscribed). Both are returned by
//! `subscriptions()`, in that order, and each is acknowledged by its answer; an `error`
//! message is dead-lettered as `subscription_refused` (the connection is then retried
//! once the acknowledgement deadline passes).
//!
//! Credentials come only from the environment, `APCA_API_KEY_ID` and
//! `APCA_API_SECRET_KEY` (Alpaca's own names), read when the adapter is built;
//! `check-config` reports a missing one. The secret is only ever written into the auth
//! message sent on the socket: it is in no log, error or `Debug` output.
//!
//! Channels: `trades` (`t`) → ticks with side unknown (Alpaca does not say which side
//! was the taker), `quotes` (`q`) → quotes with sizes in round lots as Alpaca sends them
//! (usually 100 shares), `bars` (`b`, minute bars; `t` is the bar start) → `1m` bars with
//! the trade count `n` and VWAP `vw`. No `agg_trades`. Symbols are tickers (`AAPL`), kept
//! as they are. Times are RFC 3339 with nanoseconds, cut to microseconds.
//!
//! Sequence checks: trade ids `i` are assigned per reporting exchange (`x`) and are
//! neither contiguous nor increasing across exchanges within one symbol, so there is no
//! gap check and no "at or below the last id" rule; instead the last
//! [`RECENT_TRADES`](normalize::RECENT_TRADES) (exchange, id) pairs per symbol are kept
//! and a trade seen among them (re-sent after a reconnect) is dropped as a duplicate.
//!
//! Bad elements: a message is parsed element by element. A message that is not a JSON
//! array is rejected as `invalid_json`; when every element of an array is rejected, the
//! first rejection is the message's (dead-lettered with the raw message); when some
//! elements are good, their records are kept and each rejected element is dead-lettered
//! on its own, with its raw text.
//!
//! `wire` mirrors the venue's JSON; `normalize` maps it onto our records.

mod normalize;
mod wire;

pub use normalize::{AlpacaAdapter, KEY_VARIABLE, SECRET_VARIABLE};
