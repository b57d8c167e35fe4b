-- Instrument reference data, point in time. Each version of an instrument's
-- specification is valid from `valid_from` until `valid_to` (NULL: the current one), so a
-- backtest can ask what an instrument looked like at any instant (`instrument_spec_at`).
-- Writers insert observations; the trigger keeps only changes: an observation equal to
-- the current version (or not newer than it) is dropped, a different one closes the
-- current version at its own `valid_from` and becomes the current one.

CREATE TABLE IF NOT EXISTS instrument_specs (
    venue           text COLLATE "C" NOT NULL,
    symbol          text COLLATE "C" NOT NULL,
    valid_from      timestamptz      NOT NULL,
    valid_to        timestamptz,
    venue_symbol    text COLLATE "C",
    kind            text COLLATE "C" NOT NULL CHECK (kind IN ('spot', 'perpetual', 'future', 'option')),
    contract_type   text COLLATE "C" CHECK (contract_type IN ('linear', 'inverse')),
    base_currency   text COLLATE "C",
    quote_currency  text COLLATE "C",
    settle_currency text COLLATE "C",
    tick_size       numeric CHECK (tick_size > 0),
    lot_size        numeric CHECK (lot_size > 0),
    min_size        numeric CHECK (min_size >= 0),
    min_notional    numeric CHECK (min_notional >= 0),
    contract_size   numeric CHECK (contract_size > 0),
    expiry          timestamptz,
    strike          numeric,
    option_type     text COLLATE "C" CHECK (option_type IN ('call', 'put')),
    status          text COLLATE "C" NOT NULL CHECK (status IN ('pending', 'trading', 'halted', 'delisted')),
    PRIMARY KEY (venue, symbol, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX IF NOT EXISTS instrument_specs_current_idx ON instrument_specs (venue, symbol) WHERE valid_to IS NULL;
COMMENT ON TABLE instrument_specs IS 'versions of venues'' instrument specifications, each valid from valid_from until valid_to (NULL: current)';
COMMENT ON COLUMN instrument_specs.contract_size IS 'what one contract is worth (the multiplier); 1 where quantities are in the base currency';
COMMENT ON COLUMN instrument_specs.min_notional IS 'the smallest order value, in the quote currency';

CREATE OR REPLACE FUNCTION instrument_specs_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    current_version instrument_specs%ROWTYPE;
BEGIN
    -- One writer at a time per instrument, so two first observations cannot both be current.
    PERFORM pg_advisory_xact_lock(hashtextextended('instrument_specs ' || NEW.venue || ' ' || NEW.symbol, 0));
    SELECT * INTO current_version FROM instrument_specs
     WHERE venue = NEW.venue AND symbol = NEW.symbol AND valid_to IS NULL;
    IF FOUND THEN
        IF NEW.valid_from <= current_version.valid_from THEN
            RETURN NULL;
        END IF;
        IF (NEW.venue_symbol, NEW.kind, NEW.contract_type, NEW.base_currency, NEW.quote_currency, NEW.settle_currency,
            NEW.tick_size, NEW.lot_size, NEW.min_size, NEW.min_notional, NEW.contract_size, NEW.expiry, NEW.strike,
            NEW.option_type, NEW.status)
           IS NOT DISTINCT FROM
           (current_version.venue_symbol, current_version.kind, current_version.contract_type, current_version.base_currency,
            current_version.quote_currency, current_version.settle_currency, current_version.tick_size, current_version.lot_size,
            current_version.min_size, current_version.min_notional, current_version.contract_size, current_version.expiry,
            current_version.strike, current_version.option_type, current_version.status) THEN
            RETURN NULL;
        END IF;
        UPDATE instrument_specs SET valid_to = NEW.valid_from
         WHERE venue = NEW.venue AND symbol = NEW.symbol AND valid_from = current_version.valid_from;
    END IF;
    NEW.valid_to := NULL;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS instrument_specs_version ON instrument_specs;
CREATE TRIGGER instrument_specs_version BEFORE INSERT ON instrument_specs
    FOR EACH ROW EXECUTE FUNCTION instrument_specs_version();

-- The version of (venue, symbol) valid at `p_at`: no row before its first observation.
CREATE OR REPLACE FUNCTION instrument_spec_at(p_venue text, p_symbol text, p_at timestamptz)
RETURNS SETOF instrument_specs
LANGUAGE sql STABLE AS $$
    SELECT * FROM instrument_specs
     WHERE venue = p_venue AND symbol = p_symbol AND valid_from <= p_at AND (valid_to IS NULL OR p_at < valid_to)
$$;

-- Every instrument of a venue as it was at `p_at`.
CREATE OR REPLACE FUNCTION instrument_specs_at(p_venue text, p_at timestamptz)
RETURNS SETOF instrument_specs
LANGUAGE sql STABLE AS $$
    SELECT * FROM instrument_specs
     WHERE venue = p_venue AND valid_from <= p_at AND (valid_to IS NULL OR p_at < valid_to)
$$;
