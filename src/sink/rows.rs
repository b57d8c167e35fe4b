//! How each record type maps onto its table's columns: the market series here, order
//! books, derivatives and the other rows (signals, feed events, dead letters) in the
//! files of `rows/`. The field order follows the columns of the table's declaration
//! (`record/registry.rs`); a test checks each encoder against them, and the round-trip
//! tests read every column back.

use super::encoder::{CopyRow, EncodeRow, TupleEncoder as T};

macro_rules! copy_rows {
    (() $( $name:ident: $row:ty = $table:ident, )*) => {
        $( impl CopyRow for $row {
            const TABLE: Table = Table::$table;
        } )*
    };
}

crate::builtin_tables!(lanes => copy_rows);
use crate::record::{Bar, IndicatorValue, Instrument, OptionQuote, Quote, Table, TechnicalIndicators, Tick, Ticker, Timestamp};

/// `received_at`, and the event time `time` as the partitioning time.
macro_rules! series_row_times {
    () => {
        fn received_at(&self) -> Timestamp {
            self.received_at
        }

        fn partition_time(&self) -> Option<Timestamp> {
            Some(self.time)
        }
    };
}

/// A market row's times, and its (venue, symbol) for `instruments`.
macro_rules! market_row_times {
    () => {
        series_row_times!();

        fn instrument(&self) -> Option<(&str, &str)> {
            Some((&self.venue, &self.symbol))
        }
    };
}

// After the macros, which they use.
mod books;
mod derivatives;
mod events;

impl EncodeRow for Tick {
    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 4 * T::EIGHT_BYTE_LEN
            + T::INT2_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
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

    market_row_times!();
}

impl EncodeRow for Quote {
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

    market_row_times!();
}

impl EncodeRow for Bar {
    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 7 * T::EIGHT_BYTE_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::text_len(&self.interval)
            + T::optional_eight_byte_len(self.vwap)
            + T::optional_eight_byte_len(self.trades)
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

    market_row_times!();
}

fn optional_floats_len(values: &[Option<f64>]) -> usize {
    values.iter().map(|value| T::optional_eight_byte_len(*value)).sum()
}

impl EncodeRow for Ticker {
    #[inline]
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 3 * T::EIGHT_BYTE_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + optional_floats_len(&self.optional_values())
    }

    #[inline]
    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(12);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.float8(self.last);
        for value in self.optional_values() {
            fields.optional_float8(value);
        }
    }

    market_row_times!();
}

trait OptionalValues<const N: usize> {
    /// The optional numeric columns in COPY order.
    fn optional_values(&self) -> [Option<f64>; N];
}

impl OptionalValues<7> for Ticker {
    #[inline]
    fn optional_values(&self) -> [Option<f64>; 7] {
        [self.open_24h, self.high_24h, self.low_24h, self.volume_24h, self.quote_volume_24h, self.change, self.change_pct]
    }
}

impl OptionalValues<15> for OptionQuote {
    #[inline]
    fn optional_values(&self) -> [Option<f64>; 15] {
        [
            self.bid,
            self.ask,
            self.last,
            self.mark,
            self.volume,
            self.open_interest,
            self.delta,
            self.gamma,
            self.theta,
            self.vega,
            self.rho,
            self.iv,
            self.bid_iv,
            self.ask_iv,
            self.underlying_price,
        ]
    }
}

impl OptionalValues<14> for TechnicalIndicators {
    #[inline]
    fn optional_values(&self) -> [Option<f64>; 14] {
        [
            self.sma_20,
            self.sma_50,
            self.ema_20,
            self.ema_50,
            self.rsi,
            self.macd_line,
            self.macd_signal,
            self.macd_histogram,
            self.bb_upper,
            self.bb_middle,
            self.bb_lower,
            self.bb_width,
            self.volume_sma_10,
            self.volume_ratio,
        ]
    }
}

impl EncodeRow for OptionQuote {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 3 * T::EIGHT_BYTE_LEN
            + T::DATE_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::text_len(&self.underlying)
            + T::text_len(self.option_type.as_str())
            + optional_floats_len(&self.optional_values())
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(23);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.text(&self.underlying);
        fields.text(self.option_type.as_str());
        fields.float8(self.strike);
        fields.date(self.expiration);
        for value in self.optional_values() {
            fields.optional_float8(value);
        }
    }

    market_row_times!();

    fn segment_key(&self) -> Option<&str> {
        Some(&self.underlying)
    }

    fn describe_instrument(&self) -> Option<Instrument> {
        Some(Instrument {
            asset_class: Some("option"),
            underlying: Some(self.underlying.clone()),
            expiration: Some(self.expiration),
            strike: Some(self.strike),
            option_type: Some(self.option_type),
            ..Instrument::new(&self.venue, &self.symbol)
        })
    }
}

impl EncodeRow for TechnicalIndicators {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 2 * T::EIGHT_BYTE_LEN
            + T::text_len(&self.venue)
            + T::text_len(&self.symbol)
            + T::text_len(&self.interval)
            + optional_floats_len(&self.optional_values())
            + T::float8_array_len(&self.support_levels)
            + T::float8_array_len(&self.resistance_levels)
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(21);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.text(&self.venue);
        fields.text(&self.symbol);
        fields.text(&self.interval);
        for value in self.optional_values() {
            fields.optional_float8(value);
        }
        fields.float8_array(&self.support_levels);
        fields.float8_array(&self.resistance_levels);
    }

    series_row_times!();

    fn origin(&self) -> &str {
        &self.venue
    }

    fn segment_key(&self) -> Option<&str> {
        Some(&self.symbol)
    }
}

impl EncodeRow for IndicatorValue {
    fn encoded_len(&self) -> usize {
        T::TUPLE_LEN
            + 3 * T::EIGHT_BYTE_LEN
            + T::optional_text_len(self.venue.as_deref())
            + T::text_len(&self.symbol)
            + T::text_len(&self.interval)
            + T::text_len(&self.name)
    }

    fn encode(&self, fields: &mut T<'_>) {
        fields.start_tuple(7);
        fields.timestamptz(self.time);
        fields.timestamptz(self.received_at);
        fields.optional_text(self.venue.as_deref());
        fields.text(&self.symbol);
        fields.text(&self.interval);
        fields.text(&self.name);
        fields.float8(self.value);
    }

    series_row_times!();

    fn origin(&self) -> &str {
        self.venue.as_deref().unwrap_or("none")
    }

    fn segment_key(&self) -> Option<&str> {
        Some(&self.symbol)
    }
}
