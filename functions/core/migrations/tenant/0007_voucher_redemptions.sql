-- Voucher redemptions: nothing is stored per code until its first use (domain/voucher.rs); the
-- first use inserts one row here. The primary key (batch, serial) makes redemption single-use
-- however many requests race: the loser's INSERT fails and its whole batch rolls back.
CREATE TABLE IF NOT EXISTS voucher_redemptions (
    batch_id       INTEGER NOT NULL REFERENCES voucher_batches (id),
    serial         INTEGER NOT NULL CHECK (serial >= 0),
    code           TEXT NOT NULL UNIQUE,          -- 12 symbols, no dashes: the RADIUS username
    plan_id        TEXT NOT NULL REFERENCES plans (id),
    first_used_at  TEXT NOT NULL,
    expires_at     TEXT NOT NULL,                 -- first use + the plan's period, never past valid_until
    bytes_used     INTEGER NOT NULL DEFAULT 0,    -- from accounting (the usage reports raise it)
    first_mac      TEXT NOT NULL,
    first_ip       TEXT NOT NULL DEFAULT '',
    -- Optimistic concurrency for the device set (see occ_guard): every bind or move bumps it.
    version        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, serial)
);
CREATE INDEX IF NOT EXISTS voucher_redemptions_expires ON voucher_redemptions (expires_at);

-- The devices a redeemed code serves (at most the plan's max_devices).
CREATE TABLE IF NOT EXISTS voucher_devices (
    batch_id     INTEGER NOT NULL,
    serial       INTEGER NOT NULL,
    mac          TEXT NOT NULL,                   -- AA:BB:CC:DD:EE:FF
    bound_at     TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, serial, mac),
    FOREIGN KEY (batch_id, serial) REFERENCES voucher_redemptions (batch_id, serial)
);

-- How many devices one code of a plan may serve at once.
ALTER TABLE plans ADD COLUMN max_devices INTEGER NOT NULL DEFAULT 1 CHECK (max_devices BETWEEN 1 AND 16);

-- A voided batch refuses its codes, used or not.
ALTER TABLE voucher_batches ADD COLUMN voided_at TEXT;
