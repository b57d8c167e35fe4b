//! The encoder stage runs on the table's batcher thread, off the async reactor: it
//! encodes a closed batch into one PGCOPY buffer, notes which time partitions the
//! batch touches and which instruments it is the first to carry, and hands it to the
//! writer tasks through a small bounded queue that every writer of the table pulls from.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, Mutex};

pub use super::buffers::{BatchBuffers, Spares};
use super::encoder::{encode_row_refs_sized, encode_rows, EncodeRow};
use crate::config::WriteMode;
use crate::db::Partitions;
use crate::pipeline::{Deliver, DownstreamGone};
use crate::record::{DeadLetter, Instrument, Table, Timestamp};

/// A closed, encoded batch. The rows stay with it until commit, for latency
/// accounting and, if the database refuses a row, for finding and keeping it. They
/// stay in the order they came; `encoded` may hold them in the columnstore's order (see
/// [`encode_stage`]), and a refused batch's rows are encoded again part by part.
pub struct EncodedBatch<R> {
    pub rows: Vec<R>,
    /// Each row's spool sequence (0: not spooled), parallel to `rows`.
    pub sequences: Vec<u64>,
    /// Each row's record id key (0: none), parallel to `rows`.
    pub ids: Vec<u128>,
    pub encoded: Encoded,
    /// Where the writer gives the buffers back once done with the batch (the encoder
    /// stage's batches; `None` for others).
    pub spares: Option<Spares<R>>,
}

/// What a writer sends for some rows.
#[derive(Clone)]
pub struct Encoded {
    pub bytes: Bytes,
    /// Start of each time partition the rows fall in.
    pub slots: Vec<i64>,
    /// `ticks`: the time ranges its rows cover (µs, inclusive, see [`time_ranges`]):
    /// what the batch changes of the OHLCV aggregates. Empty for other tables.
    pub time_ranges: Vec<(i64, i64)>,
    /// Instruments this table's writers have not sent before, sorted by (venue, symbol).
    pub new_instruments: Arc<Vec<Instrument>>,
    /// Bookkeeping committed in the same transaction as the rows (a file import's
    /// chunk marks and bad lines); `None` for the daemon's batches.
    pub progress: Option<Arc<BatchProgress>>,
}

/// What a batch commits besides its rows, in the same transaction, so that it lands
/// exactly when they do: positions of further `ingest_offsets` streams and dead
/// letters. A batch carrying it is committed whole or not at all, even when the
/// database refuses some of its rows (they are then found inside that one
/// transaction and dead-lettered in it).
#[derive(Debug, Default)]
pub struct BatchProgress {
    /// (stream, position) rows written to `ingest_offsets`.
    pub offsets: Vec<(String, i64)>,
    pub dead_letters: Vec<DeadLetter>,
    /// Commit without waiting for the WAL flush (`synchronous_commit = off`): a
    /// server crash may then lose the batch, but only whole, rows and bookkeeping
    /// together. The sender makes it durable later with a synchronous commit of its
    /// own, which flushes every earlier commit.
    pub commit_asynchronously: bool,
    /// A batch of bus messages: claimed in the transaction, acked after it.
    pub bus: Option<BusClaim>,
}

/// The bus messages a writer's batch holds (each row's `sequences` entry is the
/// stream sequence of its message). The transaction first claims the sequences in
/// `ingest_bus_messages` and the rows' ids in `ingest_ids`; rows of messages another
/// transaction already claimed, or below the stream's folded watermark, and rows whose
/// id is already stored are left out. Then the rest is sent, in the same transaction.
#[derive(Debug)]
pub struct BusClaim {
    /// The stream's key in `ingest_bus_messages` (`<stream>@<created>`); its folded
    /// watermark is `ingest_offsets` row `bus/<key>`.
    pub stream_key: String,
    /// The stream sequences of every message in the batch.
    pub messages: Vec<u64>,
    /// Told the batch's messages once they are committed (by this batch or before it).
    pub committed: tokio::sync::mpsc::UnboundedSender<Vec<u64>>,
}

/// The queue between a table's encoder stage and its writers.
pub type BatchQueue<R> = Arc<Mutex<mpsc::Receiver<EncodedBatch<R>>>>;

/// A queue holding at most `depth` encoded batches.
pub fn batch_queue<R>(depth: usize) -> (mpsc::Sender<EncodedBatch<R>>, BatchQueue<R>) {
    let (sender, receiver) = mpsc::channel(depth.max(1));
    (sender, Arc::new(Mutex::new(receiver)))
}

/// Whether `table`'s batches, written in `mode`, go out in the columnstore's order (by
/// segment key, newest first; see [`encode_stage`]), whichever path they come by: the
/// live batcher, the bus's writer, a file import, or a refused batch taken apart. Direct
/// compress needs it, since its writers' server sorts nothing
/// (`writer::DIRECT_COMPRESS_SETTINGS`); a high-rate table's row store gains by it. Not
/// INSERT: with a conflict key, the first of a batch's rows of one key is the one kept,
/// so its rows keep the order they came in.
pub fn key_order(table: Table, mode: WriteMode) -> bool {
    match mode {
        WriteMode::DirectCompress => true,
        WriteMode::Copy => table.is_high_rate(),
        WriteMode::Insert => false,
    }
}

/// Builds the batcher's `deliver` function for one table, and the buffers it first
/// gathers in. With `columnstore_order`, each batch is sent ordered as the columnstore
/// keeps it: by segment key, then newest first. Direct compress needs it; a high-rate
/// table's row store gains by it too (its index leads with the same key): measured on
/// vanilla PostgreSQL, the server's CPU per tick fell by about a seventh.
///
/// The batcher gathers each row straight into the batch's parts ([`BatchBuffers`]); once
/// a batch is sent, the next is gathered in buffers the table's writers gave back
/// ([`Spares`]).
pub fn encode_stage<R: EncodeRow>(
    table: Table,
    partitions: Arc<Partitions>,
    sender: mpsc::Sender<EncodedBatch<R>>,
    columnstore_order: bool,
    spares: Spares<R>,
) -> (BatchBuffers<R>, impl Deliver<BatchBuffers<R>>) {
    let mut bytes_per_row_estimate = 96usize;
    // Venue → symbols seen; bounded by the number of instruments the table ever sees.
    let mut known_instruments = InstrumentsSeen::default();
    let mut scratch = OrderScratch::default();
    let deliver = move |gathered: &mut BatchBuffers<R>| {
        let BatchBuffers { rows, sequences, ids, bytes } = std::mem::take(gathered);
        // The rows stay in the order they came; only their encoding follows the columnstore's.
        let order = columnstore_order.then(|| columnstore_order_of(&rows, &mut scratch));
        let mut encoded = encode_into(bytes, table, &partitions, &rows, order, &mut bytes_per_row_estimate);
        encoded.new_instruments = Arc::new(match order {
            Some(order) => first_seen_instruments(order.iter().map(|index| &rows[*index as usize]), &mut known_instruments),
            None => first_seen_instruments(rows.iter(), &mut known_instruments),
        });
        let batch = EncodedBatch { rows, sequences, ids, encoded, spares: Some(spares.clone()) };
        match sender.blocking_send(batch) {
            // Buffers to gather the next batch in, taken only now: while the send waits
            // for room, no set more is held (the memory bound counts on it).
            Ok(()) => {
                *gathered = spares.take();
                Ok(())
            }
            Err(unsent) => {
                let EncodedBatch { rows, sequences, ids, .. } = unsent.0;
                *gathered = BatchBuffers { rows, sequences, ids, bytes: BytesMut::new() };
                Err(DownstreamGone)
            }
        }
    };
    (BatchBuffers::default(), deliver)
}

/// The working memory of [`columnstore_order_of`], kept from batch to batch.
#[derive(Default)]
struct OrderScratch {
    times: Vec<Option<Timestamp>>,
    key_ids: Vec<u32>,
    order: Vec<u32>,
}

/// The order in which TimescaleDB's compressor keeps rows (segment key under "C"
/// collation — byte order — then time descending; rows of equal time, the latest to
/// come first): the rows' indexes in that order, in which the batch is encoded. A
/// direct-compress writer's session leaves the order to the client (its server sorts
/// nothing: `writer::DIRECT_COMPRESS_SETTINGS`), so this order is what the columnstore
/// holds: each segment's rows newest first, in runs of up to 1000.
///
/// The rows themselves are not sorted: a sort moves each row (a hundred bytes and more)
/// O(log n) times and compares segment keys byte by byte at every step, which took a fifth
/// of the daemon's CPU with direct compress. Instead the batch's few distinct keys are
/// ranked once, the indexes are bucketed by rank (a counting sort), and each bucket is
/// sorted by `(time, index)`, both descending. A feed's rows of one key usually come in
/// time order: their bucket is then one descending run, which the sort only reverses.
fn columnstore_order_of<'s, R: EncodeRow>(rows: &[R], scratch: &'s mut OrderScratch) -> &'s [u32] {
    let mut distinct: Vec<Option<&str>> = Vec::new();
    let mut id_of: HashMap<Option<&str>, u32, foldhash::fast::RandomState> = HashMap::default();
    let mut previous: Option<(Option<&str>, u32)> = None;
    let OrderScratch { times, key_ids, order } = scratch;
    times.clear();
    key_ids.clear();
    key_ids.extend(rows.iter().map(|item| {
        times.push(item.partition_time());
        let key = item.segment_key();
        if let Some((last, id)) = previous {
            if last == key {
                return id;
            }
        }
        let id = *id_of.entry(key).or_insert_with(|| {
            distinct.push(key);
            distinct.len() as u32 - 1
        });
        previous = Some((key, id));
        id
    }));
    let mut by_bytes: Vec<u32> = (0..distinct.len() as u32).collect();
    by_bytes.sort_unstable_by(|left, right| distinct[*left as usize].cmp(&distinct[*right as usize]));
    let mut rank = vec![0usize; distinct.len()];
    for (position, id) in by_bytes.into_iter().enumerate() {
        rank[id as usize] = position;
    }
    // Where each rank's bucket starts, then the indexes dealt into their buckets.
    let mut starts = vec![0usize; distinct.len() + 1];
    for id in key_ids.iter() {
        starts[rank[*id as usize] + 1] += 1;
    }
    for position in 1..starts.len() {
        starts[position] += starts[position - 1];
    }
    let mut next = starts.clone();
    order.clear();
    order.resize(rows.len(), 0);
    for (index, id) in key_ids.iter().enumerate() {
        let slot = &mut next[rank[*id as usize]];
        order[*slot] = index as u32;
        *slot += 1;
    }
    for bucket in starts.windows(2) {
        order[bucket[0]..bucket[1]].sort_unstable_by_key(|index| Reverse((times[*index as usize], *index)));
    }
    order
}

/// `indices` (into `rows`) put in the columnstore's order, as [`columnstore_order_of`]
/// orders a batch: for the parts of a refused batch, each sent as its own COPY.
pub(super) fn sort_in_columnstore_order<R: EncodeRow>(rows: &[R], indices: &mut [usize]) {
    indices.sort_unstable_by(|left, right| {
        let (left_row, right_row) = (&rows[*left], &rows[*right]);
        let segment = left_row.segment_key().map(str::as_bytes).cmp(&right_row.segment_key().map(str::as_bytes));
        segment.then_with(|| (right_row.partition_time(), *right).cmp(&(left_row.partition_time(), *left)))
    });
}

fn first_seen_instruments<'a, R: EncodeRow>(rows: impl Iterator<Item = &'a R>, known: &mut InstrumentsSeen) -> Vec<Instrument> {
    let mut new = Vec::new();
    let mut previous: Option<(&str, &str)> = None;
    for row in rows {
        let Some(pair) = row.instrument() else { return new };
        if previous == Some(pair) {
            continue;
        }
        previous = Some(pair);
        let (venue, symbol) = pair;
        // Borrowed lookups; allocation only for an instrument seen for the first time.
        if known.get(venue).is_some_and(|symbols| symbols.contains(symbol)) {
            continue;
        }
        known.entry(venue.to_string()).or_default().insert(symbol.to_string());
        new.extend(row.describe_instrument());
    }
    // A fixed order keeps concurrent upserts from different tables free of deadlocks.
    new.sort_unstable_by(|left, right| (&left.venue, &left.symbol).cmp(&(&right.venue, &right.symbol)));
    new
}

/// Encodes rows (in `order`, when given: indexes into `rows`) into `buffer` (empty; its
/// memory is reused) and lists the partition slots they touch.
fn encode_into<R: EncodeRow>(
    mut buffer: BytesMut,
    table: Table,
    partitions: &Partitions,
    rows: &[R],
    order: Option<&[u32]>,
    bytes_per_row_estimate: &mut usize,
) -> Encoded {
    buffer.reserve(32 + rows.len() * *bytes_per_row_estimate);
    match order {
        Some(order) => {
            let body = rows.iter().map(EncodeRow::encoded_len).sum();
            encode_row_refs_sized(order.iter().map(|index| &rows[*index as usize]), body, &mut buffer)
        }
        None => encode_rows(rows, &mut buffer),
    }
    if !rows.is_empty() {
        *bytes_per_row_estimate = buffer.len() / rows.len() + 8;
    }
    let mut slots: Vec<i64> = Vec::new();
    let mut last_slot = None;
    for row in rows {
        let Some(time) = row.partition_time() else { break };
        let slot = partitions.slot_start(table, time);
        if slot != last_slot {
            last_slot = slot;
            if let Some(slot) = slot {
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
        }
    }
    // Only the aggregates' source needs them (sorting every batch of other tables is waste).
    let time_ranges = match table {
        Table::Ticks => time_ranges(rows.iter().filter_map(|row| row.partition_time()).map(|time| time.micros()).collect()),
        _ => Vec::new(),
    };
    Encoded { bytes: buffer.freeze(), slots, time_ranges, new_instruments: Arc::default(), progress: None }
}

/// Rows closer in time than this share a time range (the finest OHLCV bucket).
const RANGE_GAP_MICROS: i64 = 60_000_000;
/// At most this many ranges per batch: the widest gaps split first.
const MAX_RANGES_PER_BATCH: usize = 16;

/// The time ranges `times` cover (inclusive, ascending): sorted, split where
/// neighbours are more than [`RANGE_GAP_MICROS`] apart, at the widest gaps when there
/// are more than [`MAX_RANGES_PER_BATCH`]. A batch mixing live ticks with ticks from
/// days ago then marks two narrow ranges for the aggregates to recompute, not the days
/// between them.
pub fn time_ranges(mut times: Vec<i64>) -> Vec<(i64, i64)> {
    let (Some(&low), Some(&high)) = (times.iter().min(), times.iter().max()) else { return Vec::new() };
    // The usual batch, live rows of the last moments: no two neighbours can be a gap apart.
    if high - low <= RANGE_GAP_MICROS {
        return vec![(low, high)];
    }
    times.sort_unstable();
    let mut gaps: Vec<(i64, usize)> = times
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[1] - pair[0] > RANGE_GAP_MICROS)
        .map(|(index, pair)| (pair[1] - pair[0], index + 1))
        .collect();
    if gaps.len() >= MAX_RANGES_PER_BATCH {
        gaps.select_nth_unstable_by(MAX_RANGES_PER_BATCH - 2, |left, right| right.0.cmp(&left.0));
        gaps.truncate(MAX_RANGES_PER_BATCH - 1);
    }
    let mut cuts: Vec<usize> = gaps.into_iter().map(|(_, cut)| cut).collect();
    cuts.sort_unstable();
    cuts.push(times.len());
    let mut start = 0;
    cuts.into_iter()
        .map(|cut| {
            let range = (times[start], times[cut - 1]);
            start = cut;
            range
        })
        .collect()
}

/// Instruments already sent: symbols by venue, looked up for every row of every batch,
/// so with foldhash (randomly seeded per process) rather than SipHash, which showed in
/// profiles of the push path.
pub type InstrumentsSeen = HashMap<String, HashSet<String, foldhash::fast::RandomState>, foldhash::fast::RandomState>;

/// Instruments already sent, by venue, shared by the threads encoding one table's batches.
pub type KnownInstruments = std::sync::Mutex<InstrumentsSeen>;

/// One batch, encoded now on the calling thread, with the instruments no batch in
/// `known` carried before and the bookkeeping its transaction commits: what a file
/// import hands to the writers. (An instrument's upsert locks its row until the
/// batch commits, so each is sent once, not by every concurrent batch.) With
/// `key_order` ([`key_order`]), encoded in the columnstore's order, as the batcher's are.
pub fn encode_batch<R: EncodeRow>(
    table: Table,
    partitions: &Partitions,
    rows: Vec<R>,
    progress: BatchProgress,
    known: &KnownInstruments,
    key_order: bool,
) -> EncodedBatch<R> {
    let mut bytes_per_row_estimate = 96usize;
    let mut scratch = OrderScratch::default();
    let order = key_order.then(|| columnstore_order_of(&rows, &mut scratch));
    let mut encoded = encode_into(BytesMut::new(), table, partitions, &rows, order, &mut bytes_per_row_estimate);
    let new_instruments = first_seen_instruments(rows.iter(), &mut known.lock().unwrap_or_else(|poison| poison.into_inner()));
    encoded.new_instruments = Arc::new(new_instruments);
    encoded.progress = Some(Arc::new(progress));
    let count = rows.len();
    EncodedBatch { rows, sequences: vec![0; count], ids: vec![0; count], encoded, spares: None }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pipeline::{Gather, Sequenced};

    const MINUTE: i64 = 60_000_000;

    pub(crate) fn tick(symbol: &str, time: i64, trade: usize) -> crate::record::Tick {
        crate::record::Tick {
            time: crate::record::Timestamp(time),
            received_at: crate::record::Timestamp(time),
            venue: "v".into(),
            symbol: symbol.into(),
            price: 1.0,
            size: 1.0,
            side: crate::record::Side::Buy,
            trade_id: Some(trade.to_string().into()),
        }
    }

    proptest::proptest! {
        /// The order is a sort of the rows by (segment key bytes, time descending, place in
        /// the batch descending), whether the rows come in time order or not.
        #[test]
        fn the_columnstore_order_is_by_segment_key_then_newest_first(
            rows in proptest::collection::vec((0usize..6, 0i64..8), 0..300),
            in_time_order in proptest::bool::ANY,
        ) {
            let symbols = ["B", "a", "AB", "A", "\u{e9}", ""];
            let mut rows = rows;
            if in_time_order {
                rows.sort_by_key(|(_, time)| *time);
            }
            let batch: Vec<_> =
                rows.iter().enumerate().map(|(index, (symbol, time))| tick(symbols[*symbol], *time, index)).collect();
            // The comparison sort a refused batch's parts are put in order by.
            let mut expected: Vec<usize> = (0..batch.len()).collect();
            sort_in_columnstore_order(&batch, &mut expected);
            let order: Vec<usize> =
                columnstore_order_of(&batch, &mut OrderScratch::default()).iter().map(|index| *index as usize).collect();
            proptest::prop_assert_eq!(&order, &expected);
            // A batch encoded off the batcher (bus, import) is in the same order where its
            // table's is; rows of one key, one time and one symbol keep their place reversed.
            let encoded = encode_batch(Table::Ticks, &Partitions::new([]), batch.clone(), BatchProgress::default(), &Default::default(), true);
            let mut in_order = BytesMut::new();
            super::super::encoder::encode_row_refs(order.iter().map(|index| &batch[*index]), &mut in_order);
            proptest::prop_assert_eq!(&encoded.encoded.bytes[..], &in_order[..]);
            let as_they_came = encode_batch(Table::Ticks, &Partitions::new([]), batch.clone(), BatchProgress::default(), &Default::default(), false);
            let mut arrival = BytesMut::new();
            encode_rows(&batch, &mut arrival);
            proptest::prop_assert_eq!(&as_they_came.encoded.bytes[..], &arrival[..]);
        }
    }

    #[test]
    fn only_insert_keeps_a_batch_in_the_order_it_came() {
        assert!(key_order(Table::Ticks, WriteMode::DirectCompress) && key_order(Table::Signals, WriteMode::DirectCompress));
        assert!(key_order(Table::Ticks, WriteMode::Copy) && !key_order(Table::Signals, WriteMode::Copy), "the row store: high-rate tables");
        assert!(!key_order(Table::Ticks, WriteMode::Insert), "with a conflict key, the first row of a key is kept");
    }

    #[test]
    fn the_encoder_stage_gathers_rows_split_and_fills_given_back_buffers_again() {
        let (sender, mut queue) = mpsc::channel(4);
        let spares = Spares::new(1);
        let (mut gathered, mut deliver) = encode_stage(Table::Ticks, Arc::new(Partitions::new([])), sender, true, spares.clone());
        for (index, symbol) in ["B", "A", "B"].into_iter().enumerate() {
            gathered.push(Sequenced { sequence: 10 + index as u64, id: 20 + index as u128, row: tick(symbol, index as i64, index) });
        }
        deliver(&mut gathered).unwrap();
        assert!(gathered.is_empty());
        let batch = queue.try_recv().unwrap();
        assert_eq!(batch.sequences, [10, 11, 12]);
        assert_eq!(batch.ids, [20, 21, 22]);
        let symbols: Vec<&str> = batch.rows.iter().map(|row| row.symbol.as_str()).collect();
        assert_eq!(symbols, ["B", "A", "B"], "the rows stay in the order they came");
        let mut expected = BytesMut::new();
        super::super::encoder::encode_row_refs([1, 2, 0].iter().map(|index| &batch.rows[*index]), &mut expected);
        assert_eq!(batch.encoded.bytes, expected.freeze(), "encoded by segment key, newest first");

        // The writer gives the buffers back; the next batch but one is gathered in them.
        let (rows_at, bytes_len) = (batch.rows.as_ptr(), batch.encoded.bytes.len());
        batch.spares.clone().unwrap().give_back(batch.rows, batch.sequences, batch.ids, batch.encoded.bytes);
        assert_eq!(spares.len(), 1);
        gathered.push(Sequenced { sequence: 0, id: 0, row: tick("C", 5, 5) });
        deliver(&mut gathered).unwrap();
        assert!(spares.is_empty(), "taken for the batch now gathering");
        assert_eq!(gathered.rows.as_ptr(), rows_at);
        assert!(gathered.rows.is_empty() && gathered.sequences.is_empty() && gathered.ids.is_empty());
        assert!(gathered.bytes.is_empty() && gathered.bytes.capacity() >= bytes_len);
    }

    #[test]
    fn time_ranges_split_at_gaps_wider_than_a_minute_and_at_most_sixteen_times() {
        type Case = (Vec<i64>, Vec<(i64, i64)>);
        let cases: [Case; 6] = [
            (vec![], vec![]),
            (vec![0, MINUTE / 2, MINUTE + 1], vec![(0, MINUTE + 1)]),
            (vec![5, 1, 3], vec![(1, 5)]),
            (vec![0, MINUTE, 2 * MINUTE], vec![(0, 2 * MINUTE)]),
            (vec![10 * MINUTE, 0, 1, 10 * MINUTE + 5], vec![(0, 1), (10 * MINUTE, 10 * MINUTE + 5)]),
            (vec![0, MINUTE + 1, 3 * MINUTE + 2], vec![(0, 0), (MINUTE + 1, MINUTE + 1), (3 * MINUTE + 2, 3 * MINUTE + 2)]),
        ];
        for (times, expected) in cases {
            assert_eq!(time_ranges(times.clone()), expected, "{times:?}");
        }
        // 40 points, gaps growing with the index: the 15 widest gaps (the last ones) split.
        let mut times = Vec::new();
        let mut time = 0;
        for index in 0..40 {
            time += 2 * MINUTE + index;
            times.push(time);
        }
        let ranges = time_ranges(times.clone());
        assert_eq!(ranges.len(), 16);
        assert_eq!(ranges[0], (times[0], times[24]));
        assert_eq!(ranges[1..].iter().map(|range| range.0).collect::<Vec<_>>(), times[25..]);
    }
}
