//! The tables records land in, described once: names and columns in COPY order with
//! their PostgreSQL types. The schema check at writer start and the COPY statement
//! both read these descriptions, so the two cannot disagree.
//!
//! The built-in tables are variants of [`Table`]; a custom table declared in the
//! configuration is `Table::Custom`, whose description ([`CustomTable`]) is built once
//! from the configuration and kept for the life of the process.

use std::borrow::Cow;
use std::fmt;

use super::custom::CustomTable;

/// Precision and scale of a `numeric(p, s)` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumericTypmod {
    /// Total significant digits, 1 to 1000.
    pub precision: u16,
    /// Digits after the decimal point, 0 to `precision`.
    pub scale: u16,
}

/// The PostgreSQL column types the daemon writes, named as `format_type()` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PgType {
    TimestampTz,
    Text,
    Float8,
    Int2,
    Int8,
    Jsonb,
    Date,
    Float8Array,
    Int4,
    Float4,
    Bool,
    Uuid,
    /// `numeric`, unconstrained or `numeric(p, s)`.
    Numeric(Option<NumericTypmod>),
    /// `character varying(n)`: text of at most n characters.
    Varchar(u32),
    TextArray,
}

/// Longest `numeric` precision PostgreSQL accepts in a type modifier.
pub const NUMERIC_MAX_PRECISION: u16 = 1000;
/// Longest `character varying(n)` PostgreSQL accepts.
pub const VARCHAR_MAX_LENGTH: u32 = 10_485_760;

impl PgType {
    /// The name `format_type(atttypid, atttypmod)` returns for this type.
    pub fn sql_name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            PgType::TimestampTz => "timestamp with time zone",
            PgType::Text => "text",
            PgType::Float8 => "double precision",
            PgType::Int2 => "smallint",
            PgType::Int8 => "bigint",
            PgType::Jsonb => "jsonb",
            PgType::Date => "date",
            PgType::Float8Array => "double precision[]",
            PgType::Int4 => "integer",
            PgType::Float4 => "real",
            PgType::Bool => "boolean",
            PgType::Uuid => "uuid",
            PgType::Numeric(None) => "numeric",
            PgType::Numeric(Some(typmod)) => return Cow::Owned(format!("numeric({},{})", typmod.precision, typmod.scale)),
            PgType::Varchar(length) => return Cow::Owned(format!("character varying({length})")),
            PgType::TextArray => "text[]",
        })
    }

    /// Reads a type as the configuration writes it: PostgreSQL's name or a common alias
    /// (`int4`, `integer`, `float8`, `double precision`, `numeric(10,2)`, `varchar(3)`,
    /// `timestamptz`, `text[]`, …), case and spacing aside. `None` for anything else.
    pub fn from_config_name(name: &str) -> Option<PgType> {
        let lower = name.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let normalized = words
            .join(" ")
            .replace(" (", "(")
            .replace("( ", "(")
            .replace(" )", ")")
            .replace(", ", ",")
            .replace(" ,", ",")
            .replace(" [", "[");
        let simple = match normalized.as_str() {
            "smallint" | "int2" => Some(PgType::Int2),
            "integer" | "int" | "int4" => Some(PgType::Int4),
            "bigint" | "int8" => Some(PgType::Int8),
            "real" | "float4" => Some(PgType::Float4),
            "double precision" | "float8" => Some(PgType::Float8),
            "numeric" | "decimal" => Some(PgType::Numeric(None)),
            "text" => Some(PgType::Text),
            "boolean" | "bool" => Some(PgType::Bool),
            "timestamp with time zone" | "timestamptz" => Some(PgType::TimestampTz),
            "date" => Some(PgType::Date),
            "jsonb" => Some(PgType::Jsonb),
            "uuid" => Some(PgType::Uuid),
            "text[]" => Some(PgType::TextArray),
            "double precision[]" | "float8[]" => Some(PgType::Float8Array),
            _ => None,
        };
        if simple.is_some() {
            return simple;
        }
        let (base, arguments) = normalized.strip_suffix(')')?.split_once('(')?;
        let arguments: Vec<&str> = arguments.split(',').collect();
        match (base, arguments.as_slice()) {
            ("numeric" | "decimal", [precision]) => numeric_typmod(precision, "0"),
            ("numeric" | "decimal", [precision, scale]) => numeric_typmod(precision, scale),
            ("varchar" | "character varying", [length]) => {
                let length: u32 = length.parse().ok()?;
                (1..=VARCHAR_MAX_LENGTH).contains(&length).then_some(PgType::Varchar(length))
            }
            _ => None,
        }
    }

    /// Whether values of this type are arrays (which insert mode cannot pass).
    pub fn is_array(self) -> bool {
        matches!(self, PgType::Float8Array | PgType::TextArray)
    }
}

fn numeric_typmod(precision: &str, scale: &str) -> Option<PgType> {
    let precision: u16 = precision.parse().ok()?;
    let scale: u16 = scale.parse().ok()?;
    let valid = (1..=NUMERIC_MAX_PRECISION).contains(&precision) && scale <= precision;
    valid.then_some(PgType::Numeric(Some(NumericTypmod { precision, scale })))
}

/// One column the daemon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

const DEAD_LETTER_COLUMNS: &[Column] =
    &[column("received_at", TimestampTz), column("source", Text), column("reason", Text), column("detail", Text), column("raw", Text)];

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
    /// A table declared in the configuration (`[[custom_tables]]`): written by the COPY
    /// writers like the built-in time series, partitioned on its own time column.
    Custom(&'static CustomTable),
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
            Table::Custom(custom) => custom.name,
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

    /// The name as it goes into SQL: a custom table's is quoted (a checked lower-case
    /// identifier, but possibly a word SQL reserves); built-in ones read as they always did.
    pub fn quoted_name(self) -> Cow<'static, str> {
        match self {
            Table::Custom(custom) => Cow::Owned(format!("\"{}\"", custom.name)),
            _ => Cow::Borrowed(self.name()),
        }
    }

    /// This table's position in [`Table::ALL`], for per-table arrays; `None` for a
    /// custom table, which is not in it.
    /// The spool stream of this table's records: a built-in table's position in
    /// [`Table::ALL`]; every custom table shares [`Table::CUSTOM_SPOOL_STREAM`] (a stream
    /// is only a sequence space; each sequence belongs to one record of one table).
    pub fn spool_stream(self) -> u16 {
        self.index().map_or(Self::CUSTOM_SPOOL_STREAM, |index| index as u16)
    }

    /// The stream's name in `ingest_spool_ranges` and `ingest_offsets` (`spool/<name>`).
    pub fn spool_stream_name(self) -> &'static str {
        match self {
            Table::Custom(_) => Self::CUSTOM_SPOOL_STREAM_NAME,
            builtin => builtin.name(),
        }
    }

    /// The spool stream shared by the custom tables.
    pub const CUSTOM_SPOOL_STREAM: u16 = Table::ALL.len() as u16;
    pub const CUSTOM_SPOOL_STREAM_NAME: &'static str = "custom_tables";

    /// Every spool stream: the spooled built-in tables' and the custom tables' one.
    pub const SPOOL_STREAMS: usize = Table::ALL.len() + 1;

    pub fn index(self) -> Option<usize> {
        Some(match self {
            Table::Ticks => 0,
            Table::Quotes => 1,
            Table::Bars => 2,
            Table::Tickers => 3,
            Table::OptionsQuotes => 4,
            Table::TechnicalIndicators => 5,
            Table::IndicatorValues => 6,
            Table::Signals => 7,
            Table::FeedEvents => 8,
            Table::DeadLetters => 9,
            Table::Relational => 10,
            Table::Custom(_) => return None,
        })
    }

    /// The description of a custom table; `None` for a built-in one.
    pub fn custom(self) -> Option<&'static CustomTable> {
        match self {
            Table::Custom(custom) => Some(custom),
            _ => None,
        }
    }

    /// The column rows are partitioned on: `time`, or a custom table's time column.
    pub fn time_column(self) -> &'static str {
        match self {
            Table::Custom(custom) => custom.time_column(),
            _ => "time",
        }
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
            Table::Custom(custom) => custom.columns,
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
        self.columns().iter().all(|column| !column.pg_type.is_array())
    }

    /// Whether the table is range-partitioned on its time column (and so has retention).
    pub fn is_time_partitioned(self) -> bool {
        matches!(self, Table::Custom(_)) || Table::TIME_SERIES.contains(&self)
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
            assert_eq!(table.index(), Some(position), "{table}");
        }
    }

    #[test]
    fn config_type_names_read_as_the_catalog_prints_them() {
        let cases = [
            ("int2", "smallint"),
            ("INTEGER", "integer"),
            ("int8", "bigint"),
            ("float4", "real"),
            ("double   precision", "double precision"),
            ("numeric", "numeric"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("decimal(15,6)", "numeric(15,6)"),
            ("numeric(5)", "numeric(5,0)"),
            ("varchar(3)", "character varying(3)"),
            ("character varying(255)", "character varying(255)"),
            ("bool", "boolean"),
            ("timestamptz", "timestamp with time zone"),
            ("date", "date"),
            ("jsonb", "jsonb"),
            ("uuid", "uuid"),
            ("text[]", "text[]"),
            ("float8[]", "double precision[]"),
        ];
        for (written, catalog) in cases {
            let parsed = PgType::from_config_name(written).unwrap_or_else(|| panic!("{written}"));
            assert_eq!(parsed.sql_name(), catalog, "{written}");
            assert_eq!(PgType::from_config_name(catalog), Some(parsed), "{catalog} reads back");
        }
        for refused in ["timestamp", "json", "numeric(0)", "numeric(3,4)", "numeric(1001)", "varchar", "varchar(0)", "int[]", "money", ""] {
            assert_eq!(PgType::from_config_name(refused), None, "{refused}");
        }
    }
}
