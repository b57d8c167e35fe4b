//! The worked examples of `examples/<system>/` (docs/examples.md), one test per seed
//! system: a throwaway cluster, the daemon as a child process with the example's
//! `hypertick.toml` (only the database URL, the listeners' ports and the spool
//! directory changed), the example's `producer.py` run with the Python library
//! installed by pip (one venv shared by these tests), then the SQL a user of that
//! system would run, with the answers it relies on checked exactly. Python 3 with
//! `venv` and pip is required (`.ci/run` installs them).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use hypertick::db::throwaway::ThrowawayCluster;
use serde_json::Value;

use crate::support::process::{free_port, tail, DaemonProcess};
use crate::support::python::shared_venv;
use crate::support::{self, count};

fn example_dir(system: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(system)
}

/// The example's configuration with the test's database, free ports and a spool in `dir`.
fn patched_config(system: &str, dir: &Path, database_url: &str, push: SocketAddr) -> PathBuf {
    let source = example_dir(system).join("hypertick.toml");
    let text = std::fs::read_to_string(&source).unwrap();
    let mut config: toml::Table = toml::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", source.display()));
    let mut set = |section: &str, key: &str, value: String| {
        let table = config
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .unwrap_or_else(|| panic!("{}: the example has no [{section}]", source.display()));
        assert!(table.contains_key(key), "{}: the example sets no {section}.{key}", source.display());
        table.insert(key.to_string(), toml::Value::String(value));
    };
    set("database", "url", database_url.to_string());
    set("server", "listen", push.to_string());
    set("metrics", "listen", free_port().to_string());
    set("spool", "dir", dir.join("spool").display().to_string());
    let path = dir.join("hypertick.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

/// One example's daemon against `cluster`, and its producer.
struct ExampleRun {
    system: &'static str,
    push: SocketAddr,
    daemon: DaemonProcess,
    _dir: tempfile::TempDir,
}

impl ExampleRun {
    fn start(system: &'static str, cluster: &ThrowawayCluster) -> ExampleRun {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let push = free_port();
        let config = patched_config(system, dir.path(), &cluster.url("hypertick"), push);
        let daemon = DaemonProcess::start(&config, push);
        ExampleRun { system, push, daemon, _dir: dir }
    }

    /// Runs `examples/<system>/producer.py` to its end; returns the JSON of its
    /// `summary` line. The producer exits 1 when the daemon refused a record it did not
    /// expect to be refused.
    fn producer(&self) -> Value {
        let python = shared_venv();
        let script = example_dir(self.system).join("producer.py");
        let output = Command::new(python)
            .arg(&script)
            .arg(format!("ws://{}", self.push))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap_or_else(|error| panic!("run {}: {error}", script.display()));
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{} exited {}\nstdout:\n{stdout}\nstderr:\n{}\ndaemon log:\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr),
            tail(&self.daemon.log())
        );
        let line = stdout.lines().find_map(|line| line.strip_prefix("summary ")).unwrap_or_else(|| panic!("no summary line in {stdout}"));
        serde_json::from_str(line).unwrap()
    }

    fn stop(mut self) {
        assert!(self.daemon.stop().success(), "clean stop; daemon log:\n{}", tail(&self.daemon.log()));
    }
}

async fn texts(client: &tokio_postgres::Client, query: &str) -> Vec<String> {
    client.query(query, &[]).await.unwrap_or_else(|error| panic!("{query}: {error:?}")).iter().map(|row| row.get(0)).collect()
}

/// Nothing waits for a parent any more, and the dead letters are exactly `expected`
/// (`reason: raw fragment` lines, sorted).
async fn assert_settled(client: &tokio_postgres::Client, expected: &[&str]) {
    assert_eq!(count(client, "SELECT count(*) FROM relational_waiting").await, 0, "no row still waiting");
    let letters = texts(client, "SELECT reason || ': ' || detail || ' ' || raw FROM dead_letters ORDER BY 1").await;
    assert_eq!(letters.len(), expected.len(), "dead letters: {letters:#?}");
    for (letter, fragment) in letters.iter().zip(expected) {
        assert!(letter.contains(fragment), "dead letter {letter:?} should contain {fragment:?}; all: {letters:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swing_sage_session_deliberation_tree_and_views() {
    tokio::task::block_in_place(shared_venv);
    let cluster = support::start_cluster();
    let example = ExampleRun::start("swing_sage", &cluster);
    let summary = tokio::task::block_in_place(|| example.producer());
    assert_eq!(summary["refused"], serde_json::json!([]), "{summary}");
    let session = summary["session_id"].as_str().unwrap().to_string();
    let client = support::sql(&cluster).await;

    // The session's summary: ended by the update, every child counted.
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', session_name, status, ended_at > created_at, total_deliberations, total_actions, \
             total_memories, round(avg_confidence, 3), max_cycle) FROM session_summary"
        )
        .await,
        ["morning-scan completed t 4 2 2 0.735 2"]
    );
    // Its timeline, newest first, as Swing Sage reads it back.
    let timeline = texts(
        &client,
        &format!(
            "SELECT event_type || ' ' || coalesce(agent_type, '-') FROM session_timeline \
             WHERE session_id = '{session}' ORDER BY event_time DESC, event_type"
        ),
    )
    .await;
    assert_eq!(
        timeline,
        [
            "memory -",
            "memory -",
            "action executor",
            "deliberation strategist",
            "action executor",
            "deliberation risk_manager",
            "deliberation options_analyst",
            "deliberation market_analyst",
        ]
    );
    // The deliberation tree, walked from its root by parent_deliberation_id.
    assert_eq!(
        texts(
            &client,
            "WITH RECURSIVE tree AS ( \
               SELECT id, agent_type::text AS path FROM agent_deliberations WHERE parent_deliberation_id IS NULL \
               UNION ALL \
               SELECT d.id, tree.path || ' > ' || d.agent_type FROM agent_deliberations d JOIN tree ON d.parent_deliberation_id = tree.id) \
             SELECT path FROM tree ORDER BY path"
        )
        .await,
        [
            "market_analyst",
            "market_analyst > options_analyst",
            "market_analyst > risk_manager",
            "market_analyst > risk_manager > strategist"
        ]
    );
    // The planned order completed by the update; its other columns kept.
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', status, success, external_system, external_id, actual_outcome->>'average_price', \
             action_data->>'limit') FROM agent_actions WHERE action_type = 'place_order'"
        )
        .await,
        ["completed t alpaca-paper paper-7f3a91 228.3875 228.40"]
    );
    assert_eq!(
        texts(&client, "SELECT memory_type || ' ' || importance_score || ' ' || (expires_at IS NOT NULL) FROM agent_memories ORDER BY 1")
            .await,
        ["long_term 0.85 false", "short_term 0.40 true"]
    );
    assert_eq!(count(&client, "SELECT count(*) FROM agent_memories WHERE relevance_tags @> ARRAY['AAPL']").await, 2);

    // Market data, Swing Sage's own indicators and the option.
    let ticker =
        client.query_one("SELECT last, change_pct FROM tickers WHERE venue = 'swing-sage' AND symbol = 'AAPL'", &[]).await.unwrap();
    assert_eq!((ticker.get::<_, f64>(0), ticker.get::<_, f64>(1)), (228.52, 1.0703));
    let indicators = client
        .query_one(
            "SELECT sma_20, rsi, macd_histogram, bb_width, volume_sma_10, support_levels, resistance_levels \
             FROM technical_indicators WHERE venue = 'swing-sage' AND symbol = 'AAPL' AND \"interval\" = '1d'",
            &[],
        )
        .await
        .unwrap();
    let values: Vec<f64> = (0..5).map(|column| indicators.get(column)).collect();
    assert_eq!(values, [224.1875, 61.48, 0.272913, 0.0631, 51234567.0]);
    assert_eq!(indicators.get::<_, Vec<f64>>(5), [221.5, 218.0]);
    assert_eq!(indicators.get::<_, Vec<f64>>(6), [231.25]);
    let put = client
        .query_one("SELECT option_type, strike, expiration::text, delta, iv FROM options_quotes WHERE symbol = 'AAPL261218P00220000'", &[])
        .await
        .unwrap();
    assert_eq!((put.get::<_, String>(0), put.get::<_, f64>(1), put.get::<_, String>(2)), ("put".into(), 220.0, "2026-12-18".into()));
    assert_eq!((put.get::<_, f64>(3), put.get::<_, f64>(4)), (-0.238412, 26.12), "IV sent as a fraction, stored in percent");

    assert_settled(&client, &[]).await;
    example.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langgraph_trading_orders_fills_positions_and_payload_digits() {
    tokio::task::block_in_place(shared_venv);
    let cluster = support::start_timescale_cluster();
    let example = ExampleRun::start("langgraph_trading", &cluster);
    let summary = tokio::task::block_in_place(|| example.producer());
    assert_eq!(summary["refused"], serde_json::json!([]), "{summary}");
    let client = support::sql(&cluster).await;
    assert_eq!(texts(&client, "SELECT extname::text FROM pg_extension WHERE extname = 'timescaledb'").await, ["timescaledb"]);

    // Each order's final state, after insert and updates (one order's fill came first).
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', client_order_id, symbol, side, status, quantity, filled_quantity, \
             coalesce(average_fill_price::text, '-'), coalesce(limit_price::text, '-'), closed_at IS NOT NULL) \
             FROM orders ORDER BY client_order_id"
        )
        .await,
        [
            "lg-mom-0001 AAPL buy filled 100 100 228.48072 228.50 t",
            "lg-mom-0002 NVDA buy filled 25 25 141.2345678 - t",
            "lg-mom-0003 AAPL sell filled 30 30 229.1037 229.10 t",
            "lg-mr-0001 MSFT sell canceled 50 0 - 421.10 t",
        ]
    );
    // The fills, summed digit for digit.
    assert_eq!(
        texts(&client, "SELECT concat_ws(' ', count(*), sum(quantity), sum(quantity * price), sum(fee)) FROM trades").await,
        ["4 155 33252.0471950 0.455"]
    );
    assert_eq!(
        texts(
            &client,
            "SELECT o.client_order_id || ' ' || string_agg(t.venue_trade_id, ',' ORDER BY t.executed_at) \
             FROM trades t JOIN orders o ON o.id = t.order_id GROUP BY o.client_order_id ORDER BY 1"
        )
        .await
        .join(" | "),
        "lg-mom-0001 T-1001,T-1002 | lg-mom-0002 T-1003 | lg-mom-0003 T-1004"
    );
    // Positions as the producer computed them from its fills, the last upsert winning.
    let positions =
        texts(&client, "SELECT concat_ws(' ', symbol, quantity, average_price, realized_pnl) FROM positions ORDER BY symbol").await;
    assert_eq!(positions, ["AAPL 70 228.48072 18.68940", "NVDA 25 141.2345678 0"]);
    for (symbol, [held, average, realized]) in
        serde_json::from_value::<std::collections::BTreeMap<String, [String; 3]>>(summary["positions"].clone()).unwrap()
    {
        assert!(positions.contains(&format!("{symbol} {held} {average} {realized}")), "{symbol} as computed: {positions:?}");
    }
    // The book over time.
    assert_eq!(
        texts(&client, "SELECT concat_ws(' ', cash, total_value, position_count, jsonb_array_length(positions)) FROM portfolio_snapshots ORDER BY time").await,
        ["1000000 1000000 0 0", "980493.7198050 1000064.6198050 2 2"]
    );
    assert_eq!(summary["cash"], "980493.7198050");
    // The alert that named its order before the order existed, resolved.
    assert_eq!(
        texts(&client, "SELECT concat_ws(' ', a.status, a.acknowledged_by, o.client_order_id, a.observed_value) FROM risk_alerts a JOIN orders o ON o.id = a.order_id").await,
        ["resolved risk_manager lg-mom-0002 0.2731"]
    );
    assert_eq!(
        texts(
            &client,
            "SELECT string_agg(coalesce(old_data->>'status', '∅') || '→' || (new_data->>'status'), ' ' ORDER BY time, new_data->>'status') \
             FROM audit_trail WHERE entity_type = 'order'"
        )
        .await,
        ["∅→new new→partially_filled partially_filled→filled ∅→new new→canceled ∅→filled ∅→new new→filled"]
    );

    // The signal's payload, every digit as sent.
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', payload->'z_score', payload->'fair_value', payload->'universe_notional', strength, confidence) \
             FROM signals WHERE source = 'momentum_agent'"
        )
        .await,
        ["0.30000000000000004441 231.3000000000000000001 123456789012345678901234567890 0.82 0.74"]
    );
    // Market data: ticks, 1-minute bars and the daily bar, hypertables on TimescaleDB.
    assert_eq!(count(&client, "SELECT count(*) FROM ticks WHERE symbol = 'AAPL'").await, 5);
    assert_eq!(
        texts(&client, "SELECT \"interval\" || ' ' || count(*) FROM bars WHERE symbol = 'AAPL' GROUP BY \"interval\" ORDER BY 1").await,
        ["1d 1", "1m 3"]
    );
    assert_eq!(
        texts(
            &client,
            "SELECT hypertable_name::text FROM timescaledb_information.hypertables \
             WHERE hypertable_name IN ('ticks', 'bars', 'signals', 'audit_trail', 'portfolio_snapshots') ORDER BY 1"
        )
        .await,
        ["audit_trail", "bars", "portfolio_snapshots", "signals", "ticks"]
    );

    assert_settled(&client, &[]).await;
    example.stop();
}

/// The producer's `surprises`: records the daemon refused that it should have taken, or
/// took that it should have refused.
fn assert_no_surprises(summary: &Value) {
    assert_eq!(summary["surprises"], serde_json::json!([]), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nexusplanner_signals_upserted_and_decisions_unique() {
    tokio::task::block_in_place(shared_venv);
    let cluster = support::start_cluster();
    let example = ExampleRun::start("nexusplanner", &cluster);
    let summary = tokio::task::block_in_place(|| example.producer());
    assert_no_surprises(&summary);
    let run = summary["run"].as_str().unwrap().to_string();
    let client = support::sql(&cluster).await;

    // The signals, the re-scored one upserted by its key; the 100-day-old one refused.
    assert_eq!(
        texts(&client, "SELECT concat_ws(' ', split_part(id, '-', 2), source, relevance_score, impact) FROM market_signals ORDER BY id")
            .await,
        ["news News 0.93 high", "report Industry Report 0.55 medium", "tw Twitter 0.62 medium"]
    );
    assert_eq!(count(&client, &format!("SELECT count(*) FROM market_signals WHERE id LIKE '%-{run}'")).await, 3);
    assert_eq!(
        texts(
            &client,
            "SELECT source || ' ' || count(*) FROM market_signals \
             WHERE \"timestamp\" > now() - interval '90 days' AND impact = 'high' GROUP BY source"
        )
        .await,
        ["News 1"]
    );
    // Each decision once, the completed one with its latency; the analysis recorded again
    // under another record id refused by the unique key.
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', decision_type, confidence_score, coalesce(latency_ms::text, '-'), \
             coalesce(decision_metadata->>'kept', '-'), jsonb_array_length(reasoning_chain)) FROM agent_decisions ORDER BY decision_type"
        )
        .await,
        ["idea_generation 0.78 1834.5 4 3", "market_analysis 0.87 - - 3"]
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM agent_decisions WHERE decision_id LIKE 'dec-analysis-%' AND created_at IS NOT NULL").await,
        1
    );
    // The tables as declared: signals partitioned on their time, decisions a plain table
    // with decision_id unique.
    assert_eq!(
        texts(
            &client,
            "SELECT relname::text || ' ' || relkind::text FROM pg_class WHERE relname IN ('market_signals', 'agent_decisions') ORDER BY 1"
        )
        .await,
        ["agent_decisions r", "market_signals p"]
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.conrelid = 'agent_decisions'::regclass AND c.contype = 'u' AND a.attname = 'decision_id' \
             AND array_length(c.conkey, 1) = 1"
        )
        .await,
        1
    );

    assert_settled(&client, &["older_than_retention", "rejected_by_database"]).await;
    example.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_price_tracking_follows_its_deal_and_market_data_keeps_the_latest() {
    tokio::task::block_in_place(shared_venv);
    let cluster = support::start_cluster();
    // The deals table comes from the deals system's own SQL, before the daemon starts.
    {
        let client = support::sql(&cluster).await;
        let sql = std::fs::read_to_string(example_dir("deals").join("deals.sql")).unwrap();
        client.batch_execute(&sql).await.unwrap();
    }
    let example = ExampleRun::start("deals", &cluster);
    let summary = tokio::task::block_in_place(|| example.producer());
    assert_eq!(summary["refused"], serde_json::json!([]), "{summary}");
    let headphones = summary["deals"]["headphones"].as_str().unwrap().to_string();
    let client = support::sql(&cluster).await;

    // The deal moved on by the update; the columns it did not send kept.
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', title, current_price, original_price, discount_percent, status, source, \
             last_checked_at > found_at, shipping_info->>'days') FROM deals ORDER BY title"
        )
        .await,
        ["Kindle Paperwhite 119.99 149.99 20.00 active walmart f 2", "Sony WH-1000XM5 249.99 399.99 37.50 active amazon t 2"]
    );
    // Its price history, every row sent before its deal included.
    assert_eq!(
        texts(
            &client,
            &format!(
                "SELECT string_agg(price::text || ' ' || currency, ', ' ORDER BY tracked_at) FROM price_tracking WHERE deal_id = '{headphones}'"
            )
        )
        .await,
        ["299.99 USD, 279.99 USD, 249.99 USD"]
    );
    assert_eq!(count(&client, "SELECT count(*) FROM price_tracking WHERE meta_data->>'lightning_deal' = 'true'").await, 1);
    // The latest quote per (symbol, source).
    assert_eq!(
        texts(&client, "SELECT concat_ws(' ', symbol, source, market_type, price, high_24h) FROM market_data ORDER BY symbol, source")
            .await,
        ["AAPL nasdaq stock 228.52 229.35", "BTC-USD coinbase crypto 97012.55 97480.00", "BTC-USD kraken crypto 97010.1 97495.3"]
    );
    // A deal removed by the deals system takes its price history with it.
    client.execute("DELETE FROM deals WHERE title = 'Kindle Paperwhite'", &[]).await.unwrap();
    assert_eq!(count(&client, "SELECT count(*) FROM price_tracking").await, 3);
    assert_eq!(count(&client, &format!("SELECT count(*) FROM price_tracking WHERE deal_id <> '{headphones}'")).await, 0);

    assert_settled(&client, &[]).await;
    example.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travel_planner_tagged_metrics_per_row_retention_and_exact_costs() {
    tokio::task::block_in_place(shared_venv);
    let cluster = support::start_cluster();
    let example = ExampleRun::start("travel_planner", &cluster);
    let summary = tokio::task::block_in_place(|| example.producer());
    assert_no_surprises(&summary);
    let client = support::sql(&cluster).await;

    // Metrics by tag, through the GIN index's operators.
    assert_eq!(count(&client, "SELECT count(*) FROM system_metrics WHERE tags @> ARRAY['env:prod']").await, 4);
    assert_eq!(
        texts(
            &client,
            "SELECT metric_name::text || ' ' || value FROM system_metrics \
             WHERE tags && ARRAY['agent:planner', 'agent:flights'] ORDER BY metric_name"
        )
        .await,
        ["llm.tokens 48213.000000", "planner.latency_ms 1834.250000"]
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM pg_indexes WHERE tablename = 'system_metrics' AND indexdef LIKE '%USING gin (tags)%'").await,
        1
    );
    // Per-row retention: 45 days late and kept 90 days, stored; the 30-day one refused.
    assert_eq!(
        texts(&client, "SELECT metric_name || ' ' || retention_days FROM system_metrics WHERE recorded_at < now() - interval '30 days'")
            .await,
        ["bookings.quarterly 90"]
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM system_metrics WHERE metric_name = 'cache.hit_ratio' AND retention_days = 30").await,
        1
    );
    // The bill, to the microdollar, as the producer added it up; billed today by default.
    assert_eq!(
        texts(&client, "SELECT sum(total_cost_usd)::text FROM cost_tracking").await,
        [summary["total_cost_usd"].as_str().unwrap().to_string()]
    );
    assert_eq!(summary["total_cost_usd"], "0.046082");
    assert_eq!(
        texts(
            &client,
            "SELECT concat_ws(' ', model_provider, sum(total_tokens), sum(total_cost_usd)) FROM cost_tracking GROUP BY model_provider ORDER BY 1"
        )
        .await,
        ["mistral 10650 0.035970", "openai 18995 0.010112"]
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM cost_tracking WHERE billing_date = current_date AND billing_period = 'monthly'").await,
        4
    );

    assert_settled(&client, &["older_than_retention"]).await;
    example.stop();
}
