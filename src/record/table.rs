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

use PgType::{Float8, Int2, Int8, Jsonb, Text, TimestampTz};

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
    FeedEvents,
    DeadLetters,
}

impl Table {
    /// Every table, in the order the daemon starts their writers.
    pub const ALL: [Table; 5] =
        [Table::Ticks, Table::Quotes, Table::Bars, Table::FeedEvents, Table::DeadLetters];

    /// The market-data tables.
    pub const MARKET_DATA: [Table; 3] = [Table::Ticks, Table::Quotes, Table::Bars];

    /// The time-series tables: range-partitioned on `time`, with retention.
    pub const TIME_SERIES: [Table; 4] =
        [Table::Ticks, Table::Quotes, Table::Bars, Table::FeedEvents];

    pub fn name(self) -> &'static str {
        match self {
            Table::Ticks => "ticks",
            Table::Quotes => "quotes",
            Table::Bars => "bars",
            Table::FeedEvents => "feed_events",
            Table::DeadLetters => "dead_letters",
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
            Table::FeedEvents => FEED_EVENT_COLUMNS,
            Table::DeadLetters => DEAD_LETTER_COLUMNS,
        }
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
