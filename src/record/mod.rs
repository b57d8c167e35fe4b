//! The normalized record types every source produces and every sink consumes, and
//! the description of the tables they land in (names, columns, PostgreSQL types).
//!
//! Records carry two clocks: `time`, the venue's event time, and `received_at`, the
//! moment hypertick received the data. Both are [`Timestamp`]s: microseconds since the
//! Unix epoch, the resolution of `timestamptz`.
//!
//! Custom tables (declared in the configuration) have their description in `custom`,
//! their typed values in `cell` (`numeric` ones as exact decimals, `decimal`), and the
//! seam through which rows are converted into those values in `convert` (the
//! conversion itself reads the push format and lives in `source::push`).

use serde::{Deserialize, Serialize};

mod analytics;
mod book;
mod cell;
mod column;
mod convert;
mod custom;
mod decimal;
mod derivatives;
mod instrument;
mod instrument_spec;
mod json_text;
mod options;
mod registry;
mod rejection;
mod row;
mod size;
mod table;
mod time;

pub use analytics::{IndicatorValue, Signal, TechnicalIndicators};
pub use book::{BookDelta, BookSide, BookSnapshot, SnapshotReason};
pub use cell::{format_uuid, jsonb_holds_nul, parse_uuid, random_uuid, CellValue};
pub use column::{Column, NumericTypmod, PgType, NUMERIC_MAX_PRECISION, VARCHAR_MAX_LENGTH};
pub use convert::{NormalizedRow, RowConverter};
pub use custom::{intern_custom_table, ColumnDefault, ColumnRule, CustomRow, CustomSchema};
pub use decimal::{Decimal, DecimalError, DecimalKind, NUMERIC_MAX_SCALE};
pub use derivatives::{FundingRate, Liquidation, MarkPrice, OpenInterest};
pub use instrument::Instrument;
pub use instrument_spec::{ContractType, InstrumentKind, InstrumentSpec, InstrumentStatus, INSTRUMENT_SPECS_TABLE};
pub use json_text::JsonText;
pub use options::{OptionKind, OptionQuote};
pub use rejection::{RejectReason, Rejection};
pub use row::{RelationalCatalog, RelationalTable, RowOp, RowRecord, SharedCatalog};
pub use size::{json_heap_bytes, ApproxBytes};
pub use table::{CustomTable, Table, TableDefaults, TableSpec};
pub use time::{is_interval, EpochUnit, ImplausibleNanos, Timestamp, INTERVAL_EXPECTED, MIN_PLAUSIBLE_EPOCH_NANOS};

/// Which side took liquidity in a trade, stored as `smallint` (1, -1, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(i16)]
pub enum Side {
    /// The buyer was the taker.
    Buy = 1,
    /// The seller was the taker.
    Sell = -1,
    /// The venue does not say.
    Unknown = 0,
}

/// A short string kept inline (up to 24 bytes) and allocated only when longer: a tick's
/// venue, symbol and trade id. At a million ticks a second, three allocations per tick
/// (and their frees on the writer's thread) were a tenth of the daemon's time.
pub use compact_str::{CompactString as ShortText, ToCompactString};

/// One trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: ShortText,
    pub symbol: ShortText,
    pub price: f64,
    pub size: f64,
    pub side: Side,
    pub trade_id: Option<ShortText>,
}

/// Top of book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub bid_price: f64,
    pub bid_size: f64,
    pub ask_price: f64,
    pub ask_size: f64,
}

/// A venue's rolling 24-hour statistics for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticker {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    pub last: f64,
    pub open_24h: Option<f64>,
    pub high_24h: Option<f64>,
    pub low_24h: Option<f64>,
    /// Base-asset volume over the last 24 hours.
    pub volume_24h: Option<f64>,
    /// Quote-asset volume (turnover) over the last 24 hours.
    pub quote_volume_24h: Option<f64>,
    /// `last` minus the price 24 hours ago.
    pub change: Option<f64>,
    /// `change` in percent of the price 24 hours ago.
    pub change_pct: Option<f64>,
}

/// One OHLCV bar; `time` is the bar's open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub venue: String,
    pub symbol: String,
    /// The bar length as written by producers: `1m`, `1h`, `1d`, …
    pub interval: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub vwap: Option<f64>,
    pub trades: Option<i64>,
}

/// Something that happened to a feed connection: connected, disconnected, a gap, …
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub time: Timestamp,
    pub received_at: Timestamp,
    pub source: String,
    /// `connected`, `disconnected`, `reconnecting`, `gap`, `resubscribed` or `error`.
    pub kind: &'static str,
    /// Details as a JSON object.
    pub detail: serde_json::Value,
}

/// A piece of input that could not become a record, kept with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub received_at: Timestamp,
    /// Which source delivered it (`push`, a venue name, …).
    pub source: String,
    /// A short, bounded reason label (also the metric label): a
    /// [`RejectReason::as_str`], or a source's own label for what is no record at all.
    pub reason: &'static str,
    /// The human-readable explanation.
    pub detail: String,
    /// The raw input, or a sample of it when it was too large to keep whole.
    pub raw: String,
}

/// The spool tag of [`Record::Row`]: fixed forever, like the market tables' ids, which
/// are their records' tags (see `registry.rs`).
const ROW_SPOOL_TAG: u32 = 8;

macro_rules! declare_records {
    (() $( $variant:ident($row:ty) = $table:ident / $name:ident, )*) => {
        /// A normalized market record, routed by kind to its table.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Record {
            $( $variant($row), )*
            /// A row for a relational table (orders, agent sessions, …) or a custom table.
            Row(RowRecord),
        }

        impl Record {
            pub fn table(&self) -> Table {
                match self {
                    $( Record::$variant(_) => Table::$table, )*
                    Record::Row(_) => Table::Relational,
                }
            }

            /// The venue's event time, which decides the partition the row lands in.
            pub fn time(&self) -> Timestamp {
                match self {
                    $( Record::$variant(row) => row.time, )*
                    Record::Row(row) => row.received_at,
                }
            }
        }

        impl ApproxBytes for Record {
            fn approx_bytes(&self) -> usize {
                match self {
                    $( Record::$variant(row) => row.approx_bytes(), )*
                    Record::Row(row) => row.approx_bytes(),
                }
            }
        }

        /// Serialized as an enum whose variant index is the table's fixed id (the row's
        /// [`ROW_SPOOL_TAG`]), never its position in the enum: the spool keeps these.
        impl Serialize for Record {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Record::$variant(row) => {
                        serializer.serialize_newtype_variant("Record", u32::from(Table::$table.spool_stream()), stringify!($variant), row)
                    } )*
                    Record::Row(row) => serializer.serialize_newtype_variant("Record", ROW_SPOOL_TAG, "Row", row),
                }
            }
        }

        impl<'de> Deserialize<'de> for Record {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Record, D::Error> {
                struct Tagged;
                impl<'de> serde::de::Visitor<'de> for Tagged {
                    type Value = Record;

                    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        formatter.write_str("a record tagged with its table's id")
                    }

                    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Record, A::Error> {
                        use serde::de::VariantAccess;
                        let (tag, variant): (u32, A::Variant) = data.variant()?;
                        $( if tag == u32::from(Table::$table.spool_stream()) {
                            return variant.newtype_variant().map(Record::$variant);
                        } )*
                        if tag == ROW_SPOOL_TAG {
                            return variant.newtype_variant().map(Record::Row);
                        }
                        Err(serde::de::Error::custom(format!("no record kind has the tag {tag}")))
                    }
                }
                const KINDS: &[&str] = &[ $( stringify!($variant), )* "Row" ];
                deserializer.deserialize_enum("Record", KINDS, Tagged)
            }
        }
    };
}

crate::builtin_tables!(records => declare_records);

impl DeadLetter {
    /// Raw input longer than this is kept as a sample with a note of its full length.
    pub const MAX_RAW_BYTES: usize = 64 * 1024;

    /// Builds a dead letter, making `raw` and `detail` storable: NUL bytes (which
    /// PostgreSQL text cannot hold) become U+FFFD and oversized input is cut to a sample.
    /// A cut `raw` is noted in the detail too: `(raw: the first K of N bytes kept)`.
    pub fn new(source: &str, reason: &'static str, detail: impl Into<String>, raw: &str) -> Self {
        let mut detail = storable_text(&detail.into(), Self::MAX_RAW_BYTES);
        let kept = storable_text(raw, Self::MAX_RAW_BYTES);
        if raw.len() > Self::MAX_RAW_BYTES {
            detail.push_str(&format!(" (raw: the first {} of {} bytes kept)", Self::MAX_RAW_BYTES.min(raw.len()), raw.len()));
        }
        DeadLetter { received_at: Timestamp::now(), source: source.to_string(), reason, detail, raw: kept }
    }
}

fn storable_text(text: &str, max_bytes: usize) -> String {
    let mut cut = text.len().min(max_bytes);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut kept = text[..cut].replace('\0', "\u{FFFD}");
    if cut < text.len() {
        kept.push_str(&format!("… [{} of {} bytes kept]", cut, text.len()));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_are_storable() {
        let letter = DeadLetter::new("push", "invalid_json", "bad\0detail", "a\0b");
        assert_eq!(letter.raw, "a\u{FFFD}b");
        assert_eq!(letter.detail, "bad\u{FFFD}detail");
        let huge = "é".repeat(DeadLetter::MAX_RAW_BYTES);
        let letter = DeadLetter::new("push", "frame_too_large", "", &huge);
        assert!(letter.raw.len() < huge.len());
        assert!(letter.raw.ends_with(&format!("of {} bytes kept]", huge.len())));
    }
}
