//! The one writer of the symbol master, `instruments`. Two paths feed it: the market
//! writers upsert the instruments a batch is the first to carry (in the batch's own
//! transaction), and the relational writer upserts the symbols a venue feed lists
//! after it subscribes (the feed's `row` records for `instruments`). Both run
//! [`UPSERT_INSTRUMENTS`], so the table follows one rule whoever writes it.
//!
//! The rule: what a row knows wins, what it does not know (absent or `null`) keeps the
//! table's value; a row that teaches the table nothing touches (and locks) nothing.

use serde_json::Value;
use tokio_postgres::{Client, Statement};

use crate::record::{Instrument, RowOp};

/// The table's name, as `row` records name it.
pub(super) const TABLE: &str = "instruments";

/// The columns [`UPSERT_INSTRUMENTS`] writes, the key first.
const COLUMNS: [&str; 8] = ["venue", "symbol", "venue_symbol", "asset_class", "underlying", "expiration", "strike", "option_type"];

/// Upserts a JSON array of instrument objects (`$1`, text), keyed by (venue, symbol).
pub const UPSERT_INSTRUMENTS: &str = "\
INSERT INTO instruments AS known (venue, symbol, venue_symbol, asset_class, underlying, expiration, strike, option_type)
SELECT venue, symbol, venue_symbol, asset_class, underlying, expiration, strike, option_type
FROM jsonb_populate_recordset(NULL::instruments, $1::text::jsonb)
ON CONFLICT (venue, symbol) DO UPDATE SET
    venue_symbol = coalesce(EXCLUDED.venue_symbol, known.venue_symbol),
    asset_class = coalesce(EXCLUDED.asset_class, known.asset_class),
    underlying = coalesce(EXCLUDED.underlying, known.underlying),
    expiration = coalesce(EXCLUDED.expiration, known.expiration),
    strike = coalesce(EXCLUDED.strike, known.strike),
    option_type = coalesce(EXCLUDED.option_type, known.option_type),
    updated_at = now()
WHERE (coalesce(EXCLUDED.venue_symbol, known.venue_symbol), coalesce(EXCLUDED.asset_class, known.asset_class),
       coalesce(EXCLUDED.underlying, known.underlying), coalesce(EXCLUDED.expiration, known.expiration),
       coalesce(EXCLUDED.strike, known.strike), coalesce(EXCLUDED.option_type, known.option_type))
    IS DISTINCT FROM (known.venue_symbol, known.asset_class, known.underlying, known.expiration, known.strike, known.option_type)";

/// Whether a relational run of `row` records goes through [`UPSERT_INSTRUMENTS`]: an
/// upsert into `instruments` of no other columns than it writes. A producer's row with
/// more columns takes the general upsert, which writes them all.
pub(super) fn takes_run(table: &str, op: RowOp, columns: &[String]) -> bool {
    table == TABLE && op == RowOp::Upsert && columns.iter().all(|column| COLUMNS.contains(&column.as_str()))
}

/// Upserts instruments in `transaction` (`statement`: [`UPSERT_INSTRUMENTS`] prepared).
pub(super) async fn upsert_instruments(
    transaction: &Client,
    statement: &Statement,
    instruments: &[Instrument],
) -> Result<u64, tokio_postgres::Error> {
    let objects: Vec<Value> = instruments.iter().map(|instrument| Value::Object(instrument.known_fields())).collect();
    let json = Value::Array(objects).to_string();
    transaction.execute(statement, &[&json]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_listed_instruments_take_the_shared_upsert() {
        let listed = Instrument::listed("binance", "BTC-USDT", "BTCUSDT", Some("crypto")).upsert_row(crate::record::Timestamp(1));
        assert!(takes_run(&listed.table, listed.op, &listed.columns));
        let option = Instrument { underlying: Some("BTC".into()), strike: Some(1.0), ..Instrument::new("v", "s") };
        assert!(option.known_fields().keys().all(|key| COLUMNS.contains(&key.as_str())), "every known field is a column it writes");
        let more = ["venue".to_string(), "symbol".to_string(), "first_seen".to_string()];
        assert!(!takes_run(TABLE, RowOp::Upsert, &more), "a column the shared upsert does not write");
        assert!(!takes_run(TABLE, RowOp::Insert, &listed.columns), "an insert stays an insert");
        assert!(!takes_run("orders", RowOp::Upsert, &listed.columns));
    }
}
