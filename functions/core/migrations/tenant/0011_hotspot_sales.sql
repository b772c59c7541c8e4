-- Hotspot sales through the captive portal, and what printed batches remember.

-- A printed batch remembers the agent or reseller it was printed for and its price per code
-- (NULL: the plan's price). `kind` tells printed batches from the ones the portal mints into
-- when a buyer pays by M-Pesa ('online': `count` grows by one per sale, so every serial below
-- it was sold).
ALTER TABLE voucher_batches ADD COLUMN agent TEXT NOT NULL DEFAULT '';
ALTER TABLE voucher_batches ADD COLUMN price_cents INTEGER;
ALTER TABLE voucher_batches ADD COLUMN kind TEXT NOT NULL DEFAULT 'printed';

-- One row per STK push the captive portal started for a package. The payment itself goes the
-- billing core's way (stk_requests -> payments, credited to the tenant's hotspot sales account);
-- this row says which package it buys and, once paid, which code was minted for it.
CREATE TABLE IF NOT EXISTS hotspot_sales (
    checkout_request_id TEXT PRIMARY KEY,
    plan_id             TEXT NOT NULL REFERENCES plans (id),
    msisdn              TEXT NOT NULL,
    amount_cents        INTEGER NOT NULL,
    visitor             TEXT NOT NULL,        -- the browser that bought it (only it is shown the code)
    mac                 TEXT,                 -- the device, as the router reported it
    batch_id            INTEGER,              -- the minted code: batch and serial (NULL until paid)
    serial              INTEGER,
    created_at          TEXT NOT NULL,
    minted_at           TEXT,
    UNIQUE (batch_id, serial)
);
CREATE INDEX IF NOT EXISTS hotspot_sales_minted ON hotspot_sales (minted_at);
