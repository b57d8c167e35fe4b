//! Derivatives rows: funding rates, open interest, mark prices and liquidations.

use crate::record::{FundingRate, Liquidation, MarkPrice, OpenInterest, Timestamp};
use crate::sink::encoder::{EncodeRow, TupleEncoder as T};

impl EncodeRow for FundingRate {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 3 * T::EIGHT_BYTE_LEN
            + T::optional_eight_byte_len(self.predicted_rate)
            + T::optional_eight_byte_len(self.next_funding_time)
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::optional_text_len(self.interval.as_deref())
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(8);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.float8(self.rate);
        fields.optional_float8(self.predicted_rate);
        fields.optional_timestamptz(self.next_funding_time);
        fields.optional_text(self.interval.as_deref());
    }

    market_row_times!();
}

impl EncodeRow for OpenInterest {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 2 * T::EIGHT_BYTE_LEN
            + T::optional_eight_byte_len(self.contracts)
            + T::optional_eight_byte_len(self.notional)
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(6);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.optional_float8(self.contracts);
        fields.optional_float8(self.notional);
    }

    market_row_times!();
}

impl EncodeRow for MarkPrice {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 2 * T::EIGHT_BYTE_LEN
            + T::optional_eight_byte_len(self.mark_price)
            + T::optional_eight_byte_len(self.index_price)
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(6);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.optional_float8(self.mark_price);
        fields.optional_float8(self.index_price);
    }

    market_row_times!();
}

impl EncodeRow for Liquidation {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 4 * T::EIGHT_BYTE_LEN
            + T::INT2_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::optional_text_len(self.order_id.as_deref())
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(8);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.int2(self.side as i16);
        fields.float8(self.price);
        fields.float8(self.quantity);
        fields.optional_text(self.order_id.as_deref());
    }

    market_row_times!();
}
