-- Relational rows waiting for what they need: the parent row their foreign key names
-- (a fill sent before its order), or, for an `update`, the row itself. The relational
-- writer keeps them here, in the same transaction as the batch they came in, retries
-- them with every batch and once a second, and deletes each in the transaction that
-- writes or dead-letters it (`[relational] wait_ms`, `wait_max_rows`, `wait_max_bytes`),
-- so a waiting row survives a restart and is never written twice.
CREATE TABLE IF NOT EXISTS relational_waiting (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    waiting_since timestamptz NOT NULL DEFAULT now(),
    received_at   timestamptz NOT NULL,
    table_name    text        NOT NULL,
    op            text        NOT NULL CHECK (op IN ('insert', 'upsert', 'update')),
    row_json      text        NOT NULL,
    reason        text        NOT NULL,
    detail        text        NOT NULL
);
COMMENT ON TABLE relational_waiting IS
    'push row records waiting for their foreign-key parent (or, for an update, their row); written and deleted by the relational writer';
