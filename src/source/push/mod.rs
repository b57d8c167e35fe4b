//! The push source: a websocket server for in-house producers speaking the push
//! protocol of DESIGN §5. `protocol` turns frame text into records or rejections
//! (pure, no I/O; `fast` reads plain ticks without a JSON tree, `records` has one parser per type, `fields` reads their fields,
//! `option_contract` fills and checks an option quote's contract parts from its name);
//! `server` accepts connections (optionally over TLS, with `settings` from `[server]`);
//! `handshake` upgrades them and checks the bearer token; `admission` bounds the sockets
//! in their handshake apart from the producers' slots, and keeps each client's shared
//! frame budget and connection count; `connection` reads frames, limits their rate
//! (`rate`), routes records, dead-letters rejections and answers each frame with an ack
//! at the configured level; `letters` bounds what a frame's refusals
//! become in `dead_letters` (one letter per frame past a few, rate-limited frames sampled).
//! `row_convert` turns a `row` record for a custom table into the table's typed values
//! (`row_cells` reads each value); the router reaches it as `record::RowConverter`.

mod admission;
mod connection;
mod fast;
mod fields;
mod frame;
mod handshake;
mod letters;
mod number;
mod option_contract;
mod protocol;
mod rate;
mod records;
pub mod row_cells;
pub mod row_convert;
mod scan;
mod server;
mod settings;
mod words;

/// The push source's name in logs, metric labels, dead letters and feed events.
const SOURCE_NAME: &str = "push";

pub use frame::{frame_path_agrees, parse_frame, split_frame, Frame, ParsedElement};
pub use protocol::{fast_path_agrees, parse_element, Ack, MAX_ACK_REJECTIONS};
pub use rate::TokenBucket;
pub use row_convert::PushRows;
pub use server::PushServer;
pub use settings::{check_tls, PushSettings, PushSetupError};
