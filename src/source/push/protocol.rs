//! The push protocol (DESIGN §5), frame text → records. Pure functions, no I/O.
//!
//! A frame is one JSON object or a JSON array of objects. Each object has a `type`
//! (`tick`, `quote`, `bar`, `ticker`, `option_quote`, `indicator`, `technical_indicators`, `signal`, `row`) and that type's fields. Times are RFC 3339
//! strings or integer epoch nanoseconds; numbers are JSON numbers or decimal strings.
//! Every rejection names the field and what was expected. An `option_quote`'s
//! `option_type` is `call` or `put` in any case (or `c`, `p`); its `iv`, `bid_iv` and
//! `ask_iv` are percent unless `iv_unit` is `"fraction"`, and in percent a value
//! strictly between 0 and 1 is refused as a likely fraction. A signal's `payload` is
//! kept as the JSON text sent, so jsonb stores its numbers digit for digit.
//!
//! The ack of a frame is `{"accepted": N, "rejected": [{"index": i, "reason": "…"}]}`,
//! plus `"duplicates": D` when some records were resends of ids already seen. The
//! `rejected` list holds at most the first `MAX_ACK_REJECTIONS` (100) refusals, each
//! reason cut to `MAX_REASON_CHARS`; the rest are counted in `"rejected_more": M` and
//! named, without reasons, in `"rejected_more_ranges": [[first, last], …]` (inclusive
//! index ranges; both absent when there are none). Every refused element is thus named
//! by index, so a producer knows exactly what was not taken (a refusal it cannot place
//! would read as acked), and the ack stays small whatever the frame held: past the
//! listed ones a run of refusals is one range, and two ranges are always apart by an
//! accepted record, which is longer in the frame than a range is in the ack.
//!
//! Example frame: `[{"type":"tick","venue":"binance","symbol":"BTCUSDT",
//! "time":"2026-11-22T12:00:00.123Z","price":"97000.5","size":0.01,"side":"buy"}]`

use serde::Serialize;
use serde_json::Value;

use super::fast;
use super::fields::{truncate, Fields, Object};
use super::records;
use crate::record::{Record, RejectReason, Rejection, Timestamp};
use crate::source::feed::fields::kind_of;

/// Refusals listed with their reasons in one ack; the rest are counted in
/// `rejected_more` and named by index in `rejected_more_ranges`.
pub const MAX_ACK_REJECTIONS: usize = 100;
/// Characters of one refusal's reason in an ack.
pub const MAX_REASON_CHARS: usize = 1_024;

/// The answer to one frame.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Ack {
    /// Records taken, resends of ids already seen included.
    pub accepted: usize,
    /// Of those, resends of ids already seen, not stored again (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicates: usize,
    /// The first `MAX_ACK_REJECTIONS` refusals.
    pub rejected: Vec<AckRejection>,
    /// Refusals beyond those listed (absent when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub rejected_more: usize,
    /// The indexes of the refusals beyond those listed, as inclusive `[first, last]`
    /// ranges in frame order (absent when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_more_ranges: Vec<[usize; 2]>,
}

impl Ack {
    /// About the bytes this ack holds and takes as JSON: what `server.acks_in_flight_bytes`
    /// counts. An upper estimate (escaping aside), cheap to compute.
    pub fn estimated_bytes(&self) -> usize {
        const FIXED: usize = 64;
        const PER_REJECTION: usize = std::mem::size_of::<AckRejection>() + 32;
        self.rejected.iter().fold(FIXED, |total, rejection| total.saturating_add(PER_REJECTION + rejection.reason.len()))
    }
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AckRejection {
    pub index: usize,
    pub reason: String,
}

/// The element's record, and its `id` when the record parsed.
pub fn parse_element(raw: &str, received_at: Timestamp) -> (Result<Record, Rejection>, Option<String>) {
    let mut id = None;
    let result = parse_object(raw, received_at, &mut id);
    let id = if result.is_ok() { id } else { None };
    (result, id)
}

fn parse_object(raw: &str, received_at: Timestamp, id: &mut Option<String>) -> Result<Record, Rejection> {
    if let Some((tick, tick_id)) = fast::tick(raw, received_at) {
        *id = tick_id;
        return Ok(Record::Tick(tick));
    }
    parse_object_general(raw, received_at, id)
}

/// Whether the fast path, where it takes `raw`, reads what the general path reads (for
/// the push_protocol fuzz target; true when the fast path declines).
#[doc(hidden)]
pub fn fast_path_agrees(raw: &str) -> bool {
    let now = Timestamp(1_795_348_800_000_000);
    match fast::tick(raw, now) {
        None => true,
        Some((tick, id)) => {
            let mut general_id = None;
            parse_object_general(raw, now, &mut general_id) == Ok(Record::Tick(tick)) && general_id == id
        }
    }
}

/// Any object, through a tree of its members; the one place rejections are written.
pub(super) fn parse_object_general(raw: &str, received_at: Timestamp, id: &mut Option<String>) -> Result<Record, Rejection> {
    let object: Object<'_> = match serde_json::from_str(raw) {
        Ok(object) => object,
        // Not an object, or not JSON: read it again as any JSON to say which.
        Err(_) => {
            let value: Value =
                serde_json::from_str(raw).map_err(|error| Rejection::new(RejectReason::InvalidJson, format!("not valid JSON: {error}")))?;
            return Err(Rejection::new(RejectReason::NotAnObject, format!("expected a JSON object, got {}", kind_of(&value))));
        }
    };
    let fields = Fields { members: &object.0 };
    let kind = match fields.present("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => return Err(Rejection::new(RejectReason::MissingType, format!("`type` must be a string, got {}", kind_of(other)))),
        None => return Err(Rejection::new(RejectReason::MissingType, "the object has no `type` field")),
    };
    *id = fields.optional_key("id")?;
    match kind {
        "tick" => records::parse_tick(&fields, received_at).map(Record::Tick),
        "quote" => records::parse_quote(&fields, received_at).map(Record::Quote),
        "bar" => records::parse_bar(&fields, received_at).map(Record::Bar),
        "ticker" => records::parse_ticker(&fields, received_at).map(Record::Ticker),
        "option_quote" => records::parse_option_quote(&fields, received_at).map(Record::OptionQuote),
        "indicator" => records::parse_indicator(&fields, received_at).map(Record::IndicatorValue),
        "technical_indicators" => records::parse_technical_indicators(&fields, received_at).map(Record::TechnicalIndicators),
        "signal" => records::parse_signal(&fields, raw, received_at).map(Record::Signal),
        "book_delta" => records::parse_book_delta(&fields, received_at).map(Record::BookDelta),
        "book_snapshot" => records::parse_book_snapshot(&fields, received_at).map(Record::BookSnapshot),
        "funding" => records::parse_funding(&fields, received_at).map(Record::FundingRate),
        "open_interest" => records::parse_open_interest(&fields, received_at).map(Record::OpenInterest),
        "mark_price" => records::parse_mark_price(&fields, received_at).map(Record::MarkPrice),
        "liquidation" => records::parse_liquidation(&fields, received_at).map(Record::Liquidation),
        "row" => records::parse_row(&fields, raw, received_at).map(Record::Row),
        other => Err(Rejection::new(
            RejectReason::UnknownType,
            format!(
                "unknown type `{}`; expected tick, quote, bar, ticker, option_quote, indicator, technical_indicators, signal, book_delta, book_snapshot, \
                 funding, open_interest, mark_price, liquidation or row",
                truncate(other, 64)
            ),
        )),
    }
}

/// Reduces parsed elements' rejections into an ack.
impl Ack {
    /// Lists the refusal while the list has room, else counts it and names its index
    /// in `rejected_more_ranges`.
    pub fn reject(&mut self, index: usize, rejection: &Rejection) {
        if self.rejected.len() >= MAX_ACK_REJECTIONS {
            self.rejected_more += 1;
            match self.rejected_more_ranges.last_mut() {
                Some(range) if range[1].checked_add(1) == Some(index) => range[1] = index,
                _ => self.rejected_more_ranges.push([index, index]),
            }
            return;
        }
        let mut reason = rejection.to_string();
        if reason.chars().count() > MAX_REASON_CHARS {
            reason = truncate(&reason, MAX_REASON_CHARS);
            reason.push('…');
        }
        self.rejected.push(AckRejection { index, reason });
    }

    /// Every refusal, listed or counted.
    pub fn rejected_total(&self) -> usize {
        self.rejected.len() + self.rejected_more
    }

    /// The index of every refused element, listed or past the list, in frame order.
    pub fn rejected_indexes(&self) -> impl Iterator<Item = usize> + '_ {
        let listed = self.rejected.iter().map(|rejection| rejection.index);
        listed.chain(self.rejected_more_ranges.iter().flat_map(|range| range[0]..=range[1]))
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
