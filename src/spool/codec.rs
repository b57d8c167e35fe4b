//! Records in the spool: a version byte, the key of the record's producer id (a flag
//! byte, then 16 bytes when there is one), then the record in postcard's compact binary
//! form (varint integers, length-prefixed strings). JSON values inside records travel
//! as their text; a row's parsed fields are rebuilt from its JSON on the way out.

use crate::record::Record;

/// Bumped whenever the encoding of a record changes; older entries are then refused
/// by `decode` with a clear error rather than misread.
const FORMAT_VERSION: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("spool entry written by format version {0}; this build reads version {FORMAT_VERSION}")]
    Version(u8),
    #[error("spool entry is empty")]
    Empty,
    #[error("spool entry does not decode: {0}")]
    Decode(String),
}

/// Appends the spool form of `record` and its id key (0: none) to `out`.
pub fn encode(record: &Record, id: u128, out: &mut Vec<u8>) {
    out.push(FORMAT_VERSION);
    if id == 0 {
        out.push(0);
    } else {
        out.push(1);
        out.extend_from_slice(&id.to_le_bytes());
    }
    // Serializing plain data into a Vec cannot fail.
    let encoded = postcard::to_extend(record, std::mem::take(out)).expect("records serialize");
    *out = encoded;
}

/// The record and its id key (0: none).
pub fn decode(bytes: &[u8]) -> Result<(Record, u128), CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::Version(version));
    }
    let (&flag, body) = body.split_first().ok_or(CodecError::Empty)?;
    let (id, body) = match flag {
        0 => (0, body),
        1 if body.len() >= 16 => {
            let (key, rest) = body.split_at(16);
            (u128::from_le_bytes(key.try_into().expect("16 bytes")), rest)
        }
        _ => return Err(CodecError::Decode("bad id flag".into())),
    };
    let mut record: Record = postcard::from_bytes(body).map_err(|error| CodecError::Decode(error.to_string()))?;
    if let Record::Row(row) = &mut record {
        row.fields = serde_json::from_str(&row.json).map_err(|error| CodecError::Decode(format!("row JSON: {error}")))?;
    }
    Ok((record, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{JsonText, OptionKind, OptionQuote, RowOp, RowRecord, Side, Signal, TechnicalIndicators, Tick, Timestamp};

    fn round_trip(record: Record) {
        for id in [0, 1, u128::MAX - 7] {
            let mut bytes = Vec::new();
            encode(&record, id, &mut bytes);
            assert_eq!(decode(&bytes).unwrap(), (record.clone(), id));
        }
    }

    #[test]
    fn every_kind_of_record_round_trips() {
        let time = Timestamp(1_795_348_800_123_456);
        round_trip(Record::Tick(Tick {
            time,
            received_at: time,
            venue: "binance".into(),
            symbol: "BTC-USDT".into(),
            price: 97_000.5,
            size: f64::MIN_POSITIVE,
            side: Side::Sell,
            trade_id: Some("42".into()),
        }));
        round_trip(Record::OptionQuote(OptionQuote {
            time,
            received_at: time,
            venue: "deribit".into(),
            symbol: "BTC-27DEC26-100000-C".into(),
            underlying: "BTC".into(),
            option_type: OptionKind::Put,
            strike: 100_000.0,
            expiration: chrono::NaiveDate::from_ymd_opt(2026, 12, 27).unwrap(),
            bid: Some(0.04),
            ask: None,
            last: None,
            mark: Some(0.041),
            volume: None,
            open_interest: Some(12.0),
            delta: Some(-0.4),
            gamma: None,
            theta: None,
            vega: None,
            rho: None,
            iv: Some(55.5),
            bid_iv: None,
            ask_iv: None,
            underlying_price: Some(97_000.0),
        }));
        round_trip(Record::TechnicalIndicators(TechnicalIndicators {
            time,
            venue: "v".into(),
            support_levels: vec![1.0, 2.5],
            rsi: Some(55.0),
            ..TechnicalIndicators::default()
        }));
        round_trip(Record::Signal(Signal {
            time,
            received_at: time,
            source: "agent".into(),
            category: "technical".into(),
            symbol: None,
            direction: Some("long".into()),
            strength: Some(0.5),
            confidence: None,
            impact: None,
            content: Some("breakout".into()),
            payload: Some(JsonText::from_checked(r#"{"levels": [1, 2], "nested": {"ok": true}, "exact": 0.30000000000000004441}"#)),
        }));
        let json = r#"{"id":"o-1","price":12345678901234.123456789}"#;
        round_trip(Record::Row(RowRecord {
            received_at: time,
            table: "orders".into(),
            op: RowOp::Upsert,
            json: json.into(),
            columns: vec!["id".into(), "price".into()],
            key: "\"o-1\"".into(),
            fields: serde_json::from_str(json).unwrap(),
        }));
    }

    /// Found by fuzzing when payloads were parsed JSON: a number with a long mantissa
    /// shifted by one bit each time it went through the spool. Payloads are text now.
    #[test]
    fn json_numbers_in_payloads_survive_repeated_round_trips() {
        let payload = JsonText::from_checked("1111111111111113100000000000000000000");
        let record = Record::Signal(Signal {
            time: Timestamp(5164),
            received_at: Timestamp(0),
            source: "s".into(),
            category: "c".into(),
            symbol: None,
            direction: None,
            strength: None,
            confidence: None,
            impact: None,
            content: None,
            payload: Some(payload),
        });
        let mut first = Vec::new();
        encode(&record, 0, &mut first);
        let (again, _) = decode(&first).unwrap();
        let mut second = Vec::new();
        encode(&again, 0, &mut second);
        assert_eq!(first, second);
        assert_eq!(again, record);
    }

    #[test]
    fn foreign_versions_and_garbage_are_errors_not_panics() {
        assert!(matches!(decode(&[]), Err(CodecError::Empty)));
        assert!(matches!(decode(&[9, 1, 2]), Err(CodecError::Version(9))));
        assert!(matches!(decode(&[FORMAT_VERSION, 0, 0xff, 0xff, 0xff]), Err(CodecError::Decode(_))));
        assert!(matches!(decode(&[FORMAT_VERSION, 1, 0xff]), Err(CodecError::Decode(_))), "an id cut short");
    }
}
