-- A waiting row's primary-key values (as the relational writer joins them), so that a
-- writer about to write a newer row of the same key first takes up the waiting one,
-- whichever writer parked it: rows of one key are written in the order they came.
ALTER TABLE relational_waiting ADD COLUMN IF NOT EXISTS row_key text;
CREATE INDEX IF NOT EXISTS relational_waiting_key ON relational_waiting (table_name, row_key);
