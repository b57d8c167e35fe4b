-- Reading stored order books (the tables are the profiles' 0004_books).
--
-- A book's source of truth is `book_deltas`: the rows of a venue snapshot are marked
-- `snapshot` and share one time and sequence; the snapshot replaces the book, and the
-- later rows change it level by level (size 0 removes a level). `book_snapshots` holds
-- top-N pictures only and is not read here. The daemon stores no delta across a break
-- (a gap, a checksum mismatch, a crossed book): it drops them until a fresh snapshot,
-- and records the break in `feed_events` with the venue and symbol in `detail`, and in
-- `detail.at` the venue time from which the book is not verified (a lost connection is
-- a `gap` with `reason` `reconnect`). Events without `at` count at their own time.
-- PL/pgSQL: the tables are created by the profile's migrations, which run after these.

CREATE OR REPLACE FUNCTION book_at(p_venue text, p_symbol text, p_at timestamptz, p_depth integer)
RETURNS TABLE (side text, level integer, price double precision, size double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    snapshot_time timestamptz;
    snapshot_sequence bigint;
BEGIN
    SELECT d.time, d.sequence INTO snapshot_time, snapshot_sequence
      FROM book_deltas d
     WHERE d.venue = p_venue AND d.symbol = p_symbol AND d.snapshot AND d.time <= p_at
     ORDER BY d.time DESC, d.sequence DESC
     LIMIT 1;
    IF snapshot_time IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH rows AS (
        SELECT d.side, d.price, d.size, d.time, d.sequence
          FROM book_deltas d
         WHERE d.venue = p_venue AND d.symbol = p_symbol
           AND ((d.snapshot AND d.time = snapshot_time AND d.sequence = snapshot_sequence)
                OR (NOT d.snapshot AND (d.time, d.sequence) > (snapshot_time, snapshot_sequence) AND d.time <= p_at))
    ),
    latest AS (
        SELECT DISTINCT ON (r.side, r.price) r.side, r.price, r.size
          FROM rows r
         ORDER BY r.side, r.price, r.time DESC, r.sequence DESC
    ),
    ranked AS (
        SELECT l.side::text AS side,
               (row_number() OVER (PARTITION BY l.side
                                   ORDER BY CASE WHEN l.side = 'bid' THEN -l.price ELSE l.price END))::integer AS level,
               l.price, l.size
          FROM latest l
         WHERE l.size > 0
    )
    SELECT k.side, k.level, k.price, k.size
      FROM ranked k
     WHERE k.level <= p_depth
     ORDER BY k.side DESC, k.level;
END
$$;
COMMENT ON FUNCTION book_at(text, text, timestamptz, integer) IS
    'the book at an instant: the latest snapshot at or before it plus the later deltas up to it; bids first, best level first';

CREATE OR REPLACE FUNCTION book_verified(p_venue text, p_symbol text, p_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    snapshot_time timestamptz;
BEGIN
    SELECT max(d.time) INTO snapshot_time
      FROM book_deltas d
     WHERE d.venue = p_venue AND d.symbol = p_symbol AND d.snapshot AND d.time <= p_at;
    IF snapshot_time IS NULL THEN
        RETURN false;
    END IF;
    RETURN NOT EXISTS (
        SELECT 1
          FROM feed_events e
         WHERE e.kind IN ('gap', 'checksum_mismatch', 'crossed')
           AND e.detail ->> 'venue' = p_venue AND e.detail ->> 'symbol' = p_symbol
           AND COALESCE((e.detail ->> 'at')::timestamptz, e.time) > snapshot_time
           AND COALESCE((e.detail ->> 'at')::timestamptz, e.time) <= p_at
    );
END
$$;
COMMENT ON FUNCTION book_verified(text, text, timestamptz) IS
    'whether the stored book is verified at an instant: a snapshot precedes it and no break (gap, checksum_mismatch, crossed) lies between';
