//! The tables records land in, described once: names and columns in COPY order with
//! their PostgreSQL types. The schema check at writer start and the COPY statement
//! both read these descriptions, so the two cannot disagree.

use std::fmt;

/// The PostgreSQL column types the daemon writes, named as `format_type()` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgType {
    TimestampTz,
    Text,
    Float8,
    Int2,
    Int8,
    Jsonb,
    Date,
    Float8Array,
}

impl PgType {
    /// The name `format_type(atttypid, atttypmod)` returns for this type.
    pub fn sql_name(self) -> &'static str {
        match self {
            PgType::TimestampTz => "timestamp with time zone",
            PgType::Text => "text",
            PgType::Float8 => "double precision",
            PgType::Int2 => "smallint",
            PgType::Int8 => "bigint",
            PgType::Jsonb => "jsonb",
            PgType::Date => "date",
            PgType::Float8Array => "double precision[]",
        }
    }
}

/// One column the daemon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub pg_type: PgType,
}

const fn column(name: &'static str, pg_type: PgType) -> Column {
    Column { name, pg_type }
}

use PgType::{Date, Float8, Float8Array, Int2, Int8, Jsonb, Text, TimestampTz};

const TICK_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("price", Float8),
    column("size", Float8),
    column("side", Int2),
    column("trade_id", Text),
];

const QUOTE_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("bid_price", Float8),
    column("bid_size", Float8),
    column("ask_price", Float8),
    column("ask_size", Float8),
];

const BAR_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("interval", Text),
    column("open", Float8),
    column("high", Float8),
    column("low", Float8),
    column("close", Float8),
    column("volume", Float8),
    column("vwap", Float8),
    column("trades", Int8),
];

const TICKER_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("last", Float8),
    column("open_24h", Float8),
    column("high_24h", Float8),
    column("low_24h", Float8),
    column("volume_24h", Float8),
    column("quote_volume_24h", Float8),
    column("change", Float8),
    column("change_pct", Float8),
];

const OPTION_QUOTE_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("underlying", Text),
    column("option_type", Text),
    column("strike", Float8),
    column("expiration", Date),
    column("bid", Float8),
    column("ask", Float8),
    column("last", Float8),
    column("mark", Float8),
    column("volume", Float8),
    column("open_interest", Float8),
    column("delta", Float8),
    column("gamma", Float8),
    column("theta", Float8),
    column("vega", Float8),
    column("rho", Float8),
    column("iv", Float8),
    column("bid_iv", Float8),
    column("ask_iv", Float8),
    column("underlying_price", Float8),
];

const TECHNICAL_INDICATOR_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("interval", Text),
    column("sma_20", Float8),
    column("sma_50", Float8),
    column("ema_20", Float8),
    column("ema_50", Float8),
    column("rsi", Float8),
    column("macd_line", Float8),
    column("macd_signal", Float8),
    column("macd_histogram", Float8),
    column("bb_upper", Float8),
    column("bb_middle", Float8),
    column("bb_lower", Float8),
    column("bb_width", Float8),
    column("volume_sma_10", Float8),
    column("volume_ratio", Float8),
    column("support_levels", Float8Array),
    column("resistance_levels", Float8Array),
];

const INDICATOR_VALUE_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("venue", Text),
    column("symbol", Text),
    column("interval", Text),
    column("name", Text),
    column("value", Float8),
];

const SIGNAL_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("source", Text),
    column("category", Text),
    column("symbol", Text),
    column("direction", Text),
    column("strength", Float8),
    column("confidence", Float8),
    column("impact", Text),
    column("content", Text),
    column("payload", Jsonb),
];

const FEED_EVENT_COLUMNS: &[Column] = &[
    column("time", TimestampTz),
    column("received_at", TimestampTz),
    column("source", Text),
    column("kind", Text),
    column("detail", Jsonb),
];

const DEAD_LETTER_COLUMNS: &[Column] = &[
    column("received_at", TimestampTz),
    column("source", Text),
    column("reason", Text),
    column("detail", Text),
    column("raw", Text),
];

/// Every table the writers feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Ticks,
    Quotes,
    Bars,
    Tickers,
    OptionsQuotes,
    TechnicalIndicators,
    IndicatorValues,
    Signals,
    FeedEvents,
    DeadLetters,
    /// The relational side's lane: rows for orders, agent sessions, … of any relational
    /// table, written by the relational writer (columns come from the catalog).
    Relational,
}

impl Table {
    /// Every table, in the order the daemon starts their writers.
    pub const ALL: [Table; 11] = [
        Table::Ticks,
        Table::Quotes,
        Table::Bars,
        Table::Tickers,
        Table::OptionsQuotes,
        Table::TechnicalIndicators,
        Table::IndicatorValues,
        Table::Signals,
        Table::FeedEvents,
        Table::DeadLetters,
        Table::Relational,
    ];

    /// The market-data tables.
    pub const MARKET_DATA: [Table; 8] = [
        Table::Ticks,
        Table::Quotes,
        Table::Bars,
        Table::Tickers,
        Table::OptionsQuotes,
        Table::TechnicalIndicators,
        Table::IndicatorValues,
        Table::Signals,
    ];

    /// The time-series tables: range-partitioned on `time`, with retention.
    pub const TIME_SERIES: [Table; 9] = [
        Table::Ticks,
        Table::Quotes,
        Table::Bars,
        Table::Tickers,
        Table::OptionsQuotes,
        Table::TechnicalIndicators,
        Table::IndicatorValues,
        Table::Signals,
        Table::FeedEvents,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Ticks => "ticks",
            Table::Quotes => "quotes",
            Table::Bars => "bars",
            Table::Tickers => "tickers",
            Table::OptionsQuotes => "options_quotes",
            Table::TechnicalIndicators => "technical_indicators",
            Table::IndicatorValues => "indicator_values",
            Table::Signals => "signals",
            Table::FeedEvents => "feed_events",
            Table::DeadLetters => "dead_letters",
            Table::Relational => "relational",
        }
    }

    /// This table's position in [`Table::ALL`], for per-table arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The columns the daemon writes, in COPY order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Ticks => TICK_COLUMNS,
            Table::Quotes => QUOTE_COLUMNS,
            Table::Bars => BAR_COLUMNS,
            Table::Tickers => TICKER_COLUMNS,
            Table::OptionsQuotes => OPTION_QUOTE_COLUMNS,
            Table::TechnicalIndicators => TECHNICAL_INDICATOR_COLUMNS,
            Table::IndicatorValues => INDICATOR_VALUE_COLUMNS,
            Table::Signals => SIGNAL_COLUMNS,
            Table::FeedEvents => FEED_EVENT_COLUMNS,
            Table::DeadLetters => DEAD_LETTER_COLUMNS,
            Table::Relational => &[],
        }
    }

    /// The tables venues fill at market rates, which get several writers by default.
    pub fn is_high_rate(self) -> bool {
        matches!(self, Table::Ticks | Table::Quotes | Table::Bars | Table::OptionsQuotes)
    }

    /// Whether records of this table go through the spool (all but the daemon's own
    /// feed events and dead letters).
    pub fn is_spooled(self) -> bool {
        !matches!(self, Table::FeedEvents | Table::DeadLetters)
    }

    /// Whether insert mode can write this table: a column of arrays cannot be passed as
    /// one array parameter per column.
    pub fn supports_insert_mode(self) -> bool {
        self.columns().iter().all(|column| column.pg_type != PgType::Float8Array)
    }

    /// Whether the table is range-partitioned on `time` (and so has retention).
    pub fn is_time_partitioned(self) -> bool {
        Table::TIME_SERIES.contains(&self)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all() {
        for (position, table) in Table::ALL.iter().enumerate() {
            assert_eq!(table.index(), position, "{table}");
        }
    }
}
