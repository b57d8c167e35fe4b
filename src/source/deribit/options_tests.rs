//! Unit tests of Deribit's option quotes (`options`), on the venue's documented ticker.
use chrono::NaiveDate;

use super::*;
use crate::record::OptionKind;
use crate::record::RejectReason;

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);
const OPTION: &str = "BTC-26JUN26-100000-C";

/// The documented ticker of BTC-26JUN26-100000-C, as a `ticker.{instrument}.100ms`
/// notification of `instrument` at `ts` ms.
fn option_ticker(instrument: &str, ts: i64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.{instrument}.100ms","data":{{"timestamp":{ts},"state":"open","stats":{{"high":null,"low":null,"price_change":null,"volume":0,"volume_usd":0}},"greeks":{{"delta":0.71138,"gamma":0.00001,"vega":389.29255,"theta":-25.13021,"rho":524.77921}},"index_price":108827.5,"instrument_name":"{instrument}","last_price":0.247,"settlement_price":0.24231149,"min_price":0.1975,"max_price":0.3015,"open_interest":1.2,"mark_price":0.2425,"best_bid_price":0.2395,"mark_iv":45.43,"ask_iv":46.18,"bid_iv":44.54,"underlying_price":116086.34,"underlying_index":"BTC-26JUN26","best_ask_price":0.245,"interest_rate":0,"estimated_delivery_price":108827.5,"best_ask_amount":2,"best_bid_amount":2}}}}}}"#
    )
}

fn adapter(symbols: &[&str], channels: &[Channel]) -> DeribitAdapter {
    let mut adapter = DeribitAdapter::new();
    let symbols: Vec<String> = symbols.iter().map(|symbol| symbol.to_string()).collect();
    adapter.subscriptions(&symbols, channels);
    adapter
}

fn option_quotes(parsed: &Parsed) -> Vec<&OptionQuote> {
    parsed
        .records
        .iter()
        .filter_map(|record| match record {
            Record::OptionQuote(quote) => Some(quote),
            _ => None,
        })
        .collect()
}

fn expected(time_ms: i64) -> OptionQuote {
    OptionQuote {
        time: Timestamp(time_ms * 1_000),
        received_at: NOW,
        venue: "deribit".into(),
        symbol: OPTION.into(),
        underlying: "BTC".into(),
        option_type: OptionKind::Call,
        strike: 100_000.0,
        expiration: NaiveDate::from_ymd_opt(2026, 6, 26).unwrap(),
        bid: Some(0.2395),
        ask: Some(0.245),
        last: Some(0.247),
        mark: Some(0.2425),
        volume: Some(0.0),
        open_interest: Some(1.2),
        delta: Some(0.71138),
        gamma: Some(0.00001),
        theta: Some(-25.13021),
        vega: Some(389.29255),
        rho: Some(524.77921),
        iv: Some(45.43),
        bid_iv: Some(44.54),
        ask_iv: Some(46.18),
        underlying_price: Some(116086.34),
    }
}

#[test]
fn options_subscribe_the_ticker_of_option_names_only() {
    let mut adapter = DeribitAdapter::new();
    let symbols: Vec<String> = ["BTC-PERPETUAL", OPTION, "XRP_USDC-30JUN26-0d625-P"].iter().map(|symbol| symbol.to_string()).collect();
    let subscriptions = adapter.subscriptions(&symbols, &[Channel::Trades, Channel::Options]);
    assert_eq!(
        subscriptions[1].message,
        r#"{"id":2,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["trades.BTC-PERPETUAL.raw","trades.BTC-26JUN26-100000-C.raw","ticker.BTC-26JUN26-100000-C.100ms","trades.XRP_USDC-30JUN26-0d625-P.raw","ticker.XRP_USDC-30JUN26-0d625-P.100ms"]}}"#,
        "the perpetual has no options; its trades are still subscribed"
    );
    let both = adapter.subscriptions(&symbols[..2], &[Channel::Quotes, Channel::Options]);
    assert_eq!(
        both[1].message,
        r#"{"id":4,"jsonrpc":"2.0","method":"public/subscribe","params":{"channels":["ticker.BTC-PERPETUAL.100ms","ticker.BTC-26JUN26-100000-C.100ms"]}}"#,
        "quotes and options share the ticker channel"
    );
}

#[test]
fn an_option_ticker_becomes_an_option_quote_with_the_contract_parts() {
    let mut options_only = adapter(&[OPTION], &[Channel::Options]);
    let parsed = options_only.parse(&option_ticker(OPTION, 1752057345721), NOW).unwrap();
    assert_eq!(parsed.records, vec![Record::OptionQuote(expected(1752057345721))], "no quote without `quotes`");

    let mut both = adapter(&[OPTION], &[Channel::Quotes, Channel::Options]);
    let parsed = both.parse(&option_ticker(OPTION, 1752057345721), NOW).unwrap();
    let Record::Quote(quote) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
    assert_eq!((quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size), (0.2395, 2.0, 0.245, 2.0));
    assert_eq!(option_quotes(&parsed), vec![&expected(1752057345721)]);

    let mut quotes_only = adapter(&[OPTION], &[Channel::Quotes]);
    let parsed = quotes_only.parse(&option_ticker(OPTION, 1752057345721), NOW).unwrap();
    assert!(option_quotes(&parsed).is_empty() && parsed.records.len() == 1, "no option quote without `options`");
}

#[test]
fn linear_options_and_puts_take_their_parts_from_the_name() {
    let name = "XRP_USDC-30JUN26-0d625-P";
    let mut adapter = adapter(&[name], &[Channel::Options]);
    let parsed = adapter.parse(&option_ticker(name, 1752057345721), NOW).unwrap();
    let quote = option_quotes(&parsed)[0];
    assert_eq!(
        (quote.symbol.as_str(), quote.underlying.as_str(), quote.option_type, quote.strike, quote.expiration),
        (name, "XRP-USDC", OptionKind::Put, 0.625, NaiveDate::from_ymd_opt(2026, 6, 30).unwrap())
    );
}

#[test]
fn an_empty_side_has_no_price_and_no_iv() {
    let mut adapter = adapter(&[OPTION], &[Channel::Options]);
    let no_bid = option_ticker(OPTION, 1752057345721)
        .replace(r#""best_bid_price":0.2395"#, r#""best_bid_price":null"#)
        .replace(r#""bid_iv":44.54"#, r#""bid_iv":0"#)
        .replace(r#""last_price":0.247"#, r#""last_price":null"#);
    let parsed = adapter.parse(&no_bid, NOW).unwrap();
    let quote = option_quotes(&parsed)[0];
    assert_eq!((quote.bid, quote.bid_iv, quote.last, quote.ask, quote.ask_iv), (None, None, None, Some(0.245), Some(46.18)));
    // A zero IV on a side with orders is none too; a zero price is no orders.
    let zero_iv = option_ticker(OPTION, 1752057345722)
        .replace(r#""ask_iv":46.18"#, r#""ask_iv":0"#)
        .replace(r#""best_bid_price":0.2395"#, r#""best_bid_price":0"#);
    let quote = option_quotes(&adapter.parse(&zero_iv, NOW).unwrap())[0].clone();
    assert_eq!((quote.bid, quote.bid_iv, quote.ask, quote.ask_iv), (None, None, Some(0.245), None));
}

#[test]
fn tickers_not_newer_than_the_last_of_their_contract_are_duplicates() {
    let mut adapter = adapter(&[OPTION, "BTC-26JUN26-100000-P"], &[Channel::Options]);
    assert_eq!(adapter.parse(&option_ticker(OPTION, 1752057345721), NOW).unwrap().records.len(), 1);
    let again = adapter.parse(&option_ticker(OPTION, 1752057345721), NOW).unwrap();
    assert_eq!((again.records.len(), again.duplicates), (0, 1), "re-sent after a resubscribe");
    assert_eq!(adapter.parse(&option_ticker("BTC-26JUN26-100000-P", 1752057345721), NOW).unwrap().records.len(), 1);
    assert_eq!(adapter.parse(&option_ticker(OPTION, 1752057345821), NOW).unwrap().records.len(), 1);
    assert_eq!(adapter.option_times.len(), 2);
}

#[test]
fn instruments_that_are_no_options_yield_no_option_quote() {
    let mut adapter = adapter(&["BTC-PERPETUAL", OPTION], &[Channel::Quotes, Channel::Options]);
    let perpetual = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":1752057345721,"instrument_name":"BTC-PERPETUAL","best_bid_price":108800,"best_bid_amount":1000,"best_ask_price":108800.5,"best_ask_amount":2000,"mark_price":108800.2,"open_interest":502097590,"index_price":108827.5}}}"#;
    let parsed = adapter.parse(perpetual, NOW).unwrap();
    assert!(matches!(parsed.records[..], [Record::Quote(_)]), "{:?}", parsed.records);
    assert!(adapter.option_times.is_empty());
}

#[test]
fn a_bad_option_field_is_rejected_by_name_and_leaves_no_state() {
    let mut adapter = adapter(&[OPTION], &[Channel::Options]);
    for (field, message) in [
        ("`greeks.delta`", option_ticker(OPTION, 1).replace(r#""delta":0.71138"#, r#""delta":"x""#)),
        ("`mark_iv`", option_ticker(OPTION, 1).replace(r#""mark_iv":45.43"#, r#""mark_iv":"high""#)),
        ("`stats.volume`", option_ticker(OPTION, 1).replace(r#""volume":0,"#, r#""volume":[],"#)),
        ("`underlying_price`", option_ticker(OPTION, 1).replace(r#""underlying_price":116086.34"#, r#""underlying_price":true"#)),
    ] {
        let rejection = adapter.parse(&message, NOW).unwrap_err();
        assert_eq!((rejection.code, rejection.detail.contains(field)), (RejectReason::InvalidField, true), "{}", rejection.detail);
    }
    assert!(adapter.option_times.is_empty(), "rejections leave no state");
}
