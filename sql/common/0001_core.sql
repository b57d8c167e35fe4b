-- The daemon's own relational tables: exactly-once bookkeeping, dead letters and the
-- symbol master. Applied on every profile.

CREATE TABLE IF NOT EXISTS ingest_offsets (
    stream      text COLLATE "C" PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ingest_offsets IS
    'Per writer stream, the position of the last batch committed; advanced in the batch''s own transaction.';

CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL,
    source      text COLLATE "C" NOT NULL,
    reason      text COLLATE "C" NOT NULL,
    detail      text NOT NULL,
    raw         text NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_received_at_idx ON dead_letters (received_at DESC);
CREATE INDEX IF NOT EXISTS dead_letters_reason_idx ON dead_letters (reason, received_at DESC);
COMMENT ON TABLE dead_letters IS 'Input that could not become a record, kept with the reason.';

CREATE TABLE IF NOT EXISTS instruments (
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    asset_class text,
    underlying  text COLLATE "C",
    expiration  date,
    strike      double precision,
    option_type text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol)
);
COMMENT ON TABLE instruments IS 'Symbol master: one row per (venue, symbol).';
