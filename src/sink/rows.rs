//! How each record type maps onto its table's columns. The field order here follows
//! `record::Table::columns()`; the round-trip tests read every column back.

use super::encoder::{CopyRow, TupleEncoder as T};
use crate::record::{Bar, DeadLetter, FeedEvent, Quote, Table, Tick, Timestamp};

impl CopyRow for Tick {
    const TABLE: Table = Table::Ticks;

    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN + 4 * T::EIGHT_BYTE_LEN + T::INT2_LEN + T::text_len(&self.venue) + T::text_len(&self.symbol)
            + T::optional_text_len(self.trade_id.as_deref())
    }

    #[inline]
    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(8);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.float8(self.price);
        fields.float8(self.size);
        fields.int2(self.side as i16);
        fields.optional_text(self.trade_id.as_deref());
    }

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        Some(self.time)
    }

    fn instrument(&self) -> Option<(&str, &str)> {
        Some((&self.venue, &self.symbol))
    }
}

impl CopyRow for Quote {
    const TABLE: Table = Table::Quotes;

    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN + 6 * T::EIGHT_BYTE_LEN + T::text_len(&self.venue) + T::text_len(&self.symbol)
    }

    #[inline]
    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(8);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.float8(self.bid_price);
        fields.float8(self.bid_size);
        fields.float8(self.ask_price);
        fields.float8(self.ask_size);
    }

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        Some(self.time)
    }

    fn instrument(&self) -> Option<(&str, &str)> {
        Some((&self.venue, &self.symbol))
    }
}

impl CopyRow for Bar {
    const TABLE: Table = Table::Bars;

    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN + 7 * T::EIGHT_BYTE_LEN + T::text_len(&self.venue) + T::text_len(&self.symbol)
            + T::text_len(&self.interval) + T::optional_eight_byte_len(self.vwap) + T::optional_eight_byte_len(self.trades)
    }

    #[inline]
    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(12);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.text(&self.interval);
        fields.float8(self.open);
        fields.float8(self.high);
        fields.float8(self.low);
        fields.float8(self.close);
        fields.float8(self.volume);
        fields.optional_float8(self.vwap);
        fields.optional_int8(self.trades);
    }

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        Some(self.time)
    }

    fn instrument(&self) -> Option<(&str, &str)> {
        Some((&self.venue, &self.symbol))
    }
}

impl CopyRow for FeedEvent {
    const TABLE: Table = Table::FeedEvents;

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

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        Some(self.time)
    }
}

impl CopyRow for DeadLetter {
    const TABLE: Table = Table::DeadLetters;

    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN + T::EIGHT_BYTE_LEN + T::text_len(&self.source) + T::text_len(self.reason) + T::text_len(&self.detail)
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

    fn received_at(&self) -> Timestamp {
        self.received_at
    }

    fn partition_time(&self) -> Option<Timestamp> {
        None
    }
}
