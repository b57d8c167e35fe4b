-- TimescaleDB profile: the two time-series tables of the relational side, as
-- hypertables on "time", with columnstore and retention. Unlike the market tables,
-- their policies are fixed here rather than converged from configuration: they follow
-- the LangGraph seed's books-and-records rule (trading records and the audit trail
-- are kept 7 years) and are not something a deployment tunes. Every call is guarded
-- (if_not_exists), so applying this again changes nothing.
-- The columns are those of sql/vanilla/0003_relational.sql; keep the two in step.

CREATE TABLE IF NOT EXISTS portfolio_snapshots (
    time            timestamptz NOT NULL,
    portfolio       text        COLLATE "C" NOT NULL DEFAULT 'default',
    total_value     numeric     NOT NULL,
    cash            numeric     NOT NULL,
    positions_value numeric,
    realized_pnl    numeric,
    unrealized_pnl  numeric,
    gross_exposure  numeric,
    net_exposure    numeric,
    leverage        numeric,
    margin_used     numeric,
    position_count  integer,
    positions       jsonb       NOT NULL DEFAULT '[]',
    metadata        jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT portfolio_snapshots_pkey PRIMARY KEY (portfolio, time),
    CONSTRAINT portfolio_snapshots_exposure_nonnegative CHECK (gross_exposure >= 0 AND leverage >= 0 AND margin_used >= 0),
    CONSTRAINT portfolio_snapshots_position_count_nonnegative CHECK (position_count >= 0)
);
COMMENT ON TABLE portfolio_snapshots IS 'Portfolio state over time: value, cash, P&L, exposure, and the positions as JSON.';
SELECT create_hypertable('portfolio_snapshots', by_range('time', INTERVAL '7 days'),
                         create_default_indexes => FALSE, if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS portfolio_snapshots_time_idx ON portfolio_snapshots (time DESC);
ALTER TABLE portfolio_snapshots SET (timescaledb.enable_columnstore,
    timescaledb.segmentby = 'portfolio', timescaledb.orderby = 'time DESC');
CALL add_columnstore_policy('portfolio_snapshots', after => INTERVAL '30 days', if_not_exists => TRUE);
SELECT add_retention_policy('portfolio_snapshots', drop_after => INTERVAL '7 years', if_not_exists => TRUE);

CREATE TABLE IF NOT EXISTS audit_trail (
    time        timestamptz NOT NULL DEFAULT now(),
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    actor       text        COLLATE "C" NOT NULL,
    action      text        COLLATE "C" NOT NULL,
    entity_type text        COLLATE "C",
    entity_id   text        COLLATE "C",
    session_id  uuid,
    old_data    jsonb,
    new_data    jsonb,
    reason      text,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT audit_trail_pkey PRIMARY KEY (id, time)
);
COMMENT ON TABLE audit_trail IS 'Who did what to which entity, when, with the data before and after; kept 7 years.';
COMMENT ON COLUMN audit_trail.session_id IS
    'the agent_sessions row the change came from, if any; not a foreign key, so the audit outlives what it describes';
SELECT create_hypertable('audit_trail', by_range('time', INTERVAL '7 days'),
                         create_default_indexes => FALSE, if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS audit_trail_time_idx ON audit_trail (time DESC);
CREATE INDEX IF NOT EXISTS audit_trail_entity_idx ON audit_trail (entity_type, entity_id, time DESC);
CREATE INDEX IF NOT EXISTS audit_trail_actor_idx ON audit_trail (actor, time DESC);
-- The primary key's columns must be segmentby or orderby columns of the columnstore.
ALTER TABLE audit_trail SET (timescaledb.enable_columnstore,
    timescaledb.segmentby = 'entity_type', timescaledb.orderby = 'time DESC, id');
CALL add_columnstore_policy('audit_trail', after => INTERVAL '30 days', if_not_exists => TRUE);
SELECT add_retention_policy('audit_trail', drop_after => INTERVAL '7 years', if_not_exists => TRUE);
