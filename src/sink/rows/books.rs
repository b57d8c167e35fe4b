//! Order book rows: `book_deltas` (one level change) and `book_snapshots` (both sides'
//! levels as arrays).

use crate::record::{BookDelta, BookSnapshot, Timestamp};
use crate::sink::encoder::{EncodeRow, TupleEncoder as T};

impl EncodeRow for BookDelta {
    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 5 * T::EIGHT_BYTE_LEN
            + T::BOOL_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::text_len(self.side.as_str())
    }

    #[inline]
    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(9);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.text(self.side.as_str());
        fields.float8(self.price);
        fields.float8(self.size);
        fields.int8(self.sequence);
        fields.bool(self.snapshot);
    }

    market_row_times!();

    fn segment_key(&self) -> Option<&str> {
        Some(&self.symbol)
    }
}

impl EncodeRow for BookSnapshot {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 3 * T::EIGHT_BYTE_LEN
            + T::FOUR_BYTE_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::float8_array_len(&self.bid_prices)
            + T::float8_array_len(&self.bid_sizes)
            + T::float8_array_len(&self.ask_prices)
            + T::float8_array_len(&self.ask_sizes)
            + T::text_len(self.reason.as_str())
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(11);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.int8(self.sequence);
        fields.float8_array(&self.bid_prices);
        fields.float8_array(&self.bid_sizes);
        fields.float8_array(&self.ask_prices);
        fields.float8_array(&self.ask_sizes);
        fields.int4(self.depth);
        fields.text(self.reason.as_str());
    }

    market_row_times!();

    fn segment_key(&self) -> Option<&str> {
        Some(&self.symbol)
    }
}
