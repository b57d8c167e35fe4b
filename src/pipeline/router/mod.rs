//! The router takes normalized records from sources, checks their event time against
//! the table's retention and our clock, appends them to the spool when there is one,
//! and queues them on their table's lane with their spool sequence. It also carries
//! dead letters and feed events (neither is spooled), so a source needs nothing else.
//!
//! A `row` record naming a custom table is converted here into that table's typed
//! values, through the [`RowConverter`] the router is handed (the push format's reading,
//! which the sources own; a value that does not fit its column is a rejection naming
//! the column) and
//! queued on the table's own COPY lane; other rows go to the relational writer. In the
//! spool such a row is kept as it arrived and converted again when read back. A row of
//! a keyed custom table (a primary, unique or foreign key) is converted the same way,
//! then normalized and checked against the relational catalog, and goes to the
//! relational writer like any relational row (spooled in its normalized form).

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::FullPolicy;
use crate::metrics::events;
use crate::record::{
    ApproxBytes, CustomRow, CustomSchema, DeadLetter, Record, RejectReason, Rejection, RowConverter, RowRecord, SharedCatalog, Table, Tick,
    Timestamp,
};
use crate::spool::{codec, Position, SpoolError, SpoolProgress, StreamCursor};

use super::dedup::{id_key, IdWindow};
use super::indicators::IndicatorStage;
use super::keyed::KeyedLane;
use super::lane::{LaneSender, SendError, Sequenced};
use super::release::ReleaseSender;
use super::retention::IntervalRetention;
use super::spill_state::Spills;

mod checks;
mod letters;

/// Where an accepted record went: its spool stream, sequence and log position
/// (sequence 0 when there is no spool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Receipt {
    pub stream: u16,
    pub sequence: u64,
    pub position: Position,
    /// The record's id was seen before: it was taken as a harmless resend, not stored.
    pub duplicate: bool,
    /// The record's index in its push frame (set by the push connection), for an ack
    /// that reports what the database refused.
    pub index: u32,
}

/// The spool as the router uses it.
#[derive(Debug)]
pub struct SpoolGate {
    pub progress: Arc<SpoolProgress>,
    pub full_policy: FullPolicy,
    /// Which tables spill, and their readers' wake-ups.
    pub spills: Spills,
    /// Where dead letters of spooled records go to release their sequences; `None`
    /// without a database (a bus edge).
    pub releases: Option<ReleaseSender>,
}

/// A custom table's lane: how its rows are converted, where they are queued, and how
/// long its data is kept.
#[derive(Debug)]
pub struct CustomLane {
    pub schema: CustomSchema,
    pub sender: LaneSender<Sequenced<CustomRow>>,
    /// Rows whose time column is older than this many µs are refused.
    pub retention_micros: Option<i64>,
    /// The column holding each row's own retention in days (`retention_column`).
    pub retention_index: Option<usize>,
}

/// Time bounds a record must fall within to be accepted.
#[derive(Debug, Clone)]
pub struct RouterLimits {
    /// Per built-in table (indexed like `Table::ALL`): rows older than this many µs are
    /// refused. A custom table's retention is in its [`CustomLane`].
    pub retention_micros: [Option<i64>; Table::ALL.len()],
    /// `bars`: the retention of each interval `tables.bars.retention_by_interval` lists
    /// (the others have the table's, in `retention_micros`).
    pub bar_retention: IntervalRetention,
    /// Rows further than this many µs ahead of our clock are refused.
    pub max_future_micros: i64,
    /// Per built-in table (indexed like `Table::ALL`): records whose estimated size in
    /// memory is over this many bytes are refused. A custom table's `row` records are
    /// held to the relational limit, the lane they arrive as.
    pub max_record_bytes: [usize; Table::ALL.len()],
}

macro_rules! declare_lanes {
    (() $( $name:ident: $row:ty = $table:ident, )*) => {
        /// The sending side of every built-in lane: one per COPY table (generated from the
        /// table registry), and the relational lane.
        #[derive(Debug, Clone)]
        pub struct Lanes {
            $( pub $name: LaneSender<Sequenced<$row>>, )*
            pub relational: LaneSender<Sequenced<RowRecord>>,
        }
    };
}

crate::builtin_tables!(lanes => declare_lanes);

/// What the router holds besides its lanes.
#[derive(Debug)]
pub struct RouterParts {
    /// The local write-ahead log, when `[spool]` is configured.
    pub spool: Option<Arc<SpoolGate>>,
    /// The relational tables rows may go to, read from the database at start (or once
    /// it answers, after a start without it).
    pub catalog: Arc<SharedCatalog>,
    /// The custom tables by name; `row` records naming one go to its lane.
    pub custom_tables: HashMap<String, CustomLane>,
    /// The keyed custom tables by name; their rows go to the relational lane.
    pub keyed_tables: HashMap<String, KeyedLane>,
    /// How rows for custom and keyed tables become their typed values.
    pub rows: &'static dyn RowConverter,
    /// The streaming indicator engine, when `[indicators]` names symbols.
    pub indicators: Option<IndicatorStage>,
    /// Recent record ids, when deduplication is on (`server.dedup_ids` > 0).
    pub ids: Option<Arc<IdWindow>>,
    pub limits: RouterLimits,
}

/// The senders of every lane plus the admission checks; clone it per source task.
#[derive(Debug, Clone)]
pub struct Router {
    lanes: Lanes,
    spool: Option<Arc<SpoolGate>>,
    catalog: Arc<SharedCatalog>,
    custom_tables: Arc<HashMap<String, CustomLane>>,
    keyed_tables: Arc<HashMap<String, KeyedLane>>,
    rows: &'static dyn RowConverter,
    indicators: Option<Arc<IndicatorStage>>,
    ids: Option<Arc<IdWindow>>,
    limits: RouterLimits,
}

/// The arms of [`on_lane!`]: one per market record kind (from the table registry),
/// and the relational row's.
macro_rules! lane_arms {
    (($lanes:expr, $record:expr, $lane:ident, $row:ident, $body:expr) $( $variant:ident($row_type:ty) = $table:ident / $name:ident, )*) => {
        match $record {
            $( Record::$variant($row) => {
                let $lane = &$lanes.$name;
                $body
            } )*
            Record::Row($row) => {
                let $lane = &$lanes.relational;
                $body
            }
        }
    };
}

/// Runs `$body` with the lane of `$record`'s table as `$lane` and the record's row as
/// `$row` (each table's lane has its own row type, so this is a macro, not a function).
macro_rules! on_lane {
    ($router:expr, $record:expr, |$lane:ident, $row:ident| $body:expr) => {
        crate::builtin_tables!(records => lane_arms(($router).lanes, $record, $lane, $row, $body))
    };
}

impl Router {
    pub fn new(lanes: Lanes, parts: RouterParts) -> Router {
        Router {
            lanes,
            spool: parts.spool,
            catalog: parts.catalog,
            custom_tables: Arc::new(parts.custom_tables),
            keyed_tables: Arc::new(parts.keyed_tables),
            rows: parts.rows,
            indicators: parts.indicators.map(Arc::new),
            ids: parts.ids,
            limits: parts.limits,
        }
    }

    /// The spool, when `[spool]` is configured.
    pub fn spool(&self) -> Option<&Arc<SpoolGate>> {
        self.spool.as_ref()
    }

    /// The relational tables rows may go to (replaced once the database answers).
    pub fn catalog(&self) -> &SharedCatalog {
        &self.catalog
    }

    /// The window of recent record ids, when deduplication is on.
    pub fn id_window(&self) -> Option<&Arc<IdWindow>> {
        self.ids.as_ref()
    }

    pub fn has_custom_tables(&self) -> bool {
        !self.custom_tables.is_empty()
    }

    /// The synchronous path for the common case: a tick, quote or ticker with no spool
    /// and no id to check, whose channel has room. `Err` hands the record back for
    /// [`Router::route_with_id`]. Routing through the async path moves each record
    /// through several nested futures; at hundreds of thousands of records a second
    /// those copies were a fifth of the daemon's time (profile of `hypertick bench`).
    // The record handed back by value is the point: boxing it would allocate on the path
    // this exists to keep cheap.
    #[allow(clippy::result_large_err)]
    pub fn try_route_now(&self, record: Record, now: Timestamp, id: Option<&str>) -> Result<Result<Receipt, Rejection>, Record> {
        if self.spool.is_some() || (self.ids.is_some() && id.is_some()) {
            return Err(record);
        }
        let table = match &record {
            Record::Tick(_) | Record::Quote(_) | Record::Ticker(_) => record.table(),
            _ => return Err(record),
        };
        if let Err(rejection) = self.check_time(table, record.time(), now).and_then(|()| self.check_size(&record)) {
            return Ok(Err(rejection));
        }
        let queued = match record {
            Record::Tick(row) => self.lanes.ticks.try_send_quiet(Sequenced::unspooled(row)).map_err(|back| Record::Tick(back.row)),
            Record::Quote(row) => self.lanes.quotes.try_send_quiet(Sequenced::unspooled(row)).map_err(|back| Record::Quote(back.row)),
            Record::Ticker(row) => self.lanes.tickers.try_send_quiet(Sequenced::unspooled(row)).map_err(|back| Record::Ticker(back.row)),
            other => Err(other),
        };
        queued.map(|()| Ok(Receipt::default()))
    }

    /// Whether a tick with this `id` may be queued in a run ([`Router::try_queue_ticks`]):
    /// there is no spool to append it to and no id to check first.
    pub fn runs_ticks(&self, id: Option<&str>) -> bool {
        self.spool.is_none() && (self.ids.is_none() || id.is_none())
    }

    /// The checks [`Router::route`] makes of a tick before queueing it: its time against
    /// retention and our clock, its size against the table's limit.
    pub fn check_tick(&self, tick: &Tick, now: Timestamp) -> Result<(), Rejection> {
        self.check_time(Table::Ticks, tick.time, now)?;
        self.check_bytes(Table::Ticks, tick.approx_bytes())
    }

    /// Queues the ticks of `run` (each passed [`Router::check_tick`], where
    /// [`Router::runs_ticks`]) in one slot if the lane has room for all of them; hands
    /// the run back otherwise, for [`Router::route`] tick by tick, which applies the full
    /// policy. A push frame of ticks goes this way: one allocation and one reservation
    /// per run instead of per tick.
    pub fn try_queue_ticks(&self, run: TickRun) -> Result<(), TickRun> {
        self.lanes.ticks.try_send_run(run.rows).map_err(|rows| TickRun { rows })
    }

    /// Admits one record: checks it, appends it to the spool (if any) and queues it.
    pub async fn route(&self, record: Record, now: Timestamp) -> Result<Receipt, Rejection> {
        self.route_with_id(record, now, None).await
    }

    /// [`Router::route`] for a record that carries its producer's `id`: an id seen
    /// before makes the record a harmless resend, acknowledged and not stored again.
    pub async fn route_with_id(&self, record: Record, now: Timestamp, id: Option<&str>) -> Result<Receipt, Rejection> {
        let (Some(window), Some(id)) = (&self.ids, id) else {
            return self.route_keyed(record, now, 0).await;
        };
        let key = id_key(id);
        if !window.admit(key) {
            events::duplicate_record();
            return Ok(Receipt { duplicate: true, ..Receipt::default() });
        }
        let routed = self.route_keyed(record, now, key).await;
        if routed.is_err() {
            window.forget(key);
        }
        routed
    }

    async fn route_keyed(&self, mut record: Record, now: Timestamp, id: u128) -> Result<Receipt, Rejection> {
        self.check_record_time(&record, now)?;
        self.check_size(&record)?;
        if let Record::Row(row) = &mut record {
            if let Some(converted) = self.convert_custom(row, Some(now)) {
                let (lane, converted) = converted?;
                return self.admit(record, Some((lane, converted)), id).await;
            }
            if let Some(normalized) = self.normalize_keyed(row, now) {
                normalized?;
                return self.admit(record, None, id).await;
            }
            self.catalog.get().check(row).map_err(|rejection| self.also_naming_custom_tables(rejection))?;
        }
        let derived = self.derive(&record);
        let receipt = self.admit(record, None, id).await?;
        if let Some(indicators) = derived {
            // Derived rows are spooled like any other, so a replay need not derive them again.
            let admitted = match self.check_time(Table::TechnicalIndicators, indicators.time(), now) {
                Ok(()) => self.admit(indicators, None, 0).await.map(|_| ()),
                Err(rejection) => Err(rejection),
            };
            if let Err(rejection) = admitted {
                tracing::warn!(table = %Table::TechnicalIndicators, %rejection, "technical indicators of a bar not queued");
            }
        }
        Ok(receipt)
    }

    /// Queues a record read back from the spool under its original sequence, waiting for
    /// room. Nothing is derived from it: what it yielded then is in the spool too.
    pub async fn enqueue_waiting(&self, record: Record, sequence: u64, id: u128) -> Result<(), SendError> {
        if let Record::Row(row) = &record {
            match self.convert_custom(row, None) {
                Some(Ok((lane, converted))) => return lane.sender.send_waiting(Sequenced { sequence, id, row: converted }).await,
                Some(Err(rejection)) => {
                    // It converted when it was accepted; a changed table description may
                    // refuse it now. Done either way, so it cannot hold the watermark.
                    let letter = DeadLetter::new("spool", rejection.code.as_str(), rejection.detail, &row.to_push_json());
                    self.dead_letter_spooled(Table::CUSTOM_SPOOL_STREAM, vec![(sequence, sequence)], letter).await;
                    return Ok(());
                }
                None => {}
            }
        }
        on_lane!(self, record, |lane, row| lane.send_waiting(Sequenced { sequence, id, row }).await)
    }

    /// What the indicator engine makes of a bar it covers.
    fn derive(&self, record: &Record) -> Option<Record> {
        let Record::Bar(bar) = record else { return None };
        let stage = self.indicators.as_ref().filter(|stage| stage.covers(bar))?;
        stage.on_bar(bar).map(Record::TechnicalIndicators)
    }

    /// Without a spool: queues the record under the channel's full policy. With one:
    /// appends it, then queues it if its table is not spilling and its channel has room,
    /// else leaves it in the spool for the table's spill reader. A full spool applies
    /// the spool's full policy.
    /// `custom`: the lane and converted row of a custom table's `row` record, which is
    /// spooled as it arrived and queued converted.
    async fn admit(&self, record: Record, custom: Option<(&CustomLane, CustomRow)>, id: u128) -> Result<Receipt, Rejection> {
        let Some(gate) = &self.spool else {
            match custom {
                Some((lane, converted)) => {
                    lane.sender.send(Sequenced { sequence: 0, id, row: converted }).await.map_err(queue_rejection)?;
                }
                None => self.enqueue(record, id).await?,
            }
            return Ok(Receipt::default());
        };
        let table = match &custom {
            Some((lane, _)) => lane.schema.table,
            None => record.table(),
        };
        let stream = table.spool_stream();
        let mut payload = Vec::with_capacity(128);
        codec::encode(&record, id, &mut payload);
        let mut queued = Some(match custom {
            Some((lane, converted)) => Queued::Custom(lane, converted),
            None => Queued::Record(record),
        });
        loop {
            let (used, max) = {
                let mut state = gate.spills.lock(stream);
                match gate.progress.spool().append(stream, &payload) {
                    Ok((sequence, position)) => {
                        if let (None, Some(item)) = (&state.cursor, queued.take()) {
                            let sent = match item {
                                Queued::Record(record) => self.try_enqueue(record, sequence, id),
                                Queued::Custom(lane, row) => {
                                    lane.sender.try_send(Sequenced { sequence, id, row }).map_err(|(_, error)| error)
                                }
                            };
                            if let Err(SendError::Full(_)) = sent {
                                state.cursor = Some(StreamCursor::new(stream, sequence));
                                drop(state);
                                events::spill_started(table.spool_stream_name());
                                gate.spills.wake(stream);
                            }
                            // A closed channel means the daemon is stopping: the record is
                            // in the spool and is replayed on the next start.
                        }
                        return Ok(Receipt { stream, sequence, position, duplicate: false, index: 0 });
                    }
                    Err(SpoolError::Full { used, max }) => (used, max),
                    Err(error) => {
                        events::spool_failed(&error);
                        return Err(Rejection::new(RejectReason::SpoolError, error.to_string()));
                    }
                }
            };
            events::spool_full(gate.full_policy);
            if gate.full_policy == FullPolicy::Reject {
                return Err(Rejection::new(
                    RejectReason::SpoolFull,
                    format!("the spool holds {used} of {max} bytes not yet committed (spool.max_bytes)"),
                ));
            }
            // Block: wait for a commit to free room (re-checking now and then).
            let _ = tokio::time::timeout(std::time::Duration::from_millis(100), gate.progress.wait_for_a_commit()).await;
        }
    }

    /// Queues a record if its channel has room.
    fn try_enqueue(&self, record: Record, sequence: u64, id: u128) -> Result<(), SendError> {
        on_lane!(self, record, |lane, row| lane.try_send(Sequenced { sequence, id, row }).map_err(|(_, error)| error))
    }

    /// Queues an unspooled record under its channel's full policy.
    async fn enqueue(&self, record: Record, id: u128) -> Result<(), Rejection> {
        let sent = on_lane!(self, record, |lane, row| lane.send(Sequenced { sequence: 0, id, row }).await);
        sent.map_err(queue_rejection)
    }
}

/// What an admitted record is queued as. Short-lived on the stack, so its size beside
/// the small `Custom` variant costs nothing that boxing the record would not.
#[allow(clippy::large_enum_variant)]
enum Queued<'a> {
    Record(Record),
    /// A custom table's row, converted, for its lane.
    Custom(&'a CustomLane, CustomRow),
}

/// Ticks gathered for one run on the ticks lane ([`Router::try_queue_ticks`]).
#[derive(Debug, Default)]
pub struct TickRun {
    rows: Vec<Sequenced<Tick>>,
}

impl TickRun {
    pub fn with_capacity(capacity: usize) -> TickRun {
        TickRun { rows: Vec::with_capacity(capacity) }
    }

    pub fn push(&mut self, tick: Tick) {
        self.rows.push(Sequenced::unspooled(tick));
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ticks, in the order they were pushed.
    pub fn into_ticks(self) -> impl Iterator<Item = Tick> {
        self.rows.into_iter().map(|queued| queued.row)
    }
}

fn queue_rejection(error: SendError) -> Rejection {
    match error {
        SendError::Full(_) => Rejection::new(RejectReason::QueueFull, error.to_string()),
        SendError::Closed => Rejection::new(RejectReason::ShuttingDown, error.to_string()),
    }
}
