-- The deals system's `deals` table, created with plain SQL before `hypertick migrate`
-- (hypertick does not ship it): a relational table that push `row` records write once
-- it is listed in `[relational] tables`, and the parent of the custom table
-- `price_tracking`. The seed's enums (category, source, status) are text here, and its
-- references to `goals` and `markets` are left out; add them if those tables live in
-- the same database.
CREATE TABLE IF NOT EXISTS deals (
    id                  uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    goal_id             uuid,
    market_id           uuid,
    title               varchar(255)  NOT NULL,
    description         text,
    url                 text          NOT NULL,
    image_url           text,
    current_price       numeric(10,2) NOT NULL,
    original_price      numeric(10,2),
    currency            varchar(3)    NOT NULL DEFAULT 'USD',
    discount_percent    numeric(5,2),
    category            text          NOT NULL,
    source              text          NOT NULL,
    status              text          NOT NULL DEFAULT 'active',
    seller_name         varchar(255),
    seller_rating       numeric(3,2),
    availability_status varchar(50),
    shipping_info       jsonb,
    product_specs       jsonb,
    found_at            timestamptz   NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    last_checked_at     timestamptz,
    created_at          timestamptz   NOT NULL DEFAULT now(),
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    meta_data           jsonb         NOT NULL DEFAULT '{}',
    CONSTRAINT deals_status_valid CHECK (status IN ('active', 'expired', 'sold_out', 'deleted'))
);
CREATE INDEX IF NOT EXISTS ix_deals_goal_status ON deals (goal_id, status);
CREATE INDEX IF NOT EXISTS ix_deals_market_status ON deals (market_id, status);
CREATE INDEX IF NOT EXISTS ix_deals_category ON deals (category);
CREATE INDEX IF NOT EXISTS ix_deals_source ON deals (source);
CREATE INDEX IF NOT EXISTS ix_deals_url ON deals (url);
