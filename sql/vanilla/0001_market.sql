-- Vanilla PostgreSQL profile: the time-series tables as native range partitions on
-- "time". The daemon creates partitions ahead of now and on demand for the ranges a
-- batch carries, and drops whole partitions past retention.
-- Text keys use COLLATE "C": under a libc collation the (symbol, time) btree made
-- binary COPY markedly slower.

CREATE TABLE IF NOT EXISTS ticks (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    price       double precision NOT NULL,
    size        double precision NOT NULL,
    side        smallint         NOT NULL DEFAULT 0,
    trade_id    text COLLATE "C"
) PARTITION BY RANGE (time);
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
) PARTITION BY RANGE (time);
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
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS bars_symbol_time_idx ON bars (symbol, "interval", time DESC);
COMMENT ON COLUMN bars.time IS 'the bar''s open time';

CREATE TABLE IF NOT EXISTS feed_events (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    source      text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    detail      jsonb            NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS feed_events_source_time_idx ON feed_events (source, time DESC);
