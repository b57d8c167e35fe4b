//! Rows that are not market series: signals, the feeds' events and dead letters.

use crate::record::{DeadLetter, FeedEvent, Signal, Timestamp};
use crate::sink::encoder::{EncodeRow, TupleEncoder as T};

impl EncodeRow for Signal {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 2 * T::EIGHT_BYTE_LEN
            + T::text_len(&self.source)
            + T::text_len(&self.category)
            + T::optional_text_len(self.symbol.as_deref())
            + T::optional_text_len(self.direction.as_deref())
            + T::optional_eight_byte_len(self.strength)
            + T::optional_eight_byte_len(self.confidence)
            + T::optional_text_len(self.impact.as_deref())
            + T::optional_text_len(self.content.as_deref())
            + self.payload.as_ref().map_or(T::NULL_LEN, |payload| T::jsonb_text_len(payload.as_str()))
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(11);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.source);
        fields.text(&self.category);
        fields.optional_text(self.symbol.as_deref());
        fields.optional_text(self.direction.as_deref());
        fields.optional_float8(self.strength);
        fields.optional_float8(self.confidence);
        fields.optional_text(self.impact.as_deref());
        fields.optional_text(self.content.as_deref());
        match &self.payload {
            Some(payload) => fields.jsonb_text(payload.as_str()),
            None => fields.null(),
        }
    }

    series_row_times!();

    fn origin(&self) -> &str {
        &self.source
    }

    fn segment_key(&self) -> Option<&str> {
        Some(&self.source)
    }
}

impl EncodeRow for FeedEvent {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN + 2 * T::EIGHT_BYTE_LEN + T::text_len(&self.source) + T::text_len(self.kind) + T::jsonb_len(&self.detail)
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(5);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.source);
        fields.text(self.kind);
        fields.jsonb(&self.detail);
    }

    series_row_times!();

    fn origin(&self) -> &str {
        &self.source
    }

    fn segment_key(&self) -> Option<&str> {
        Some(&self.source)
    }
}

impl EncodeRow for DeadLetter {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + T::EIGHT_BYTE_LEN
            + T::text_len(&self.source)
            + T::text_len(self.reason)
            + T::text_len(&self.detail)
            + T::text_len(&self.raw)
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(5);
        fields.timestamptz(self.received_at);
        fields.text(&self.source);
        fields.text(self.reason);
        fields.text(&self.detail);
        fields.text(&self.raw);
    }

    fn origin(&self) -> &str {
        &self.source
    }

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        None
    }
}
