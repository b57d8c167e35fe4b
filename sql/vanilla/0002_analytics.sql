-- Vanilla PostgreSQL profile: tickers, option quotes, indicators and signals as native
-- range partitions on "time", maintained by the daemon like the other time-series tables.

CREATE TABLE IF NOT EXISTS tickers (
    time             timestamptz      NOT NULL,
    received_at      timestamptz      NOT NULL,
    venue            text COLLATE "C" NOT NULL,
    symbol           text COLLATE "C" NOT NULL,
    last             double precision NOT NULL,
    open_24h         double precision,
    high_24h         double precision,
    low_24h          double precision,
    volume_24h       double precision,
    quote_volume_24h double precision,
    change           double precision,
    change_pct       double precision
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS tickers_symbol_time_idx ON tickers (symbol, time DESC);
COMMENT ON TABLE tickers IS 'Rolling 24-hour statistics per symbol as venues publish them.';

CREATE TABLE IF NOT EXISTS options_quotes (
    time             timestamptz      NOT NULL,
    received_at      timestamptz      NOT NULL,
    venue            text COLLATE "C" NOT NULL,
    symbol           text COLLATE "C" NOT NULL,
    underlying       text COLLATE "C" NOT NULL,
    option_type      text COLLATE "C" NOT NULL CHECK (option_type IN ('call', 'put')),
    strike           double precision NOT NULL,
    expiration       date             NOT NULL,
    bid              double precision,
    ask              double precision,
    last             double precision,
    mark             double precision,
    volume           double precision,
    open_interest    double precision,
    delta            double precision,
    gamma            double precision,
    theta            double precision,
    vega             double precision,
    rho              double precision,
    iv               double precision,
    bid_iv           double precision,
    ask_iv           double precision,
    underlying_price double precision
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS options_quotes_chain_idx ON options_quotes (underlying, time DESC);
CREATE INDEX IF NOT EXISTS options_quotes_symbol_time_idx ON options_quotes (symbol, time DESC);
COMMENT ON COLUMN options_quotes.symbol IS 'the contract as the venue names it';

CREATE TABLE IF NOT EXISTS technical_indicators (
    time              timestamptz        NOT NULL,
    received_at       timestamptz        NOT NULL,
    venue             text COLLATE "C"   NOT NULL,
    symbol            text COLLATE "C"   NOT NULL,
    "interval"        text COLLATE "C"   NOT NULL,
    sma_20            double precision,
    sma_50            double precision,
    ema_20            double precision,
    ema_50            double precision,
    rsi               double precision,
    macd_line         double precision,
    macd_signal       double precision,
    macd_histogram    double precision,
    bb_upper          double precision,
    bb_middle         double precision,
    bb_lower          double precision,
    bb_width          double precision,
    volume_sma_10     double precision,
    volume_ratio      double precision,
    support_levels    double precision[] NOT NULL DEFAULT '{}',
    resistance_levels double precision[] NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS technical_indicators_symbol_time_idx ON technical_indicators (symbol, "interval", time DESC);
COMMENT ON COLUMN technical_indicators.time IS 'the open time of the bar the values were computed at';

CREATE TABLE IF NOT EXISTS indicator_values (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    venue       text COLLATE "C",
    symbol      text COLLATE "C" NOT NULL,
    "interval"  text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    value       double precision NOT NULL
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS indicator_values_symbol_name_time_idx ON indicator_values (symbol, name, "interval", time DESC);

CREATE TABLE IF NOT EXISTS signals (
    time        timestamptz      NOT NULL,
    received_at timestamptz      NOT NULL,
    source      text COLLATE "C" NOT NULL,
    category    text COLLATE "C" NOT NULL,
    symbol      text COLLATE "C",
    direction   text COLLATE "C",
    strength    double precision,
    confidence  double precision,
    impact      text COLLATE "C",
    content     text,
    payload     jsonb
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS signals_symbol_time_idx ON signals (symbol, time DESC) WHERE symbol IS NOT NULL;
CREATE INDEX IF NOT EXISTS signals_source_time_idx ON signals (source, time DESC);
