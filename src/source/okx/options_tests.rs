//! Unit tests of OKX's option quotes (`options`, the `opt-summary` channel), on the
//! venue's documented push.
use chrono::NaiveDate;

use super::*;
use crate::record::OptionKind;
use crate::record::RejectReason;

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

/// The documented `opt-summary` element, for `inst_id` at `ts` ms.
fn summary(inst_id: &str, ts: i64) -> String {
    format!(
        r#"{{"instType":"OPTION","instId":"{inst_id}","uly":"BTC-USD","delta":"-1.1180902625","gamma":"2.2361957091","vega":"0.0000000001","theta":"0.0000032334","lever":"8.465747567","markVol":"0.3675503331","bidVol":"0","askVol":"1.1669998535","realVol":"","deltaBS":"-0.9999672034","gammaBS":"0.0000000002","thetaBS":"28.2649858387","vegaBS":"0.0000114332","ts":"{ts}","fwdPx":"62604.6993093463","volLv":"0.2044711229"}}"#
    )
}

fn push(family: &str, elements: &[String]) -> String {
    format!(r#"{{"arg":{{"channel":"opt-summary","instFamily":"{family}"}},"data":[{}]}}"#, elements.join(","))
}

fn option_quotes(parsed: &Parsed) -> Vec<&OptionQuote> {
    parsed
        .records
        .iter()
        .map(|record| match record {
            Record::OptionQuote(quote) => quote,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn options_subscribe_the_opt_summary_of_instrument_families() {
    let mut adapter = OkxAdapter::new();
    let families: Vec<String> = ["BTC-USD", "ETH-USD", "BTC-USD"].iter().map(|family| family.to_string()).collect();
    let subscriptions = adapter.subscriptions(&families, &[Channel::Options]);
    assert_eq!(
        subscriptions[0].message,
        r#"{"args":[{"channel":"opt-summary","instFamily":"BTC-USD"},{"channel":"opt-summary","instFamily":"ETH-USD"}],"id":"1","op":"subscribe"}"#
    );
    // OKX acknowledges each arg, naming the family.
    let ack = |family: &str| {
        format!(r#"{{"id":"1","event":"subscribe","arg":{{"channel":"opt-summary","instFamily":"{family}"}},"connId":"a4d3ae55"}}"#)
    };
    assert!(adapter.parse(&ack("BTC-USD"), NOW).unwrap().acknowledged.is_empty());
    assert_eq!(adapter.parse(&ack("ETH-USD"), NOW).unwrap().acknowledged, vec![subscriptions[0].id]);
}

#[test]
fn an_opt_summary_element_becomes_an_option_quote_with_ivs_in_percent() {
    let mut adapter = OkxAdapter::new();
    let parsed = adapter.parse(&push("BTC-USD", &[summary("BTC-USD-241013-70000-P", 1728703155650)]), NOW).unwrap();
    assert_eq!(
        parsed.records,
        vec![Record::OptionQuote(OptionQuote {
            time: Timestamp(1_728_703_155_650_000),
            received_at: NOW,
            venue: "okx".into(),
            symbol: "BTC-USD-241013-70000-P".into(),
            underlying: "BTC-USD".into(),
            option_type: OptionKind::Put,
            strike: 70_000.0,
            expiration: NaiveDate::from_ymd_opt(2024, 10, 13).unwrap(),
            bid: None,
            ask: None,
            last: None,
            mark: None,
            volume: None,
            open_interest: None,
            delta: Some(-0.9999672034),
            gamma: Some(0.0000000002),
            theta: Some(28.2649858387),
            vega: Some(0.0000114332),
            rho: None,
            iv: Some(36.75503331),
            bid_iv: None,
            ask_iv: Some(116.69998535),
            underlying_price: Some(62604.6993093463),
        })],
        "the Black-Scholes greeks; `bidVol` \"0\" is no bid IV; the forward price is the underlying price"
    );
}

#[test]
fn volatilities_move_the_decimal_point_exactly() {
    for (fraction, percent) in
        [("0.3675503331", Some(36.75503331)), ("1.1669998535", Some(116.69998535)), ("0.5", Some(50.0)), ("1", Some(100.0))]
    {
        assert_eq!(volatility_percent("markVol", fraction).unwrap(), percent, "{fraction}");
    }
    assert_eq!(volatility_percent("markVol", "3.6e-1").unwrap(), Some(0.36 * 100.0), "an exponent is multiplied");
    assert_eq!(volatility_percent("bidVol", "").unwrap(), None);
    assert_eq!(volatility_percent("bidVol", "0").unwrap(), None);
    assert_eq!(volatility_percent("bidVol", "x").unwrap_err().code, RejectReason::InvalidField);
}

#[test]
fn a_whole_family_per_push_and_unchanged_contracts_are_duplicates() {
    let mut adapter = OkxAdapter::new();
    let contracts = ["BTC-USD-241013-70000-P", "BTC-USD-241013-70000-C", "BTC-USD-241227-100000.5-C"];
    let first = adapter.parse(&push("BTC-USD", &contracts.map(|inst_id| summary(inst_id, 1728703155650))), NOW).unwrap();
    let strikes: Vec<(f64, OptionKind)> = option_quotes(&first).iter().map(|quote| (quote.strike, quote.option_type)).collect();
    assert_eq!(strikes, [(70_000.0, OptionKind::Put), (70_000.0, OptionKind::Call), (100_000.5, OptionKind::Call)]);
    // The next push repeats two contracts unchanged (same ts) and updates one.
    let next = [summary(contracts[0], 1728703155650), summary(contracts[1], 1728703156650), summary(contracts[2], 1728703155650)];
    let second = adapter.parse(&push("BTC-USD", &next), NOW).unwrap();
    let updated: Vec<&str> = option_quotes(&second).iter().map(|quote| quote.symbol.as_str()).collect();
    assert_eq!((updated, second.duplicates), (vec![contracts[1]], 2));
}

#[test]
fn a_bad_contract_is_dead_lettered_alone_unless_none_is_good() {
    let mut adapter = OkxAdapter::new();
    let good = summary("BTC-USD-241013-70000-P", 1728703155650);
    let bad_name = summary("BTC-USD-SWAP", 1728703155650);
    let bad_greek = summary("BTC-USD-241013-80000-P", 1728703155650).replace(r#""deltaBS":"-0.9999672034""#, r#""deltaBS":"n/a""#);
    let parsed = adapter.parse(&push("BTC-USD", &[bad_name.clone(), good, bad_greek.clone()]), NOW).unwrap();
    assert_eq!(parsed.records.len(), 1);
    let rejected: Vec<(RejectReason, bool, &str)> = parsed
        .rejected
        .iter()
        .map(|(rejection, raw)| {
            (rejection.code, rejection.detail.starts_with("`instId`: ") || rejection.detail.contains("`deltaBS`"), raw.as_str())
        })
        .collect();
    assert_eq!(rejected, [(RejectReason::InvalidField, true, bad_name.as_str()), (RejectReason::InvalidField, true, bad_greek.as_str())]);

    let all_bad = adapter.parse(&push("BTC-USD", &[summary("BTC-USD-241013-70000-X", 1)]), NOW).unwrap_err();
    assert_eq!(all_bad.code, RejectReason::InvalidField);
    assert!(all_bad.detail.contains("bad option kind `X`"), "{}", all_bad.detail);
    assert_eq!(
        adapter.parse(r#"{"arg":{"channel":"opt-summary","instFamily":"BTC-USD"},"data":{}}"#, NOW).unwrap_err().code,
        RejectReason::InvalidRecord
    );
    assert_eq!(
        adapter.parse(&push("BTC-USD", &[r#"{"instId":"BTC-USD-241013-70000-P"}"#.to_string()]), NOW).unwrap_err().code,
        RejectReason::InvalidRecord,
        "no `ts`"
    );
}
