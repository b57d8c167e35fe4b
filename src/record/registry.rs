//! The built-in tables, each declared once.
//!
//! Every entry names the table's variant of [`Table`](super::Table) and its fixed id, the
//! table's SQL name (also its lane, its `[tables.<name>]` section and its spool stream
//! name), the record struct its rows are, write-path properties (the TimescaleDB
//! columnstore's segment key among them: rows of one series compress together; one
//! contract's quotes are few, so an options chain is segmented by underlying), per-table
//! defaults (tick data kept two years and compressed after a week, as trading teams run
//! it; derived series kept forever) and
//! the columns in COPY order with their PostgreSQL types. Everything that used to list
//! the tables one by one is derived from this list: the `Table` enum and its
//! descriptions, the `Record` enum (and its spool encoding), the router's lanes, the
//! writers the daemon starts, the bus edges, the `[tables]` configuration sections. The
//! SQL of both schema profiles is written by hand in `sql/` and checked against these
//! columns by the schema check every writer runs at start (and by the tests).
//!
//! **Ids are on-disk.** A table's id is its spool stream number (in spool segment
//! headers and bus journal lines) and, for a market table, the tag of its records in the
//! spool: never renumber one, never reuse one. 10 is the relational lane and 11 the
//! custom tables' shared stream (both declared in `table.rs`); a new table takes the
//! next free id from 12 on. `tests/it/upgrade.rs` reads a spool written by release 0.1.
//!
//! Two groups: `market` tables take records from sources (a `Record` variant, routed
//! and spooled); `own` tables are the daemon's bookkeeping (feed events, dead letters),
//! queued by the daemon itself and never spooled.
//!
//! Use: `builtin_tables!(VIEW => callback)` or `builtin_tables!(VIEW => callback(args))`
//! calls `callback! { (args) … }` with the list in one of these shapes:
//!
//! - `all`: every entry as written, `market { … } own { … }`;
//! - `lanes`: `name: path::to::Row = Variant,` for every table with a COPY lane;
//! - `records`: `RecordVariant(path::to::Row) = Variant / name,` for every market table.

#[macro_export]
#[doc(hidden)]
macro_rules! builtin_tables {
    ($view:ident => $callback:ident $(($($args:tt)*))?) => {
        $crate::builtin_tables! { @$view [$callback ($($($args)*)?)]
        market {
            /// Trades.
            Ticks = 0 {
                table: ticks, row: Tick, record: Tick,
                high_rate: true, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    price: Float8, size: Float8, side: Int2, trade_id: Text,
                ],
            }
            /// Top of book.
            Quotes = 1 {
                table: quotes, row: Quote, record: Quote,
                high_rate: true, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    bid_price: Float8, bid_size: Float8, ask_price: Float8, ask_size: Float8,
                ],
            }
            /// OHLCV bars.
            Bars = 2 {
                table: bars, row: Bar, record: Bar,
                high_rate: true, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text, interval: Text,
                    open: Float8, high: Float8, low: Float8, close: Float8, volume: Float8, vwap: Float8, trades: Int8,
                ],
            }
            /// Venues' rolling 24-hour statistics.
            Tickers = 3 {
                table: tickers, row: Ticker, record: Ticker,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    last: Float8, open_24h: Float8, high_24h: Float8, low_24h: Float8,
                    volume_24h: Float8, quote_volume_24h: Float8, change: Float8, change_pct: Float8,
                ],
            }
            /// Option quotes with greeks and implied volatilities.
            OptionsQuotes = 4 {
                table: options_quotes, row: OptionQuote, record: OptionQuote,
                high_rate: true, partitioned: true,
                segment_by: underlying,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    underlying: Text, option_type: Text, strike: Float8, expiration: Date,
                    bid: Float8, ask: Float8, last: Float8, mark: Float8, volume: Float8, open_interest: Float8,
                    delta: Float8, gamma: Float8, theta: Float8, vega: Float8, rho: Float8,
                    iv: Float8, bid_iv: Float8, ask_iv: Float8, underlying_price: Float8,
                ],
            }
            /// The fixed indicator set per bar.
            TechnicalIndicators = 5 {
                table: technical_indicators, row: TechnicalIndicators, record: TechnicalIndicators,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text, interval: Text,
                    sma_20: Float8, sma_50: Float8, ema_20: Float8, ema_50: Float8, rsi: Float8,
                    macd_line: Float8, macd_signal: Float8, macd_histogram: Float8,
                    bb_upper: Float8, bb_middle: Float8, bb_lower: Float8, bb_width: Float8,
                    volume_sma_10: Float8, volume_ratio: Float8,
                    support_levels: Float8Array, resistance_levels: Float8Array,
                ],
            }
            /// Named indicator values producers computed.
            IndicatorValues = 6 {
                table: indicator_values, row: IndicatorValue, record: IndicatorValue,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text, interval: Text,
                    name: Text, value: Float8,
                ],
            }
            /// Agents' calls, news scores, models' outputs (free text and JSON: larger records).
            Signals = 7 {
                table: signals, row: Signal, record: Signal,
                high_rate: false, partitioned: true,
                segment_by: source,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 4 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, source: Text, category: Text, symbol: Text,
                    direction: Text, strength: Float8, confidence: Float8, impact: Text, content: Text, payload: Jsonb,
                ],
            }
            /// Order book level changes; the rows of a full snapshot are marked `snapshot`.
            BookDeltas = 12 {
                table: book_deltas, row: BookDelta, record: BookDelta,
                high_rate: true, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text, side: Text,
                    price: Float8, size: Float8, sequence: Int8, snapshot: Bool,
                ],
            }
            /// Top-N pictures of order books, at an interval and at every synchronisation.
            BookSnapshots = 13 {
                table: book_snapshots, row: BookSnapshot, record: BookSnapshot,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text, sequence: Int8,
                    bid_prices: Float8Array, bid_sizes: Float8Array, ask_prices: Float8Array, ask_sizes: Float8Array,
                    depth: Int4, reason: Text,
                ],
            }
            /// Funding rates of perpetual contracts, as venues publish them.
            FundingRates = 14 {
                table: funding_rates, row: FundingRate, record: FundingRate,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    rate: Float8, predicted_rate: Float8, next_funding_time: TimestampTz, interval: Text,
                ],
            }
            /// Open interest of contracts.
            OpenInterest = 15 {
                table: open_interest, row: OpenInterest, record: OpenInterest,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    contracts: Float8, notional: Float8,
                ],
            }
            /// Mark prices and the index (or oracle) prices contracts follow.
            MarkPrices = 16 {
                table: mark_prices, row: MarkPrice, record: MarkPrice,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 730, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    mark_price: Float8, index_price: Float8,
                ],
            }
            /// Forced liquidations.
            Liquidations = 17 {
                table: liquidations, row: Liquidation, record: Liquidation,
                high_rate: false, partitioned: true,
                segment_by: symbol,
                defaults: { retention_days: 0, partition_hours: 168, columnstore_after_days: 30, max_record_bytes: 1 << 20 },
                columns: [
                    time: TimestampTz, received_at: TimestampTz, venue: Text, symbol: Text,
                    side: Int2, price: Float8, quantity: Float8, order_id: Text,
                ],
            }
        }
        own {
            /// What happened to feed connections.
            FeedEvents = 8 {
                table: feed_events, row: FeedEvent,
                high_rate: false, partitioned: true,
                segment_by: source,
                defaults: { retention_days: 90, partition_hours: 24, columnstore_after_days: 7, max_record_bytes: 1 << 20 },
                columns: [time: TimestampTz, received_at: TimestampTz, source: Text, kind: Text, detail: Jsonb],
            }
            /// Input that could not become a record, kept with the reason (deleted after
            /// `retention_days` by a periodic task: the table is not partitioned).
            DeadLetters = 9 {
                table: dead_letters, row: DeadLetter,
                high_rate: false, partitioned: false,
                segment_by: source,
                defaults: { retention_days: 30, partition_hours: 24, columnstore_after_days: 0, max_record_bytes: 1 << 20 },
                columns: [received_at: TimestampTz, source: Text, reason: Text, detail: Text, raw: Text],
            }
        }
        }
    };

    // Views of the list.
    (@all [$callback:ident ($($args:tt)*)] $($list:tt)*) => {
        $callback! { ($($args)*) $($list)* }
    };
    (@lanes [$callback:ident ($($args:tt)*)]
        market { $( $(#[$market_doc:meta])* $market:ident = $market_id:literal {
            table: $market_name:ident, row: $market_row:ident, record: $record:ident, $($market_rest:tt)*
        } )* }
        own { $( $(#[$own_doc:meta])* $own:ident = $own_id:literal {
            table: $own_name:ident, row: $own_row:ident, $($own_rest:tt)*
        } )* }
    ) => {
        $callback! { ($($args)*) $( $market_name: $crate::record::$market_row = $market, )* $( $own_name: $crate::record::$own_row = $own, )* }
    };
    (@records [$callback:ident ($($args:tt)*)]
        market { $( $(#[$market_doc:meta])* $market:ident = $market_id:literal {
            table: $market_name:ident, row: $market_row:ident, record: $record:ident, $($market_rest:tt)*
        } )* }
        own { $($own:tt)* }
    ) => {
        $callback! { ($($args)*) $( $record($crate::record::$market_row) = $market / $market_name, )* }
    };
}
