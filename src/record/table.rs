//! The tables records land in, described once: names, fixed ids, columns in COPY order
//! with their PostgreSQL types, and write-path properties. The schema check at writer
//! start and the COPY statement both read these descriptions, so the two cannot disagree.
//!
//! The built-in tables are variants of [`Table`], generated from the declarations in
//! `registry.rs`; the relational lane is declared here, since it is not one table but
//! the lane of every relational one. A custom table declared in the configuration is
//! `Table::Custom`, whose description ([`CustomTable`]) is built once from the
//! configuration and kept for the life of the process.

use std::borrow::Cow;
use std::fmt;

use super::column::{Column, PgType};

/// A custom table's name, columns in COPY order, and which of them is the time column.
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomTable {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub time_index: usize,
}

impl CustomTable {
    pub fn time_column(&self) -> &'static str {
        self.columns[self.time_index].name
    }
}

impl fmt::Debug for CustomTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name)
    }
}

/// What the daemon assumes of a table until `[tables.<name>]` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDefaults {
    /// Days of data kept (0: forever).
    pub retention_days: u32,
    /// Width of one partition (chunk) in hours.
    pub partition_hours: u32,
    /// TimescaleDB: days after which chunks move to the columnstore (0: never).
    pub columnstore_after_days: u32,
    /// Records larger than this in memory are refused.
    pub max_record_bytes: usize,
}

/// A built-in table's description.
#[derive(Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// The SQL name, also the `[tables.<name>]` section and the spool stream's name.
    pub name: &'static str,
    /// Fixed forever: the spool stream number (and a market record's spool tag).
    pub id: u16,
    /// The columns the daemon writes, in COPY order.
    pub columns: &'static [Column],
    /// Filled by venues at market rates: several writers by default.
    pub high_rate: bool,
    /// Range-partitioned on `time` (a hypertable on TimescaleDB), with retention.
    pub partitioned: bool,
    /// TimescaleDB: the columnstore's segment key (rows of one series compress together).
    pub segment_by: &'static str,
    /// A market table: its records come from sources (a `Record` variant), are routed
    /// and spooled. The others are the daemon's own bookkeeping and the relational lane.
    pub market: bool,
    pub defaults: TableDefaults,
}

/// The relational lane's description: rows for orders, agent sessions, … of any
/// relational table, written by the relational writer (columns come from the catalog).
const RELATIONAL: TableSpec = TableSpec {
    name: "relational",
    id: 10,
    columns: &[],
    high_rate: false,
    partitioned: false,
    segment_by: "",
    market: false,
    defaults: TableDefaults { retention_days: 0, partition_hours: 24, columnstore_after_days: 0, max_record_bytes: 4 << 20 },
};

macro_rules! declare_tables {
    (() market { $($market:tt)* } own { $($own:tt)* }) => {
        declare_tables!(@enum $($market)* $($own)*);
        /// The built-in tables' descriptions, one constant each.
        #[allow(non_upper_case_globals)]
        mod specs {
            use super::*;
            declare_tables!(@specs true $($market)*);
            declare_tables!(@specs false $($own)*);
        }
    };
    (@enum $( $(#[$doc:meta])* $table:ident = $id:literal { $($entry:tt)* } )*) => {
        /// Every table the writers feed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Table {
            $( $(#[$doc])* $table, )*
            /// The relational side's lane: rows for orders, agent sessions, … of any
            /// relational table, written by the relational writer.
            Relational,
            /// A table declared in the configuration (`[[custom_tables]]`): written by the
            /// COPY writers like the built-in time series, partitioned on its own time column.
            Custom(&'static CustomTable),
        }

        impl Table {
            /// Every built-in table, in the order the daemon starts their writers.
            pub const ALL: [Table; 1 $( + declare_tables!(@one $table) )*] = [ $( Table::$table, )* Table::Relational ];

            /// One more than the highest spool stream number, for per-stream arrays.
            pub const SPOOL_STREAMS: usize = {
                let ids = [ $( $id, )* RELATIONAL.id, Table::CUSTOM_SPOOL_STREAM ];
                let mut highest = 0;
                let mut index = 0;
                while index < ids.len() {
                    if ids[index] > highest {
                        highest = ids[index];
                    }
                    index += 1;
                }
                highest as usize + 1
            };

            /// Each spool stream's position in [`Table::ALL`], computed once at compile time
            /// (the routing path asks for it per record).
            const POSITION_BY_ID: [usize; Table::SPOOL_STREAMS] = {
                let ids = [ $( $id, )* RELATIONAL.id ];
                let mut positions = [usize::MAX; Table::SPOOL_STREAMS];
                let mut position = 0;
                while position < ids.len() {
                    positions[ids[position] as usize] = position;
                    position += 1;
                }
                positions
            };

            /// A built-in table's description; `None` for a custom table.
            pub fn spec(self) -> Option<&'static TableSpec> {
                Some(match self {
                    $( Table::$table => &specs::$table, )*
                    Table::Relational => &RELATIONAL,
                    Table::Custom(_) => return None,
                })
            }
        }
    };
    (@specs $market:literal $( $(#[$doc:meta])* $table:ident = $id:literal {
        table: $name:ident, row: $row:ident, $(record: $record:ident,)?
        high_rate: $high_rate:literal, partitioned: $partitioned:literal,
        segment_by: $segment_by:ident,
        defaults: { $($defaults:tt)* },
        columns: [ $($column:ident: $pg_type:ident),* $(,)? ],
    } )*) => {
        $(
            pub(super) const $table: TableSpec = TableSpec {
                name: stringify!($name),
                id: $id,
                columns: &[ $( Column { name: stringify!($column), pg_type: PgType::$pg_type } ),* ],
                high_rate: $high_rate,
                partitioned: $partitioned,
                segment_by: stringify!($segment_by),
                market: $market,
                defaults: TableDefaults { $($defaults)* },
            };
        )*
    };
    (@one $table:ident) => { 1 };
}

crate::builtin_tables!(all => declare_tables);

impl Table {
    /// The built-in table of a spool stream number (its id).
    pub fn from_id(id: u16) -> Option<Table> {
        Table::ALL.into_iter().find(|table| table.spool_stream() == id)
    }

    /// The spool stream shared by the custom tables.
    pub const CUSTOM_SPOOL_STREAM: u16 = 11;
    pub const CUSTOM_SPOOL_STREAM_NAME: &'static str = "custom_tables";

    pub fn name(self) -> &'static str {
        match self {
            Table::Custom(custom) => custom.name,
            builtin => builtin.builtin_spec().name,
        }
    }

    fn builtin_spec(self) -> &'static TableSpec {
        // Only `Custom` has no spec, and it is matched before every call.
        self.spec().unwrap_or(&RELATIONAL)
    }

    /// The name as it goes into SQL: a custom table's is quoted (a checked lower-case
    /// identifier, but possibly a word SQL reserves); built-in ones read as they always did.
    pub fn quoted_name(self) -> Cow<'static, str> {
        match self {
            Table::Custom(custom) => Cow::Owned(format!("\"{}\"", custom.name)),
            _ => Cow::Borrowed(self.name()),
        }
    }

    /// The spool stream of this table's records: a built-in table's fixed id; every
    /// custom table shares [`Table::CUSTOM_SPOOL_STREAM`] (a stream is only a sequence
    /// space; each sequence belongs to one record of one table).
    pub fn spool_stream(self) -> u16 {
        self.spec().map_or(Self::CUSTOM_SPOOL_STREAM, |spec| spec.id)
    }

    /// The stream's name in `ingest_spool_ranges` and `ingest_offsets` (`spool/<name>`).
    pub fn spool_stream_name(self) -> &'static str {
        match self {
            Table::Custom(_) => Self::CUSTOM_SPOOL_STREAM_NAME,
            builtin => builtin.name(),
        }
    }

    /// This table's position in [`Table::ALL`], for per-table arrays; `None` for a
    /// custom table, which is not in it.
    pub fn index(self) -> Option<usize> {
        self.spec().map(|spec| Table::POSITION_BY_ID[usize::from(spec.id)])
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
            Table::Custom(custom) => custom.columns,
            builtin => builtin.builtin_spec().columns,
        }
    }

    /// The tables venues fill at market rates, which get several writers by default.
    pub fn is_high_rate(self) -> bool {
        self.spec().is_some_and(|spec| spec.high_rate)
    }

    /// Whether records of this table go through the spool: the market tables', the
    /// relational and custom tables' rows; not the daemon's own feed events and dead letters.
    pub fn is_spooled(self) -> bool {
        self.is_market_data() || matches!(self, Table::Relational | Table::Custom(_))
    }

    /// A market table: records from sources, one `Record` variant each.
    pub fn is_market_data(self) -> bool {
        self.spec().is_some_and(|spec| spec.market)
    }

    /// Whether insert mode can write this table: a column of arrays cannot be passed as
    /// one array parameter per column.
    pub fn supports_insert_mode(self) -> bool {
        self.columns().iter().all(|column| !column.pg_type.is_array())
    }

    /// Whether the table is range-partitioned on its time column (and so has retention).
    pub fn is_time_partitioned(self) -> bool {
        self.spec().is_none_or(|spec| spec.partitioned)
    }

    /// What the daemon assumes until `[tables.<name>]` says otherwise; custom tables
    /// have their own defaults in their `[[custom_tables]]` entry.
    pub fn defaults(self) -> TableDefaults {
        self.builtin_spec().defaults
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

    /// The ids are on-disk (spool segment headers, bus journal lines, spool record
    /// tags): pinned here as literals, one by one. A failure means a table was
    /// renumbered, which would make existing spools and journals name the wrong table.
    #[test]
    fn every_table_id_is_pinned() {
        let pinned: [(&str, u16); 11] = [
            ("ticks", 0),
            ("quotes", 1),
            ("bars", 2),
            ("tickers", 3),
            ("options_quotes", 4),
            ("technical_indicators", 5),
            ("indicator_values", 6),
            ("signals", 7),
            ("feed_events", 8),
            ("dead_letters", 9),
            ("relational", 10),
        ];
        let declared: Vec<(&str, u16)> = Table::ALL.iter().map(|table| (table.name(), table.spool_stream())).collect();
        for (name, id) in pinned {
            assert!(declared.contains(&(name, id)), "table {name} must keep id {id}; declared: {declared:?}");
        }
        assert_eq!(Table::CUSTOM_SPOOL_STREAM, 11);
        // Every table declared after these takes a new id (12 and on), never an old one.
        for (name, id) in &declared {
            if !pinned.iter().any(|(pinned_name, _)| pinned_name == name) {
                assert!(*id >= 12, "new table {name} reuses id {id}");
            }
        }
    }

    #[test]
    fn ids_and_names_are_unique_and_read_back() {
        for (position, table) in Table::ALL.iter().enumerate() {
            assert_eq!(table.index(), Some(position), "{table}");
            assert_eq!(Table::from_id(table.spool_stream()), Some(*table));
            assert_eq!(Table::ALL.iter().filter(|other| other.name() == table.name()).count(), 1, "{table}");
        }
        assert_eq!(Table::from_id(Table::CUSTOM_SPOOL_STREAM), None);
    }

    #[test]
    fn market_tables_are_spooled_and_the_daemons_own_are_not() {
        let unspooled: Vec<&str> = Table::ALL.iter().filter(|table| !table.is_spooled()).map(|table| table.name()).collect();
        assert_eq!(unspooled, ["feed_events", "dead_letters"]);
        let unpartitioned: Vec<&str> = Table::ALL.iter().filter(|table| !table.is_time_partitioned()).map(|table| table.name()).collect();
        assert_eq!(unpartitioned, ["dead_letters", "relational"]);
    }
}
