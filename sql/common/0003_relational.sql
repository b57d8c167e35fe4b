-- The relational side, applied on every profile: the agent tables of the Swing Sage
-- seed (sessions → deliberations → actions, memories) with its two views, and the
-- trading tables of the LangGraph seed that are not time series (orders, trades,
-- positions, risk_alerts). The two time-series tables of that seed,
-- portfolio_snapshots and audit_trail, live in the profile folders (0003_relational).
--
-- Adaptations, the same everywhere: times are timestamptz; money, quantities and
-- prices are unconstrained numeric (exact, every digit kept as given); JSON is jsonb;
-- text keys (symbol, venue, portfolio) use COLLATE "C". The seeds generate uuids with
-- uuid_generate_v4() from the uuid-ossp extension; gen_random_uuid() is built into
-- PostgreSQL 13+ and gives the same version-4 uuids without an extension.
-- Constraints are named so that a refusal names what was violated.

-- ─── Swing Sage: agent sessions ───────────────────────────────────────────────────

CREATE TABLE IF NOT EXISTS agent_sessions (
    id           uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    session_name varchar(255) NOT NULL,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    status       varchar(50)  COLLATE "C" NOT NULL DEFAULT 'active',
    metadata     jsonb        NOT NULL DEFAULT '{}',
    CONSTRAINT agent_sessions_status_valid CHECK (status IN ('active', 'completed', 'error')),
    CONSTRAINT agent_sessions_ended_after_created CHECK (ended_at IS NULL OR ended_at >= created_at)
);
COMMENT ON TABLE agent_sessions IS 'A trading conversation (e.g. morning-scan): the container of deliberations, actions and memories.';

CREATE TABLE IF NOT EXISTS agent_deliberations (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id             uuid        REFERENCES agent_sessions (id),
    agent_type             varchar(50) COLLATE "C" NOT NULL,
    cycle_number           integer     NOT NULL,
    deliberation_step      integer     NOT NULL,
    parent_deliberation_id uuid        REFERENCES agent_deliberations (id),
    input_context          jsonb       NOT NULL,
    reasoning              text        NOT NULL,
    decision               jsonb,
    confidence_score       numeric(3,2),
    llm_model              varchar(100),
    prompt_tokens          integer,
    completion_tokens      integer,
    started_at             timestamptz NOT NULL DEFAULT now(),
    completed_at           timestamptz,
    processing_time_ms     integer,
    metadata               jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT agent_deliberations_confidence_range CHECK (confidence_score BETWEEN 0 AND 1),
    CONSTRAINT agent_deliberations_counts_nonnegative CHECK (
        cycle_number >= 0 AND deliberation_step >= 0 AND prompt_tokens >= 0
        AND completion_tokens >= 0 AND processing_time_ms >= 0),
    CONSTRAINT agent_deliberations_completed_after_started CHECK (completed_at IS NULL OR completed_at >= started_at)
);
COMMENT ON TABLE agent_deliberations IS 'Every piece of agent reasoning: input context, reasoning, decision, confidence, LLM cost.';
CREATE INDEX IF NOT EXISTS idx_deliberations_session_cycle ON agent_deliberations (session_id, cycle_number);
CREATE INDEX IF NOT EXISTS idx_deliberations_agent_type ON agent_deliberations (agent_type);
CREATE INDEX IF NOT EXISTS idx_deliberations_timestamp ON agent_deliberations (started_at);
-- Not in the seed: foreign keys are not indexed by PostgreSQL itself, and a parent's
-- children are looked up (and checked on delete) through these.
CREATE INDEX IF NOT EXISTS idx_deliberations_parent ON agent_deliberations (parent_deliberation_id);

CREATE TABLE IF NOT EXISTS agent_actions (
    id               uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id       uuid         REFERENCES agent_sessions (id),
    deliberation_id  uuid         REFERENCES agent_deliberations (id),
    action_type      varchar(100) COLLATE "C" NOT NULL,
    action_data      jsonb        NOT NULL,
    expected_outcome jsonb,
    status           varchar(50)  COLLATE "C" NOT NULL DEFAULT 'planned',
    started_at       timestamptz  NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    actual_outcome   jsonb,
    success          boolean,
    error_message    text,
    external_id      varchar(255) COLLATE "C",
    external_system  varchar(100) COLLATE "C",
    CONSTRAINT agent_actions_status_valid CHECK (status IN ('planned', 'executing', 'completed', 'failed')),
    CONSTRAINT agent_actions_completed_after_started CHECK (completed_at IS NULL OR completed_at >= started_at)
);
COMMENT ON TABLE agent_actions IS 'What the system did (place_order, cancel_order, query_data) because of a deliberation, and how it went.';
CREATE INDEX IF NOT EXISTS idx_actions_session ON agent_actions (session_id, started_at);
CREATE INDEX IF NOT EXISTS idx_actions_deliberation ON agent_actions (deliberation_id);
-- A broker order id leads back to the action (and deliberation) that placed it.
CREATE INDEX IF NOT EXISTS idx_actions_external ON agent_actions (external_system, external_id);

-- The seed has no embedding column, so nothing here needs pgvector.
CREATE TABLE IF NOT EXISTS agent_memories (
    id                     uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id             uuid         REFERENCES agent_sessions (id),
    source_deliberation_id uuid         REFERENCES agent_deliberations (id),
    memory_type            varchar(50)  COLLATE "C" NOT NULL,
    memory_category        varchar(100) COLLATE "C",
    title                  varchar(500) NOT NULL,
    content                text         NOT NULL,
    structured_data        jsonb        NOT NULL DEFAULT '{}',
    importance_score       numeric(3,2) NOT NULL DEFAULT 0.50,
    relevance_tags         text[],
    created_at             timestamptz  NOT NULL DEFAULT now(),
    last_accessed          timestamptz,
    access_count           integer      NOT NULL DEFAULT 0,
    expires_at             timestamptz,
    related_memories       uuid[],
    CONSTRAINT agent_memories_type_valid CHECK (memory_type IN ('short_term', 'long_term', 'episodic')),
    CONSTRAINT agent_memories_importance_range CHECK (importance_score BETWEEN 0 AND 1),
    CONSTRAINT agent_memories_access_count_nonnegative CHECK (access_count >= 0)
);
COMMENT ON TABLE agent_memories IS 'Knowledge kept across sessions: short_term (expires_at), long_term, episodic.';
COMMENT ON COLUMN agent_memories.related_memories IS
    'ids of other agent_memories rows; an array cannot carry a foreign key, so these are not checked';
CREATE INDEX IF NOT EXISTS idx_memories_type_category ON agent_memories (memory_type, memory_category);
CREATE INDEX IF NOT EXISTS idx_memories_importance ON agent_memories (importance_score);
CREATE INDEX IF NOT EXISTS idx_memories_tags ON agent_memories USING gin (relevance_tags);
CREATE INDEX IF NOT EXISTS idx_memories_session ON agent_memories (session_id);
CREATE INDEX IF NOT EXISTS idx_memories_source_deliberation ON agent_memories (source_deliberation_id);
-- Short-term memories are swept by expiry.
CREATE INDEX IF NOT EXISTS idx_memories_expires ON agent_memories (expires_at) WHERE expires_at IS NOT NULL;

-- Every event of a session, newest first, as the seed defines it. The ORDER BY holds
-- for a plain SELECT from the view; a query that filters or joins should order itself.
CREATE OR REPLACE VIEW session_timeline AS
SELECT s.id AS session_id,
       s.session_name,
       'deliberation'::text AS event_type,
       d.id AS event_id,
       d.agent_type,
       d.reasoning AS event_data,
       d.confidence_score,
       d.started_at AS event_time
  FROM agent_sessions s
  JOIN agent_deliberations d ON s.id = d.session_id
UNION ALL
SELECT s.id, s.session_name, 'action', a.id, 'executor', a.action_data::text, NULL, a.started_at
  FROM agent_sessions s
  JOIN agent_actions a ON s.id = a.session_id
UNION ALL
SELECT s.id, s.session_name, 'memory', m.id, NULL, m.content, m.importance_score, m.created_at
  FROM agent_sessions s
  JOIN agent_memories m ON s.id = m.session_id
ORDER BY event_time DESC;

-- Key figures per session, with the seed's columns and results. The seed joins the
-- three child tables at once and counts DISTINCT ids, which builds deliberations ×
-- actions × memories rows per session; counting each child table on its own gives
-- the same numbers without that product.
CREATE OR REPLACE VIEW session_summary AS
SELECT s.id,
       s.session_name,
       s.status,
       s.created_at,
       s.ended_at,
       coalesce(d.total_deliberations, 0) AS total_deliberations,
       coalesce(a.total_actions, 0) AS total_actions,
       coalesce(m.total_memories, 0) AS total_memories,
       d.avg_confidence,
       d.max_cycle
  FROM agent_sessions s
  LEFT JOIN (SELECT session_id,
                    count(*) AS total_deliberations,
                    avg(confidence_score) AS avg_confidence,
                    max(cycle_number) AS max_cycle
               FROM agent_deliberations GROUP BY session_id) d ON d.session_id = s.id
  LEFT JOIN (SELECT session_id, count(*) AS total_actions
               FROM agent_actions GROUP BY session_id) a ON a.session_id = s.id
  LEFT JOIN (SELECT session_id, count(*) AS total_memories
               FROM agent_memories GROUP BY session_id) m ON m.session_id = s.id;

-- ─── LangGraph: orders, trades, positions, risk alerts ────────────────────────────
-- The seed names these tables and their rules (positive prices, non-zero quantities,
-- side consistency, 7-year retention of orders and trades) but not their columns; the
-- columns below are what an order management system keeps. Its validation triggers
-- are CHECK constraints and a composite foreign key here. Orders and trades stay plain
-- tables (the seed compressed trades after 90 days): they are updated in place, are
-- referenced by foreign keys, and are few next to market data.

CREATE TABLE IF NOT EXISTS orders (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The producer's idempotency key: a resent order conflicts here instead of doubling.
    client_order_id    text        COLLATE "C" NOT NULL,
    venue_order_id     text        COLLATE "C",
    portfolio          text        COLLATE "C" NOT NULL DEFAULT 'default',
    strategy           text        COLLATE "C",
    venue              text        COLLATE "C" NOT NULL,
    symbol             text        COLLATE "C" NOT NULL,
    side               text        COLLATE "C" NOT NULL,
    order_type         text        COLLATE "C" NOT NULL,
    time_in_force      text        COLLATE "C" NOT NULL DEFAULT 'day',
    quantity           numeric     NOT NULL,
    limit_price        numeric,
    stop_price         numeric,
    status             text        COLLATE "C" NOT NULL DEFAULT 'new',
    filled_quantity    numeric     NOT NULL DEFAULT 0,
    average_fill_price numeric,
    created_at         timestamptz NOT NULL DEFAULT now(),
    submitted_at       timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    closed_at          timestamptz,
    reject_reason      text,
    metadata           jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT orders_client_order_id_key UNIQUE (client_order_id),
    -- The target of trades_order_fkey: a fill must match its order's venue, symbol and side.
    CONSTRAINT orders_id_venue_symbol_side_key UNIQUE (id, venue, symbol, side),
    CONSTRAINT orders_side_valid CHECK (side IN ('buy', 'sell')),
    CONSTRAINT orders_type_valid CHECK (order_type IN ('market', 'limit', 'stop', 'stop_limit')),
    CONSTRAINT orders_time_in_force_valid CHECK (time_in_force IN ('day', 'gtc', 'ioc', 'fok', 'gtd', 'opg', 'cls')),
    CONSTRAINT orders_status_valid CHECK (status IN (
        'pending_new', 'new', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired')),
    CONSTRAINT orders_quantity_positive CHECK (quantity > 0),
    CONSTRAINT orders_prices_positive CHECK (limit_price > 0 AND stop_price > 0 AND average_fill_price > 0),
    CONSTRAINT orders_limit_price_given CHECK ((order_type IN ('limit', 'stop_limit')) = (limit_price IS NOT NULL)),
    CONSTRAINT orders_stop_price_given CHECK ((order_type IN ('stop', 'stop_limit')) = (stop_price IS NOT NULL)),
    -- greatest(): a quantity that is not positive is for orders_quantity_positive to name.
    CONSTRAINT orders_filled_within_quantity CHECK (filled_quantity BETWEEN 0 AND greatest(quantity, 0))
);
COMMENT ON TABLE orders IS 'Every order and its lifecycle (pending_new → new → partially_filled → filled | canceled | rejected | expired).';
COMMENT ON COLUMN orders.quantity IS 'always positive; the direction is side';
CREATE UNIQUE INDEX IF NOT EXISTS orders_venue_order_id_key ON orders (venue, venue_order_id) WHERE venue_order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_symbol_created_idx ON orders (symbol, created_at DESC);
CREATE INDEX IF NOT EXISTS orders_portfolio_created_idx ON orders (portfolio, created_at DESC);
CREATE INDEX IF NOT EXISTS orders_strategy_created_idx ON orders (strategy, created_at DESC);
-- Working orders are few and looked at all the time.
CREATE INDEX IF NOT EXISTS orders_working_idx ON orders (status, created_at DESC)
    WHERE status IN ('pending_new', 'new', 'partially_filled');

CREATE TABLE IF NOT EXISTS trades (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id       uuid        NOT NULL,
    -- The venue's execution id: a fill reported twice conflicts here.
    venue_trade_id text        COLLATE "C",
    venue          text        COLLATE "C" NOT NULL,
    symbol         text        COLLATE "C" NOT NULL,
    side           text        COLLATE "C" NOT NULL,
    quantity       numeric     NOT NULL,
    price          numeric     NOT NULL,
    fee            numeric     NOT NULL DEFAULT 0,
    fee_currency   text        COLLATE "C",
    liquidity      text        COLLATE "C",
    executed_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    metadata       jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT trades_order_fkey FOREIGN KEY (order_id, venue, symbol, side)
        REFERENCES orders (id, venue, symbol, side),
    CONSTRAINT trades_side_valid CHECK (side IN ('buy', 'sell')),
    CONSTRAINT trades_quantity_positive CHECK (quantity > 0),
    CONSTRAINT trades_price_positive CHECK (price > 0),
    CONSTRAINT trades_liquidity_valid CHECK (liquidity IN ('maker', 'taker'))
);
COMMENT ON TABLE trades IS 'Executions (fills) of orders; venue, symbol and side must be those of the order.';
COMMENT ON COLUMN trades.fee IS 'negative for a rebate';
CREATE UNIQUE INDEX IF NOT EXISTS trades_venue_trade_id_key ON trades (venue, venue_trade_id) WHERE venue_trade_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS trades_order_idx ON trades (order_id);
CREATE INDEX IF NOT EXISTS trades_symbol_executed_idx ON trades (symbol, executed_at DESC);
CREATE INDEX IF NOT EXISTS trades_executed_idx ON trades (executed_at DESC);

-- The current position per book and instrument: one row, updated in place. The seed
-- derived it from trades with a trigger; here whoever books the trades writes it, so
-- a producer that sends positions does not race a trigger.
CREATE TABLE IF NOT EXISTS positions (
    portfolio      text        COLLATE "C" NOT NULL DEFAULT 'default',
    venue          text        COLLATE "C" NOT NULL,
    symbol         text        COLLATE "C" NOT NULL,
    quantity       numeric     NOT NULL,
    average_price  numeric,
    market_price   numeric,
    market_value   numeric,
    realized_pnl   numeric     NOT NULL DEFAULT 0,
    unrealized_pnl numeric,
    opened_at      timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    metadata       jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT positions_pkey PRIMARY KEY (portfolio, venue, symbol),
    CONSTRAINT positions_prices_positive CHECK (average_price > 0 AND market_price > 0),
    -- An open position has a cost basis; a flat one may keep its last one or none.
    CONSTRAINT positions_open_has_average_price CHECK (quantity = 0 OR average_price IS NOT NULL)
);
COMMENT ON TABLE positions IS 'Current position per (portfolio, venue, symbol).';
COMMENT ON COLUMN positions.quantity IS 'signed: positive long, negative short, 0 flat';
CREATE INDEX IF NOT EXISTS positions_symbol_idx ON positions (symbol);

CREATE TABLE IF NOT EXISTS risk_alerts (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    portfolio       text        COLLATE "C" NOT NULL DEFAULT 'default',
    venue           text        COLLATE "C",
    symbol          text        COLLATE "C",
    -- The order a pre-trade check stopped or flagged, if any.
    order_id        uuid        REFERENCES orders (id),
    alert_type      text        COLLATE "C" NOT NULL,
    severity        text        COLLATE "C" NOT NULL,
    metric          text        COLLATE "C",
    threshold       numeric,
    observed_value  numeric,
    message         text        NOT NULL,
    status          text        COLLATE "C" NOT NULL DEFAULT 'open',
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT risk_alerts_severity_valid CHECK (severity IN ('info', 'warning', 'critical')),
    CONSTRAINT risk_alerts_status_valid CHECK (status IN ('open', 'acknowledged', 'resolved')),
    CONSTRAINT risk_alerts_resolved_has_time CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
COMMENT ON TABLE risk_alerts IS 'Risk limit breaches (position limit, VaR, drawdown, concentration, margin, …) and their handling.';
CREATE INDEX IF NOT EXISTS risk_alerts_created_idx ON risk_alerts (created_at DESC);
CREATE INDEX IF NOT EXISTS risk_alerts_portfolio_created_idx ON risk_alerts (portfolio, created_at DESC);
CREATE INDEX IF NOT EXISTS risk_alerts_order_idx ON risk_alerts (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS risk_alerts_unresolved_idx ON risk_alerts (severity, created_at DESC) WHERE status <> 'resolved';
