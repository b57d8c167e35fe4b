//! The relational side (`sql/*/0003_relational.sql`) on vanilla PostgreSQL and on a
//! real TimescaleDB: the migrations apply and a second `migrate` changes nothing; an
//! agent session with its deliberations, actions and memories reads back through both
//! views exactly; an order, its fill, a position, a snapshot, a risk alert and an audit
//! row land; the database refuses a fill for a missing order and a bad side or
//! quantity, naming the constraint; numeric money keeps every digit; and on
//! TimescaleDB the two time-series tables are hypertables with their fixed policies.

use std::time::Duration;

use hypertick::app;
use hypertick::config::Config;
use hypertick::db::{self, Profile};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relational_schema_on_vanilla_postgresql() {
    let cluster = tokio::task::spawn_blocking(support::start_cluster).await.unwrap();
    let url = cluster.url("hypertick");
    migrate_twice(&url, Profile::Vanilla).await;
    let client = connect(&url).await;
    exercise(&client).await;
    let kinds = rows(
        &client,
        "SELECT relname::text, relkind::text FROM pg_class WHERE relname IN ('portfolio_snapshots', 'audit_trail') ORDER BY 1",
    )
    .await;
    assert_eq!(kinds, text_rows(&[&["audit_trail", "r"], &["portfolio_snapshots", "r"]]), "plain tables, not partitioned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relational_schema_on_timescaledb() {
    let timescale = tokio::task::spawn_blocking(support::start_timescale_cluster).await.unwrap();
    let url = timescale.url("hypertick");
    migrate_twice(&url, Profile::TimescaleDb).await;
    let client = connect(&url).await;
    exercise(&client).await;

    let hypertables = rows(
        &client,
        "SELECT hypertable_name::text, num_dimensions::text FROM timescaledb_information.hypertables
          WHERE hypertable_name IN ('portfolio_snapshots', 'audit_trail', 'orders', 'trades', 'positions', 'risk_alerts')
          ORDER BY 1",
    )
    .await;
    assert_eq!(hypertables, text_rows(&[&["audit_trail", "1"], &["portfolio_snapshots", "1"]]));
    let jobs = rows(
        &client,
        "SELECT hypertable_name::text, proc_name::text, coalesce(config->>'compress_after', config->>'drop_after')
           FROM timescaledb_information.jobs
          WHERE hypertable_name IN ('portfolio_snapshots', 'audit_trail') ORDER BY 1, 2",
    )
    .await;
    assert_eq!(
        jobs,
        text_rows(&[
            &["audit_trail", "policy_compression", "30 days"],
            &["audit_trail", "policy_retention", "7 years"],
            &["portfolio_snapshots", "policy_compression", "30 days"],
            &["portfolio_snapshots", "policy_retention", "7 years"],
        ]),
        "one columnstore and one retention job each"
    );
    let columnstore = rows(
        &client,
        "SELECT hypertable::text, segmentby, orderby FROM timescaledb_information.hypertable_columnstore_settings
          WHERE hypertable::text IN ('portfolio_snapshots', 'audit_trail') ORDER BY 1",
    )
    .await;
    assert_eq!(
        columnstore,
        text_rows(&[&["audit_trail", "entity_type", "\"time\" DESC,id"], &["portfolio_snapshots", "portfolio", "\"time\" DESC"]])
    );
    let chunks = rows(
        &client,
        "SELECT hypertable_name::text, count(*)::text FROM timescaledb_information.chunks
          WHERE hypertable_name IN ('portfolio_snapshots', 'audit_trail') GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert_eq!(chunks, text_rows(&[&["audit_trail", "1"], &["portfolio_snapshots", "1"]]), "the rows went into chunks");
}

async fn connect(url: &str) -> Client {
    let client = db::connect(url, Duration::from_secs(20)).await.expect("connect");
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    client
}

/// Migrates, checks what was applied, migrates again and checks that neither the
/// report nor the catalog changed.
async fn migrate_twice(url: &str, profile: Profile) {
    let config = Config::loopback(url);
    let first = app::migrate(&config).await.expect("first migrate");
    assert_eq!(first.profile, profile);
    let own = format!("{}/0003_relational", profile.name());
    for id in ["common/0003_relational", own.as_str()] {
        assert!(first.migrations.applied.contains(&id), "{id} applied: {:?}", first.migrations.applied);
    }
    let before = catalog(url).await;
    for table in ["agent_sessions", "agent_deliberations", "agent_actions", "agent_memories", "session_timeline", "session_summary"] {
        assert!(before.iter().any(|line| line.ends_with(&format!(" {table}"))), "{table} exists");
    }
    let second = app::migrate(&config).await.expect("second migrate");
    assert!(second.migrations.applied.is_empty(), "{:?}", second.migrations.applied);
    assert!(second.converged.is_empty(), "{:?}", second.converged);
    assert_eq!(catalog(url).await, before, "a second migrate changes nothing");
}

/// Relations, constraints, indexes and views of the public schema, one line each.
async fn catalog(url: &str) -> Vec<String> {
    let client = connect(url).await;
    let lines = rows(
        &client,
        "SELECT line FROM (
             SELECT c.relkind::text || ' ' || c.relname::text AS line
               FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
             UNION ALL
             SELECT conrelid::regclass::text || ' ' || conname::text || ' ' || pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL
             SELECT viewname::text || ' ' || definition FROM pg_views WHERE schemaname = 'public'
         ) catalog ORDER BY line COLLATE \"C\"",
    )
    .await;
    lines.into_iter().map(|row| row[0].clone().unwrap_or_default()).collect()
}

type Rows = Vec<Vec<Option<String>>>;

/// The rows of `query` as PostgreSQL's text output, NULL as `None`.
async fn rows(client: &Client, query: &str) -> Rows {
    let messages = client.simple_query(query).await.unwrap_or_else(|error| panic!("{query}: {error:?}"));
    messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

/// Expected rows; the text `NULL` stands for SQL NULL.
fn text_rows(expected: &[&[&str]]) -> Rows {
    expected.iter().map(|row| row.iter().map(|cell| (*cell != "NULL").then(|| cell.to_string())).collect()).collect()
}

const SESSION: &str = "5e551000-0000-4000-8000-000000000001";
const IDLE_SESSION: &str = "5e551000-0000-4000-8000-000000000002";
const ANALYSIS: &str = "de118000-0000-4000-8000-000000000001";
const RISK_CHECK: &str = "de118000-0000-4000-8000-000000000002";
const ACTION: &str = "ac710000-0000-4000-8000-000000000001";
const MEMORY: &str = "3e3000a0-0000-4000-8000-000000000001";
const ORDER: &str = "0dde0000-0000-4000-8000-000000000001";
const MISSING_ORDER: &str = "0dde0000-0000-4000-8000-0000000000ff";

/// Everything both profiles must do alike, on a freshly migrated database.
async fn exercise(client: &Client) {
    agent_session_reads_back_through_both_views(client).await;
    trading_rows_land(client).await;
    the_database_refuses_what_breaks_a_constraint(client).await;
    numeric_keeps_every_digit(client).await;
    time_series_tables_have_the_same_shape(client).await;
}

async fn agent_session_reads_back_through_both_views(client: &Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO agent_sessions (id, session_name, created_at, ended_at, status) VALUES
                 ('{SESSION}', 'morning-scan', '2025-01-30 14:00:00+00', '2025-01-30 15:00:00+00', 'completed'),
                 ('{IDLE_SESSION}', 'earnings-week', '2025-01-31 09:00:00+00', NULL, 'active');
             INSERT INTO agent_deliberations (id, session_id, agent_type, cycle_number, deliberation_step,
                     parent_deliberation_id, input_context, reasoning, decision, confidence_score, llm_model,
                     prompt_tokens, completion_tokens, started_at, completed_at, processing_time_ms) VALUES
                 ('{ANALYSIS}', '{SESSION}', 'price_analyst', 1, 1, NULL,
                  '{{\"user_query\": \"Should I buy AAPL?\", \"portfolio_cash\": 25000}}',
                  'AAPL above its 50-day MA with RSI at 64', '{{\"recommendation\": \"BUY\"}}', 0.75, 'model-a',
                  1200, 300, '2025-01-30 14:01:00+00', '2025-01-30 14:01:04+00', 4000),
                 ('{RISK_CHECK}', '{SESSION}', 'risk_manager', 2, 1, '{ANALYSIS}', '{{}}',
                  'Position size within limits', NULL, 0.80, 'model-a', 800, 120,
                  '2025-01-30 14:02:00+00', NULL, NULL);
             INSERT INTO agent_actions (id, session_id, deliberation_id, action_type, action_data, status,
                     started_at, completed_at, success, external_id, external_system) VALUES
                 ('{ACTION}', '{SESSION}', '{RISK_CHECK}', 'place_order',
                  '{{\"qty\": 50, \"side\": \"BUY\", \"symbol\": \"AAPL\"}}', 'completed',
                  '2025-01-30 14:03:00+00', '2025-01-30 14:03:02+00', true, 'IBKR-12345678', 'ibkr');
             INSERT INTO agent_memories (id, session_id, source_deliberation_id, memory_type, memory_category,
                     title, content, importance_score, relevance_tags, created_at) VALUES
                 ('{MEMORY}', '{SESSION}', '{RISK_CHECK}', 'long_term', 'strategy_lesson',
                  'Breakouts need volume', 'AAPL breakouts held when volume was above 1.5x average', 0.90,
                  ARRAY['AAPL', 'breakout'], '2025-01-30 14:04:00+00');"
        ))
        .await
        .expect("an agent session with its children");

    let timeline = rows(client, "SELECT * FROM session_timeline").await;
    assert_eq!(
        timeline,
        text_rows(&[
            &[
                SESSION,
                "morning-scan",
                "memory",
                MEMORY,
                "NULL",
                "AAPL breakouts held when volume was above 1.5x average",
                "0.90",
                "2025-01-30 14:04:00+00"
            ],
            &[
                SESSION,
                "morning-scan",
                "action",
                ACTION,
                "executor",
                r#"{"qty": 50, "side": "BUY", "symbol": "AAPL"}"#,
                "NULL",
                "2025-01-30 14:03:00+00"
            ],
            &[
                SESSION,
                "morning-scan",
                "deliberation",
                RISK_CHECK,
                "risk_manager",
                "Position size within limits",
                "0.80",
                "2025-01-30 14:02:00+00"
            ],
            &[
                SESSION,
                "morning-scan",
                "deliberation",
                ANALYSIS,
                "price_analyst",
                "AAPL above its 50-day MA with RSI at 64",
                "0.75",
                "2025-01-30 14:01:00+00"
            ],
        ]),
        "newest event first"
    );
    let columns = rows(
        client,
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'session_timeline' ORDER BY ordinal_position",
    )
    .await;
    assert_eq!(
        columns,
        text_rows(&[
            &["session_id"],
            &["session_name"],
            &["event_type"],
            &["event_id"],
            &["agent_type"],
            &["event_data"],
            &["confidence_score"],
            &["event_time"]
        ])
    );

    let summary = rows(client, "SELECT * FROM session_summary ORDER BY id").await;
    assert_eq!(
        summary,
        text_rows(&[
            &[
                SESSION,
                "morning-scan",
                "completed",
                "2025-01-30 14:00:00+00",
                "2025-01-30 15:00:00+00",
                "2",
                "1",
                "1",
                "0.77500000000000000000",
                "2"
            ],
            &[IDLE_SESSION, "earnings-week", "active", "2025-01-31 09:00:00+00", "NULL", "0", "0", "0", "NULL", "NULL"],
        ])
    );
}

async fn trading_rows_land(client: &Client) {
    client
        .batch_execute(&format!(
            "INSERT INTO orders (id, client_order_id, venue_order_id, portfolio, strategy, venue, symbol, side,
                     order_type, time_in_force, quantity, limit_price, status, filled_quantity, average_fill_price,
                     created_at, submitted_at, updated_at, closed_at) VALUES
                 ('{ORDER}', 'momentum-0001', 'IBKR-12345678', 'swing', 'momentum', 'ibkr', 'AAPL', 'buy',
                  'limit', 'day', 50, 187.75, 'filled', 50, 187.72,
                  '2025-01-30 14:03:00+00', '2025-01-30 14:03:00.5+00', '2025-01-30 14:03:02+00', '2025-01-30 14:03:02+00');
             INSERT INTO trades (order_id, venue_trade_id, venue, symbol, side, quantity, price, fee, fee_currency,
                     liquidity, executed_at) VALUES
                 ('{ORDER}', 'E-1', 'ibkr', 'AAPL', 'buy', 30, 187.71, 0.21, 'USD', 'taker', '2025-01-30 14:03:01+00'),
                 ('{ORDER}', 'E-2', 'ibkr', 'AAPL', 'buy', 20, 187.735, 0.14, 'USD', 'maker', '2025-01-30 14:03:02+00');
             INSERT INTO positions (portfolio, venue, symbol, quantity, average_price, market_price, market_value,
                     unrealized_pnl, opened_at) VALUES
                 ('swing', 'ibkr', 'AAPL', 50, 187.72, 188.10, 9405.00, 19.00, '2025-01-30 14:03:01+00');
             INSERT INTO portfolio_snapshots (time, portfolio, total_value, cash, positions_value, realized_pnl,
                     unrealized_pnl, gross_exposure, net_exposure, leverage, position_count, positions) VALUES
                 ('2025-01-30 14:05:00+00', 'swing', 25019.00, 15614.00, 9405.00, 0, 19.00, 9405.00, 9405.00,
                  0.3759, 1, '[{{\"symbol\": \"AAPL\", \"quantity\": 50}}]');
             INSERT INTO risk_alerts (created_at, portfolio, venue, symbol, order_id, alert_type, severity, metric,
                     threshold, observed_value, message) VALUES
                 ('2025-01-30 14:05:00+00', 'swing', 'ibkr', 'AAPL', '{ORDER}', 'concentration', 'warning',
                  'position_weight', 0.25, 0.3759, 'AAPL is 37.6% of the book (limit 25%)');
             INSERT INTO audit_trail (time, actor, action, entity_type, entity_id, session_id, old_data, new_data) VALUES
                 ('2025-01-30 14:03:02+00', 'executor', 'order_filled', 'orders', '{ORDER}', '{SESSION}',
                  '{{\"status\": \"new\"}}', '{{\"status\": \"filled\"}}');"
        ))
        .await
        .expect("an order, its fills, a position, a snapshot, a risk alert and an audit row");

    let fills = rows(
        client,
        "SELECT o.client_order_id, sum(t.quantity)::text, (sum(t.quantity * t.price) / sum(t.quantity))::numeric(12,4)::text,
                sum(t.fee)::text
           FROM orders o JOIN trades t ON t.order_id = o.id GROUP BY o.client_order_id",
    )
    .await;
    assert_eq!(fills, text_rows(&[&["momentum-0001", "50", "187.7200", "0.35"]]));
    let alert =
        rows(client, "SELECT a.status, o.symbol, a.observed_value::text FROM risk_alerts a JOIN orders o ON o.id = a.order_id").await;
    assert_eq!(alert, text_rows(&[&["open", "AAPL", "0.3759"]]));
    let audit = rows(client, "SELECT actor, action, new_data->>'status', id IS NOT NULL FROM audit_trail WHERE entity_id = '0dde0000-0000-4000-8000-000000000001'").await;
    assert_eq!(audit, text_rows(&[&["executor", "order_filled", "filled", "t"]]));
    let snapshot = rows(client, "SELECT portfolio, total_value::text, positions->0->>'symbol' FROM portfolio_snapshots").await;
    assert_eq!(snapshot, text_rows(&[&["swing", "25019.00", "AAPL"]]));
    let position =
        rows(client, "SELECT quantity::text, realized_pnl::text FROM positions WHERE portfolio = 'swing' AND symbol = 'AAPL'").await;
    assert_eq!(position, text_rows(&[&["50", "0"]]));

    // What the relational writer relies on: a resent order or fill conflicts on its
    // idempotency key and adds nothing.
    let resent_order = client
        .execute(
            "INSERT INTO orders (client_order_id, venue, symbol, side, order_type, quantity)
             VALUES ('momentum-0001', 'ibkr', 'AAPL', 'buy', 'market', 50) ON CONFLICT (client_order_id) DO NOTHING",
            &[],
        )
        .await
        .unwrap();
    let resent_fill = client
        .execute(
            &format!(
                "INSERT INTO trades (order_id, venue_trade_id, venue, symbol, side, quantity, price, executed_at)
                 VALUES ('{ORDER}', 'E-1', 'ibkr', 'AAPL', 'buy', 30, 187.71, '2025-01-30 14:03:01+00')
                 ON CONFLICT (venue, venue_trade_id) WHERE venue_trade_id IS NOT NULL DO NOTHING"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!((resent_order, resent_fill), (0, 0));
}

/// Runs `statement`, expects the database to refuse it, and returns the constraint it names.
async fn refused(client: &Client, statement: &str) -> (String, String) {
    let error = client.batch_execute(statement).await.expect_err(statement);
    let db_error = error.as_db_error().unwrap_or_else(|| panic!("{statement}: not a database error: {error}"));
    (db_error.constraint().unwrap_or("").to_string(), db_error.message().to_string())
}

async fn the_database_refuses_what_breaks_a_constraint(client: &Client) {
    let cases = [
        (
            format!(
                "INSERT INTO trades (order_id, venue, symbol, side, quantity, price, executed_at)
                 VALUES ('{MISSING_ORDER}', 'ibkr', 'AAPL', 'buy', 1, 187.0, now())"
            ),
            "trades_order_fkey",
        ),
        (
            format!(
                "INSERT INTO trades (order_id, venue, symbol, side, quantity, price, executed_at)
                 VALUES ('{ORDER}', 'ibkr', 'AAPL', 'sell', 1, 187.0, now())"
            ),
            "trades_order_fkey",
        ),
        (
            format!(
                "INSERT INTO trades (order_id, venue, symbol, side, quantity, price, executed_at)
                 VALUES ('{ORDER}', 'ibkr', 'AAPL', 'buy', -5, 187.0, now())"
            ),
            "trades_quantity_positive",
        ),
        (
            "INSERT INTO orders (client_order_id, venue, symbol, side, order_type, quantity)
             VALUES ('bad-side', 'ibkr', 'AAPL', 'hold', 'market', 1)"
                .to_string(),
            "orders_side_valid",
        ),
        (
            "INSERT INTO orders (client_order_id, venue, symbol, side, order_type, quantity)
             VALUES ('bad-quantity', 'ibkr', 'AAPL', 'buy', 'market', -1)"
                .to_string(),
            "orders_quantity_positive",
        ),
        (
            "INSERT INTO orders (client_order_id, venue, symbol, side, order_type, quantity)
             VALUES ('no-limit', 'ibkr', 'AAPL', 'buy', 'limit', 1)"
                .to_string(),
            "orders_limit_price_given",
        ),
        ("UPDATE orders SET status = 'done' WHERE client_order_id = 'momentum-0001'".to_string(), "orders_status_valid"),
        (
            "INSERT INTO agent_memories (memory_type, title, content, importance_score) VALUES ('long_term', 't', 'c', 1.5)".to_string(),
            // numeric(3,2) holds 1.5; the range check refuses it.
            "agent_memories_importance_range",
        ),
    ];
    for (statement, constraint) in cases {
        let (named, message) = refused(client, &statement).await;
        assert_eq!(named, constraint, "{statement}: {message}");
        assert!(message.contains(constraint), "the message names the constraint: {message}");
    }
    let counts = rows(client, "SELECT (SELECT count(*) FROM trades)::text, (SELECT count(*) FROM orders)::text").await;
    assert_eq!(counts, text_rows(&[&["2", "1"]]), "nothing refused landed");
}

async fn numeric_keeps_every_digit(client: &Client) {
    let amount = "12345678901234.123456789";
    let tiny = "0.000000000000000001";
    client
        .batch_execute(&format!(
            "INSERT INTO orders (id, client_order_id, venue, symbol, side, order_type, quantity, limit_price)
             VALUES ('0dde0000-0000-4000-8000-000000000002', 'exact-1', 'ibkr', 'AAPL', 'sell', 'limit', '{tiny}', '{amount}');
             INSERT INTO trades (order_id, venue, symbol, side, quantity, price, fee, executed_at)
             VALUES ('0dde0000-0000-4000-8000-000000000002', 'ibkr', 'AAPL', 'sell', '{tiny}', '{amount}', '-{amount}', now());
             INSERT INTO portfolio_snapshots (time, portfolio, total_value, cash)
             VALUES ('2025-01-30 14:06:00+00', 'swing', '{amount}', '-{amount}');"
        ))
        .await
        .expect("exact amounts");
    let read = rows(
        client,
        "SELECT o.limit_price::text, o.quantity::text, t.price::text, t.fee::text, s.total_value::text, s.cash::text
           FROM orders o JOIN trades t ON t.order_id = o.id
           JOIN portfolio_snapshots s ON s.time = '2025-01-30 14:06:00+00'
          WHERE o.client_order_id = 'exact-1'",
    )
    .await;
    let negative = format!("-{amount}");
    assert_eq!(read, text_rows(&[&[amount, tiny, amount, negative.as_str(), amount, negative.as_str()]]), "digit for digit");
}

/// The two time-series tables are defined once per profile; both must give them the
/// same columns and indexes.
async fn time_series_tables_have_the_same_shape(client: &Client) {
    let columns = rows(
        client,
        "SELECT table_name::text || '.' || column_name::text || ' ' || data_type::text
                || coalesce(' collate ' || collation_name::text, '') || CASE is_nullable WHEN 'NO' THEN ' not null' ELSE '' END
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name IN ('portfolio_snapshots', 'audit_trail')
          ORDER BY table_name, ordinal_position",
    )
    .await;
    let columns: Vec<String> = columns.into_iter().map(|row| row[0].clone().unwrap()).collect();
    assert_eq!(
        columns,
        [
            "audit_trail.time timestamp with time zone not null",
            "audit_trail.id uuid not null",
            "audit_trail.actor text collate C not null",
            "audit_trail.action text collate C not null",
            "audit_trail.entity_type text collate C",
            "audit_trail.entity_id text collate C",
            "audit_trail.session_id uuid",
            "audit_trail.old_data jsonb",
            "audit_trail.new_data jsonb",
            "audit_trail.reason text",
            "audit_trail.metadata jsonb not null",
            "portfolio_snapshots.time timestamp with time zone not null",
            "portfolio_snapshots.portfolio text collate C not null",
            "portfolio_snapshots.total_value numeric not null",
            "portfolio_snapshots.cash numeric not null",
            "portfolio_snapshots.positions_value numeric",
            "portfolio_snapshots.realized_pnl numeric",
            "portfolio_snapshots.unrealized_pnl numeric",
            "portfolio_snapshots.gross_exposure numeric",
            "portfolio_snapshots.net_exposure numeric",
            "portfolio_snapshots.leverage numeric",
            "portfolio_snapshots.margin_used numeric",
            "portfolio_snapshots.position_count integer",
            "portfolio_snapshots.positions jsonb not null",
            "portfolio_snapshots.metadata jsonb not null",
        ]
    );
    let indexes = rows(
        client,
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('portfolio_snapshots', 'audit_trail') ORDER BY 1",
    )
    .await;
    assert_eq!(
        indexes,
        text_rows(&[
            &["audit_trail_actor_idx"],
            &["audit_trail_entity_idx"],
            &["audit_trail_pkey"],
            &["audit_trail_time_idx"],
            &["portfolio_snapshots_pkey"],
            &["portfolio_snapshots_time_idx"],
        ])
    );
}
