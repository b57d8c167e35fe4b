//! Documentation generated from the code: the configuration reference from the config
//! structs' doc comments (`config_reference`), shell completions and the man page from
//! the command-line definition (`manual`).

mod config_reference;
mod manual;

pub use config_reference::config_reference;
pub use manual::{write_completions, write_manpage};
