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
use crate::metrics::Stats;
use crate::pipeline::ReleaseSender;
use crate::pipeline::{
    self, lane, CustomLane, IdWindow, IndicatorStage, KeyedLane, LaneReceiver, LaneSender, Lanes, Router, RouterLimits, Sequenced, Spills,
    SpoolGate,
};
use crate::record::{ApproxBytes, CustomRow, RelationalCatalog, RowRecord, SharedCatalog, Table};
use crate::source::push::PushRows;
use crate::spool::SpoolProgress;

const MICROS_PER_DAY: i64 = 24 * 3_600 * 1_000_000;

macro_rules! declare_lane_ends {
    (() $( $name:ident: $row:ty = $table:ident, )*) => {
        /// The receiving side of the lanes whose rows are copied into a hypertable or
        /// bookkeeping table (every built-in lane but the relational one).
        pub(super) struct Receivers {
            $( pub $name: LaneReceiver<Sequenced<$row>>, )*
        }

        /// The batch queues of the built-in tables' database writers: the table's batcher
        /// feeds one, and on a writer instance the table's bus consumer too.
        pub(super) struct Queues {
            $( pub $name: Queue<$row>, )*
        }

        /// Every built-in lane, each bounded by its table's `channel_capacity` rows and
        /// `channel_max_bytes` bytes under `pipeline.full_policy`; the relational lane's
        /// receiver apart, since its writer is of another kind.
        pub(super) fn open(config: &Config) -> (Lanes, Receivers, LaneReceiver<Sequenced<RowRecord>>) {
            $( let $name = open_lane(config, Table::$table); )*
            let (relational, relational_rx) = open_lane(config, Table::Relational);
            let lanes = Lanes { $( $name: $name.0, )* relational };
            let receivers = Receivers { $( $name: $name.1, )* };
            (lanes, receivers, relational_rx)
        }
    };
}

crate::builtin_tables!(lanes => declare_lane_ends);

/// One table's lane, bounded as its settings say.
pub(super) fn open_lane<R: ApproxBytes>(config: &Config, table: Table) -> (LaneSender<R>, LaneReceiver<R>) {
    let settings = config.table(table);
    lane(table, settings.channel_capacity, settings.channel_max_bytes, config.pipeline.full_policy)
}

/// The lanes of the custom tables: a keyed table's rows go with the relational lane's,
/// every other custom table has a lane of its own.
pub(super) struct CustomLanes {
    pub lanes: HashMap<String, CustomLane>,
    pub keyed: HashMap<String, KeyedLane>,
    pub receivers: Vec<(Table, LaneReceiver<Sequenced<CustomRow>>)>,
}

/// Opens the custom tables' lanes (each registered with `stats`).
pub(super) fn custom(config: &Config, stats: &Stats) -> anyhow::Result<CustomLanes> {
    let mut custom_lanes = HashMap::new();
    let mut keyed_lanes = HashMap::new();
    let mut custom_receivers = Vec::new();
    for (custom, schema) in config.custom_tables.iter().zip(config.custom_schemas(&PushRows).map_err(anyhow::Error::msg)?) {
        let table = schema.table;
        let retention_micros = retention_micros(config, table);
        let retention_index =
            custom.retention_column.as_ref().and_then(|column| schema.columns.iter().position(|rule| rule.name == *column));
        if custom.is_keyed() {
            let lane = KeyedLane {
                schema,
                retention_micros,
                retention_index,
                primary_key: !custom.primary_key.is_empty(),
                upsert_key: custom.conflict_key().is_some(),
            };
            keyed_lanes.insert(table.name().to_string(), lane);
            continue;
        }
        let (sender, receiver) = open_lane::<Sequenced<CustomRow>>(config, table);
        stats.register(table);
        custom_receivers.push((table, receiver));
        custom_lanes.insert(table.name().to_string(), CustomLane { schema, sender, retention_micros, retention_index });
    }
    Ok(CustomLanes { lanes: custom_lanes, keyed: keyed_lanes, receivers: custom_receivers })
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
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
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

/// The relational tables of `[relational] tables` and the keyed custom tables as the
/// database describes them. A keyed custom table without a primary key is upserted on
/// its first unique key, which stands for its key in the catalog.
pub(super) async fn load_catalog(config: &Config) -> anyhow::Result<RelationalCatalog> {
    let client = db::connect(database_url(config)?, Duration::from_millis(config.database.connect_timeout_ms.get())).await?;
    let (mut catalog, missing) = db::load_relational_catalog(&client, &config.relational_catalog_names()).await?;
    for custom in config.custom_tables.iter().filter(|custom| custom.is_keyed() && custom.primary_key.is_empty()) {
        if let (Some(table), Some(key)) = (catalog.tables.get_mut(&custom.name), custom.conflict_key()) {
            table.primary_key = key.to_vec();
        }
    }
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
    pub keyed_tables: HashMap<String, KeyedLane>,
    pub ids: Option<Arc<IdWindow>>,
}

/// The router every source hands its records to.
pub(super) fn router(config: &Config, lanes: Lanes, parts: RouterParts) -> Router {
    let mut retention = [None; Table::ALL.len()];
    let mut max_record_bytes = [0; Table::ALL.len()];
    for (index, table) in Table::ALL.into_iter().enumerate() {
        retention[index] = retention_micros(config, table);
        max_record_bytes[index] = config.table(table).max_record_bytes;
    }
    let spool = parts.spool.map(|progress| {
        Arc::new(SpoolGate {
            progress,
            full_policy: config.spool.as_ref().map_or(FullPolicy::Block, |spool| spool.full_policy),
            spills: Spills::default(),
            releases: parts.releases,
        })
    });
    Router::new(
        lanes,
        pipeline::RouterParts {
            spool,
            catalog: parts.catalog,
            custom_tables: parts.custom_tables,
            keyed_tables: parts.keyed_tables,
            rows: &PushRows,
            indicators: IndicatorStage::from_config(&config.indicators),
            ids: parts.ids,
            limits: RouterLimits {
                retention_micros: retention,
                bar_retention: pipeline::IntervalRetention::from_settings(&config.table(Table::Bars)),
                max_future_micros: (config.pipeline.max_future_secs.get() as i64).saturating_mul(1_000_000),
                max_record_bytes,
            },
        },
    )
}

pub(super) type Queue<R> = tokio::sync::mpsc::Sender<crate::sink::EncodedBatch<R>>;
