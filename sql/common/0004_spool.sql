-- Which spool sequences of each stream (one per table) are committed: every batch's
-- transaction inserts its ranges here; the daemon folds the ranges below each
-- stream's contiguous watermark into ingest_offsets ('spool/<table>') and deletes them.
-- On start, the watermark plus the ranges say exactly which spooled records to replay.

CREATE TABLE IF NOT EXISTS ingest_spool_ranges (
    stream         text COLLATE "C" NOT NULL,
    first_sequence bigint NOT NULL,
    last_sequence  bigint NOT NULL,
    committed_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (first_sequence <= last_sequence)
);
CREATE INDEX IF NOT EXISTS ingest_spool_ranges_stream_idx ON ingest_spool_ranges (stream, last_sequence);
COMMENT ON TABLE ingest_spool_ranges IS
    'Spool sequence ranges committed above each stream''s watermark in ingest_offsets (spool/<table>).';
