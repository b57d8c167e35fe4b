//! The push source: a websocket server for in-house producers speaking the push
//! protocol of DESIGN §5. `protocol` turns frame text into records or rejections
//! (pure, no I/O); `server` accepts connections, checks the bearer token, reads
//! frames, routes records, dead-letters rejections and answers each frame with an ack.

mod protocol;
mod server;

pub use protocol::{parse_frame, Ack, ParsedElement};
pub use server::{PushServer, PushSettings};
