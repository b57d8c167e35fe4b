//! The pipeline between sources and writers: one bounded lock-free channel per table
//! (`lane`), the router that checks a record's time against retention and sends it to
//! its table's lane (`router`), and the batcher threads that close batches on a row
//! count or a linger time (`batcher`).

mod batcher;
mod lane;
mod router;

pub use batcher::{run_batcher, BatchSettings};
pub use lane::{lane, LaneReceiver, LaneSender, SendError};
pub use router::{Router, RouterLimits};
