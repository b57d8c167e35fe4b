-- Bus messages committed by the writers, by stream sequence: a batch claims its
-- messages here in its own transaction, so a message delivered again (a writer died
-- between commit and ack, or its ack wait ran out) is recognized and not written twice.
-- Rows at or below the stream's folded watermark (ingest_offsets `bus/<stream>`) are
-- deleted by the writers' fold.

CREATE TABLE IF NOT EXISTS ingest_bus_messages (
    stream       text COLLATE "C" NOT NULL,
    sequence     bigint      NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, sequence)
);
COMMENT ON TABLE ingest_bus_messages IS
    'Stream sequences of bus messages committed above the watermark in ingest_offsets (bus/<stream>).';
