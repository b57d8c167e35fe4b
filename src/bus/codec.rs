//! What a bus message carries: rows of one table and one venue. A version byte, then
//! per row its producer id key (a flag byte, then 16 bytes when there is one) and the
//! row in postcard's compact binary form. Feed events and dead letters, whose codes are
//! `&'static str` in memory, travel as text and are interned on the way back.

use std::collections::HashSet;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::record::{DeadLetter, FeedEvent, Record, Timestamp};
use crate::sink::CopyRow;

/// Bumped whenever the encoding changes; a writer refuses other versions by name.
pub const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BusCodecError {
    #[error("bus message written by format version {0}; this build reads version {FORMAT_VERSION}")]
    Version(u8),
    #[error("bus message is empty")]
    Empty,
    #[error("bus message row {index} does not decode: {reason}")]
    Row { index: usize, reason: String },
}

/// A row type that travels over the bus.
pub trait BusRow: CopyRow + Sized {
    /// The subject token after the table: the row's venue (or source).
    fn venue(&self) -> &str {
        self.origin()
    }
    fn write(&self, out: &mut Vec<u8>);
    fn read(input: &[u8]) -> Result<(Self, &[u8]), String>;
}

/// Market rows travel in postcard's form of their struct.
macro_rules! serde_bus_rows {
    (() $( $variant:ident($row:ty) = $table:ident / $name:ident, )*) => {$(
        impl BusRow for $row {
            fn write(&self, out: &mut Vec<u8>) {
                // Serializing plain data into a Vec cannot fail.
                *out = postcard::to_extend(self, std::mem::take(out)).expect("rows serialize");
            }
            fn read(input: &[u8]) -> Result<(Self, &[u8]), String> {
                postcard::take_from_bytes(input).map_err(|error| error.to_string())
            }
        }
    )*};
}

crate::builtin_tables!(records => serde_bus_rows);

#[derive(Serialize, Deserialize)]
struct WireFeedEvent {
    time: Timestamp,
    received_at: Timestamp,
    source: String,
    kind: String,
    /// The details as JSON text (postcard does not carry self-describing values).
    detail: String,
}

#[derive(Serialize, Deserialize)]
struct WireDeadLetter {
    received_at: Timestamp,
    source: String,
    reason: String,
    detail: String,
    raw: String,
}

/// Codes read back from the bus, kept for the process's life. Codes are a small fixed
/// set; past this many distinct ones (a peer sending arbitrary text) they become `other`.
const MAX_INTERNED: usize = 1_024;

fn intern(code: &str) -> &'static str {
    static CODES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut codes = CODES.lock().unwrap_or_else(|poison| poison.into_inner());
    let codes = codes.get_or_insert_with(HashSet::new);
    if let Some(known) = codes.get(code) {
        return known;
    }
    if codes.len() >= MAX_INTERNED {
        return "other";
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    codes.insert(leaked);
    leaked
}

impl BusRow for FeedEvent {
    fn write(&self, out: &mut Vec<u8>) {
        let wire = WireFeedEvent {
            time: self.time,
            received_at: self.received_at,
            source: self.source.clone(),
            kind: self.kind.to_string(),
            detail: self.detail.to_string(),
        };
        *out = postcard::to_extend(&wire, std::mem::take(out)).expect("rows serialize");
    }
    fn read(input: &[u8]) -> Result<(Self, &[u8]), String> {
        let (wire, rest): (WireFeedEvent, _) = postcard::take_from_bytes(input).map_err(|error| error.to_string())?;
        let detail = serde_json::from_str(&wire.detail).map_err(|error| format!("feed event detail: {error}"))?;
        let event = FeedEvent { time: wire.time, received_at: wire.received_at, source: wire.source, kind: intern(&wire.kind), detail };
        Ok((event, rest))
    }
}

impl BusRow for DeadLetter {
    fn write(&self, out: &mut Vec<u8>) {
        let wire = WireDeadLetter {
            received_at: self.received_at,
            source: self.source.clone(),
            reason: self.reason.to_string(),
            detail: self.detail.clone(),
            raw: self.raw.clone(),
        };
        *out = postcard::to_extend(&wire, std::mem::take(out)).expect("rows serialize");
    }
    fn read(input: &[u8]) -> Result<(Self, &[u8]), String> {
        let (wire, rest): (WireDeadLetter, _) = postcard::take_from_bytes(input).map_err(|error| error.to_string())?;
        let letter = DeadLetter {
            received_at: wire.received_at,
            source: wire.source,
            reason: intern(&wire.reason),
            detail: wire.detail,
            raw: wire.raw,
        };
        Ok((letter, rest))
    }
}

/// Starts a message.
pub fn begin(out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
}

/// Appends one row and its id key (0: none).
pub fn push_row<R: BusRow>(row: &R, id: u128, out: &mut Vec<u8>) {
    push_id(id, out);
    row.write(out);
}

/// Appends a row's id key (0: none): a flag byte, then 16 bytes when there is one.
pub fn push_id(id: u128, out: &mut Vec<u8>) {
    if id == 0 {
        out.push(0);
    } else {
        out.push(1);
        out.extend_from_slice(&id.to_le_bytes());
    }
}

/// `match` over a record with one arm per market record kind (from the table
/// registry), `$row` bound to its row; relational rows take the last arm.
macro_rules! record_arms {
    (($record:expr, $row:ident, $body:expr, $relational:expr) $( $variant:ident($row_type:ty) = $table:ident / $name:ident, )*) => {
        match $record {
            $( Record::$variant($row) => $body, )*
            Record::Row(_) => $relational,
        }
    };
}

/// Appends a record's row (a record read back from the spool) and its id key.
/// Relational rows do not travel over the bus: `false`.
pub fn push_record(record: &Record, id: u128, out: &mut Vec<u8>) -> bool {
    crate::builtin_tables!(records => record_arms(record, row, { push_row(row, id, out); true }, false))
}

/// A record's subject token, as [`BusRow::venue`] gives it for its row.
pub fn record_venue(record: &Record) -> &str {
    crate::builtin_tables!(records => record_arms(record, row, row.venue(), "none"))
}

/// The rows of a message with their id keys.
pub fn decode<R: BusRow>(payload: &[u8]) -> Result<Vec<(u128, R)>, BusCodecError> {
    decode_rows(after_version(payload)?, R::read)
}

/// What follows a message's version byte, once the version is checked.
pub fn after_version(payload: &[u8]) -> Result<&[u8], BusCodecError> {
    let (&version, input) = payload.split_first().ok_or(BusCodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(BusCodecError::Version(version));
    }
    Ok(input)
}

/// Rows with their id keys until the input ends, each read by `read`.
pub fn decode_rows<T>(mut input: &[u8], read: impl Fn(&[u8]) -> Result<(T, &[u8]), String>) -> Result<Vec<(u128, T)>, BusCodecError> {
    let mut rows = Vec::new();
    while let Some((&flag, rest)) = input.split_first() {
        let index = rows.len();
        let (id, rest) = match flag {
            0 => (0, rest),
            1 if rest.len() >= 16 => {
                let (key, rest) = rest.split_at(16);
                (u128::from_le_bytes(key.try_into().expect("16 bytes")), rest)
            }
            _ => return Err(BusCodecError::Row { index, reason: "bad id flag".into() }),
        };
        let (row, rest) = read(rest).map_err(|reason| BusCodecError::Row { index, reason })?;
        rows.push((id, row));
        input = rest;
    }
    Ok(rows)
}

/// A venue as a subject token: characters NATS gives meaning to (`.`, `*`, `>`,
/// whitespace) become `_`; an empty venue is `none`.
pub fn subject_token(venue: &str) -> String {
    if venue.is_empty() {
        return "none".into();
    }
    venue
        .chars()
        .map(
            |character| if character == '.' || character == '*' || character == '>' || character.is_whitespace() { '_' } else { character },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Tick;

    fn tick(trade: u64) -> Tick {
        Tick {
            time: Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + trade as i64 * 1_000),
            received_at: Timestamp::from_unix_nanos(1_700_000_000_000_100_000),
            venue: "binance".into(),
            symbol: "BTC-USDT".into(),
            price: 42_000.5,
            size: 0.25,
            side: crate::record::Side::Unknown,
            trade_id: Some(trade.to_string().into()),
        }
    }

    #[test]
    fn rows_and_ids_round_trip() {
        let mut out = Vec::new();
        begin(&mut out);
        push_row(&tick(1), 0, &mut out);
        push_row(&tick(2), 0xDEAD_BEEF_u128 << 64 | 7, &mut out);
        let rows: Vec<(u128, Tick)> = decode(&out).unwrap();
        assert_eq!(rows, vec![(0, tick(1)), (0xDEAD_BEEF_u128 << 64 | 7, tick(2))]);
    }

    #[test]
    fn dead_letters_and_feed_events_keep_their_codes() {
        let letter = DeadLetter::new("push", "invalid_json", "bad", "{");
        let event = FeedEvent {
            time: Timestamp::from_unix_nanos(5_000),
            received_at: Timestamp::from_unix_nanos(6_000),
            source: "okx".into(),
            kind: "gap",
            detail: serde_json::json!({"missed": 3}),
        };
        let mut out = Vec::new();
        begin(&mut out);
        push_row(&letter, 0, &mut out);
        assert_eq!(decode::<DeadLetter>(&out).unwrap(), vec![(0, letter)]);
        let mut out = Vec::new();
        begin(&mut out);
        push_row(&event, 0, &mut out);
        assert_eq!(decode::<FeedEvent>(&out).unwrap(), vec![(0, event)]);
    }

    #[test]
    fn bad_messages_are_refused_with_the_reason() {
        assert_eq!(decode::<Tick>(&[]), Err(BusCodecError::Empty));
        assert_eq!(decode::<Tick>(&[9, 0]), Err(BusCodecError::Version(9)));
        let mut out = Vec::new();
        begin(&mut out);
        push_row(&tick(1), 0, &mut out);
        out.truncate(out.len() - 3);
        assert!(matches!(decode::<Tick>(&out), Err(BusCodecError::Row { index: 0, .. })));
        assert!(matches!(decode::<Tick>(&[FORMAT_VERSION, 7]), Err(BusCodecError::Row { index: 0, .. })));
    }

    #[test]
    fn venues_become_subject_tokens() {
        assert_eq!(subject_token("binance"), "binance");
        assert_eq!(subject_token("my venue.v2>*"), "my_venue_v2__");
        assert_eq!(subject_token(""), "none");
    }
}
