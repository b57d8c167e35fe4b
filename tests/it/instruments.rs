//! The symbol master's one upsert (`sink::UPSERT_INSTRUMENTS`), as the market writers
//! and the relational writer run it: what a row knows wins, what it leaves out keeps
//! the table's value, and a row that teaches the table nothing touches nothing.

use hypertick::sink::UPSERT_INSTRUMENTS;

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upsert_keeps_what_a_row_leaves_out() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    hypertick::app::migrate(&support::config_for(&cluster)).await.expect("migrate");
    let client = support::sql(&cluster).await;
    let upsert = |json: &'static str| {
        let client = &client;
        async move { client.execute(UPSERT_INSTRUMENTS, &[&json]).await.unwrap_or_else(|error| panic!("{json}: {error}")) }
    };
    // A market writer's first sight of the contract: its venue and symbol only.
    let first_sight = r#"[{"venue":"deribit","symbol":"BTC-27DEC26-100000-C"}]"#;
    assert_eq!(upsert(first_sight).await, 1);
    // The feed's listing after it subscribes.
    let listed = r#"[{"venue":"deribit","symbol":"BTC-27DEC26-100000-C","venue_symbol":"BTC-27DEC26-100000-C","asset_class":"option"}]"#;
    assert_eq!(upsert(listed).await, 1);
    // An options quote's description of its contract.
    let described = r#"[{"venue":"deribit","symbol":"BTC-27DEC26-100000-C","asset_class":"option","underlying":"BTC","expiration":"2026-12-27","strike":100000.0,"option_type":"call"}]"#;
    assert_eq!(upsert(described).await, 1);
    // Nothing new: no row touched, whichever writer sends it again.
    for again in [first_sight, listed, described] {
        assert_eq!(upsert(again).await, 0, "{again}");
    }
    let row = client
        .query_one(
            "SELECT venue_symbol, asset_class, underlying, expiration::text, strike, option_type FROM instruments
              WHERE (venue, symbol) = ('deribit', 'BTC-27DEC26-100000-C')",
            &[],
        )
        .await
        .unwrap();
    let read: (String, String, String, String, f64, String) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
    assert_eq!(read, ("BTC-27DEC26-100000-C".into(), "option".into(), "BTC".into(), "2026-12-27".into(), 100_000.0, "call".into()));
    // A listing with a new spelling of the venue's symbol replaces the old one.
    assert_eq!(upsert(r#"[{"venue":"deribit","symbol":"BTC-27DEC26-100000-C","venue_symbol":"btc-27dec26-100000-c"}]"#).await, 1);
    assert_eq!(
        support::count(&client, "SELECT count(*) FROM instruments WHERE venue_symbol = 'btc-27dec26-100000-c' AND strike = 100000").await,
        1
    );
}
