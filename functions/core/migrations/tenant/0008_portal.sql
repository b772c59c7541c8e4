-- The subscriber's side: the SMS outbox (OTPs and other messages) and sign-in state.

-- Every SMS the tenant sends is a row here first, written in the same atomic batch as its cause
-- (an OTP challenge, a payment...). A sender (the provider adapter's scheduled drain) moves
-- `status` on: queued -> sent -> delivered | failed. Until one is configured the rows stay
-- 'queued' and the admin API GET /api/t/{realm}/sms-outbox is the development sink.
CREATE TABLE IF NOT EXISTS sms_outbox (
    id          TEXT PRIMARY KEY,
    to_msisdn   TEXT NOT NULL,                 -- 2547XXXXXXXX
    body        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('transactional', 'promotional')),
    language    TEXT NOT NULL DEFAULT 'sw',    -- sw | en
    status      TEXT NOT NULL DEFAULT 'queued',
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_outbox_status ON sms_outbox (status, created_at);
CREATE INDEX IF NOT EXISTS sms_outbox_to ON sms_outbox (to_msisdn, created_at);

-- One-time sign-in codes: only a hash of the code is kept.
CREATE TABLE IF NOT EXISTS otp_challenges (
    id            TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    msisdn        TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT
);
CREATE INDEX IF NOT EXISTS otp_challenges_msisdn ON otp_challenges (msisdn, created_at);

-- Refresh tokens of the customer API: hashed, rotated on use, revocable.
CREATE TABLE IF NOT EXISTS customer_refresh_tokens (
    token_hash    TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    family        TEXT NOT NULL,               -- all rotations of one sign-in
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX IF NOT EXISTS customer_refresh_tokens_family ON customer_refresh_tokens (family);
