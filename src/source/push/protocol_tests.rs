use super::super::frame::parse_frame;
use super::*;
use crate::record::{JsonText, OptionKind, Side};

const NOW: Timestamp = Timestamp(1_795_348_800_000_000);

fn one(text: &str) -> Result<Record, Rejection> {
    let mut elements = parse_frame(text, NOW).expect("frame parses");
    assert_eq!(elements.len(), 1);
    elements.remove(0).result
}

#[test]
fn parses_every_type_with_both_time_forms_and_string_numbers() {
    let tick = one(
        r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00.5Z","price":"101.25","size":2,"side":"sell","trade_id":42}"#,
    )
    .unwrap();
    let Record::Tick(tick) = tick else { panic!("not a tick") };
    assert_eq!(tick.time, Timestamp(1_795_348_800_500_000));
    assert_eq!((tick.price, tick.size, tick.side), (101.25, 2.0, Side::Sell));
    assert_eq!(tick.trade_id.as_deref(), Some("42"));
    assert_eq!(tick.received_at, NOW);

    let quote = one(
        r#"{"type":"quote","venue":"v","symbol":"S","time":1795348800000000001,"bid_price":1,"bid_size":2,"ask_price":"1.5","ask_size":3}"#,
    )
    .unwrap();
    assert_eq!(quote.time(), Timestamp(1_795_348_800_000_000));

    let bar = one(r#"{"type":"bar","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1m","open":1,"high":2,"low":0.5,"close":1.5,"volume":10,"vwap":1.2,"trades":7,"id":"b-1"}"#).unwrap();
    let Record::Bar(bar) = bar else { panic!("not a bar") };
    assert_eq!((bar.vwap, bar.trades), (Some(1.2), Some(7)));
}

#[test]
fn parses_tickers_option_quotes_indicators_and_signals() {
    let ticker =
        one(r#"{"type":"ticker","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","last":"100.5","high_24h":110,"change_pct":-1.25}"#)
            .unwrap();
    let Record::Ticker(ticker) = ticker else { panic!("not a ticker") };
    assert_eq!((ticker.last, ticker.high_24h, ticker.change_pct, ticker.open_24h), (100.5, Some(110.0), Some(-1.25), None));

    let option = one(r#"{"type":"option_quote","venue":"deribit","symbol":"BTC-27DEC26-100000-C","underlying":"BTC","option_type":"call","strike":100000,"expiration":"2026-12-27","time":"2026-11-22T12:00:00Z","bid":"0.05","delta":0.42,"iv":55.1}"#).unwrap();
    let Record::OptionQuote(option) = option else { panic!("not an option quote") };
    assert_eq!(
        (option.option_type, option.strike, option.bid, option.delta, option.ask),
        (OptionKind::Call, 100000.0, Some(0.05), Some(0.42), None)
    );
    assert_eq!(option.expiration, chrono::NaiveDate::from_ymd_opt(2026, 12, 27).unwrap());

    let indicator =
        one(r#"{"type":"indicator","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","name":"atr_14","value":"3.5"}"#).unwrap();
    let Record::IndicatorValue(indicator) = indicator else { panic!("not an indicator") };
    assert_eq!((indicator.venue, indicator.name.as_str(), indicator.value), (None, "atr_14", 3.5));

    let own = one(r#"{"type":"technical_indicators","venue":"swing-sage","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1d","rsi":"61.25","macd_line":-0.5,"support_levels":[99.5,"98"],"id":"ti-1"}"#).unwrap();
    let Record::TechnicalIndicators(own) = own else { panic!("not technical indicators") };
    assert_eq!(
        (own.venue.as_str(), own.interval.as_str(), own.rsi, own.macd_line, own.sma_20),
        ("swing-sage", "1d", Some(61.25), Some(-0.5), None)
    );
    assert_eq!((own.support_levels, own.resistance_levels), (vec![99.5, 98.0], vec![]));

    let signal = one(r#"{"type":"signal","source":"momentum-agent","time":"2026-11-22T12:00:00Z","category":"technical","symbol":"BTC-USDT","direction":"long","strength":0.8,"content":"breakout","payload":{"lookback":[1,2],"why":"volume"}}"#).unwrap();
    let Record::Signal(signal) = signal else { panic!("not a signal") };
    assert_eq!((signal.direction.as_deref(), signal.strength, signal.confidence), (Some("long"), Some(0.8), None));
    assert_eq!(signal.payload, Some(JsonText::from_checked(r#"{"lookback":[1,2],"why":"volume"}"#)));
}

#[test]
fn a_signal_payload_keeps_its_text_digit_for_digit() {
    let too_large = r#"{"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","payload":{"c":[1e400]}}"#;
    assert_eq!(one(too_large).unwrap_err().code, RejectReason::InvalidJson);
    let payload = r#"{"a":0.30000000000000004441, "b":123456789012345678901234567890,"c":{"d":[-0.0, 1E+2]}}"#;
    for text in [
        format!(r#"{{"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","payload":{payload}}}"#),
        format!(r#"{{"payload":[7],"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","payload":{payload}}}"#),
        format!(r#"{{"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","\u0070ayload":{payload}}}"#),
    ] {
        let Record::Signal(signal) = one(&text).unwrap() else { panic!("not a signal") };
        assert_eq!(signal.payload.as_ref().map(JsonText::as_str), Some(payload), "{text}");
    }
    let null = one(r#"{"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","payload":null}"#).unwrap();
    let Record::Signal(signal) = null else { panic!("not a signal") };
    assert_eq!(signal.payload, None);
}

#[test]
fn option_types_are_read_in_any_case_and_as_occ_letters() {
    let option_type = |kind: &str| {
        one(&format!(
                r#"{{"type":"option_quote","venue":"v","symbol":"MY-OPTION","underlying":"U","option_type":"{kind}","strike":1,"expiration":"2026-12-27","time":"2026-11-22T12:00:00Z"}}"#
            ))
            .map(|record| match record {
                Record::OptionQuote(quote) => quote.option_type,
                other => panic!("not an option quote: {other:?}"),
            })
    };
    for (kind, expected) in [
        ("call", OptionKind::Call),
        ("CALL", OptionKind::Call),
        ("Call", OptionKind::Call),
        ("c", OptionKind::Call),
        ("C", OptionKind::Call),
        ("put", OptionKind::Put),
        ("PUT", OptionKind::Put),
        ("pUt", OptionKind::Put),
        ("p", OptionKind::Put),
        ("P", OptionKind::Put),
    ] {
        assert_eq!(option_type(kind), Ok(expected), "{kind}");
    }
    for kind in ["calls", "straddle", "", "cp", "\u{212a}"] {
        let error = option_type(kind).expect_err(kind);
        assert_eq!(error.code, RejectReason::InvalidField, "{kind}");
        assert!(error.detail.starts_with("`option_type`: expected \"call\" or \"put\""), "{error}");
    }
}

#[test]
fn implied_volatilities_are_percent_unless_the_record_says_fraction() {
    let quote = |fields: &str| {
        one(&format!(r#"{{"type":"option_quote","venue":"v","symbol":"BTC-27DEC26-100000-C","time":"2026-11-22T12:00:00Z",{fields}}}"#))
            .map(|record| match record {
                Record::OptionQuote(quote) => (quote.iv, quote.bid_iv, quote.ask_iv),
                other => panic!("not an option quote: {other:?}"),
            })
    };
    assert_eq!(quote(r#""iv":55.5,"bid_iv":"0","ask_iv":1"#), Ok((Some(55.5), Some(0.0), Some(1.0))));
    assert_eq!(quote(r#""iv":26.12,"iv_unit":"percent""#), Ok((Some(26.12), None, None)));
    assert_eq!(
        quote(r#""iv":0.2612,"bid_iv":"0.3675503331","ask_iv":1.1669998535,"iv_unit":"fraction""#),
        Ok((Some(26.12), Some(36.75503331), Some(116.69998535))),
        "moved two places exactly, not 26.119999999999997"
    );
    let fraction = quote(r#""iv":55.5,"ask_iv":0.2612"#).unwrap_err();
    assert_eq!(fraction.code, RejectReason::InvalidField);
    assert_eq!(
            fraction.detail,
            "`ask_iv`: 0.2612 looks like a fraction; implied volatilities are in percent (55.5 is 55.5 %): send 26.12 or set \"iv_unit\": \"fraction\""
        );
    let unit = quote(r#""iv":55.5,"iv_unit":"basis_points""#).unwrap_err();
    assert_eq!(
        (unit.code, unit.detail.as_str()),
        (RejectReason::InvalidField, "`iv_unit`: expected \"percent\" (the default) or \"fraction\", got \"basis_points\"")
    );
    assert_eq!(quote(r#""iv":"NaN","iv_unit":"fraction""#).unwrap_err().code, RejectReason::NanOrInfinite);
}

#[test]
fn option_quotes_take_missing_contract_parts_from_the_name_and_refuse_contradictions() {
    let option = |symbol: &str, parts: &str| {
        one(&format!(
            r#"{{"type":"option_quote","venue":"polygon","symbol":"{symbol}",{parts}"time":"2026-11-22T12:00:00Z","bid":1.25,"ask":1.3}}"#
        ))
    };
    for symbol in ["AAPL250117C00150000", "O:AAPL250117C00150000"] {
        let Record::OptionQuote(quote) = option(symbol, "").unwrap() else { panic!("not an option quote") };
        assert_eq!(
            (quote.symbol.as_str(), quote.underlying.as_str(), quote.option_type, quote.strike, quote.expiration),
            (symbol, "AAPL", OptionKind::Call, 150.0, chrono::NaiveDate::from_ymd_opt(2025, 1, 17).unwrap())
        );
    }
    let Record::OptionQuote(quote) = option("BTC-USD-261225-100000-P", r#""underlying":"BTC-USD","strike":"100000","#).unwrap() else {
        panic!("not an option quote")
    };
    assert_eq!((quote.underlying.as_str(), quote.option_type, quote.strike), ("BTC-USD", OptionKind::Put, 100_000.0));

    let contradiction = option("AAPL250117C00150000", r#""option_type":"put","#).unwrap_err();
    assert_eq!(contradiction.code, RejectReason::InconsistentOption);
    assert_eq!(
            contradiction.detail,
            "`option_type` put contradicts the contract name `AAPL250117C00150000`, whose option_type is call; send the name's value or leave `option_type` out"
        );
    let unreadable = option("MY-OWN-NAME", r#""underlying":"ACME","option_type":"call","strike":10,"#).unwrap_err();
    assert_eq!(unreadable.code, RejectReason::MissingField);
    assert!(unreadable.detail.starts_with("`expiration` is required when `symbol` is no option contract name"), "{unreadable}");
}

#[test]
fn rows_keep_their_json_text_digit_for_digit() {
    let row =
        one(r#"{"type":"row","table":"orders","op":"upsert","row":{"id":"o-1","price":12345678901234.123456789,"qty":"0.1"}}"#).unwrap();
    let Record::Row(row) = row else { panic!("not a row") };
    assert_eq!(row.json, r#"{"id":"o-1","price":12345678901234.123456789,"qty":"0.1"}"#);
    assert_eq!(row.columns, ["id", "price", "qty"]);
    assert_eq!(row.op, crate::record::RowOp::Upsert);
}

#[test]
fn every_rejection_names_its_cause() {
    let cases = [
        ("{not json", RejectReason::InvalidJson, "not valid JSON"),
        ("42", RejectReason::NotAnObject, "got a number"),
        (r#"{"venue":"v"}"#, RejectReason::MissingType, "no `type`"),
        (r#"{"type":"trade"}"#, RejectReason::UnknownType, "`trade`"),
        (r#"{"type":"row","table":"orders","op":"merge","row":{"id":1}}"#, RejectReason::InvalidField, "`op`"),
        (r#"{"type":"row","table":"orders","op":"insert","row":[1]}"#, RejectReason::InvalidField, "`row`"),
        (r#"{"type":"row","table":"orders","op":"insert","row":{}}"#, RejectReason::InvalidField, "`row`"),
        (r#"{"type":"row","table":"orders","op":"insert"}"#, RejectReason::MissingField, "`row`"),
        (r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","size":1}"#, RejectReason::MissingField, "`price`"),
        (
            r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":1,"prce":2}"#,
            RejectReason::UnknownField,
            "`prce`",
        ),
        (
            r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":true,"size":1}"#,
            RejectReason::InvalidField,
            "`price`",
        ),
        (
            r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":"NaN","size":1}"#,
            RejectReason::NanOrInfinite,
            "`price`",
        ),
        (
            r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":-1}"#,
            RejectReason::InvalidField,
            "`size`",
        ),
        (
            r#"{"type":"tick","venue":"","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":1}"#,
            RejectReason::InvalidField,
            "`venue`",
        ),
        (r#"{"type":"tick","venue":"v","symbol":"S","time":"yesterday","price":1,"size":1}"#, RejectReason::InvalidField, "`time`"),
        (
            r#"{"type":"tick","venue":"v","symbol":"S","time":1795348800000,"price":1,"size":1}"#,
            RejectReason::TimeOutOfRange,
            "milliseconds",
        ),
        (
            r#"{"type":"tick","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","price":1,"size":1,"side":"up"}"#,
            RejectReason::InvalidField,
            "`side`",
        ),
        (
            r#"{"type":"bar","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1 minute","open":1,"high":2,"low":0.5,"close":1.5,"volume":1}"#,
            RejectReason::InvalidField,
            "`interval`",
        ),
        (
            r#"{"type":"bar","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1m","open":1,"high":0.9,"low":0.5,"close":0.7,"volume":1}"#,
            RejectReason::InconsistentBar,
            "high",
        ),
        (r#"{"type":"ticker","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z"}"#, RejectReason::MissingField, "`last`"),
        (
            r#"{"type":"option_quote","venue":"v","symbol":"C","underlying":"U","option_type":"straddle","strike":1,"expiration":"2026-12-27","time":"2026-11-22T12:00:00Z"}"#,
            RejectReason::InvalidField,
            "`option_type`",
        ),
        (
            r#"{"type":"option_quote","venue":"v","symbol":"C","underlying":"U","option_type":"put","strike":0,"expiration":"2026-12-27","time":"2026-11-22T12:00:00Z"}"#,
            RejectReason::InvalidField,
            "`strike`",
        ),
        (
            r#"{"type":"option_quote","venue":"v","symbol":"C","underlying":"U","option_type":"put","strike":1,"expiration":"2026-02-30","time":"2026-11-22T12:00:00Z"}"#,
            RejectReason::InvalidField,
            "`expiration`",
        ),
        (
            r#"{"type":"indicator","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","name":"x","value":"Infinity"}"#,
            RejectReason::NanOrInfinite,
            "`value`",
        ),
        (
            r#"{"type":"technical_indicators","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","rsi":"NaN"}"#,
            RejectReason::NanOrInfinite,
            "`rsi`",
        ),
        (
            r#"{"type":"technical_indicators","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","support_levels":[1,"x"]}"#,
            RejectReason::InvalidField,
            "`support_levels[1]`",
        ),
        (
            r#"{"type":"technical_indicators","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","resistance_levels":7}"#,
            RejectReason::InvalidField,
            "`resistance_levels`",
        ),
        (
            r#"{"type":"technical_indicators","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","rsi":50,"sma_200":1}"#,
            RejectReason::UnknownField,
            "`sma_200`",
        ),
        (
            r#"{"type":"technical_indicators","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h"}"#,
            RejectReason::MissingField,
            "at least one of sma_20",
        ),
        (
            r#"{"type":"technical_indicators","symbol":"S","time":"2026-11-22T12:00:00Z","interval":"1h","rsi":50}"#,
            RejectReason::MissingField,
            "`venue`",
        ),
        (r#"{"type":"signal","source":"a","time":"2026-11-22T12:00:00Z"}"#, RejectReason::MissingField, "`category`"),
        (
            r#"{"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","content":"a\u0000b"}"#,
            RejectReason::InvalidField,
            "`content`",
        ),
        (
            r#"{"type":"signal","source":"a","category":"c","time":"2026-11-22T12:00:00Z","payload":{"k":["\u0000"]}}"#,
            RejectReason::InvalidField,
            "`payload`",
        ),
    ];
    for (text, code, needle) in cases {
        let rejection = one(text).expect_err(text);
        assert_eq!(rejection.code, code, "{text}: {rejection}");
        assert!(rejection.detail.contains(needle), "{text}: {rejection}");
    }
}

#[test]
fn arrays_are_parsed_element_by_element_keeping_raw_text() {
    let frame = r#"[{"type":"quote","venue":"v","symbol":"S","time":"2026-11-22T12:00:00Z","bid_price":1,"bid_size":1,"ask_price":2,"ask_size":1}, {"type":"nope"}, 7]"#;
    let elements = parse_frame(frame, NOW).unwrap();
    assert_eq!(elements.len(), 3);
    assert!(elements[0].result.is_ok());
    assert_eq!(elements[1].raw, r#"{"type":"nope"}"#);
    assert_eq!(elements[1].result.as_ref().unwrap_err().code, RejectReason::UnknownType);
    assert_eq!(elements[2].result.as_ref().unwrap_err().code, RejectReason::NotAnObject);
}

#[test]
fn an_ack_lists_the_first_refusals_and_counts_the_rest() {
    let mut ack = Ack::default();
    let rejection = Rejection::new(RejectReason::NotAnObject, "expected a JSON object, got a number");
    for index in 0..524_287 {
        ack.reject(index, &rejection);
    }
    assert_eq!((ack.rejected.len(), ack.rejected_more, ack.rejected_total()), (MAX_ACK_REJECTIONS, 524_187, 524_287));
    let json = serde_json::to_string(&ack).unwrap();
    assert!(json.len() < 10_000, "{} bytes", json.len());
    assert!(json.ends_with(r#""rejected_more":524187,"rejected_more_ranges":[[100,524286]]}"#), "{json}");
    assert!(ack.rejected_indexes().eq(0..524_287), "every refusal is named by index");
    let clean = serde_json::to_string(&Ack { accepted: 2, ..Ack::default() }).unwrap();
    assert_eq!(clean, r#"{"accepted":2,"rejected":[]}"#, "the shape is unchanged when nothing is left over");
}

/// A frame of 300 whose tail the spool refused (full), as under a database outage:
/// a producer must be able to tell every refused record from the taken ones, past
/// the listed refusals too, or it counts refused records as acked.
#[test]
fn every_refusal_past_the_listed_ones_is_named_by_index() {
    let full = Rejection::new(RejectReason::SpoolFull, "the spool holds 2097152 of 2097152 bytes not yet committed (spool.max_bytes)");
    let mut ack = Ack::default();
    // A few taken among them, as when a commit frees room now and then.
    let refused: Vec<usize> = (87..300).filter(|index| index % 50 != 3).collect();
    for index in 0..300 {
        if refused.contains(&index) {
            ack.reject(index, &full);
        } else {
            ack.accepted += 1;
        }
    }
    assert_eq!((ack.rejected.len(), ack.rejected_more), (MAX_ACK_REJECTIONS, refused.len() - MAX_ACK_REJECTIONS));
    assert_eq!(ack.rejected_indexes().collect::<Vec<_>>(), refused);
    let json: Value = serde_json::to_value(&ack).unwrap();
    let named: Vec<u64> = json["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["index"].as_u64().unwrap())
        .chain(
            json["rejected_more_ranges"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|range| range[0].as_u64().unwrap()..=range[1].as_u64().unwrap()),
        )
        .collect();
    assert_eq!(named, refused.iter().map(|index| *index as u64).collect::<Vec<_>>(), "{json}");
    assert_eq!(json["accepted"].as_u64().unwrap() as usize + named.len(), 300);
    assert_eq!(json["rejected_more_ranges"].as_array().unwrap().len(), 3, "{json}");
}

#[test]
fn broken_arrays_and_empty_frames_are_frame_level_rejections() {
    assert_eq!(parse_frame("[{\"type\":", NOW).unwrap_err().code, RejectReason::InvalidJson);
    assert_eq!(parse_frame("  ", NOW).unwrap_err().code, RejectReason::EmptyFrame);
    assert!(parse_frame("[]", NOW).unwrap().is_empty());
}
