-- The retention each time-series table was last migrated with (days, 0: keep
-- everything). A migrate that shortens a table's retention, or sets one for the first
-- time, while data older than the new horizon exists refuses unless the operator
-- accepts the drop (`migrate --allow-retention-drop`); an unchanged retention is the
-- normal ageing of data and needs no consent.
CREATE TABLE IF NOT EXISTS table_retention (
    table_name     text PRIMARY KEY,
    retention_days integer     NOT NULL CHECK (retention_days >= 0),
    set_at         timestamptz NOT NULL DEFAULT now()
);
