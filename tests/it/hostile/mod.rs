//! Hostile input and faults: one module per way an attacker or an accident tried to
//! break the promise that a record is committed, queued or dead-lettered, never silently
//! gone, and that the daemon keeps working. Each test asserts what lands, what is
//! dead-lettered, and that valid records sent after the bad input are committed.

mod amplification;
mod committed_acks;
mod connections;
mod offline_start;
mod poison;
mod refusals;
mod special_values;
mod spool_damage;
