//! Instrument reference data as venues' REST endpoints describe it: what every adapter
//! with the `instruments` channel shares. An adapter parses its venue's answer into
//! [`InstrumentSpec`]s and hands each to [`SpecVersions::observe`], which makes the
//! `instrument_specs` insert (the table keeps only changes: see
//! `sql/common/0011_instrument_specs.sql`) and, when a spec differs from the one this
//! source saw last, an `instrument_changed` feed event naming what changed.
//!
//! The first observation after a start has nothing to compare with here, so it makes no
//! event; the table still makes a new version if the spec changed while the daemon was
//! down. At most [`MAX_TRACKED`] instruments are remembered per source; the ones past it
//! are still versioned, without events.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::Parsed;
use crate::record::{InstrumentSpec, Record, Timestamp};

/// Instruments remembered per source for change events.
pub const MAX_TRACKED: usize = 100_000;

/// The REST poll intervals of a source (`open_interest_poll_ms`, `instruments_poll_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSettings {
    pub open_interest: Duration,
    pub instruments: Duration,
}

impl PollSettings {
    pub fn of(config: &crate::config::SourceConfig) -> PollSettings {
        PollSettings {
            open_interest: Duration::from_millis(config.open_interest_poll_ms.get()),
            instruments: Duration::from_millis(config.instruments_poll_ms.get()),
        }
    }
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings { open_interest: Duration::from_secs(60), instruments: Duration::from_secs(3_600) }
    }
}

/// The specs one source saw last, by symbol.
#[derive(Debug, Default)]
pub struct SpecVersions {
    last: HashMap<String, InstrumentSpec>,
}

impl SpecVersions {
    /// Adds the version insert of `spec` to `parsed`, and an `instrument_changed` event
    /// when it differs from the last one seen.
    pub fn observe(&mut self, spec: InstrumentSpec, received_at: Timestamp, parsed: &mut Parsed) {
        parsed.records.push(Record::Row(spec.version_row(received_at)));
        let tracked = self.last.len();
        match self.last.get_mut(&spec.symbol) {
            Some(last) => {
                let changed = spec.changed_fields(last);
                if !changed.is_empty() {
                    let mut changes = Map::new();
                    for (name, from, to) in changed {
                        changes.insert(name, json!({ "from": from, "to": to }));
                    }
                    parsed.events.push((
                        "instrument_changed",
                        json!({ "venue": spec.venue, "symbol": spec.symbol, "changes": Value::Object(changes) }),
                    ));
                    *last = spec;
                }
            }
            None if tracked < MAX_TRACKED => {
                self.last.insert(spec.symbol.clone(), spec);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{InstrumentKind, InstrumentStatus};

    #[test]
    fn a_change_is_an_event_and_every_observation_a_version_insert() {
        let mut versions = SpecVersions::default();
        let mut spec = InstrumentSpec::new("okx", "BTC-USDT-SWAP", "BTC-USDT-SWAP", InstrumentKind::Perpetual, InstrumentStatus::Trading);
        spec.tick_size = Some(0.1);
        let mut parsed = Parsed::default();
        versions.observe(spec.clone(), Timestamp(1), &mut parsed);
        versions.observe(spec.clone(), Timestamp(2), &mut parsed);
        assert_eq!((parsed.records.len(), parsed.events.len()), (2, 0));
        spec.tick_size = Some(0.5);
        versions.observe(spec, Timestamp(3), &mut parsed);
        assert_eq!(parsed.records.len(), 3);
        assert_eq!(parsed.events.len(), 1);
        let (kind, detail) = &parsed.events[0];
        assert_eq!(*kind, "instrument_changed");
        assert_eq!(detail["changes"], json!({ "tick_size": { "from": 0.1, "to": 0.5 } }));
        assert_eq!(detail["symbol"], "BTC-USDT-SWAP");
    }
}
