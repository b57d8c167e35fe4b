//! hypertick: market data from websocket feeds into PostgreSQL / TimescaleDB with
//! binary COPY, without losing or duplicating a row.
//!
//! Module map, in the order a record travels:
//!
//! - [`config`]: the TOML configuration, environment overrides, validation.
//! - [`record`]: the normalized record types and the tables they land in.
//! - [`source`]: where records come from: the push websocket server, the venue feeds
//!   (one adapter per exchange, a generic JSON one) on a shared websocket connector.
//! - [`spool`]: the local write-ahead log that keeps accepted records on disk until
//!   the database has committed them.
//! - [`pipeline`]: per-table bounded channels, the full-channel policy, the batcher, the
//!   indicator stage.
//! - [`sink`]: the PGCOPY binary encoder, the COPY writer tasks and the relational writer.
//! - [`indicators`]: streaming technical indicators over bars (SMA, EMA, RSI, MACD,
//!   Bollinger, volume, support / resistance), pure computation on `record` types.
//! - [`db`]: connections, migrations, the schema profile, partition maintenance, and the
//!   throwaway cluster used by the demo and the tests.
//! - [`metrics`]: the Prometheus endpoint, event functions that log and count, latency
//!   histograms and the periodic summary.
//! - [`app`] and [`shutdown`]: wiring the daemon together and stopping it cleanly.
//! - [`demo`]: the self-contained demo (throwaway database, synthetic live feed).
//! - [`bench`]: the end-to-end benchmark against the database's COPY ceiling and naive writers.
//! - [`logging`]: text or JSON log lines; [`docs`]: the configuration reference, shell
//!   completions and the man page, generated from the code.
//! - [`import`]: backfill from vendor files, resumable, through the same COPY writers.
//! - [`replay`]: capture files of venue feeds replayed through the same adapters.

pub mod app;
pub mod bench;
pub mod bus;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod docs;
pub mod import;
pub mod indicators;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod spool;
