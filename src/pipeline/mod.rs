//! The pipeline between sources and writers: one bounded lock-free channel per table
//! (`lane`), the router that checks a record's time against retention and sends it to
//! its table's lane (`router`; a keyed custom table's rows to the relational lane, `keyed`),
//! the indicator stage that turns closed bars into
//! `technical_indicators` rows (`indicators`), and the batcher threads that close batches on a row
//! count, a byte count or a linger time (`batcher`). Lanes and batches are bounded in
//! bytes as well as rows, by each record's estimated size in memory (`ApproxBytes`).

mod batcher;
mod dedup;
mod gather;
mod indicators;
mod keyed;
mod lane;
mod release;
mod retention;
mod router;
mod spill_reader;
mod spill_state;

pub use batcher::{run_batcher, taking, BatchSettings, Deliver, DownstreamGone};
pub use dedup::{id_key, IdWindow};
pub use gather::Gather;
pub use indicators::IndicatorStage;
pub use keyed::{row_retention_micros, KeyedLane};
pub use lane::{lane, LaneReceiver, LaneSender, LaneState, SendError, Sequenced};
pub use release::{ReleaseSender, SpoolRelease, RELEASE_QUEUE};
pub use retention::{check_event_time, check_interval_time, retention_micros_of_days, IntervalRetention};
pub use router::{CustomLane, Lanes, Receipt, Router, RouterLimits, RouterParts, SpoolGate, TickRun};
pub use spill_reader::spawn_spill_readers;
pub use spill_state::Spills;
