//! The push source: a websocket server for in-house producers speaking the push
//! protocol of DESIGN §5. `protocol` turns frame text into records or rejections
//! (pure, no I/O; `records` has one parser per type, `fields` reads their fields,
//! `option_contract` fills and checks an option quote's contract parts from its name);
//! `server` accepts connections, checks the bearer token, reads frames, routes records,
//! dead-letters rejections and answers each frame with an ack.

mod fields;
mod option_contract;
mod protocol;
mod records;
mod server;

pub use protocol::{parse_frame, Ack, ParsedElement};
pub use server::{PushServer, PushSettings};
