//! The daemon's lanes: one bounded channel per table. The senders go into the router
//! that every source shares; the receivers go to the tables' batchers, which hand
//! batches to database writers (or, on an edge, to the bus publishers). Also what the
//! router holds besides: the window of recent ids and the relational catalog.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::database_url;
use crate::config::{Config, FullPolicy};
use crate::db;
use crate::pipeline::ReleaseSender;
use crate::pipeline::{
    lane, CustomLane, IdWindow, IndicatorStage, LaneReceiver, LaneSender, Router, RouterLimits, Sequenced, Spills, SpoolGate,
};
use crate::record::{
    ApproxBytes, Bar, DeadLetter, FeedEvent, IndicatorValue, OptionQuote, Quote, RelationalCatalog, RowRecord, SharedCatalog, Signal,
    Table, TechnicalIndicators, Tick, Ticker,
};
use crate::spool::SpoolProgress;

const MICROS_PER_DAY: i64 = 24 * 3_600 * 1_000_000;

/// The sending side of every built-in lane.
pub(super) struct Senders {
    ticks: LaneSender<Sequenced<Tick>>,
    quotes: LaneSender<Sequenced<Quote>>,
    bars: LaneSender<Sequenced<Bar>>,
    tickers: LaneSender<Sequenced<Ticker>>,
    options_quotes: LaneSender<Sequenced<OptionQuote>>,
    technical_indicators: LaneSender<Sequenced<TechnicalIndicators>>,
    indicator_values: LaneSender<Sequenced<IndicatorValue>>,
    signals: LaneSender<Sequenced<Signal>>,
    rows: LaneSender<Sequenced<RowRecord>>,
    feed_events: LaneSender<Sequenced<FeedEvent>>,
    /// Public: the table writers keep a clone to dead-letter the rows the database refuses.
    pub dead_letters: LaneSender<Sequenced<DeadLetter>>,
}

/// The receiving side of the lanes whose rows are copied into a hypertable or
/// bookkeeping table (every built-in lane but the relational one).
pub(super) struct Receivers {
    pub ticks: LaneReceiver<Sequenced<Tick>>,
    pub quotes: LaneReceiver<Sequenced<Quote>>,
    pub bars: LaneReceiver<Sequenced<Bar>>,
    pub tickers: LaneReceiver<Sequenced<Ticker>>,
    pub options_quotes: LaneReceiver<Sequenced<OptionQuote>>,
    pub technical_indicators: LaneReceiver<Sequenced<TechnicalIndicators>>,
    pub indicator_values: LaneReceiver<Sequenced<IndicatorValue>>,
    pub signals: LaneReceiver<Sequenced<Signal>>,
    pub feed_events: LaneReceiver<Sequenced<FeedEvent>>,
    pub dead_letters: LaneReceiver<Sequenced<DeadLetter>>,
}

/// Every built-in lane, each bounded by its table's `channel_capacity` rows and
/// `channel_max_bytes` bytes under `pipeline.full_policy`; the relational lane's
/// receiver apart, since its writer is of another kind.
pub(super) fn open(config: &Config) -> (Senders, Receivers, LaneReceiver<Sequenced<RowRecord>>) {
    let (ticks, ticks_rx) = open_lane(config, Table::Ticks);
    let (quotes, quotes_rx) = open_lane(config, Table::Quotes);
    let (bars, bars_rx) = open_lane(config, Table::Bars);
    let (tickers, tickers_rx) = open_lane(config, Table::Tickers);
    let (options_quotes, options_quotes_rx) = open_lane(config, Table::OptionsQuotes);
    let (technical_indicators, technical_indicators_rx) = open_lane(config, Table::TechnicalIndicators);
    let (indicator_values, indicator_values_rx) = open_lane(config, Table::IndicatorValues);
    let (signals, signals_rx) = open_lane(config, Table::Signals);
    let (rows, rows_rx) = open_lane(config, Table::Relational);
    let (feed_events, feed_events_rx) = open_lane(config, Table::FeedEvents);
    let (dead_letters, dead_letters_rx) = open_lane(config, Table::DeadLetters);
    let senders = Senders {
        ticks,
        quotes,
        bars,
        tickers,
        options_quotes,
        technical_indicators,
        indicator_values,
        signals,
        rows,
        feed_events,
        dead_letters,
    };
    let receivers = Receivers {
        ticks: ticks_rx,
        quotes: quotes_rx,
        bars: bars_rx,
        tickers: tickers_rx,
        options_quotes: options_quotes_rx,
        technical_indicators: technical_indicators_rx,
        indicator_values: indicator_values_rx,
        signals: signals_rx,
        feed_events: feed_events_rx,
        dead_letters: dead_letters_rx,
    };
    (senders, receivers, rows_rx)
}

/// One table's lane, bounded as its settings say.
pub(super) fn open_lane<R: ApproxBytes>(config: &Config, table: Table) -> (LaneSender<R>, LaneReceiver<R>) {
    let settings = config.table(table);
    lane(table, settings.channel_capacity, settings.channel_max_bytes, config.pipeline.full_policy)
}

/// A table's retention as µs before now, when it is time-partitioned and limited.
pub(super) fn retention_micros(config: &Config, table: Table) -> Option<i64> {
    let days = config.table(table).retention_days;
    (table.is_time_partitioned() && days > 0).then(|| i64::from(days) * MICROS_PER_DAY)
}

/// The window of recent record ids, holding the most recently committed ones.
pub(super) async fn id_window(config: &Config) -> anyhow::Result<Option<Arc<IdWindow>>> {
    let capacity = config.server.as_ref().map_or(0, |server| server.dedup_ids);
    if capacity == 0 {
        return Ok(None);
    }
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms)).await?;
    let window = IdWindow::new(capacity);
    // Oldest first, so the window forgets them first.
    for key in db::load_recent_ids(&client, capacity).await?.into_iter().rev() {
        window.admit(key);
    }
    Ok(Some(Arc::new(window)))
}

/// An edge's window of recent ids: in memory only (an edge has no database); the
/// writers recognize the resends it does not.
pub(super) fn edge_id_window(config: &Config) -> Option<Arc<IdWindow>> {
    let capacity = config.server.as_ref().map_or(0, |server| server.dedup_ids);
    (capacity > 0).then(|| Arc::new(IdWindow::new(capacity)))
}

/// The relational tables of `[relational] tables` as the database describes them.
pub(super) async fn load_catalog(config: &Config) -> anyhow::Result<RelationalCatalog> {
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms)).await?;
    let (catalog, missing) = db::load_relational_catalog(&client, &config.relational.tables).await?;
    if !missing.is_empty() {
        tracing::warn!(tables = %missing.join(", "), "relational tables listed in the configuration do not exist; rows for them are refused");
    }
    Ok(catalog)
}

/// What the router needs besides the lanes.
pub(super) struct RouterParts {
    pub catalog: Arc<SharedCatalog>,
    pub spool: Option<Arc<SpoolProgress>>,
    /// The spool release writer's queue (not on an edge: it has no database).
    pub releases: Option<ReleaseSender>,
    pub custom_tables: HashMap<String, CustomLane>,
    pub ids: Option<Arc<IdWindow>>,
}

/// The router every source hands its records to.
pub(super) fn router(config: &Config, senders: Senders, parts: RouterParts) -> Router {
    let mut retention = [None; Table::ALL.len()];
    let mut max_record_bytes = [0; Table::ALL.len()];
    for (index, table) in Table::ALL.into_iter().enumerate() {
        retention[index] = retention_micros(config, table);
        max_record_bytes[index] = config.table(table).max_record_bytes;
    }
    Router {
        ticks: senders.ticks,
        quotes: senders.quotes,
        bars: senders.bars,
        tickers: senders.tickers,
        options_quotes: senders.options_quotes,
        technical_indicators: senders.technical_indicators,
        indicator_values: senders.indicator_values,
        signals: senders.signals,
        rows: senders.rows,
        catalog: parts.catalog,
        spool: parts.spool.map(|progress| {
            Arc::new(SpoolGate {
                progress,
                full_policy: config.spool.as_ref().map_or(FullPolicy::Block, |spool| spool.full_policy),
                spills: Spills::default(),
                releases: parts.releases,
            })
        }),
        custom_tables: Arc::new(parts.custom_tables),
        indicators: IndicatorStage::from_config(&config.indicators).map(Arc::new),
        ids: parts.ids,
        feed_events: senders.feed_events,
        dead_letters: senders.dead_letters,
        limits: RouterLimits {
            retention_micros: retention,
            max_future_micros: (config.pipeline.max_future_secs as i64).saturating_mul(1_000_000),
            max_record_bytes,
        },
    }
}

/// The batch queues of the built-in tables' database writers: the table's batcher
/// feeds one, and on a writer instance the table's bus consumer too.
pub(super) struct Queues {
    pub ticks: Queue<Tick>,
    pub quotes: Queue<Quote>,
    pub bars: Queue<Bar>,
    pub tickers: Queue<Ticker>,
    pub options_quotes: Queue<OptionQuote>,
    pub technical_indicators: Queue<TechnicalIndicators>,
    pub indicator_values: Queue<IndicatorValue>,
    pub signals: Queue<Signal>,
    pub feed_events: Queue<FeedEvent>,
    pub dead_letters: Queue<DeadLetter>,
}

pub(super) type Queue<R> = tokio::sync::mpsc::Sender<crate::sink::EncodedBatch<R>>;
