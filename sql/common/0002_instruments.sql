-- The symbol master keeps the venue's own spelling of each symbol beside ours
-- (`BTCUSDT` beside `BTC-USDT`), and when it was last seen.

ALTER TABLE instruments ADD COLUMN IF NOT EXISTS venue_symbol text COLLATE "C";
ALTER TABLE instruments ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN instruments.venue_symbol IS 'the symbol as the venue writes it';
CREATE INDEX IF NOT EXISTS instruments_underlying_idx ON instruments (underlying, expiration) WHERE underlying IS NOT NULL;
