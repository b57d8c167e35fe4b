-- TimescaleDB profile: the same tables as the vanilla profile, as hypertables on
-- "time". Chunk intervals, columnstore settings, retention and the OHLCV continuous
-- aggregates follow the configuration and are converged by the daemon after these
-- migrations (db/timescale.rs), so changing an interval needs no new migration.
-- Text keys use COLLATE "C" (faster btree comparisons under COPY).

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE IF NOT EXISTS ticks (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    price       double precision NOT NULL,
    size        double precision NOT NULL,
    side        smallint         NOT NULL DEFAULT 0,
    trade_id    text COLLATE "C"
);
SELECT create_hypertable('ticks', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS ticks_symbol_time_idx ON ticks (symbol, time DESC);
COMMENT ON COLUMN ticks.side IS '1 buyer was taker, -1 seller was taker, 0 unknown';

CREATE TABLE IF NOT EXISTS quotes (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    bid_price   double precision NOT NULL,
    bid_size    double precision NOT NULL,
    ask_price   double precision NOT NULL,
    ask_size    double precision NOT NULL
);
SELECT create_hypertable('quotes', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS quotes_symbol_time_idx ON quotes (symbol, time DESC);

CREATE TABLE IF NOT EXISTS bars (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    "interval"  text COLLATE "C" NOT NULL,
    open        double precision NOT NULL,
    high        double precision NOT NULL,
    low         double precision NOT NULL,
    close       double precision NOT NULL,
    volume      double precision NOT NULL,
    vwap        double precision,
    trades      bigint
);
SELECT create_hypertable('bars', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS bars_symbol_time_idx ON bars (symbol, "interval", time DESC);
COMMENT ON COLUMN bars.time IS 'the bar''s open time';

CREATE TABLE IF NOT EXISTS feed_events (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    source      text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    detail      jsonb            NOT NULL DEFAULT '{}'
);
SELECT create_hypertable('feed_events', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS feed_events_source_time_idx ON feed_events (source, time DESC);
