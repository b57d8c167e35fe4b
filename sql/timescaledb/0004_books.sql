-- Order books: level changes (a snapshot's levels are rows marked `snapshot`) and
-- top-N pictures. Columnstore settings follow the configuration (db/timescale.rs).

CREATE TABLE IF NOT EXISTS book_deltas (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    side        text COLLATE "C" NOT NULL CHECK (side IN ('bid', 'ask')),
    price       double precision NOT NULL,
    size        double precision NOT NULL,
    sequence    bigint           NOT NULL,
    snapshot    boolean          NOT NULL DEFAULT false
);
SELECT create_hypertable('book_deltas', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS book_deltas_venue_symbol_time_idx ON book_deltas (venue, symbol, time DESC);
COMMENT ON COLUMN book_deltas.size IS 'the new size at the price; 0 removes the level';
COMMENT ON COLUMN book_deltas.snapshot IS 'the row belongs to a full snapshot (same time and sequence), which replaces the book';

CREATE TABLE IF NOT EXISTS book_snapshots (
    time        timestamptz        NOT NULL,
    received_at timestamptz        NOT NULL,
    venue       text COLLATE "C"   NOT NULL,
    symbol      text COLLATE "C"   NOT NULL,
    sequence    bigint             NOT NULL,
    bid_prices  double precision[] NOT NULL,
    bid_sizes   double precision[] NOT NULL,
    ask_prices  double precision[] NOT NULL,
    ask_sizes   double precision[] NOT NULL,
    depth       integer            NOT NULL,
    reason      text COLLATE "C"   NOT NULL
);
SELECT create_hypertable('book_snapshots', by_range('time', INTERVAL '1 day'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS book_snapshots_venue_symbol_time_idx ON book_snapshots (venue, symbol, time DESC);
