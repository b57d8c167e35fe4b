//! How each record type maps onto its table's columns. The field order here follows
//! `record::Table::columns()`; the round-trip tests read every column back.

use super::encoder::{CopyRow, TupleEncoder};
use crate::record::{Bar, DeadLetter, FeedEvent, Quote, Table, Tick, Timestamp};

impl CopyRow for Tick {
    const TABLE: Table = Table::Ticks;

    #[inline]
    fn encode(&self, fields: &mut TupleEncoder<'_>) {
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
    fn encode(&self, fields: &mut TupleEncoder<'_>) {
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
    fn encode(&self, fields: &mut TupleEncoder<'_>) {
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

    fn encode(&self, fields: &mut TupleEncoder<'_>) {
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

    fn encode(&self, fields: &mut TupleEncoder<'_>) {
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
