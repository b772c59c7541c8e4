-- One tenant's billing database. Same SQL text on D1, Spin SQLite and native SQLite.
-- Money is integer cents (KES); timestamps are UTC text 'YYYY-MM-DDTHH:MM:SSZ'.

CREATE TABLE IF NOT EXISTS plans (
    id             TEXT PRIMARY KEY,
    code           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('pppoe', 'hotspot')),
    price_cents    INTEGER NOT NULL CHECK (price_cents > 0),
    period_seconds INTEGER NOT NULL CHECK (period_seconds > 0),
    down_kbps      INTEGER NOT NULL CHECK (down_kbps > 0),
    up_kbps        INTEGER NOT NULL CHECK (up_kbps > 0),
    data_cap_bytes INTEGER,
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS subscribers (
    id          TEXT PRIMARY KEY,
    account_no  TEXT NOT NULL UNIQUE,      -- canonical form (upper case, no separators)
    account_loose TEXT NOT NULL,           -- leading zeros dropped, for the second matching pass
    name        TEXT NOT NULL,
    phone       TEXT,                      -- 2547XXXXXXXX / 2541XXXXXXXX
    username    TEXT NOT NULL UNIQUE,      -- PPPoE username without the realm
    password    TEXT NOT NULL,             -- PPPoE secret (CHAP/MS-CHAP need cleartext)
    site        TEXT,                      -- router / site the subscriber hangs off
    static_ip   TEXT,
    plan_id     TEXT NOT NULL REFERENCES plans (id),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'active', 'expired', 'suspended')),
    expires_at  TEXT,
    auto_renew  INTEGER NOT NULL DEFAULT 1,
    -- Optimistic concurrency: every state change bumps it (see occ_guard).
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscribers_account_loose ON subscribers (account_loose);
CREATE INDEX IF NOT EXISTS subscribers_phone ON subscribers (phone);
CREATE INDEX IF NOT EXISTS subscribers_expiry ON subscribers (status, expires_at);

-- Each paid period.
CREATE TABLE IF NOT EXISTS subscriptions (
    id            TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    plan_id       TEXT NOT NULL REFERENCES plans (id),
    starts_at     TEXT NOT NULL,
    ends_at       TEXT NOT NULL,
    price_cents   INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_subscriber ON subscriptions (subscriber_id, starts_at);

-- Money in and out of a subscriber's account. Balance = SUM(amount_cents).
CREATE TABLE IF NOT EXISTS ledger (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id   TEXT NOT NULL REFERENCES subscribers (id),
    kind            TEXT NOT NULL CHECK (kind IN ('payment', 'renewal', 'adjustment')),
    amount_cents    INTEGER NOT NULL,
    payment_id      TEXT,
    subscription_id TEXT,
    memo            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_subscriber ON ledger (subscriber_id, id);

-- Every payment received, matched or not. (provider, provider_ref) is the exactly-once key.
CREATE TABLE IF NOT EXISTS payments (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,           -- mpesa | stripe | paystack | manual
    method        TEXT NOT NULL,           -- stk | c2b | card | ...
    provider_ref  TEXT NOT NULL,           -- CheckoutRequestID (STK), TransID (C2B), event id
    receipt       TEXT,                    -- M-Pesa receipt number when known
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    subscriber_id TEXT REFERENCES subscribers (id),
    status        TEXT NOT NULL CHECK (status IN ('applied', 'unmatched')),
    msisdn        TEXT,
    payer_name    TEXT,
    bill_ref      TEXT,
    note          TEXT,
    paid_at       TEXT,
    received_at   TEXT NOT NULL,
    applied_at    TEXT,
    UNIQUE (provider, provider_ref)
);
CREATE INDEX IF NOT EXISTS payments_status ON payments (status, received_at);
CREATE INDEX IF NOT EXISTS payments_subscriber ON payments (subscriber_id, received_at);

-- STK pushes we started; the callback or the sweep resolves each exactly once.
CREATE TABLE IF NOT EXISTS stk_requests (
    checkout_request_id TEXT PRIMARY KEY,
    merchant_request_id TEXT NOT NULL,
    subscriber_id       TEXT NOT NULL REFERENCES subscribers (id),
    msisdn              TEXT NOT NULL,
    amount_cents        INTEGER NOT NULL,
    account_ref         TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
    result_code         TEXT,
    result_desc         TEXT,
    resolved_by         TEXT,              -- callback | sweep
    query_attempts      INTEGER NOT NULL DEFAULT 0,
    last_query_at       TEXT,
    created_at          TEXT NOT NULL,
    resolved_at         TEXT
);
CREATE INDEX IF NOT EXISTS stk_requests_pending ON stk_requests (status, created_at);

-- The raw body of every callback, whatever became of it.
CREATE TABLE IF NOT EXISTS callback_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    provider     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    raw_body     BLOB NOT NULL,
    body_size    INTEGER NOT NULL,
    http_status  INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    provider_ref TEXT
);
CREATE INDEX IF NOT EXISTS callback_log_ref ON callback_log (provider_ref);

-- Outbox: network-affecting changes, written in the same batch as the change.
CREATE TABLE IF NOT EXISTS change_feed (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id TEXT,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- Cached provider tokens (Daraja OAuth): shared by every request of the tenant.
CREATE TABLE IF NOT EXISTS provider_tokens (
    provider   TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Optimistic-concurrency guard. A batch that bumps a subscriber's version inserts
-- changes() here; if the bump hit no row (someone else changed it first) the CHECK
-- fails and the whole batch rolls back. The row is deleted again in the same batch.
CREATE TABLE IF NOT EXISTS occ_guard (
    changed INTEGER NOT NULL CHECK (changed = 1)
);
