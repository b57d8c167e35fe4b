-- Producer record ids already committed (their 128-bit keys), written in the same
-- transaction as the rows they name, so a resend after a restart is still recognized.
-- The daemon keeps the most recent `server.dedup_ids` of them and deletes older ones.

CREATE TABLE IF NOT EXISTS ingest_ids (
    key_high     bigint      NOT NULL,
    key_low      bigint      NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_high, key_low)
);
CREATE INDEX IF NOT EXISTS ingest_ids_committed_at_idx ON ingest_ids (committed_at DESC);
COMMENT ON TABLE ingest_ids IS 'Keys of committed producer record ids, for deduplicating resends.';
