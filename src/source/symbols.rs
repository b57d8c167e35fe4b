//! Venue symbols → our `BASE-QUOTE` form, shared by the adapters of venues that write
//! pairs without a separator (`BTCUSDT`).

/// Quote assets, longest first, so that a longer quote asset wins over a shorter one it ends with.
const QUOTE_ASSETS: &[&str] =
    &["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "GBP", "JPY", "AUD"];

/// `BTCUSDT` → `BTC-USDT`; a symbol without a known quote asset is kept as it is.
pub fn split_quote_asset(venue_symbol: &str) -> String {
    for quote in QUOTE_ASSETS {
        if let Some(base) = venue_symbol.strip_suffix(quote) {
            if !base.is_empty() {
                return format!("{base}-{quote}");
            }
        }
    }
    venue_symbol.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_split_on_the_quote_asset() {
        for (venue, ours) in [("BTCUSDT", "BTC-USDT"), ("ETHBTC", "ETH-BTC"), ("BNBFDUSD", "BNB-FDUSD"), ("XYZ", "XYZ"), ("USDT", "USDT")] {
            assert_eq!(split_quote_asset(venue), ours);
        }
    }
}
