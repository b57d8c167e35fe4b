//! The worst-case resident memory of a configuration (DESIGN §9), as a formula of its
//! bounds. Every term is a bound the daemon enforces; the sum is what the README states.
//!
//! ```text
//! worst case = base
//!   + Σ tables [ (channel_max_bytes + max_record_bytes)
//!              + (batch_max_bytes + max_record_bytes) × 2 × (2 × writers + 1) ]
//!   + max_connections × [ 12 × max_frame_bytes
//!                         + min(acks_in_flight × owed_per_frame,
//!                               acks_in_flight_bytes + owed_per_frame) ]
//!     where owed_per_frame = ack_bytes + receipt_bytes(max_frame_bytes)
//!   + spool buffers
//!   + Σ sources with `book` [ symbols × 2 × book_depth × BOOK_LEVEL_BYTES ]
//! ```
//!
//! A channel holds at most `channel_max_bytes` of records (plus one oversized record
//! when it is empty). A batch holds at most `batch_max_bytes` plus the record that
//! crossed it, twice over (the rows and their PGCOPY encoding), and per table there
//! are `writers` batches in writers' hands, `writers` queued for them and one being
//! built. The buffers of batches written are kept for the next batches to fill
//! (`sink::Spares`), but a new set is made only when none is free, so the sets kept and
//! in use are never more than that peak: after a burst a table may hold this term idle.
//! A connection holds its frame (up to 4 × `max_frame_bytes` read before it is
//! refused), the index of the frame's elements (at most 16 bytes per 2 bytes of frame:
//! 8 ×) and the acks it owes: at most `acks_in_flight` of them and, past
//! `acks_in_flight_bytes`, no further frame is read (one frame's ack is always allowed);
//! each is an ack of at most 100 listed refusals and the receipts of the frame's records
//! (40 bytes per record of at least 64 bytes of text). The
//! dead-letter lane is one of the tables; a frame's own dead letters are at most ten of
//! `DeadLetter::MAX_RAW_BYTES` each (included in the 12 × frame term for a 1 MiB frame).

use super::model::Config;
use super::tables::default_max_record_bytes;
use crate::record::Table;

/// Binary, runtime, threads, metrics, caches: measured idle at about 40 MB; 64 MiB allowed.
pub const BASE_BYTES: u64 = 64 << 20;
/// Levels a side a local order book keeps at most, whatever `book_depth` says.
pub const MAX_BOOK_DEPTH: u32 = 5_000;
/// The memory of one book level at most: its share of the map's nodes, the level (two
/// numbers, two boxed texts) and the texts.
pub const BOOK_LEVEL_BYTES: u64 = 160;

/// Bytes of one ack in flight at most: 100 refusals of at most 1 KiB of reason each.
const ACK_BYTES: u64 = 100 * 1_100;

/// The terms of the worst case, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorstCase {
    pub base: u64,
    /// Channels and batches of every table (the dead-letter table included).
    pub tables: u64,
    /// Every push connection's frame, element index, acks and receipts.
    pub connections: u64,
    /// The spool's in-memory buffers (its segment being written), when configured.
    pub spool: u64,
    /// The local order books of the sources with a `book` channel.
    pub books: u64,
}

impl WorstCase {
    pub fn total(&self) -> u64 {
        self.base + self.tables + self.connections + self.spool + self.books
    }
}

/// The worst-case resident memory of `config`.
pub fn worst_case_bytes(config: &Config) -> WorstCase {
    // Keyed custom tables have no lane of their own: their rows share the relational one.
    let custom =
        config.custom_tables.iter().filter(|custom| !custom.is_keyed()).filter_map(|custom| custom.shape().ok()).map(|schema| schema.table);
    let tables = Table::ALL
        .into_iter()
        .chain(custom)
        .map(|table| {
            let settings = config.table(table);
            let record = settings.max_record_bytes.max(default_max_record_bytes(table)) as u64;
            let channel = settings.channel_max_bytes as u64 + record;
            let batch = settings.batch_max_bytes as u64 + record;
            channel + batch * 2 * (2 * settings.writers as u64 + 1)
        })
        .sum();
    let connections = config.server.as_ref().map_or(0, |server| {
        let frame = server.max_frame_bytes as u64;
        let receipts = frame / 64 * 40;
        let owed_per_frame = ACK_BYTES + receipts;
        let owed = (server.acks_in_flight.get() as u64 * owed_per_frame).min(server.acks_in_flight_bytes as u64 + owed_per_frame);
        server.max_connections.get() as u64 * (12 * frame + owed)
    });
    let spool = config.spool.as_ref().map_or(0, |spool| spool.segment_bytes);
    let books = config
        .sources
        .iter()
        .filter(|source| source.channels.contains(&super::Channel::Book))
        .map(|source| {
            let depth = u64::from(source.book_depth.unwrap_or(MAX_BOOK_DEPTH).min(MAX_BOOK_DEPTH));
            source.symbols.len().max(1) as u64 * 2 * depth * BOOK_LEVEL_BYTES
        })
        .sum();
    WorstCase { base: BASE_BYTES, tables, connections, spool, books }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tables_are_bounded_in_bytes() {
        let config = Config::loopback("postgres://localhost/db");
        let worst = worst_case_bytes(&config);
        // 17 tables: 33 MiB of channel each, and 17 MiB batches × 2 × (2 × writers + 1).
        let per_table_one_writer = (33 << 20) + (17 << 20) * 2 * 3;
        let per_table_two_writers = (33 << 20) + (17 << 20) * 2 * 5;
        let signals_and_relational_extra = 2 * (3 << 20) * 7;
        assert_eq!(worst.tables, 12 * per_table_one_writer + 5 * per_table_two_writers + signals_and_relational_extra);
        assert_eq!(worst.total(), worst.base + worst.tables + worst.connections);
    }

    #[test]
    fn books_count_their_symbols_and_depth() {
        let text = "[database]\nurl = \"postgres://u@localhost/db\"\n\
                    [[sources]]\nkind = \"okx\"\nsymbols = [\"A-B\", \"C-D\"]\nchannels = [\"book\"]\nbook_depth = 400\n\
                    [[sources]]\nkind = \"okx\"\nname = \"all\"\nsymbols = [\"E-F\"]\nchannels = [\"book\"]\n\
                    [[sources]]\nkind = \"okx\"\nname = \"trades\"\nsymbols = [\"G-H\"]\nchannels = [\"trades\"]\n";
        let config = crate::config::load_str_with(text, Vec::new(), &[]).unwrap();
        let worst = worst_case_bytes(&config);
        assert_eq!(worst.books, (2 * 2 * 400 + 2 * u64::from(MAX_BOOK_DEPTH)) * BOOK_LEVEL_BYTES);
        assert_eq!(worst.total(), worst.base + worst.tables + worst.connections + worst.books);
    }
}
