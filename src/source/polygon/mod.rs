//! Polygon.io stocks websocket (`wss://socket.polygon.io/stocks`; the 15-minute delayed
//! feed is `wss://delayed.polygon.io/stocks`, selected with the source's `url`).
//!
//! Source: Polygon.io stocks websocket docs (polygon.io/docs/stocks/ws_getting-started and
//! the `T`, `Q` and `AM` channel pages). Every message is a JSON array of events, each
//! with `ev`: `T` trades become ticks (`side` unknown: Polygon gives no aggressor),
//! `Q` NBBO quotes become quotes, `AM` minute aggregates become `1m` bars. Symbols
//! (tickers such as `AAPL`, `BRK.A`) are subscribed and stored as given.
//!
//! Handshake: after the `connected` status the client sends
//! `{"action":"auth","params":"<key>"}` and then
//! `{"action":"subscribe","params":"T.AAPL,Q.AAPL,AM.AAPL"}`. They are two subscriptions,
//! sent in that order on every connect: the first is acknowledged by `auth_success`, the
//! second once every requested topic was confirmed by a `subscribed to: <topic>` status.
//! The connector sends both at once, without waiting for `auth_success`; should the venue
//! ignore a subscribe that arrives before authentication completes, that request stays
//! unacknowledged and the connection is retried after the acknowledgement deadline.
//! `auth_failed`, `error` and `max_connections` statuses are dead-lettered as
//! `subscription_refused` (the unacknowledged request then makes the connector retry).
//!
//! The API key comes only from the environment variable `POLYGON_API_KEY`, read when the
//! adapter is built; it is sent in the auth message and nowhere else (not in errors,
//! logs or `Debug` output).
//!
//! Sequence checks: `q` is increasing and unique per ticker, but Polygon documents it as
//! not always sequential (e.g. 1, 2, 6, 9, 10, 11), so a skip is no `gap` event; only a
//! trade or quote whose `q` is at or below the last one of its ticker (re-sent after a
//! reconnect) is dropped as a duplicate, and a bar whose start is not after the last one.
//!
//! Bad elements: a message whose elements are all bad is dead-lettered whole; otherwise
//! the good elements are kept and each bad one is dead-lettered on its own, with its raw
//! text.
//!
//! `wire` mirrors the venue's JSON; `normalize` maps it onto our records.

mod normalize;
mod wire;

pub use normalize::{PolygonAdapter, API_KEY_VARIABLE};
