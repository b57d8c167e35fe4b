//! Unit tests of the linear and inverse streams: subscriptions, merged tickers,
//! liquidations and instrument specifications, on the venue's documented payloads.
use serde_json::json;

use super::normalize::BybitAdapter;
use crate::config::Channel;
use crate::record::{
    ContractType, FundingRate, InstrumentKind, InstrumentStatus, Liquidation, MarkPrice, OpenInterest, Record, RejectReason, Side, Ticker,
    Timestamp,
};
use crate::source::feed::{Fetch, FetchError, Parsed, VenueAdapter};

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

/// The documented linear snapshot (bybit-exchange.github.io/docs/v5/websocket/public/ticker).
const SNAPSHOT: &str = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick","price24hPcnt":"0.017103","lastPrice":"17216.00","prevPrice24h":"16926.50","highPrice24h":"17281.50","lowPrice24h":"16915.00","prevPrice1h":"17238.00","markPrice":"17217.33","indexPrice":"17227.36","openInterest":"68744.761","openInterestValue":"1183601235.91","turnover24h":"1570383121.943499","volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#;

fn delta(ts: i64, fields: &str) -> String {
    format!(r#"{{"topic":"tickers.BTCUSDT","type":"delta","data":{{"symbol":"BTCUSDT",{fields}}},"cs":24987956060,"ts":{ts}}}"#)
}

fn linear(channels: &[Channel]) -> BybitAdapter {
    let mut adapter = BybitAdapter::linear();
    adapter.subscriptions(&["BTCUSDT".to_string()], channels);
    adapter
}

const ALL_TICKER_TABLES: &[Channel] = &[Channel::Tickers, Channel::Funding, Channel::OpenInterest, Channel::MarkPrice];

fn ms(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms).unwrap()
}

fn funding(time: i64, rate: f64, next: Option<i64>, interval: Option<&str>) -> Record {
    Record::FundingRate(FundingRate {
        time: ms(time),
        received_at: NOW,
        venue: "bybit_linear".into(),
        symbol: "BTC-USDT".into(),
        rate,
        predicted_rate: None,
        next_funding_time: next.map(ms),
        interval: interval.map(str::to_string),
    })
}

fn mark(time: i64, mark_price: f64, index_price: f64) -> Record {
    Record::MarkPrice(MarkPrice {
        time: ms(time),
        received_at: NOW,
        venue: "bybit_linear".into(),
        symbol: "BTC-USDT".into(),
        mark_price: Some(mark_price),
        index_price: Some(index_price),
    })
}

fn open_interest(time: i64, contracts: f64, notional: f64) -> Record {
    Record::OpenInterest(OpenInterest {
        time: ms(time),
        received_at: NOW,
        venue: "bybit_linear".into(),
        symbol: "BTC-USDT".into(),
        contracts: Some(contracts),
        notional: Some(notional),
    })
}

#[test]
fn linear_subscriptions_share_one_tickers_topic() {
    let mut adapter = BybitAdapter::linear();
    assert_eq!((adapter.venue(), adapter.default_url().as_str()), ("bybit_linear", "wss://stream.bybit.com/v5/public/linear"));
    let subscriptions = adapter.subscriptions(
        &["btcusdt".to_string()],
        &[
            Channel::Trades,
            Channel::Tickers,
            Channel::Funding,
            Channel::OpenInterest,
            Channel::MarkPrice,
            Channel::Liquidations,
            Channel::Instruments,
        ],
    );
    assert_eq!(
        subscriptions[0].message,
        r#"{"args":["publicTrade.BTCUSDT","allLiquidation.BTCUSDT","tickers.BTCUSDT"],"op":"subscribe","req_id":"1"}"#
    );
    let fetches = adapter.initial_fetches();
    assert_eq!(fetches, [Fetch::get("instruments BTCUSDT", "/v5/market/instruments-info?category=linear&symbol=BTCUSDT", 1)]);
    assert_eq!(adapter.rest().unwrap().base_url, "https://api.bybit.com");

    let mut inverse = BybitAdapter::inverse();
    assert_eq!((inverse.venue(), inverse.default_url().as_str()), ("bybit_inverse", "wss://stream.bybit.com/v5/public/inverse"));
    let subscriptions = inverse.subscriptions(&["BTCUSD".to_string()], &[Channel::MarkPrice, Channel::Instruments]);
    assert_eq!(subscriptions[0].message, r#"{"args":["tickers.BTCUSD"],"op":"subscribe","req_id":"1"}"#);
    assert_eq!(inverse.initial_fetches()[0].path, "/v5/market/instruments-info?category=inverse&symbol=BTCUSD");
    // Without `instruments` there is nothing to poll; spot has no REST side.
    assert!(linear(&[Channel::Trades]).initial_fetches().is_empty());
    assert!(BybitAdapter::spot().rest().is_none());
    assert!(!BybitAdapter::spot().channels().contains(&Channel::Funding));
    assert!(BybitAdapter::inverse().channels().contains(&Channel::Liquidations));
}

#[test]
fn a_snapshot_then_deltas_merged_into_rows_of_the_changed_tables_only() {
    let mut adapter = linear(ALL_TICKER_TABLES);
    let parsed = adapter.parse(SNAPSHOT, NOW).unwrap();
    assert_eq!(
        parsed.records,
        vec![
            Record::Ticker(Ticker {
                time: ms(1_673_272_861_686),
                received_at: NOW,
                venue: "bybit_linear".into(),
                symbol: "BTC-USDT".into(),
                last: 17216.0,
                open_24h: Some(16926.5),
                high_24h: Some(17281.5),
                low_24h: Some(16915.0),
                volume_24h: Some(91705.276),
                quote_volume_24h: Some(1570383121.943499),
                change: Some(17216.0 - 16926.5),
                change_pct: Some(1.7103),
            }),
            funding(1_673_272_861_686, -0.000212, Some(1_673_280_000_000), None),
            open_interest(1_673_272_861_686, 68744.761, 1183601235.91),
            mark(1_673_272_861_686, 17217.33, 17227.36),
        ]
    );
    // Only the mark price changed: a mark row carrying the known index, nothing else.
    let parsed = adapter.parse(&delta(1_673_272_861_786, r#""markPrice":"17217.40""#), NOW).unwrap();
    assert_eq!(parsed.records, vec![mark(1_673_272_861_786, 17217.40, 17227.36)]);
    // The funding rate and its interval: a funding row with the known next time.
    let parsed = adapter.parse(&delta(1_673_272_861_886, r#""fundingRate":"-0.000215","fundingIntervalHour":"8""#), NOW).unwrap();
    assert_eq!(parsed.records, vec![funding(1_673_272_861_886, -0.000215, Some(1_673_280_000_000), Some("8h"))]);
    // Open interest alone.
    let parsed = adapter.parse(&delta(1_673_272_861_986, r#""openInterest":"68750.001""#), NOW).unwrap();
    assert_eq!(parsed.records, vec![open_interest(1_673_272_861_986, 68750.001, 1183601235.91)]);
    // A field sent again with its known value changes nothing; a bid alone is no table's.
    let parsed = adapter.parse(&delta(1_673_272_862_086, r#""markPrice":"17217.40","bid1Price":"17215.00""#), NOW).unwrap();
    assert!(parsed.records.is_empty(), "{:?}", parsed.records);
    // A bad field rejects the message and leaves the ticker as it was.
    let bad = delta(1_673_272_862_186, r#""markPrice":"17300","indexPrice":"abc""#);
    assert_eq!(adapter.parse(&bad, NOW).unwrap_err().code, RejectReason::InvalidField);
    let parsed = adapter.parse(&delta(1_673_272_862_286, r#""indexPrice":"17227.50""#), NOW).unwrap();
    assert_eq!(parsed.records, vec![mark(1_673_272_862_286, 17217.40, 17227.50)]);
    // A snapshot replaces the ticker: fields it lacks are forgotten.
    let parsed = adapter.parse(&SNAPSHOT.replace(r#""fundingRate":"-0.000212","#, ""), NOW).unwrap();
    let kinds: Vec<&str> = parsed
        .records
        .iter()
        .map(|record| match record {
            Record::Ticker(_) => "ticker",
            Record::FundingRate(_) => "funding",
            Record::OpenInterest(_) => "open_interest",
            Record::MarkPrice(_) => "mark_price",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["open_interest", "mark_price"], "no rate: no funding row; the statistics did not change");
    // The same snapshot again (a reconnect) writes nothing.
    assert!(adapter.parse(&SNAPSHOT.replace(r#""fundingRate":"-0.000212","#, ""), NOW).unwrap().records.is_empty());
}

#[test]
fn only_the_configured_tables_and_futures_without_funding() {
    let mut adapter = linear(&[Channel::MarkPrice]);
    let parsed = adapter.parse(SNAPSHOT, NOW).unwrap();
    assert_eq!(parsed.records, vec![mark(1_673_272_861_686, 17217.33, 17227.36)]);
    let future =
        SNAPSHOT.replace(r#""nextFundingTime":"1673280000000","fundingRate":"-0.000212""#, r#""nextFundingTime":"0","fundingRate":"""#);
    let mut adapter = linear(&[Channel::Funding]);
    assert!(adapter.parse(&future, NOW).unwrap().records.is_empty(), "a dated future has no funding");
    for (fields, detail) in [
        (r#""nextFundingTime":"soon""#, "`nextFundingTime`"),
        (r#""fundingIntervalHour":"0""#, "`fundingIntervalHour`"),
        (r#""fundingIntervalHour":true"#, "`fundingIntervalHour`"),
    ] {
        let rejection = adapter.parse(&delta(1, fields), NOW).unwrap_err();
        assert!(rejection.detail.contains(detail), "{fields}: {rejection:?}");
    }
    let parsed = adapter.parse(&delta(1_673_272_861_686, r#""fundingRate":"0.0001","fundingIntervalHour":4"#), NOW).unwrap();
    let [Record::FundingRate(row)] = &parsed.records[..] else { panic!("{:?}", parsed.records) };
    assert_eq!((row.rate, row.interval.as_deref(), row.next_funding_time), (0.0001, Some("4h"), None));
    assert_eq!(
        adapter.parse(r#"{"topic":"tickers.BTCUSDT","type":"snap","data":{"symbol":"BTCUSDT"}}"#, NOW).unwrap_err().code,
        RejectReason::InvalidField
    );
    assert_eq!(
        adapter.parse(r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{}}"#, NOW).unwrap_err().code,
        RejectReason::InvalidRecord
    );
}

#[test]
fn inverse_tickers_count_volume_in_contracts() {
    let mut adapter = BybitAdapter::inverse();
    adapter.subscriptions(&["BTCUSD".to_string()], &[Channel::Tickers, Channel::OpenInterest]);
    let snapshot = r#"{"topic":"tickers.BTCUSD","type":"snapshot","data":{"symbol":"BTCUSD","tickDirection":"ZeroMinusTick","price24hPcnt":"0.0005","lastPrice":"17000.5","prevPrice24h":"16992.0","highPrice24h":"17100.0","lowPrice24h":"16900.0","markPrice":"17001.1","indexPrice":"17002.2","openInterest":"500000000","openInterestValue":"29410.66","turnover24h":"1176.47","volume24h":"20000000","nextFundingTime":"1673280000000","fundingRate":"0.0001"},"cs":1,"ts":1673272861686}"#;
    let parsed = adapter.parse(snapshot, NOW).unwrap();
    let [Record::Ticker(ticker), Record::OpenInterest(open_interest)] = &parsed.records[..] else { panic!("{:?}", parsed.records) };
    assert_eq!((ticker.venue.as_str(), ticker.symbol.as_str()), ("bybit_inverse", "BTC-USD"));
    assert_eq!((ticker.volume_24h, ticker.quote_volume_24h, ticker.change_pct), (Some(1176.47), Some(20000000.0), Some(0.05)));
    assert_eq!((open_interest.contracts, open_interest.notional), (Some(500000000.0), Some(29410.66)));
}

#[test]
fn liquidations_store_the_order_side_opposite_the_position() {
    let mut adapter = linear(&[Channel::Liquidations]);
    let documented = r#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"},{"T":1739502302950,"s":"ROSEUSDT","S":"Buy","v":"150","p":"0.04510"},{"T":1739502302951,"s":"ROSEUSDT","S":"Long","v":"1","p":"1"},{"T":1}]}"#;
    let parsed = adapter.parse(documented, NOW).unwrap();
    let row = |time: i64, side: Side, price: f64, quantity: f64| {
        Record::Liquidation(Liquidation {
            time: ms(time),
            received_at: NOW,
            venue: "bybit_linear".into(),
            symbol: "ROSE-USDT".into(),
            side,
            price,
            quantity,
            order_id: None,
        })
    };
    assert_eq!(
        parsed.records,
        vec![row(1_739_502_302_929, Side::Buy, 0.04499, 20000.0), row(1_739_502_302_950, Side::Sell, 0.04510, 150.0)],
        "a short position liquidated (S = Sell) is closed by a buy, a long one by a sell"
    );
    let rejected: Vec<(RejectReason, &str)> = parsed.rejected.iter().map(|(rejection, raw)| (rejection.code, raw.as_str())).collect();
    assert_eq!(
        rejected,
        [
            (RejectReason::InvalidField, r#"{"T":1739502302951,"s":"ROSEUSDT","S":"Long","v":"1","p":"1"}"#),
            (RejectReason::InvalidRecord, r#"{"T":1}"#)
        ]
    );
    assert_eq!(
        adapter.parse(r#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","data":{}}"#, NOW).unwrap_err().code,
        RejectReason::InvalidRecord
    );
    // Spot has no liquidation stream.
    let spot = BybitAdapter::spot().parse(documented, NOW).unwrap_err();
    assert_eq!(spot.code, RejectReason::UnknownType);
}

/// The documented linear instrument, with `tick` as its tick size.
pub fn instruments_answer(symbol: &str, contract_type: &str, status: &str, tick: &str, delivery_ms: i64) -> String {
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{{"symbol":"{symbol}","contractType":"{contract_type}","status":"{status}","baseCoin":"BTC","quoteCoin":"USDT","launchTime":"1585526400000","deliveryTime":"{delivery_ms}","deliveryFeeRate":"","priceScale":"2","leverageFilter":{{"minLeverage":"1","maxLeverage":"100.00","leverageStep":"0.01"}},"priceFilter":{{"minPrice":"0.10","maxPrice":"1999999.80","tickSize":"{tick}"}},"lotSizeFilter":{{"maxOrderQty":"1190.000","minOrderQty":"0.001","qtyStep":"0.001","postOnlyMaxOrderQty":"1190.000","maxMktOrderQty":"500.000","minNotionalValue":"5"}},"unifiedMarginTrade":true,"fundingInterval":480,"settleCoin":"USDT","copyTrading":"both","upperFundingRate":"0.00375","lowerFundingRate":"-0.00375"}}],"nextPageCursor":""}},"retExtInfo":{{}},"time":1735809771618}}"#
    )
}

fn spec_fields(parsed: &Parsed) -> serde_json::Value {
    let [Record::Row(row)] = &parsed.records[..] else { panic!("{:?}", parsed.records) };
    serde_json::from_str(&row.json).unwrap()
}

#[test]
fn instrument_specs_from_the_rest_answer_and_the_next_round() {
    let mut adapter = linear(&[Channel::Instruments]);
    let fetch = adapter.initial_fetches().remove(0);
    let parsed = adapter.fetched(&fetch, Ok(instruments_answer("BTCUSDT", "LinearPerpetual", "Trading", "0.10", 0).as_str()), NOW).unwrap();
    assert_eq!(
        spec_fields(&parsed),
        json!({
            "venue": "bybit_linear", "symbol": "BTC-USDT", "venue_symbol": "BTCUSDT", "kind": InstrumentKind::Perpetual.as_str(),
            "contract_type": ContractType::Linear.as_str(), "base_currency": "BTC", "quote_currency": "USDT", "settle_currency": "USDT",
            "tick_size": 0.1, "lot_size": 0.001, "min_size": 0.001, "min_notional": 5, "contract_size": 1, "expiry": null,
            "strike": null, "option_type": null, "status": InstrumentStatus::Trading.as_str(), "valid_from": "2026-11-22T12:00:00.000000Z",
        })
    );
    assert_eq!(parsed.fetches, [fetch.clone().after(std::time::Duration::from_secs(3_600))]);
    assert!(parsed.events.is_empty());
    // A dated future settling, with a new tick size: a change event.
    let parsed = adapter
        .fetched(&fetch, Ok(instruments_answer("BTCUSDT", "LinearFutures", "Delivering", "0.50", 1_798_761_600_000).as_str()), NOW)
        .unwrap();
    let fields = spec_fields(&parsed);
    assert_eq!(
        (&fields["kind"], &fields["status"], &fields["expiry"]),
        (&json!("future"), &json!("halted"), &json!("2027-01-01T00:00:00.000000Z"))
    );
    assert_eq!(parsed.events[0].0, "instrument_changed");
    assert_eq!(parsed.events[0].1["changes"]["tick_size"], json!({ "from": 0.1, "to": 0.5 }));
    for (status, ours) in [("PreLaunch", "pending"), ("Settling", "halted"), ("Closed", "delisted")] {
        let parsed =
            adapter.fetched(&fetch, Ok(instruments_answer("BTCUSDT", "LinearPerpetual", status, "0.10", 0).as_str()), NOW).unwrap();
        assert_eq!(spec_fields(&parsed)["status"], ours);
    }
}

#[test]
fn bad_instrument_answers_are_dead_letters_and_the_poll_goes_on() {
    let mut adapter = linear(&[Channel::Instruments]);
    let fetch = adapter.initial_fetches().remove(0);
    let not_found = FetchError::Status { status: 404, body: "gone".into() };
    for (outcome, detail) in [
        (Err(&not_found), "HTTP 404"),
        (Ok(r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"retExtInfo":{},"time":1}"#), "retCode 10001"),
        (Ok(r#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[]}}"#), "does not list"),
        (Ok("<html>"), "instruments-info"),
        (Ok(&*instruments_answer("BTCUSDT", "LinearOption", "Trading", "0.1", 0)), "`contractType`"),
        (Ok(&*instruments_answer("BTCUSDT", "LinearPerpetual", "Halted", "0.1", 0)), "`status`"),
        (Ok(&*instruments_answer("BTCUSDT", "LinearPerpetual", "Trading", "0", 0)), "`priceFilter.tickSize`"),
        (Ok(&*instruments_answer("ETHUSDT", "LinearPerpetual", "Trading", "0.1", 0)), "does not list"),
    ] {
        let parsed = adapter.fetched(&fetch, outcome, NOW).unwrap();
        assert!(parsed.records.is_empty(), "{detail}");
        assert_eq!(parsed.rejected.len(), 1, "{detail}");
        assert!(parsed.rejected[0].0.detail.contains(detail), "{detail}: {:?}", parsed.rejected[0].0);
        assert!(parsed.rejected[0].0.detail.starts_with("instruments-info of BTCUSDT: "));
        assert_eq!(parsed.fetches.len(), 1, "the next round is asked for: {detail}");
    }
    let other = Fetch::get("depth BTCUSDT", "/x", 1);
    assert_eq!(adapter.fetched(&other, Ok("{}"), NOW).unwrap_err().code, RejectReason::UnknownType);
}

#[test]
fn the_spot_topics_on_the_inverse_stream_carry_its_venue_and_symbols() {
    use crate::record::BookDelta;
    use crate::source::feed::book::BookSettings;
    let mut adapter = BybitAdapter::inverse();
    adapter.set_book(BookSettings { depth: 200, snapshot_interval_ms: 0, ..BookSettings::default() });
    let subscriptions =
        adapter.subscriptions(&["BTCUSDH26".to_string()], &[Channel::Quotes, Channel::Book, Channel::Bars, Channel::Tickers]);
    assert_eq!(
        subscriptions[0].message,
        r#"{"args":["orderbook.1.BTCUSDH26","orderbook.200.BTCUSDH26","kline.1.BTCUSDH26","tickers.BTCUSDH26"],"op":"subscribe","req_id":"1"}"#
    );
    let book = r#"{"topic":"orderbook.200.BTCUSDH26","type":"snapshot","ts":1795348800002,"data":{"s":"BTCUSDH26","b":[["100.0","1"]],"a":[["100.5","2"]],"u":10,"seq":9},"cts":1795348800001}"#;
    let parsed = adapter.parse(book, NOW).unwrap();
    let Record::BookDelta(BookDelta { venue, symbol, .. }) = &parsed.records[0] else { panic!("{:?}", parsed.records) };
    assert_eq!((venue.as_str(), symbol.as_str()), ("bybit_inverse", "BTC-USD-H26"));
    let quote = book.replace("orderbook.200", "orderbook.1");
    let [Record::Quote(quote)] = &adapter.parse(&quote, NOW).unwrap().records[..] else { panic!() };
    assert_eq!(
        (quote.venue.as_str(), quote.symbol.as_str(), quote.bid_price, quote.ask_size),
        ("bybit_inverse", "BTC-USD-H26", 100.0, 2.0)
    );
    let instrument = adapter.instrument("btcusdh26").unwrap();
    assert_eq!(
        (instrument.symbol.as_str(), instrument.venue_symbol.as_deref(), instrument.asset_class),
        ("BTC-USD-H26", Some("BTCUSDH26"), Some("future"))
    );
}
