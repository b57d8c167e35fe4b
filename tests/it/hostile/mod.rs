//! Hostile input and faults: one module per way an attacker or an accident tried to
//! break the promise that a record is committed, queued or dead-lettered, never silently
//! gone, and that the daemon keeps working. Each test asserts what lands, what is
//! dead-lettered, and that valid records sent after the bad input are committed.

mod poison;
mod refusals;
mod spool_damage;
mod amplification;
mod connections;
mod special_values;
mod committed_acks;
mod offline_start;
