-- Card and aggregator payments (Stripe, Paystack).

-- Each provider's keys for this tenant (JSON). Secrets are never shown in answers, only whether set.
CREATE TABLE IF NOT EXISTS provider_keys (
    provider   TEXT PRIMARY KEY,           -- stripe | paystack
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Every hosted checkout we started. The id is our reference (Stripe client_reference_id and
-- metadata.checkout_id; Paystack's transaction reference) and the Idempotency-Key of its creation.
CREATE TABLE IF NOT EXISTS card_checkouts (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    currency      TEXT NOT NULL,
    session_id    TEXT,                    -- Stripe cs_...; Paystack access_code
    url           TEXT,                    -- where the payer goes
    status        TEXT NOT NULL CHECK (status IN ('open', 'paid')),
    created_at    TEXT NOT NULL,
    paid_at       TEXT
);
CREATE INDEX IF NOT EXISTS card_checkouts_subscriber ON card_checkouts (subscriber_id, created_at);

-- Money taken back (refunds, disputes): recorded once per provider reference, with the reason;
-- the debit is a ledger row (kind 'adjustment') in the same batch.
CREATE TABLE IF NOT EXISTS payment_reversals (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    provider_ref  TEXT NOT NULL,           -- re_..., dp_..., Paystack refund id
    payment_ref   TEXT NOT NULL,           -- the payment's own provider_ref
    subscriber_id TEXT REFERENCES subscribers (id),
    amount_cents  INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('refund', 'dispute')),
    reason        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (provider, provider_ref)
);
