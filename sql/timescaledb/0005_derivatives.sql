-- Derivatives data: funding rates, open interest, mark and index prices, liquidations.
-- Four narrow tables: venues send each at its own cadence and quants read one at a time
-- (record/derivatives.rs says why). Columnstore settings follow the configuration (db/timescale.rs).

CREATE TABLE IF NOT EXISTS funding_rates (
    time              timestamptz      NOT NULL,
    received_at       timestamptz      NOT NULL,
    venue             text COLLATE "C" NOT NULL,
    symbol            text COLLATE "C" NOT NULL,
    rate              double precision NOT NULL,
    predicted_rate    double precision,
    next_funding_time timestamptz,
    interval          text COLLATE "C"
);
SELECT create_hypertable('funding_rates', by_range('time', INTERVAL '7 days'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS funding_rates_venue_symbol_time_idx ON funding_rates (venue, symbol, time DESC);
COMMENT ON COLUMN funding_rates.rate IS 'the rate of the funding at next_funding_time as the venue publishes it, a fraction per interval (0.0001 = 0.01 %)';
COMMENT ON COLUMN funding_rates.predicted_rate IS 'the venue''s estimate of the following period''s rate, where it sends one';

CREATE TABLE IF NOT EXISTS open_interest (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    contracts   double precision,
    notional    double precision,
    CHECK (contracts IS NOT NULL OR notional IS NOT NULL)
);
SELECT create_hypertable('open_interest', by_range('time', INTERVAL '7 days'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS open_interest_venue_symbol_time_idx ON open_interest (venue, symbol, time DESC);
COMMENT ON COLUMN open_interest.contracts IS 'in the venue''s unit: contracts, or base-currency units where the venue counts in them (Binance USD-M, Bybit linear, Hyperliquid)';
COMMENT ON COLUMN open_interest.notional IS 'valued in the quote or settlement currency, where the venue sends it';

CREATE TABLE IF NOT EXISTS mark_prices (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    mark_price  double precision,
    index_price double precision,
    CHECK (mark_price IS NOT NULL OR index_price IS NOT NULL)
);
SELECT create_hypertable('mark_prices', by_range('time', INTERVAL '7 days'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS mark_prices_venue_symbol_time_idx ON mark_prices (venue, symbol, time DESC);
COMMENT ON COLUMN mark_prices.symbol IS 'the contract; for an index stream of no contract (OKX index-tickers, Deribit deribit_price_index), the index name, with mark_price NULL';
COMMENT ON COLUMN mark_prices.index_price IS 'the index (or oracle) price the contract follows';

CREATE TABLE IF NOT EXISTS liquidations (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C" NOT NULL,
    side        smallint         NOT NULL,
    price       double precision NOT NULL,
    quantity    double precision NOT NULL,
    order_id    text COLLATE "C"
);
SELECT create_hypertable('liquidations', by_range('time', INTERVAL '7 days'), if_not_exists => TRUE);
CREATE INDEX IF NOT EXISTS liquidations_venue_symbol_time_idx ON liquidations (venue, symbol, time DESC);
COMMENT ON COLUMN liquidations.side IS 'the liquidation order''s side: -1 sell (a long closed), 1 buy (a short closed)';
